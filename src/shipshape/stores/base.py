"""The store interface: where shared state lives, chosen by URL."""

from __future__ import annotations

import math
from typing import NamedTuple, Protocol, runtime_checkable

__all__ = [
    "LIMIT",
    "Decision",
    "RateLimitStore",
    "StoreError",
    "StoreUnavailable",
    "check_take",
    "decide",
]

LIMIT = 1_000_000_000
"""The largest ``capacity`` and ``refill_rate`` (per second) a store takes (the Redis
store counts micro-tokens in 64-bit integers)."""


class StoreError(Exception):
    """A store could not be configured (bad URL, missing driver) or used."""


class StoreUnavailable(StoreError):
    """A store could not be reached; callers decide to fail open or closed."""


class Decision(NamedTuple):
    """One rate-limit decision (an immutable tuple, cheap to build on the hot path).

    ``remaining`` is the whole tokens left, ``retry_after`` the seconds until the same
    request could be allowed (0 when allowed; ``inf`` when it never can: no refill, or
    a cost above capacity), ``reset_after`` the seconds until the bucket is full again
    (``inf`` when it never refills).
    """

    allowed: bool
    remaining: int
    retry_after: float
    reset_after: float


_new_decision = tuple.__new__


def check_take(capacity: float, refill_rate: float, cost: float) -> None:
    """``ValueError`` unless ``0 <= capacity <= LIMIT``, ``0 <= refill_rate <= LIMIT``
    and ``0 <= cost < inf``: every store checks its arguments with this rule (NaN fails
    every comparison, so it is refused too) before deciding anything."""
    if not (0 <= capacity <= LIMIT and 0 <= refill_rate <= LIMIT and 0 <= cost < math.inf):
        raise ValueError(
            f"need 0 <= capacity <= {LIMIT}, 0 <= refill_rate <= {LIMIT} and "
            f"0 <= cost (finite); got {capacity}, {refill_rate}, {cost}"
        )


def decide(
    allowed: bool, tokens: float, capacity: float, refill_rate: float, cost: float
) -> Decision:
    """The ``Decision`` for a bucket left with ``tokens`` after taking (or not) ``cost``."""
    if refill_rate > 0:
        if allowed:
            return _new_decision(
                Decision, (True, int(tokens), 0.0, (capacity - tokens) / refill_rate)
            )
        retry_after = (cost - tokens) / refill_rate if cost <= capacity else math.inf
        return _new_decision(
            Decision, (False, int(tokens), retry_after, (capacity - tokens) / refill_rate)
        )
    reset_after = 0.0 if tokens >= capacity else math.inf
    return _new_decision(
        Decision, (allowed, int(tokens), 0.0 if allowed else math.inf, reset_after)
    )


@runtime_checkable
class RateLimitStore(Protocol):
    """Token buckets keyed by string; ``take`` is atomic per key.

    Stores that can decide without I/O (``MemoryStore``) also offer a synchronous
    ``take_nowait`` with the same arguments and result.
    """

    url: str

    async def take(
        self, key: str, capacity: int, refill_rate: float, cost: int = 1
    ) -> Decision: ...

    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` when the store cannot be reached."""

    async def aclose(self) -> None: ...
