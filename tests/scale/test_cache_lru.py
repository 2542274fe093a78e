"""The L1: exact LRU order, size and TTL bounds, thread safety, and the seed on its core."""

from __future__ import annotations

import math
import threading
import warnings
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipshape.scale.cache import LRUCache, lru_cache_sim
from shipshape.testing import ManualClock


def test_hit_moves_key_to_most_recent_and_full_insert_evicts_least_recent() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.get("a") == 1
    cache.set("c", 3)
    assert cache.keys() == ["a", "c"]
    assert cache.get("b") is None
    assert cache.get("b", "missing") == "missing"


def test_set_of_existing_key_replaces_value_and_refreshes_recency() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("a", 10)
    cache.set("c", 3)
    assert cache.keys() == ["a", "c"]
    assert cache.get("a") == 10


def test_capacity_zero_stores_nothing() -> None:
    cache: LRUCache[str, int] = LRUCache(0)
    cache.set("a", 1)
    assert len(cache) == 0
    assert cache.get("a") is None


def test_a_capacity_beyond_a_machine_word_is_unbounded() -> None:
    cache: LRUCache[str, int] = LRUCache(10**20)
    cache.set("a", 1)
    assert cache.capacity == 10**20
    assert cache.get("a") == 1
    assert lru_cache_sim(2**64, ["a", "b", "a"]) == {"hits": 1, "misses": 2, "cache": ["b", "a"]}


@pytest.mark.parametrize("capacity", [-1, -100])
def test_negative_capacity_is_rejected(capacity: int) -> None:
    with pytest.raises(ValueError, match="capacity must be >= 0"):
        LRUCache(capacity)
    with pytest.raises(ValueError, match="capacity must be >= 0"):
        lru_cache_sim(capacity, ["a"])


@pytest.mark.parametrize("capacity", [1.5, "3", True])
def test_non_int_capacity_is_rejected(capacity: Any) -> None:
    with pytest.raises(TypeError, match="capacity must be an int"):
        LRUCache(capacity)


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), "10"])
def test_bad_ttl_is_rejected(ttl: Any) -> None:
    with pytest.raises(ValueError, match="ttl must be a positive number"):
        LRUCache(4, ttl=ttl)
    cache: LRUCache[str, int] = LRUCache(4)
    with pytest.raises(ValueError, match="ttl must be a positive number"):
        cache.set("a", 1, ttl=ttl)


def test_entries_expire_after_ttl_with_an_injected_clock() -> None:
    clock = ManualClock(100.0)
    cache: LRUCache[str, str] = LRUCache(4, ttl=10, clock=clock)
    cache.set("a", "A")
    cache.set("b", "B", ttl=30)
    clock.advance(9.999)
    assert cache.get("a") == "A"
    assert "a" in cache
    clock.advance(0.001)
    assert cache.get("a") is None
    assert "a" not in cache
    assert cache.get("b") == "B"
    assert cache.keys() == ["b"]
    clock.advance(20)
    assert cache.peek("b") is None
    assert cache.keys() == []


def test_expired_entry_is_dropped_on_read_and_by_purge() -> None:
    clock = ManualClock()
    cache: LRUCache[str, int] = LRUCache(10, ttl=1, clock=clock)
    for index in range(5):
        cache.set(f"k{index}", index)
    clock.advance(1)
    assert cache.get("k0") is None
    assert len(cache) == 4
    assert cache.purge_expired() == 4
    assert len(cache) == 0


def test_expired_key_is_a_miss_in_the_simulation_access() -> None:
    clock = ManualClock()
    cache: LRUCache[str, Any] = LRUCache(2, ttl=5, clock=clock)
    assert cache.access("a") is False
    assert cache.access("a") is True
    clock.advance(5)
    assert cache.access("a") is False
    assert cache.keys() == ["a"]


def test_default_clock_expires_entries_through_the_coarse_clock() -> None:
    cache: LRUCache[str, int] = LRUCache(4, ttl=0.05)
    cache.set("a", 1)
    assert cache.get("a") == 1
    pause = threading.Event()
    for _ in range(300):
        if cache.get("a") is None:
            break
        pause.wait(0.01)
    assert cache.get("a") is None
    assert len(cache) == 0


def test_delete_and_clear() -> None:
    cache: LRUCache[str, int] = LRUCache(3)
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.delete("a") is True
    assert cache.delete("a") is False
    assert cache.keys() == ["b"]
    cache.clear()
    assert len(cache) == 0


def test_seed_runs_on_the_lru_core_and_reports_recency_order() -> None:
    cache: LRUCache[str, None] = LRUCache(3)
    accesses = ["a", "b", "c", "a", "d", "b", "a"]
    hits = sum(cache.access(key) for key in accesses)
    result = lru_cache_sim(3, accesses)
    assert result == {"hits": hits, "misses": len(accesses) - hits, "cache": cache.keys()}
    assert result["cache"] == ["d", "b", "a"]


