"""L1 + Redis: single-flight, one loader across processes, pub/sub invalidation, outages."""

from __future__ import annotations

import asyncio
import datetime
import enum
import math
import multiprocessing
import shutil
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import _cache_worker  # type: ignore[import-not-found]
import pytest
import redis
from _cache_support import (  # type: ignore[import-not-found]
    forget_namespaces,
    namespace,
)
from redis.asyncio import Redis

from shipshape.scale.cache import TieredCache
from shipshape.testing import ManualClock, RedisServer


@pytest.fixture(autouse=True)
def _forget_test_keys() -> Iterator[None]:
    yield
    forget_namespaces()


pytestmark = pytest.mark.redis


class Colour(enum.Enum):
    RED = "red"


def run(scenario: Callable[[Redis], Awaitable[None]], url: str) -> None:
    async def main() -> None:
        client = Redis.from_url(url)
        try:
            await scenario(client)
        finally:
            await client.aclose()

    asyncio.run(main())


def counting_loader(value: Any, delay: float = 0.0) -> tuple[list[int], Callable[[], Any]]:
    runs = [0]

    async def loader() -> Any:
        runs[0] += 1
        await asyncio.sleep(delay)
        return value

    return runs, loader


def test_value_is_computed_once_then_served_from_l1_then_from_redis(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        ns = namespace()
        runs, loader = counting_loader({"total": 42})
        cache = TieredCache(client, namespace=ns)
        assert await cache.get_or_compute("order:1", loader) == {"total": 42}
        assert await cache.get_or_compute("order:1", loader) == {"total": 42}
        other_process = TieredCache(client, namespace=ns)
        assert await other_process.get_or_compute("order:1", loader) == {"total": 42}
        assert runs == [1]
        assert cache.stats.loads == 1
        assert cache.stats.l1_hits == 1
        assert other_process.stats.l2_hits == 1
        assert await client.hget(cache.value_key("order:1"), "json") == b'{"total":42}'
        assert 0 < await client.pttl(cache.value_key("order:1")) <= 300_000

    run(scenario, redis_url)


def test_concurrent_cold_callers_in_one_process_await_one_load(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        runs, loader = counting_loader([1, 2, 3], delay=0.05)
        cache = TieredCache(client, namespace=namespace())
        results = await asyncio.gather(*[cache.get_or_compute("k", loader) for _ in range(100)])
        assert results == [[1, 2, 3]] * 100
        assert runs == [1]
        assert cache.stats.coalesced == 99

    run(scenario, redis_url)


def test_loader_error_reaches_every_waiter_and_is_not_cached(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        cache = TieredCache(client, namespace=namespace())
        calls = 0

        async def failing() -> Any:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.02)
            raise LookupError("order 7 not found")

        outcomes = await asyncio.gather(
            *[cache.get_or_compute("order:7", failing) for _ in range(5)], return_exceptions=True
        )
        assert calls == 1
        assert all(isinstance(outcome, LookupError) for outcome in outcomes)
        assert await client.exists(cache.value_key("order:7")) == 0
        assert await client.keys(f"{cache.namespace}:lock:*") == []
        _, loader = counting_loader("found")
        assert await cache.get_or_compute("order:7", loader) == "found"

    run(scenario, redis_url)


def start_processes(
    target: Callable[..., None], arguments: list[tuple[Any, ...]]
) -> tuple[Any, list[Any]]:
    """Start one process per argument tuple; they report on the returned queue.

    A forkserver that has imported the cache once forks them: no fork of this
    (threaded) test process, and no fresh interpreter paying the imports four times.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["shipshape.scale.cache", "_cache_worker"])
    results = context.Queue()
    processes = [context.Process(target=target, args=(*args, results)) for args in arguments]
    for process in processes:
        process.start()
    return results, processes


def receive(results: Any) -> dict[str, Any]:
    message: dict[str, Any] = results.get(timeout=60)
    assert "error" not in message, message["error"]
    return message


def finish(results: Any, processes: list[Any]) -> None:
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    results.close()
    results.join_thread()


def test_two_hundred_cold_requests_across_four_processes_run_the_loader_once(
    redis_url: str,
) -> None:
    ns = namespace()
    arguments = [(redis_url, ns, "report:daily", 50, 4)] * 4
    results, processes = start_processes(_cache_worker.stampede, arguments)
    reports = [receive(results) for _ in processes]
    finish(results, processes)

    async def scenario(client: Redis) -> None:
        assert await client.get(f"{ns}:loader-runs") == b"1"

    run(scenario, redis_url)
    values = [value for report in reports for value in report["values"]]
    assert len(values) == 200
    assert len({value["computed_by"] for value in values}) == 1
    assert sum(report["stats"]["loads"] for report in reports) == 1
    assert sum(report["stats"]["coalesced"] for report in reports) == 196


def test_invalidation_reaches_another_process_l1(redis_url: str) -> None:
    ns = namespace()

    async def fill(client: Redis) -> None:
        await TieredCache(client, namespace=ns).set("price:9", 100)

    run(fill, redis_url)
    results, processes = start_processes(_cache_worker.listen, [(redis_url, ns, "price:9")])
    assert receive(results) == {"phase": "ready", "value": 100, "in_l1": 100}

    async def invalidate(client: Redis) -> None:
        cache = TieredCache(client, namespace=ns)
        await cache.invalidate("price:9")
        assert await cache.get("price:9") is None

    run(invalidate, redis_url)
    done = receive(results)
    finish(results, processes)
    assert done["in_l1"] is None
    assert done["stats"]["invalidations_received"] == 1


def test_invalidation_reaches_every_l1_in_this_process_too(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        ns = namespace()
        async with (
            TieredCache(client, namespace=ns, l1_ttl=None) as first,
            TieredCache(client, namespace=ns, l1_ttl=None) as second,
        ):
            await first.set("flag", True)
            assert await second.get("flag") is True
            assert second.peek_local("flag") is True
            await first.invalidate("flag")
            for _ in range(200):
                if second.peek_local("flag") is None:
                    break
                await asyncio.sleep(0.01)
            assert second.peek_local("flag") is None
            assert first.peek_local("flag") is None

    run(scenario, redis_url)


def test_unreachable_redis_falls_back_to_l1_and_loader_and_says_so(free_port: int) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        cache = TieredCache.from_url(
            f"redis://127.0.0.1:{free_port}/0", namespace=namespace(), retry_after=5, clock=clock
        )
        runs, loader = counting_loader({"ok": True})
        assert await cache.get_or_compute("k", loader) == {"ok": True}
        assert await cache.get_or_compute("k", loader) == {"ok": True}
        assert runs == [1]
        assert cache.degraded
        assert cache.stats.redis_errors == 1
        assert cache.stats.redis_fallbacks == 1
        assert cache.stats.l1_hits == 1
        await cache.set("other", 1)
        assert await cache.get("other") == 1
        assert await cache.get("absent") is None
        clock.advance(5)
        assert not cache.degraded
        assert await cache.get_or_compute("k2", loader) == {"ok": True}
        assert cache.stats.redis_errors == 2
        await cache.aclose()

    asyncio.run(scenario())


def test_cache_resumes_redis_and_resubscribes_after_an_outage() -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")

    async def scenario(server: RedisServer) -> None:
        client = Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
        ns = namespace()
        cache = TieredCache(client, namespace=ns, retry_after=0.2, l1_ttl=None)
        async with cache:
            await cache.set("a", 1)
            server.kill()
            _, loader = counting_loader("during outage")
            assert await cache.get_or_compute("b", loader) == "during outage"
            assert cache.stats.redis_errors >= 1
            server.start()
            for _ in range(300):
                if cache.subscribed and not cache.degraded:
                    break
                await asyncio.sleep(0.02)
            assert cache.subscribed
            assert cache.peek_local("a") is None, (
                "L1 is cleared: invalidations may have been missed"
            )
            _, after = counting_loader("after outage")
            assert await cache.get_or_compute("c", after) == "after outage"
            assert await client.hget(cache.value_key("c"), "json") == b'"after outage"'
        await client.aclose()

    with RedisServer() as server:
        asyncio.run(scenario(server))


def test_lock_holder_that_dies_blocks_others_only_until_the_lock_expires(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        ns = namespace()
        cache = TieredCache(client, namespace=ns, lock_ttl=0.3, lock_wait=5)
        await client.set(f"{ns}:lock:json:k", "token-of-a-dead-process", px=300)
        runs, loader = counting_loader("recomputed")
        assert await cache.get_or_compute("k", loader) == "recomputed"
        assert runs == [1]
        assert cache.stats.lock_waits == 1
        assert cache.stats.lock_timeouts == 0

    run(scenario, redis_url)


def test_a_slow_loader_keeps_its_lock(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        ns = namespace()
        first = TieredCache(client, namespace=ns, lock_ttl=0.5, lock_wait=10)
        second = TieredCache(client, namespace=ns, lock_ttl=0.5, lock_wait=10)
        runs, loader = counting_loader("slow", delay=1.2)
        results = await asyncio.gather(
            first.get_or_compute("k", loader), second.get_or_compute("k", loader)
        )
        assert list(results) == ["slow", "slow"]
        assert runs == [1]
        assert first.stats.l2_hits + second.stats.l2_hits == 1

    run(scenario, redis_url)


def test_undecodable_value_in_redis_is_a_miss(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        cache = TieredCache(client, namespace=namespace())
        await client.hset(cache.value_key("k"), "json", b"\x80 not json")
        runs, loader = counting_loader("fresh")
        assert await cache.get_or_compute("k", loader) == "fresh"
        assert runs == [1]
        assert cache.stats.decode_errors == 1

    run(scenario, redis_url)


def test_memory_only_cache_needs_no_redis() -> None:
    async def scenario() -> None:
        cache = TieredCache.from_url("memory://")
        runs, loader = counting_loader(7, delay=0.01)
        assert (
            await asyncio.gather(*[cache.get_or_compute("k", loader) for _ in range(10)])
            == [7] * 10
        )
        assert runs == [1]
        await cache.invalidate("k")
        assert await cache.get("k") is None

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ttl": 0}, "ttl must be > 0"),
        ({"lock_ttl": -1}, "lock_ttl must be > 0"),
        ({"lock_wait": 0}, "lock_wait must be > 0"),
        ({"lock_ttl": float("inf")}, r"lock_ttl must be > 0 seconds \(and finite\)"),
        ({"ttl": float("nan")}, "ttl must be > 0"),
        ({"namespace": "has space"}, "namespace must be"),
    ],
)
def test_bad_options_are_rejected(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TieredCache(None, **options)


def test_values_json_cannot_hold_fail_alike_with_or_without_redis(redis_url: str) -> None:
    async def scenario(client: Redis | None) -> None:
        cache = TieredCache(client, namespace=namespace())

        async def loader() -> Any:
            return {"tags": {"a", "b"}}

        with pytest.raises(TypeError):
            await cache.get_or_compute("k", loader)
        with pytest.raises(TypeError):
            await cache.set("k", object())
        assert cache.peek_local("k") is None
        if client is not None:
            assert await client.keys(f"{cache.namespace}:*") == []

    asyncio.run(scenario(None))
    run(scenario, redis_url)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (datetime.datetime(2026, 1, 1, 12, 0), r"value is datetime\.datetime\(2026"),
        (datetime.date(2026, 1, 1), r"\(date\)"),
        (uuid.UUID(int=1), r"\(UUID\)"),
        ((1, 2), r"\(tuple\), .*use a list"),
        ({"scores": [1.0, math.nan]}, r"value\['scores'\]\[1\] is nan"),
        ([math.inf], r"value\[0\] is inf"),
        ({1: "a"}, r"has the key 1 \(int\)"),
        ({"n": [2**64]}, r"value\['n'\]\[0\] is an integer beyond 64 bits .*store it as a str"),
        (-(2**63) - 1, r"value is an integer beyond 64 bits"),
        (Colour.RED, r"\(Colour\)"),
    ],
)
def test_values_json_would_change_are_refused_alike_with_or_without_redis(
    redis_url: str, value: Any, message: str
) -> None:
    async def scenario(client: Redis | None) -> None:
        cache = TieredCache(client, namespace=namespace())

        async def loader() -> Any:
            return value

        with pytest.raises(TypeError, match=message):
            await cache.set("k", value)
        with pytest.raises(TypeError, match=message):
            await cache.get_or_compute("k", loader)
        assert cache.peek_local("k") is None
        if client is not None:
            assert await client.keys(f"{cache.namespace}:*") == []

    asyncio.run(scenario(None))
    run(scenario, redis_url)


def test_json_values_read_back_from_redis_equal_the_l1_copy(redis_url: str) -> None:
    value = {"n": 2**64 - 1, "f": -0.5, "ok": True, "none": None, "nested": [{"a": ["b"]}]}

    async def scenario(client: Redis) -> None:
        writer = TieredCache(client, namespace=namespace())
        reader = TieredCache(client, namespace=writer.namespace)
        await writer.set("k", value)
        assert await writer.get("k") == value
        assert await reader.get("k") == value

    run(scenario, redis_url)


@pytest.mark.parametrize("key", [5, b"k", None])
def test_keys_that_are_not_strings_are_refused(redis_url: str, key: Any) -> None:
    async def scenario(client: Redis | None) -> None:
        cache = TieredCache(client, namespace=namespace())

        async def loader() -> Any:
            return 1

        for call in (
            cache.set(key, "int five"),
            cache.get(key),
            cache.get_or_compute(key, loader),
            cache.invalidate(key),
        ):
            with pytest.raises(TypeError, match="cache keys are strings"):
                await call
        if client is not None:
            assert await client.keys(f"{cache.namespace}:*") == []

    asyncio.run(scenario(None))
    run(scenario, redis_url)


def test_l1_copy_expires_with_the_redis_value_or_l1_ttl(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        ns = namespace()
        await TieredCache(client, namespace=ns).set("short", 1, ttl=2)
        await TieredCache(client, namespace=ns).set("long", 2, ttl=300)
        clock = ManualClock()
        cache = TieredCache(client, namespace=ns, l1_ttl=10, clock=clock)
        assert await cache.get("short") == 1
        assert await cache.get("long") == 2
        clock.advance(2)
        assert cache.peek_local("short") is None
        assert cache.peek_local("long") == 2
        clock.advance(8)
        assert cache.peek_local("long") is None

    run(scenario, redis_url)


def test_a_full_redis_is_a_failure_not_an_error_for_callers() -> None:
    """maxmemory with Redis's default policy (noeviction) refuses writes with OOM:
    callers still get their values, and invalidation (deletes free memory) still works."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")

    async def scenario(server: RedisServer) -> None:
        client = Redis.from_url(server.url)
        cache = TieredCache(client, namespace="full", retry_after=0.05, l1_ttl=None)
        async with cache:
            await cache.set("stale", "old")
            await client.config_set("maxmemory", 1)  # full: every write refused (OOM)
            with pytest.raises(redis.exceptions.OutOfMemoryError):
                await client.set("probe", 1)
            runs, loader = counting_loader({"fresh": True})
            assert await cache.get_or_compute("k", loader) == {"fresh": True}
            assert runs == [1]
            assert cache.stats.redis_errors >= 1
            await cache.set("other", 1)
            assert await cache.get("other") == 1
            await asyncio.sleep(0.06)  # past retry_after: Redis is asked again
            await cache.invalidate("stale")
            assert await client.exists(cache.value_key("stale")) == 0
        await client.aclose()

    with RedisServer(args=("--maxmemory-policy", "noeviction")) as server:
        asyncio.run(scenario(server))


@pytest.mark.parametrize("ttl", [float("inf"), 1e20])
def test_a_ttl_beyond_what_redis_can_hold_is_clamped_not_an_error(
    redis_url: str, ttl: float
) -> None:
    async def scenario(client: Redis) -> None:
        cache = TieredCache(client, namespace=namespace(), ttl=ttl)
        await cache.set("k", "forever")
        _, loader = counting_loader("computed")
        assert await cache.get_or_compute("k2", loader, ttl=ttl) == "computed"
        assert not cache.degraded
        for key in ("k", "k2"):
            assert await client.pttl(cache.value_key(key)) > 10**15  # expires, far away
        other = TieredCache(client, namespace=cache.namespace)
        assert await other.get("k") == "forever"

    run(scenario, redis_url)
