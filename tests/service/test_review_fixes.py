"""Regressions found in review of the production layer, each pinned by a test."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI, Request, WebSocket
from pydantic import BaseModel
from starlette.testclient import TestClient

from shipshape.observe.health import HealthChecks, sql_check
from shipshape.observe.logs import JsonFormatter, Redactor
from shipshape.observe.metrics import MetricsRegistry
from shipshape.service import ServiceSettings, production
from shipshape.service.limits import ClientKeys
from tests.service.conftest import access_lines

Message = MutableMapping[str, Any]


def settings(**overrides: Any) -> ServiceSettings:
    base: dict[str, Any] = {
        "drain_seconds": 0,
        "tracing": {"enabled": False},
        "logs": {"configure_logging": False},
    }
    base.update(overrides)
    return ServiceSettings(**base)


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.api_route("/echo", methods=["GET", "POST", "DELETE"])
    async def echo(request: Request) -> dict[str, int]:
        return {"read": len(await request.body())}

    return app


@pytest.mark.anyio
async def test_readiness_without_a_lifespan_turns_ready_on_the_first_probe() -> None:
    app = production(FastAPI(), settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        statuses = [(await client.get("/readyz")).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]


@pytest.mark.anyio
async def test_a_cancelled_probe_does_not_cancel_the_others_waiting_on_the_same_run() -> None:
    checks = HealthChecks(timeout=5, cache_seconds=0)
    release = asyncio.Event()

    @checks.check("slow")
    async def slow() -> None:
        await release.wait()

    leader = asyncio.ensure_future(checks.results())
    await asyncio.sleep(0.01)
    follower = asyncio.ensure_future(checks.results())
    await asyncio.sleep(0.01)
    leader.cancel()
    await asyncio.sleep(0.01)
    release.set()
    results = await follower
    assert results["slow"].status == "healthy"
    assert leader.cancelled()


async def _call(app: Any, method: str, chunks: list[bytes], headers: list[Any]) -> list[Message]:
    sent: list[Message] = []
    queue = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    queue.append({"type": "http.request", "body": b"", "more_body": False})

    async def receive() -> Message:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "2", "method": method,
        "scheme": "http", "path": "/echo", "raw_path": b"/echo", "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": None,
    }  # fmt: skip
    await app(scope, receive, send)
    return sent


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "no-length-header"])
async def test_bodies_of_undeclared_length_are_limited_for_every_method(
    method: str, chunked: bool
) -> None:
    app = production(echo_app(), settings(max_body_bytes=1000))
    headers = [(b"transfer-encoding", b"chunked")] if chunked else []
    sent = await _call(app, method, [b"x" * 500] * 10, headers)
    starts = [message for message in sent if message["type"] == "http.response.start"]
    assert [start["status"] for start in starts] == [413]


def test_counters_never_go_down_between_scrapes_of_different_workers(tmp_path: Path) -> None:
    registries = [MetricsRegistry(str(tmp_path), flush_interval=3600) for _ in range(2)]
    counters = [r.counter("jobs_total", "Jobs.", ("kind",)) for r in registries]
    for registry in registries:
        registry.start()
    try:
        totals = []
        for round_number in range(5):
            for worker, counter in enumerate(counters):
                counter.inc(("a",), 10 * (worker + 1) + round_number)
            for registry in (registries[round_number % 2], registries[(round_number + 1) % 2]):
                text = registry.exposition().decode()
                line = next(x for x in text.splitlines() if x.startswith("jobs_total{"))
                totals.append(float(line.rsplit(" ", 1)[1]))
        assert totals == sorted(totals)
        assert totals[-1] == sum(sum(10 * (w + 1) + r for r in range(5)) for w in range(2))
        names = {path.name for path in tmp_path.glob("*.json")}
        assert len(names) == 2, "each process writes a file of its own"
    finally:
        for registry in registries:
            registry.stop()


def test_a_foreign_or_stale_snapshot_never_breaks_a_scrape(tmp_path: Path) -> None:
    registry = MetricsRegistry(str(tmp_path))
    histogram = registry.histogram("latency_seconds", "Latency.", ("route",), buckets=(0.1, 1.0))
    histogram.observe(("/",), 0.05)
    registry.start()
    try:
        (tmp_path / "1-old.json").write_bytes(
            orjson.dumps({"latency_seconds": [[["/"], [1, 2, 3, 4, 5, 6, 7]]], "x": 3})
        )
        (tmp_path / "2-junk.json").write_bytes(b"{not json")
        (tmp_path / "3-odd.json").write_bytes(orjson.dumps({"latency_seconds": [["/", "oops"]]}))
        text = registry.exposition().decode()
    finally:
        registry.stop()
    assert 'latency_seconds_count{route="/"} 1.0' in text


def test_redaction_reaches_models_dataclasses_header_pairs_and_depth() -> None:
    class Credentials(BaseModel):
        user: str
        password: str

    @dataclasses.dataclass
    class Client:
        name: str
        api_key: str

    deep: Any = "deep-secret"
    for _ in range(40):
        deep = {"level": deep}
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello", None, None)
    record.__dict__.update(
        {
            "creds": Credentials(user="ada", password="hunter2"),
            "client": Client(name="c", api_key="sk-live-123"),
            "headers": [(b"authorization", b"Bearer abc"), (b"accept", b"*/*")],
            "nested": deep,
        }
    )
    line = JsonFormatter(Redactor(["password", "api_key", "authorization"])).format(record)
    for secret in ("hunter2", "sk-live-123", "Bearer abc", "deep-secret"):
        assert secret not in line
    assert '"user":"ada"' in line


def test_probes_are_never_rate_limited_even_when_logged() -> None:
    app = production(
        FastAPI(),
        settings(ratelimit={"capacity": 2, "refill_rate": 0.001}, logs={"log_probes": True}),
    )
    with TestClient(app) as client:
        statuses = {client.get(path).status_code for path in ["/livez", "/metrics"] * 5}
    assert statuses == {200}


def test_logged_probes_are_labelled_with_their_paths(capfd: pytest.CaptureFixture[str]) -> None:
    app = production(FastAPI(), settings(logs={"log_probes": True}))
    with TestClient(app) as client:
        for path in ("/livez", "/readyz", "/metrics"):
            assert client.get(path).status_code == 200
        scrape = client.get("/metrics").text
    lines = access_lines(capfd.readouterr().out)
    assert [line["route"] for line in lines] == ["/livez", "/readyz", "/metrics", "/metrics"]
    assert 'http_requests_total{method="GET",route="/livez",status="200"} 1.0' in scrape
    assert "<unmatched>" not in scrape


def test_exempt_paths_match_whole_segments() -> None:
    app = production(
        FastAPI(),
        settings(ratelimit={"capacity": 1, "refill_rate": 0.001, "exempt_paths": ["/static"]}),
    )
    with TestClient(app) as client:
        assert {client.get("/static/a.css").status_code for _ in range(3)} == {404}
        assert client.get("/staticX").status_code == 404
        assert client.get("/staticX").status_code == 429


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        (b"203.0.113.7:51234", "203.0.113.7"),
        (b"[2001:db8::1]:443", "2001:db8::1"),
        (b"198.51.100.2, ::ffff:10.0.0.9", "198.51.100.2"),
        (b"not-an-ip, 10.0.0.9", "10.0.0.1"),
    ],
)
def test_forwarded_hops_with_ports_and_mapped_addresses(forwarded: bytes, expected: str) -> None:
    keys = ClientKeys("client", ["10.0.0.0/8"])
    assert keys.client_address({"client": ("10.0.0.1", 80)}, forwarded) == expected


def test_a_trusted_unix_socket_proxy() -> None:
    keys = ClientKeys("client", ["unix"])
    assert keys.client_address({"client": None}, b"203.0.113.5") == "203.0.113.5"
    assert ClientKeys("client", []).client_address({"client": None}, b"203.0.113.5") == "unknown"


@pytest.fixture
def blackhole_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])


@pytest.mark.anyio
async def test_a_blackholed_database_does_not_pile_up_check_threads(blackhole_port: int) -> None:
    check = sql_check(f"postgresql+psycopg://u@127.0.0.1:{blackhole_port}/db")
    checks = HealthChecks(timeout=0.3, cache_seconds=0)
    checks.add("database", check)
    try:
        first = (await checks.results())["database"]
        second = (await checks.results())["database"]
    finally:
        await checks.aclose()
    assert first.status == "unhealthy"
    assert "timed out" in first.output
    assert second.status == "unhealthy"
    assert "still waiting" in second.output
    assert second.duration_ms < 250


def test_an_app_that_sends_no_response_gets_a_logged_500(capfd: pytest.CaptureFixture[str]) -> None:
    async def silent(scope: Any, receive: Any, send: Any) -> None:
        return None

    with TestClient(production(silent, settings())) as client:
        response = client.get("/x")
    assert response.status_code == 500
    [line] = access_lines(capfd.readouterr().out)
    assert line["status"] == 500


@pytest.mark.anyio
async def test_a_request_cancelled_midway_is_logged_as_499(
    capfd: pytest.CaptureFixture[str],
) -> None:
    started = asyncio.Event()

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        started.set()
        await asyncio.sleep(30)

    app = production(slow, settings())
    task = asyncio.ensure_future(_call(app, "GET", [], []))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [line] = access_lines(capfd.readouterr().out)
    assert line["status"] == 499


def test_behind_a_trusted_proxy_the_app_sees_the_client_and_its_scheme() -> None:
    api = FastAPI()

    @api.get("/seen")
    async def seen(request: Request) -> dict[str, str]:
        return {
            "client": request.client.host if request.client else "",
            "scheme": request.url.scheme,
        }

    @api.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        host = websocket.client.host if websocket.client else ""
        await websocket.send_json({"client": host, "scheme": websocket.url.scheme})
        await websocket.close()

    forwarded = {"X-Forwarded-For": "203.0.113.9, 10.0.0.2", "X-Forwarded-Proto": "https"}
    trusting = production(
        api, settings(ratelimit={"trusted_proxies": ["127.0.0.0/8", "10.0.0.0/8"]})
    )
    with TestClient(trusting, client=("127.0.0.1", 5000)) as client:
        assert client.get("/seen", headers=forwarded).json() == {
            "client": "203.0.113.9",
            "scheme": "https",
        }
        with client.websocket_connect("/ws", headers=forwarded) as socket:
            assert socket.receive_json() == {"client": "203.0.113.9", "scheme": "wss"}
    # no trusted proxies: the headers are the client's own word, and not believed
    with TestClient(production(api, settings()), client=("127.0.0.1", 5000)) as client:
        assert client.get("/seen", headers=forwarded).json() == {
            "client": "127.0.0.1",
            "scheme": "http",
        }
