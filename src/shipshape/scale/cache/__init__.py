"""Caching: an O(1) LRU (L1), Redis (L2), validated-model and HTTP response caches.

``LRUCache`` is the L1 and the core of the seed ``lru_cache_sim``; ``TieredCache``
puts it in front of Redis with single-flight loads, a cross-process lock and pub/sub
invalidation; ``cached_model`` caches validated Pydantic models as JSON keyed by their
schema; ``cache_response`` with ``CachedRoute`` caches FastAPI responses with ETags.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipshape.scale.cache._codec import JSON, CacheStats, Codec, JSONCodec
from shipshape.scale.cache._lru import (
    COARSE_CLOCK_RESOLUTION,
    LRUCache,
    LRUSimulation,
    lru_cache_sim,
)

if TYPE_CHECKING:
    from shipshape.scale.cache._http import CachedRoute, cache_response, response_key
    from shipshape.scale.cache._models import ModelCache, ModelCodec, cached_model, schema_hash
    from shipshape.scale.cache._tiered import TieredCache

__all__ = [
    "COARSE_CLOCK_RESOLUTION",
    "JSON",
    "CacheStats",
    "CachedRoute",
    "Codec",
    "JSONCodec",
    "LRUCache",
    "LRUSimulation",
    "ModelCache",
    "ModelCodec",
    "TieredCache",
    "cache_response",
    "cached_model",
    "lru_cache_sim",
    "response_key",
    "schema_hash",
]


_LAZY = {
    "CachedRoute": "_http",
    "cache_response": "_http",
    "response_key": "_http",
    "ModelCache": "_models",
    "ModelCodec": "_models",
    "cached_model": "_models",
    "schema_hash": "_models",
    "TieredCache": "_tiered",
}


def __getattr__(name: str) -> Any:
    # Redis and FastAPI are imported on first use: the CLI and the seed need neither.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"shipshape.scale.cache.{module}"), name)
