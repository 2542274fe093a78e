"""The route template that labels a request's access line and metrics, wherever the
app routes it: mounted apps and routers, FastAPI's included routers, static files,
requests the layer refuses before routing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, Router
from starlette.testclient import TestClient

from shipshape.service import ServiceSettings, production
from tests.service.conftest import access_lines


def settings(**overrides: Any) -> ServiceSettings:
    base: dict[str, Any] = {"drain_seconds": 0, "tracing": {"enabled": False}}
    return ServiceSettings(**{**base, **overrides})


def scraped(client: TestClient, family: str) -> dict[tuple[str, str], float]:
    """``{(route, status or ""): value}`` of one metric family in a scrape."""
    found: dict[tuple[str, str], float] = {}
    for metric in text_string_to_metric_families(client.get("/metrics").text):
        for sample in metric.samples:
            if sample.name == family:
                key = (sample.labels["route"], sample.labels.get("status", ""))
                found[key] = found.get(key, 0.0) + sample.value
    return found


def fastapi_app(static: Path) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"v": 1}

    v2 = FastAPI()

    @v2.get("/items/{item_id}")
    async def item_v2(item_id: int) -> dict[str, int]:
        return {"v": 2}

    app.mount("/v2", v2)
    users = APIRouter(prefix="/users")

    @users.get("/{user_id}")
    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    app.include_router(users)
    (static / "a.css").write_text("body {}")
    app.mount("/static", StaticFiles(directory=static), name="static")
    return app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(production(fastapi_app(tmp_path), settings())) as test_client:
        yield test_client


def test_a_mounted_app_s_routes_carry_the_mount_s_prefix(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    assert client.get("/items/1").json() == {"v": 1}
    assert client.get("/v2/items/1").json() == {"v": 2}
    assert [line["route"] for line in access_lines(capfd.readouterr().out)] == [
        "/items/{item_id}",
        "/v2/items/{item_id}",
    ]
    counts = scraped(client, "http_requests_total")
    assert counts[("/items/{item_id}", "200")] == 1
    assert counts[("/v2/items/{item_id}", "200")] == 1


def test_validation_errors_of_a_mounted_app_are_counted_under_its_label(
    client: TestClient,
) -> None:
    assert client.get("/items/x").status_code == 422
    assert client.get("/v2/items/x").status_code == 422
    assert scraped(client, "pydantic_validation_errors_total") == {
        ("/items/{item_id}", ""): 1,
        ("/v2/items/{item_id}", ""): 1,
    }


def test_static_files_are_labelled_by_their_mount_from_the_first_request(
    client: TestClient,
) -> None:
    assert client.get("/static/a.css").status_code == 200
    assert client.get("/static/missing.css").status_code == 404
    counts = scraped(client, "http_requests_total")
    assert counts[("/static", "200")] == 1
    assert counts[("/static", "404")] == 1


def test_refusals_before_routing_carry_an_included_router_s_template(tmp_path: Path) -> None:
    app = production(
        fastapi_app(tmp_path),
        settings(ratelimit={"capacity": 2, "refill_rate": 0.001}, max_body_bytes=10),
    )
    with TestClient(app) as client:
        assert client.post("/users/3", content=b"x" * 100).status_code == 413
        assert client.get("/users/1").status_code == 200
        assert client.get("/users/2").status_code == 429
        counts = scraped(client, "http_requests_total")
    assert counts[("/users/{user_id}", "200")] == 1
    assert counts[("/users/{user_id}", "429")] == 1
    assert counts[("/users/{user_id}", "413")] == 1


def test_allow_lists_head_on_an_included_router_s_routes(client: TestClient) -> None:
    refused = client.delete("/users/1")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD"
    assert client.head("/users/1").status_code == 200


def test_plain_starlette_mounts_and_routers_carry_their_prefix() -> None:
    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hi")

    app = Starlette(
        routes=[
            Route("/items/{id}", hello),
            Mount("/api", routes=[Route("/items/{id}", hello)]),
            Mount("/admin", app=Router(routes=[Route("/items/{id}", hello)])),
            Mount("/orgs/{org}", routes=[Route("/items/{id}", hello)]),
        ]
    )
    with TestClient(production(app, settings())) as client:
        for path in ("/items/1", "/api/items/2", "/admin/items/3", "/orgs/acme/items/4"):
            assert client.get(path).text == "hi"
        counts = scraped(client, "http_requests_total")
    assert {route for route, _ in counts} == {
        "/items/{id}",
        "/api/items/{id}",
        "/admin/items/{id}",
        "/orgs/{org}/items/{id}",
    }
