"""``shipshape serve`` probed from outside, as an HTTP client sees it."""

from __future__ import annotations

import collections
import http.client
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.service.conftest import ORDER, wait_until_live


class Server:
    """A ``shipshape serve`` process whose output is read as it comes (a full pipe
    would stall the server)."""

    def __init__(self, args: list[str], cwd: Path, port: int, **env: str) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shipshape", "serve", "--port", str(port), *args],
            cwd=cwd,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return b"".join(self.lines).decode(errors="replace")

    def wait_until_live(self, timeout: float = 60) -> None:
        wait_until_live(self.port, self.process, timeout, said=self.output)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def serve(tmp_path: Path, free_port: int) -> Iterator[list[Server]]:
    servers: list[Server] = []
    yield servers
    for server in servers:
        server.stop()


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The bundled example on one worker, shared by the tests of this module."""
    server = Server([], tmp_path_factory.mktemp("example"), _port())
    try:
        server.wait_until_live()
        yield server
    finally:
        server.stop()


def fresh_get(url: str) -> tuple[int, str]:
    """A GET on a connection of its own (so that several workers share the requests):
    the status and the body."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request("GET", parts.path or "/")
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def checked_families(text: str) -> dict[str, object]:
    """Parse an exposition strictly: HELP and TYPE for every family, no sample twice,
    histogram buckets cumulative with ``+Inf`` equal to ``_count``."""
    lines = text.splitlines()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for name, family in families.items():
        assert any(line.startswith(f"# TYPE {name}") for line in lines), name
        assert any(line.startswith(f"# HELP {name}") for line in lines), name
        buckets: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = (
            collections.defaultdict(list)
        )
        counts: dict[tuple[tuple[str, str], ...], float] = {}
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in seen, f"duplicate series {key}"
            seen.add(key)
            if family.type == "histogram":
                labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
                if sample.name.endswith("_bucket"):
                    buckets[labels].append((float(sample.labels["le"]), sample.value))
                elif sample.name.endswith("_count"):
                    counts[labels] = sample.value
        for labels, rows in buckets.items():
            values = [value for _, value in rows]
            assert values == sorted(values), (labels, rows)
            assert rows[-1][0] == math.inf, (labels, rows)
            assert rows[-1][1] == counts[labels], (labels, rows)
    return families  # type: ignore[return-value]


