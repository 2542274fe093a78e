"""Processes of the cross-process cache tests (started with multiprocessing).

``stampede``: wait until every worker is ready, then run ``tasks`` concurrent
``get_or_compute`` calls of one cold key whose loader counts its runs with ``INCR``.
``listen``: read a key into the L1, report it, then wait for a pub/sub invalidation
to drop it. Each puts dicts on ``results``; an exception is reported, not lost.
"""

from __future__ import annotations

import asyncio
import os
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis

from shipshape.scale.cache import TieredCache


def _report(results: Any, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        asyncio.run(work())
    except BaseException:
        results.put({"error": traceback.format_exc()})


def stampede(url: str, namespace: str, key: str, tasks: int, processes: int, results: Any) -> None:
    async def work() -> None:
        client = Redis.from_url(url)
        async with TieredCache(client, namespace=namespace, lock_ttl=5) as cache:
            await client.incr(f"{namespace}:ready")
            while int(await client.get(f"{namespace}:ready") or 0) < processes:
                await asyncio.sleep(0.005)

            async def loader() -> dict[str, Any]:
                await client.incr(f"{namespace}:loader-runs")
                await asyncio.sleep(0.3)
                return {"computed_by": os.getpid()}

            values = await asyncio.gather(
                *[cache.get_or_compute(key, loader) for _ in range(tasks)]
            )
        await client.aclose()
        results.put({"values": values, "stats": cache.stats.as_dict()})

    _report(results, work)


def listen(url: str, namespace: str, key: str, results: Any) -> None:
    async def work() -> None:
        client = Redis.from_url(url)
        async with TieredCache(client, namespace=namespace, l1_ttl=None) as cache:
            value = await cache.get(key)
            results.put({"phase": "ready", "value": value, "in_l1": cache.peek_local(key)})
            for _ in range(1000):
                if cache.peek_local(key) is None:
                    break
                await asyncio.sleep(0.01)
            results.put(
                {"phase": "done", "in_l1": cache.peek_local(key), "stats": cache.stats.as_dict()}
            )
        await client.aclose()

    _report(results, work)
