"""The production layer around a FastAPI app: ids, logs, limits, body size, errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import BackgroundTasks, FastAPI
from pydantic import BaseModel, SecretStr
from starlette.testclient import TestClient

from shipshape.service import ServiceSettings, production
from tests.service.conftest import ORDER, access_lines, json_lines


class Item(BaseModel):
    name: str
    price: float


def make_app() -> FastAPI:
    app = FastAPI()
    log = logging.getLogger("tests.app")

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, Any]:
        log.info("reading item", extra={"item_id": item_id, "password": "hunter2"})
        return {"id": item_id}

    @app.post("/items")
    async def create_item(item: Item) -> Item:
        return item

    @app.get("/secret")
    async def secret() -> dict[str, str]:
        log.warning(
            "connecting",
            extra={"dsn": SecretStr("postgres://u:s3cr3t@db/x"), "config": {"api_key": "k-123"}},
        )
        return {"ok": "yes"}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    return app


def settings(**overrides: Any) -> ServiceSettings:
    base: dict[str, Any] = {"drain_seconds": 0, "tracing": {"enabled": False}}
    base.update(overrides)
    return ServiceSettings(**base)


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(production(make_app(), settings())) as test_client:
        yield test_client


def test_safe_request_id_is_echoed_and_logged(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    response = client.get("/items/7", headers={"X-Request-ID": "req-42.a_b"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-42.a_b"
    out = capfd.readouterr().out
    [access] = access_lines(out)
    assert access["request_id"] == "req-42.a_b"
    app_lines = [line for line in json_lines(out) if line.get("message") == "reading item"]
    assert app_lines
    assert app_lines[0]["request_id"] == "req-42.a_b"
    assert app_lines[0]["item_id"] == 7


@pytest.mark.parametrize(
    "hostile",
    ["x" * 129, "a b", "id\nforged", "<script>", "ünïcode", "abc;rm -rf", ""],
)
def test_hostile_request_id_is_replaced_and_never_logged(
    client: TestClient, capfd: pytest.CaptureFixture[str], hostile: str
) -> None:
    response = client.get("/items/1", headers=[(b"x-request-id", hostile.encode("utf-8"))])
    replaced = response.headers["x-request-id"]
    assert replaced != hostile
    assert len(replaced) == 32
    assert all(ch in "0123456789abcdef" for ch in replaced)
    out = capfd.readouterr().out
    if hostile:
        assert hostile not in out
    assert access_lines(out)[0]["request_id"] == replaced


def test_two_request_id_headers_are_one_unsafe_value_and_replaced(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    # RFC 9110 5.3: repeated header lines are one comma-joined value, "a, b": not a token
    headers = [(b"x-request-id", b"first"), (b"x-request-id", b"second")]
    replaced = client.get("/items/1", headers=headers).headers["x-request-id"]
    assert replaced not in {"first", "second"}
    assert len(replaced) == 32
    assert access_lines(capfd.readouterr().out)[0]["request_id"] == replaced
    for probe in ("/livez", "/readyz", "/metrics"):  # answered without the access line
        echoed = client.get(probe, headers=headers).headers["x-request-id"]
        assert echoed not in {"first", "second"}
        assert len(echoed) == 32


def test_generated_ids_are_unique(client: TestClient) -> None:
    ids = {client.get("/items/1").headers["x-request-id"] for _ in range(50)}
    assert len(ids) == 50


def test_access_log_fields(client: TestClient, capfd: pytest.CaptureFixture[str]) -> None:
    client.get("/items/123?x=1")
    [line] = access_lines(capfd.readouterr().out)
    assert line["route"] == "/items/{item_id}"
    assert line["path"] == "/items/123"
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert line["level"] == "INFO"
    assert line["client"] == "testclient"
    assert line["bytes"] == len(b'{"id":123}')
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["timestamp"].endswith("Z")
    assert "T" in line["timestamp"]


def test_unmatched_paths_collapse_into_one_route(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    for path in ("/nope/1", "/nope/2", "/random-thing"):
        assert client.get(path).status_code == 404
    routes = {line["route"] for line in access_lines(capfd.readouterr().out)}
    assert routes == {"<unmatched>"}


def test_secrets_never_reach_the_output(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    client.get("/items/1")
    client.get("/secret", headers={"Authorization": "Bearer tok-999", "Cookie": "session=abc"})
    out = capfd.readouterr().out
    for secret in ("hunter2", "s3cr3t", "k-123", "tok-999", "session=abc"):
        assert secret not in out
    warning = next(line for line in json_lines(out) if line.get("message") == "connecting")
    assert warning["dsn"] == "**********"
    assert warning["config"] == {"api_key": "**********"}


def test_malformed_json_and_wrong_types_give_field_errors(client: TestClient) -> None:
    response = client.post(
        "/items", content=b'{"name": "x", "price":', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    wrong = client.post("/items", json={"name": "x", "price": "not-a-number"})
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "price"]
    metrics = client.get("/metrics").text
    assert 'pydantic_validation_errors_total{route="/items"} 2.0' in metrics


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b'{"name": NaN, "price": 1}', "nan"),
        (b'{"name": "x", "price": "p", "note": Infinity}', None),
        (b'{"name": ["x", -Infinity], "price": 1}', ["x", "-inf"]),
        (b'{"name": 1e999, "price": 1}', "inf"),
    ],
)
def test_numbers_json_cannot_hold_in_an_invalid_body_still_give_field_errors(
    client: TestClient, capfd: pytest.CaptureFixture[str], body: bytes, shown: Any
) -> None:
    # Python's JSON reader takes NaN and Infinity; a 422 naming them must still be JSON
    response = client.post("/items", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail[0]["loc"][:2] == ["body", "name" if b'"name": "x"' not in body else "price"]
    if shown is not None:
        assert detail[0]["input"] == shown
    assert [line["status"] for line in access_lines(capfd.readouterr().out)] == [422]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"name": "\xff\xfe", "price": 1}', "application/json"),
        (b'{"name": "x", "price": ' + b"7" * 5000 + b"}", "application/json; charset=utf-8"),
        (b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/vnd.api+json"),
    ],
)
def test_a_json_body_that_cannot_be_read_at_all_is_a_422_too(
    client: TestClient, body: bytes, content_type: str
) -> None:
    response = client.post("/items", content=body, headers={"content-type": content_type})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert (error["type"], error["loc"]) == ("json_invalid", ["body"])
    assert 'pydantic_validation_errors_total{route="/items"} 1.0' in client.get("/metrics").text


def test_other_400s_of_the_app_stay_400s() -> None:
    from fastapi import HTTPException

    app = make_app()

    @app.get("/refuse")
    async def refuse() -> None:
        raise HTTPException(400, "There was an error parsing the body")

    with TestClient(production(app, settings())) as client:
        assert client.get("/refuse").status_code == 400
        assert client.get("/items/x").status_code == 422
        assert client.get("/missing").status_code == 404


def test_oversized_body_is_refused_with_413() -> None:
    with TestClient(production(make_app(), settings(max_body_bytes=1000))) as client:
        response = client.post(
            "/items", content=b"x" * 5000, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"

        def chunks() -> Iterator[bytes]:
            for _ in range(10):
                yield b"x" * 500

        chunked = client.post(
            "/items", content=chunks(), headers={"content-type": "application/json"}
        )
        assert chunked.status_code == 413


def test_unhandled_error_is_a_500_problem_with_the_request_id(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with TestClient(production(make_app(), settings()), raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "boom-1"
    lines = json_lines(capfd.readouterr().out)
    assert any(line.get("status") == 500 and line["request_id"] == "boom-1" for line in lines)
    assert any("kaboom" in line.get("exception", "") for line in lines)


@pytest.mark.parametrize("fastapi_telemetry", [True, False])
def test_the_error_record_of_a_traced_request_carries_its_trace_ids(
    capfd: pytest.CaptureFixture[str], fastapi_telemetry: bool
) -> None:
    tracing = {"enabled": True, "sample_ratio": 1.0, "fastapi_telemetry": fastapi_telemetry}
    app = production(make_app(), settings(tracing=tracing))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/boom").status_code == 500
    out = capfd.readouterr().out
    [access] = access_lines(out)
    [error] = [line for line in json_lines(out) if "kaboom" in line.get("exception", "")]
    assert len(access["trace_id"]) == 32, out
    assert len(access["span_id"]) == 16, out
    assert (error.get("trace_id"), error.get("span_id")) == (access["trace_id"], access["span_id"])
    assert error["request_id"] == access["request_id"]


def test_wraps_a_plain_asgi_app(capfd: pytest.CaptureFixture[str]) -> None:
    async def plain(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": b"hi"})

    with TestClient(production(plain, settings())) as client:
        assert client.get("/anything").text == "hi"
        assert client.get("/livez").status_code == 200
        assert "http_requests_total" in client.get("/metrics").text
    [line] = access_lines(capfd.readouterr().out)
    assert line["status"] == 200
    assert line["route"] == "<unmatched>"


def test_example_orders_api(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from shipshape.examples.orders import create_app

    app = production(create_app(f"sqlite:///{tmp_path / 'orders.db'}"), settings())
    with TestClient(app) as client:
        created = client.post("/orders", json=ORDER)
        assert created.status_code == 201
        order = created.json()
        assert order["total"] == "25.00"
        assert client.get(f"/orders/{order['id']}").json() == order
        assert client.get("/orders").json()["total"] == 1
        assert client.get("/orders/999").status_code == 404
        bad = client.post("/orders", json={**ORDER, "items": []})
        assert bad.status_code == 422
    routes = {line["route"] for line in access_lines(capfd.readouterr().out)}
    assert routes == {"/orders", "/orders/{order_id}"}


def test_stdlib_logging_outside_requests_has_no_request_id(
    capfd: pytest.CaptureFixture[str],
) -> None:
    production(make_app(), settings())
    logging.getLogger("tests.outside").error("plain", extra={"token": "zzz"})
    [line] = [line for line in json_lines(capfd.readouterr().out) if line.get("message") == "plain"]
    assert "request_id" not in line
    assert line["level"] == "ERROR"
    assert line["token"] == "**********"
    assert orjson.dumps(line)


def test_a_locked_database_gives_503_with_retry_after(tmp_path: Path) -> None:
    import sqlite3

    from shipshape.examples.orders import create_app

    database = tmp_path / "orders.db"
    app = production(create_app(f"sqlite:///{database}", busy_timeout_ms=50), settings())
    with TestClient(app) as client:
        assert client.post("/orders", json=ORDER).status_code == 201
        holder = sqlite3.connect(database, timeout=0.05)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            busy = client.post("/orders", json=ORDER)
        finally:
            holder.rollback()
            holder.close()
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert client.post("/orders", json=ORDER).status_code == 201


def test_the_example_declares_a_readiness_check_on_its_database(tmp_path: Path) -> None:
    from shipshape.examples.orders import create_app

    app = production(create_app(f"sqlite:///{tmp_path / 'orders.db'}"), settings())
    with TestClient(app) as client:
        body = client.get("/readyz").json()
    assert body["details"] == {"database": "healthy"}


def test_wrapping_twice_is_one_layer(capfd: pytest.CaptureFixture[str]) -> None:
    once = production(make_app(), settings())
    assert production(once) is once
    assert production(once, once.settings) is once
    with pytest.raises(ValueError, match="already has the production layer"):
        production(once, settings(max_body_bytes=10))
    with TestClient(production(once)) as client:
        response = client.get("/items/7")
    assert len(response.headers.get_list("x-request-id")) == 1
    assert len(access_lines(capfd.readouterr().out)) == 1


def test_under_a_root_path_probes_metrics_and_limits_answer_below_it() -> None:
    # uvicorn --root-path /api puts the root path in front of every request's path
    app = production(
        make_app(),
        settings(ratelimit={"capacity": 1, "refill_rate": 0.001, "exempt_paths": ["/items/9"]}),
    )
    with TestClient(app, root_path="/api") as client:
        assert client.get("/api/livez").status_code == 200
        assert client.get("/api/readyz").status_code == 200
        assert "http_requests_total" in client.get("/api/metrics").text
        assert [client.get("/api/items/9").status_code for _ in range(3)] == [200] * 3
        assert [client.get("/api/items/1").status_code for _ in range(2)] == [200, 429]


def test_a_request_s_duration_ends_with_its_response_not_its_background_tasks(
    capfd: pytest.CaptureFixture[str],
) -> None:
    app = make_app()

    @app.get("/later")
    async def later(tasks: BackgroundTasks) -> dict[str, str]:
        tasks.add_task(asyncio.sleep, 0.5)
        return {"ok": "yes"}

    with TestClient(production(app, settings())) as client:
        assert client.get("/later").status_code == 200
        scrape = client.get("/metrics").text
    [line] = access_lines(capfd.readouterr().out)
    assert line["duration_ms"] < 250, line
    assert (
        'http_request_duration_seconds_bucket{le="0.25",method="GET",route="/later"} 1.0' in scrape
    )
