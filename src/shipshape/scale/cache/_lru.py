"""The L1: an O(1), thread-safe, size- and TTL-bounded least-recently-used map.

The hit path takes no lock. Every step of it is one call into C on an
``OrderedDict`` (a lookup, then ``move_to_end``), each atomic under the GIL for keys
whose ``__hash__``/``__eq__`` are builtin (str, bytes, int, tuples of them). A hit
never removes and re-inserts its key, so a concurrent ``set`` or ``delete`` is never
undone by it: a ``delete`` that lands between the two calls makes ``move_to_end``
raise ``KeyError`` (ignored: the value was read before the delete). Writes take a lock.

Expiry is checked against a coarse clock: a module-level float refreshed every
``COARSE_CLOCK_RESOLUTION`` seconds by one daemon thread per process (started when the
first entry with a TTL is stored, restarted after ``fork``), so a hit reads a float
instead of calling ``time.monotonic()``. An entry may therefore be served up to one
resolution step after it expired. With an injected clock every TTL check calls it.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, Protocol, TypedDict, TypeVar, overload

__all__ = ["COARSE_CLOCK_RESOLUTION", "LRUCache", "LRUSimulation", "lru_cache_sim"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")
_KT_contra = TypeVar("_KT_contra", contravariant=True)
_VT_co = TypeVar("_VT_co", covariant=True)

COARSE_CLOCK_RESOLUTION = 0.01
_NEVER = math.inf
_coarse_now = [time.monotonic()]
_always_check = [math.inf]
_ticker_lock = threading.Lock()
_ticker: threading.Thread | None = None


def _tick() -> None:
    now = _coarse_now
    while True:
        time.sleep(COARSE_CLOCK_RESOLUTION)
        now[0] = time.monotonic()


def _ensure_ticker() -> None:
    global _ticker
    with _ticker_lock:
        if _ticker is None or not _ticker.is_alive():
            _coarse_now[0] = time.monotonic()
            _ticker = threading.Thread(target=_tick, name="shipshape-coarse-clock", daemon=True)
            _ticker.start()


def _restart_ticker_in_child() -> None:
    global _ticker, _ticker_lock
    _ticker_lock = threading.Lock()
    had_ticker, _ticker = _ticker is not None, None
    _coarse_now[0] = time.monotonic()
    if had_ticker:
        _ensure_ticker()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_ticker_in_child)


class _Get(Protocol[_KT_contra, _VT_co]):
    @overload
    def __call__(self, key: _KT_contra, /) -> _VT_co | None: ...
    @overload
    def __call__(self, key: _KT_contra, default: D, /) -> _VT_co | D: ...


class LRUSimulation(TypedDict):
    hits: int
    misses: int
    cache: list[Any]


class LRUCache(Generic[K, V]):
    """A map of at most ``capacity`` entries, each optionally expiring ``ttl`` s after set.

    Order is least to most recently used: a hit moves the key to the end, inserting
    into a full cache evicts the first key. Every operation is O(1). ``clock`` (seconds,
    monotonic) is injectable for tests; by default expiry uses the coarse clock.
    """

    __slots__ = (
        "_clock",
        "_data",
        "_horizon",
        "_lock",
        "capacity",
        "get",
        "ttl",
    )

    get: _Get[K, V]
    """``get(key, default=None)``: the value for ``key`` (now the most recently used)."""

    def __init__(
        self,
        capacity: int,
        *,
        ttl: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise TypeError(f"capacity must be an int, not {type(capacity).__name__}")
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self.capacity = capacity
        self.ttl = _check_ttl(ttl)
        self._data: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._clock = clock or time.monotonic
        self._horizon = _always_check if clock is not None else _coarse_now
        self.get = _make_get(self._data, self._horizon, self._drop_if_expired)

    def __len__(self) -> int:
        """Entries held, expired ones not yet dropped included."""
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` holds a live entry; does not count as a use."""
        entry = self._data.get(key)  # type: ignore[arg-type]
        return entry is not None and entry[1] > self._clock()

    def __repr__(self) -> str:
        return f"LRUCache(capacity={self.capacity}, ttl={self.ttl}, size={len(self._data)})"

    def peek(self, key: K, default: Any = None) -> Any:
        """The value for ``key`` without counting as a use."""
        entry = self._data.get(key)
        if entry is None or entry[1] <= self._clock():
            return default
        return entry[0]

    def set(self, key: K, value: V, ttl: float | None = None) -> None:
        """Store ``value`` as the most recently used; ``ttl`` overrides the cache's."""
        if self.capacity == 0:
            return
        seconds = self.ttl if ttl is None else _check_ttl(ttl)
        if seconds is None:
            expires = _NEVER
        else:
            if self._horizon is _coarse_now and _ticker is None:
                _ensure_ticker()
            expires = self._clock() + seconds
        with self._lock:
            data = self._data
            if key in data:
                data.move_to_end(key)
            elif len(data) >= self.capacity:
                data.popitem(last=False)
            data[key] = (value, expires)

    def delete(self, key: K) -> bool:
        """Remove ``key``; ``True`` when it held a live entry."""
        with self._lock:
            entry = self._data.pop(key, None)
        return entry is not None and entry[1] > self._clock()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def keys(self) -> list[K]:
        """Live keys from least to most recently used."""
        now = self._clock()
        with self._lock:
            return [key for key, (_, expires) in self._data.items() if expires > now]

    def purge_expired(self) -> int:
        """Drop every expired entry now (O(n)); returns how many were dropped."""
        now = self._clock()
        with self._lock:
            data = self._data
            expired = [key for key, (_, expires) in data.items() if expires <= now]
            for key in expired:
                del data[key]
        return len(expired)

    def access(self, key: K) -> bool:
        """Touch ``key`` as the course's simulation does; ``True`` on a hit.

        A hit moves the key to the end; a miss stores it (value ``None``), evicting the
        least recently used key when full.
        """
        with self._lock:
            data = self._data
            entry = data.get(key)
            if entry is not None and (entry[1] == _NEVER or entry[1] > self._clock()):
                data.move_to_end(key)
                return True
            if self.capacity:
                if entry is not None:
                    del data[key]
                elif len(data) >= self.capacity:
                    data.popitem(last=False)
                expires = _NEVER if self.ttl is None else self._clock() + self.ttl
                data[key] = (None, expires)  # type: ignore[assignment]
            return False

    def _drop_if_expired(self, key: K, entry: tuple[V, float]) -> bool:
        if entry[1] > self._clock():
            return False
        with self._lock:
            if self._data.get(key) is entry:
                del self._data[key]
        return True


