"""httpx transports that balance requests over backends, health-aware.

    transport = AsyncBalancingTransport(
        ["http://10.0.0.1:8000", "http://10.0.0.2:8000"], strategy="least-request"
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        transport.start_health_checks(interval=5.0)
        await client.get("/orders/1")

The request URL's scheme, host and port are replaced by the chosen backend's
(its path, if any, is prefixed) and the request goes to an inner transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from shipshape.scale._routing import (
    RETRYABLE,
    BackendSpec,
    Balancer,
    CountedStream,
    KeyFunc,
    NoHealthyBackend,
    as_backend,
    extension_key,
    header_key,
    is_server_error,
    timeouts,
)
from shipshape.scale.balance import Strategy, StrategyName
from shipshape.scale.pool import Backend, HealthPolicy, NoBackendAvailable, Pool

__all__ = [
    "AsyncBalancingTransport",
    "BalancingTransport",
    "NoHealthyBackend",
    "extension_key",
    "header_key",
]


class BalancingTransport(httpx.BaseTransport):
    """A sync httpx transport balancing over ``backends``; thread-safe.

    ``strategy``: ``round-robin``, ``weighted``, ``least-request``, ``sticky``
    or a :class:`~shipshape.scale.balance.Strategy`. ``key`` extracts the sticky
    key. A connect failure is retried on another backend up to ``retries`` times
    when the body can be replayed; responses with ``is_failure`` (default: 5xx)
    and transport errors count towards passive ejection.
    """

    def __init__(
        self,
        backends: Sequence[BackendSpec],
        *,
        strategy: StrategyName | Strategy = "round-robin",
        policy: HealthPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        key: KeyFunc = extension_key,
        is_failure: Callable[[httpx.Response], bool] = is_server_error,
        retries: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._balancer = Balancer(
            backends,
            strategy=strategy,
            policy=policy,
            key=key,
            is_failure=is_failure,
            retries=retries,
            clock=clock,
        )
        self._inner = transport if transport is not None else httpx.HTTPTransport()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._checker: threading.Thread | None = None

    @property
    def pool(self) -> Pool:
        return self._balancer.pool

    def _finish(self, name: str, ok: bool) -> None:
        with self._lock:
            self.pool.finish(name, ok, self._balancer.clock())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        balancer = self._balancer
        key = balancer.key(request)
        tried: set[str] = set()
        last_error: httpx.TransportError | None = None
        while True:
            with self._lock:
                try:
                    backend = self.pool.choose(balancer.clock(), key, frozenset(tried))
                except NoBackendAvailable as error:
                    if last_error is not None:
                        raise last_error from None
                    raise NoHealthyBackend(str(error), request=request) from None
            tried.add(backend.name)
            try:
                response = self._inner.handle_request(balancer.route(request, backend))
            except RETRYABLE as error:
                self._finish(backend.name, False)
                if len(tried) <= balancer.retries and balancer.replayable(request):
                    last_error = error
                    continue
                raise
            except BaseException:
                self._finish(backend.name, False)
                raise
            ok = not balancer.is_failure(response)
            if response.is_closed:
                self._finish(backend.name, ok)
            else:
                response.stream = CountedStream(
                    response.stream, functools.partial(self._finish, backend.name), ok
                )
            return response

    def drain(self, name: str) -> None:
        """Send no new requests to ``name``; requests in flight finish."""
        with self._lock:
            self.pool.drain(name)

    def undrain(self, name: str) -> None:
        with self._lock:
            self.pool.undrain(name, self._balancer.clock())

    def drained(self, name: str) -> bool:
        with self._lock:
            return self.pool.drained(name)

    def add_backend(self, backend: BackendSpec) -> None:
        with self._lock:
            self.pool.add(as_backend(backend), self._balancer.clock())

    def remove_backend(self, name: str) -> None:
        with self._lock:
            self.pool.remove(name)

    def status(self) -> list[dict[str, Any]]:
        with self._lock:
            return self.pool.snapshot(self._balancer.clock())

    def check_health(self, timeout: float = 2.0, path: str = "/readyz") -> dict[str, bool]:
        """GET ``path`` on every backend once; 2xx within ``timeout`` means ready."""
        with self._lock:
            backends = [self.pool.status(name).backend for name in self.pool.names]
        results: dict[str, bool] = {}
        for backend in backends:
            url = self._balancer.readiness_url(backend, path)
            request = httpx.Request("GET", url, extensions={"timeout": timeouts(timeout)})
            try:
                response = self._inner.handle_request(request)
                try:
                    response.read()
                finally:
                    response.close()
                results[backend.name] = response.is_success
            except httpx.HTTPError:
                results[backend.name] = False
        with self._lock:
            now = self._balancer.clock()
            for name, ready in results.items():
                if name in self.pool:
                    self.pool.set_ready(name, ready, now)
        return results

    def start_health_checks(
        self, interval: float = 5.0, timeout: float = 2.0, path: str = "/readyz"
    ) -> None:
        """Poll readiness every ``interval`` seconds on a daemon thread until :meth:`close`."""
        if self._checker is not None:
            raise RuntimeError("health checks already running")

        def loop() -> None:
            while not self._stop.is_set():
                with contextlib.suppress(Exception):  # a broken check must not end the loop
                    self.check_health(timeout, path)
                self._stop.wait(interval)

        self._checker = threading.Thread(target=loop, name="shipshape-readyz", daemon=True)
        self._checker.start()

    def close(self) -> None:
        self._stop.set()
        if self._checker is not None:
            self._checker.join()
            self._checker = None
        self._inner.close()


class AsyncBalancingTransport(httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`BalancingTransport` (same options)."""

    def __init__(
        self,
        backends: Sequence[BackendSpec],
        *,
        strategy: StrategyName | Strategy = "round-robin",
        policy: HealthPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        key: KeyFunc = extension_key,
        is_failure: Callable[[httpx.Response], bool] = is_server_error,
        retries: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._balancer = Balancer(
            backends,
            strategy=strategy,
            policy=policy,
            key=key,
            is_failure=is_failure,
            retries=retries,
            clock=clock,
        )
        self._inner = transport if transport is not None else httpx.AsyncHTTPTransport()
        self._checker: asyncio.Task[None] | None = None

    @property
    def pool(self) -> Pool:
        return self._balancer.pool

    def _finish(self, name: str, ok: bool) -> None:
        self.pool.finish(name, ok, self._balancer.clock())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        balancer = self._balancer
        key = balancer.key(request)
        tried: set[str] = set()
        last_error: httpx.TransportError | None = None
        while True:
            try:
                backend = self.pool.choose(balancer.clock(), key, frozenset(tried))
            except NoBackendAvailable as error:
                if last_error is not None:
                    raise last_error from None
                raise NoHealthyBackend(str(error), request=request) from None
            tried.add(backend.name)
            try:
                response = await self._inner.handle_async_request(balancer.route(request, backend))
            except RETRYABLE as error:
                self._finish(backend.name, False)
                if len(tried) <= balancer.retries and balancer.replayable(request):
                    last_error = error
                    continue
                raise
            except BaseException:
                self._finish(backend.name, False)
                raise
            ok = not balancer.is_failure(response)
            if response.is_closed:
                self._finish(backend.name, ok)
            else:
                response.stream = CountedStream(
                    response.stream, functools.partial(self._finish, backend.name), ok
                )
            return response

    def drain(self, name: str) -> None:
        """Send no new requests to ``name``; requests in flight finish."""
        self.pool.drain(name)

    def undrain(self, name: str) -> None:
        self.pool.undrain(name, self._balancer.clock())

    def drained(self, name: str) -> bool:
        return self.pool.drained(name)

    def add_backend(self, backend: BackendSpec) -> None:
        self.pool.add(as_backend(backend), self._balancer.clock())

    def remove_backend(self, name: str) -> None:
        self.pool.remove(name)

    def status(self) -> list[dict[str, Any]]:
        return self.pool.snapshot(self._balancer.clock())

    async def _ready(self, backend: Backend, timeout: float, path: str) -> bool:
        url = self._balancer.readiness_url(backend, path)
        request = httpx.Request("GET", url, extensions={"timeout": timeouts(timeout)})
        try:
            async with asyncio.timeout(timeout):
                response = await self._inner.handle_async_request(request)
                try:
                    await response.aread()
                finally:
                    await response.aclose()
        except (httpx.HTTPError, TimeoutError):
            return False
        return response.is_success

    async def check_health(self, timeout: float = 2.0, path: str = "/readyz") -> dict[str, bool]:
        """GET ``path`` on every backend concurrently; 2xx within ``timeout`` means ready."""
        backends = [self.pool.status(name).backend for name in self.pool.names]
        answers = await asyncio.gather(*(self._ready(b, timeout, path) for b in backends))
        now = self._balancer.clock()
        results = {backend.name: ready for backend, ready in zip(backends, answers, strict=True)}
        for name, ready in results.items():
            if name in self.pool:
                self.pool.set_ready(name, ready, now)
        return results

    def start_health_checks(
        self, interval: float = 5.0, timeout: float = 2.0, path: str = "/readyz"
    ) -> asyncio.Task[None]:
        """Poll readiness every ``interval`` seconds in a task until :meth:`aclose`."""
        if self._checker is not None and not self._checker.done():
            raise RuntimeError("health checks already running")

        async def loop() -> None:
            while True:
                with contextlib.suppress(Exception):  # a broken check must not end the loop
                    await self.check_health(timeout, path)
                await asyncio.sleep(interval)

        self._checker = asyncio.get_running_loop().create_task(loop(), name="shipshape-readyz")
        return self._checker

    async def aclose(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
            self._checker = None
        await self._inner.aclose()
