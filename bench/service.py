"""Throughput of the production layer against the bare app and the anchor stack.

Each app runs under one uvicorn worker (httptools, uvloop when installed) in its own
process; wrk loads it from another process on 127.0.0.1. Rounds alternate between the
apps so drift hits them alike; medians and ratios are printed.

    uv run python bench/service.py --rounds 5 --seconds 5
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

APPS = ("bare", "shipshape", "shipshape-traced", "shipshape-traced-own-span", "anchor")
ABLATIONS = (
    "bare-plus-headers",
    *(f"shipshape-no-{part}" for part in ("ratelimit", "log", "metrics", "tracing")),
    "shipshape-ratio-0.01",
    "shipshape-ratio-0",
    "shipshape-traced-exported",
)
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not come up")


def measure(kind: str, seconds: int, connections: int) -> float:
    port = free_port()
    env = {**os.environ, "BENCH_APP": kind, "PYTHONPATH": str(HERE)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "service_apps:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--http",
            "httptools",
        ],
        cwd=HERE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(port)
        subprocess.run(
            ["wrk", "-t1", f"-c{connections}", "-d1s", f"http://127.0.0.1:{port}/"],
            capture_output=True,
            check=True,
        )
        result = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", f"http://127.0.0.1:{port}/"],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if errors:
        raise RuntimeError(f"{kind}: {errors.group(1)} non-2xx responses")
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if match is None:
        raise RuntimeError(f"wrk output not understood:\n{result.stdout}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--apps", nargs="+", default=list(APPS), choices=APPS + ABLATIONS)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required: apt-get install wrk")
    results: dict[str, list[float]] = {kind: [] for kind in args.apps}
    for round_number in range(1, args.rounds + 1):
        for kind in args.apps:
            rps = measure(kind, args.seconds, args.connections)
            results[kind].append(rps)
            print(f"round {round_number} {kind:>26}: {rps:10.0f} req/s", flush=True)
    medians = {kind: statistics.median(values) for kind, values in results.items()}
    print("\nmedian requests/s and ratios")
    for kind, median in medians.items():
        line = f"{kind:>26}: {median:10.0f}"
        if "bare" in medians and kind != "bare":
            line += f"   {median / medians['bare']:.2f}x bare"
        print(line)
    if "anchor" in medians:
        for kind in ("shipshape", "shipshape-traced", "shipshape-traced-own-span"):
            if kind in medians:
                print(f"{kind} / anchor: {medians[kind] / medians['anchor']:.2f}x")


if __name__ == "__main__":
    main()