def _make_get(
    data: OrderedDict[K, tuple[V, float]],
    horizon: list[float],
    drop_if_expired: Callable[[K, tuple[V, float]], bool],
) -> _Get[K, V]:
    """The lock-free hit path, a closure so that it reads no attributes."""
    move_to_end = data.move_to_end

    def get(key: K, default: Any = None) -> Any:
        try:
            entry = data[key]
            move_to_end(key)
        except KeyError:
            return default
        if entry[1] <= horizon[0] and drop_if_expired(key, entry):
            return default
        return entry[0]

    return get


def _check_ttl(ttl: float | None) -> float | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
        raise ValueError(f"ttl must be a positive number of seconds or None, got {ttl!r}")
    return float(ttl)


def lru_cache_sim(capacity: int, accesses: Iterable[Hashable]) -> LRUSimulation:
    """Replay ``accesses`` through an LRU cache of ``capacity`` keys.

    ``cache`` is the final content from least to most recently used. Capacity 0 caches
    nothing; a negative capacity raises ``ValueError``. O(1) per access.
    """
    cache: LRUCache[Hashable, None] = LRUCache(capacity)
    hits = misses = 0
    access = cache.access
    for key in accesses:
        if access(key):
            hits += 1
        else:
            misses += 1
    return {"hits": hits, "misses": misses, "cache": cache.keys()}
