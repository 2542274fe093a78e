"""The Redis script's integer arithmetic loses nothing, however the refill is sliced."""

from __future__ import annotations

import asyncio

import pytest

from shipshape.stores.redis import RedisStore

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def bucket_state(store: RedisStore, key: str) -> tuple[int, int, int]:
    tokens, carry, last = await store.client.hmget(store.prefix + key, "tokens", "carry", "last")
    return int(tokens or 0), int(carry or 0), int(last or 0)


@pytest.mark.parametrize("rate", [0.7, 37.3, 1 / 3, 123456.789])
async def test_many_small_refills_add_up_exactly_to_one_big_one(
    redis_url: str, redis_prefix: str, rate: float
) -> None:
    capacity = 10**9  # never reached: every refill is kept
    store = RedisStore(redis_url, prefix=redis_prefix)
    try:
        await store.take("k", capacity, rate, cost=capacity)
        _, _, started = await bucket_state(store, "k")
        for _ in range(200):  # cost 0: refill only, each slice a few microseconds
            await store.take("k", capacity, rate, cost=0)
        tokens, carry, ended = await bucket_state(store, "k")
        await store.client.delete(store.prefix + "k")
    finally:
        await store.aclose()

    # tokens in 1e-6, carry in 1e-12 tokens; rate in 1e-12 tokens per microsecond.
    refilled = tokens * 1_000_000 + carry
    assert refilled == round(rate * 1_000_000) * (ended - started)
    assert 0 <= carry < 1_000_000


async def test_concurrent_slices_add_up_exactly_too(redis_url: str, redis_prefix: str) -> None:
    capacity, rate = 10**9, 2.9
    store = RedisStore(redis_url, prefix=redis_prefix)
    try:
        await store.take("k", capacity, rate, cost=capacity)
        _, _, started = await bucket_state(store, "k")
        await asyncio.gather(*(store.take("k", capacity, rate, cost=0) for _ in range(300)))
        tokens, carry, ended = await bucket_state(store, "k")
        await store.client.delete(store.prefix + "k")
    finally:
        await store.aclose()

    assert tokens * 1_000_000 + carry == round(rate * 1_000_000) * (ended - started)


@pytest.mark.parametrize(("capacity", "rate"), [(10**9, 1e-6), (10**9, 1e-3), (10**8, 1e-6)])
async def test_buckets_at_the_documented_limits_get_an_expiry(
    redis_url: str, redis_prefix: str, capacity: int, rate: float
) -> None:
    # Emptying the largest bucket at the slowest rate takes up to 10^18 ms to refill:
    # the expiry must still be sent as an integer Redis accepts ("1e+18" is not one).
    store = RedisStore(redis_url, prefix=redis_prefix)
    try:
        decision = await store.take("k", capacity, rate, cost=capacity)
        ttl_ms = await store.client.pttl(store.prefix + "k")
    finally:
        await store.aclose()

    assert decision.allowed
    assert decision.remaining == 0
    assert ttl_ms == pytest.approx(capacity / rate * 1000, rel=1e-6)
