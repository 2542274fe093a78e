"""The three apps the service benchmark compares, selected by ``BENCH_APP``.

- ``bare``: FastAPI with one trivial async GET route, nothing else.
- ``shipshape``: the same app wrapped by ``production()`` with its defaults
  (request id, JSON access log, metrics, memory rate limit, tracing at default sampling).
- ``shipshape-traced``: the same with 100% trace sampling (FastAPI's built-in telemetry
  records the spans).
- ``shipshape-traced-own-span``: 100% sampling, the layer's own server span instead.
- ``shipshape-traced-exported``: 100% sampling, FastAPI's telemetry, and every span
  handed to a ``BatchSpanProcessor`` whose exporter drops it (an ablation).
- ``anchor``: the same app with the stack teams assemble today: slowapi,
  prometheus-fastapi-instrumentator, asgi-correlation-id, a python-json-logger access
  log and OpenTelemetry's FastAPIInstrumentor (same sampling as shipshape's default).
- ``shipshape-ratio-<r>``: the defaults, with new traces sampled at ratio ``r``.
- ``bare-plus-headers`` and ``shipshape-no-<part>``: ablations (see ``create``).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from fastapi import FastAPI

KIND = os.environ.get("BENCH_APP", "bare")
BIG_LIMIT = 10_000_000


def trivial_app() -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"hello": "world"}

    return app


def shipshape_app(sample_ratio: float | None = None, fastapi_telemetry: bool = True) -> Any:
    from shipshape.service import ServiceSettings, production

    overrides: dict[str, Any] = {
        "ratelimit": {"capacity": BIG_LIMIT, "refill_rate": float(BIG_LIMIT)},
        "drain_seconds": 0,
    }
    if sample_ratio is not None:
        overrides["tracing"] = {
            "sample_ratio": sample_ratio,
            "fastapi_telemetry": fastapi_telemetry,
        }
    return production(trivial_app(), ServiceSettings(**overrides))


def anchor_app() -> FastAPI:
    from asgi_correlation_id import CorrelationIdMiddleware
    from opentelemetry import trace
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    from prometheus_fastapi_instrumentator import Instrumentator
    from pythonjsonlogger.json import JsonFormatter
    from slowapi import Limiter, _rate_limit_exceeded_handler
    from slowapi.errors import RateLimitExceeded
    from slowapi.middleware import SlowAPIMiddleware
    from slowapi.util import get_remote_address
    from starlette.requests import Request

    from shipshape.service import TracingSettings

    default_ratio = TracingSettings().sample_ratio  # the same sampling as the layer's default
    trace.set_tracer_provider(TracerProvider(sampler=ParentBased(TraceIdRatioBased(default_ratio))))
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(message)s"))
    access = logging.getLogger("access")
    access.handlers[:] = [handler]
    access.setLevel(logging.INFO)
    access.propagate = False

    limiter = Limiter(key_func=get_remote_address, default_limits=[f"{BIG_LIMIT}/second"])
    app = trivial_app()
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]

    @app.middleware("http")
    async def access_log(request: Request, call_next: Any) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        access.info(
            "request",
            extra={
                "method": request.method,
                "path": request.url.path,
                "route": getattr(route, "path", None),
                "status": response.status_code,
                "duration_ms": (time.perf_counter() - started) * 1000,
                "client": request.client.host if request.client else None,
            },
        )
        return response

    app.add_middleware(SlowAPIMiddleware)
    app.add_middleware(CorrelationIdMiddleware)
    Instrumentator().instrument(app).expose(app)
    FastAPIInstrumentor.instrument_app(app)
    return app


def _variant(kind: str) -> Any:
    """Ablations for finding the layer's cost: ``shipshape-no-<part>``."""
    from shipshape.service import ServiceSettings, production

    overrides: dict[str, Any] = {
        "ratelimit": {"capacity": BIG_LIMIT, "refill_rate": float(BIG_LIMIT)},
        "drain_seconds": 0,
    }
    part = kind.removeprefix("shipshape-no-")
    if part == "ratelimit":
        overrides["ratelimit"] = {"enabled": False}
    elif part == "log":
        overrides["logs"] = {"access_log": False}
    elif part == "metrics":
        overrides["metrics"] = {"enabled": False}
    elif part == "tracing":
        overrides["tracing"] = {"enabled": False}
    else:
        raise SystemExit(f"unknown BENCH_APP {kind!r}")
    return production(trivial_app(), ServiceSettings(**overrides))


def _exported(app: Any) -> Any:
    """Spans handed to a ``BatchSpanProcessor`` (what an OTLP endpoint gets), whose
    exporter drops them: the cost of recording and batching, not of the network."""
    from collections.abc import Sequence

    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Dropping(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    if provider not in _EXPORTING:  # once per process: importing this module creates an app
        provider.add_span_processor(BatchSpanProcessor(Dropping()))
        _EXPORTING.append(provider)
    return app


_EXPORTING: list[Any] = []


class _ThreeHeaders:
    """Bare app plus the three response headers the layer adds (an ablation)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def add(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-request-id", b"0123456789abcdef0123456789abcdef"),
                    (b"ratelimit-policy", b'"default";q=100;w=2'),
                    (b"ratelimit", b'"default";r=99;t=1'),
                ]
            await send(message)

        await self.app(scope, receive, add)


def create() -> Any:
    if KIND == "bare-plus-headers":
        return _ThreeHeaders(trivial_app())
    if KIND.startswith("shipshape-no-"):
        return _variant(KIND)
    if KIND == "bare":
        return trivial_app()
    if KIND == "shipshape":
        return shipshape_app()
    if KIND.startswith("shipshape-ratio-"):  # the defaults at another sample ratio
        return shipshape_app(sample_ratio=float(KIND.removeprefix("shipshape-ratio-")))
    if KIND == "shipshape-traced":
        return shipshape_app(sample_ratio=1.0)
    if KIND == "shipshape-traced-own-span":
        return shipshape_app(sample_ratio=1.0, fastapi_telemetry=False)
    if KIND == "shipshape-traced-exported":
        return _exported(shipshape_app(sample_ratio=1.0))
    if KIND == "anchor":
        return anchor_app()
    raise SystemExit(f"unknown BENCH_APP {KIND!r}")


app = create()
