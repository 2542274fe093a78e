"""The scale seed contract: round_robin_balance, lru_cache_sim, token_bucket_limiter,
failover_decisions (issue 2, exactly as specified)."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipshape import (
    failover_decisions,
    lru_cache_sim,
    round_robin_balance,
    token_bucket_limiter,
)

# No deadlines and no too-slow health check: the suite runs on small, shared machines.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- round_robin_balance -------------------------------------------------------------


def test_round_robin_cycles_through_servers_in_order() -> None:
    assert round_robin_balance(["a", "b", "c"], 7) == ["a", "b", "c", "a", "b", "c", "a"]


def test_round_robin_fewer_requests_than_servers() -> None:
    assert round_robin_balance(["a", "b", "c"], 2) == ["a", "b"]


def test_round_robin_single_server_gets_everything() -> None:
    assert round_robin_balance(["only"], 3) == ["only", "only", "only"]


def test_round_robin_zero_requests() -> None:
    assert round_robin_balance(["a", "b"], 0) == []


def test_round_robin_no_servers_and_no_requests_is_empty() -> None:
    assert round_robin_balance([], 0) == []


def test_round_robin_no_servers_with_requests_raises() -> None:
    with pytest.raises(ValueError, match="server"):
        round_robin_balance([], 1)


@pytest.mark.parametrize("servers", [["a"], []])
def test_round_robin_negative_count_raises(servers: list[str]) -> None:
    with pytest.raises(ValueError, match="-1"):
        round_robin_balance(servers, -1)


def test_round_robin_duplicate_servers_are_positions() -> None:
    assert round_robin_balance(["a", "a", "b"], 4) == ["a", "a", "b", "a"]


def test_round_robin_does_not_mutate_servers() -> None:
    servers = ["a", "b"]
    round_robin_balance(servers, 5)
    assert servers == ["a", "b"]


@relaxed
@given(st.lists(st.text(max_size=3), min_size=1, max_size=10, unique=True), st.integers(0, 500))
def test_round_robin_counts_differ_by_at_most_one(servers: list[str], requests: int) -> None:
    assignment = round_robin_balance(servers, requests)
    assert len(assignment) == requests
    assert assignment == [servers[i % len(servers)] for i in range(requests)]
    counts = Counter(assignment)
    per_server = [counts[server] for server in servers]
    assert max(per_server) - min(per_server) <= 1
    assert sum(per_server) == requests


# --- lru_cache_sim -------------------------------------------------------------------


def reference_lru(capacity: int, accesses: list[Any]) -> dict[str, Any]:
    """The course's list algorithm: a hit moves the key to the end; a miss evicts the
    first key when full, then appends. Capacity 0 caches nothing."""
    cache: list[Any] = []
    hits = misses = 0
    for key in accesses:
        if key in cache:
            hits += 1
            cache.remove(key)
            cache.append(key)
        else:
            misses += 1
            if capacity == 0:
                continue
            if len(cache) >= capacity:
                cache.pop(0)
            cache.append(key)
    return {"hits": hits, "misses": misses, "cache": cache}


def test_lru_hit_moves_key_to_the_end_and_miss_evicts_the_first() -> None:
    # a miss, b miss, a hit -> [b, a]; c miss evicts b -> [a, c]; b miss evicts a -> [c, b]
    assert lru_cache_sim(2, ["a", "b", "a", "c", "b"]) == {
        "hits": 1,
        "misses": 4,
        "cache": ["c", "b"],
    }


def test_lru_cache_is_least_to_most_recently_used() -> None:
    result = lru_cache_sim(3, ["a", "b", "c", "a"])
    assert result == {"hits": 1, "misses": 3, "cache": ["b", "c", "a"]}


def test_lru_repeated_key_is_one_miss_then_hits() -> None:
    assert lru_cache_sim(1, ["k"] * 4) == {"hits": 3, "misses": 1, "cache": ["k"]}


def test_lru_no_accesses() -> None:
    assert lru_cache_sim(3, []) == {"hits": 0, "misses": 0, "cache": []}


def test_lru_capacity_zero_caches_nothing() -> None:
    assert lru_cache_sim(0, ["a", "a", "b"]) == {"hits": 0, "misses": 3, "cache": []}


def test_lru_negative_capacity_raises() -> None:
    with pytest.raises(ValueError, match="capacity"):
        lru_cache_sim(-1, ["a"])


def test_lru_number_keys() -> None:
    assert lru_cache_sim(2, [1, 2, 1, 3]) == {"hits": 1, "misses": 3, "cache": [1, 3]}


def test_lru_does_not_mutate_accesses() -> None:
    accesses = ["a", "b", "a"]
    lru_cache_sim(1, accesses)
    assert accesses == ["a", "b", "a"]


def test_lru_million_accesses_at_capacity_hundred_thousand() -> None:
    # A cyclic scan one and a half times the capacity: LRU's worst case, every access misses.
    accesses = [i % 150_000 for i in range(1_000_000)]
    result = lru_cache_sim(100_000, accesses)
    assert (result["hits"], result["misses"]) == (0, 1_000_000)
    assert result["cache"] == [i % 150_000 for i in range(900_000, 1_000_000)]


@settings(relaxed, max_examples=300)
@given(st.integers(0, 6), st.lists(st.integers(0, 9), max_size=60))
def test_lru_matches_the_list_reference(capacity: int, accesses: list[int]) -> None:
    result = lru_cache_sim(capacity, accesses)
    assert result == reference_lru(capacity, accesses)
    assert len(result["cache"]) <= capacity
    assert len(result["cache"]) == min(capacity, len(set(accesses)))
    assert result["hits"] + result["misses"] == len(accesses)


@relaxed
@given(st.integers(0, 5), st.lists(st.sampled_from("abcdefg"), max_size=40))
def test_lru_size_never_exceeds_capacity(capacity: int, accesses: list[str]) -> None:
    for end in range(len(accesses) + 1):
        assert len(lru_cache_sim(capacity, accesses[:end])["cache"]) <= capacity


# --- token_bucket_limiter ------------------------------------------------------------


def reference_bucket(capacity: float, refill_rate: float, timestamps: list[float]) -> list[str]:
    tokens, last_time = float(capacity), 0.0
    verdicts = []
    for t in timestamps:
        tokens = min(capacity, tokens + (t - last_time) * refill_rate)
        last_time = t
        if tokens >= 1:
            tokens -= 1
            verdicts.append("allowed")
        else:
            verdicts.append("denied")
    return verdicts


def test_bucket_faq_burst_of_three_at_capacity_two() -> None:
    assert token_bucket_limiter(2, 1, [5, 5, 5]) == ["allowed", "allowed", "denied"]


def test_bucket_starts_full_at_time_zero() -> None:
    assert token_bucket_limiter(3, 0, [0, 0, 0, 0]) == ["allowed"] * 3 + ["denied"]


def test_bucket_refill_is_capped_at_capacity() -> None:
    # Long idle time refills to capacity, never beyond it.
    assert token_bucket_limiter(2, 10, [100, 100, 100]) == ["allowed", "allowed", "denied"]


def test_bucket_refills_with_elapsed_time() -> None:
    # 0: 1 -> 0 allowed; 0.5: 0.5 denied; 1.0: 0.5 + 0.5 = 1 allowed
    assert token_bucket_limiter(1, 1, [0, 0.5, 1.0]) == ["allowed", "denied", "allowed"]


def test_bucket_fractional_refill_rate() -> None:
    assert token_bucket_limiter(1, 0.5, [0, 1, 2, 2]) == ["allowed", "denied", "allowed", "denied"]


def test_bucket_denied_requests_spend_nothing() -> None:
    # 1 token at rate 1/4: t=0 allowed (0 left); t=1..3 denied while it refills; t=4 allowed.
    verdicts = token_bucket_limiter(1, 0.25, [0, 1, 2, 3, 4])
    assert verdicts == ["allowed", "denied", "denied", "denied", "allowed"]


def test_bucket_capacity_below_one_never_admits() -> None:
    assert token_bucket_limiter(0, 5, [0, 1, 2]) == ["denied"] * 3
    assert token_bucket_limiter(0.5, 5, [0, 1, 2]) == ["denied"] * 3


def test_bucket_no_requests() -> None:
    assert token_bucket_limiter(5, 1, []) == []


def test_bucket_equal_timestamps_are_allowed_in_sequence() -> None:
    assert token_bucket_limiter(1, 1, [1, 1, 2]) == ["allowed", "denied", "allowed"]


def test_bucket_timestamp_earlier_than_the_previous_raises() -> None:
    with pytest.raises(ValueError, match=r"1\.5"):
        token_bucket_limiter(5, 1, [1, 2, 1.5])


def test_bucket_first_timestamp_before_last_time_zero_raises() -> None:
    # last_time starts at 0, so a negative first timestamp is a step back in time.
    with pytest.raises(ValueError, match="-1"):
        token_bucket_limiter(5, 1, [-1])


@pytest.mark.parametrize(
    "timestamps",
    [[0, float("nan"), 1, 1, 1], [0, float("inf"), float("inf"), float("inf")]],
    ids=["nan", "inf"],
)
def test_bucket_non_finite_timestamp_raises(timestamps: list[float]) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        token_bucket_limiter(1, 1, timestamps)


@pytest.mark.parametrize(("capacity", "rate"), [(-1, 1), (1, -1)])
def test_bucket_negative_capacity_or_rate_raises(capacity: float, rate: float) -> None:
    with pytest.raises(ValueError, match=r"capacity|refill"):
        token_bucket_limiter(capacity, rate, [0])


def test_bucket_nan_refill_rate_raises() -> None:
    with pytest.raises(ValueError, match="refill"):
        token_bucket_limiter(1, float("nan"), [0, 0, 0, 0])


def test_bucket_does_not_mutate_timestamps() -> None:
    timestamps = [0.0, 1.0]
    token_bucket_limiter(1, 1, timestamps)
    assert timestamps == [0.0, 1.0]


# Multiples of 1/8 s and 1/4 token/s keep the arithmetic exact, so the bound is exact too.
_eighths = st.integers(0, 400).map(lambda n: n / 8)
_steps = st.lists(_eighths, max_size=40).map(
    lambda gaps: [sum(gaps[: i + 1]) for i in range(len(gaps))]
)


@settings(relaxed, max_examples=300)
@given(st.integers(0, 6), st.integers(0, 12).map(lambda n: n / 4), _steps)
def test_bucket_never_admits_more_than_capacity_plus_refill(
    capacity: int, refill_rate: float, timestamps: list[float]
) -> None:
    verdicts = token_bucket_limiter(capacity, refill_rate, timestamps)
    assert len(verdicts) == len(timestamps)
    allowed = [v == "allowed" for v in verdicts]
    for first in range(len(timestamps)):
        for last in range(first, len(timestamps)):
            elapsed = timestamps[last] - timestamps[first]
            assert sum(allowed[first : last + 1]) <= capacity + refill_rate * elapsed
    for last in range(len(timestamps)):
        # The bucket starts full at last_time 0: from time 0 the budget is the same.
        assert sum(allowed[: last + 1]) <= capacity + refill_rate * timestamps[last]


@settings(relaxed, max_examples=300)
@given(
    st.floats(0, 20, allow_nan=False),
    st.floats(0, 50, allow_nan=False),
    st.lists(st.floats(0, 10, allow_nan=False), max_size=40).map(sorted),
)
def test_bucket_matches_the_formula(
    capacity: float, refill_rate: float, timestamps: list[float]
) -> None:
    assert token_bucket_limiter(capacity, refill_rate, timestamps) == reference_bucket(
        capacity, refill_rate, timestamps
    )


# --- failover_decisions --------------------------------------------------------------


def server(name: str, role: str, healthy: bool) -> dict[str, Any]:
    return {"name": name, "role": role, "healthy": healthy}


def test_failover_primary_down_promotes_and_drains() -> None:
    servers = [
        server("db-1", "primary", False),
        server("db-2", "replica", True),
        server("db-3", "replica", False),
    ]
    assert failover_decisions(servers) == [
        {"server": "db-1", "action": "drain"},
        {"server": "db-2", "action": "promote"},
        {"server": "db-3", "action": "drain"},
    ]


def test_failover_all_healthy_keeps_primary_and_replicas_stand_by() -> None:
    servers = [server("db-1", "primary", True), server("db-2", "replica", True)]
    assert failover_decisions(servers) == [
        {"server": "db-1", "action": "keep"},
        {"server": "db-2", "action": "standby"},
    ]


def test_failover_promotes_every_healthy_replica() -> None:
    # The documented seed behaviour: with a primary down, *every* healthy replica is
    # promoted (the safe single-promotion planner is separate).
    servers = [server("p", "primary", False)] + [server(f"r{i}", "replica", True) for i in range(3)]
    actions = [d["action"] for d in failover_decisions(servers)]
    assert actions == ["drain", "promote", "promote", "promote"]


def test_failover_any_primary_down_anywhere_in_the_list_counts() -> None:
    servers = [
        server("r1", "replica", True),
        server("p1", "primary", True),
        server("p2", "primary", False),
    ]
    assert [d["action"] for d in failover_decisions(servers)] == ["promote", "keep", "drain"]


def test_failover_unhealthy_replica_is_drained_even_with_healthy_primary() -> None:
    servers = [server("p", "primary", True), server("r", "replica", False)]
    assert [d["action"] for d in failover_decisions(servers)] == ["keep", "drain"]


def test_failover_no_servers() -> None:
    assert failover_decisions([]) == []


def test_failover_keeps_input_order_and_exact_keys() -> None:
    servers = [server(name, "replica", True) for name in "zyx"]
    decisions = failover_decisions(servers)
    assert [d["server"] for d in decisions] == ["z", "y", "x"]
    assert all(set(d) == {"server", "action"} for d in decisions)


@pytest.mark.parametrize(
    "bad", [{"name": "x", "role": "leader", "healthy": True}, {"name": "x", "healthy": True}]
)
def test_failover_unknown_role_raises(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="role"):
        failover_decisions([server("p", "primary", True), bad])


@pytest.mark.parametrize(
    "primary",
    [
        {"name": "p", "role": "primary", "healthy": "false"},
        {"name": "p", "role": "primary", "healthy": None},
        {"name": "p", "role": "primary"},
    ],
    ids=["string", "null", "missing"],
)
def test_failover_healthy_must_be_a_bool(primary: dict[str, Any]) -> None:
    with pytest.raises((TypeError, ValueError), match="healthy"):
        failover_decisions([primary, server("r", "replica", True)])


def test_failover_does_not_mutate_servers() -> None:
    servers = [server("p", "primary", False), server("r", "replica", True)]
    before = copy.deepcopy(servers)
    failover_decisions(servers)
    assert servers == before


def course_pick_action(role: str, healthy: bool, primary_down: bool) -> str:
    if role == "primary" and not healthy:
        return "drain"
    if role == "replica" and healthy and primary_down:
        return "promote"
    if role == "replica" and not healthy:
        return "drain"
    return "keep" if role == "primary" else "standby"


@relaxed
@given(st.lists(st.tuples(st.sampled_from(["primary", "replica"]), st.booleans()), max_size=12))
def test_failover_matches_the_course_rules(fleet: list[tuple[str, bool]]) -> None:
    servers = [server(f"s{i}", role, healthy) for i, (role, healthy) in enumerate(fleet)]
    primary_down = any(role == "primary" and not healthy for role, healthy in fleet)
    assert failover_decisions(servers) == [
        {"server": f"s{i}", "action": course_pick_action(role, healthy, primary_down)}
        for i, (role, healthy) in enumerate(fleet)
    ]
