"""Caching: an O(1) least-recently-used store, the L1 of every cache."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Any, TypedDict

__all__ = ["LRUCache", "LRUSimulation", "lru_cache_sim"]

_MISSING: Any = object()


class LRUSimulation(TypedDict):
    hits: int
    misses: int
    cache: list[Any]


class LRUCache:
    """A size-bounded LRU map; every operation is O(1) and thread-safe.

    Order is least to most recently used. A hit moves the key to the end; inserting
    into a full cache evicts the first key.
    """

    __slots__ = ("_data", "_lock", "capacity")

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise TypeError(f"capacity must be an int, not {type(capacity).__name__}")
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self.capacity = capacity
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data

    def keys(self) -> list[Hashable]:
        """Keys from least to most recently used."""
        with self._lock:
            return list(self._data)

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            value = self._data.get(key, _MISSING)
            if value is _MISSING:
                return default
            self._data.move_to_end(key)
            return value

    def set(self, key: Hashable, value: Any) -> None:
        if self.capacity == 0:
            return
        with self._lock:
            data = self._data
            if key in data:
                data.move_to_end(key)
            elif len(data) >= self.capacity:
                data.popitem(last=False)
            data[key] = value

    def delete(self, key: Hashable) -> bool:
        with self._lock:
            return self._data.pop(key, _MISSING) is not _MISSING

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def access(self, key: Hashable) -> bool:
        """Touch ``key`` as the course's simulation does; ``True`` on a hit."""
        with self._lock:
            data = self._data
            if key in data:
                data.move_to_end(key)
                return True
            if self.capacity:
                if len(data) >= self.capacity:
                    data.popitem(last=False)
                data[key] = None
            return False


def lru_cache_sim(capacity: int, accesses: Iterable[Hashable]) -> LRUSimulation:
    """Replay ``accesses`` through an LRU cache of ``capacity`` keys.

    ``cache`` is the final content from least to most recently used. Capacity 0 caches
    nothing; a negative capacity raises ``ValueError``. O(1) per access.
    """
    cache = LRUCache(capacity)
    hits = misses = 0
    access = cache.access
    for key in accesses:
        if access(key):
            hits += 1
        else:
            misses += 1
    return {"hits": hits, "misses": misses, "cache": cache.keys()}
