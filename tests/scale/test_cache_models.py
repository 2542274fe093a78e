"""Validated models in the cache: JSON in Redis, schema-keyed, and cached validation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from _cache_support import (  # type: ignore[import-not-found]
    forget_namespaces,
    namespace,
)
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_serializer,
)
from redis.asyncio import Redis

from shipshape.scale.cache import ModelCodec, TieredCache, cached_model, schema_hash


@pytest.fixture(autouse=True)
def _forget_test_keys() -> Iterator[None]:
    yield
    forget_namespaces()


class Line(BaseModel):
    sku: str
    quantity: int
    unit_price: Decimal


class Order(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    customer: str = Field(alias="customerName")
    lines: list[Line]


ORDER = Order.model_validate(
    {"id": 7, "customerName": "Ada", "lines": [{"sku": "A-1", "quantity": 2, "unit_price": "9.99"}]}
)


def run(scenario: Callable[[Redis], Awaitable[None]], url: str) -> None:
    async def main() -> None:
        client = Redis.from_url(url)
        try:
            await scenario(client)
        finally:
            await client.aclose()

    asyncio.run(main())


def order_v1() -> type[BaseModel]:
    return create_model("Order", __module__="shop.models", id=(int, ...), total=(int, ...))


def order_v2() -> type[BaseModel]:
    return create_model("Order", __module__="shop.models", id=(int, ...), total=(str, ...))


def test_models_are_stored_as_json_under_their_schema_hash(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        cache = TieredCache(client, namespace=namespace())
        orders = cached_model(Order, cache)
        await orders.set("order:7", ORDER)
        raw = await client.hget(cache.value_key("order:7"), orders.codec.variant)
        assert orders.codec.variant == f"{__name__}.Order@{schema_hash(Order)}"
        assert raw is not None
        assert orjson.loads(raw) == ORDER.model_dump(mode="json", by_alias=True)
        fresh = cached_model(Order, TieredCache(client, namespace=cache.namespace))
        assert await fresh.get("order:7") == ORDER

    run(scenario, redis_url)


def test_a_changed_model_is_a_miss_not_an_error(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        ns = namespace()
        v1, v2 = order_v1(), order_v2()
        assert v1.__qualname__ == v2.__qualname__
        assert schema_hash(v1) != schema_hash(v2)
        old_process = cached_model(v1, TieredCache(client, namespace=ns))
        new_process = cached_model(v2, TieredCache(client, namespace=ns))

        async def load_v1() -> BaseModel:
            return v1(id=1, total=100)

        new_loads = 0

        async def load_v2() -> BaseModel:
            nonlocal new_loads
            new_loads += 1
            return v2(id=1, total="100.00")

        assert await old_process.get_or_compute("order:1", load_v1) == v1(id=1, total=100)
        assert await new_process.get("order:1") is None
        assert await new_process.get_or_compute("order:1", load_v2) == v2(id=1, total="100.00")
        assert new_loads == 1
        assert new_process.cache.stats.decode_errors == 0
        assert await cached_model(v1, TieredCache(client, namespace=ns)).get("order:1") == v1(
            id=1, total=100
        )
        await new_process.invalidate("order:1")
        assert await cached_model(v1, TieredCache(client, namespace=ns)).get("order:1") is None

    run(scenario, redis_url)


def test_loader_data_is_validated_into_the_model(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        orders = cached_model(Order, TieredCache(client, namespace=namespace()))

        async def load() -> dict[str, Any]:
            return {"id": 8, "customerName": "Grace", "lines": []}

        order = await orders.get_or_compute("order:8", load)
        assert isinstance(order, Order)
        assert order.customer == "Grace"

        async def bad() -> dict[str, Any]:
            return {"id": "not a number"}

        with pytest.raises(ValidationError):
            await orders.get_or_compute("order:9", bad)
        assert await orders.get("order:9") is None

    run(scenario, redis_url)


def test_decorated_loader_is_cached_per_arguments(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        calls: list[int] = []

        @cached_model(Order, TieredCache(client, namespace=namespace()))
        async def load_order(order_id: int) -> Order:
            calls.append(order_id)
            return ORDER.model_copy(update={"id": order_id})

        first = await load_order(1)
        assert await load_order(order_id=1) == first
        assert (await load_order(2)).id == 2
        assert calls == [1, 2]

    run(scenario, redis_url)


def test_repeated_payloads_validate_from_memory_and_equal_a_fresh_validation() -> None:
    orders = cached_model(Order)
    payload = ORDER.model_dump_json(by_alias=True).encode()
    first = orders.validate_json(payload)
    again = orders.validate_json(bytes(bytearray(payload)))
    assert again is first
    assert again == Order.model_validate_json(payload)
    assert orders.validate_json(payload.decode()) == first
    assert orders.validate_json(bytearray(payload)) is first
    assert len(orders.validated) == 2


def test_invalid_payloads_raise_every_time_and_are_not_remembered() -> None:
    orders = cached_model(Order)
    for _ in range(2):
        with pytest.raises(ValidationError):
            orders.validate_json(b'{"id": "x"}')
    assert len(orders.validated) == 0


def test_payloads_above_the_size_limit_are_validated_but_not_remembered() -> None:
    orders = cached_model(Order, max_payload_bytes=10)
    payload = ORDER.model_dump_json(by_alias=True)
    assert orders.validate_json(payload) == ORDER
    assert len(orders.validated) == 0


def test_codec_refuses_another_type_and_cached_model_refuses_non_models() -> None:
    with pytest.raises(TypeError, match="expected Order"):
        ModelCodec(Order).dumps(Line(sku="x", quantity=1, unit_price=Decimal(1)))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="BaseModel subclass"):
        cached_model(dict)  # type: ignore[type-var]


class Account(BaseModel):
    id: int
    api_token: SecretStr


class Ledger(BaseModel):
    accounts: list[Account] = []


class Internal(BaseModel):
    id: int
    password_hash: str = Field(exclude=True)


class RevealedAccount(BaseModel):
    id: int
    api_token: SecretStr

    @field_serializer("api_token", when_used="json")
    def _reveal(self, token: SecretStr) -> str:
        return token.get_secret_value()


class Blob(BaseModel):
    data: bytes


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (Account, r"Account\.api_token is a secret"),
        (Ledger, r"Account\.api_token is a secret"),
        (Internal, r"Internal\.password_hash has exclude=True"),
    ],
)
def test_models_whose_json_loses_values_are_refused_when_cached(
    model: type[BaseModel], reason: str
) -> None:
    with pytest.raises(TypeError, match=f"cannot cache {model.__qualname__}: .*{reason}"):
        cached_model(model)


def test_a_secret_revealed_by_a_field_serializer_reads_back_equal(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        cache = TieredCache(client, namespace=namespace())
        account = RevealedAccount(id=1, api_token=SecretStr("tok_live_abc"))
        await cached_model(RevealedAccount, cache).set("acct:1", account)
        other = cached_model(RevealedAccount, TieredCache(client, namespace=cache.namespace))
        assert await other.get("acct:1") == account

    run(scenario, redis_url)


def test_unencodable_model_values_raise_type_error() -> None:
    async def scenario() -> None:
        blobs = cached_model(Blob)
        with pytest.raises(TypeError, match="Blob cannot be encoded as JSON") as caught:
            await blobs.set("blob", Blob(data=b"\xff"))
        assert caught.value.__cause__ is not None
        assert await blobs.get("blob") is None

    asyncio.run(scenario())


def test_a_synchronous_loader_is_refused_by_name() -> None:
    async def scenario() -> None:
        blobs = cached_model(Blob)

        def fetch_blob() -> dict[str, str]:
            return {"data": "x"}

        with pytest.raises(TypeError, match=r"loader .*fetch_blob must be async"):
            await blobs.get_or_compute("blob", fetch_blob)  # type: ignore[arg-type]

        @blobs  # type: ignore[arg-type]
        def load_blob(blob_id: int) -> Blob:
            return Blob(data=b"x")

        with pytest.raises(TypeError, match=r"loader .*load_blob must be async"):
            await load_blob(1)
        with pytest.raises(TypeError, match=r"loader .*fetch_blob must be async"):
            await TieredCache().get_or_compute("raw", fetch_blob)  # type: ignore[arg-type]

    asyncio.run(scenario())
