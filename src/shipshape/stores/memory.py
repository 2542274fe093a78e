"""The embedded ``memory://`` store: per-process token buckets, nothing to run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from shipshape.scale.ratelimit import refill
from shipshape.stores.base import LIMIT, Decision, check_take, decide

__all__ = ["MemoryStore"]

_MIN_SWEEP = 1024
_SHARED_DECISIONS = 256


class TakeNowait(Protocol):
    def __call__(self, key: str, capacity: int, refill_rate: float, cost: int = 1) -> Decision: ...


_new_decision = tuple.__new__
_INF = float("inf")


class MemoryStore:
    """Token buckets in a dict; the clock is injectable (``shipshape.testing.ManualClock``).

    ``take_nowait`` is the synchronous fast path the ASGI layer calls directly, with
    the pure core's rule (``scale.ratelimit.refill``). Thread-safety: by default a
    store is meant for one event-loop thread and takes no lock; pass
    ``thread_safe=True`` to share it between threads (each decision then holds a
    lock). Buckets that have refilled completely are dropped when the dict doubles,
    so memory is bounded by the number of recently active keys.
    """

    def __init__(
        self,
        url: str = "memory://",
        *,
        clock: Callable[[], float] = time.monotonic,
        thread_safe: bool = False,
    ) -> None:
        self.url = url
        self._clock = clock
        # key -> [tokens, last_time, capacity, refill_rate]; lists are updated in place.
        self._buckets: dict[str, list[float]] = {}
        self._sweep_at = _MIN_SWEEP
        take = self._fast_path()
        if thread_safe:
            lock = threading.Lock()
            unlocked = take

            def take(key: str, capacity: int, refill_rate: float, cost: int = 1) -> Decision:
                with lock:
                    return unlocked(key, capacity, refill_rate, cost)

        self.take_nowait: TakeNowait = take
        """Decide now: spend ``cost`` tokens from ``key``'s bucket if it has them.

        An attribute rather than a method: a closure over locals is the cheapest call
        Python has, and this runs on every request.
        """

    def __len__(self) -> int:
        return len(self._buckets)

    def _fast_path(self) -> TakeNowait:
        clock, buckets, add = self._clock, self._buckets, self._add
        get = buckets.get
        # A request that finds its bucket full always gets the same (immutable)
        # decision for its policy: most clients are below their limit, so most
        # decisions are shared rather than built.
        from_full: dict[tuple[int, float, int], Decision] = {}
        from_full_get = from_full.get

        def take_nowait(key: str, capacity: int, refill_rate: float, cost: int = 1) -> Decision:
            # check_take's rule, inlined on the hot path; it raises the shared message.
            if not (0 <= capacity <= LIMIT and 0 <= refill_rate <= LIMIT and 0 <= cost < _INF):
                check_take(capacity, refill_rate, cost)
            now = clock()
            bucket = get(key)
            if bucket is None:
                tokens: float = capacity
                bucket = add(key, capacity, refill_rate, now)
            else:
                elapsed = now - bucket[1]
                tokens = refill(bucket[0], elapsed if elapsed > 0 else 0.0, capacity, refill_rate)
                bucket[1] = now
            if tokens >= cost:
                if tokens == capacity:
                    bucket[0] = capacity - cost
                    policy = (capacity, refill_rate, cost)
                    decision = from_full_get(policy)
                    if decision is None:
                        decision = decide(True, capacity - cost, capacity, refill_rate, cost)
                        if len(from_full) < _SHARED_DECISIONS:
                            from_full[policy] = decision
                    return decision
                bucket[0] = tokens = tokens - cost
                if refill_rate > 0:  # the common case, inlined: decide(True, ...) exactly
                    return _new_decision(
                        Decision, (True, int(tokens), 0.0, (capacity - tokens) / refill_rate)
                    )
                return decide(True, tokens, capacity, refill_rate, cost)
            bucket[0] = tokens
            return decide(False, tokens, capacity, refill_rate, cost)

        return take_nowait

    async def take(self, key: str, capacity: int, refill_rate: float, cost: int = 1) -> Decision:
        return self.take_nowait(key, capacity, refill_rate, cost)

    def _add(self, key: str, capacity: float, refill_rate: float, now: float) -> list[float]:
        if len(self._buckets) >= self._sweep_at:
            self._sweep(now)
            self._sweep_at = max(_MIN_SWEEP, 2 * len(self._buckets))
        bucket = self._buckets[key] = [capacity, now, capacity, refill_rate]
        return bucket

    def _sweep(self, now: float) -> None:
        """Forget buckets that are full again: a full bucket is the same as none."""
        full = [
            key
            for key, (tokens, last, capacity, rate) in self._buckets.items()
            if refill(tokens, now - last, capacity, rate) >= capacity
        ]
        for key in full:
            del self._buckets[key]

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        self._buckets.clear()
