"""Soak benchmark: the example orders API under ``shipshape serve`` at saturation.

    uv run python bench/soak.py                      # 60 s, access log to a temp file
    uv run python bench/soak.py --seconds 20 --access-log /dev/null
    uv run python bench/soak.py --mix nodb          # GET /, a 422 and a 404: no SQLite
    uv run python bench/soak.py --app pkg.mod:app   # another build of the orders API

Starts ``python -m shipshape serve`` (one uvicorn worker, the bundled orders API on a
fresh SQLite file, rate limiting off so no 429s) on a free 127.0.0.1 port, seeds a few
orders, then drives it with ``wrk`` for ``--seconds`` with a Lua script that rotates
through GET /, GET /orders, GET /orders/{id} (a seeded id), POST /orders (a valid
body), POST /orders (a body of wrong types: an intended 422) and GET on an unknown
path (an intended 404). The server's RSS (``VmRSS`` of /proc/PID/status) is sampled
every second.

Reported: requests and their statuses (wrk's view and the server's
``http_requests_total``), errors (any status other than 200/201 and the intended
404/422, 404s or 422s on the wrong route, socket errors), RSS at start, after warm-up
and at the end, and its least-squares slope in MiB per minute over the last two thirds
of the run. At the end ``/readyz`` must be 200, ``/metrics`` must count the requests
wrk completed plus the seeding requests plus at most one outstanding request per
connection (wrk stops without reading those; the scrape waits until none is in
flight), ``pydantic_validation_errors_total`` must equal the 422s, and (with a log
file) the access log must hold one line per counted request. Exit status 1 when any
check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

SEED_ORDERS = 20
VALID_ORDER: dict[str, Any] = {
    "customer_email": "soak@example.com",
    "items": [
        {"sku": "WIDGET-1", "quantity": 2, "unit_price": "12.50"},
        {"sku": "GADGET-7", "quantity": 1, "unit_price": "3.99"},
    ],
    "shipping_address": {
        "street": "1 Long Road",
        "city": "Leeds",
        "postal_code": "LS1 1AA",
        "country": "GB",
    },
    "note": "soak",
}
INVALID_ORDER: dict[str, Any] = {
    "customer_email": 42,
    "items": [{"sku": "x", "quantity": "many", "unit_price": 1.5}],
    "shipping_address": {"street": "", "city": "Leeds", "postal_code": "1", "country": "gb"},
}
# (route label in /metrics, method, status) pairs that are intended and so not errors
INTENDED = {
    ("<unmatched>", "GET", "404"),
    ("/orders", "POST", "422"),
}
OK_STATUSES = {"200", "201"}

LUA = """
local valid = [[%(valid)s]]
local invalid = [[%(invalid)s]]
local json_headers = {["Content-Type"] = "application/json"}
local kinds = {
%(kinds)s
}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  statuses = {}
end

