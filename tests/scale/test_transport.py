"""The balancing transports: MockTransport units, then real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from shipshape.scale.pool import Backend, HealthPolicy
from shipshape.scale.transport import (
    AsyncBalancingTransport,
    BalancingTransport,
    NoHealthyBackend,
    header_key,
)

BACKENDS = ["http://10.0.0.1:8001", "http://10.0.0.2:8002", "http://10.0.0.3:8003/api"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"url": str(request.url), "host": request.headers["host"]})


def test_sync_rewrites_url_host_and_prefix() -> None:
    transport = BalancingTransport(BACKENDS, transport=httpx.MockTransport(echo))
    with httpx.Client(transport=transport, base_url="http://orders") as client:
        seen = [client.get("/orders/1", params={"q": "x"}).json() for _ in range(3)]
    assert [s["url"] for s in seen] == [
        "http://10.0.0.1:8001/orders/1?q=x",
        "http://10.0.0.2:8002/orders/1?q=x",
        "http://10.0.0.3:8003/api/orders/1?q=x",
    ]
    assert [s["host"] for s in seen] == ["10.0.0.1:8001", "10.0.0.2:8002", "10.0.0.3:8003"]


def test_weighted_strategy_over_the_transport() -> None:
    backends = [
        Backend(name="big", url="http://big:1", weight=3),
        Backend(name="small", url="http://small:1", weight=1),
    ]
    transport = BalancingTransport(
        backends, strategy="weighted", transport=httpx.MockTransport(echo)
    )
    with httpx.Client(transport=transport) as client:
        hosts = Counter(client.get("http://svc/").json()["host"] for _ in range(40))
    assert hosts == {"big:1": 30, "small:1": 10}


def test_sticky_key_from_header_keeps_a_session_on_one_backend() -> None:
    transport = BalancingTransport(
        BACKENDS,
        strategy="sticky",
        key=header_key("X-Session-Id"),
        transport=httpx.MockTransport(echo),
    )
    with httpx.Client(transport=transport) as client:
        for session in ("alice", "bob", "carol"):
            hosts = {
                client.get("http://svc/", headers={"X-Session-Id": session}).json()["host"]
                for _ in range(10)
            }
            assert len(hosts) == 1


def test_passive_ejection_cooldown_and_readmission() -> None:
    clock = Clock()
    down = {"10.0.0.1"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host in down:
            return httpx.Response(503)
        return echo(request)

    transport = BalancingTransport(
        BACKENDS[:2],
        policy=HealthPolicy(max_failures=2, ejection_time=30, slow_start=0),
        transport=httpx.MockTransport(handler),
        clock=clock,
    )
    with httpx.Client(transport=transport) as client:
        statuses = [client.get("http://svc/").status_code for _ in range(4)]
        assert statuses == [503, 200, 503, 200]
        assert [client.get("http://svc/").status_code for _ in range(5)] == [200] * 5
        assert transport.status()[0]["ejected"] is True
        down.clear()
        clock.now = 30.0
        hosts = Counter(client.get("http://svc/").json()["host"] for _ in range(4))
        assert hosts == {"10.0.0.1:8001": 2, "10.0.0.2:8002": 2}


def test_connect_error_retries_on_another_backend() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "10.0.0.1":
            raise httpx.ConnectError("refused", request=request)
        return echo(request)

    transport = BalancingTransport(BACKENDS[:2], transport=httpx.MockTransport(handler))
    with httpx.Client(transport=transport) as client:
        for _ in range(4):
            assert client.post("http://svc/", content=b"body").json()["host"] == "10.0.0.2:8002"
    assert transport.status()[0]["failures"] == 4  # round robin tries it first every time


def test_connect_error_without_retries_raises() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    transport = BalancingTransport(BACKENDS, transport=httpx.MockTransport(handler), retries=0)
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError):
        client.get("http://svc/")


def test_no_backend_available_is_an_httpx_error() -> None:
    transport = BalancingTransport(BACKENDS[:1], transport=httpx.MockTransport(echo))
    transport.drain(BACKENDS[0])
    with (
        httpx.Client(transport=transport) as client,
        pytest.raises(NoHealthyBackend, match="draining"),
    ):
        client.get("http://svc/")


def test_in_flight_ends_when_the_body_is_closed() -> None:
    def streaming(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=httpx.ByteStream(b"chunk"))

    transport = BalancingTransport(BACKENDS[:1], transport=httpx.MockTransport(streaming))
    name = BACKENDS[0]
    with httpx.Client(transport=transport) as client:
        with client.stream("GET", "http://svc/") as response:
            transport.drain(name)
            assert transport.status()[0]["in_flight"] == 1
            assert not transport.drained(name)
            response.read()
        assert transport.drained(name)


def test_check_health_marks_unready_backends_out() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/readyz" or request.url.host == "10.0.0.2":
            return httpx.Response(503)
        return echo(request)

    transport = BalancingTransport(BACKENDS, transport=httpx.MockTransport(handler))
    assert transport.check_health() == {BACKENDS[0]: True, BACKENDS[1]: False, BACKENDS[2]: False}
    with httpx.Client(transport=transport) as client:
        hosts = {client.get("http://svc/").json()["host"] for _ in range(4)}
    assert hosts == {"10.0.0.1:8001"}


def test_async_transport_balances_and_checks() -> None:
    asyncio.run(async_transport_balances_and_checks())


async def async_transport_balances_and_checks() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/readyz"):
            return httpx.Response(200 if request.url.host != "10.0.0.3" else 500)
        return echo(request)

    transport = AsyncBalancingTransport(
        BACKENDS, strategy="least-request", transport=httpx.MockTransport(handler)
    )
    async with httpx.AsyncClient(transport=transport) as client:
        assert await transport.check_health() == {
            BACKENDS[0]: True,
            BACKENDS[1]: True,
            BACKENDS[2]: False,
        }
        responses = await asyncio.gather(*(client.get("http://svc/x") for _ in range(20)))
    hosts = Counter(r.json()["host"] for r in responses)
    assert set(hosts) == {"10.0.0.1:8001", "10.0.0.2:8002"}


# --- real servers on 127.0.0.1 -------------------------------------------------------


class Server:
    """A tiny threaded HTTP server: answers its name, /readyz flips with ``ready``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ready = True
        self.hits = 0
        self.release = threading.Event()
        self.release.set()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/readyz":
                    code = 200 if owner.ready else 503
                    body = b'{"status": "ok"}' if owner.ready else b'{"status": "down"}'
                else:
                    owner.hits += 1
                    if self.path == "/slow":
                        owner.release.wait(10)
                    code, body = 200, owner.name.encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    running = [Server(f"s{i}") for i in range(3)]
    yield running
    for server in running:
        server.stop()


