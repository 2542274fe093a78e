"""Stores for shared state, chosen by URL: ``memory://`` (default) or Redis."""

from __future__ import annotations

from urllib.parse import urlsplit

from shipshape.stores.base import Decision, RateLimitStore, StoreError, StoreUnavailable
from shipshape.stores.memory import MemoryStore

__all__ = [
    "Decision",
    "MemoryStore",
    "RateLimitStore",
    "StoreError",
    "StoreUnavailable",
    "open_store",
]


def open_store(url: str = "memory://") -> RateLimitStore:
    """The store for ``url``: ``memory://`` today; Redis schemes once their driver lands."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return MemoryStore(url)
    raise StoreError(f"unsupported store URL scheme {scheme!r} in {url!r}; use memory://")