function request()
  counter = counter + 1
  local r = kinds[(counter %% #kinds) + 1]
  if r == "ORDER" then
    return wrk.format("GET", "/orders/" .. ((counter %% %(seeded)d) + 1))
  end
  return r
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do
      total[code] = (total[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(total) do
    table.insert(parts, string.format('"%%s":%%d', code, n))
  end
  io.write(string.format(
    'SOAK {"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"timeout":%%d,"status":%%d,"latency_p50_us":%%d,"latency_p99_us":%%d,' ..
    '"latency_max_us":%%d,"statuses":{%%s}}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.errors.status,
    latency:percentile(50), latency:percentile(99), latency.max, table.concat(parts, ",")))
end
"""

MIXES = {
    # every route of the example: SQLite reads and writes, a 422 and a 404
    "orders": (
        'wrk.format("GET", "/")',
        'wrk.format("GET", "/orders?limit=5")',
        '"ORDER"',
        'wrk.format("POST", "/orders", json_headers, valid)',
        'wrk.format("GET", "/orders")',
        'wrk.format("POST", "/orders", json_headers, invalid)',
        '"ORDER"',
        'wrk.format("GET", "/no/such/route")',
    ),
    # no database: the layer and FastAPI alone (a 200, a 422 and a 404)
    "nodb": (
        'wrk.format("GET", "/")',
        'wrk.format("GET", "/")',
        'wrk.format("POST", "/orders", json_headers, invalid)',
        'wrk.format("GET", "/no/such/route")',
    ),
}

METRIC_LINE = re.compile(r'^http_requests_total\{method="([^"]*)",route="([^"]*)",status="(\d+)"\}')
VALIDATION_LINE = re.compile(r'^pydantic_validation_errors_total\{route="([^"]*)"\}')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def http(url: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


def wait_ready(base: str, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited early with status {server.returncode}")
        try:
            if http(base + "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server was not ready within {timeout:.0f} s")


def metric_counts(
    base: str, timeout: float = 30.0
) -> tuple[dict[tuple[str, str, str], int], dict[str, int]]:
    """``http_requests_total`` by (route, method, status), once nothing is in flight.

    wrk stops with a request outstanding on each connection; the server still finishes
    those, so the scrape waits for ``http_requests_in_flight`` to reach 0.
    """
    deadline = time.monotonic() + timeout
    while True:
        status, body = http(base + "/metrics")
        if status != 200:
            raise SystemExit(f"/metrics answered {status}")
        in_flight = re.search(rb"^http_requests_in_flight ([0-9.e+-]+)$", body, re.MULTILINE)
        if in_flight is None:
            raise SystemExit("/metrics has no http_requests_in_flight")
        if float(in_flight.group(1)) == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    counts: dict[tuple[str, str, str], int] = {}
    rejected: dict[str, int] = {}
    for line in body.decode().splitlines():
        match = METRIC_LINE.match(line)
        if match:
            method, route, code = match.groups()
            counts[(route, method, code)] = int(float(line.rsplit(" ", 1)[1]))
        match = VALIDATION_LINE.match(line)
        if match:
            rejected[match.group(1)] = int(float(line.rsplit(" ", 1)[1]))
    return counts, rejected


def slope_mib_per_minute(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS (KiB) against time (s), as MiB per minute."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_r = sum(r for _, r in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (r - mean_r) for t, r in samples)
    return cov / var * 60 / 1024


class Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 1.0) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self.stop_event = threading.Event()
        self.started_at = time.monotonic()

    def run(self) -> None:
        while True:
            value = rss_kib(self.pid)
            if value is not None:
                self.samples.append((time.monotonic() - self.started_at, value))
            if self.stop_event.wait(self.interval):
                return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=60, help="length of the wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t")
    parser.add_argument(
        "--access-log",
        default=None,
        help="where the server's stdout (the access log) goes; default a temp file",
    )
    parser.add_argument(
        "--mix",
        choices=sorted(MIXES),
        default="orders",
        help="orders: every route of the example (default); nodb: no database calls",
    )
    parser.add_argument(
        "--app",
        default=None,
        help="MODULE:APP to serve instead of the bundled example (it must serve its routes)",
    )
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before 'after warm-up'")
    args = parser.parse_args()
    if args.seconds < 3 or args.connections < 1 or args.threads < 1:
        parser.error("--seconds must be >= 3 and --connections/--threads >= 1")

    workdir = Path(tempfile.mkdtemp(prefix="shipshape-soak-"))
    log_path = Path(args.access_log) if args.access_log else workdir / "access.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SHIPSHAPE_RATELIMIT__ENABLED": "false",
        "SHIPSHAPE_EXAMPLE_DATABASE_URL": f"sqlite:///{workdir / 'orders.db'}",
        "SHIPSHAPE_HEALTH__CACHE_SECONDS": "1",
    }
    command = [sys.executable, "-m", "shipshape", "serve", "--port", str(port)]
    if args.app:
        command.insert(4, args.app)
    print(f"server: {' '.join(command)}  (rate limit off, stdout -> {log_path})")
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.PIPE)
    failures: list[str] = []
    try:
        wait_ready(base, server, 30)
        seeded = 0
        for _ in range(SEED_ORDERS):
            status, _ = http(base + "/orders", VALID_ORDER)
            if status != 201:
                raise SystemExit(f"seeding POST /orders answered {status}")
            seeded += 1
        script = workdir / "soak.lua"
        script.write_text(
            LUA
            % {
                "valid": json.dumps(VALID_ORDER),
                "invalid": json.dumps(INVALID_ORDER),
                "seeded": SEED_ORDERS,
                "kinds": ",\n".join(f"  {kind}" for kind in MIXES[args.mix]),
            }
        )
        sampler = Sampler(server.pid)
        rss_start = rss_kib(server.pid)
        sampler.start()
        wrk = [
            "wrk",
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{args.seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base,
        ]
        print(f"load:   {' '.join(wrk)}")
        result = subprocess.run(
            wrk, check=False, capture_output=True, text=True, timeout=args.seconds + 60
        )
        sampler.stop_event.set()
        sampler.join()
        if result.returncode != 0:
            raise SystemExit(f"wrk failed ({result.returncode}): {result.stderr.strip()}")
        summary_line = next(
            (line for line in result.stdout.splitlines() if line.startswith("SOAK ")), None
        )
        if summary_line is None:
            raise SystemExit(f"no summary from wrk:\n{result.stdout}\n{result.stderr}")
        summary: dict[str, Any] = json.loads(summary_line[5:])

        readyz, _ = http(base + "/readyz")
        counts, rejected = metric_counts(base)
        rss_end = rss_kib(server.pid)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        stderr = server.stderr.read().decode(errors="replace") if server.stderr else ""

    # -- wrk's view
    requests = int(summary["requests"])
    seconds = summary["duration_us"] / 1e6
    socket_errors = {k: int(summary[k]) for k in ("connect", "read", "write", "timeout")}
    wrk_statuses: dict[str, int] = summary["statuses"]
    print(
        f"wrk:    {requests:,} requests in {seconds:.1f} s = {requests / seconds:,.0f} req/s; "
        f"latency p50 {summary['latency_p50_us'] / 1000:.1f} ms, "
        f"p99 {summary['latency_p99_us'] / 1000:.1f} ms, "
        f"max {summary['latency_max_us'] / 1000:.1f} ms"
    )
    print(f"        statuses {dict(sorted(wrk_statuses.items()))}; socket errors {socket_errors}")
    if any(socket_errors.values()):
        failures.append(f"socket errors: {socket_errors}")
    unexpected_wrk = {
        k: v for k, v in wrk_statuses.items() if k not in {"200", "201", "404", "422"}
    }
    if unexpected_wrk:
        failures.append(f"unexpected statuses seen by wrk: {unexpected_wrk}")

    # -- the server's view
    served = sum(counts.values())
    # probes and /metrics are not counted by default; wrk does not count the requests
    # still outstanding on its connections when it stops, which the server completes
    expected = requests + seeded
    outstanding = served - expected
    print(
        f"server: http_requests_total sums to {served:,} = wrk {requests:,} + seeding "
        f"{seeded} + {outstanding} outstanding when wrk stopped"
    )
    for (route, method, code), value in sorted(counts.items()):
        print(f"        {method:<5} {route:<22} {code}  {value:>9,}")
    if not 0 <= outstanding <= args.connections:
        failures.append(
            f"/metrics counts {served} requests, wrk + seeding made {expected} "
            f"(+ at most {args.connections} outstanding)"
        )
    for (route, method, code), value in counts.items():
        if code not in OK_STATUSES and (route, method, code) not in INTENDED:
            failures.append(f"{value} x {code} on {method} {route}")
    invalid = counts.get(("/orders", "POST", "422"), 0)
    print(f"        pydantic_validation_errors_total {rejected} (POST /orders 422: {invalid:,})")
    if rejected.get("/orders", 0) != invalid or sum(rejected.values()) != invalid:
        failures.append(f"validation errors {rejected} do not match {invalid} x 422")
    print(f"        /readyz at the end: {readyz}")
    if readyz != 200:
        failures.append(f"/readyz answered {readyz} at the end")

    # -- the access log
    if args.access_log is None:
        lines = 0
        with open(log_path, "rb") as handle:
            for raw in handle:
                if b'"route":' in raw and b'"status":' in raw:
                    lines += 1
        print(f"        access log: {lines:,} request lines for {served:,} counted requests")
        if lines != served:
            failures.append(f"the access log has {lines} request lines, /metrics {served}")

    # -- memory
    samples = sampler.samples
    after_warmup = next((kib for t, kib in samples if t >= args.warmup), None)
    tail = [(t, kib) for t, kib in samples if t >= args.seconds / 3]
    slope = slope_mib_per_minute(tail)
    peak = max((kib for _, kib in samples), default=0)

    def mib(kib: int | None) -> str:
        return "?" if kib is None else f"{kib / 1024:.1f} MiB"

    print(
        f"memory: RSS start {mib(rss_start)}, after {args.warmup:.0f} s {mib(after_warmup)}, "
        f"end {mib(rss_end)}, peak {mib(peak)}; {len(samples)} samples"
    )
    print(f"        slope over the last 2/3 of the run: {slope:+.3f} MiB/min")
    step = max(1, len(samples) // 12)
    series = ", ".join(f"{t:.0f}s {kib / 1024:.1f}" for t, kib in samples[::step])
    print(f"        RSS (MiB) over time: {series}")
    if server.returncode not in (0, -signal.SIGTERM):
        failures.append(f"the server exited with {server.returncode}: {stderr[-500:]}")
    else:
        print(f"        server exited with {server.returncode} after SIGTERM")

    if failures:
        print("FAILED:\n  " + "\n  ".join(failures) + f"\n(files kept in {workdir})")
        return 1
    print("ok: no errors")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
