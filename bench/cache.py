"""Cache benchmark: L1 hits and cached model validation against anchors in the same run.

    uv run python bench/cache.py            # add --redis URL for the L2 section

Anchors: ``cachetools.LRUCache`` (both ``cache[key]`` and ``cache.get(key)``),
``functools.lru_cache``, pydantic ``model_validate_json``; with ``--redis``, a bare
redis-py ``GET`` round trip. Every hit loop calls a pre-bound callable over the same
keys (best of ``--repeat`` runs); validation gets a fresh ``bytes`` object per call,
as a server does, so no payload hash is reused. Ratios are ours / anchor in
operations per second (>1 is faster).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import cachetools
from pydantic import BaseModel

from shipshape.scale.cache import LRUCache, TieredCache, cached_model


def rates(
    calls: dict[str, Callable[[Any], object]], inputs: list[Any], repeat: int
) -> dict[str, float]:
    """Best-of-``repeat`` calls per second of each callable over ``inputs``.

    Rounds interleave the candidates, so a burst of load on this shared machine
    slows them all rather than one of them.
    """
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(repeat):
        for name, call in calls.items():
            started = time.perf_counter()
            for item in inputs:
                call(item)
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: len(inputs) / seconds for name, seconds in best.items()}


def line(name: str, ops: float, anchors: dict[str, float] | None = None) -> None:
    ratios = "".join(f"  x{ops / value:5.2f} {label}" for label, value in (anchors or {}).items())
    print(f"  {name:<40} {ops / 1e6:7.2f} M/s{ratios}")


def verdict(goal: str, met: bool) -> None:
    print(f"  goal: {goal}: {'met' if met else 'NOT met'}")


def l1_hits(keys_in_cache: int, repeat: int) -> None:
    keys = [f"user:{index}" for index in range(keys_in_cache)]
    inputs = (keys * (300_000 // keys_in_cache + 1))[:300_000]
    capacity = keys_in_cache * 2
    ours: LRUCache[str, int] = LRUCache(capacity)
    ours_ttl: LRUCache[str, int] = LRUCache(capacity, ttl=3600)
    anchor: cachetools.LRUCache[str, int] = cachetools.LRUCache(capacity)

    @functools.lru_cache(maxsize=capacity)
    def memoized(key: str) -> int:
        return len(key)

    for key in keys:
        ours.set(key, 1)
        ours_ttl.set(key, 1)
        anchor[key] = 1
        memoized(key)
    results = rates(
        {
            "cachetools cache[key]": anchor.__getitem__,
            "cachetools cache.get(key)": anchor.get,
            "functools.lru_cache": memoized,
            "LRUCache.get": ours.get,
            "LRUCache.get (ttl=3600)": ours_ttl.get,
        },
        inputs,
        repeat,
    )
    print(f"L1 hit, {keys_in_cache:,} keys in the cache, {len(inputs):,} hits per run")
    for name, ops in results.items():
        line(name, ops)
    subscript = results["cachetools cache[key]"]
    method = results["cachetools cache.get(key)"]
    memo = results["functools.lru_cache"]
    for name in ("LRUCache.get", "LRUCache.get (ttl=3600)"):
        ops = results[name]
        print(
            f"  {name}: x{ops / subscript:.2f} cachetools[key], x{ops / method:.2f} "
            f"cachetools.get, x{ops / memo:.2f} lru_cache"
        )
    ttl_ops = results["LRUCache.get (ttl=3600)"]
    verdict("≥ 1.5x cachetools .get(key)", ttl_ops >= 1.5 * method)
    verdict("≥ 1.5x cachetools [key]", ttl_ops >= 1.5 * subscript)
    verdict("within 2x of functools.lru_cache", ttl_ops >= memo / 2)


class Address(BaseModel):
    street: str
    city: str
    postcode: str
    country: str


class Customer(BaseModel):
    id: int
    name: str
    email: str
    address: Address


class OrderLine(BaseModel):
    sku: str
    quantity: int
    unit_price: Decimal


class Order(BaseModel):
    id: int
    created_at: datetime
    customer: Customer
    lines: list[OrderLine]
    tags: list[str]
    note: str | None = None


def sample_order() -> Order:
    address = Address(street="1 Analytical Way", city="London", postcode="N1 9GU", country="GB")
    customer = Customer(id=7, name="Ada Lovelace", email="ada@example.com", address=address)
    lines = [
        OrderLine(sku=f"SKU-{index}", quantity=index + 1, unit_price=Decimal("9.99"))
        for index in range(3)
    ]
    return Order(
        id=42,
        created_at=datetime(2026, 11, 25, 12, 0),
        customer=customer,
        lines=lines,
        tags=["priority", "gift"],
    )


def model_validation(repeat: int) -> None:
    payload = sample_order().model_dump_json().encode()
    distinct = 100
    bodies = [
        payload.replace(b'"id":42', b'"id":%d' % (1000 + index), 1) for index in range(distinct)
    ]
    inputs = [bytes(bytearray(bodies[index % distinct])) for index in range(50_000)]
    orders = cached_model(Order)
    results = rates(
        {"anchor": Order.model_validate_json, "ours": orders.validate_json}, inputs, repeat
    )
    anchor, ours = results["anchor"], results["ours"]
    print(
        f"Model validation, nested order of {len(payload)} bytes, {distinct} distinct payloads "
        f"repeated, {len(inputs):,} calls per run (fresh bytes objects)"
    )
    line("Order.model_validate_json", anchor)
    line("cached_model(Order).validate_json", ours, {"model_validate_json": anchor})
    verdict("≥ 5x model_validate_json", ours >= 5 * anchor)


async def l2_hits(url: str, repeat: int) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    cache = TieredCache(client, namespace="bench:cache", l1_capacity=1)
    await cache.set("k", {"value": 1})
    await client.set("bench:cache:raw", b'{"value":1}')
    cache.l1.clear()
    count = 2_000

    async def timed(call: Callable[[], Any]) -> float:
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            for _ in range(count):
                await call()
            best = min(best, time.perf_counter() - started)
        return count / best

    async def l2_get() -> Any:
        cache.l1.clear()
        return await cache.get("k")

    anchor = await timed(lambda: client.get("bench:cache:raw"))
    ours = await timed(l2_get)
    print(f"L2 hit (L1 emptied before each call), {count:,} calls per run, Redis at {url}")
    print(f"  {'redis-py GET':<40} {anchor:10,.0f} /s")
    print(f"  {'TieredCache.get from Redis':<40} {ours:10,.0f} /s  x{ours / anchor:5.2f}")
    await client.delete(cache.value_key("k"), "bench:cache:raw")
    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="best of this many runs")
    parser.add_argument("--redis", metavar="URL", help="also time L2 hits on this Redis")
    arguments = parser.parse_args()
    l1_hits(1_000, arguments.repeat)
    l1_hits(100_000, arguments.repeat)
    model_validation(arguments.repeat)
    if arguments.redis:
        asyncio.run(l2_hits(arguments.redis, arguments.repeat))


if __name__ == "__main__":
    main()
