"""Behind Redis Sentinel the store follows a new master after the old one dies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from shipshape.stores import StoreUnavailable
from shipshape.stores.redis import RedisStore, connect
from shipshape.testing import SentinelCluster

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def cluster(sentinel_binaries: None) -> Iterator[SentinelCluster]:
    with SentinelCluster(down_after_ms=1000, failover_timeout_ms=3000) as started:
        yield started


async def test_limiter_resumes_on_the_new_master_within_ten_seconds(
    cluster: SentinelCluster,
) -> None:
    store = RedisStore(cluster.url)
    cache_client = connect(cluster.url)
    try:
        assert (await store.take("k", 100, 0.0)).allowed
        await cache_client.set("plain", "before")
        # Replication is asynchronous: wait until the replica has both writes, or the
        # failover may (legitimately) lose them.
        assert await cache_client.wait(1, 2000) == 1
        old_master = cluster.master_address()

        cluster.server_at(old_master).kill()
        killed = time.monotonic()
        failures = 0
        while True:
            try:
                decision = await store.take("k", 100, 0.0)
                break
            except StoreUnavailable:
                failures += 1
                assert time.monotonic() - killed < 10, "no new master within 10 s"
                await asyncio.sleep(0.1)

        assert failures > 0  # the old master really was gone for a while
        assert cluster.master_address() != old_master
        # The replica had the bucket (one token spent) when it was promoted.
        assert decision.allowed
        assert decision.remaining == 98
        assert await cache_client.get("plain") == b"before"
    finally:
        await store.aclose()
        await cache_client.aclose()


async def test_a_demoted_master_is_left_for_the_new_one(cluster: SentinelCluster) -> None:
    store = RedisStore(cluster.url)
    try:
        assert (await store.take("k", 10, 0.0)).allowed
        assert await store.client.wait(1, 2000) == 1
        old_master = cluster.master_address()
        replica = next(server for server in cluster.servers if server.address != old_master)
        # A manual failover demotes the old master to a read-only replica that stays up:
        # connections to it must notice READONLY and move to the new master.
        new_master = cluster.failover()
        deadline = time.monotonic() + 10
        while True:
            try:
                decision = await store.take("k", 10, 0.0)
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "store never moved to the new master"
                await asyncio.sleep(0.1)

        assert new_master == replica.address
        assert decision.allowed
        assert decision.remaining == 8
    finally:
        await store.aclose()
