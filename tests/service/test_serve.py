"""``shipshape serve`` as a real process: probes, draining on SIGTERM, several workers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import pick_free_port
from tests.service.conftest import exported_spans, start, wait_until_live


@pytest.fixture
def stop_after() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        out, err = process.communicate(timeout=10)
        # shown when the test failed: what the server said (a worker restart, a traceback)
        print("server stdout (no access lines):")
        print("\n".join(line for line in out.decode().splitlines() if '"status":' not in line))
        print("server stderr:", err.decode()[-4000:])


def test_serve_runs_the_example_and_drains_on_sigterm(
    tmp_path: Path, free_port: int, stop_after: list[subprocess.Popen[bytes]]
) -> None:
    server = start(["--port", str(free_port)], tmp_path, SHIPSHAPE_DRAIN_SECONDS="1.5")
    stop_after.append(server)
    wait_until_live(free_port, server)
    base = f"http://127.0.0.1:{free_port}"
    assert httpx.get(f"{base}/readyz").status_code == 200
    created = httpx.post(
        f"{base}/orders",
        json={
            "customer_email": "ada@example.com",
            "items": [{"sku": "A-1", "quantity": 1, "unit_price": "1.00"}],
            "shipping_address": {"street": "x", "city": "y", "postal_code": "1", "country": "DE"},
        },
        headers={"X-Request-ID": "serve-test-1"},
    )
    assert created.status_code == 201
    assert created.headers["x-request-id"] == "serve-test-1"

    server.send_signal(signal.SIGTERM)
    draining = httpx.get(f"{base}/readyz")
    assert draining.status_code == 503
    assert any("draining" in note for note in draining.json()["notes"])
    assert httpx.get(f"{base}/livez").status_code == 200
    out_bytes, _ = server.communicate(timeout=15)
    # uvicorn re-raises the signal it handled once it has shut down gracefully
    assert server.returncode in (0, -signal.SIGTERM)
    out = out_bytes.decode()
    assert "memory://" not in out  # one worker: its buckets are the only ones
    assert '"request_id":"serve-test-1"' in out
    assert '"route":"/orders"' in out


def test_metrics_cover_every_worker(
    tmp_path: Path, free_port: int, stop_after: list[subprocess.Popen[bytes]]
) -> None:
    server = start(
        ["--port", str(free_port), "--workers", "2"], tmp_path, SHIPSHAPE_DRAIN_SECONDS="0"
    )
    stop_after.append(server)
    wait_until_live(free_port, server)
    base = f"http://127.0.0.1:{free_port}"
    answered = 0
    for _ in range(60):
        # a new connection each time, so both workers serve; a connection reset was seen
        # twice on a loaded machine (cause not found: the output above is printed then),
        # so a reset request is tried once more and only the answered ones are counted
        for attempt in range(2):
            try:
                with httpx.Client() as client:
                    assert client.get(f"{base}/").status_code == 200
            except httpx.TransportError:
                if attempt:
                    raise
                continue
            answered += 1
            break
    time.sleep(1.0)
    totals = set()
    for _ in range(6):
        with httpx.Client() as client:
            text = client.get(f"{base}/metrics").text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "http_requests_total" and sample.labels["route"] == "/":
                    total += sample.value
        totals.add(total)
    assert totals == {float(answered)}
    server.send_signal(signal.SIGTERM)
    out, _ = server.communicate(timeout=15)
    # the default memory:// store keeps one set of buckets per worker: serve says so
    (warning,) = [line for line in out.decode().splitlines() if "memory://" in line]
    assert '"level":"WARNING"' in warning
    assert "2 workers" in warning
    assert "redis://" in warning


def test_serve_answers_hostile_json_bodies_with_422_and_logs_no_secret(
    tmp_path: Path, free_port: int, stop_after: list[subprocess.Popen[bytes]]
) -> None:
    server = start(["--port", str(free_port)], tmp_path)
    stop_after.append(server)
    wait_until_live(free_port, server)
    orders = f"http://127.0.0.1:{free_port}/orders"
    json_body = {"content-type": "application/json"}
    bodies = [
        b'{"customer_email": NaN, "password": "SEKRET-1", "api_key": "SEKRET-2"}',
        b'{"customer_email": "a@example.com", "items": [{"sku": "A", "quantity": 1e999,'
        b' "unit_price": "1.00"}], "shipping_address": {"street": "x", "city": "y",'
        b' "postal_code": "1", "country": "DE"}}',
        # deep enough that FastAPI's own 422 writer runs out of stack in the server
        b'{"customer_email": ' + b"[" * 950 + b"]" * 950 + b"}",
    ]
    for body in bodies:
        response = httpx.post(orders, content=body, headers=json_body)
        assert response.status_code == 422, response.text[:300]
        assert response.json()["detail"][0]["loc"][:2] == ["body", "customer_email"] or (
            response.json()["detail"][0]["loc"][:4] == ["body", "items", 0, "quantity"]
        )
    server.send_signal(signal.SIGTERM)
    out = server.communicate(timeout=15)[0].decode()
    assert "SEKRET" not in out
    assert '"status":500' not in out
    assert '"level":"ERROR"' not in out


def test_serve_refuses_a_bad_app_reference(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shipshape", "serve", "no_such_module:app"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "no_such_module" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SHIPSHAPE_RATELIMIT__CAPACITY", "2000000000"),
        ("SHIPSHAPE_RATELIMIT__REFILL_RATE", "1e10"),
        ("SHIPSHAPE_RATELIMIT__REFILL_RATE", "inf"),
        ("SHIPSHAPE_RATELIMIT__REFILL_RATE", "nan"),
        ("SHIPSHAPE_RATELIMIT__POLICIES", '[{"route": "/", "capacity": 5, "refill_rate": 1e12}]'),
    ],
)
def test_serve_refuses_buckets_no_store_can_hold_before_it_starts(
    tmp_path: Path, name: str, value: str
) -> None:
    # the Redis store refuses them on every request: refused once, at startup, instead
    result = subprocess.run(
        [sys.executable, "-m", "shipshape", "serve", "--port", "1"],
        cwd=tmp_path,
        env={**os.environ, name: value},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "ratelimit." in result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_refuses_a_bad_store_url_in_one_line(tmp_path: Path, workers: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shipshape", "serve", "--port", "1", "--workers", workers],
        cwd=tmp_path,
        env={**os.environ, "SHIPSHAPE_RATELIMIT__STORE_URL": "redis://[::1:6379/0?password=pw1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "ratelimit.store_url" in result.stderr
    assert "pw1" not in result.stderr


def test_serve_exports_sampled_spans_over_otlp_before_it_exits(
    tmp_path: Path,
    free_port: int,
    stop_after: list[subprocess.Popen[bytes]],
    collector: tuple[int, list[tuple[str, bytes]]],
) -> None:
    """SIGTERM ends the process by the signal (uvicorn raises it again once it has shut
    down), so exit handlers never run: spans still queued for export (the batch waits
    up to ``OTEL_BSP_SCHEDULE_DELAY``, here a minute) must be flushed at shutdown."""
    collector_port, received = collector
    server = start(
        ["--port", str(free_port)],
        tmp_path,
        SHIPSHAPE_DRAIN_SECONDS="0",
        SHIPSHAPE_SERVICE_NAME="orders-under-test",
        SHIPSHAPE_TRACING__SAMPLE_RATIO="1.0",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{collector_port}",
        OTEL_BSP_SCHEDULE_DELAY="60000",
    )
    stop_after.append(server)
    wait_until_live(free_port, server)
    answer = httpx.get(f"http://127.0.0.1:{free_port}/orders", headers={"X-Request-ID": "otlp-1"})
    assert answer.status_code == 200
    server.send_signal(signal.SIGTERM)
    out, _ = server.communicate(timeout=30)
    [line] = [json.loads(x) for x in out.decode().splitlines() if '"request_id":"otlp-1"' in x]

    spans = exported_spans(received)
    [(resource, span)] = [(r, s) for r, s in spans if s.trace_id.hex() == line["trace_id"]]
    assert resource["service.name"] == "orders-under-test"
    assert span.span_id.hex() == line["span_id"]
    assert span.name == "GET /orders"
    attributes = {a.key: a.value for a in span.attributes}
    assert attributes["http.route"].string_value == "/orders"
    assert attributes["http.response.status_code"].int_value == 200
    assert span.end_time_unix_nano > span.start_time_unix_nano > 0


_PROBE_APP = """
import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/seen")
async def seen(request: Request) -> dict[str, str]:
    return {"client": request.client.host if request.client else "", "scheme": request.url.scheme}


