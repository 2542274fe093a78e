"""What the sync and async balancing transports share: routing, keys, accounting."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from shipshape.scale.balance import Strategy, StrategyName, make_strategy
from shipshape.scale.pool import Backend, HealthPolicy, Pool

KeyFunc = Callable[[httpx.Request], str | None]
BackendSpec = Backend | str | Mapping[str, Any]
RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout)


class NoHealthyBackend(httpx.ConnectError):
    """Every backend is draining, ejected or not ready (or was already tried)."""


def header_key(name: str) -> KeyFunc:
    """Sticky key from a request header (e.g. ``X-Session-Id``)."""

    def key(request: httpx.Request) -> str | None:
        value: str | None = request.headers.get(name)
        return value

    return key


def extension_key(request: httpx.Request) -> str | None:
    """Sticky key from ``extensions={"balance_key": ...}`` on the request (the default)."""
    value: object = request.extensions.get("balance_key")
    return None if value is None else str(value)


def as_backend(spec: BackendSpec) -> Backend:
    if isinstance(spec, Backend):
        return spec
    if isinstance(spec, str):
        return Backend(name=spec, url=spec)
    return Backend.model_validate(spec)


def is_server_error(response: httpx.Response) -> bool:
    return response.status_code >= 500


class Balancer:
    """What the sync and async transports share: the pool, routing, accounting."""

    def __init__(
        self,
        backends: Sequence[BackendSpec],
        *,
        strategy: StrategyName | Strategy,
        policy: HealthPolicy | None,
        key: KeyFunc,
        is_failure: Callable[[httpx.Response], bool],
        retries: int,
        clock: Callable[[], float],
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        chosen = make_strategy(strategy) if isinstance(strategy, str) else strategy
        self.pool = Pool([as_backend(spec) for spec in backends], chosen, policy)
        self.key = key
        self.is_failure = is_failure
        self.retries = retries
        self.clock = clock
        self._targets: dict[str, tuple[str, str]] = {}

    def _target(self, backend: Backend) -> tuple[str, str]:
        target = self._targets.get(backend.url)
        if target is None:
            url = httpx.URL(backend.url)
            netloc = url.netloc.decode("ascii")
            prefix = url.raw_path.decode("ascii").partition("?")[0].rstrip("/")
            target = self._targets[backend.url] = (f"{url.scheme}://{netloc}{prefix}", netloc)
        return target

    def route(self, request: httpx.Request, backend: Backend) -> httpx.Request:
        """A copy of ``request`` aimed at ``backend`` (its path, if any, as a prefix)."""
        base, netloc = self._target(backend)
        headers = request.headers.copy()
        headers["Host"] = netloc
        return httpx.Request(
            request.method,
            httpx.URL(base + request.url.raw_path.decode("ascii")),
            headers=headers,
            stream=request.stream,
            extensions=request.extensions,
        )

    def replayable(self, request: httpx.Request) -> bool:
        return isinstance(request.stream, httpx.ByteStream)

    def readiness_url(self, backend: Backend, path: str) -> httpx.URL:
        return httpx.URL(self._target(backend)[0] + path)


class CountedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that tells the pool when the request is really over."""

    def __init__(self, stream: Any, done: Callable[[bool], None], ok: bool) -> None:
        self._stream = stream
        self._done: Callable[[bool], None] | None = done
        self._ok = ok

    def _finish(self) -> None:
        if self._done is not None:
            done, self._done = self._done, None
            done(self._ok)

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except httpx.TransportError:
            self._ok = False
            raise

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._finish()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except httpx.TransportError:
            self._ok = False
            raise

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._finish()


def timeouts(seconds: float) -> dict[str, float]:
    return {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}
