"""The token-bucket rule is written once and shared by the seed and the stores."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from shipshape import token_bucket_limiter
from shipshape.cli import app
from shipshape.scale.ratelimit import BucketState, refill, refill_and_take
from shipshape.stores import MemoryStore
from shipshape.testing import ManualClock

amounts = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@settings(deadline=None)
@given(tokens=amounts, elapsed=amounts, capacity=amounts, rate=amounts)
def test_refill_is_min_of_capacity_and_tokens_plus_elapsed_times_rate(
    tokens: float, elapsed: float, capacity: float, rate: float
) -> None:
    assert refill(tokens, elapsed, capacity, rate) == min(capacity, tokens + elapsed * rate)


@settings(deadline=None)
@given(tokens=amounts, elapsed=amounts, capacity=amounts, rate=amounts)
def test_refill_never_passes_capacity_nor_loses_tokens(
    tokens: float, elapsed: float, capacity: float, rate: float
) -> None:
    refilled = refill(tokens, elapsed, capacity, rate)

    assert refilled <= capacity
    assert refilled >= min(tokens, capacity)


def test_refill_and_take_spends_only_when_there_is_enough() -> None:
    assert refill_and_take(BucketState(0.5, 0.0), 0.25, 10, 2) == (BucketState(0.0, 0.25), True)
    assert refill_and_take(BucketState(0.5, 0.0), 0.1, 10, 2) == (BucketState(0.7, 0.1), False)


def test_refill_and_take_refuses_time_running_backwards() -> None:
    with pytest.raises(ValueError, match="time went backwards"):
        refill_and_take(BucketState(1, 5.0), 4.0, 10, 1)


timestamps = st.lists(
    st.floats(min_value=0, max_value=1000, allow_nan=False), min_size=1, max_size=60
).map(sorted)


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(min_value=0, max_value=20),
    rate=st.floats(min_value=0, max_value=50, allow_nan=False),
    times=timestamps,
)
def test_memory_store_on_a_manual_clock_decides_exactly_like_the_seed(
    capacity: int, rate: float, times: list[float]
) -> None:
    clock = ManualClock(0.0)
    store = MemoryStore(clock=clock)
    verdicts = []
    for moment in times:
        clock.now = moment
        allowed = store.take_nowait("client", capacity, rate).allowed
        verdicts.append("allowed" if allowed else "denied")

    assert verdicts == token_bucket_limiter(capacity, rate, times)


def test_async_take_is_the_same_decision_as_take_nowait() -> None:
    clock = ManualClock()
    first, second = MemoryStore(clock=clock), MemoryStore(clock=clock)
    for _ in range(4):
        clock.advance(0.3)
        assert asyncio.run(first.take("k", 3, 1.0)) == second.take_nowait("k", 3, 1.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_seed_rejects_a_timestamp_that_is_not_finite(bad: float) -> None:
    with pytest.raises(ValueError, match=r"timestamp #1 \(.*\) is not a finite number"):
        token_bucket_limiter(1, 1, [0, bad, 1])


@pytest.mark.parametrize(
    ("capacity", "rate"),
    [(math.nan, 1), (1, math.nan), (-1, 1), (1, -0.5), (math.inf, 1), (1, math.inf)],
)
def test_seed_rejects_a_negative_or_non_finite_capacity_or_rate(
    capacity: float, rate: float
) -> None:
    # An infinite rate times no time at all is NaN, which min() once read as a full bucket.
    with pytest.raises(ValueError, match="capacity and refill_rate must be finite numbers >= 0"):
        token_bucket_limiter(capacity, rate, [1, 1, 1])


@pytest.mark.parametrize(("capacity", "rate"), [(math.inf, 1), (1, math.inf), (1, math.nan)])
def test_refill_and_take_rejects_a_non_finite_capacity_or_rate(
    capacity: float, rate: float
) -> None:
    with pytest.raises(ValueError, match="capacity and refill_rate must be finite numbers >= 0"):
        refill_and_take(BucketState(0, 1.0), 1.0, capacity, rate)


@pytest.mark.parametrize("now", [math.nan, math.inf])
def test_refill_and_take_rejects_a_now_that_is_not_finite(now: float) -> None:
    with pytest.raises(ValueError, match=r"now \(.*\) is not a finite number"):
        refill_and_take(BucketState(0, 1.0), now, 10, 0)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["-c", "1", "-r", "inf"], "--refill-rate"),
        (["-c", "1", "-r", "1e400"], "--refill-rate"),
        (["-c", "inf", "-r", "1"], "--capacity"),
        (["-c", "1e400", "-r", "1"], "--capacity"),
    ],
)
def test_cli_refuses_a_capacity_or_rate_that_is_not_finite(options: list[str], named: str) -> None:
    result = CliRunner().invoke(
        app, ["ratelimit", "simulate", "-", *options, "--json"], input="[1, 1, 1]"
    )

    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    assert result.stderr.strip() == f"error: {named}: must be a finite number, got inf"