@app.get("/slow")
async def slow() -> dict[str, str]:
    await asyncio.sleep(60)
    return {}


async def _parts():
    yield b"part 1"
    raise RuntimeError("mid-stream failure")


@app.get("/midstream")
async def midstream() -> StreamingResponse:
    return StreamingResponse(_parts())
"""


def _probe_app(tmp_path: Path) -> None:
    (tmp_path / "probe_app.py").write_text(_PROBE_APP)


def test_serve_believes_forwarded_headers_from_trusted_proxies_only(
    tmp_path: Path, free_port: int, stop_after: list[subprocess.Popen[bytes]]
) -> None:
    # the tests' client is a local peer: no proxy header of its own is believed unless
    # ratelimit.trusted_proxies says so (uvicorn's default would believe any local peer)
    _probe_app(tmp_path)
    server = start(
        ["probe_app:app", "--port", str(free_port)],
        tmp_path,
        SHIPSHAPE_RATELIMIT__CAPACITY="3",
        SHIPSHAPE_RATELIMIT__REFILL_RATE="0.01",
    )
    stop_after.append(server)
    wait_until_live(free_port, server)
    base = f"http://127.0.0.1:{free_port}"
    answers = [
        httpx.get(
            f"{base}/seen",
            headers={"X-Forwarded-For": f"203.0.113.{index}", "X-Forwarded-Proto": "https"},
        )
        for index in range(5)
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429, 429]
    assert answers[0].json() == {"client": "127.0.0.1", "scheme": "http"}

    proxied_port = pick_free_port()
    behind = start(
        ["probe_app:app", "--port", str(proxied_port)],
        tmp_path,
        SHIPSHAPE_RATELIMIT__CAPACITY="3",
        SHIPSHAPE_RATELIMIT__REFILL_RATE="0.01",
        SHIPSHAPE_RATELIMIT__TRUSTED_PROXIES='["127.0.0.0/8"]',
    )
    stop_after.append(behind)
    wait_until_live(proxied_port, behind)
    answers = [
        httpx.get(
            f"http://127.0.0.1:{proxied_port}/seen",
            headers={"X-Forwarded-For": f"203.0.113.{index}", "X-Forwarded-Proto": "https"},
        )
        for index in range(5)
    ]
    # each forwarded client has its own bucket, and the app sees the client and its scheme
    assert [answer.status_code for answer in answers] == [200] * 5
    assert answers[0].json() == {"client": "203.0.113.0", "scheme": "https"}
    for server_process in (server, behind):
        server_process.send_signal(signal.SIGTERM)
    out = behind.communicate(timeout=15)[0].decode()
    clients = [json.loads(line)["client"] for line in out.splitlines() if '"route":"/seen"' in line]
    assert clients == [f"203.0.113.{index}" for index in range(5)]


def test_a_second_sigterm_stops_serve_with_requests_still_in_flight(
    tmp_path: Path, free_port: int, stop_after: list[subprocess.Popen[bytes]]
) -> None:
    _probe_app(tmp_path)
    server = start(
        ["probe_app:app", "--port", str(free_port)], tmp_path, SHIPSHAPE_DRAIN_SECONDS="0.3"
    )
    stop_after.append(server)
    wait_until_live(free_port, server)
    with httpx.Client(timeout=90) as client:
        slow = threading.Thread(
            target=_get_quietly, args=(client, f"http://127.0.0.1:{free_port}/slow"), daemon=True
        )
        slow.start()
        time.sleep(1)  # the slow request is in flight
        server.send_signal(signal.SIGTERM)
        time.sleep(1.5)  # past drain_seconds: uvicorn now waits for the slow request
        assert server.poll() is None
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=15)
        assert time.monotonic() - started < 10


def _get_quietly(client: httpx.Client, url: str) -> None:
    """GET ``url``, which the server is expected to cut off."""
    with contextlib.suppress(httpx.TransportError):
        client.get(url)


def test_an_error_after_the_response_started_is_logged_once(
    tmp_path: Path, free_port: int, stop_after: list[subprocess.Popen[bytes]]
) -> None:
    _probe_app(tmp_path)
    server = start(["probe_app:app", "--port", str(free_port)], tmp_path)
    stop_after.append(server)
    wait_until_live(free_port, server)
    with contextlib.suppress(httpx.TransportError):  # the response is cut short
        httpx.get(f"http://127.0.0.1:{free_port}/midstream")
    server.send_signal(signal.SIGTERM)
    out = server.communicate(timeout=15)[0].decode()
    reports = [line for line in out.splitlines() if "mid-stream failure" in line]
    assert len(reports) == 1, reports
    assert "unhandled error in GET /midstream" in reports[0]
