"""What only the memory store does: bounded memory, an optional lock, no clock surprises."""

from __future__ import annotations

import asyncio
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipshape.scale.ratelimit import refill
from shipshape.stores import MemoryStore, RateLimitStore, decide
from shipshape.testing import ManualClock


def test_memory_store_satisfies_the_store_protocol() -> None:
    assert isinstance(MemoryStore(), RateLimitStore)


def test_buckets_that_refilled_completely_are_forgotten_when_the_dict_grows() -> None:
    clock = ManualClock()
    store = MemoryStore(clock=clock)
    for index in range(1024):
        store.take_nowait(f"old{index}", 10, 5.0)
    clock.advance(1.0)  # 1 token spent at 5/s: every old bucket is full again

    store.take_nowait("new", 10, 5.0)

    assert len(store) == 1


def test_buckets_still_refilling_are_kept() -> None:
    clock = ManualClock()
    store = MemoryStore(clock=clock)
    for index in range(1024):
        store.take_nowait(f"old{index}", 10, 0.5)
    clock.advance(1.0)  # 1 token spent at 0.5/s: half a token still missing

    store.take_nowait("new", 10, 0.5)

    assert len(store) == 1025
    assert store.take_nowait("old0", 10, 0.5).remaining == 8  # 9.5 - 1, not a fresh 10 - 1


def test_a_clock_stepping_back_refills_nothing() -> None:
    times = iter([100.0, 50.0, 50.5])
    store = MemoryStore(clock=lambda: next(times))

    store.take_nowait("k", 2, 1.0, cost=2)
    stepped_back = store.take_nowait("k", 2, 1.0)
    half_later = store.take_nowait("k", 2, 1.0)

    assert not stepped_back.allowed
    assert not half_later.allowed
    assert half_later.retry_after == pytest.approx(0.5)


def test_thread_safe_store_admits_exactly_capacity_across_threads() -> None:
    store = MemoryStore(thread_safe=True)
    admitted = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        admitted.append(sum(store.take_nowait("k", 5000, 0.0).allowed for _ in range(1000)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(admitted) == 5000


def test_close_forgets_every_bucket() -> None:
    store = MemoryStore()
    store.take_nowait("k", 1, 0.0)

    asyncio.run(store.aclose())

    assert len(store) == 0
    assert store.take_nowait("k", 1, 0.0).allowed


def test_manual_clock_refuses_to_go_backwards() -> None:
    clock = ManualClock(5.0)

    assert clock.advance(2.5) == 7.5
    with pytest.raises(ValueError, match="negative"):
        clock.advance(-1)


@settings(deadline=None)
@given(
    capacity=st.integers(min_value=0, max_value=50),
    rate=st.sampled_from([0.0, 0.5, 3.0, 1e6]),
    steps=st.lists(
        st.tuples(st.floats(min_value=0, max_value=5), st.integers(min_value=0, max_value=8)),
        max_size=30,
    ),
)
def test_fast_path_decisions_are_exactly_what_decide_says(
    capacity: int, rate: float, steps: list[tuple[float, int]]
) -> None:
    clock = ManualClock()
    store = MemoryStore(clock=clock)
    tokens: float = capacity
    last = clock.now
    for wait, cost in steps:
        clock.advance(wait)
        tokens, last = refill(tokens, clock.now - last, capacity, rate), clock.now
        allowed = tokens >= cost
        if allowed:
            tokens -= cost

        assert store.take_nowait("k", capacity, rate, cost) == decide(
            allowed, tokens, capacity, rate, cost
        )
