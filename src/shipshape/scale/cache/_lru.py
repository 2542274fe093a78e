"""The L1: an O(1), thread-safe, size- and TTL-bounded least-recently-used map.

The map itself is cachebox's ``LRUCache`` (Rust, thread-safe on its own), so a hit is
one call into compiled code: ``LRUCache.get`` is cachebox's bound ``get``, with no
Python frame in between. Writes take a lock of ours, because a write updates the map
and the expiry index together.

Expiry: an entry stored with a TTL is also filed in a timing wheel, a dict from
``COARSE_CLOCK_RESOLUTION``-wide time slots to the entries expiring in them (O(1) per
set). By default one daemon thread per process (started when the first entry with a
TTL is stored, restarted after ``fork``) empties the slots whose time has passed every
resolution step, so a hit never reads a clock; an entry may be served up to two steps
(a slot's width plus a step; 20 ms, plus scheduling delay) after it expired. With an
injected clock there is no thread: reads check the entry's expiry against the clock.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, Protocol, TypedDict, TypeVar, cast, overload

import cachebox

__all__ = ["COARSE_CLOCK_RESOLUTION", "LRUCache", "LRUSimulation", "lru_cache_sim"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")
_KT_contra = TypeVar("_KT_contra", contravariant=True)
_VT_co = TypeVar("_VT_co", covariant=True)

COARSE_CLOCK_RESOLUTION = 0.01
"""How often (seconds) the expiry thread drops expired entries."""

_logger = logging.getLogger(__name__)
_MISSING: Any = object()
_SWEEP_BATCH = 4096
"""Expired entries dropped per hold of a cache's lock, so writers never wait long."""
_SLOTS_PER_SECOND = round(1 / COARSE_CLOCK_RESOLUTION)

# Caches holding entries with a TTL, swept by the expiry thread; `_sweep_lock` is held
# while it sweeps, so a fork never copies a cache lock taken by that thread.
_expiring: weakref.WeakSet[LRUCache[Any, Any]] = weakref.WeakSet()
_registry_lock = threading.Lock()
_sweep_lock = threading.Lock()
_sweeper: threading.Thread | None = None


def _sweep_forever() -> None:
    while True:
        time.sleep(COARSE_CLOCK_RESOLUTION)
        _sweep_once(time.monotonic())


def _sweep_once(now: float) -> None:
    """One step of the expiry thread; a function of its own, so that no cache stays
    referenced from the thread's frame between steps (and can be collected)."""
    with _registry_lock:
        caches = list(_expiring)
    with _sweep_lock:
        for cache in caches:
            try:
                cache._expire(now)
            except Exception:  # never let one cache stop expiry in all the others
                _logger.exception("expiring entries of %r failed", cache)


def _watch(cache: LRUCache[Any, Any]) -> None:
    global _sweeper
    with _registry_lock:
        _expiring.add(cache)
        cache._watched = True
        if _sweeper is None or not _sweeper.is_alive():
            _sweeper = threading.Thread(
                target=_sweep_forever, name="shipshape-lru-expiry", daemon=True
            )
            _sweeper.start()


def _before_fork() -> None:
    _sweep_lock.acquire()


def _after_fork_in_parent() -> None:
    _sweep_lock.release()


