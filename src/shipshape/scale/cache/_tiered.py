"""Two tiers: an in-process LRU (L1) in front of Redis (L2), shared by every process.

``get_or_compute`` runs a loader at most once per key at a time: inside a process,
concurrent callers of a cold key await one load (single-flight); across processes, the
loader runs under a Redis lock (``SET NX PX`` with a random token, renewed while the
loader runs, released by a compare-and-delete script) and the others wait for its value.
``invalidate`` deletes the value in Redis and publishes the key; every process's
listener drops it from its L1. When Redis fails (any ``RedisError``: unreachable,
timed out, full, a read-only replica), the cache keeps serving from L1 and the
loader, counts it in ``stats``, and leaves Redis alone for ``retry_after`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from shipshape.scale.cache._codec import JSON, CacheStats, Codec
from shipshape.scale.cache._lock import RedisLocks
from shipshape.scale.cache._lru import LRUCache

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["REDIS_FAILURES", "TieredCache", "awaited"]

log = logging.getLogger("shipshape.cache")

# Any error from Redis, not only an unreachable one: a full server (OOM under the
# default noeviction policy) or a demoted master (READONLY) must not fail a caller
# whose value the loader can still give.
REDIS_FAILURES = (RedisError, OSError)
_MISSING: Any = object()
# The longest expiry sent to Redis (~285,000 years): a longer ``ttl``, ``inf`` included,
# is clamped to it, since Redis rejects an expiry past its 64-bit clock.
_MAX_TTL_MS = 2**53
_LUA = Path(__file__).with_name


def _check_key(key: object) -> None:
    # The Redis key is "{namespace}:v:{key}": only strings keep distinct keys distinct
    # (5 and "5" would share one Redis entry while being two L1 entries).
    if not isinstance(key, str):
        raise TypeError(f"cache keys are strings, got {key!r} ({type(key).__qualname__})")


async def awaited(loader: Callable[[], Awaitable[Any]]) -> Any:
    """``await loader()``; ``TypeError`` naming the loader if it gave no awaitable."""
    result = loader()
    if not inspect.isawaitable(result):
        name = getattr(loader, "__qualname__", None) or repr(loader)
        raise TypeError(
            f"loader {name} must be async (return an awaitable), "
            f"got {type(result).__qualname__}; use 'async def' or wrap it"
        )
    return await result


class TieredCache:
    """L1 (``LRUCache``) in front of L2 (Redis); ``redis=None`` keeps only the L1.

    Keys are strings (anything else raises ``TypeError``); values go through a
    ``Codec`` (JSON by default). ``ttl`` is the default lifetime in seconds,
    ``l1_ttl`` caps how long the L1 may serve a value without asking Redis
    (bounding staleness if an invalidation message is lost).
    ``lock_ttl`` is how long a dead loader's lock blocks the others (a live one renews
    it); a waiter gives up after ``lock_wait`` (default ``3 * lock_ttl``) and computes
    the value itself. Use ``async with`` (or ``start``/``aclose``) to receive
    invalidations.
    """

    def __init__(
        self,
        redis: Redis | None = None,
        *,
        namespace: str = "shipshape:cache",
        ttl: float = 300.0,
        l1_capacity: int = 10_000,
        l1_ttl: float | None = 60.0,
        lock_ttl: float = 10.0,
        lock_wait: float | None = None,
        retry_after: float = 1.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not ttl > 0:
            raise ValueError(f"ttl must be > 0 seconds, got {ttl!r}")
        for name, seconds in (("lock_ttl", lock_ttl), ("retry_after", retry_after)):
            if not 0 < seconds < math.inf:
                raise ValueError(f"{name} must be > 0 seconds (and finite), got {seconds!r}")
        if lock_wait is not None and not 0 < lock_wait < math.inf:
            raise ValueError(f"lock_wait must be > 0 seconds (and finite), got {lock_wait!r}")
        if not namespace or any(ch.isspace() for ch in namespace):
            raise ValueError(f"namespace must be a non-empty string without spaces: {namespace!r}")
        self.namespace = namespace
        self.ttl = float(ttl)
        self.l1_ttl = l1_ttl
        self.lock_ttl = float(lock_ttl)
        self.lock_wait = float(lock_wait) if lock_wait is not None else 3 * self.lock_ttl
        self.retry_after = float(retry_after)
        self.stats = CacheStats()
        self.l1: LRUCache[tuple[str, str], Any] = LRUCache(l1_capacity, ttl=l1_ttl, clock=clock)
        self._l1_get = self.l1.get
        self._redis = redis
        self._owns_redis = False
        self._clock = clock or time.monotonic
        self._channel = f"{namespace}:invalidate"
        self._inflight: dict[tuple[str, str], asyncio.Task[Any]] = {}
        self._variants: set[str] = set()
        self._epoch = 0
        self._redis_down_until = -1.0
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self.subscribed = False
        self._locks: RedisLocks | None = None
        self._write: AsyncScript | None = None
        if redis is not None:
            self._locks = RedisLocks(redis, self.lock_ttl, REDIS_FAILURES)
            self._write = redis.register_script(_LUA("write_value.lua").read_text())

    @classmethod
    def from_url(cls, url: str, **options: Any) -> TieredCache:
        """A cache on the Redis at ``url`` (``memory://`` for an L1-only cache)."""
        if url.split(":", 1)[0].lower() == "memory":
            return cls(None, **options)
        from shipshape.stores.redis import connect

        cache = cls(connect(url), **options)
        cache._owns_redis = True
        return cache

    @property
    def degraded(self) -> bool:
        """True while Redis is configured but being skipped after a failure."""
        return self._redis is not None and self._clock() < self._redis_down_until

    async def __aenter__(self) -> TieredCache:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self, timeout: float = 5.0) -> None:
        """Subscribe to invalidations; waits (up to ``timeout``) for the first attempt."""
        if self._redis is None or self._listener is not None:
            return
        self._listener = asyncio.create_task(self._listen(), name=f"{self._channel} listener")
        try:
            await asyncio.wait_for(self._listening.wait(), timeout)
        except TimeoutError:
            log.warning("cache invalidation channel %s: not subscribed yet", self._channel)

    async def aclose(self) -> None:
        """Stop listening; close the Redis client if ``from_url`` made it."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
            self.subscribed = False
        for task in list(self._inflight.values()):
            task.cancel()
        if self._owns_redis and self._redis is not None:
            await self._redis.aclose()

    def value_key(self, key: str) -> str:
        """The Redis key that holds ``key``'s values (a hash: variant → encoded value)."""
        _check_key(key)
        return f"{self.namespace}:v:{key}"

    def peek_local(self, key: str, codec: Codec[Any] = JSON) -> Any:
        """The value of ``key`` in this process's L1 (``None`` if absent); not a use."""
        return self.l1.peek((codec.variant, key))

    async def get(self, key: str, codec: Codec[Any] = JSON) -> Any:
        """The cached value of ``key``, or ``None`` on a miss (L1, then Redis)."""
        l1_key = (codec.variant, key)
        value = self._l1_get(l1_key, _MISSING)
        if value is not _MISSING:
            self.stats.l1_hits += 1
            return value
        _check_key(key)
        if self._redis is None or self.degraded:
            return None
        epoch = self._epoch
        try:
            found = await self._read(key, codec)
        except REDIS_FAILURES as exc:
            self._redis_failed(exc)
            return None
        if found is None:
            return None
        self.stats.l2_hits += 1
        self._fill_l1(l1_key, found[0], found[1], epoch)
        return found[0]

    async def set(
        self, key: str, value: Any, *, ttl: float | None = None, codec: Codec[Any] = JSON
    ) -> None:
        """Store ``value`` in both tiers (the L1 only while Redis is failing)."""
        _check_key(key)
        seconds = self._ttl(ttl)
        encoded = codec.dumps(value)
        self._variants.add(codec.variant)
        self.l1.set((codec.variant, key), value, ttl=self._l1_seconds(seconds))
        if self._redis is None or self.degraded:
            return
        try:
            await self._store(key, encoded, seconds, codec)
        except REDIS_FAILURES as exc:
            self._redis_failed(exc)

    async def get_or_compute(
        self,
        key: str,
        loader: Callable[[], Awaitable[Any]],
        *,
        ttl: float | None = None,
        codec: Codec[Any] = JSON,
    ) -> Any:
        """The value of ``key``; on a miss, ``await loader()`` once for everyone waiting."""
        l1_key = (codec.variant, key)
        value = self._l1_get(l1_key, _MISSING)
        if value is not _MISSING:
            self.stats.l1_hits += 1
            return value
        _check_key(key)
        task = self._inflight.get(l1_key)
        if task is None:
            task = asyncio.ensure_future(self._load(key, l1_key, loader, self._ttl(ttl), codec))
            self._inflight[l1_key] = task
            task.add_done_callback(lambda done: self._finished(l1_key, done))
        else:
            self.stats.coalesced += 1
        return await asyncio.shield(task)

    async def invalidate(self, key: str) -> None:
        """Delete ``key`` everywhere: Redis, this L1, and (by pub/sub) every other L1."""
        _check_key(key)
        self._drop_local(key)
        if self._redis is None:
            return
        try:
            # One round trip, the delete first; not MULTI: a full Redis refuses to
            # queue commands in a transaction, and invalidating is what frees memory.
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.delete(self.value_key(key))
                pipe.publish(self._channel, key.encode())
                await pipe.execute()
        except REDIS_FAILURES as exc:
            self._redis_failed(exc)
            raise

    def _finished(self, l1_key: tuple[str, str], task: asyncio.Task[Any]) -> None:
        if self._inflight.get(l1_key) is task:
            del self._inflight[l1_key]
        if not task.cancelled():
            task.exception()

    async def _load(
        self,
        key: str,
        l1_key: tuple[str, str],
        loader: Callable[[], Awaitable[Any]],
        seconds: float,
        codec: Codec[Any],
    ) -> Any:
        epoch = self._epoch
        if self._redis is None or self.degraded:
            if self._redis is not None:
                self.stats.redis_fallbacks += 1
            value, _ = await self._run(loader, codec)
            self._fill_l1(l1_key, value, seconds, epoch)
            return value
        token = RedisLocks.new_token()
        lock_key = f"{self.namespace}:lock:{codec.variant}:{key}"
        try:
            found = await self._hit_or_lock(key, codec, lock_key, token)
        except REDIS_FAILURES as exc:
            self._redis_failed(exc)
            self.stats.redis_fallbacks += 1
            value, _ = await self._run(loader, codec)
            self._fill_l1(l1_key, value, seconds, epoch)
            return value
        if isinstance(found, tuple):
            self.stats.l2_hits += 1
            self._fill_l1(l1_key, found[0], found[1], epoch)
            return found[0]
        if not found:
            value, encoded = await self._run(loader, codec)
            await self._store_quietly(key, encoded, seconds, codec, epoch)
        else:
            try:
                assert self._locks is not None
                async with self._locks.kept(lock_key, token):
                    value, encoded = await self._run(loader, codec)
                await self._store_quietly(key, encoded, seconds, codec, epoch)
            finally:
                await self._unlock(lock_key, token)
        self._fill_l1(l1_key, value, seconds, epoch)
        return value

    async def _store_quietly(
        self, key: str, encoded: bytes, seconds: float, codec: Codec[Any], epoch: int
    ) -> None:
        """Write a loaded value unless it was invalidated meanwhile; Redis errors are counted."""
        if epoch != self._epoch:
            return
        try:
            await self._store(key, encoded, seconds, codec)
        except REDIS_FAILURES as exc:
            self._redis_failed(exc)

    async def _hit_or_lock(
        self, key: str, codec: Codec[Any], lock_key: str, token: str
    ) -> tuple[Any, float] | bool:
        """A value found in Redis, ``True`` once we hold the lock, ``False`` if we gave up."""
        assert self._redis is not None
        found = await self._read(key, codec)
        if found is not None:
            return found
        assert self._locks is not None
        deadline = self._clock() + self.lock_wait
        delay = 0.002
        waited = False
        while True:
            if await self._locks.acquire(lock_key, token):
                try:
                    found = await self._read(key, codec)
                except BaseException:
                    await self._unlock(lock_key, token)
                    raise
                if found is None:
                    return True
                await self._unlock(lock_key, token)
                return found
            if not waited:
                waited = True
                self.stats.lock_waits += 1
            if self._clock() >= deadline:
                self.stats.lock_timeouts += 1
                log.warning("cache key %r: lock wait timed out; computing without it", key)
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
            found = await self._read(key, codec)
            if found is not None:
                return found

    async def _read(self, key: str, codec: Codec[Any]) -> tuple[Any, float] | None:
        """``(value, seconds left)`` from Redis; an undecodable value counts as a miss."""
        assert self._redis is not None
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(self.value_key(key), codec.variant)
            pipe.pttl(self.value_key(key))
            raw, pttl = await pipe.execute()
        if raw is None:
            return None
        try:
            value = codec.loads(raw)
        except Exception as exc:
            self.stats.decode_errors += 1
            log.warning("cache key %r: dropping undecodable %s value: %s", key, codec.variant, exc)
            await self._redis.hdel(self.value_key(key), codec.variant)
            return None
        return value, (pttl / 1000 if pttl > 0 else self.ttl)

    async def _store(self, key: str, encoded: bytes, seconds: float, codec: Codec[Any]) -> None:
        assert self._write is not None
        milliseconds = max(1, int(min(seconds * 1000, _MAX_TTL_MS)))
        await self._write(keys=[self.value_key(key)], args=[codec.variant, encoded, milliseconds])

    async def _run(
        self, loader: Callable[[], Awaitable[Any]], codec: Codec[Any]
    ) -> tuple[Any, bytes]:
        """Run the loader; encoding its value here makes a value Redis could not hold
        fail the same way with or without Redis."""
        self.stats.loads += 1
        value = await awaited(loader)
        return value, codec.dumps(value)

    async def _unlock(self, lock_key: str, token: str) -> None:
        assert self._locks is not None
        try:
            await self._locks.release(lock_key, token)
        except REDIS_FAILURES as exc:
            self._redis_failed(exc)

    async def _listen(self) -> None:
        assert self._redis is not None
        delay = 0.05
        resubscribing = False
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                async for message in pubsub.listen():
                    kind, data = message["type"], message["data"]
                    if kind == "message":
                        self.stats.invalidations_received += 1
                        self._drop_local(data.decode() if isinstance(data, bytes) else str(data))
                    elif kind == "subscribe":
                        if resubscribing:
                            self._drop_all_local()
                        resubscribing = True
                        self.subscribed = True
                        self._listening.set()
                        delay = 0.05
            except REDIS_FAILURES as exc:
                self._redis_failed(exc)
            except Exception:
                log.exception("cache %s: invalidation listener failed; restarting", self.namespace)
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            self.subscribed = False
            resubscribing = True
            self._listening.set()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _drop_local(self, key: str) -> None:
        self._epoch += 1
        delete = self.l1.delete
        for variant in self._variants:
            delete((variant, key))

    def _drop_all_local(self) -> None:
        self._epoch += 1
        self.l1.clear()

    def _fill_l1(self, l1_key: tuple[str, str], value: Any, seconds: float, epoch: int) -> None:
        self._variants.add(l1_key[0])
        if epoch == self._epoch:
            self.l1.set(l1_key, value, ttl=self._l1_seconds(seconds))

    def _l1_seconds(self, seconds: float) -> float:
        return seconds if self.l1_ttl is None else min(seconds, self.l1_ttl)

    def _ttl(self, ttl: float | None) -> float:
        if ttl is None:
            return self.ttl
        if not ttl > 0:
            raise ValueError(f"ttl must be > 0 seconds, got {ttl!r}")
        return float(ttl)

    def _redis_failed(self, exc: BaseException) -> None:
        self.stats.redis_errors += 1
        if not self.degraded:
            log.warning(
                "cache %s: Redis failed (%s); serving from L1 and loaders", self.namespace, exc
            )
        self._redis_down_until = self._clock() + self.retry_after
