"""A deterministic, discrete-event simulation of the balancing pool.

Requests arrive every ``1 / rate`` seconds; each goes through the same
:class:`~shipshape.scale.pool.Pool` (strategy, passive ejection, slow start)
the transports use, takes an exponentially distributed time with the
backend's mean latency, and fails with the backend's failure rate. Same seed,
same result.
"""

from __future__ import annotations

import heapq
import random
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shipshape.scale.balance import Rendezvous, StrategyName, make_strategy
from shipshape.scale.pool import Backend, HealthPolicy, NoBackendAvailable, Pool

__all__ = ["SimulatedBackend", "SimulationSpec", "simulate_balance", "sticky_moves"]


class SimulatedBackend(BaseModel):
    """A backend of the simulation: weight, mean latency and failure rate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    latency_ms: float = Field(default=10.0, ge=0, allow_inf_nan=False)
    failure_rate: float = Field(default=0.0, ge=0, le=1)


class SimulationSpec(BaseModel):
    """The input file of ``shipshape balance simulate``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backends: list[SimulatedBackend] = Field(min_length=1)
    rate: float = Field(
        default=1000.0, gt=0, allow_inf_nan=False, description="requests per second"
    )
    keys: int = Field(default=1000, ge=1, description="distinct sticky keys")
    policy: HealthPolicy = HealthPolicy()

    @model_validator(mode="after")
    def _unique_names(self) -> SimulationSpec:
        seen: set[str] = set()
        for backend in self.backends:
            if backend.name in seen:
                raise ValueError(f"duplicate backend name {backend.name!r}")
            seen.add(backend.name)
        return self


def sticky_moves(weights: dict[str, float], removed: str, keys: int) -> dict[str, Any]:
    """How many of ``keys`` sticky keys change backend when ``removed`` leaves."""
    if removed not in weights:
        raise ValueError(f"cannot remove {removed!r}: no such backend")
    if len(weights) < 2:
        raise ValueError("cannot remove the only backend")
    hashing = Rendezvous()
    remaining = {name: weight for name, weight in weights.items() if name != removed}
    moved = owned = moved_elsewhere = 0
    for number in range(keys):
        key = f"key-{number}"
        before = hashing.owner(key, weights)
        after = hashing.owner(key, remaining)
        owned += before == removed
        if before != after:
            moved += 1
            moved_elsewhere += before != removed
    return {
        "keys": keys,
        "removed": removed,
        "owned_by_removed": owned,
        "moved": moved,
        "moved_from_other_backends": moved_elsewhere,
    }


def simulate_balance(
    spec: SimulationSpec,
    strategy: StrategyName,
    requests: int,
    *,
    seed: int = 0,
    remove: str | None = None,
) -> dict[str, Any]:
    """Run ``requests`` requests through a pool; per-backend counts and, for sticky, key moves."""
    if requests < 0:
        raise ValueError(f"requests must be >= 0, got {requests}")
    if remove is not None and strategy != "sticky":
        raise ValueError("removing a backend only applies to the sticky strategy")
    outcomes = random.Random(seed)
    pool = Pool(
        [Backend(name=b.name, url="http://simulated", weight=b.weight) for b in spec.backends],
        make_strategy(strategy, random.Random(seed + 1)),
        spec.policy,
    )
    by_name = {backend.name: backend for backend in spec.backends}
    pending: list[tuple[float, int, str, bool]] = []
    unserved = 0
    for number in range(requests):
        now = number / spec.rate
        while pending and pending[0][0] <= now:
            ended, _, name, ok = heapq.heappop(pending)
            pool.finish(name, ok, ended)
        key = f"key-{outcomes.randrange(spec.keys)}" if strategy == "sticky" else None
        try:
            chosen = pool.choose(now, key)
        except NoBackendAvailable:
            unserved += 1
            continue
        backend = by_name[chosen.name]
        mean = backend.latency_ms / 1000
        took = outcomes.expovariate(1 / mean) if mean > 0 else 0.0
        ok = outcomes.random() >= backend.failure_rate
        heapq.heappush(pending, (now + took, number, chosen.name, ok))
    while pending:
        ended, _, name, ok = heapq.heappop(pending)
        pool.finish(name, ok, ended)
    served = requests - unserved
    rows = []
    for state in pool.snapshot(requests / spec.rate):
        rows.append(
            {
                "name": state["name"],
                "weight": state["weight"],
                "requests": state["requests"],
                "share": round(state["requests"] / served, 4) if served else 0.0,
                "failures": state["failures"],
                "ejections": state["ejections"],
            }
        )
    result: dict[str, Any] = {
        "strategy": strategy,
        "requests": requests,
        "served": served,
        "unserved": unserved,
        "backends": rows,
    }
    if strategy == "sticky" and (remove is not None or len(spec.backends) > 1):
        removed = remove if remove is not None else spec.backends[-1].name
        weights = {backend.name: backend.weight for backend in spec.backends}
        result["sticky"] = sticky_moves(weights, removed, spec.keys)
    return result
