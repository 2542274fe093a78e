"""A worker process for the distributed rate-limit tests.

Reads one JSON command per line on stdin and answers one JSON line on stdout:
``{"key", "capacity", "rate", "tasks", "requests" | "seconds", "skew"}`` runs that
many concurrent tasks against the shared bucket and answers ``{"allowed", "denied"}``.
``skew`` shifts every clock of this process (time, monotonic, perf_counter) by that
many seconds before the run: the store must not care.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import time
import types

from pydantic import BaseModel


def _import_stores_only() -> None:
    """Load ``shipshape.stores`` without the package's ``__init__`` (which imports
    every module of shipshape): eight workers start in a fraction of the time."""
    spec = importlib.util.find_spec("shipshape")
    assert spec is not None
    assert spec.submodule_search_locations is not None
    package = types.ModuleType("shipshape")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules.setdefault("shipshape", package)


_import_stores_only()

from shipshape.stores.redis import RedisStore  # noqa: E402

_REAL = {name: getattr(time, name) for name in ("time", "monotonic", "perf_counter")}
_REAL_NS = {name: getattr(time, name) for name in ("time_ns", "monotonic_ns", "perf_counter_ns")}


def skew_clocks(seconds: float) -> None:
    for name, real in _REAL.items():
        setattr(time, name, lambda real=real: real() + seconds)
    for name, real_ns in _REAL_NS.items():
        setattr(time, name, lambda real_ns=real_ns: real_ns() + int(seconds * 1e9))


class Command(BaseModel):
    prefix: str
    key: str
    capacity: int
    rate: float
    tasks: int
    requests: int = 0
    seconds: float = 0.0
    skew: float = 0.0


async def run(url: str, command: Command) -> dict[str, int]:
    skew_clocks(command.skew)
    store = RedisStore(url, prefix=command.prefix)
    counts = {"allowed": 0, "denied": 0}
    deadline = time.monotonic() + command.seconds

    async def task() -> None:
        done = 0
        while done < command.requests if command.requests else time.monotonic() < deadline:
            decision = await store.take(command.key, command.capacity, command.rate)
            counts["allowed" if decision.allowed else "denied"] += 1
            done += 1

    try:
        await asyncio.gather(*(task() for _ in range(command.tasks)))
    finally:
        await store.aclose()
    return counts


def main() -> None:
    url = sys.argv[1]
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        result = asyncio.run(run(url, Command.model_validate_json(line)))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
