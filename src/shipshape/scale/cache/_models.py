"""Validated Pydantic models in the cache: JSON in Redis, keyed by the model's schema.

A model's cached form is its JSON (``by_alias``, ``round_trip``), stored under a
variant named after the class and a hash of ``Model.model_json_schema()``: a process
running a changed model reads a different variant, so a deploy is a miss, not a
validation error. Never pickle: JSON is readable by any version and any language.

A model whose JSON loses values is refused when its codec is made, since every read
from Redis would return another model than the one stored: pydantic's JSON masks
secrets (``SecretStr``, ``SecretBytes``, ``Secret[...]``) as ``**********`` and leaves
out ``exclude=True`` fields.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar

import orjson
from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

from shipshape.scale.cache._lru import LRUCache
from shipshape.scale.cache._tiered import TieredCache, awaited

__all__ = ["ModelCache", "ModelCodec", "cached_model", "schema_hash"]

M = TypeVar("M", bound=BaseModel)
P = ParamSpec("P")


def schema_hash(model: type[BaseModel]) -> str:
    """16 hex digits of SHA-256 over ``model.model_json_schema()`` with sorted keys."""
    schema = orjson.dumps(model.model_json_schema(), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(schema).hexdigest()[:16]


def _secret_serializers() -> frozenset[Any]:
    from pydantic import types

    names = ("_serialize_secret", "_serialize_secret_field")
    return frozenset(getattr(types, name) for name in names if hasattr(types, name))


def lossy_fields(model: type[BaseModel]) -> list[str]:
    """Where ``model``'s JSON does not give back the value: masked secrets, excluded fields.

    Walks the model's core schema (nested models, lists, unions, definitions
    included). A secret whose field has its own plain serializer (e.g. a
    ``field_serializer`` revealing it) is what that serializer writes: not reported.
    """
    secrets = _secret_serializers()
    found: list[str] = []
    seen: set[int] = set()

    def walk(node: Any, where: str) -> None:
        if isinstance(node, list | tuple):
            for item in node:
                walk(item, where)
            return
        if not isinstance(node, dict) or id(node) in seen:
            return
        seen.add(id(node))
        kind = node.get("type")
        if kind in ("model", "dataclass") and isinstance(node.get("cls"), type):
            where = node["cls"].__qualname__
        if node.get("serialization_exclude") or node.get("serialization_exclude_if"):
            found.append(f"{where} has exclude=True (its value is not written)")
        serialization = node.get("serialization")
        if isinstance(serialization, dict) and serialization.get("type") == "function-plain":
            if serialization.get("function") in secrets:
                found.append(f"{where} is a secret (pydantic's JSON masks it as '**********')")
                return
            # A plain serializer replaces everything below it.
            walk(serialization.get("return_schema"), where)
            return
        for key, value in node.items():
            if key in ("metadata", "serialization", "cls", "ref", "config"):
                continue
            if key == "fields" and isinstance(value, dict):
                for name, field in value.items():
                    walk(field, f"{where}.{name}")
            else:
                walk(value, where)
        if isinstance(serialization, dict):
            walk(serialization, where)

    walk(model.__pydantic_core_schema__, model.__qualname__)
    return list(dict.fromkeys(found))


class ModelCodec(Generic[M]):
    """Instances of ``model`` as JSON bytes; ``variant`` is ``module.Class@schemahash``.

    ``TypeError`` if the model's JSON cannot give back the value (``lossy_fields``).
    """

    def __init__(self, model: type[M]) -> None:
        lossy = lossy_fields(model)
        if lossy:
            hints = []
            if any("secret" in reason for reason in lossy):
                hints.append(
                    "reveal a secret with a field_serializer(when_used='json') "
                    "if it may be stored in Redis"
                )
            if any("exclude" in reason for reason in lossy):
                hints.append("cache a model without exclude=True fields")
            raise TypeError(
                f"cannot cache {model.__qualname__}: a value read back would not equal the "
                f"value stored, since {'; '.join(lossy)}; {', and '.join(hints)}"
            )
        self.model = model
        self.variant = f"{model.__module__}.{model.__qualname__}@{schema_hash(model)}"
        self._to_json = model.__pydantic_serializer__.to_json
        self._validate_json = model.model_validate_json

    def dumps(self, value: M) -> bytes:
        if not isinstance(value, self.model):
            raise TypeError(f"expected {self.model.__qualname__}, got {type(value).__qualname__}")
        try:
            return self._to_json(value, by_alias=True, round_trip=True)
        except PydanticSerializationError as exc:
            raise TypeError(f"{self.model.__qualname__} cannot be encoded as JSON: {exc}") from exc

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
            value = await awaited(loader)
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

            def load() -> Awaitable[M | Any]:
                return function(*args, **kwargs)

            load.__qualname__ = function.__qualname__
            return await self.get_or_compute(key, load)

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
