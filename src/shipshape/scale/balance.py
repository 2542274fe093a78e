"""Load balancing strategies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

__all__ = ["RoundRobin", "round_robin_balance"]

T = TypeVar("T")


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
