"""Defects an outside QA pass found in the layer, each pinned by the test that found it."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.testclient import TestClient

from shipshape.service import ServiceSettings, production
from tests.service.conftest import access_lines, json_lines


def settings(**overrides: Any) -> ServiceSettings:
    base: dict[str, Any] = {"drain_seconds": 0, "tracing": {"enabled": False}}
    base.update(overrides)
    return ServiceSettings(**base)


def failing_app() -> FastAPI:
    app = FastAPI()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    return app


def test_an_unhandled_error_in_a_fastapi_app_is_a_problem_with_the_request_id() -> None:
    with TestClient(production(failing_app(), settings()), raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "boom-7"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 500
    assert body["request_id"] == "boom-7"
    assert "kaboom" not in response.text  # no internals in the body


def test_an_app_that_handles_500_itself_keeps_its_handler() -> None:
    app = failing_app()

    @app.exception_handler(Exception)
    async def mine(request: Any, error: Exception) -> Any:
        from fastapi.responses import PlainTextResponse

        return PlainTextResponse("handled by the app", status_code=500)

    with TestClient(production(app, settings()), raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.text == "handled by the app"


def test_an_unhandled_error_is_logged_once(capfd: pytest.CaptureFixture[str]) -> None:
    """The layer logs it with its traceback; after a complete response it does not
    raise it on to the server, which would log the same traceback again."""
    seen: list[BaseException] = []
    app = production(failing_app(), settings())

    async def server_side() -> None:
        messages: list[Any] = []

        async def receive() -> Any:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            messages.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/boom",
            "raw_path": b"/boom",
            "query_string": b"",
            "headers": [],
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
        }
        try:
            await app(scope, receive, send)
        except Exception as error:  # what uvicorn would log a second time
            seen.append(error)
        assert messages[0]["status"] == 500

    import asyncio

    asyncio.run(server_side())
    assert seen == []
    errors = [line for line in json_lines(capfd.readouterr().out) if "exception" in line]
    assert len(errors) == 1
    assert "kaboom" in errors[0]["exception"]


def _raw_request(port: int, head: bytes) -> tuple[bytes, bool]:
    """Send ``head`` (no body), read the response; and whether the server then closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        sock.settimeout(2)
        try:
            rest = sock.recv(65536)
            closed = rest == b""
        except TimeoutError:
            closed = False
        return data, closed


def test_a_declared_oversize_body_is_refused_and_the_connection_closed() -> None:
    import uvicorn

    app = production(FastAPI(), settings())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        head = (
            b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 5000000000\r\n\r\n"
        )
        response, closed = _raw_request(port, head)
    finally:
        server.should_exit = True
        thread.join(10)
    assert response.startswith(b"HTTP/1.1 413")
    assert b"connection: close" in response.lower()
    assert closed  # the 5 GB the client announced are never read


def test_framework_routes_without_a_route_object_get_their_template(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with TestClient(production(FastAPI(), settings())) as client:
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/docs").status_code == 200
        assert client.get("/no-such-page").status_code == 404
        metrics = client.get("/metrics").text
    routes = [line["route"] for line in access_lines(capfd.readouterr().out)]
    assert routes == ["/openapi.json", "/docs", "<unmatched>"]
    assert 'route="/openapi.json"' in metrics


def test_a_check_from_settings_replaces_the_one_the_app_declares(
    capfd: pytest.CaptureFixture[str],
) -> None:
    app = FastAPI()

    async def declared() -> bool:
        return True

    app.state.shipshape_checks = {"database": declared}
    wrapped = production(app, settings(health={"database_url": "sqlite:////nonexistent/dir/x.db"}))
    assert wrapped.state.health.names().count("database") == 1
    warnings = [line for line in json_lines(capfd.readouterr().out) if line["level"] == "WARNING"]
    assert any("'database'" in line["message"] for line in warnings)
    with TestClient(wrapped) as client:
        body = client.get("/healthz").json()
    assert body["details"]["database"] == "unhealthy"  # the settings' check ran


def test_health_bodies_do_not_show_where_a_dependency_lives() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once closed
    url = f"redis://:pw@127.0.0.1:{port}/0"
    with TestClient(production(FastAPI(), settings(health={"redis_url": url}))) as client:
        text = client.get("/readyz").text
    assert str(port) not in text
    assert "127.0.0.1" not in text
    output = orjson.loads(text)["checks"]["redis:responseTime"][0]["output"]
    assert output.startswith("ConnectionError: ")
    assert "pw" not in output


async def _post_large(app: Any, version: str, headers: list[tuple[bytes, bytes]]) -> Any:
    """POST a 2 MB body to ``/upload``; the response's start message."""
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b"x" * 2_000_000, "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": version,
        "method": "POST",
        "scheme": "https",
        "path": "/upload",
        "raw_path": b"/upload",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("test", 443),
    }
    await app(scope, receive, send)
    return next(m for m in sent if m["type"] == "http.response.start")


@pytest.mark.parametrize(("version", "closes"), [("1.1", True), ("2", False), ("3", False)])
def test_only_http1_refusals_carry_connection_close(version: str, closes: bool) -> None:
    """HTTP/2 and 3 forbid connection-specific headers (RFC 9113 8.2.2)."""
    import asyncio

    api = FastAPI()

    @api.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    app = production(api, settings())
    undeclared = [(b"transfer-encoding", b"chunked")] if version == "1.1" else []
    for headers in ([(b"content-length", b"5000000000")], undeclared):
        start = asyncio.run(_post_large(app, version, headers))
        assert start["status"] == 413
        assert ((b"connection", b"close") in start["headers"]) is closes


def test_mounted_apps_answer_unhandled_errors_as_problems_too() -> None:
    app = failing_app()
    app.mount("/sub", failing_app())
    with TestClient(production(app, settings()), raise_server_exceptions=False) as client:
        responses = [
            client.get(path, headers={"X-Request-ID": "m-1"}) for path in ("/boom", "/sub/boom")
        ]
    for response in responses:
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["request_id"] == "m-1"
