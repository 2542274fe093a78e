"""An endpoint response cache for FastAPI: ETag, ``If-None-Match`` → 304, Cache-Control.

Mark an endpoint with ``@cache_response(max_age=…)`` and serve it through a router
whose ``route_class`` is ``CachedRoute``. The route caches the response FastAPI
produced (after ``response_model`` filtering), keyed by method, path, the query with
its parameters in a stable order, and the values of the ``vary`` headers; entries live
in a ``TieredCache`` (L1, and Redis when it has one). Concurrent misses of one key run
the endpoint once. Only 200 responses without ``Set-Cookie`` or ``no-store``/``private``
are stored; requests carrying ``Authorization`` bypass the cache unless it is in
``vary``; a request ``Cache-Control: no-cache`` refreshes the entry. Cookies are not
part of the key: an endpoint whose response depends on one lists ``cookie`` in ``vary``.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import inspect
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute

from shipshape.scale.cache._tiered import TieredCache

__all__ = ["CachedRoute", "ResponseCodec", "cache_response", "response_key"]

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("shipshape.cache")

_POLICY_ATTRIBUTE = "__shipshape_cache_policy__"
_SKIPPED_HEADERS = frozenset({b"content-length", b"date", b"etag", b"cache-control", b"vary"})
_in_cached_route: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "shipshape_in_cached_route", default=False
)
_default_cache: TieredCache | None = None


@dataclass(frozen=True)
class CachePolicy:
    max_age: int
    ttl: float
    vary: tuple[str, ...]
    private: bool
    cache: TieredCache | None

    @property
    def cache_control(self) -> str:
        return f"{'private' if self.private else 'public'}, max-age={self.max_age}"


@dataclass(frozen=True)
class CachedResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    etag: str


class ResponseCodec:
    """A cached response as bytes: one JSON line of status and headers, then the body."""

    variant = "http-response"

    def dumps(self, value: CachedResponse) -> bytes:
        meta = orjson.dumps({"status": value.status, "headers": value.headers, "etag": value.etag})
        return meta + b"\n" + value.body

    def loads(self, data: bytes) -> CachedResponse:
        meta, _, body = data.partition(b"\n")
        fields = orjson.loads(meta)
        headers = [(str(name), str(value)) for name, value in fields["headers"]]
        return CachedResponse(int(fields["status"]), headers, body, str(fields["etag"]))


RESPONSES = ResponseCodec()


def cache_response(
    cache: TieredCache | None = None,
    *,
    max_age: int,
    vary: Iterable[str] = (),
    private: bool = False,
    ttl: float | None = None,
) -> Callable[[F], F]:
    """Mark a GET endpoint as cacheable (served by ``CachedRoute``).

    Clients are told ``max_age``; the server keeps an entry ``ttl`` seconds (default
    ``max_age``; 0 stores nothing, leaving ETag revalidation). ``cache`` defaults to
    one process-wide L1-only ``TieredCache``; pass a Redis-backed one to share entries
    between processes.
    """
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
        raise ValueError(f"max_age must be a non-negative int of seconds, got {max_age!r}")
    if ttl is not None and (isinstance(ttl, bool) or not ttl >= 0):
        raise ValueError(f"ttl must be a non-negative number of seconds, got {ttl!r}")
    lifetime = float(max_age if ttl is None else ttl)
    policy = CachePolicy(
        max_age, lifetime, tuple(sorted({h.lower() for h in vary})), private, cache
    )

    def mark(endpoint: F) -> F:
        warned = False

        def check() -> None:
            nonlocal warned
            if not warned and not _in_cached_route.get():
                warned = True
                log.warning(
                    "%s is marked @cache_response but its route is not a CachedRoute: "
                    "nothing is cached (use APIRouter(route_class=CachedRoute))",
                    endpoint.__qualname__,
                )

        if inspect.iscoroutinefunction(endpoint):

            @functools.wraps(endpoint)
            async def marked_async(*args: Any, **kwargs: Any) -> Any:
                check()
                return await endpoint(*args, **kwargs)

            wrapper: Any = marked_async
        else:

            @functools.wraps(endpoint)
            def marked(*args: Any, **kwargs: Any) -> Any:
                check()
                return endpoint(*args, **kwargs)

            wrapper = marked
        setattr(wrapper, _POLICY_ATTRIBUTE, policy)
        return wrapper  # type: ignore[no-any-return]

    return mark


def response_key(
    method: str, path: str, query: str = "", vary: Mapping[str, str] | None = None
) -> str:
    """The cache key of a request: ``GET /path?a=1&b=2`` plus ``|header=value`` per vary header.

    Query parameters are sorted by name (repeated names keep their order).
    """
    pairs = sorted(parse_qsl(query, keep_blank_values=True), key=lambda pair: pair[0])
    key = f"{method.upper()} {path}"
    if pairs:
        key += "?" + urlencode(pairs)
    for name, value in sorted((vary or {}).items()):
        key += f"|{name.lower()}={value}"
    return key


class CachedRoute(APIRoute):
    """An ``APIRoute`` that serves endpoints marked with ``cache_response`` from the cache."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        policy: CachePolicy | None = getattr(self.endpoint, _POLICY_ATTRIBUTE, None)
        if policy is None:
            return handler

        async def run(request: Request) -> Response:
            token = _in_cached_route.set(True)
            try:
                return await handler(request)
            finally:
                _in_cached_route.reset(token)

        async def cached_handler(request: Request) -> Response:
            if request.method not in ("GET", "HEAD"):
                return await run(request)
            headers = request.headers
            if "authorization" in headers and "authorization" not in policy.vary:
                return await run(request)
            cache = policy.cache or _shared_cache()
            key = response_key(
                request.method,
                request.url.path,
                request.url.query,
                {name: headers.get(name, "") for name in policy.vary},
            )
            if_none_match = headers.get("if-none-match")
            if policy.ttl <= 0 or "no-cache" in headers.get("cache-control", "").lower():
                response = await run(request)
                entry = _cacheable(response)
                if entry is None:
                    return response
                if policy.ttl > 0:
                    await cache.set(key, entry, ttl=policy.ttl, codec=RESPONSES)
                return _reply(entry, policy, if_none_match)

            async def load() -> CachedResponse:
                response = await run(request)
                entry = _cacheable(response)
                if entry is None:
                    raise _Uncacheable(request, response)
                return entry

            try:
                entry = await cache.get_or_compute(key, load, ttl=policy.ttl, codec=RESPONSES)
            except _Uncacheable as uncacheable:
                if uncacheable.request is request:
                    return uncacheable.response
                return await run(request)
            return _reply(entry, policy, if_none_match)

        return cached_handler