def test_real_servers_round_robin_readiness_and_dead_backend(servers: list[Server]) -> None:
    backends = [Backend(name=s.name, url=s.url) for s in servers]
    transport = BalancingTransport(backends, policy=HealthPolicy(max_failures=1))
    with httpx.Client(transport=transport, base_url="http://orders") as client:
        assert [client.get("/").text for _ in range(6)] == ["s0", "s1", "s2"] * 2
        servers[1].ready = False
        assert transport.check_health(timeout=2.0) == {"s0": True, "s1": False, "s2": True}
        assert {client.get("/").text for _ in range(6)} == {"s0", "s2"}
        servers[1].ready = True
        transport.check_health(timeout=2.0)
        servers[2].stop()  # connection refused: retried elsewhere, then ejected
        answers = [client.get("/").text for _ in range(6)]
        assert "s2" not in answers
        assert transport.pool.status("s2").ejections == 1


def test_real_servers_draining_lets_in_flight_finish(servers: list[Server]) -> None:
    backends = [Backend(name=s.name, url=s.url) for s in servers[:2]]
    transport = BalancingTransport(backends)
    servers[0].release.clear()
    with httpx.Client(transport=transport) as client:
        result: dict[str, str] = {}
        slow = threading.Thread(
            target=lambda: result.setdefault("text", client.get("http://svc/slow").text)
        )
        slow.start()
        while servers[0].hits == 0:
            slow.join(0.01)
        transport.drain("s0")
        assert [client.get("http://svc/").text for _ in range(3)] == ["s1"] * 3
        assert not transport.drained("s0")
        servers[0].release.set()
        slow.join(10)
        assert result["text"] == "s0"
        assert transport.drained("s0")


def test_real_servers_async_health_task(servers: list[Server]) -> None:
    asyncio.run(async_health_task(servers))


async def async_health_task(servers: list[Server]) -> None:
    transport = AsyncBalancingTransport([s.url for s in servers], strategy="least-request")
    servers[0].ready = False
    async with httpx.AsyncClient(transport=transport) as client:
        task = transport.start_health_checks(interval=0.05, timeout=2.0)
        while transport.pool.status(servers[0].url).ready:
            await asyncio.sleep(0.01)
        answers = await asyncio.gather(*(client.get(servers[0].url + "/") for _ in range(12)))
        assert {a.text for a in answers} <= {"s1", "s2"}
        servers[0].ready = True
        while not transport.pool.status(servers[0].url).ready:
            await asyncio.sleep(0.01)
        assert not task.done()
    assert task.cancelled()


def test_every_backend_refusing_raises_the_connect_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused by {request.url.host}", request=request)

    transport = BalancingTransport(BACKENDS[:2], transport=httpx.MockTransport(handler), retries=5)
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError) as caught:
        client.get("http://svc/")
    assert not isinstance(caught.value, NoHealthyBackend)
    assert "refused by 10.0.0.2" in str(caught.value)


def test_real_servers_concurrent_threads_balance_and_settle(servers: list[Server]) -> None:
    transport = BalancingTransport([s.url for s in servers], strategy="least-request")
    answers: list[str] = []

    def worker() -> None:
        for _ in range(20):
            answers.append(client.get("http://svc/").text)

    with httpx.Client(transport=transport) as client:
        threads = [threading.Thread(target=worker) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert len(answers) == 120
    assert set(answers) == {"s0", "s1", "s2"}
    status = transport.status()
    assert [row["in_flight"] for row in status] == [0, 0, 0]
    assert sum(row["requests"] for row in status) == 120
