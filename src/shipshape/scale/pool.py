"""A health-aware backend pool: the pure state machine behind the balancing transport.

Time is always a parameter (seconds on any monotonic clock). A backend is
*eligible* for new requests when it is not draining, its last active check said
ready, and it is not ejected. Passive ejection follows ``max_failures``
consecutive failures and lasts ``ejection_time``; re-admission (after an
ejection, a failed readiness check, or being added) starts a linear slow start:
the weight ramps from ``slow_start_floor`` of its value to all of it over
``slow_start`` seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shipshape.scale.balance import Strategy


def _http_base_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return url.rstrip("/")


HttpBaseUrl = Annotated[str, Field(min_length=1), AfterValidator(_http_base_url)]
"""An http(s) base URL without its trailing slash (backends, servers to watch)."""

__all__ = ["Backend", "BackendStatus", "HealthPolicy", "NoBackendAvailable", "Pool"]


class Backend(BaseModel):
    """One upstream: a unique name, a base URL and a relative weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    url: HttpBaseUrl
    weight: float = Field(default=1.0, gt=0, allow_inf_nan=False)


class HealthPolicy(BaseModel):
    """How failures eject a backend and how fast it ramps back up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_failures: int = Field(default=5, ge=1)
    ejection_time: float = Field(default=30.0, ge=0)
    slow_start: float = Field(default=30.0, ge=0)
    slow_start_floor: float = Field(default=0.1, gt=0, le=1)


class NoBackendAvailable(LookupError):
    """Every backend is draining, ejected or not ready."""


@dataclass(slots=True)
class BackendStatus:
    """The mutable health state of one backend."""

    backend: Backend
    ready: bool = True
    draining: bool = False
    consecutive_failures: int = 0
    ejected_until: float | None = None
    ejections: int = 0
    admitted_at: float = -math.inf
    in_flight: int = 0
    requests: int = 0
    failures: int = 0

    def ejected(self, now: float) -> bool:
        return self.ejected_until is not None and now < self.ejected_until

    def eligible(self, now: float) -> bool:
        return self.ready and not self.draining and not self.ejected(now)

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "name": self.backend.name,
            "url": self.backend.url,
            "weight": self.backend.weight,
            "ready": self.ready,
            "draining": self.draining,
            "ejected": self.ejected(now),
            "eligible": self.eligible(now),
            "in_flight": self.in_flight,
            "requests": self.requests,
            "failures": self.failures,
            "ejections": self.ejections,
        }


class _InFlight(Mapping[str, int]):
    __slots__ = ("_status",)

    def __init__(self, status: dict[str, BackendStatus]) -> None:
        self._status = status

    def __getitem__(self, name: str) -> int:
        return self._status[name].in_flight

    def __iter__(self) -> Iterator[str]:
        return iter(self._status)

    def __len__(self) -> int:
        return len(self._status)


class Pool:
    """Backends, their health, and a strategy choosing among the eligible ones."""

    def __init__(
        self,
        backends: Iterable[Backend],
        strategy: Strategy,
        policy: HealthPolicy | None = None,
    ) -> None:
        self.strategy = strategy
        self.policy = policy if policy is not None else HealthPolicy()
        self._status: dict[str, BackendStatus] = {}
        for backend in backends:
            self._insert(backend, admitted_at=-math.inf)
        if not self._status:
            raise ValueError("a pool needs at least one backend")

    def _insert(self, backend: Backend, admitted_at: float) -> None:
        if backend.name in self._status:
            raise ValueError(f"duplicate backend name {backend.name!r}")
        self._status[backend.name] = BackendStatus(backend, admitted_at=admitted_at)

    def __contains__(self, name: object) -> bool:
        return name in self._status

    def __len__(self) -> int:
        return len(self._status)

    @property
    def names(self) -> list[str]:
        return list(self._status)

    def status(self, name: str) -> BackendStatus:
        try:
            return self._status[name]
        except KeyError:
            raise KeyError(f"no backend named {name!r}") from None

    def add(self, backend: Backend, now: float) -> None:
        """Add a backend; it starts in slow start."""
        self._insert(backend, admitted_at=now)

    def remove(self, name: str) -> Backend:
        """Forget a backend at once (drain it first to let in-flight requests finish)."""
        return self._status.pop(self.status(name).backend.name).backend

    def drain(self, name: str) -> None:
        """No new requests go to ``name``; in-flight ones finish."""
        self.status(name).draining = True

    def undrain(self, name: str, now: float) -> None:
        status = self.status(name)
        if status.draining:
            status.draining = False
            status.admitted_at = now

    def drained(self, name: str) -> bool:
        """True once a draining backend has no request in flight."""
        status = self.status(name)
        return status.draining and status.in_flight == 0

    def set_ready(self, name: str, ready: bool, now: float) -> None:
        """Record an active readiness check; becoming ready again starts slow start."""
        status = self.status(name)
        if ready and not status.ready:
            status.admitted_at = now
        status.ready = ready

    def _refresh(self, status: BackendStatus, now: float) -> None:
        if status.ejected_until is not None and now >= status.ejected_until:
            status.admitted_at = status.ejected_until
            status.ejected_until = None
            status.consecutive_failures = 0

    def _weight(self, status: BackendStatus, now: float) -> float:
        weight = status.backend.weight
        window = self.policy.slow_start
        elapsed = now - status.admitted_at
        if window <= 0 or elapsed >= window:
            return weight
        return weight * max(self.policy.slow_start_floor, elapsed / window)

    def effective_weight(self, name: str, now: float) -> float:
        """The weight, scaled down linearly during slow start."""
        status = self.status(name)
        self._refresh(status, now)
        return self._weight(status, now)

    def eligible(self, now: float) -> dict[str, float]:
        """Eligible backend name → effective weight, in insertion order."""
        weights: dict[str, float] = {}
        for name, status in self._status.items():
            if status.ejected_until is not None:
                self._refresh(status, now)
            if status.ready and not status.draining and status.ejected_until is None:
                weights[name] = self._weight(status, now)
        return weights

    def in_flight(self) -> Mapping[str, int]:
        """A live view: backend name → requests in flight."""
        return _InFlight(self._status)

    def choose(
        self, now: float, key: str | None = None, exclude: frozenset[str] = frozenset()
    ) -> Backend:
        """Pick a backend for a new request and count it in flight."""
        weights = self.eligible(now)
        for name in exclude:
            weights.pop(name, None)
        if not weights:
            raise NoBackendAvailable(self._why_none(now))
        status = self._status[self.strategy.pick(weights, self.in_flight(), key)]
        status.in_flight += 1
        status.requests += 1
        return status.backend

    def _why_none(self, now: float) -> str:
        parts = []
        for name, status in self._status.items():
            if status.draining:
                parts.append(f"{name} draining")
            elif not status.ready:
                parts.append(f"{name} not ready")
            elif status.ejected(now):
                parts.append(f"{name} ejected")
            else:
                parts.append(f"{name} already tried")
        return "no backend available: " + ", ".join(parts)

    def finish(self, name: str, ok: bool, now: float) -> None:
        """A request to ``name`` ended; a failure may eject the backend."""
        status = self._status.get(name)
        if status is None:
            return
        status.in_flight = max(0, status.in_flight - 1)
        self._refresh(status, now)
        if ok:
            status.consecutive_failures = 0
            return
        status.failures += 1
        status.consecutive_failures += 1
        if status.consecutive_failures >= self.policy.max_failures and not status.ejected(now):
            status.ejected_until = now + self.policy.ejection_time
            status.ejections += 1
            status.consecutive_failures = 0

    def snapshot(self, now: float) -> list[dict[str, Any]]:
        """Every backend's state, for status pages and the simulator."""
        for status in self._status.values():
            self._refresh(status, now)
        return [status.as_dict(now) for status in self._status.values()]