def _after_fork_in_child() -> None:
    global _registry_lock, _sweep_lock, _sweeper
    _registry_lock = threading.Lock()
    _sweep_lock = threading.Lock()
    running, _sweeper = _sweeper is not None, None
    if running:
        with _registry_lock:
            caches = list(_expiring)
        for cache in caches:
            _watch(cache)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )


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
    into a full cache evicts the first key. Every operation is O(1) (amortised
    for entries with a TTL). ``clock`` (seconds, monotonic) is injectable
    for tests; by default expired entries are dropped by the expiry thread.
    """

    __slots__ = (
        "__weakref__",
        "_box",
        "_clock",
        "_expires",
        "_filed",
        "_lock",
        "_swept",
        "_swept_to",
        "_watched",
        "_wheel",
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
        # cachebox reads maxsize 0 as "unbounded"; a capacity-0 cache never inserts.
        # Its maxsize is a machine word: a larger capacity is unbounded all the same.
        self._box: cachebox.LRUCache[K, V] = cachebox.LRUCache(min(max(capacity, 1), sys.maxsize))
        self._expires: dict[K, float] = {}
        # slot -> [(key, expires)], slot = the first step at or after ``expires``
        self._wheel: dict[int, list[tuple[K, float]]] = {}
        self._filed = 0  # entries in the wheel, stale ones (replaced, evicted) included
        self._swept_to: int | None = None  # every slot up to this one is empty
        self._lock = threading.Lock()
        self._clock = clock or time.monotonic
        self._swept = clock is None
        self._watched = False  # registered with the expiry thread
        self.get = self._box.get if self._swept else self._checked_get

    def __len__(self) -> int:
        """Entries held, expired ones not yet dropped included."""
        return len(self._box)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` holds a live entry; does not count as a use."""
        return self.peek(cast(K, key), _MISSING) is not _MISSING

    def __repr__(self) -> str:
        return f"LRUCache(capacity={self.capacity}, ttl={self.ttl}, size={len(self._box)})"

    def peek(self, key: K, default: Any = None) -> Any:
        """The value for ``key`` without counting as a use."""
        # The expiry first, then the map: entries leave the map before their expiry,
        # so an entry being dropped is never seen here without its expiry.
        expires = self._expires.get(key)
        value = self._box.peek(key, _MISSING)
        if value is _MISSING or (expires is not None and expires <= self._clock()):
            return default
        return value

    def set(self, key: K, value: V, ttl: float | None = None) -> None:
        """Store ``value`` as the most recently used; ``ttl`` overrides the cache's."""
        if self.capacity == 0:
            return
        seconds = self.ttl if ttl is None else _check_ttl(ttl)
        expires = None if seconds is None else _expiry(self._clock(), seconds)
        with self._lock:
            self._store(key, value, expires)

    def delete(self, key: K) -> bool:
        """Remove ``key``; ``True`` when it held a live entry."""
        with self._lock:
            value = self._box.pop(key, _MISSING)  # the map first, as in _drop_current
            expires = self._expires.pop(key, None)
        return value is not _MISSING and (expires is None or expires > self._clock())

    def clear(self) -> None:
        with self._lock:
            self._box.clear()
            self._expires.clear()
            self._wheel.clear()
            self._filed = 0

    def keys(self) -> list[K]:
        """Live keys from least to most recently used."""
        now = self._clock()
        with self._lock:
            snapshot = self._box.copy()  # one atomic copy: hits may reorder the original
            expires = self._expires.copy()
        return [key for key in snapshot if expires.get(key, math.inf) > now]

    def purge_expired(self) -> int:
        """Drop every expired entry now; returns how many were dropped."""
        return self._expire(self._clock(), exact=True)

    def access(self, key: K) -> bool:
        """Touch ``key`` as the course's simulation does; ``True`` on a hit.

        A hit moves the key to the end; a miss stores it (value ``None``), evicting the
        least recently used key when full.
        """
        with self._lock:
            if self._box.get(key, _MISSING) is not _MISSING:
                expires = self._expires.get(key)
                if expires is None or expires > self._clock():
                    return True
            if self.capacity:
                expires = None if self.ttl is None else _expiry(self._clock(), self.ttl)
                self._store(key, None, expires)  # type: ignore[arg-type]
        return False

    def _store(self, key: K, value: V, expires: float | None) -> None:
        """Insert or replace ``key`` as the most recently used; the lock is held."""
        box = self._box
        if key not in box and len(box) >= self.capacity:
            evicted, _ = box.popitem()
            self._expires.pop(evicted, None)
        box.insert(key, value)
        if expires is None:
            self._expires.pop(key, None)
            return
        self._expires[key] = expires
        self._file(key, expires)
        if self._filed > 2 * len(self._expires) + 1024:
            # Entries replaced, deleted or evicted leave stale items in the wheel;
            # refile the live ones once the stale outnumber them (amortised O(1)).
            self._wheel.clear()
            self._filed = 0
            for live_key, when in self._expires.items():
                self._file(live_key, when)

    def _file(self, key: K, expires: float) -> None:
        slot = math.ceil(expires * _SLOTS_PER_SECOND)
        entries = self._wheel.get(slot)
        if entries is None:
            self._wheel[slot] = [(key, expires)]
        else:
            entries.append((key, expires))
        self._filed += 1
        if self._swept_to is None or slot <= self._swept_to:
            self._swept_to = slot - 1
        if self._swept and not self._watched:  # the first entry with a TTL
            _watch(self)

    def _expire(self, now: float, *, exact: bool = False) -> int:
        """Drop the entries whose expiry is at or before ``now``; returns the count.

        The slots wholly in the past are listed once, then emptied a few thousand
        entries per hold of the lock. ``exact`` also checks, entry by entry, the slot
        ``now`` falls in (what ``purge_expired`` asks for); the expiry thread leaves
        that slot to its next step.
        """
        last = math.floor(now * _SLOTS_PER_SECOND)
        with self._lock:
            wheel, start = self._wheel, self._swept_to
            if start is None or not wheel:
                due: list[int] = []
            elif last - start > len(wheel):  # a long gap: visit the filled slots
                due = sorted(slot for slot in wheel if slot <= last)
            else:
                due = [slot for slot in range(start + 1, last + 1) if slot in wheel]
            if start is None or start < last:
                # From now on a writer filing into a slot up to ``last`` lowers this
                # again (see _file), so the next call goes back for it.
                self._swept_to = last
        dropped = 0
        index = 0
        while index < len(due):
            with self._lock:
                wheel = self._wheel
                budget = _SWEEP_BATCH
                early: list[tuple[K, float]] = []
                while index < len(due) and budget > 0:
                    slot = due[index]
                    entries = wheel.pop(slot, None)
                    if entries is None:
                        index += 1
                        continue
                    if len(entries) > budget:
                        wheel[slot] = entries[budget:]
                        entries = entries[:budget]
                    else:
                        index += 1
                    budget -= len(entries)
                    for key, when in entries:
                        if when > now:  # filed a slot early by float rounding
                            early.append((key, when))
                        else:
                            dropped += self._drop_filed(key, when)
                if early:  # a slot after ``last``: not visited again by this call
                    wheel.setdefault(last + 1, []).extend(early)
            # let writers in between batches
        if exact:
            dropped += self._expire_in_slot(last + 1, now)
        return dropped

    def _expire_in_slot(self, slot: int, now: float) -> int:
        """Drop the due entries of one slot, checking each; keep the rest there."""
        dropped = 0
        with self._lock:
            entries = self._wheel.pop(slot, [])
        waiting: list[tuple[K, float]] = []
        for begin in range(0, len(entries), _SWEEP_BATCH):
            with self._lock:
                for key, when in entries[begin : begin + _SWEEP_BATCH]:
                    if when > now:
                        waiting.append((key, when))
                    else:
                        dropped += self._drop_filed(key, when)
        if waiting:
            with self._lock:
                self._wheel.setdefault(slot, []).extend(waiting)
        return dropped

    def _drop_filed(self, key: K, when: float) -> int:
        """Take one due item out of the wheel (the lock is held); drop its entry if it
        is still current. A key that cannot be compared is left in the map, logged."""
        self._filed -= 1
        try:
            return int(self._drop_current(key, when))
        except Exception:
            _logger.warning("could not drop the expired entry %r", key, exc_info=True)
            return 0

    def _drop_current(self, key: K, when: float) -> bool:
        """Drop ``key`` if it still expires at ``when`` (the lock is held): the map
        first, then the expiry, since readers look at the expiry first."""
        if self._expires.get(key) != when:
            return False
        self._box.pop(key, None)
        del self._expires[key]
        return True

    def _checked_get(self, key: K, default: Any = None) -> Any:
        expires = self._expires.get(key)  # before the map, as in peek
        value = self._box.get(key, _MISSING)
        if value is _MISSING:
            return default
        if expires is not None and expires <= self._clock():
            with self._lock:
                self._drop_current(key, expires)
            return default
        return value


def _expiry(now: float, seconds: float) -> float | None:
    """When an entry stored at ``now`` for ``seconds`` expires; ``None`` (never) when
    that is past what the wheel can file (an infinite or astronomically long TTL)."""
    expires = now + seconds
    return expires if math.isfinite(expires * _SLOTS_PER_SECOND) else None


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
