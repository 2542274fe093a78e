"""Probes: /livez, /readyz, /healthz over real dependency checks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from shipshape.observe.health import CheckResult, HealthChecks, safe_output
from shipshape.service import ProductionApp, ServiceSettings, production


def settings(**overrides: Any) -> ServiceSettings:
    base: dict[str, Any] = {
        "drain_seconds": 0,
        "tracing": {"enabled": False},
        "logs": {"configure_logging": False, "access_log": False},
    }
    base.update(overrides)
    return ServiceSettings(**base)


@pytest.fixture
def app() -> ProductionApp:
    return production(FastAPI(), settings(health={"cache_seconds": 0}))


def test_livez_calls_no_dependency(app: ProductionApp) -> None:
    calls = 0

    @app.health.check("db")
    async def db() -> None:
        nonlocal calls
        calls += 1

    with TestClient(app) as client:
        response = client.get("/livez")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/health+json"
    assert response.json()["status"] == "pass"
    assert calls == 0


def test_readyz_reports_each_dependency_in_health_json(app: ProductionApp) -> None:
    @app.health.check("db")
    async def db() -> None:
        return None

    @app.health.check("cache")
    async def cache() -> str:
        return "degraded"

    with TestClient(app) as client:
        response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "warn"
    assert body["health"] == "degraded"
    assert body["details"] == {"db": "healthy", "cache": "degraded"}
    assert body["checks"]["cache:responseTime"][0]["status"] == "warn"
    assert body["checks"]["db:responseTime"][0]["observedUnit"] == "ms"


def test_degraded_can_keep_serving() -> None:
    app = production(FastAPI(), settings(health={"serve_when_degraded": True}))

    @app.health.check("cache")
    async def cache() -> CheckResult:
        return CheckResult("degraded", "slow")

    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "warn"


def test_failing_and_hanging_checks_are_unhealthy_within_the_timeout() -> None:
    app = production(FastAPI(), settings(health={"timeout_seconds": 0.2}))

    @app.health.check("hangs")
    async def hangs() -> None:
        await asyncio.sleep(30)

    @app.health.check("raises")
    async def raises() -> None:
        raise ConnectionError("refused by postgresql://admin:hunter2@db.internal:5432/prod")

    with TestClient(app) as client:
        response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["details"] == {"hangs": "unhealthy", "raises": "unhealthy"}
    assert "timed out" in body["checks"]["hangs:responseTime"][0]["output"]
    assert "hunter2" not in response.text
    assert "db.internal" not in response.text


@pytest.mark.anyio
async def test_concurrent_probes_share_one_run_and_results_are_cached() -> None:
    now = [0.0]
    checks = HealthChecks(timeout=1, cache_seconds=5, clock=lambda: now[0])
    calls = 0

    @checks.check("db")
    async def db() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)

    reports = await asyncio.gather(*(checks.report() for _ in range(50)))
    assert calls == 1
    assert all(report["status"] == "healthy" for report in reports)
    await checks.report()
    assert calls == 1
    now[0] = 6.0
    await checks.report()
    assert calls == 2


def test_sql_check_against_real_postgres_hides_credentials(postgres_url: str) -> None:
    bad_url = "postgresql+psycopg://postgres:topsecret@127.0.0.1:1/nowhere"
    app = production(
        FastAPI(), settings(health={"database_url": postgres_url, "timeout_seconds": 5})
    )
    with TestClient(app) as client:
        good = client.get("/readyz")
    assert good.status_code == 200
    assert good.json()["details"] == {"database": "healthy"}

    broken = production(FastAPI(), settings(health={"database_url": bad_url}))
    with TestClient(broken) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["details"] == {"database": "unhealthy"}
    assert "topsecret" not in response.text
    assert "postgresql" not in response.text


def test_redis_and_disk_checks(redis_url: str, tmp_path: Any) -> None:
    app = production(
        FastAPI(),
        settings(
            health={"redis_url": redis_url, "disk_path": str(tmp_path), "disk_min_free_bytes": 1}
        ),
    )
    with TestClient(app) as client:
        body = client.get("/readyz").json()
    assert body["details"] == {"redis": "healthy", "disk": "healthy"}


@contextlib.contextmanager
def http_target(port: int) -> Iterator[None]:
    """A real server on ``port`` answering ``GET /ok``, in a thread."""
    import threading

    import uvicorn

    target = FastAPI()

    @target.get("/ok")
    async def ok() -> dict[str, str]:
        return {"ok": "yes"}

    server = uvicorn.Server(uvicorn.Config(target, port=port, log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        yield
    finally:
        server.should_exit = True
        thread.join(5)


def test_http_check_against_a_real_server(free_port: int) -> None:
    with http_target(free_port):
        app = production(
            FastAPI(),
            settings(
                health={
                    "http_urls": [
                        f"http://127.0.0.1:{free_port}/ok",
                        f"http://127.0.0.1:{free_port}/missing",
                    ]
                }
            ),
        )
        with TestClient(app) as client:
            body = client.get("/readyz").json()
        assert body["details"] == {"http-0": "healthy", "http-1": "unhealthy"}
        assert str(free_port) not in str(body["checks"])


def test_an_http_checks_url_never_reaches_the_logs(
    free_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    # httpx logs each request's full URL at INFO: a check's password and token with it
    url = f"http://probe:hunter2@127.0.0.1:{free_port}/ok?token=abc123"
    with http_target(free_port), caplog.at_level(logging.INFO):
        app = production(FastAPI(), settings(health={"http_urls": [url]}))
        with TestClient(app) as client:
            assert client.get("/readyz").json()["details"] == {"http-0": "healthy"}
        httpx.get(f"http://127.0.0.1:{free_port}/ok?page=2")  # the app's own requests
    assert "hunter2" not in caplog.text
    assert "abc123" not in caplog.text
    assert f"http://127.0.0.1:{free_port}/ok?page=2" in caplog.text  # still logged


@pytest.mark.anyio
async def test_readiness_is_503_until_startup_finishes() -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    @asynccontextmanager
    async def warm_up(_app: FastAPI) -> AsyncIterator[None]:
        started.set()
        await release.wait()
        yield

    app_inner = FastAPI(lifespan=warm_up)
    app = production(app_inner, settings())
    messages: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
    await messages.put({"type": "lifespan.startup"})
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return await messages.get()

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    )
    await started.wait()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/livez")).status_code == 200
        release.set()
        while not sent:
            await asyncio.sleep(0.01)
        assert sent[0]["type"] == "lifespan.startup.complete"
        assert (await client.get("/readyz")).status_code == 200
        await messages.put({"type": "lifespan.shutdown"})
        await lifespan
        assert (await client.get("/readyz")).status_code == 503


def test_safe_output_strips_urls_and_credentials() -> None:
    error = RuntimeError("cannot reach redis://:pw@cache:6379/0 (password=abc123)")
    text = safe_output(error, ["pw"])
    assert "pw@" not in text
    assert "abc123" not in text
    assert "redis://" not in text
    assert text.startswith("RuntimeError")


def test_probe_methods(app: ProductionApp) -> None:
    with TestClient(app) as client:
        assert client.post("/livez").status_code == 405
        assert client.head("/livez").status_code == 200


def test_health_checks_reject_duplicate_names() -> None:
    checks = HealthChecks()
    checks.add("db", _noop)
    with pytest.raises(ValueError, match="already registered"):
        checks.add("db", _noop)


async def _noop() -> None:
    return None


@asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never says a word: a hung dependency."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()


@pytest.mark.anyio
async def test_a_hung_database_connection_gives_up_so_later_checks_run_again() -> None:
    from shipshape.observe.health import sql_check

    async with silent_server() as port:
        check = sql_check(f"postgresql+psycopg://u@127.0.0.1:{port}/db", timeout=1)
        checks = HealthChecks(timeout=1, cache_seconds=0)
        checks.add("database", check, component_type="datastore")
        try:
            first = (await checks.results())["database"]
            assert (first.status, first.output) == ("unhealthy", "timed out after 1s")
            await asyncio.sleep(1.5)  # the connection attempt has given up by now
            second = (await checks.results())["database"]
            assert second.status == "unhealthy"
            assert "still waiting" not in second.output
            assert second.component_type == "datastore"
        finally:
            await checks.aclose()


@pytest.mark.anyio
async def test_checks_wait_as_long_as_their_timeout_not_their_clients_defaults() -> None:
    from shipshape.observe.health import http_check, redis_check

    async with silent_server() as port:
        # redis-py's client was given 1 s, httpx's default is 5 s: both are longer here
        redis = redis_check(f"redis://127.0.0.1:{port}/0", timeout=1.6)
        http = http_check(f"http://127.0.0.1:{port}/", timeout=5.6)

        async def timed(check: Any) -> float:
            started = asyncio.get_running_loop().time()
            with contextlib.suppress(Exception):
                await check()
            return asyncio.get_running_loop().time() - started

        try:
            waited = await asyncio.gather(timed(redis), timed(http))
        finally:
            await redis.aclose()
    assert waited[0] >= 1.5
    assert waited[1] >= 5.5


@pytest.mark.anyio
async def test_a_cached_reading_keeps_the_time_it_was_taken() -> None:
    from shipshape.observe.health import health_body
    from shipshape.observe.logs import utc_now

    checks = HealthChecks(timeout=1, cache_seconds=60)
    checks.add("cache", _no_op, component_type="datastore")
    first = await checks.results()
    await asyncio.sleep(1.1)
    again = await checks.results()
    report = await checks.report()
    bodies = [
        health_body(report, results, service_id="s", checked_at=utc_now())
        for results in (first, again)
    ]
    times = [body["checks"]["cache:responseTime"][0]["time"] for body in bodies]
    assert times[0] == times[1]
    assert times[0] < utc_now()


async def _no_op() -> None:
    return None
