"""Token-bucket rate limiting: the pure rule every limiter and store applies."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal, NamedTuple

__all__ = ["BucketState", "refill", "refill_and_take", "token_bucket_limiter"]

Verdict = Literal["allowed", "denied"]


class BucketState(NamedTuple):
    tokens: float
    last_time: float


def refill(tokens: float, elapsed: float, capacity: float, refill_rate: float) -> float:
    """The tokens after ``elapsed`` seconds: ``min(capacity, tokens + elapsed * refill_rate)``.

    The one rule every limiter applies: the seed, the memory store's fast path, and
    (in integers, on the server's clock) the Redis script. It runs on every request, so
    it does not check its arguments: they are finite and ``>= 0`` (an infinite rate
    times no time at all is NaN, which this would read as a full bucket).
    """
    tokens = tokens + elapsed * refill_rate
    return tokens if tokens < capacity else capacity


def _check_bucket(capacity: float, refill_rate: float) -> None:
    """Raise ``ValueError`` unless ``capacity`` and ``refill_rate`` are finite and ``>= 0``."""
    # Written so that NaN fails too; infinity fails because inf * 0 s is NaN, a full bucket.
    if not (0 <= capacity < math.inf and 0 <= refill_rate < math.inf):
        raise ValueError(
            f"capacity and refill_rate must be finite numbers >= 0 (got capacity={capacity}, "
            f"refill_rate={refill_rate})"
        )


def refill_and_take(
    state: BucketState, now: float, capacity: float, refill_rate: float, cost: float = 1
) -> tuple[BucketState, bool]:
    """Refill for the time elapsed since ``state.last_time``, then spend ``cost`` if there.

    ``tokens = min(capacity, tokens + (now - last_time) * refill_rate)``; the request is
    allowed iff ``tokens >= cost``. Time never runs backwards: a ``now`` earlier than
    ``last_time`` raises ``ValueError``, and so does a ``now`` that is not finite or a
    ``capacity`` or ``refill_rate`` that is negative or not finite (NaN, infinity).
    """
    _check_bucket(capacity, refill_rate)
    if not math.isfinite(now):
        raise ValueError(f"now ({now}) is not a finite number")
    if now < state.last_time:
        raise ValueError(f"time went backwards: {now} < {state.last_time}")
    return _take(state, now, capacity, refill_rate, cost)


def _take(
    state: BucketState, now: float, capacity: float, refill_rate: float, cost: float = 1
) -> tuple[BucketState, bool]:
    """``refill_and_take`` for arguments already checked."""
    tokens = refill(state.tokens, now - state.last_time, capacity, refill_rate)
    if tokens >= cost:
        return BucketState(tokens - cost, now), True
    return BucketState(tokens, now), False


def token_bucket_limiter(
    capacity: float, refill_rate: float, timestamps: Iterable[float]
) -> list[Verdict]:
    """Decide each request at ``timestamps`` (seconds) with a token bucket.

    The bucket starts full and ``last_time`` starts at 0; each allowed request spends
    one token. Raises ``ValueError`` for a timestamp earlier than the previous one or
    not finite (NaN, infinity), or a capacity or refill rate that is negative or not
    finite.
    """
    _check_bucket(capacity, refill_rate)
    state = BucketState(capacity, 0)
    verdicts: list[Verdict] = []
    for index, timestamp in enumerate(timestamps):
        if not math.isfinite(timestamp):
            raise ValueError(f"timestamp #{index} ({timestamp}) is not a finite number")
        if timestamp < state.last_time:
            raise ValueError(
                f"timestamp #{index} ({timestamp}) is earlier than the previous one "
                f"({state.last_time})"
            )
        state, allowed = _take(state, timestamp, capacity, refill_rate)
        verdicts.append("allowed" if allowed else "denied")
    return verdicts
