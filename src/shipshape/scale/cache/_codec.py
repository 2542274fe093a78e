"""How cached values become bytes (JSON, never pickle), and the cache's counters."""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass, fields
from typing import Any, Protocol, TypeVar

import orjson

__all__ = ["JSON", "CacheStats", "Codec", "JSONCodec", "check_json"]

T = TypeVar("T")


class Codec(Protocol[T]):
    """How values of one kind become bytes in Redis; ``variant`` names the encoding."""

    @property
    def variant(self) -> str: ...

    def dumps(self, value: T) -> bytes: ...

    def loads(self, data: bytes) -> T: ...


class JSONCodec:
    """JSON via orjson: str, int, float, bool, None, lists and dicts (never pickle).

    ``dumps`` refuses (``TypeError``) any value JSON would not give back as it is, so
    a value read from Redis equals, with the same types, the one the L1 keeps:
    tuples, sets, datetimes, UUIDs, enums, subclasses of the JSON types, NaN and
    infinities, and dict keys that are not strings.
    """

    variant = "json"

    def dumps(self, value: Any) -> bytes:
        check_json(value)
        return orjson.dumps(value)

    def loads(self, data: bytes) -> Any:
        return orjson.loads(data)


JSON = JSONCodec()

_repr = reprlib.Repr()
_repr.maxother = _repr.maxstring = 60
_short = _repr.repr
_SCALARS = frozenset({str, bool, type(None)})
# what orjson writes of an int: a signed or an unsigned 64-bit one
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_HINTS = {
    tuple: "use a list",
    set: "use a sorted list",
    frozenset: "use a sorted list",
    float: "NaN and infinities read back as null",
}


def check_json(value: Any) -> None:
    """``TypeError`` naming where ``value`` holds what JSON cannot give back unchanged."""
    stack: list[tuple[Any, str]] = [(value, "value")]
    while stack:
        item, where = stack.pop()
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind is int:
            if _INT_MIN <= item <= _INT_MAX:
                continue
            raise TypeError(
                f"{where} is an integer beyond 64 bits ({_short(item)}), which the JSON "
                "encoder cannot write; store it as a str"
            )
        if kind is float:
            if math.isfinite(item):
                continue
        elif kind is list:
            stack.extend((element, f"{where}[{index}]") for index, element in enumerate(item))
            continue
        elif kind is dict:
            for key, element in item.items():
                if type(key) is not str:
                    raise TypeError(
                        f"{where} has the key {_short(key)} ({type(key).__qualname__}): JSON keys "
                        "are strings, so it would not read back unchanged from Redis"
                    )
                stack.append((element, f"{where}[{key!r}]"))
            continue
        hint = _HINTS.get(kind, "convert it to str, int, float, bool, None, list or dict")
        raise TypeError(
            f"{where} is {_short(item)} ({kind.__qualname__}), which JSON would not give back "
            f"unchanged from Redis; {hint}"
        )


@dataclass
class CacheStats:
    """Counters of one ``TieredCache``; ``redis_fallbacks`` counts calls served without Redis."""

    l1_hits: int = 0
    l2_hits: int = 0
    loads: int = 0
    coalesced: int = 0
    lock_waits: int = 0
    lock_timeouts: int = 0
    redis_errors: int = 0
    redis_fallbacks: int = 0
    decode_errors: int = 0
    invalidations_received: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
