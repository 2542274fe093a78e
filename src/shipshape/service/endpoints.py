"""The layer's own endpoints: ``/livez``, ``/readyz``, ``/healthz`` and ``/metrics``."""

from __future__ import annotations

from shipshape.observe.health import HealthChecks, check_health, health_body
from shipshape.observe.logs import utc_now
from shipshape.service._types import Receive, Scope, Send
from shipshape.service.middleware import Endpoint
from shipshape.service.responses import send_bytes, send_json, send_problem
from shipshape.service.state import ServiceState

__all__ = ["build_endpoints"]

HEALTH_JSON = b"application/health+json"
# the Prometheus text format the body is written in (prometheus_client's own default
# answer to a scraper that asks for no other version)
METRICS_TEXT = b"text/plain; version=0.0.4; charset=utf-8"
_ALLOW = [(b"allow", b"GET, HEAD")]


def build_endpoints(state: ServiceState) -> dict[str, Endpoint]:
    settings = state.settings
    service_id = settings.service_name

    async def livez(scope: Scope, receive: Receive, send: Send) -> None:
        if not await _method_allowed(scope, send):
            return
        body = {"status": "pass", "health": "healthy", "serviceId": service_id}
        await send_json(send, 200, body, HEALTH_JSON, head=scope["method"] == "HEAD")

    async def dependency_report(
        scope: Scope, send: Send, checks: HealthChecks, *, readiness: bool
    ) -> None:
        notes: list[str] = []
        if readiness and not state.started:
            notes.append("starting: startup has not finished")
        if readiness and state.draining:
            notes.append("draining: shutting down, finishing in-flight requests")
        results = await checks.results()
        report = check_health({name: result.status for name, result in results.items()})
        body = health_body(
            report, results, service_id=service_id, checked_at=utc_now(), notes=notes
        )
        healthy = report["status"] == "healthy" or (
            report["status"] == "degraded" and settings.health.serve_when_degraded
        )
        if notes:
            body["status"] = "fail"
            healthy = False
        await send_json(
            send, 200 if healthy else 503, body, HEALTH_JSON, head=scope["method"] == "HEAD"
        )

    async def readyz(scope: Scope, receive: Receive, send: Send) -> None:
        if await _method_allowed(scope, send):
            await dependency_report(scope, send, state.health, readiness=True)

    async def healthz(scope: Scope, receive: Receive, send: Send) -> None:
        if await _method_allowed(scope, send):
            await dependency_report(scope, send, state.health, readiness=False)

    async def metrics(scope: Scope, receive: Receive, send: Send) -> None:
        if await _method_allowed(scope, send):
            state.recorder.flush()  # the requests finished in this loop turn count too
            await state.registry.refresh()  # and those other workers finished
            body = state.registry.exposition()
            await send_bytes(send, 200, body, METRICS_TEXT, head=scope["method"] == "HEAD")

    endpoints: dict[str, Endpoint] = {
        settings.health.livez_path: livez,
        settings.health.readyz_path: readyz,
        settings.health.healthz_path: healthz,
    }
    if settings.metrics.enabled:
        endpoints[settings.metrics.path] = metrics
    return endpoints


async def _method_allowed(scope: Scope, send: Send) -> bool:
    if scope["method"] in ("GET", "HEAD"):
        return True
    await send_problem(
        send, 405, "Method Not Allowed", f"{scope['method']} is not allowed here", _ALLOW
    )
    return False