class ReferenceLRU:
    """The obvious model: a list ordered least to most recently used, plus expiry times."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: OrderedDict[int, tuple[int, float]] = OrderedDict()

    def get(self, key: int, now: float) -> int | None:
        if key not in self.items:
            return None
        value, expires = self.items[key]
        if expires <= now:
            del self.items[key]
            return None
        self.items.move_to_end(key)
        return value

    def set(self, key: int, value: int, expires: float) -> None:
        if self.capacity == 0:
            return
        if key in self.items:
            del self.items[key]
        elif len(self.items) >= self.capacity:
            self.items.popitem(last=False)
        self.items[key] = (value, expires)

    def delete(self, key: int) -> None:
        self.items.pop(key, None)

    def purge(self, now: float) -> None:
        for key in [key for key, (_, expires) in self.items.items() if expires <= now]:
            del self.items[key]

    def live_keys(self, now: float) -> list[int]:
        return [key for key, (_, expires) in self.items.items() if expires > now]


operations = st.lists(
    st.one_of(
        st.tuples(st.just("get"), st.integers(0, 9)),
        st.tuples(
            st.just("set"),
            st.integers(0, 9),
            st.integers(),
            st.sampled_from([None, 0.01, 0.015, 1, 5]),
        ),
        st.tuples(st.just("delete"), st.integers(0, 9)),
        st.tuples(st.just("tick"), st.sampled_from([0.004, 0.013, 0.5, 1, 3])),
        st.tuples(st.just("purge")),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(capacity=st.integers(0, 6), ops=operations)
def test_lru_matches_the_reference_model_and_never_exceeds_capacity(
    capacity: int, ops: list[tuple[Any, ...]]
) -> None:
    clock = ManualClock()
    cache: LRUCache[int, int] = LRUCache(capacity, clock=clock)
    model = ReferenceLRU(capacity)
    for op in ops:
        if op[0] == "get":
            assert cache.get(op[1]) == model.get(op[1], clock.now)
        elif op[0] == "set":
            _, key, value, ttl = op
            cache.set(key, value, ttl=ttl)
            model.set(key, value, clock.now + ttl if ttl else float("inf"))
        elif op[0] == "delete":
            cache.delete(op[1])
            model.delete(op[1])
        elif op[0] == "purge":
            # exact with an injected clock: every expired entry goes, no live one does
            cache.purge_expired()
            model.purge(clock.now)
            assert len(cache) == len(model.items)
            assert cache._filed == sum(map(len, cache._wheel.values()))
        else:
            clock.advance(op[1])
        assert len(cache) <= capacity
        assert cache.keys() == model.live_keys(clock.now)


@settings(max_examples=200, deadline=None)
@given(capacity=st.integers(0, 8), accesses=st.lists(st.integers(0, 12), max_size=60))
def test_simulation_size_never_exceeds_capacity(capacity: int, accesses: list[int]) -> None:
    result = lru_cache_sim(capacity, accesses)
    assert len(result["cache"]) <= capacity
    assert len(set(result["cache"])) == len(result["cache"])
    assert result["hits"] + result["misses"] == len(accesses)


def test_concurrent_hits_writes_and_deletes_keep_the_cache_consistent() -> None:
    cache: LRUCache[str, int] = LRUCache(64)
    keys = [f"k{index}" for index in range(100)]
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def reader() -> None:
        try:
            start.wait()
            for _ in range(200):
                for key in keys:
                    value = cache.get(key)
                    assert value is None or value == int(key[1:])
        except BaseException as exc:
            errors.append(exc)

    def writer() -> None:
        try:
            start.wait()
            for round_ in range(200):
                for key in keys[round_ % 2 :: 2]:
                    cache.set(key, int(key[1:]))
                    assert len(cache) <= 64
        except BaseException as exc:
            errors.append(exc)

    def deleter() -> None:
        try:
            start.wait()
            for _ in range(200):
                for key in keys[::3]:
                    cache.delete(key)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=target) for target in (reader, reader, writer, deleter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) <= 64
    assert len(cache.keys()) == len(set(cache.keys()))
    for key in keys[::3]:
        cache.delete(key)
    cache.get(keys[3])
    assert all(key not in cache for key in keys[::3])


def _wait_until(predicate: Any, seconds: float = 3.0) -> bool:
    pause = threading.Event()
    for _ in range(int(seconds / 0.01)):
        if predicate():
            return True
        pause.wait(0.01)
    return bool(predicate())


def test_expiry_thread_drops_expired_entries_without_any_read() -> None:
    # more entries in one 10 ms slot than the thread drops per hold of the lock
    cache: LRUCache[int, int] = LRUCache(20_000, ttl=0.05)
    for index in range(10_000):
        cache.set(index, index)
    cache.set(-1, -1, ttl=3600)
    assert _wait_until(lambda: len(cache) == 1)
    assert cache.keys() == [-1]
    assert cache.get(-1) == -1


def test_replacing_and_evicting_entries_keeps_the_expiry_index_bounded() -> None:
    clock = ManualClock()
    cache: LRUCache[int, int] = LRUCache(100, ttl=60, clock=clock)
    for round_ in range(200):
        for key in range(150):  # every set replaces or evicts an entry with a TTL
            cache.set(key, round_)
    assert len(cache) == 100
    # The wheel keeps stale items only until they outnumber live entries (+ slack).
    assert sum(map(len, cache._wheel.values())) == cache._filed <= 2 * 100 + 1024 + 1
    assert len(cache._expires) == 100
    clock.advance(60)
    assert cache.purge_expired() == 100
    assert len(cache) == 0


def test_purge_is_exact_inside_a_slot_holding_thousands_of_entries() -> None:
    clock = ManualClock(0.0)
    cache: LRUCache[int, int] = LRUCache(20_000, ttl=1.005, clock=clock)
    for index in range(10_000):  # all expire at 1.005, in the slot (1.00, 1.01]
        cache.set(index, index)
    results: list[int] = []

    def purge_at(now: float) -> None:
        clock.now = now
        results.append(cache.purge_expired())

    for now in (1.001, 1.005):
        worker = threading.Thread(target=purge_at, args=(now,), daemon=True)
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), f"purge_expired at {now} did not return"
    assert results == [0, 10_000]
    assert len(cache) == 0


def test_a_replaced_entry_expires_on_its_new_ttl_not_the_old_one() -> None:
    cache: LRUCache[str, int] = LRUCache(4, ttl=0.05)
    cache.set("a", 1)
    cache.set("a", 2, ttl=3600)
    cache.set("b", 3)
    assert _wait_until(lambda: "b" not in cache and len(cache) == 1)
    assert cache.get("a") == 2


def test_a_forked_child_keeps_expiring_entries() -> None:
    import multiprocessing

    cache: LRUCache[str, int] = LRUCache(4, ttl=60)
    cache.set("started", 1)  # the expiry thread runs in the parent before the fork

    def child(queue: Any) -> None:
        cache.set("short", 1, ttl=0.05)
        queue.put(_wait_until(lambda: len(cache) == 1) and cache.keys() == ["started"])

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=child, args=(queue,))
    with warnings.catch_warnings():  # Python 3.12+ warns about forking with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        process.start()
    try:
        assert queue.get(timeout=20) is True
    finally:
        process.join(20)
    assert process.exitcode == 0


class _Touchy:
    """A key that compares by identity until told to raise (all share one hash)."""

    explode = False

    def __hash__(self) -> int:
        return 1

    def __eq__(self, other: object) -> bool:
        if _Touchy.explode:
            raise RuntimeError("no comparing now")
        return self is other


def _str_keys(cache: LRUCache[Any, int]) -> list[str]:
    return [key for key in list(cache._box.keys()) if type(key) is str]


def test_a_key_that_cannot_be_compared_does_not_stop_expiry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    touchy: LRUCache[Any, int] = LRUCache(8)
    touchy.set(_Touchy(), 1, ttl=60)
    touchy.set(_Touchy(), 2, ttl=0.02)  # expiring it compares it with the first key
    touchy.set("x", 3, ttl=0.02)  # same slot, after the failing key
    _Touchy.explode = True
    try:
        other: LRUCache[str, int] = LRUCache(4, ttl=0.02)
        other.set("y", 1)
        assert _wait_until(lambda: "could not drop the expired entry" in caplog.text)
        # not `"x" in touchy._box`: the table may compare "x" with a _Touchy key (its
        # probe can meet theirs, depending on the string's per-process hash)
        assert _wait_until(lambda: "x" not in _str_keys(touchy) and len(other) == 0)
        assert touchy._filed == sum(map(len, touchy._wheel.values()))
    finally:
        _Touchy.explode = False


def test_membership_does_not_count_as_a_use() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.set("a", 1)
    cache.set("b", 2)
    assert "a" in cache
    assert cache.peek("a") == 1
    cache.set("c", 3)  # evicts the least recently used: still "a"
    assert cache.keys() == ["b", "c"]


def test_an_infinite_ttl_never_expires() -> None:
    cache: LRUCache[str, int] = LRUCache(2, ttl=math.inf)
    cache.set("a", 1)
    cache.set("b", 2, ttl=1e308)  # finite, but past what the wheel can file
    cache.access("c")
    assert cache.keys() == ["b", "c"]
    assert cache._expires == {}
    assert cache.purge_expired() == 0


def test_the_expiry_thread_keeps_no_dropped_cache_alive() -> None:
    import gc
    import weakref

    def swept_cache() -> weakref.ref[LRUCache[int, bytes]]:
        cache: LRUCache[int, bytes] = LRUCache(10, ttl=0.02)
        cache.set(1, b"x")
        assert _wait_until(lambda: len(cache) == 0)  # the thread has swept it
        return weakref.ref(cache)

    ref = swept_cache()
    assert _wait_until(lambda: gc.collect() >= 0 and ref() is None)
