"""Load-balancing strategies: pure cores, no I/O, no clock.

Every strategy picks one name out of the *eligible* backends it is handed, so
health (ejection, readiness, draining) and slow start stay in
:mod:`shipshape.scale.pool` and the strategies stay small and testable.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol, TypeVar

__all__ = [
    "STRATEGIES",
    "LeastRequest",
    "Rendezvous",
    "RoundRobin",
    "SmoothWeightedRoundRobin",
    "Strategy",
    "StrategyName",
    "make_strategy",
    "round_robin_balance",
]

T = TypeVar("T")

StrategyName = Literal["round-robin", "weighted", "least-request", "sticky"]
STRATEGIES: tuple[StrategyName, ...] = ("round-robin", "weighted", "least-request", "sticky")
_UNIT = 1 / (2.0**64 + 2)  # maps a 64-bit hash + 1 into (0, 1)


class Strategy(Protocol):
    """Picks one of ``weights`` (eligible backend name → effective weight > 0)."""

    def pick(
        self, weights: Mapping[str, float], in_flight: Mapping[str, int], key: str | None
    ) -> str: ...


class RoundRobin:
    """Request ``i`` goes to backend ``i % n``; the counter is the only state."""

    __slots__ = ("counter",)

    def __init__(self, start: int = 0) -> None:
        self.counter = start

    @staticmethod
    def index(request_number: int, backends: int) -> int:
        if backends <= 0:
            raise ValueError("round robin needs at least one backend")
        return request_number % backends

    def next_index(self, backends: int) -> int:
        index = self.index(self.counter, backends)
        self.counter += 1
        return index

    def pick(
        self, weights: Mapping[str, float], in_flight: Mapping[str, int], key: str | None
    ) -> str:
        names = list(weights)
        return names[self.next_index(len(names))]


class SmoothWeightedRoundRobin:
    """nginx's smooth weighted round robin.

    Each pick adds every backend's effective weight to its current weight, picks
    the largest current weight (the first one on a tie) and subtracts the total
    from it. With integer weights every cycle of ``sum(weights)`` picks gives
    each backend exactly its weight, interleaved rather than in bursts.
    """

    __slots__ = ("current",)

    def __init__(self) -> None:
        self.current: dict[str, float] = {}

    def pick(
        self, weights: Mapping[str, float], in_flight: Mapping[str, int], key: str | None
    ) -> str:
        if not weights:
            raise ValueError("weighted round robin needs at least one backend")
        for gone in [name for name in self.current if name not in weights]:
            del self.current[gone]
        if not math.isfinite(sum(weights.values())):
            # Weights near the float limit overflow their sum (inf - inf is NaN):
            # only their ratios matter, so pick with them scaled to at most 1.
            largest = max(weights.values())
            weights = {name: weight / largest for name, weight in weights.items()}
        total = 0.0
        best: str | None = None
        best_weight = -math.inf
        for name, weight in weights.items():
            current = self.current.get(name, 0.0) + weight
            self.current[name] = current
            total += weight
            if current > best_weight:
                best, best_weight = name, current
        assert best is not None
        self.current[best] -= total
        return best


class LeastRequest:
    """Power of two choices: sample two backends, keep the less loaded one.

    Load is ``in_flight / weight``, so a backend in slow start (low weight) looks
    busier. ``rng`` is injectable so that tests are deterministic.
    """

    __slots__ = ("rng",)

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng if rng is not None else random.Random()

    def pick(
        self, weights: Mapping[str, float], in_flight: Mapping[str, int], key: str | None
    ) -> str:
        names = list(weights)
        if not names:
            raise ValueError("least-request needs at least one backend")
        if len(names) == 1:
            return names[0]
        first, second = self.rng.sample(names, 2)
        first_load = in_flight.get(first, 0) / weights[first]
        second_load = in_flight.get(second, 0) / weights[second]
        return second if second_load < first_load else first


class Rendezvous:
    """Rendezvous (highest random weight) hashing for sticky sessions.

    Every (backend, key) pair gets a stable blake2b score; a key goes to the
    backend with the highest ``weight / -ln(score)``. Removing a backend moves
    only the keys it held; adding one moves only the keys it now wins. Keys
    absent (``None``) fall back to ``fallback`` (least-request by default).
    """

    __slots__ = ("_hashers", "fallback")

    def __init__(self, fallback: Strategy | None = None) -> None:
        self.fallback: Strategy = fallback if fallback is not None else LeastRequest()
        self._hashers: dict[str, hashlib.blake2b] = {}

    def _hasher(self, name: str) -> hashlib.blake2b:
        hasher = self._hashers.get(name)
        if hasher is None:
            hasher = hashlib.blake2b(name.encode("utf-8") + b"\x00", digest_size=8)
            self._hashers[name] = hasher
        return hasher

    def score(self, name: str, key: str, weight: float = 1.0) -> float:
        """The backend's score for ``key``: higher wins."""
        hasher = self._hasher(name).copy()
        hasher.update(key.encode("utf-8"))
        unit = (int.from_bytes(hasher.digest(), "big") + 1) * _UNIT
        return weight / -math.log(unit)

    def owner(self, key: str, weights: Mapping[str, float]) -> str:
        """The backend that owns ``key`` among ``weights``; ties go to the smaller name."""
        if not weights:
            raise ValueError("sticky balancing needs at least one backend")
        encoded = key.encode("utf-8")
        hashers = self._hashers
        best, best_score = "", -math.inf
        for name, weight in weights.items():
            hasher = (hashers.get(name) or self._hasher(name)).copy()
            hasher.update(encoded)
            unit = (int.from_bytes(hasher.digest(), "big") + 1) * _UNIT
            score = weight / -math.log(unit)
            if score > best_score or (score == best_score and name < best):
                best, best_score = name, score
        return best

    def pick(
        self, weights: Mapping[str, float], in_flight: Mapping[str, int], key: str | None
    ) -> str:
        if key is None:
            return self.fallback.pick(weights, in_flight, None)
        return self.owner(key, weights)


def make_strategy(name: StrategyName, rng: random.Random | None = None) -> Strategy:
    """A fresh strategy by name: ``round-robin``, ``weighted``, ``least-request``, ``sticky``."""
    if name == "round-robin":
        return RoundRobin()
    if name == "weighted":
        return SmoothWeightedRoundRobin()
    if name == "least-request":
        return LeastRequest(rng)
    if name == "sticky":
        return Rendezvous(LeastRequest(rng))
    raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")


def round_robin_balance(servers: Sequence[T], num_requests: int) -> list[T]:
    """Assign ``num_requests`` requests in turn: request ``i`` goes to ``servers[i % n]``.

    Raises ``ValueError`` for a negative count, or for requests with no servers.
    """
    if isinstance(num_requests, bool) or not isinstance(num_requests, int):
        raise TypeError(f"num_requests must be an int, not {type(num_requests).__name__}")
    if num_requests < 0:
        raise ValueError(f"num_requests must be >= 0, got {num_requests}")
    if num_requests == 0:
        return []
    if not servers:
        raise ValueError("cannot balance requests over no servers")
    balancer = RoundRobin()
    return [servers[balancer.next_index(len(servers))] for _ in range(num_requests)]
