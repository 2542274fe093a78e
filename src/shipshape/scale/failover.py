"""Failover decisions for a primary/replica fleet."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict

__all__ = ["FailoverDecision", "failover_decisions"]

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
    return str(role), bool(server.get("healthy"))


def failover_decisions(servers: Sequence[Mapping[str, Any]]) -> list[FailoverDecision]:
    """The course's per-server actions, in input order.

    Unhealthy primary: ``drain``; healthy primary: ``keep``; unhealthy replica:
    ``drain``; healthy replica: ``promote`` if any primary is unhealthy, else
    ``standby``. Raises ``ValueError`` for an unknown role.

    This promotes *every* healthy replica when a primary is down, which splits the
    brain of a real cluster; ``shipshape.scale.failover.plan_failover`` is the safe
    planner that promotes at most one per epoch.
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
