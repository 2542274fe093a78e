"""The layer over a Redis store that dies and comes back, as a real server process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from shipshape.testing import RedisServer
from tests.conftest import require_service
from tests.service.conftest import wait_until_live


def unstored_decisions(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ratelimit_store_unavailable_decisions_total"
    )


async def hammer(base: str, seconds: float, statuses: list[int]) -> None:
    """Four concurrent clients sending GET / for ``seconds``."""
    deadline = time.monotonic() + seconds

    async def one_client() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                response = await client.get(f"{base}/")
                statuses.append(response.status_code)

    await asyncio.gather(*(one_client() for _ in range(4)))


def test_redis_killed_under_load_fails_open_and_recovers(tmp_path: Path, free_port: int) -> None:
    require_service("redis", "redis://127.0.0.1:6379", 6379)
    with RedisServer() as redis:
        server = subprocess.Popen(
            [sys.executable, "-m", "shipshape", "serve", "--port", str(free_port)],
            cwd=tmp_path,
            env={
                **os.environ,
                "SHIPSHAPE_DRAIN_SECONDS": "0",
                "SHIPSHAPE_LOGS__ACCESS_LOG": "false",
                "SHIPSHAPE_RATELIMIT__STORE_URL": redis.url,
                "SHIPSHAPE_RATELIMIT__CAPACITY": "1000000",
                "SHIPSHAPE_RATELIMIT__REFILL_RATE": "1000000",
                "SHIPSHAPE_HEALTH__CACHE_SECONDS": "0",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_until_live(free_port, server)
            base = f"http://127.0.0.1:{free_port}"
            statuses: list[int] = []
            asyncio.run(hammer(base, 1.0, statuses))
            assert unstored_decisions(base) == 0
            assert httpx.get(f"{base}/readyz").json()["details"]["ratelimit-store"] == "healthy"

            redis.kill()
            asyncio.run(hammer(base, 2.0, statuses))
            ready = httpx.get(f"{base}/readyz")
            assert ready.json()["details"]["ratelimit-store"] == "degraded"
            assert ready.status_code == 503
            assert unstored_decisions(base) > 0

            redis.start()
            restarted = time.monotonic()
            while True:
                before = unstored_decisions(base)
                asyncio.run(hammer(base, 0.3, statuses))
                healthy = httpx.get(f"{base}/readyz").status_code == 200
                if healthy and unstored_decisions(base) == before:
                    break
                assert time.monotonic() - restarted < 5.0, "not back to normal within 5 s"
            assert statuses, "no requests were made"
            assert all(status == 200 for status in statuses), sorted(set(statuses))
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.communicate()


def test_fail_closed_refuses_while_the_store_is_down() -> None:
    from fastapi import FastAPI
    from starlette.testclient import TestClient

    from shipshape.service import ServiceSettings, production

    with RedisServer() as redis:
        url = redis.url
    settings = ServiceSettings(
        drain_seconds=0,
        tracing={"enabled": False},
        logs={"configure_logging": False, "access_log": False},
        ratelimit={"store_url": url, "fail_open": False},
        health={"cache_seconds": 0},
    )
    api = FastAPI()

    @api.get("/")
    async def root() -> dict[str, str]:
        return {"ok": "yes"}

    with TestClient(production(api, settings)) as client:
        response = client.get("/")
        assert response.status_code == 429
        assert "retry-after" in response.headers
        # the limit was not exceeded: the answer says what happened
        assert "unreachable" in response.json()["detail"]
        assert "exceeded" not in response.json()["detail"]
        ready = client.get("/readyz")
        assert ready.json()["details"]["ratelimit-store"] == "unhealthy"
