"""The store interface: where shared state lives, chosen by URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Decision", "RateLimitStore", "StoreError", "StoreUnavailable"]


class StoreError(Exception):
    """A store could not be configured (bad URL, missing driver)."""


class StoreUnavailable(StoreError):
    """A store could not be reached; callers decide to fail open or closed."""


@dataclass(frozen=True, slots=True)
class Decision:
    """One rate-limit decision.

    ``remaining`` is the whole tokens left, ``retry_after`` the seconds until the next
    request could be allowed (0 when allowed), ``reset_after`` the seconds until the
    bucket is full again.
    """

    allowed: bool
    remaining: int
    retry_after: float
    reset_after: float


@runtime_checkable
class RateLimitStore(Protocol):
    """Token buckets keyed by string; ``take`` is atomic per key."""

    url: str

    async def take(
        self, key: str, capacity: int, refill_rate: float, cost: int = 1
    ) -> Decision: ...

    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` when the store cannot be reached."""

    async def aclose(self) -> None: ...
