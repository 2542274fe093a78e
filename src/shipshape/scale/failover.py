"""Failover for a primary/replica fleet: the course's seed and a safe planner.

``plan_failover`` is pure: snapshots in, one plan out. It promotes at most one
replica per epoch, fences with a monotonically increasing epoch, resolves split
brain, and says so when there is nothing safe to do.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "FailoverDecision",
    "FailoverPlan",
    "ServerAction",
    "ServerSnapshot",
    "failover_decisions",
    "plan_failover",
]

Action = Literal["keep", "drain", "promote", "standby"]
ROLES = ("primary", "replica")


class FailoverDecision(TypedDict):
    server: Any
    action: Action


def _role_and_health(index: int, server: Mapping[str, Any]) -> tuple[str, bool]:
    if not isinstance(server, Mapping):
        raise TypeError(f"server #{index} must be a mapping, not {type(server).__name__}")
    role = server.get("role")
    if role not in ROLES:
        raise ValueError(f"server #{index} ({server.get('name')!r}): unknown role {role!r}")
    if "healthy" not in server:
        raise ValueError(f"server #{index} ({server.get('name')!r}): healthy is missing")
    healthy = server["healthy"]
    if not isinstance(healthy, bool):
        raise TypeError(
            f"server #{index} ({server.get('name')!r}): healthy must be true or false, "
            f"not {healthy!r}"
        )
    return str(role), healthy


def failover_decisions(servers: Sequence[Mapping[str, Any]]) -> list[FailoverDecision]:
    """The course's per-server actions, in input order.

    Unhealthy primary: ``drain``; healthy primary: ``keep``; unhealthy replica:
    ``drain``; healthy replica: ``promote`` if any primary is unhealthy, else
    ``standby``. Raises ``ValueError`` for an unknown role or a missing
    ``healthy``, ``TypeError`` when ``healthy`` is not a bool.

    Unsafe on a real cluster: when a primary is down this promotes *every*
    healthy replica (split brain), and it has no epoch to fence the old primary.
    Use :func:`plan_failover` (``shipshape failover plan``) as the safe planner:
    at most one promotion per epoch, fencing, split-brain resolution.
    """
    checked = [_role_and_health(index, server) for index, server in enumerate(servers)]
    primary_down = any(role == "primary" and not healthy for role, healthy in checked)
    decisions: list[FailoverDecision] = []
    for server, (role, healthy) in zip(servers, checked, strict=True):
        action: Action
        if not healthy:
            action = "drain"
        elif role == "primary":
            action = "keep"
        else:
            action = "promote" if primary_down else "standby"
        decisions.append({"server": server.get("name"), "action": action})
    return decisions


class ServerSnapshot(BaseModel):
    """What is known about one server at one moment.

    ``priority``: lower is better (1 is preferred over 10) when choosing whom to
    promote. ``lag``: replication lag in seconds (0 for a primary; infinity when
    unknown, e.g. replication is broken). ``epoch``: the fencing epoch the server
    last acted under. ``following``: the primary a replica replicates from, when
    known. ``healthy`` is a real bool: the string ``"false"``, ``0`` or ``"yes"`` is
    refused rather than coerced, as :func:`failover_decisions` refuses it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    role: Literal["primary", "replica"]
    healthy: bool
    priority: int = Field(default=100, ge=0)
    lag: float = Field(default=0.0, ge=0)
    epoch: int = Field(default=0, ge=0)
    following: str | None = None

    @field_validator("healthy", mode="before")
    @classmethod
    def _healthy_is_a_bool(cls, value: object) -> object:
        if not isinstance(value, bool):
            raise PydanticCustomError(
                "bool_type", "must be true or false, not {value}", {"value": repr(value)}
            )
        return value


PlanAction = Literal["keep", "promote", "repoint", "standby", "drain", "demote"]
PlanStatus = Literal["ok", "failover", "degraded", "split_brain"]


class ServerAction(BaseModel):
    """What to do with one server, and why."""

    model_config = ConfigDict(frozen=True)

    server: str
    action: PlanAction
    reason: str
    follow: str | None = None


class FailoverPlan(BaseModel):
    """One decision for the whole fleet.

    ``status``: ``ok`` (a healthy primary, nothing to promote), ``failover``
    (one replica promoted, ``epoch`` incremented), ``degraded`` (no healthy
    primary and nobody safe to promote) or ``split_brain`` (several healthy
    primaries; one kept, the others demoted). ``alerts`` is empty only for
    ``ok`` and ``failover``.
    """

    model_config = ConfigDict(frozen=True)

    status: PlanStatus
    epoch: int
    primary: str | None
    promoted: str | None
    actions: list[ServerAction]
    alerts: list[str]

    def action_of(self, server: str) -> ServerAction:
        for action in self.actions:
            if action.server == server:
                return action
        raise KeyError(server)


def _promotion_order(snapshot: ServerSnapshot) -> tuple[int, float, str]:
    return (snapshot.priority, snapshot.lag, snapshot.name)


