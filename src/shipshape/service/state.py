"""Per-process state of the production layer: metrics, checks, limiter and lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from shipshape.observe.health import (
    HealthChecks,
    disk_check,
    http_check,
    redis_check,
    sql_check,
)
from shipshape.observe.metrics import MetricsRegistry
from shipshape.service._types import ASGIApp, Message, Receive, Scope, Send
from shipshape.service.limits import ClientKeys, Limiter
from shipshape.service.recorder import RequestRecorder
from shipshape.service.settings import ServiceSettings
from shipshape.stores import open_store
from shipshape.stores.base import StoreUnavailable

__all__ = ["ServiceState"]

logger = logging.getLogger("shipshape.service")


class _NoLifespan(Exception):
    """The app answered the lifespan scope with something else: it does not speak it."""


class ServiceState:
    """Everything the middleware and the endpoints share, built once per process."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.registry = MetricsRegistry(settings.metrics.multiprocess_dir)
        registry = self.registry
        self.requests_total = registry.counter(
            "http_requests_total",
            "HTTP requests by method, route and status.",
            ("method", "route", "status"),
        )
        self.request_duration = registry.histogram(
            "http_request_duration_seconds",
            "HTTP request duration in seconds.",
            ("method", "route"),
            settings.metrics.buckets,
        )
        self.in_flight = registry.gauge(
            "http_requests_in_flight", "HTTP requests being served right now."
        )
        self.validation_errors = registry.counter(
            "pydantic_validation_errors_total",
            "Requests rejected by Pydantic validation, by route.",
            ("route",),
        )
        self.ratelimit_decisions = registry.counter(
            "ratelimit_decisions_total",
            "Rate-limit decisions by policy and outcome.",
            ("policy", "decision"),
        )
        self.ratelimit_unstored = registry.counter(
            "ratelimit_store_unavailable_decisions_total",
            "Rate-limit decisions made without the store (fail-open or fail-closed).",
            ("policy", "mode"),
        )
        self.client_keys = ClientKeys(settings.ratelimit.key, settings.ratelimit.trusted_proxies)
        self.limiter = Limiter(settings.ratelimit, open_store(settings.ratelimit.store_url))
        self.health = HealthChecks(
            timeout=settings.health.timeout_seconds, cache_seconds=settings.health.cache_seconds
        )
        self._builtin_checks()
        self.native_telemetry = False
        self.native_every_request = False
        #: the tracer provider the layer records with, flushed at shutdown
        self.tracer_provider: Any = None
        metrics = settings.metrics.enabled
        self.recorder = RequestRecorder(
            requests_total=self.requests_total if metrics else None,
            duration=self.request_duration if metrics else None,
            access_log=settings.logs.access_log,
        )
        registry.before_snapshot(self.recorder.flush)
        self.started = False
        self.lifespan_seen = False
        self.draining = False

    # -- checks --------------------------------------------------------------------------

    def _builtin_checks(self) -> None:
        health = self.settings.health
        if health.database_url:
            self.health.add(
                "database",
                sql_check(health.database_url, timeout=health.timeout_seconds),
                component_type="datastore",
                secrets=_url_secrets(health.database_url),
            )
        if health.redis_url:
            self.health.add(
                "redis",
                redis_check(health.redis_url, timeout=health.timeout_seconds),
                component_type="datastore",
                secrets=_url_secrets(health.redis_url),
            )
        for index, url in enumerate(health.http_urls):
            self.health.add(
                f"http-{index}",
                http_check(url, timeout=health.timeout_seconds),
                component_type="http",
                secrets=_url_secrets(url),
            )
        if health.disk_path:
            self.health.add(
                "disk",
                disk_check(health.disk_path, health.disk_min_free_bytes),
                component_type="system",
            )
        store = self.limiter.store
        if not store.url.startswith("memory"):
            self.health.add(
                "ratelimit-store",
                self._store_check,
                component_type="datastore",
                secrets=_url_secrets(store.url),
            )

    async def _store_check(self) -> str:
        """Degraded (fail open) or unhealthy (fail closed) while the store is unreachable."""
        try:
            await self.limiter.store.ping()
        except StoreUnavailable:
            return "degraded" if self.limiter.fail_open else "unhealthy"
        return "healthy"

    # -- lifecycle -----------------------------------------------------------------------

    def mark_serving(self) -> None:
        """A request arrived: without a lifespan protocol, that is when startup is over."""
        self.started = True

    async def lifespan(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app's lifespan, noting when startup completes and when shutdown begins."""
        self.lifespan_seen = True
        sent_any = False
        consumed: list[Message] = []

        async def watch_receive() -> Message:
            message = await receive()
            consumed.append(message)
            if message["type"] == "lifespan.shutdown":
                self.draining = True
            return message

        async def watch_send(message: Message) -> None:
            nonlocal sent_any
            kind = message["type"]
            if not kind.startswith("lifespan."):
                raise _NoLifespan(kind)
            sent_any = True
            if kind == "lifespan.startup.complete":
                self._on_startup()
            elif kind == "lifespan.shutdown.complete":
                await self._on_shutdown()
            await send(message)

        try:
            await app(scope, watch_receive, watch_send)
        except Exception:
            if sent_any:
                raise
            await self._own_lifespan(receive, send, consumed)
            return
        if not sent_any:
            await self._own_lifespan(receive, send, consumed)

    async def _own_lifespan(self, receive: Receive, send: Send, consumed: list[Message]) -> None:
        """The lifespan protocol for apps that do not speak it."""
        while True:
            message = consumed.pop(0) if consumed else await receive()
            if message["type"] == "lifespan.startup":
                self._on_startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.draining = True
                await self._on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _on_startup(self) -> None:
        self.registry.start()
        self._install_drain_handler()
        self.started = True

    async def _on_shutdown(self) -> None:
        self.draining = True
        self.recorder.flush()
        self.registry.stop()
        await self.health.aclose()
        with contextlib.suppress(Exception):
            await self.limiter.store.aclose()
        await self._flush_spans()

    async def _flush_spans(self) -> None:
        """Export the spans still queued. Exit handlers would, but a server stopped by
        SIGTERM ends by that signal (uvicorn raises it again) and never runs them."""
        flush = getattr(self.tracer_provider, "force_flush", None)
        if flush is None:
            return
        flushing = asyncio.get_running_loop().run_in_executor(None, flush, _FLUSH_MILLIS)
        try:
            await asyncio.wait_for(flushing, _FLUSH_MILLIS / 1000)
        except TimeoutError:
            logger.warning("the last spans were not exported within %.0fs", _FLUSH_MILLIS / 1000)
        except Exception:  # an exporter's failure must not break the shutdown
            logger.warning("could not export the last spans", exc_info=True)

    def _install_drain_handler(self) -> None:
        """On SIGTERM, report not-ready for ``drain_seconds``, and then while requests
        are still in flight (at most ``drain_timeout_seconds`` more), before the server
        stops listening; a second SIGTERM stops it at once."""
        delay = self.settings.drain_seconds
        if delay <= 0:
            return
        try:
            previous = signal.getsignal(signal.SIGTERM)
        except ValueError:
            return
        if not callable(previous):
            return
        loop = asyncio.get_running_loop()

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            if self.draining:  # the second: stop now, requests in flight or not
                server: Any = getattr(previous, "__self__", None)
                if hasattr(server, "force_exit"):  # uvicorn's, which forces on SIGINT only
                    server.force_exit = True
                previous(signum, frame)
                return
            self.draining = True
            logger.info(
                "SIGTERM: readiness now fails; stopping in %.1fs, or once the requests "
                "in flight then are done",
                delay,
            )
            loop.call_soon_threadsafe(
                self._stop_when_drained, lambda: previous(signum, frame), delay
            )

        try:
            signal.signal(signal.SIGTERM, on_sigterm)
        except ValueError:
            return

    def _stop_when_drained(self, stop: Callable[[], None], delay: float) -> None:
        """Call ``stop`` after ``delay`` seconds, once no request is in flight (or when
        ``drain_timeout_seconds`` more have passed)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + delay + self.settings.drain_timeout_seconds
        in_flight = self.in_flight.values

        def check() -> None:
            if in_flight.get((), 0.0) <= 0 or loop.time() >= give_up:
                stop()
            else:
                loop.call_later(0.02, check)

        loop.call_later(delay, check)


_FLUSH_MILLIS = 10_000  # the OTLP exporter's own default timeout


def _url_secrets(url: str) -> list[str]:
    """The parts of a URL that must never be shown: the URL itself, its password and
    where the dependency lives (its host and port)."""
    from urllib.parse import urlsplit

    secrets = [url]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return secrets
    if parts.password:
        secrets.append(parts.password)
    host = parts.hostname
    if host:
        if port is not None:
            secrets.append(f"{host}:{port}")
        if "." in host or ":" in host or len(host) >= 4:  # not a stretch of a word
            secrets.append(host)
    return secrets
