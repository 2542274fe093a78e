"""Validated Pydantic models in the cache: JSON in Redis, keyed by the model's schema.

A model's cached form is its JSON (``by_alias``, ``round_trip``), stored under a
variant named after the class and a hash of ``Model.model_json_schema()``: a process
running a changed model reads a different variant, so a deploy is a miss, not a
validation error. Never pickle: JSON is readable by any version and any language.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar

import orjson
from pydantic import BaseModel

from shipshape.scale.cache._lru import LRUCache
from shipshape.scale.cache._tiered import TieredCache

__all__ = ["ModelCache", "ModelCodec", "cached_model", "schema_hash"]

M = TypeVar("M", bound=BaseModel)
P = ParamSpec("P")


def schema_hash(model: type[BaseModel]) -> str:
    """16 hex digits of SHA-256 over ``model.model_json_schema()`` with sorted keys."""
    schema = orjson.dumps(model.model_json_schema(), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(schema).hexdigest()[:16]


class ModelCodec(Generic[M]):
    """Instances of ``model`` as JSON bytes; ``variant`` is ``module.Class@schemahash``."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        self.variant = f"{model.__module__}.{model.__qualname__}@{schema_hash(model)}"
        self._to_json = model.__pydantic_serializer__.to_json
        self._validate_json = model.model_validate_json

    def dumps(self, value: M) -> bytes:
        if not isinstance(value, self.model):
            raise TypeError(f"expected {self.model.__qualname__}, got {type(value).__qualname__}")
        return self._to_json(value, by_alias=True, round_trip=True)

    def loads(self, data: bytes) -> M:
        return self._validate_json(data)


class ModelCache(Generic[M]):
    """A typed view of a ``TieredCache`` holding ``model`` instances.

    ``validate_json`` is the fast path for repeated payloads: raw JSON (bytes or str)
    → validated instance, remembered in an LRU of ``validation_capacity`` payloads up
    to ``max_payload_bytes`` each. Instances are shared between callers: treat them as
    read-only (a ``frozen=True`` model makes that a rule).
    """

    def __init__(
        self,
        model: type[M],
        cache: TieredCache | None = None,
        *,
        ttl: float | None = None,
        validation_capacity: int = 4096,
        max_payload_bytes: int = 64 * 1024,
    ) -> None:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(f"cached_model needs a pydantic BaseModel subclass, got {model!r}")
        self.model = model
        self.codec = ModelCodec(model)
        self.cache = cache if cache is not None else TieredCache(None)
        self.ttl = ttl
        self.max_payload_bytes = max_payload_bytes
        self.validated: LRUCache[bytes | str, M] = LRUCache(validation_capacity)
        self._validated_get = self.validated.get
        self._validate_json = model.model_validate_json

    def validate_json(self, data: bytes | bytearray | memoryview | str) -> M:
        """``model.model_validate_json(data)``, answered from memory for a repeated payload.

        Invalid payloads raise ``ValidationError`` every time (never cached).
        """
        key: bytes | str = data if isinstance(data, bytes | str) else bytes(data)
        instance = self._validated_get(key)
        if instance is not None:
            return instance
        instance = self._validate_json(key)
        if len(key) <= self.max_payload_bytes:
            self.validated.set(key, instance)
        return instance

    async def get(self, key: str) -> M | None:
        result: M | None = await self.cache.get(key, self.codec)
        return result

    async def set(self, key: str, instance: M, *, ttl: float | None = None) -> None:
        await self.cache.set(key, instance, ttl=ttl or self.ttl, codec=self.codec)

    async def get_or_compute(
        self, key: str, loader: Callable[[], Awaitable[M | Any]], *, ttl: float | None = None
    ) -> M:
        """The cached instance, or ``await loader()`` (an instance, or data to validate)."""

        async def load() -> M:
            value = await loader()
            return value if isinstance(value, self.model) else self.model.model_validate(value)

        result: M = await self.cache.get_or_compute(
            key, load, ttl=ttl or self.ttl, codec=self.codec
        )
        return result

    async def invalidate(self, key: str) -> None:
        """Drop ``key`` in every tier and process, whatever model version cached it."""
        await self.cache.invalidate(key)

    def __call__(self, function: Callable[P, Awaitable[M | Any]]) -> Callable[P, Awaitable[M]]:
        """Decorate an async loader: its result is cached per JSON-encoded arguments."""
        prefix = f"{function.__module__}.{function.__qualname__}"
        signature = inspect.signature(function)

        @functools.wraps(function)
        async def cached(*args: P.args, **kwargs: P.kwargs) -> M:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            key = call_key(prefix, bound.arguments)
            return await self.get_or_compute(key, lambda: function(*args, **kwargs))

        return cached


def call_key(prefix: str, arguments: Mapping[str, Any]) -> str:
    """A cache key for one call: ``prefix`` and the bound arguments as canonical JSON."""
    try:
        encoded = orjson.dumps(dict(arguments), option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise TypeError(f"{prefix}: arguments must be JSON-encodable to form a key: {exc}") from exc
    return f"{prefix}:{encoded.decode()}"


def cached_model(
    model: type[M],
    cache: TieredCache | None = None,
    *,
    ttl: float | None = None,
    validation_capacity: int = 4096,
    max_payload_bytes: int = 64 * 1024,
) -> ModelCache[M]:
    """A cache of validated ``model`` instances on ``cache`` (an L1-only cache if omitted).

    Use it directly (``get_or_compute``, ``validate_json``) or as a decorator of an
    async loader whose arguments form the key.
    """
    return ModelCache(
        model,
        cache,
        ttl=ttl,
        validation_capacity=validation_capacity,
        max_payload_bytes=max_payload_bytes,
    )
