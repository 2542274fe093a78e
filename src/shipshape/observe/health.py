"""Health classification: healthy, degraded, unhealthy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict

__all__ = ["HEALTH_STATUSES", "HealthReport", "check_health", "worst_status"]

Status = Literal["healthy", "degraded", "unhealthy"]
HEALTH_STATUSES: tuple[Status, ...] = ("healthy", "degraded", "unhealthy")
_RANK: dict[str, int] = {status: rank for rank, status in enumerate(HEALTH_STATUSES)}


class HealthReport(TypedDict):
    status: Status
    details: dict[str, Status]


def dependency_status(name: str, value: Any) -> Status:
    """The status string of one dependency entry: a string or a mapping with ``status``."""
    status = value.get("status") if isinstance(value, Mapping) else value
    if status not in _RANK:
        raise ValueError(
            f"dependency {name!r}: unknown status {status!r}; "
            f"expected one of {', '.join(HEALTH_STATUSES)}"
        )
    return status  # type: ignore[no-any-return]


def worst_status(statuses: Mapping[str, Status]) -> Status:
    """Unhealthy beats degraded beats healthy; no dependencies is healthy."""
    worst = 0
    for status in statuses.values():
        worst = max(worst, _RANK[status])
    return HEALTH_STATUSES[worst]


def check_health(deps: Mapping[str, Any]) -> HealthReport:
    """Classify a service from its dependencies' statuses.

    Values are status strings or mappings with a ``status`` key. ``details`` maps each
    dependency to its status. Raises ``ValueError`` for an unknown status.
    """
    if not isinstance(deps, Mapping):
        raise TypeError(f"dependencies must be a mapping, not {type(deps).__name__}")
    details = {str(name): dependency_status(str(name), value) for name, value in deps.items()}
    return {"status": worst_status(details), "details": details}
