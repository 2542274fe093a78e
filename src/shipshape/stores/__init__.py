"""Stores for shared state, chosen by URL: ``memory://`` (default) or Redis.

``open_store("memory://")`` keeps buckets in this process; ``redis://``,
``rediss://``, ``unix://`` and ``redis+sentinel://h1:26379,h2:26379/mymaster`` share
them between processes and machines. The Redis driver is imported only when a
Redis URL asks for it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from shipshape.stores._redis_url import parse_redis_url, redact_url
from shipshape.stores.base import (
    Decision,
    RateLimitStore,
    StoreError,
    StoreUnavailable,
    decide,
)
from shipshape.stores.memory import MemoryStore

__all__ = [
    "Decision",
    "MemoryStore",
    "RateLimitStore",
    "StoreError",
    "StoreUnavailable",
    "check_store_url",
    "decide",
    "open_store",
]

_REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel")


def open_store(url: str = "memory://", **options: Any) -> RateLimitStore:
    """The store for ``url``; ``options`` go to the store class (e.g. ``prefix=``).

    Raises ``StoreError`` for an unknown scheme, a malformed URL or a missing driver.
    No connection is made here: a Redis store connects on first use, so a service
    can start while Redis is still coming up.
    """
    scheme = _scheme(url)
    if scheme == "memory":
        return MemoryStore(url, **options)
    if scheme in _REDIS_SCHEMES:
        try:
            from shipshape.stores.redis import RedisStore
        except ImportError as error:
            raise StoreError(
                f"{scheme}:// stores need the redis driver: pip install 'redis>=5.2' ({error})"
            ) from error
        return RedisStore(url, **options)
    raise _unsupported(scheme)


def check_store_url(url: str) -> None:
    """Raise the ``StoreError`` that ``open_store(url)`` would for a malformed URL, an
    unknown scheme or a bad Redis option, without making a store (for a fail-fast check
    at startup)."""
    scheme = _scheme(url)
    if scheme in _REDIS_SCHEMES:
        from shipshape.stores.redis import _pop_prefix  # the store's own option

        parse_redis_url(_pop_prefix(url)[0])
    elif scheme != "memory":
        raise _unsupported(scheme)


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError as error:  # e.g. "Invalid IPv6 URL" for an unclosed [
        raise StoreError(f"malformed store URL {redact_url(url)!r}: {error}") from None


def _unsupported(scheme: str) -> StoreError:
    return StoreError(
        f"unsupported store URL scheme {scheme!r}; use memory://, redis://, rediss://, "
        "unix:// or redis+sentinel://"
    )
