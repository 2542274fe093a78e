"""CPU per request of each service-benchmark app, through uvicorn's own HTTP protocol.

    uv run python bench/service_cpu.py                      # bare, shipshape, the traced apps
    uv run python bench/service_cpu.py --apps bare shipshape shipshape-no-log
    uv run python bench/service_cpu.py --apps shipshape-traced --cut span   # what a piece costs

``bench/service.py`` measures requests/s over real sockets with wrk, which on a shared
2-core machine moves by ±15 % from round to round. This one removes the network and
the load generator: each app (built by ``service_apps.py``, as there) runs in this
process behind uvicorn's ``HttpToolsProtocol`` with its lifespan started, and
``--connections`` in-memory connections each send ``GET /`` over and over; the
process CPU time per request is measured (best of ``--repeat``). What is left out is
the kernel's socket work, the same for every app, so the ratios here are higher than
wrk's; what is kept is everything Python does per request, uvicorn's header handling
included, stable to about ±2 %. Use it to decide whether a change to the layer's hot
path helps; quote wrk's figures for the goals.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
APPS = ("bare", "shipshape", "shipshape-traced", "shipshape-traced-own-span")
ABLATIONS = (
    "bare-plus-headers",
    *(f"shipshape-no-{part}" for part in ("ratelimit", "log", "metrics", "tracing")),
    "shipshape-ratio-0.01",
    "shipshape-ratio-0",
    "shipshape-traced-exported",
)
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: bench\r\n\r\n"


class _Transport(asyncio.Transport):
    """A socket that is always writable; tells the waiter when a response arrives and
    counts responses that are not ``200 OK``."""

    def __init__(self) -> None:
        super().__init__()
        self.waiter: asyncio.Future[None] | None = None
        self.closing = False
        self.failures = 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        extra = {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}
        return extra.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        head = bytes(data[:12])
        if head.startswith(b"HTTP/") and head != b"HTTP/1.1 200":
            self.failures += 1
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


async def _cpu_per_request(app: Any, requests: int, connections: int, repeat: int) -> float:
    from uvicorn.config import Config
    from uvicorn.lifespan.on import LifespanOn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    loop = asyncio.get_running_loop()
    config = Config(app, http="httptools", access_log=False, log_level="warning", lifespan="on")
    config.load()
    lifespan = LifespanOn(config)
    await lifespan.startup()
    state = ServerState()
    pairs: list[tuple[Any, _Transport]] = []
    for _ in range(connections):
        protocol = HttpToolsProtocol(
            config=config, server_state=state, app_state=lifespan.state, _loop=loop
        )
        transport = _Transport()
        protocol.connection_made(transport)
        pairs.append((protocol, transport))

    async def one_round() -> None:
        waiters = []
        for protocol, transport in pairs:
            transport.waiter = loop.create_future()
            waiters.append(transport.waiter)
            protocol.data_received(REQUEST)
        await asyncio.gather(*waiters)
        await asyncio.sleep(0)  # let each request's cycle finish

    rounds = max(1, requests // connections)
    for _ in range(max(1, rounds // 5)):
        await one_round()
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(rounds):
            await one_round()
        best = min(best, (time.process_time() - started) / (rounds * connections))
    await lifespan.shutdown()
    failures = sum(transport.failures for _, transport in pairs)
    if failures:
        raise SystemExit(f"{failures} responses were not 200 OK")
    return best * 1e6


# Where a traced request's time goes, by taking one piece away (the result is no longer
# a correct server: these only measure what a piece costs). FastAPI's telemetry parts:
# its Host-header parse, its second read of the trace context, its middleware-stack walk;
# and the span itself (a constant sampled non-recording span instead of a LightSpan).
CUTS = ("fastapi-server-attributes", "fastapi-extract", "fastapi-stack-walk", "span")


def _cut(part: str) -> None:
    from opentelemetry import context, trace

    if part == "fastapi-server-attributes":
        import fastapi.telemetry._asgi as telemetry

        telemetry._server_attributes = lambda scope: {}
    elif part == "fastapi-extract":
        import fastapi.telemetry._asgi as telemetry

        class _NoExtract:
            @staticmethod
            def extract(*args: Any, **kwargs: Any) -> Any:
                return context.Context()

        telemetry.propagate = _NoExtract  # type: ignore[attr-defined,assignment]
    elif part == "fastapi-stack-walk":
        import fastapi.telemetry._asgi as telemetry

        telemetry._legacy_otel = lambda stack: False
    elif part == "span":
        from shipshape.observe.spans import LightTracer

        constant = trace.NonRecordingSpan(trace.SpanContext(1, 2, False, trace.TraceFlags(1)))
        LightTracer.start_span = lambda self, *args, **kwargs: constant  # type: ignore[method-assign]


def _measure_one(
    kind: str, requests: int, connections: int, repeat: int, cuts: list[str] | None = None
) -> float:
    for part in cuts or ():
        _cut(part)
    os.environ["BENCH_APP"] = kind
    sys.path.insert(0, str(HERE))
    apps = importlib.import_module("service_apps")
    app = apps.create()
    # access lines go to /dev/null, as in bench/service.py
    stdout = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
        runner = asyncio.run
    try:
        return float(runner(_cpu_per_request(app, requests, connections, repeat)))
    finally:
        sys.stdout.flush()
        os.dup2(stdout, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apps", nargs="+", default=list(APPS), choices=APPS + ABLATIONS)
    parser.add_argument("--requests", type=int, default=16_000, help="per timed run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--cut",
        action="append",
        choices=CUTS,
        default=[],
        help="take this piece away in every app measured (repeatable); see CUTS",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        micros = _measure_one(args.child, args.requests, args.connections, args.repeat, args.cut)
        print(f"{micros:.3f}")
        return
    import subprocess

    results: dict[str, float] = {}
    for kind in args.apps:  # one fresh process per app: production() sets process globals
        output = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                kind,
                "--requests",
                str(args.requests),
                "--connections",
                str(args.connections),
                "--repeat",
                str(args.repeat),
                *(f"--cut={part}" for part in args.cut),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results[kind] = float(output.stdout.strip().splitlines()[-1])
        line = f"{kind:>26}: {results[kind]:7.1f} µs CPU/request"
        if "bare" in results and kind != "bare":
            line += f"   {results['bare'] / results[kind]:.2f}x bare's rate"
        print(line, flush=True)


if __name__ == "__main__":
    main()
