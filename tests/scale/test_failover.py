"""The seed failover decisions and the safe planner."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shipshape import failover_decisions
from shipshape.scale.failover import ServerSnapshot, plan_failover


def snap(name: str, role: str, healthy: bool, **extra: Any) -> dict[str, Any]:
    return {"name": name, "role": role, "healthy": healthy, **extra}


def actions(plan: Any) -> dict[str, str]:
    return {action.server: action.action for action in plan.actions}


def test_seed_still_promotes_every_healthy_replica() -> None:
    servers = [
        snap("p", "primary", False),
        snap("r1", "replica", True),
        snap("r2", "replica", True),
    ]
    assert [d["action"] for d in failover_decisions(servers)] == ["drain", "promote", "promote"]
    assert "plan_failover" in (failover_decisions.__doc__ or "")


def test_healthy_primary_means_no_promotion() -> None:
    plan = plan_failover(
        [snap("p", "primary", True), snap("r1", "replica", True), snap("r2", "replica", False)],
        current_epoch=4,
    )
    assert plan.status == "ok"
    assert plan.epoch == 4
    assert plan.primary == "p"
    assert plan.promoted is None
    assert actions(plan) == {"p": "keep", "r1": "standby", "r2": "drain"}
    assert plan.alerts == []


def test_one_promotion_by_priority_then_lag_then_name() -> None:
    servers = [
        snap("p", "primary", False),
        snap("r-late", "replica", True, priority=1, lag=9.0),
        snap("r-best", "replica", True, priority=1, lag=0.5),
        snap("r-low", "replica", True, priority=5, lag=0.0),
        snap("r-sick", "replica", False, priority=0),
    ]
    plan = plan_failover(servers, current_epoch=2)
    assert plan.status == "failover"
    assert plan.promoted == plan.primary == "r-best"
    assert plan.epoch == 3
    assert actions(plan) == {
        "p": "drain",
        "r-late": "repoint",
        "r-best": "promote",
        "r-low": "repoint",
        "r-sick": "drain",
    }
    assert {a.follow for a in plan.actions if a.action == "repoint"} == {"r-best"}


def test_name_breaks_full_ties() -> None:
    plan = plan_failover([snap("b", "replica", True), snap("a", "replica", True)])
    assert plan.promoted == "a"
    assert plan.epoch == 1


def test_no_healthy_replica_is_degraded_with_an_alert() -> None:
    plan = plan_failover([snap("p", "primary", False), snap("r", "replica", False)], 7)
    assert plan.status == "degraded"
    assert plan.epoch == 7
    assert plan.primary is None
    assert actions(plan) == {"p": "drain", "r": "drain"}
    assert plan.alerts == ["no healthy primary and no healthy replica to promote"]


@pytest.mark.parametrize("max_lag", [-1.0, float("nan")])
def test_a_negative_or_nan_max_lag_is_refused(max_lag: float) -> None:
    servers = [{"name": "r", "role": "replica", "healthy": True, "lag": 30.0}]
    with pytest.raises(ValueError, match="max_lag must be >= 0 seconds"):
        plan_failover(servers, max_lag=max_lag)


def test_max_lag_refuses_to_promote_a_far_behind_replica() -> None:
    servers = [snap("p", "primary", False), snap("r", "replica", True, lag=30.0)]
    plan = plan_failover(servers, max_lag=5.0)
    assert plan.status == "degraded"
    assert "lags more than 5.0s (r)" in plan.alerts[0]
    assert plan_failover(servers, max_lag=60.0).promoted == "r"


def test_a_replica_with_an_infinite_lag_is_never_promoted_even_with_the_best_priority() -> None:
    servers = [
        snap("p", "primary", False),
        snap("lost", "replica", True, priority=1, lag=math.inf),
        snap("behind", "replica", True, priority=5, lag=3.0),
    ]
    for max_lag in (None, math.inf):
        plan = plan_failover(servers, max_lag=max_lag)
        assert plan.promoted == "behind"
        assert actions(plan) == {"p": "drain", "lost": "repoint", "behind": "promote"}


def test_only_infinite_lag_replicas_is_degraded_with_an_alert() -> None:
    servers = [
        snap("p", "primary", False),
        snap("lost", "replica", True, lag=math.inf),
        snap("far", "replica", True, lag=30.0),
    ]
    plan = plan_failover(servers[:2])
    assert plan.status == "degraded"
    assert plan.promoted is None
    assert plan.alerts == [
        "no healthy primary and every healthy replica has an unknown (infinite) lag (lost); "
        "not promoting"
    ]
    assert plan_failover(servers, max_lag=5.0).alerts == [
        "no healthy primary and every healthy replica lags more than 5.0s (far) or has an "
        "unknown (infinite) lag (lost); not promoting"
    ]


@pytest.mark.parametrize("healthy", ["false", "no", "off", "yes", 0, 1, None])
def test_planner_healthy_must_be_a_bool(healthy: object) -> None:
    # pydantic would coerce "false"/"off"/0 and "yes"/1; the seed refuses them, and so does this.
    with pytest.raises(ValidationError, match=r"healthy\n  must be true or false, not "):
        plan_failover([snap("p", "primary", healthy), snap("r", "replica", True)])  # type: ignore[arg-type]


def test_split_brain_keeps_the_highest_epoch_and_demotes_the_other() -> None:
    servers = [
        snap("old", "primary", True, epoch=3, priority=1),
        snap("new", "primary", True, epoch=4, priority=9),
        snap("r", "replica", True, following="old"),
    ]
    plan = plan_failover(servers)
    assert plan.status == "split_brain"
    assert plan.primary == "new"
    assert plan.epoch == 4
    assert plan.promoted is None
    assert actions(plan) == {"old": "demote", "new": "keep", "r": "repoint"}
    assert plan.action_of("old").follow == "new"
    assert "split brain" in plan.alerts[0]


def test_split_brain_with_equal_epochs_uses_priority() -> None:
    servers = [snap("x", "primary", True, priority=5), snap("y", "primary", True, priority=2)]
    plan = plan_failover(servers)
    assert actions(plan) == {"x": "demote", "y": "keep"}


def test_epoch_never_goes_below_one_already_seen() -> None:
    plan = plan_failover([snap("p", "primary", False, epoch=9), snap("r", "replica", True)], 2)
    assert plan.epoch == 10


def test_replica_following_someone_else_is_repointed() -> None:
    plan = plan_failover([snap("p", "primary", True), snap("r", "replica", True, following="gone")])
    assert plan.action_of("r").action == "repoint"
    assert plan.action_of("r").follow == "p"


def test_bad_snapshots_are_rejected_at_the_edge() -> None:
    with pytest.raises(ValidationError, match="role"):
        plan_failover([snap("p", "leader", True)])
    with pytest.raises(ValidationError, match="priority"):
        plan_failover([snap("p", "primary", True, priority=-1)])
    with pytest.raises(ValueError, match="duplicate server name"):
        plan_failover([snap("p", "primary", True), snap("p", "replica", True)])
    with pytest.raises(ValueError, match="current_epoch"):
        plan_failover([], current_epoch=-1)


def test_empty_fleet_is_degraded() -> None:
    plan = plan_failover([])
    assert plan.status == "degraded"
    assert plan.actions == []


fleets = st.lists(
    st.builds(
        ServerSnapshot,
        name=st.text("abcdef", min_size=1, max_size=3),
        role=st.sampled_from(["primary", "replica"]),
        healthy=st.booleans(),
        priority=st.integers(0, 5),
        lag=st.floats(0, 10) | st.just(math.inf),
        epoch=st.integers(0, 5),
    ),
    max_size=8,
    unique_by=lambda s: s.name,
)


@given(fleets, st.integers(0, 6))
def test_plan_invariants(servers: list[ServerSnapshot], epoch: int) -> None:
    plan = plan_failover(servers, epoch)
    kinds = [a.action for a in plan.actions]
    seen = max([epoch, *(s.epoch for s in servers)])
    assert kinds.count("promote") <= 1
    assert [a.server for a in plan.actions] == [s.name for s in servers]
    assert plan.epoch == seen + (1 if plan.promoted else 0)
    by_name = {s.name: s for s in servers}
    for action in plan.actions:
        assert (action.action == "drain") == (not by_name[action.server].healthy)
    healthy_primaries = [s for s in servers if s.role == "primary" and s.healthy]
    if healthy_primaries:
        assert plan.promoted is None
        assert kinds.count("keep") == 1
        assert kinds.count("demote") == len(healthy_primaries) - 1
    elif any(s.role == "replica" and s.healthy and s.lag < math.inf for s in servers):
        assert plan.status == "failover"
        promoted = by_name[plan.promoted or ""]
        candidates = [s for s in servers if s.role == "replica" and s.healthy and s.lag < math.inf]
        assert (promoted.priority, promoted.lag, promoted.name) == min(
            (s.priority, s.lag, s.name) for s in candidates
        )
    else:
        assert plan.status == "degraded"
        assert plan.alerts


@pytest.mark.parametrize("healthy", ["false", None, 1])
def test_seed_healthy_must_be_a_bool(healthy: object) -> None:
    with pytest.raises(TypeError, match="healthy must be true or false"):
        failover_decisions([snap("p", "primary", healthy), snap("r", "replica", True)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="healthy is missing"):
        failover_decisions([{"name": "p", "role": "primary"}])