def requests_total(text: str, route: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "http_requests_total" and sample.labels["route"] == route:
                total += sample.value
    return total


def test_a_scrape_of_either_worker_counts_every_request_at_once(
    tmp_path: Path, free_port: int, serve: list[Server]
) -> None:
    server = Server(
        ["--workers", "2"],
        tmp_path,
        free_port,
        SHIPSHAPE_RATELIMIT__ENABLED="false",
        SHIPSHAPE_DRAIN_SECONDS="0",
    )
    serve.append(server)
    server.wait_until_live()
    time.sleep(1.0)  # both workers up
    done = 0
    for _ in range(5):
        for _ in range(30):
            assert fresh_get(f"{server.base}/")[0] == 200, server.output()
        done += 30
        # no pause: the scrape must already count what the other worker answered
        status, text = fresh_get(f"{server.base}/metrics")
        assert status == 200, server.output()
        checked_families(text)
        assert requests_total(text, "/") == done


def test_metrics_say_the_text_format_version_they_are_written_in(example: Server) -> None:
    response = httpx.get(f"{example.base}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    checked_families(response.text)


@pytest.mark.parametrize("path", ["/", "/orders", "/orders/999999"])
def test_head_is_answered_like_get_without_content(example: Server, path: str) -> None:
    got = httpx.get(f"{example.base}{path}")
    head = httpx.head(f"{example.base}{path}")
    assert head.status_code == got.status_code
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == str(len(got.content))
    assert "x-request-id" in head.headers
    text = httpx.get(f"{example.base}/metrics").text
    route = "/orders/{order_id}" if path.startswith("/orders/") else path
    heads = [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_requests_total" and sample.labels["method"] == "HEAD"
    ]
    assert any(
        s.labels["route"] == route and s.labels["status"] == str(got.status_code) for s in heads
    )


def test_allow_lists_head_wherever_get_is_served(example: Server) -> None:
    refused = httpx.request("DELETE", f"{example.base}/orders")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD, POST"


SLOW_APP = """
import asyncio
from fastapi import FastAPI

app = FastAPI()


@app.get("/slow")
async def slow(seconds: float) -> dict[str, float]:
    await asyncio.sleep(seconds)
    return {"slept": seconds}
"""


def test_readiness_stays_503_while_a_slow_request_drains_after_sigterm(
    tmp_path: Path, free_port: int, serve: list[Server]
) -> None:
    (tmp_path / "slowapp.py").write_text(SLOW_APP)
    server = Server(["slowapp:app"], tmp_path, free_port, SHIPSHAPE_DRAIN_SECONDS="0.5")
    serve.append(server)
    server.wait_until_live()
    assert httpx.get(f"{server.base}/readyz").status_code == 200
    outcome: dict[str, httpx.Response] = {}

    def slow_request() -> None:
        outcome["slow"] = httpx.get(f"{server.base}/slow", params={"seconds": 4}, timeout=30)

    worker = threading.Thread(target=slow_request)
    worker.start()
    time.sleep(0.5)
    server.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    probes = []
    # well past drain_seconds, and well before the slow request can end
    while time.monotonic() - signalled < 2.5:
        probes.append(httpx.get(f"{server.base}/readyz", timeout=5))
        time.sleep(0.2)
    worker.join(timeout=30)
    assert outcome["slow"].status_code == 200
    assert outcome["slow"].json() == {"slept": 4}
    assert {probe.status_code for probe in probes} == {503}
    assert all(any("draining" in note for note in probe.json()["notes"]) for probe in probes)
    assert server.process.wait(timeout=20) in (0, -signal.SIGTERM)


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz", "/metrics"])
def test_probes_and_scrapes_echo_the_request_id(example: Server, path: str) -> None:
    given = httpx.get(f"{example.base}{path}", headers={"X-Request-ID": "probe-1"})
    assert given.headers["x-request-id"] == "probe-1"
    hostile = httpx.get(f"{example.base}{path}", headers={"X-Request-ID": "x" * 129})
    replaced = hostile.headers["x-request-id"]
    assert replaced != "x" * 129
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", replaced)


def test_the_layers_own_refusals_carry_the_request_id(example: Server) -> None:
    declared = httpx.post(
        f"{example.base}/orders",
        content=b"{" * (1024 * 1024 + 1),
        headers={"content-type": "application/json", "X-Request-ID": "big-1"},
    )
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"
    assert declared.json()["request_id"] == "big-1"

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * 65536

    try:
        streamed = httpx.post(
            f"{example.base}/orders",
            content=chunks(),
            headers={"content-type": "application/json", "X-Request-ID": "big-2"},
        )
    except httpx.TransportError:  # the server closed while the body was still going
        return
    assert streamed.status_code == 413
    assert streamed.json()["request_id"] == "big-2"


def test_a_created_order_is_named_by_location(example: Server) -> None:
    created = httpx.post(f"{example.base}/orders", json=ORDER)
    assert created.status_code == 201
    location = created.headers["location"]
    assert location == f"/orders/{created.json()['id']}"
    fetched = httpx.get(f"{example.base}{location}")
    assert fetched.status_code == 200
    assert fetched.json() == created.json()


@pytest.mark.parametrize("price", ["1E+5", "-0.00", " 1.5 ", "1.505", "1234567", "0x10", "1_000"])
def test_money_the_schema_refuses_is_refused(example: Server, price: str) -> None:
    order = {**ORDER, "items": [{"sku": "BOOK-1", "quantity": 1, "unit_price": price}]}
    refused = httpx.post(f"{example.base}/orders", json=order)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "items", 0, "unit_price"]


def test_money_is_written_with_two_decimals_as_the_schema_says(example: Server) -> None:
    order = {
        **ORDER,
        "items": [
            {"sku": "BOOK-1", "quantity": 3, "unit_price": "1.5"},
            {"sku": "BOOK-2", "quantity": 1, "unit_price": "100000"},
        ],
    }
    created = httpx.post(f"{example.base}/orders", json=order)
    assert created.status_code == 201, created.text
    body = created.json()
    assert [item["unit_price"] for item in body["items"]] == ["1.50", "100000.00"]
    assert body["total"] == "100004.50"
    assert httpx.get(f"{example.base}/orders/{body['id']}").json() == body
    schema = httpx.get(f"{example.base}/openapi.json").json()["components"]["schemas"]
    item = schema.get("OrderItem-Output", schema.get("OrderItem"))
    for money in (item["properties"]["unit_price"], schema["Order"]["properties"]["total"]):
        assert money["type"] == "string"
        assert set(money) <= {"type", "pattern", "examples", "title", "description"}


def test_a_missing_order_answers_as_its_schema_says(example: Server) -> None:
    missing = httpx.get(f"{example.base}/orders/987654321")
    assert missing.status_code == 404
    schema = httpx.get(f"{example.base}/openapi.json").json()
    documented = schema["paths"]["/orders/{order_id}"]["get"]["responses"]["404"]
    assert missing.headers["content-type"] in documented["content"]
    assert isinstance(missing.json()["detail"], str)
