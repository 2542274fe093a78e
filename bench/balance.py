"""Load-balancing benchmark: strategy picks and transport overhead against anchors.

    uv run python bench/balance.py

Anchors measured in the same run: ``random.choice`` for a pick, and a plain
``httpx.Client`` over the same ``MockTransport`` / the same real local server
for the transport. Ratios are ours / anchor (time per operation: >1 is slower).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from shipshape.scale.balance import LeastRequest, Rendezvous, RoundRobin, SmoothWeightedRoundRobin
from shipshape.scale.pool import Backend, Pool
from shipshape.scale.transport import BalancingTransport

BACKENDS = 10


def per_op(func: Callable[[], object], number: int, repeat: int = 5) -> float:
    """Best-of-``repeat`` seconds per call."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(number):
            func()
        best = min(best, (time.perf_counter() - started) / number)
    return best


def report(name: str, seconds: float, anchor: float) -> None:
    rate = f"{1 / seconds:>12,.0f} ops/s"
    print(f"{name:<44} {seconds * 1e6:9.2f} µs/op  {rate}  x{seconds / anchor:5.2f}")


def strategies() -> None:
    names = [f"backend-{i}" for i in range(BACKENDS)]
    weights = {name: float(i % 3 + 1) for i, name in enumerate(names)}
    load = {name: i % 4 for i, name in enumerate(names)}
    rng = random.Random(0)
    anchor = per_op(lambda: rng.choice(names), 50_000)
    print(f"strategy picks over {BACKENDS} backends (anchor: random.choice)")
    report("anchor random.choice", anchor, anchor)
    round_robin, smooth, p2c = RoundRobin(), SmoothWeightedRoundRobin(), LeastRequest(rng)
    report("RoundRobin.pick", per_op(lambda: round_robin.pick(weights, load, None), 50_000), anchor)
    report(
        "SmoothWeightedRoundRobin.pick",
        per_op(lambda: smooth.pick(weights, load, None), 50_000),
        anchor,
    )
    report("LeastRequest.pick (P2C)", per_op(lambda: p2c.pick(weights, load, None), 50_000), anchor)
    keys = itertools.cycle([f"session-{n}" for n in range(10_000)])
    hashing = Rendezvous()
    report("Rendezvous.owner", per_op(lambda: hashing.owner(next(keys), weights), 20_000), anchor)
    pool = Pool([Backend(name=n, url=f"http://{n}") for n in names], SmoothWeightedRoundRobin())

    def choose_and_finish() -> None:
        pool.finish(pool.choose(1.0).name, True, 1.0)

    report("Pool.choose + finish (weighted)", per_op(choose_and_finish, 20_000), anchor)


def mock_transport() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"ok")

    print("\nhttpx.Client.get over MockTransport (anchor: no balancing)")
    with httpx.Client(transport=httpx.MockTransport(handler)) as plain:
        anchor = per_op(lambda: plain.get("http://svc/x"), 2_000)
    report("anchor httpx.Client + MockTransport", anchor, anchor)
    urls = [f"http://10.0.0.{i}:8000" for i in range(BACKENDS)]
    extensions: dict[str, Any] = {"balance_key": "user-1"}
    for strategy in ("round-robin", "weighted", "least-request", "sticky"):
        transport = BalancingTransport(
            urls,
            strategy=strategy,
            transport=httpx.MockTransport(handler),
        )
        with httpx.Client(transport=transport) as client:
            get = client.get
            seconds = per_op(lambda: get("http://svc/x", extensions=extensions), 2_000)  # noqa: B023
        report(f"BalancingTransport {strategy}", seconds, anchor)


def real_server() -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler) for _ in range(2)]
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    urls = [f"http://127.0.0.1:{server.server_address[1]}" for server in servers]
    print("\nhttpx.Client.get to real servers on 127.0.0.1, keep-alive (anchor: direct)")
    with httpx.Client() as plain:
        anchor = per_op(lambda: plain.get(urls[0] + "/"), 1_000, repeat=3)
    report("anchor httpx.Client direct", anchor, anchor)
    with httpx.Client(transport=BalancingTransport(urls, strategy="least-request")) as client:
        seconds = per_op(lambda: client.get("http://svc/"), 1_000, repeat=3)
    report("BalancingTransport least-request, 2 servers", seconds, anchor)
    for server in servers:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    strategies()
    mock_transport()
    real_server()
