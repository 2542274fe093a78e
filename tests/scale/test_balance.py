"""Balancing strategies and the health-aware pool, through their public APIs."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipshape import round_robin_balance
from shipshape.scale.balance import (
    LeastRequest,
    Rendezvous,
    RoundRobin,
    SmoothWeightedRoundRobin,
    make_strategy,
)
from shipshape.scale.pool import Backend, HealthPolicy, NoBackendAvailable, Pool


def test_seed_round_robin_is_modulo() -> None:
    assert round_robin_balance(["a", "b", "c"], 7) == ["a", "b", "c", "a", "b", "c", "a"]
    assert round_robin_balance([], 0) == []
    assert round_robin_balance(["a"], 0) == []


def test_seed_round_robin_errors() -> None:
    with pytest.raises(ValueError, match="no servers"):
        round_robin_balance([], 1)
    with pytest.raises(ValueError, match=">= 0"):
        round_robin_balance(["a"], -1)


@given(st.lists(st.text(min_size=1), min_size=1, max_size=20, unique=True), st.integers(0, 500))
def test_round_robin_counts_differ_by_at_most_one(servers: list[str], requests: int) -> None:
    assignment = round_robin_balance(servers, requests)
    assert len(assignment) == requests
    counts = Counter(assignment)
    per_server = [counts[server] for server in servers]
    assert max(per_server) - min(per_server) <= 1
    assert assignment == [servers[i % len(servers)] for i in range(requests)]


def test_round_robin_strategy_cycles_over_eligible_backends() -> None:
    strategy = RoundRobin()
    weights = {"a": 1.0, "b": 1.0, "c": 1.0}
    assert [strategy.pick(weights, {}, None) for _ in range(4)] == ["a", "b", "c", "a"]


def test_smooth_weighted_is_nginx_sequence() -> None:
    # The sequence nginx documents for weights 5, 1, 1.
    strategy = SmoothWeightedRoundRobin()
    weights = {"a": 5.0, "b": 1.0, "c": 1.0}
    picks = "".join(strategy.pick(weights, {}, None) for _ in range(7))
    assert picks == "aabacaa"


@given(st.lists(st.integers(1, 12), min_size=1, max_size=8), st.integers(1, 4))
def test_smooth_weighted_gives_exact_share_per_cycle(weights: list[int], cycles: int) -> None:
    names = {f"b{i}": float(weight) for i, weight in enumerate(weights)}
    strategy = SmoothWeightedRoundRobin()
    cycle = sum(weights)
    for _ in range(cycles):
        counts = Counter(strategy.pick(names, {}, None) for _ in range(cycle))
        assert counts == {name: int(weight) for name, weight in names.items()}


def test_smooth_weighted_keeps_ratios_of_weights_whose_sum_overflows() -> None:
    strategy = SmoothWeightedRoundRobin()
    weights = {"a": 1e308, "b": 1e308, "c": 5e307}
    picks = "".join(strategy.pick(weights, {}, None) for _ in range(10))
    assert Counter(picks) == {"a": 4, "b": 4, "c": 2}


def test_backend_weights_must_be_finite() -> None:
    with pytest.raises(ValueError, match="finite number"):
        Backend(name="a", url="http://a", weight=float("inf"))


def test_smooth_weighted_forgets_removed_backends() -> None:
    strategy = SmoothWeightedRoundRobin()
    for _ in range(3):
        strategy.pick({"a": 3.0, "b": 1.0}, {}, None)
    counts = Counter(strategy.pick({"a": 1.0, "c": 1.0}, {}, None) for _ in range(10))
    assert counts == {"a": 5, "c": 5}


def test_least_request_prefers_the_less_loaded_of_two() -> None:
    strategy = LeastRequest(random.Random(7))
    weights = {"a": 1.0, "b": 1.0}
    assert {strategy.pick(weights, {"a": 5, "b": 0}, None) for _ in range(50)} == {"b"}
    # A lower weight (slow start) makes the same load look heavier.
    assert {strategy.pick({"a": 1.0, "b": 0.1}, {"a": 2, "b": 1}, None) for _ in range(50)} == {"a"}


def test_least_request_is_deterministic_with_a_seeded_rng() -> None:
    weights = dict.fromkeys("abcdef", 1.0)
    first = [LeastRequest(random.Random(3)).pick(weights, {}, None) for _ in range(3)]
    again = [LeastRequest(random.Random(3)).pick(weights, {}, None) for _ in range(3)]
    assert first == again


def test_least_request_never_picks_the_most_loaded_of_many() -> None:
    strategy = LeastRequest(random.Random(1))
    weights = dict.fromkeys("abcd", 1.0)
    load = {"a": 0, "b": 1, "c": 2, "d": 3}
    assert "d" not in {strategy.pick(weights, load, None) for _ in range(200)}


def test_sticky_removing_one_of_ten_moves_exactly_its_keys() -> None:
    hashing = Rendezvous()
    backends = {f"backend-{i}": 1.0 for i in range(10)}
    keys = [f"session-{n}" for n in range(100_000)]
    before = [hashing.owner(key, backends) for key in keys]
    removed = "backend-3"
    remaining = {name: w for name, w in backends.items() if name != removed}
    after = [hashing.owner(key, remaining) for key in keys]
    moved = {key for key, old, new in zip(keys, before, after, strict=True) if old != new}
    owned = {key for key, old in zip(keys, before, strict=True) if old == removed}
    assert moved == owned
    assert 9_000 < len(owned) < 11_000  # roughly a tenth each
    assert removed not in after


def test_sticky_is_stable_across_instances_and_order() -> None:
    backends = {"a": 1.0, "b": 1.0, "c": 1.0}
    reordered = {"c": 1.0, "a": 1.0, "b": 1.0}
    keys = [f"k{n}" for n in range(200)]
    assert [Rendezvous().owner(k, backends) for k in keys] == [
        Rendezvous().owner(k, reordered) for k in keys
    ]


def test_sticky_weights_shift_share() -> None:
    hashing = Rendezvous()
    counts = Counter(hashing.owner(f"k{n}", {"big": 3.0, "small": 1.0}) for n in range(20_000))
    assert 0.72 < counts["big"] / 20_000 < 0.78


def test_sticky_without_key_uses_fallback() -> None:
    strategy = make_strategy("sticky", random.Random(0))
    assert strategy.pick({"a": 1.0, "b": 1.0}, {"a": 9, "b": 0}, None) == "b"


def test_make_strategy_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="unknown strategy"):
        make_strategy("fastest")  # type: ignore[arg-type]


def _pool(policy: HealthPolicy | None = None, strategy: str = "round-robin") -> Pool:
    backends = [Backend(name=n, url=f"http://{n}.internal:8000") for n in ("a", "b", "c")]
    return Pool(backends, make_strategy(strategy), policy)  # type: ignore[arg-type]


def test_pool_ejects_after_consecutive_failures_and_readmits_after_cooldown() -> None:
    pool = _pool(HealthPolicy(max_failures=3, ejection_time=10, slow_start=0))
    for _ in range(2):
        pool.finish("a", ok=False, now=1.0)
    pool.finish("a", ok=True, now=1.0)  # a success resets the streak
    for _ in range(2):
        pool.finish("a", ok=False, now=2.0)
    assert "a" in pool.eligible(2.0)
    pool.finish("a", ok=False, now=2.0)
    assert "a" not in pool.eligible(2.0)
    assert {pool.choose(5.0).name for _ in range(10)} == {"b", "c"}
    assert "a" not in pool.eligible(11.99)
    assert "a" in pool.eligible(12.0)
    assert pool.status("a").ejections == 1


def test_pool_slow_start_ramps_weight_after_readmission() -> None:
    pool = _pool(
        HealthPolicy(max_failures=1, ejection_time=10, slow_start=20, slow_start_floor=0.1)
    )
    assert pool.effective_weight("a", 0.0) == 1.0  # initial backends start warm
    pool.finish("a", ok=False, now=0.0)
    assert pool.effective_weight("a", 10.0) == pytest.approx(0.1)
    assert pool.effective_weight("a", 15.0) == pytest.approx(0.25)
    assert pool.effective_weight("a", 20.0) == pytest.approx(0.5)
    assert pool.effective_weight("a", 30.0) == 1.0


def test_pool_slow_start_for_added_and_ready_again_backends() -> None:
    pool = _pool(HealthPolicy(slow_start=10))
    pool.add(Backend(name="d", url="http://d:1"), now=100.0)
    assert pool.effective_weight("d", 105.0) == pytest.approx(0.5)
    pool.set_ready("b", False, 100.0)
    assert "b" not in pool.eligible(100.0)
    pool.set_ready("b", True, 104.0)
    assert pool.eligible(106.0)["b"] == pytest.approx(0.2)


def test_pool_draining_takes_no_new_requests_but_finishes_in_flight() -> None:
    pool = _pool()
    chosen = [pool.choose(0.0).name for _ in range(3)]
    assert chosen == ["a", "b", "c"]
    pool.drain("a")
    assert not pool.drained("a")
    assert {pool.choose(0.0).name for _ in range(6)} == {"b", "c"}
    pool.finish("a", ok=True, now=1.0)
    assert pool.drained("a")
    pool.undrain("a", now=2.0)
    assert "a" in pool.eligible(2.0)


def test_pool_with_nothing_eligible_says_why() -> None:
    pool = _pool(HealthPolicy(max_failures=1))
    pool.drain("a")
    pool.set_ready("b", False, 0.0)
    pool.finish("c", ok=False, now=0.0)
    with pytest.raises(NoBackendAvailable, match="a draining, b not ready, c ejected"):
        pool.choose(1.0)


def test_pool_rejects_duplicates_and_empty() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Pool([Backend(name="a", url="http://x"), Backend(name="a", url="http://y")], RoundRobin())
    with pytest.raises(ValueError, match="at least one"):
        Pool([], RoundRobin())
    with pytest.raises(ValueError, match="http"):
        Backend(name="a", url="ftp://x")


def test_pool_weighted_uses_effective_weights() -> None:
    backends = [Backend(name="a", url="http://a", weight=3), Backend(name="b", url="http://b")]
    pool = Pool(backends, SmoothWeightedRoundRobin())
    picks = Counter(pool.choose(0.0).name for _ in range(8))
    assert picks == {"a": 6, "b": 2}


@given(
    st.lists(st.text(min_size=1, max_size=6), min_size=2, max_size=8, unique=True),
    st.lists(st.text(max_size=8), min_size=1, max_size=40),
    st.data(),
)
def test_sticky_removal_moves_only_the_removed_backends_keys(
    names: list[str], keys: list[str], data: st.DataObject
) -> None:
    hashing = Rendezvous()
    weights = {name: float(data.draw(st.integers(1, 4))) for name in names}
    removed = data.draw(st.sampled_from(names))
    remaining = {name: w for name, w in weights.items() if name != removed}
    for key in keys:
        before = hashing.owner(key, weights)
        after = hashing.owner(key, remaining)
        assert before in (after, removed)
