"""Redis clients from URLs: plain, TLS, unix socket and Sentinel-managed.

``connect(url)`` and ``connect_sync(url)`` return ordinary redis-py clients tuned to
fail fast: 0.5 s connect and socket timeouts (override with ``?socket_timeout=``) and
one immediate retry instead of redis-py's ten with backoff, so a dead server costs a
request milliseconds, not seconds. Sentinel clients ask the Sentinels for the master
on every new connection and drop connections to a master that was demoted.
"""

from __future__ import annotations

from typing import Any, cast

try:
    import redis as redis_sync
    import redis.asyncio as redis_async
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.asyncio.sentinel import Sentinel as AsyncSentinel
    from redis.backoff import NoBackoff
    from redis.retry import Retry as SyncRetry
    from redis.sentinel import Sentinel as SyncSentinel
except ImportError as error:  # pragma: no cover - exercised only without the driver
    from shipshape.stores.base import StoreError

    raise StoreError("Redis URLs need the redis driver: pip install 'redis>=5.2'") from error

from shipshape.stores._redis_url import RedisURL, parse_redis_url

__all__ = ["connect", "connect_sync", "parse_redis_url"]

_DATA_RETRIES = 1


class _AsyncSentinelRedis(redis_async.Redis):
    """A master client that also closes its Sentinel connections."""

    sentinel_manager: AsyncSentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if self.sentinel_manager is not None:
            for sentinel in self.sentinel_manager.sentinels:
                await sentinel.aclose()


class _SyncSentinelRedis(redis_sync.Redis):
    """A master client that also closes its Sentinel connections."""

    sentinel_manager: SyncSentinel | None = None

    def close(self) -> None:
        super().close()
        if self.sentinel_manager is not None:
            for sentinel in self.sentinel_manager.sentinels:
                sentinel.close()


def connect(url: str, **overrides: Any) -> redis_async.Redis:
    """An asyncio Redis client for ``url``; ``overrides`` win over URL options.

    Schemes: ``redis://[user:password@]host:port/db``, ``rediss://`` (TLS),
    ``unix:///path/redis.sock?db=0`` and
    ``redis+sentinel://[user:password@]h1:26379,h2:26379/SERVICE[/db]`` (the
    credentials are the master's; ``?sentinel_password=`` is the Sentinels'). No
    connection is made until the first command. Raises ``StoreError`` for a bad URL.
    """
    target = parse_redis_url(url)
    kwargs = {"retry": AsyncRetry(NoBackoff(), _DATA_RETRIES), **target.kwargs, **overrides}
    if not target.is_sentinel:
        return redis_async.Redis(**kwargs)
    sentinel = AsyncSentinel(  # type: ignore[no-untyped-call]
        target.sentinels, sentinel_kwargs=_sentinel_kwargs(target, AsyncRetry), **kwargs
    )
    client = cast(
        _AsyncSentinelRedis,
        sentinel.master_for(target.service, redis_class=_AsyncSentinelRedis),
    )
    client.sentinel_manager = sentinel
    return client


def connect_sync(url: str, **overrides: Any) -> redis_sync.Redis:
    """A synchronous Redis client for ``url`` (same URLs and defaults as ``connect``)."""
    target = parse_redis_url(url)
    kwargs = {"retry": SyncRetry(NoBackoff(), _DATA_RETRIES), **target.kwargs, **overrides}
    if not target.is_sentinel:
        return redis_sync.Redis(**kwargs)
    sentinel = SyncSentinel(  # type: ignore[no-untyped-call]
        target.sentinels, sentinel_kwargs=_sentinel_kwargs(target, SyncRetry), **kwargs
    )
    client = cast(
        _SyncSentinelRedis,
        sentinel.master_for(  # type: ignore[no-untyped-call]
            target.service, redis_class=_SyncSentinelRedis
        ),
    )
    client.sentinel_manager = sentinel
    return client


def _sentinel_kwargs(target: RedisURL, retry: type[AsyncRetry] | type[SyncRetry]) -> dict[str, Any]:
    # discover_master already walks every Sentinel in turn: no retries per Sentinel.
    return {"retry": retry(NoBackoff(), 0), **target.sentinel_kwargs}
