"""The embedded ``memory://`` store: per-process state, nothing to run."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from shipshape.scale.ratelimit import BucketState, refill_and_take
from shipshape.stores.base import Decision

__all__ = ["MemoryStore"]


class MemoryStore:
    """Token buckets in a dict; the clock is injectable for tests.

    ``take_nowait`` is the synchronous fast path the ASGI layer calls directly; buckets
    that have refilled completely are dropped by a periodic sweep, so memory is bounded
    by the number of recently active keys.
    """

    def __init__(
        self,
        url: str = "memory://",
        *,
        clock: Callable[[], float] = time.monotonic,
        sweep_every: int = 10_000,
    ) -> None:
        self.url = url
        self._clock = clock
        self._buckets: dict[str, BucketState] = {}
        self._lock = threading.Lock()
        self._sweep_every = sweep_every
        self._until_sweep = sweep_every

    def __len__(self) -> int:
        return len(self._buckets)

    def take_nowait(self, key: str, capacity: int, refill_rate: float, cost: int = 1) -> Decision:
        with self._lock:
            now = self._clock()
            state = self._buckets.get(key)
            if state is None:
                state = BucketState(capacity, now)
            elif now < state.last_time:
                state = BucketState(state.tokens, now)
            state, allowed = refill_and_take(state, now, capacity, refill_rate, cost)
            self._buckets[key] = state
            self._until_sweep -= 1
            if self._until_sweep <= 0:
                self._sweep(now, capacity, refill_rate)
        return _decision(state.tokens, allowed, capacity, refill_rate, cost)

    async def take(self, key: str, capacity: int, refill_rate: float, cost: int = 1) -> Decision:
        return self.take_nowait(key, capacity, refill_rate, cost)

    def _sweep(self, now: float, capacity: int, refill_rate: float) -> None:
        self._until_sweep = self._sweep_every
        if refill_rate <= 0:
            return
        full_after = capacity / refill_rate
        stale = [key for key, state in self._buckets.items() if now - state.last_time >= full_after]
        for key in stale:
            del self._buckets[key]

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        self._buckets.clear()


def _decision(
    tokens: float, allowed: bool, capacity: int, refill_rate: float, cost: int
) -> Decision:
    if refill_rate > 0:
        retry_after = 0.0 if allowed else (cost - tokens) / refill_rate
        reset_after = (capacity - tokens) / refill_rate
    else:
        retry_after = 0.0 if allowed else math.inf
        reset_after = 0.0 if tokens >= capacity else math.inf
    return Decision(allowed, int(tokens), retry_after, reset_after)
