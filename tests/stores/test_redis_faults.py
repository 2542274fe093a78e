"""When Redis goes away the store fails fast with a typed error, and comes back alone."""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections.abc import Iterator

import pytest

from shipshape.stores import StoreUnavailable
from shipshape.stores.redis import RedisStore
from shipshape.testing import RedisServer, free_port

pytestmark = pytest.mark.anyio


async def take_until_allowed(store: RedisStore, within: float) -> int:
    """Retry ``take`` until it succeeds; return how many StoreUnavailable came first."""
    deadline = time.monotonic() + within
    failures = 0
    while True:
        try:
            await store.take("k", 1000, 100.0)
            return failures
        except StoreUnavailable:
            failures += 1
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def test_killed_redis_raises_store_unavailable_then_recovers_when_back(
    redis_server: RedisServer,
) -> None:
    store = RedisStore(redis_server.url)
    try:
        assert (await store.take("k", 1000, 100.0)).allowed

        redis_server.kill()
        with pytest.raises(StoreUnavailable, match="unavailable"):
            await store.take("k", 1000, 100.0)
        with pytest.raises(StoreUnavailable):
            await store.ping()

        redis_server.start()
        await take_until_allowed(store, within=5.0)
        await store.ping()
    finally:
        await store.aclose()


async def test_every_concurrent_request_gets_the_typed_error(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url)
    redis_server.kill()
    try:
        results = await asyncio.gather(
            *(store.take(f"k{index}", 5, 1.0) for index in range(50)), return_exceptions=True
        )
    finally:
        await store.aclose()

    assert all(isinstance(result, StoreUnavailable) for result in results)


async def test_a_store_opened_before_redis_starts_works_once_it_does(redis_binary: None) -> None:
    server = RedisServer()
    store = RedisStore(server.url, retry_interval=0.1)
    try:
        with pytest.raises(StoreUnavailable):
            await store.take("k", 5, 1.0)
        server.start()
        await take_until_allowed(store, within=5.0)
    finally:
        await store.aclose()
        server.close()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung Redis)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield int(listener.getsockname()[1])


async def test_a_server_that_never_answers_fails_the_request_instead_of_hanging(
    silent_server: int,
) -> None:
    store = RedisStore(f"redis://127.0.0.1:{silent_server}/0", timeout=0.5)
    try:
        with pytest.raises(StoreUnavailable):
            await store.take("k", 5, 1.0)
        with pytest.raises(StoreUnavailable):
            await store.ping()
    finally:
        await store.aclose()


async def test_after_a_failure_calls_fail_at_once_until_the_retry_interval(
    redis_server: RedisServer,
) -> None:
    store = RedisStore(redis_server.url, retry_interval=60.0)
    try:
        redis_server.kill()
        with pytest.raises(StoreUnavailable):
            await store.take("k", 5, 1.0)
        redis_server.start()

        with pytest.raises(StoreUnavailable):
            await store.take("k", 5, 1.0)
        await store.ping()
        assert (await store.take("k", 5, 1.0)).allowed
    finally:
        await store.aclose()


async def test_a_flushed_script_cache_is_reloaded(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url)
    try:
        await store.take("k", 5, 0.0)
        await store.client.script_flush()

        decisions = await asyncio.gather(*(store.take("k", 5, 0.0) for _ in range(6)))
    finally:
        await store.aclose()

    assert sum(d.allowed for d in decisions) == 4


async def test_wrong_type_key_is_a_store_error_not_a_crash(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url, prefix="")
    try:
        await store.client.set("taken", "by something else")
        with pytest.raises(StoreUnavailable, match="WRONGTYPE"):
            await store.take("taken", 5, 1.0)
        assert (await store.take("free", 5, 1.0)).allowed
    finally:
        await store.aclose()


async def test_keys_expire_when_the_bucket_would_be_full_again(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url, prefix="")
    try:
        await store.take("slow", 10, 2.0, cost=4)
        await store.take("never", 10, 0.0, cost=4)
        await store.take("full", 10, 2.0, cost=0)

        slow_ttl = await store.client.pttl("slow")
        never_ttl = await store.client.pttl("never")
        full_exists = await store.client.exists("full")
    finally:
        await store.aclose()

    assert 1000 < slow_ttl <= 2002  # 4 tokens at 2/s: full again in 2 s
    assert never_ttl == -1  # no refill: kept until reset by hand
    assert full_exists == 0  # a full bucket is the same as no key


async def test_invalid_arguments_are_refused_before_any_io() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    try:
        for capacity, rate, cost in [(-1, 1.0, 1), (1, -1.0, 1), (1, 1.0, -1), (1, math.inf, 1)]:
            with pytest.raises(ValueError, match="capacity"):
                await store.take("k", capacity, rate, cost)
    finally:
        await store.aclose()


async def test_closing_fails_waiting_and_later_requests_instead_of_hanging(
    redis_server: RedisServer,
) -> None:
    store = RedisStore(redis_server.url)
    requests = [asyncio.ensure_future(store.take(f"k{index}", 5, 1.0)) for index in range(20)]
    await asyncio.sleep(0)  # the first request is on the wire, the rest are queued

    await store.aclose()
    results = await asyncio.gather(*requests, return_exceptions=True)

    assert all(
        isinstance(result, StoreUnavailable) or getattr(result, "allowed", False)
        for result in results
    )
    assert any(isinstance(result, StoreUnavailable) for result in results)
    with pytest.raises(StoreUnavailable, match="closed"):
        await store.take("k", 5, 1.0)
