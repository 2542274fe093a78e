"""Redis clients from URLs: plain, TLS, unix socket and Sentinel-managed.

``connect(url)`` and ``connect_sync(url)`` return ordinary redis-py clients tuned to
fail fast: 0.5 s connect and socket timeouts (override with ``?socket_timeout=``) and
one immediate retry instead of redis-py's ten with backoff, so a dead server costs a
request milliseconds, not seconds. Sentinel clients ask the Sentinels for the master
on every new connection and drop connections to a master that was demoted.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

try:
    import redis as redis_sync
    import redis.asyncio as redis_async
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.asyncio.sentinel import MasterNotFoundError, SentinelConnectionPool
    from redis.asyncio.sentinel import Sentinel as AsyncSentinel
    from redis.backoff import NoBackoff
    from redis.exceptions import NoScriptError, ReadOnlyError, RedisError, ResponseError
    from redis.retry import Retry as SyncRetry
    from redis.sentinel import Sentinel as SyncSentinel
except ImportError as error:  # pragma: no cover - exercised only without the driver
    from shipshape.stores.base import StoreError

    raise StoreError("Redis URLs need the redis driver: pip install 'redis>=5.2'") from error

from shipshape.stores._redis_url import RedisURL, parse_redis_url, redact_url
from shipshape.stores.base import Decision, StoreUnavailable, check_take, decide

__all__ = ["DEFAULT_PREFIX", "RedisStore", "connect", "connect_sync", "parse_redis_url"]

DEFAULT_PREFIX = "shipshape:ratelimit:"

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


_MICRO = 1_000_000
_SCRIPT = (Path(__file__).parent / "lua" / "token_bucket.lua").read_text()
_SCRIPT_SHA = hashlib.sha1(_SCRIPT.encode()).hexdigest()
_FAILURES = (RedisError, OSError, TimeoutError)


class RedisStore:
    """Token buckets in Redis, shared by every process and machine using the URL.

    Each decision is one run of ``lua/token_bucket.lua`` (EVALSHA, loaded again after
    NOSCRIPT), on the server's clock, in integer micro-tokens. Decisions requested
    in the same event-loop turn travel together in one pipeline: one round trip for
    many requests, each still its own atomic script. Failures raise
    ``StoreUnavailable`` within ``timeout`` seconds; after one, further calls fail at
    once for ``retry_interval`` seconds, then one batch probes the server again, so
    the store recovers by itself within about that interval once Redis is back.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str | None = None,
        timeout: float = 1.0,
        retry_interval: float = 0.5,
        max_batch: int = 256,
        client: redis_async.Redis | None = None,
    ) -> None:
        url, url_prefix = _pop_prefix(url)
        self.url = redact_url(url)
        self.prefix = prefix if prefix is not None else url_prefix
        # One deadline per operation (``timeout``) replaces redis-py's per-read socket
        # timeout, which costs about a third of a round trip; an explicit
        # ``?socket_timeout=`` in the URL still applies.
        per_read = {} if "socket_timeout=" in url.partition("?")[2] else {"socket_timeout": None}
        self._client = client if client is not None else connect(url, **per_read)
        self._owns_client = client is None
        self._timeout = timeout
        self._retry_interval = retry_interval
        self._max_batch = max_batch
        self._pending: list[_Request] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._open_until = 0.0
        self._last_error = ""
        self._following = False
        self._in_flight = 0
        self._alone = 0
        self._closed = False

    @property
    def client(self) -> redis_async.Redis:
        """The underlying redis-py client (shared with the store; do not close it)."""
        return self._client

    async def take(self, key: str, capacity: int, refill_rate: float, cost: int = 1) -> Decision:
        """Spend ``cost`` tokens from ``key``'s bucket if it has them; one script run."""
        check_take(capacity, refill_rate, cost)
        if self._closed:
            raise self._closed_error()
        if self._open_until:
            now = time.monotonic()
            if now < self._open_until:
                raise self._unavailable()
            self._open_until = now + self._retry_interval
        arguments = (
            self.prefix + key,
            round(capacity * _MICRO),
            round(refill_rate * _MICRO),
            round(cost * _MICRO),
        )
        if self._in_flight:
            allowed, tokens, carry = await self._enqueue(arguments)
        else:
            allowed, tokens, carry = await self._take_alone(arguments)
        return decide(
            allowed == 1, tokens / _MICRO + carry / _MICRO**2, capacity, refill_rate, cost
        )

    async def _take_alone(self, arguments: _Arguments) -> list[int]:
        """Nothing in flight: send this decision at once rather than wait for company."""
        self._in_flight += 1
        self._alone += 1
        try:
            async with asyncio.timeout(self._timeout):
                reply = await self._single(arguments)
        except _FAILURES as error:
            self._note_failure(error)
            raise self._unavailable() from error
        finally:
            self._in_flight -= 1
            self._alone -= 1
        self._open_until = 0.0
        if isinstance(reply, Exception):
            raise StoreUnavailable(f"{self.url}: {reply}")
        return cast(list[int], reply)

    def _enqueue(self, arguments: _Arguments) -> asyncio.Future[list[int]]:
        """Join the batch leaving in this event-loop turn."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[int]] = loop.create_future()
        self._pending.append((arguments, future))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if self._closed:
            _settle(pending, self._closed_error())
            return
        for start in range(0, len(pending), self._max_batch):
            batch = pending[start : start + self._max_batch]
            self._in_flight += 1
            task = self._spawn(self._run(batch))
            task.add_done_callback(functools.partial(self._abandon_if_cancelled, batch))

    def _abandon_if_cancelled(self, batch: list[_Request], task: asyncio.Task[None]) -> None:
        if task.cancelled():
            _settle(batch, self._closed_error())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _closed_error(self) -> StoreUnavailable:
        return StoreUnavailable(f"{self.url} store is closed")

    async def _run(self, batch: list[_Request]) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                replies = await self._evaluate([arguments for arguments, _ in batch])
        except _FAILURES as error:
            self._note_failure(error)
            _settle(batch, self._unavailable())
            return
        finally:
            self._in_flight -= 1
        self._open_until = 0.0
        for reply, (_, future) in zip(replies, batch, strict=True):
            if future.done():
                continue
            if isinstance(reply, Exception):
                future.set_exception(StoreUnavailable(f"{self.url}: {reply}"))
            else:
                future.set_result(reply)

    async def _evaluate(self, batch: list[_Arguments]) -> list[Any]:
        if len(batch) == 1:
            return [await self._single(batch[0])]
        replies = await self._pipeline(batch)
        missing = [index for index, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            await self._client.script_load(_SCRIPT)
            retried = await self._pipeline([batch[index] for index in missing])
            for index, reply in zip(missing, retried, strict=True):
                replies[index] = reply
        if any(isinstance(reply, ReadOnlyError) for reply in replies):
            raise ReadOnlyError("the server is a read-only replica, not the master")
        return replies

    async def _single(self, arguments: _Arguments) -> Any:
        command = ("EVALSHA", _SCRIPT_SHA, 1, *arguments)
        try:
            try:
                return await self._client.execute_command(*command)  # type: ignore[no-untyped-call]
            except NoScriptError:
                await self._client.script_load(_SCRIPT)
                return await self._client.execute_command(*command)  # type: ignore[no-untyped-call]
        except ReadOnlyError:
            raise
        except ResponseError as error:
            return error

    async def _pipeline(self, batch: list[_Arguments]) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for arguments in batch:
            pipe.execute_command("EVALSHA", _SCRIPT_SHA, 1, *arguments)
        return await pipe.execute(raise_on_error=False)

    def _note_failure(self, error: BaseException) -> None:
        """Open the circuit for ``retry_interval`` and look for a new master meanwhile."""
        self._last_error = _describe(error)
        if self._retry_interval > 0:
            self._open_until = time.monotonic() + self._retry_interval
        if isinstance(self._client.connection_pool, SentinelConnectionPool):
            self._spawn(self._follow_master())

    def _unavailable(self) -> StoreUnavailable:
        return StoreUnavailable(f"{self.url} unavailable: {self._last_error}")

    async def _follow_master(self) -> None:
        """Ask the Sentinels for the master now, dropping connections to a stale one."""
        pool = self._client.connection_pool
        if self._following or not isinstance(pool, SentinelConnectionPool):
            return
        self._following = True
        try:
            async with asyncio.timeout(self._timeout):
                await pool.get_master_address()  # type: ignore[no-untyped-call]
        except (*_FAILURES, MasterNotFoundError):
            pass
        finally:
            self._following = False

    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the server answers within ``timeout``."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.ping()
        except _FAILURES as error:
            self._last_error = _describe(error)
            await self._follow_master()
            raise self._unavailable() from error
        self._open_until = 0.0

    async def aclose(self) -> None:
        """Close the connections; pending and later decisions raise ``StoreUnavailable``."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        deadline = time.monotonic() + self._timeout
        while self._alone and time.monotonic() < deadline:  # let lone requests land
            await asyncio.sleep(0.005)
        if self._owns_client:
            await self._client.aclose()


def _settle(batch: list[_Request], error: StoreUnavailable) -> None:
    """Fail every request of ``batch`` still waiting, each with its own exception."""
    for _, future in batch:
        if not future.done():
            future.set_exception(StoreUnavailable(*error.args))


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


_Arguments = tuple[str, int, int, int]
_Request = tuple[_Arguments, "asyncio.Future[list[int]]"]


def _pop_prefix(url: str) -> tuple[str, str]:
    """Split the store's own ``prefix`` option off a Redis URL."""
    try:
        parts = urlsplit(url)
    except ValueError:  # malformed: connect() raises the StoreError naming it
        return url, DEFAULT_PREFIX
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefixes = [value for name, value in query if name == "prefix"]
    rest = urlencode([(name, value) for name, value in query if name != "prefix"])
    return parts._replace(query=rest).geturl(), prefixes[-1] if prefixes else DEFAULT_PREFIX
