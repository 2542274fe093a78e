"""One contract, every store: the memory and Redis stores pass the same tests.

Time is the only difference between them: the memory store runs on a manual clock
that the test moves, the Redis store on the server's clock, which only sleeping
moves. ``Clocked.elapsed`` brackets how much time really passed, so a test states
its expectation once, exactly for memory and within that bracket for Redis.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipshape.scale.ratelimit import BucketState, refill_and_take
from shipshape.stores import MemoryStore, RateLimitStore
from shipshape.stores.redis import RedisStore
from shipshape.testing import ManualClock

pytestmark = pytest.mark.anyio


@dataclass
class Clocked:
    """A store and a way to let time pass for it."""

    store: RateLimitStore
    manual: ManualClock | None

    async def wait(self, seconds: float) -> tuple[float, float]:
        """Let ``seconds`` pass; return (at least, at most) the seconds the store saw."""
        if self.manual is not None:
            self.manual.advance(seconds)
            return seconds, seconds
        started = time.monotonic()
        await asyncio.sleep(seconds)
        return seconds, time.monotonic() - started + 0.005


@pytest.fixture(params=["memory", "redis"])
async def clocked(request: pytest.FixtureRequest) -> AsyncIterator[Clocked]:
    if request.param == "memory":
        clock = ManualClock(1000.0)
        store = MemoryStore(clock=clock)
        yield Clocked(store, clock)
        await store.aclose()
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    redis_store = RedisStore(url, prefix=prefix)
    yield Clocked(redis_store, None)
    await redis_store.aclose()


async def test_a_new_bucket_is_full_and_empties_after_capacity_requests(clocked: Clocked) -> None:
    decisions = [await clocked.store.take("a", 3, 0.0) for _ in range(5)]

    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    assert decisions[-1].retry_after == math.inf
    assert decisions[-1].reset_after == math.inf


async def test_buckets_are_independent_per_key(clocked: Clocked) -> None:
    assert (await clocked.store.take("a", 1, 0.0)).allowed
    assert not (await clocked.store.take("a", 1, 0.0)).allowed
    assert (await clocked.store.take("b", 1, 0.0)).allowed


async def test_cost_spends_several_tokens_and_is_refused_whole(clocked: Clocked) -> None:
    first = await clocked.store.take("a", 10, 0.0, cost=4)
    second = await clocked.store.take("a", 10, 0.0, cost=4)
    refused = await clocked.store.take("a", 10, 0.0, cost=4)
    last = await clocked.store.take("a", 10, 0.0, cost=2)

    assert (first.allowed, first.remaining) == (True, 6)
    assert (second.allowed, second.remaining) == (True, 2)
    assert (refused.allowed, refused.remaining) == (False, 2)
    assert (last.allowed, last.remaining) == (True, 0)


async def test_a_cost_above_capacity_never_passes(clocked: Clocked) -> None:
    decision = await clocked.store.take("a", 5, 1.0, cost=6)

    assert not decision.allowed
    assert decision.remaining == 5
    assert decision.retry_after == math.inf
    assert decision.reset_after == 0.0


async def test_zero_capacity_refuses_everything(clocked: Clocked) -> None:
    decision = await clocked.store.take("a", 0, 5.0)

    assert not decision.allowed
    assert decision.remaining == 0


async def test_zero_cost_always_passes_and_spends_nothing(clocked: Clocked) -> None:
    await clocked.store.take("a", 2, 0.0, cost=2)
    decision = await clocked.store.take("a", 2, 0.0, cost=0)

    assert decision.allowed
    assert decision.remaining == 0


async def test_tokens_come_back_at_the_refill_rate(clocked: Clocked) -> None:
    rate = 10.0
    started = time.monotonic()
    for _ in range(5):
        await clocked.store.take("a", 5, rate)
    low, high = await clocked.wait(0.25)

    allowed = 0
    while (await clocked.store.take("a", 5, rate)).allowed:
        allowed += 1

    if clocked.manual is None:  # real time also passed while draining and counting
        high = time.monotonic() - started + 0.005
    assert math.floor(rate * low) <= allowed <= math.floor(rate * high) + 1


async def test_refill_never_exceeds_capacity(clocked: Clocked) -> None:
    await clocked.store.take("a", 3, 10.0, cost=3)
    await clocked.wait(0.5)  # 5 tokens' worth of time, but the bucket holds 3

    decisions = [await clocked.store.take("a", 3, 10.0, cost=3) for _ in range(2)]

    assert [d.allowed for d in decisions] == [True, False]


async def test_retry_after_and_reset_after_follow_the_rate(clocked: Clocked) -> None:
    taken = await clocked.store.take("a", 4, 0.2, cost=4)
    refused = await clocked.store.take("a", 4, 0.2, cost=3)

    # Slow refill, so that real time passing between the calls barely shows.
    assert taken.allowed
    assert taken.retry_after == 0.0
    assert taken.reset_after == pytest.approx(20.0, abs=0.25)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(15.0, abs=0.25)
    assert refused.reset_after == pytest.approx(20.0, abs=0.25)


async def test_a_lowered_capacity_caps_a_fuller_bucket(clocked: Clocked) -> None:
    await clocked.store.take("a", 10, 0.0)
    decision = await clocked.store.take("a", 3, 0.0)

    assert decision.allowed
    assert decision.remaining == 2


async def test_ping_succeeds_on_a_reachable_store(clocked: Clocked) -> None:
    await clocked.store.ping()


async def test_concurrent_takes_on_one_key_admit_exactly_capacity(clocked: Clocked) -> None:
    decisions = await asyncio.gather(*(clocked.store.take("a", 25, 0.0) for _ in range(200)))

    assert sum(d.allowed for d in decisions) == 25


@pytest.mark.parametrize(
    ("capacity", "refill_rate", "cost"),
    [
        (2, 1.0, -5),
        (2, 1.0, math.nan),
        (2, 1.0, math.inf),
        (-1, 1.0, 1),
        (math.nan, 1.0, 1),
        (10**10, 1.0, 1),
        (2, math.nan, 1),
        (2, math.inf, 1),
        (2, -1.0, 1),
    ],
)
async def test_invalid_arguments_are_refused_alike_by_every_store(
    clocked: Clocked, capacity: float, refill_rate: float, cost: float
) -> None:
    message = (
        r"need 0 <= capacity <= 1000000000, 0 <= refill_rate <= 1000000000 and "
        rf"0 <= cost \(finite\); got {capacity}, {refill_rate}, {cost}$"
    )
    for _ in range(2):
        with pytest.raises(ValueError, match=message):
            await clocked.store.take("a", capacity, refill_rate, cost)  # type: ignore[arg-type]
    assert (await clocked.store.take("a", 2, 0.0)).remaining == 1


costs = st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=25)


def expected_without_refill(capacity: int, costs: list[int]) -> list[tuple[bool, int]]:
    expected = []
    state = BucketState(capacity, 0)
    for cost in costs:
        state, allowed = refill_and_take(state, 0, capacity, 0.0, cost)
        expected.append((allowed, int(state.tokens)))
    return expected


async def decisions_of(
    store: RateLimitStore, capacity: int, costs: list[int]
) -> list[tuple[bool, int]]:
    try:
        decisions = [await store.take("bucket", capacity, 0.0, cost) for cost in costs]
        return [(d.allowed, d.remaining) for d in decisions]
    finally:
        if isinstance(store, RedisStore):
            await store.client.delete(f"{store.prefix}bucket")
        await store.aclose()


@settings(max_examples=50, deadline=None)
@given(capacity=st.integers(min_value=0, max_value=12), costs=costs)
def test_without_refill_the_memory_store_follows_the_pure_rule(
    capacity: int, costs: list[int]
) -> None:
    decisions = asyncio.run(decisions_of(MemoryStore(), capacity, costs))

    assert decisions == expected_without_refill(capacity, costs)


@settings(max_examples=25, deadline=None)
@given(capacity=st.integers(min_value=0, max_value=12), costs=costs)
def test_without_refill_the_redis_store_follows_the_pure_rule(
    redis_url: str, capacity: int, costs: list[int]
) -> None:
    prefix = f"shipshape-test:{uuid.uuid4().hex}:"
    store = RedisStore(redis_url, prefix=prefix)

    decisions = asyncio.run(decisions_of(store, capacity, costs))

    assert decisions == expected_without_refill(capacity, costs)
