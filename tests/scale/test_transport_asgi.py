"""The async transport against real uvicorn/Starlette servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from shipshape.scale.pool import Backend, HealthPolicy
from shipshape.scale.transport import AsyncBalancingTransport, header_key


class App:
    """A uvicorn server in a thread: answers its name; /readyz follows ``ready``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ready = True

        async def readyz(request: Request) -> JSONResponse:
            return JSONResponse(
                {"status": "pass" if self.ready else "fail"}, 200 if self.ready else 503
            )

        async def hello(request: Request) -> PlainTextResponse:
            if request.url.path == "/boom":
                return PlainTextResponse("boom", 500)
            return PlainTextResponse(self.name)

        app = Starlette(routes=[Route("/readyz", readyz), Route("/{path:path}", hello)])
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", ws="none", http="h11", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.server.started, f"{name} did not start"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def apps() -> Iterator[list[App]]:
    running = [App("alpha"), App("beta")]
    yield running
    for app in running:
        app.stop()


def test_sticky_sessions_health_task_and_ejection(apps: list[App]) -> None:
    asyncio.run(sticky_sessions_health_task_and_ejection(apps))


async def sticky_sessions_health_task_and_ejection(apps: list[App]) -> None:
    transport = AsyncBalancingTransport(
        [Backend(name=app.name, url=app.url) for app in apps],
        strategy="sticky",
        key=header_key("X-Session-Id"),
        policy=HealthPolicy(max_failures=2, ejection_time=60, slow_start=0),
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        owners = {}
        for session in (f"user-{n}" for n in range(20)):
            answers = {
                (await client.get("/", headers={"X-Session-Id": session})).text for _ in range(3)
            }
            assert len(answers) == 1
            owners[session] = answers.pop()
        assert set(owners.values()) == {"alpha", "beta"}

        transport.start_health_checks(interval=0.05, timeout=2.0)
        apps[0].ready = False
        while transport.pool.status("alpha").ready:
            await asyncio.sleep(0.01)
        moved = Counter([(await client.get("/", headers={"X-Session-Id": s})).text for s in owners])
        assert moved == {"beta": 20}

        apps[0].ready = True
        while not transport.pool.status("alpha").ready:
            await asyncio.sleep(0.01)
        back = {s: (await client.get("/", headers={"X-Session-Id": s})).text for s in owners}
        assert back == owners  # rendezvous: every session returns to its backend

        responses = [
            await client.get("/boom", headers={"X-Session-Id": "user-0"}) for _ in range(2)
        ]
        assert [r.status_code for r in responses] == [500, 500]
        owner = owners["user-0"]
        assert transport.pool.status(owner).ejections == 1
        other = ({"alpha", "beta"} - {owner}).pop()
        answer = await client.get("/", headers={"X-Session-Id": "user-0"})
        assert answer.text == other
