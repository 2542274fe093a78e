"""Many processes, one bucket: the Redis store admits exactly what the rule allows.

Eight worker processes with fifty concurrent tasks each share one bucket. The
admitted total must not depend on how the requests interleave, nor on the clocks of
the processes: the script reads the Redis server's clock, never the client's.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipshape.stores.redis import RedisStore

pytestmark = [pytest.mark.redis, pytest.mark.slow]

WORKER = Path(__file__).with_name("ratelimit_worker.py")
PROCESSES = 8
TASKS = 50


class Workers:
    def __init__(self, url: str) -> None:
        self.processes = [
            subprocess.Popen(
                [sys.executable, str(WORKER), url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(PROCESSES)
        ]
        for process in self.processes:
            assert process.stdout is not None
            assert json.loads(process.stdout.readline()) == {"ready": True}

    def run(self, skews: list[float], **command: object) -> list[dict[str, int]]:
        """Send ``command`` to every worker at once (worker i with ``skews[i]``)."""
        for process, skew in zip(self.processes, skews, strict=True):
            assert process.stdin is not None
            process.stdin.write(json.dumps({**command, "tasks": TASKS, "skew": skew}) + "\n")
            process.stdin.flush()
        results = []
        for process in self.processes:
            assert process.stdout is not None
            results.append(json.loads(process.stdout.readline()))
        return results

    def close(self) -> None:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.close()
        for process in self.processes:
            process.wait(10)
            assert process.stdout is not None
            process.stdout.close()


@pytest.fixture(scope="module")
def workers(redis_url: str) -> Iterator[Workers]:
    pool = Workers(redis_url)
    yield pool
    pool.close()


NO_SKEW = [0.0] * PROCESSES
# Hours apart, forwards and backwards: as wrong as app-host clocks get.
SKEWED = [(-1) ** index * 3600.0 * (index + 1) for index in range(PROCESSES)]


@pytest.mark.parametrize("skews", [NO_SKEW, SKEWED], ids=["same-clocks", "skewed-clocks"])
def test_no_refill_admits_exactly_capacity(
    workers: Workers, redis_prefix: str, skews: list[float]
) -> None:
    results = workers.run(
        skews, prefix=redis_prefix, key="no-refill", capacity=100, rate=0.0, requests=5
    )

    assert sum(result["allowed"] for result in results) == 100
    assert sum(result["denied"] for result in results) == PROCESSES * TASKS * 5 - 100


async def empty_bucket(url: str, prefix: str, key: str, capacity: int, rate: float) -> int:
    """Spend the whole bucket in one decision; return the server time (µs) it was made."""
    store = RedisStore(url, prefix=prefix)
    try:
        assert (await store.take(key, capacity, rate, cost=capacity)).allowed
        return int(await store.client.hget(prefix + key, "last") or -1)
    finally:
        await store.aclose()


async def last_decision_time(url: str, prefix: str, key: str) -> int:
    store = RedisStore(url, prefix=prefix)
    try:
        return int(await store.client.hget(prefix + key, "last") or -1)
    finally:
        await store.aclose()


@pytest.mark.parametrize("skews", [NO_SKEW, SKEWED], ids=["same-clocks", "skewed-clocks"])
def test_refill_admits_capacity_plus_rate_times_elapsed(
    workers: Workers, redis_url: str, redis_prefix: str, skews: list[float]
) -> None:
    # A deep bucket, emptied at the start: it never fills (and never expires) mid-test.
    capacity, rate = 5000, 37.3
    started = asyncio.run(empty_bucket(redis_url, redis_prefix, "refill", capacity, rate))

    results = workers.run(
        skews, prefix=redis_prefix, key="refill", capacity=capacity, rate=rate, seconds=1.0
    )

    ended = asyncio.run(last_decision_time(redis_url, redis_prefix, "refill"))
    admitted = capacity + sum(result["allowed"] for result in results)
    expected = capacity + rate * (ended - started) / 1e6
    assert abs(admitted - expected) <= 1, (admitted, expected)