def _primary_order(snapshot: ServerSnapshot) -> tuple[int, int, float, str]:
    return (-snapshot.epoch, snapshot.priority, snapshot.lag, snapshot.name)


def plan_failover(
    snapshots: Iterable[ServerSnapshot | Mapping[str, Any]],
    current_epoch: int | None = None,
    *,
    max_lag: float | None = None,
) -> FailoverPlan:
    """Plan a failover: at most one promotion, an epoch for fencing.

    * One healthy primary: it is kept; healthy replicas stand by (or are
      re-pointed if they follow someone else); unhealthy servers are drained.
    * No healthy primary: the healthy replica with the best (lowest)
      ``priority``, then least ``lag``, then name is promoted under epoch + 1;
      other healthy replicas are re-pointed to it; unhealthy servers drained.
      Replicas lagging more than ``max_lag`` seconds, or with an infinite
      (unknown) lag, are never promoted.
    * No candidate: ``degraded``, with an alert; the epoch does not change.
    * Several healthy primaries (split brain): the one with the highest epoch,
      then best priority, then least lag, then name is kept; the others are
      demoted (fenced and re-pointed to it), with an alert.

    The epoch starts from the highest of ``current_epoch`` and every snapshot's
    epoch, so a plan never issues an epoch lower than one already seen; it is
    incremented only by a promotion. Duplicate names, a negative
    ``current_epoch`` and a negative or NaN ``max_lag`` raise ``ValueError``.
    """
    servers = [
        item if isinstance(item, ServerSnapshot) else ServerSnapshot.model_validate(item)
        for item in snapshots
    ]
    names = [server.name for server in servers]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"duplicate server name(s): {', '.join(duplicates)}")
    if current_epoch is not None and current_epoch < 0:
        raise ValueError(f"current_epoch must be >= 0, got {current_epoch}")
    if max_lag is not None and not max_lag >= 0:  # written so that NaN fails too
        raise ValueError(f"max_lag must be >= 0 seconds, got {max_lag}")
    epoch = max([current_epoch or 0, *(server.epoch for server in servers)])

    primaries = sorted(
        (s for s in servers if s.role == "primary" and s.healthy), key=_primary_order
    )
    alerts: list[str] = []
    promoted: str | None = None
    status: PlanStatus
    if primaries:
        primary: str | None = primaries[0].name
        status = "split_brain" if len(primaries) > 1 else "ok"
        if status == "split_brain":
            others = ", ".join(p.name for p in primaries[1:])
            alerts.append(
                f"split brain: {len(primaries)} healthy primaries; keeping {primary} "
                f"(epoch {primaries[0].epoch}), demoting {others}"
            )
    else:
        candidates = [s for s in servers if s.role == "replica" and s.healthy]
        # An infinite lag is no lag at all that is known: promoting it could lose any
        # amount of writes, whatever its priority, so it is never promoted.
        unknown = [s for s in candidates if math.isinf(s.lag)]
        too_far = [
            s for s in candidates if max_lag is not None and s.lag > max_lag and s not in unknown
        ]
        candidates = [s for s in candidates if s not in too_far and s not in unknown]
        if candidates:
            primary = promoted = min(candidates, key=_promotion_order).name
            epoch += 1
            status = "failover"
        else:
            primary = None
            status = "degraded"
            if too_far or unknown:
                reasons = []
                if too_far:
                    lagging = ", ".join(s.name for s in too_far)
                    reasons.append(f"lags more than {max_lag}s ({lagging})")
                if unknown:
                    lost = ", ".join(s.name for s in unknown)
                    reasons.append(f"has an unknown (infinite) lag ({lost})")
                alerts.append(
                    f"no healthy primary and every healthy replica {' or '.join(reasons)}; "
                    "not promoting"
                )
            else:
                alerts.append("no healthy primary and no healthy replica to promote")

    actions = [_action(server, primary, promoted, primaries) for server in servers]
    return FailoverPlan(
        status=status,
        epoch=epoch,
        primary=primary,
        promoted=promoted,
        actions=actions,
        alerts=alerts,
    )


def _action(
    server: ServerSnapshot,
    primary: str | None,
    promoted: str | None,
    primaries: list[ServerSnapshot],
) -> ServerAction:
    name = server.name
    if not server.healthy:
        reason = "unhealthy primary: stop traffic" if server.role == "primary" else "unhealthy"
        return ServerAction(server=name, action="drain", reason=reason)
    if name == promoted:
        return ServerAction(server=name, action="promote", reason="best healthy replica")
    if name == primary:
        reason = "healthy primary" if len(primaries) < 2 else "split brain winner"
        return ServerAction(server=name, action="keep", reason=reason)
    if server.role == "primary":
        return ServerAction(
            server=name,
            action="demote",
            reason=f"split brain: fence, follow {primary}",
            follow=primary,
        )
    if primary is None:
        return ServerAction(server=name, action="standby", reason="no primary to follow")
    if promoted is not None or (server.following is not None and server.following != primary):
        return ServerAction(
            server=name, action="repoint", reason=f"follow primary {primary}", follow=primary
        )
    return ServerAction(server=name, action="standby", reason=f"replica of {primary}")
