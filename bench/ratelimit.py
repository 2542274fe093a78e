"""Rate-limit benchmark: shipshape's token buckets against `limits` in the same run.

    uv run python bench/ratelimit.py                 # memory, and Redis at 127.0.0.1:6379
    uv run python bench/ratelimit.py --redis ''      # memory only

Memory: ``MemoryStore.take_nowait`` (the call the ASGI layer makes) against
``limits``' ``FixedWindowRateLimiter`` over ``MemoryStorage`` — each a pre-bound call
in a plain loop over the same 100 keys, limits high enough that every request passes;
interleaved rounds of equal length (``--window``), best of ``--memory-repeat``.
Goal: >= 5x. The main row refills fast, so buckets are full on arrival (most clients
are below their limit) and get a shared decision; the "draining" row refills 1
token/s, so every decision is computed and built.

Redis: ``RedisStore.take`` against ``limits.aio``'s ``FixedWindowRateLimiter`` over
its redis-py ``RedisStorage`` (one Lua script per hit, like ours), ``--tasks``
concurrent tasks on one event loop, decisions per second. Goal: >= 1.5x. Keys live
under a fresh prefix and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from limits import parse
from limits.aio.storage import RedisStorage as AsyncLimitsRedis
from limits.aio.strategies import FixedWindowRateLimiter as AsyncFixedWindow
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from shipshape.stores import MemoryStore
from shipshape.stores.redis import RedisStore, connect_sync

KEYS = [f"client:{index}" for index in range(100)]
CAPACITY = 10**9
RATE = 1e9


def line(name: str, rate: float, anchor: float | None = None) -> None:
    ratio = f"  x{rate / anchor:5.2f} vs anchor" if anchor else "  (anchor)"
    print(f"  {name:<54} {rate:>12,.0f} decisions/s{ratio}")


def verdict(goal: str, met: bool) -> None:
    print(f"  goal: {goal}: {'met' if met else 'NOT met'}")


def memory(window: float, repeat: int) -> None:
    limiter = FixedWindowRateLimiter(MemoryStorage())
    item = parse(f"{CAPACITY}/second")
    plain, draining, locked = MemoryStore(), MemoryStore(), MemoryStore(thread_safe=True)

    def limits_fixed_window(keys: list[str]) -> None:
        hit = limiter.hit
        for key in keys:
            hit(item, key)

    def shipshape_bucket(keys: list[str]) -> None:
        take = plain.take_nowait
        for key in keys:
            take(key, CAPACITY, RATE)

    def shipshape_bucket_draining(keys: list[str]) -> None:
        take = draining.take_nowait
        for key in keys:
            take(key, CAPACITY, 1.0)

    def shipshape_bucket_locked(keys: list[str]) -> None:
        take = locked.take_nowait
        for key in keys:
            take(key, CAPACITY, RATE)

    loops: dict[str, Callable[[list[str]], None]] = {
        "limits FixedWindowRateLimiter(MemoryStorage).hit": limits_fixed_window,
        "shipshape MemoryStore.take_nowait": shipshape_bucket,
        "shipshape MemoryStore.take_nowait, draining bucket": shipshape_bucket_draining,
        "shipshape MemoryStore(thread_safe=True).take_nowait": shipshape_bucket_locked,
    }
    # Every candidate gets rounds of the same length (``window`` seconds, sized from a
    # first estimate), so bursts of load on this shared machine hit each alike.
    inputs = {}
    for name, loop in loops.items():
        started = time.perf_counter()
        loop(KEYS * 20)
        per_second = len(KEYS) * 20 / (time.perf_counter() - started)
        count = max(len(KEYS), int(per_second * window))
        inputs[name] = (KEYS * (count // len(KEYS) + 1))[:count]
    best = dict.fromkeys(loops, 0.0)
    for _ in range(repeat):
        for name, loop in loops.items():
            started = time.perf_counter()
            loop(inputs[name])
            rate = len(inputs[name]) / (time.perf_counter() - started)
            best[name] = max(best[name], rate)
    anchor = best["limits FixedWindowRateLimiter(MemoryStorage).hit"]
    print(f"memory: rounds of ~{window * 1000:.0f} ms over {len(KEYS)} keys, best of {repeat}")
    for name, rate in best.items():
        line(name, rate, None if rate == anchor else anchor)
    ratio = best["shipshape MemoryStore.take_nowait"] / anchor
    verdict(f"in-memory token bucket >= 5x limits fixed window (x{ratio:.2f})", ratio >= 5)


async def concurrent_rate(
    decide: Callable[[str], Awaitable[object]], tasks: int, per_task: int
) -> float:
    async def worker(offset: int) -> None:
        for index in range(per_task):
            await decide(KEYS[(offset + index) % len(KEYS)])

    started = time.perf_counter()
    await asyncio.gather(*(worker(offset) for offset in range(tasks)))
    return tasks * per_task / (time.perf_counter() - started)


async def redis(url: str, tasks: int, per_task: int, repeat: int) -> None:
    run = uuid.uuid4().hex
    prefix, limits_prefix = f"shipshape-bench:{run}:", f"shipshape-bench-limits:{run}"
    item = parse(f"{CAPACITY}/second")
    limits_storage = AsyncLimitsRedis(
        "async+" + url, implementation="redispy", key_prefix=limits_prefix
    )
    limiter = AsyncFixedWindow(limits_storage)
    batched = RedisStore(url, prefix=prefix)
    unbatched = RedisStore(url, prefix=prefix, max_batch=1)

    async def limits_hit(key: str) -> object:
        return await limiter.hit(item, key)

    async def batched_take(key: str) -> object:
        return await batched.take(key, CAPACITY, RATE)

    async def unbatched_take(key: str) -> object:
        return await unbatched.take(key, CAPACITY, RATE)

    candidates: dict[str, Callable[[str], Awaitable[object]]] = {
        "limits.aio FixedWindowRateLimiter(RedisStorage redispy)": limits_hit,
        "shipshape RedisStore.take (auto-pipelined)": batched_take,
        "shipshape RedisStore.take (max_batch=1)": unbatched_take,
    }
    try:
        for decide in candidates.values():  # warm up: connections, script cache
            await concurrent_rate(decide, tasks, 5)
        best = dict.fromkeys(candidates, 0.0)
        for _ in range(repeat):
            for name, decide in candidates.items():
                best[name] = max(best[name], await concurrent_rate(decide, tasks, per_task))
    finally:
        await batched.aclose()
        await unbatched.aclose()
        await limits_storage.bridge.storage.aclose()  # type: ignore[attr-defined]
        client = connect_sync(url)
        for pattern in (f"{prefix}*", f"{limits_prefix}*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
        client.close()
    anchor = best["limits.aio FixedWindowRateLimiter(RedisStorage redispy)"]
    print(f"redis {url}: {tasks} tasks x {per_task} decisions, best of {repeat}")
    for name, rate in best.items():
        line(name, rate, None if rate == anchor else anchor)
    ratio = best["shipshape RedisStore.take (auto-pipelined)"] / anchor
    verdict(f"Redis token bucket >= 1.5x limits' Redis storage (x{ratio:.2f})", ratio >= 1.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=float, default=0.05, help="seconds per memory round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per Redis candidate")
    parser.add_argument("--memory-repeat", type=int, default=40)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="'' to skip")
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--per-task", type=int, default=200)
    args = parser.parse_args()
    memory(args.window, args.memory_repeat)
    if args.redis:
        asyncio.run(redis(args.redis, args.tasks, args.per_task, args.repeat))


if __name__ == "__main__":
    main()
