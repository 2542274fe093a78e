"""How cached values become bytes (JSON, never pickle), and the cache's counters."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Protocol, TypeVar

import orjson

__all__ = ["JSON", "CacheStats", "Codec", "JSONCodec"]

T = TypeVar("T")


class Codec(Protocol[T]):
    """How values of one kind become bytes in Redis; ``variant`` names the encoding."""

    @property
    def variant(self) -> str: ...

    def dumps(self, value: T) -> bytes: ...

    def loads(self, data: bytes) -> T: ...


class JSONCodec:
    """JSON via orjson: str, int, float, bool, None, lists and dicts (never pickle)."""

    variant = "json"

    def dumps(self, value: Any) -> bytes:
        return orjson.dumps(value)

    def loads(self, data: bytes) -> Any:
        return orjson.loads(data)


JSON = JSONCodec()


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
