"""Rate limits in the layer: 429 problems, IETF headers, policies, keys, exemptions."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from shipshape.service import ServiceSettings, production


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/cheap")
    async def cheap() -> dict[str, str]:
        return {"ok": "yes"}

    @app.post("/validate/{name}")
    async def expensive(name: str) -> dict[str, str]:
        return {"name": name}

    return app


def client_for(peer: str = "testclient", **ratelimit: Any) -> TestClient:
    settings = ServiceSettings(
        drain_seconds=0,
        tracing={"enabled": False},
        logs={"configure_logging": False, "access_log": False},
        ratelimit={"capacity": 3, "refill_rate": 0.001, **ratelimit},
    )
    return TestClient(production(make_app(), settings), client=(peer, 50000))


def test_denied_requests_get_a_429_problem_with_retry_after() -> None:
    with client_for() as client:
        allowed = [client.get("/cheap") for _ in range(3)]
        denied = client.get("/cheap")
    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert all("retry-after" not in r.headers for r in allowed)
    assert [r.headers["ratelimit"] for r in allowed] == [
        f'"default";r={n};t={t}' for n, t in ((2, 1000), (1, 2000), (0, 3000))
    ]
    assert allowed[0].headers["ratelimit-policy"] == '"default";q=3;w=3000'
    assert denied.status_code == 429
    assert denied.headers["content-type"] == "application/problem+json"
    assert int(denied.headers["retry-after"]) == 1000
    body = denied.json()
    assert body["status"] == 429
    assert body["title"] == "Too Many Requests"
    assert body["request_id"] == denied.headers["x-request-id"]


def test_probes_and_metrics_are_exempt() -> None:
    with client_for(capacity=1) as client:
        for _ in range(5):
            assert client.get("/livez").status_code == 200
            assert client.get("/readyz").status_code == 200
            assert client.get("/metrics").status_code == 200
        assert client.get("/cheap").status_code == 200
        assert client.get("/cheap").status_code == 429
        metrics = client.get("/metrics").text
    assert 'ratelimit_decisions_total{decision="allowed",policy="default"} 1.0' in metrics
    assert 'ratelimit_decisions_total{decision="denied",policy="default"} 1.0' in metrics


def test_route_and_method_policies() -> None:
    policy = {"route": "/validate/{name}", "method": "POST", "capacity": 1, "refill_rate": 0.001}
    with client_for(capacity=100, policies=[policy]) as client:
        assert client.post("/validate/a").status_code == 200
        limited = client.post("/validate/b")
        assert limited.status_code == 429
        assert limited.headers["ratelimit-policy"] == '"post-validate-name";q=1;w=1000'
        assert client.get("/cheap").status_code == 200


def test_policies_whose_names_would_read_alike_keep_their_own_buckets() -> None:
    app = FastAPI()
    for path in ("/default", "/orders/{order_id}", "/orders/order-id", "/other"):
        app.get(path)(lambda: {"ok": "yes"})
    settings = ServiceSettings(
        drain_seconds=0,
        tracing={"enabled": False},
        logs={"configure_logging": False, "access_log": False},
        ratelimit={
            "capacity": 3,
            "refill_rate": 0.001,
            "policies": [
                {"route": "/orders/order-id", "capacity": 1, "refill_rate": 0.001},
                {"route": "/orders/{order_id}", "capacity": 5, "refill_rate": 0.001},
                {"route": "/default", "capacity": 2, "refill_rate": 0.001},
            ],
        },
    )
    with TestClient(production(app, settings)) as client:
        assert client.get("/orders/order-id").status_code == 200
        assert client.get("/orders/order-id").status_code == 429
        first = client.get("/orders/1")  # its own five tokens, not the spent one
        assert client.get("/default").status_code == 200
        assert client.get("/default").status_code == 200
        other = client.get("/other")  # the default policy's own three tokens
    assert first.status_code == 200
    assert first.headers["ratelimit-policy"] == '"orders-order-id-2";q=5;w=5000'
    assert first.headers["ratelimit"] == '"orders-order-id-2";r=4;t=1000'
    assert other.status_code == 200
    assert other.headers["ratelimit-policy"] == '"default";q=3;w=3000'
    assert other.headers["ratelimit"] == '"default";r=2;t=1000'


def test_the_most_specific_matching_policy_applies_whatever_the_configured_order() -> None:
    app = FastAPI()
    app.post("/orders")(lambda: {"ok": "yes"})
    app.get("/orders/order-id")(lambda: {"ok": "yes"})
    app.get("/orders/{order_id}")(lambda: {"ok": "yes"})
    settings = ServiceSettings(
        drain_seconds=0,
        tracing={"enabled": False},
        logs={"configure_logging": False, "access_log": False},
        ratelimit={
            "policies": [
                {"route": "/orders", "capacity": 100, "refill_rate": 1},
                {"route": "/orders", "method": "POST", "capacity": 2, "refill_rate": 1},
                {"route": "/orders/{order_id}", "capacity": 10, "refill_rate": 1},
                {"route": "/orders/order-id", "capacity": 20, "refill_rate": 1},
            ]
        },
    )
    with TestClient(production(app, settings)) as client:
        post = client.post("/orders")
        literal = client.get("/orders/order-id")
        templated = client.get("/orders/7")
    assert post.headers["ratelimit-policy"] == '"post-orders";q=2;w=2'
    assert literal.headers["ratelimit-policy"] == '"orders-order-id-2";q=20;w=20'
    assert templated.headers["ratelimit-policy"] == '"orders-order-id";q=10;w=10'


def test_a_body_over_the_limit_spends_a_token_and_gets_the_limits_headers() -> None:
    # a declared oversize body is refused without being read, but after the rate limit:
    # otherwise a client could send such requests forever, and the 413 had no headers
    settings = ServiceSettings(
        drain_seconds=0,
        max_body_bytes=10,
        tracing={"enabled": False},
        logs={"configure_logging": False, "access_log": False},
        ratelimit={"capacity": 2, "refill_rate": 0.001},
    )
    with TestClient(production(make_app(), settings)) as client:
        big = b"x" * 11
        too_large = client.post("/validate/a", content=big)
        assert client.post("/validate/a", content=b"{}").status_code == 200
        denied = client.post("/validate/a", content=big)
        metrics = client.get("/metrics").text
    assert too_large.status_code == 413
    assert too_large.headers["ratelimit"] == '"default";r=1;t=1000'
    assert too_large.headers["connection"] == "close"
    assert denied.status_code == 429
    assert denied.headers["connection"] == "close"  # its body is not read either
    assert 'ratelimit_decisions_total{decision="allowed",policy="default"} 2.0' in metrics
    assert 'ratelimit_decisions_total{decision="denied",policy="default"} 1.0' in metrics


def test_api_key_header_keys_the_bucket() -> None:
    with client_for(capacity=1, key="header:X-API-Key") as client:
        assert client.get("/cheap", headers={"X-API-Key": "alice"}).status_code == 200
        assert client.get("/cheap", headers={"X-API-Key": "alice"}).status_code == 429
        assert client.get("/cheap", headers={"X-API-Key": "bob"}).status_code == 200


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    with client_for("127.0.0.1", capacity=1, trusted_proxies=["127.0.0.0/8"]) as client:
        headers_a = {"X-Forwarded-For": "203.0.113.9, 127.0.0.2"}
        assert client.get("/cheap", headers=headers_a).status_code == 200
        assert client.get("/cheap", headers=headers_a).status_code == 429
        assert client.get("/cheap", headers={"X-Forwarded-For": "198.51.100.4"}).status_code == 200
    with client_for("127.0.0.1", capacity=1) as untrusting:
        untrusting.get("/cheap", headers={"X-Forwarded-For": "203.0.113.9"})
        spoofed = untrusting.get("/cheap", headers={"X-Forwarded-For": "203.0.113.10"})
        assert spoofed.status_code == 429


def test_disabled_rate_limit_sends_no_headers() -> None:
    with client_for(enabled=False, capacity=1) as client:
        responses = [client.get("/cheap") for _ in range(3)]
    assert all(r.status_code == 200 and "ratelimit" not in r.headers for r in responses)


@pytest.mark.parametrize("key", ["ip", "header:", "header:Bad Header"])
def test_bad_key_setting_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="key must be"):
        ServiceSettings(ratelimit={"key": key})


def test_refused_requests_are_logged_and_counted(capfd: pytest.CaptureFixture[str]) -> None:
    from tests.service.conftest import access_lines

    settings = ServiceSettings(
        drain_seconds=0,
        tracing={"enabled": False},
        logs={"configure_logging": False},
        ratelimit={"capacity": 2, "refill_rate": 0.001},
        max_body_bytes=10,
    )
    with TestClient(production(make_app(), settings)) as client:
        big = client.post("/validate/x", content=b"x" * 100)
        assert big.status_code == 413
        assert client.get("/cheap").status_code == 200
        assert client.get("/cheap").status_code == 429
        metrics = client.get("/metrics").text
    lines = access_lines(capfd.readouterr().out)
    assert [line["status"] for line in lines] == [413, 200, 429]
    assert lines[2]["rate_limited"] is True
    # refused before the app routed them, yet labelled with the route they were for
    assert [line["route"] for line in lines] == ["/validate/{name}", "/cheap", "/cheap"]
    assert 'http_requests_total{method="GET",route="/cheap",status="429"} 1.0' in metrics
    assert 'http_requests_total{method="POST",route="/validate/{name}",status="413"} 1.0' in metrics


def test_refused_requests_for_no_route_stay_unmatched(capfd: pytest.CaptureFixture[str]) -> None:
    from tests.service.conftest import access_lines

    settings = ServiceSettings(
        drain_seconds=0,
        tracing={"enabled": False},
        logs={"configure_logging": False},
        ratelimit={"capacity": 1, "refill_rate": 0.001},
    )
    with TestClient(production(make_app(), settings)) as client:
        assert client.get("/nowhere/1").status_code == 404
        for index in range(2, 5):
            assert client.get(f"/nowhere/{index}").status_code == 429
        assert client.delete("/cheap").status_code == 429  # the path's route, not its method
        metrics = client.get("/metrics").text
    routes = [line["route"] for line in access_lines(capfd.readouterr().out)]
    assert routes == ["<unmatched>"] * 4 + ["/cheap"]
    assert 'http_requests_total{method="GET",route="<unmatched>",status="429"} 3.0' in metrics


def test_refused_requests_to_a_mounted_router_get_the_label_routing_gives(
    capfd: pytest.CaptureFixture[str],
) -> None:
    from tests.service.conftest import access_lines

    app = make_app()
    v2 = FastAPI()

    @v2.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    app.mount("/v2", v2)
    settings = ServiceSettings(
        drain_seconds=0,
        tracing={"enabled": False},
        logs={"configure_logging": False},
        ratelimit={"capacity": 1, "refill_rate": 0.001},
    )
    with TestClient(production(app, settings)) as client:
        assert client.get("/v2/items/1").status_code == 200
        assert client.get("/v2/items/2").status_code == 429
    routed, refused = access_lines(capfd.readouterr().out)
    assert refused["route"] == routed["route"] != "<unmatched>"


def test_clients_below_their_limit_get_their_own_policys_headers() -> None:
    """A bucket that refills between requests yields the store's shared decision; each
    policy still answers it with its own name, and a drained bucket with its state."""
    fast: dict[str, Any] = {"capacity": 3, "refill_rate": 1e9}
    policy = {"route": "/validate/{name}", "method": "POST", **fast}
    with client_for(policies=[policy], **fast) as client:
        cheap = [client.get("/cheap") for _ in range(3)]
        routed = [client.post("/validate/x") for _ in range(3)]
    assert {r.headers["ratelimit"] for r in cheap} == {'"default";r=2;t=1'}
    assert {r.headers["ratelimit"] for r in routed} == {'"post-validate-name";r=2;t=1'}
    assert routed[0].headers["ratelimit-policy"].startswith('"post-validate-name";q=3')
    with client_for(capacity=3, refill_rate=0.001) as client:
        drained = [client.get("/cheap").headers["ratelimit"] for _ in range(3)]
    assert drained == ['"default";r=2;t=1000', '"default";r=1;t=2000', '"default";r=0;t=3000']