class _Uncacheable(Exception):
    """The endpoint's response may not be stored: its own request gets it as it is."""

    def __init__(self, request: Request, response: Response) -> None:
        super().__init__("response is not cacheable")
        self.request = request
        self.response = response


def _shared_cache() -> TieredCache:
    global _default_cache
    if _default_cache is None:
        _default_cache = TieredCache(None, namespace="shipshape:http", l1_ttl=None)
    return _default_cache


def _cacheable(response: Response) -> CachedResponse | None:
    if response.status_code != 200 or not hasattr(response, "body"):
        return None
    headers: list[tuple[str, str]] = []
    for name, value in response.raw_headers:
        if name == b"set-cookie":
            return None
        if name == b"cache-control" and (b"no-store" in value or b"private" in value):
            return None
        if name not in _SKIPPED_HEADERS:
            headers.append((name.decode("latin-1"), value.decode("latin-1")))
    body = bytes(response.body)
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    return CachedResponse(response.status_code, headers, body, etag)


def _reply(entry: CachedResponse, policy: CachePolicy, if_none_match: str | None) -> Response:
    extra = {"etag": entry.etag, "cache-control": policy.cache_control}
    if policy.vary:
        extra["vary"] = ", ".join(policy.vary)
    if if_none_match is not None and _etag_matches(if_none_match, entry.etag):
        return Response(status_code=304, headers=extra)
    response = Response(content=entry.body, status_code=entry.status)
    raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in entry.headers]
    raw += [(name.encode(), value.encode("latin-1")) for name, value in extra.items()]
    response.raw_headers = [*response.raw_headers, *raw]
    return response


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison, as RFC 9110 §13.1.2 asks of ``If-None-Match``."""
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))
