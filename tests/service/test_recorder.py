"""Access lines and request metrics are recorded in batches, once per event-loop turn:
nothing is lost, nothing is late for a scrape, lines stay whole and in order."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime
from typing import Any

import orjson
import pytest

from shipshape.observe.metrics import MetricsRegistry
from shipshape.service import ServiceSettings, production
from shipshape.service._types import Message, Receive, Scope, Send
from shipshape.service.recorder import RequestRecorder, access_line
from tests.service.conftest import access_lines


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hi"})


def http_scope(path: str) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"test")],
        "client": ("10.0.0.7", 5000),
        "server": ("test", 80),
    }


async def call(app: Any, path: str) -> tuple[int, bytes]:
    """One request straight through ``app``: no task switch, no loop turn."""
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(http_scope(path), receive, send)
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return messages[0]["status"], body


def layer(**overrides: Any) -> Any:
    base: dict[str, Any] = {"drain_seconds": 0, "tracing": {"enabled": False}}
    base.update(overrides)
    return production(hello, ServiceSettings(**base))


def requests_counted(metrics_text: bytes, path_label: str = "<unmatched>") -> float:
    for line in metrics_text.decode().splitlines():
        if line.startswith("http_requests_total{") and f'route="{path_label}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_scrape_in_the_same_loop_turn_counts_every_finished_request() -> None:
    app = layer()

    async def scenario() -> bytes:
        for _ in range(3):
            assert (await call(app, "/x"))[0] == 200
        # still the same loop turn: the batch has not been flushed by the loop yet
        assert app.state.recorder._entries
        return (await call(app, "/metrics"))[1]

    assert requests_counted(asyncio.run(scenario())) == 3.0


def test_lines_of_one_loop_turn_are_written_whole_and_in_order(
    capfd: pytest.CaptureFixture[str],
) -> None:
    app = layer()

    async def scenario() -> None:
        for index in range(600):  # over the 256-entry batch and many 4 KiB chunks
            await call(app, f"/item/{index}")
        await asyncio.sleep(0)  # the loop turn ends: the rest is flushed

    asyncio.run(scenario())
    lines = access_lines(capfd.readouterr().out)
    assert [line["path"] for line in lines] == [f"/item/{index}" for index in range(600)]
    assert {line["client"] for line in lines} == {"10.0.0.7"}


def test_outside_an_event_loop_an_entry_is_recorded_at_once(tmp_path: Any) -> None:
    registry = MetricsRegistry()
    total = registry.counter("t_total", "t", ("method", "route", "status"))
    duration = registry.histogram("t_seconds", "t", ("method", "route"))
    path = tmp_path / "out.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        recorder = RequestRecorder(requests_total=total, duration=duration, access_log=True, fd=fd)
        ended = time.perf_counter()
        recorder.add(
            (ended, 503, "GET", "/r", "rid-1", "/r", 0.25, "c", 7, ("a" * 32, "b" * 16), True)
        )
        now = time.time()
    finally:
        os.close(fd)
    assert total.values == {("GET", "/r", "503"): 1.0}
    assert duration.series[("GET", "/r")][-1] == 0.25
    text = path.read_text()
    assert text.count("\n") == 1
    assert text.endswith("\n")
    assert '"level":"ERROR"' in text
    assert '"rate_limited":true' in text
    stamp = orjson.loads(text)["timestamp"]
    assert stamp.endswith("Z")
    written = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    assert abs(written - now) < 1.0  # the end, in wall-clock time


def test_shutdown_records_what_is_still_queued(capfd: pytest.CaptureFixture[str]) -> None:
    app = layer()

    async def scenario() -> None:
        lifespan: list[Message] = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[Message] = []
        waiting: list[int] = []

        async def receive() -> Message:
            if lifespan:
                return lifespan.pop(0)
            await asyncio.Event().wait()  # pragma: no cover - the app stops reading
            raise AssertionError

        async def send(message: Message) -> None:
            sent.append(message)
            if message["type"] == "lifespan.startup.complete":
                await call(app, "/queued")  # its entry waits for the loop turn to end
            if message["type"] == "lifespan.shutdown.complete":
                waiting.append(len(app.state.recorder._entries))

        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
        assert sent[-1]["type"] == "lifespan.shutdown.complete"
        assert waiting == [0]  # recorded before the server is told it may stop

    asyncio.run(scenario())
    assert [line["path"] for line in access_lines(capfd.readouterr().out)] == ["/queued"]


def test_access_line_fields() -> None:
    line = access_line(
        (
            1764083287.1234,
            201,
            "POST",
            "/orders",
            "r1",
            "/orders",
            0.0123456,
            "1.2.3.4",
            5,
            None,
            False,
        )
    )
    assert line == (
        b'{"timestamp":"2025-11-25T15:08:07.123Z","level":"INFO","message":"POST /orders 201",'
        b'"request_id":"r1","method":"POST","route":"/orders","path":"/orders","status":201,'
        b'"duration_ms":12.346,"client":"1.2.3.4","bytes":5}'
    )


def test_a_descriptor_that_refuses_lines_costs_neither_requests_nor_metrics(
    capfd: pytest.CaptureFixture[str],
) -> None:
    app = layer(ratelimit={"enabled": False})
    full = os.open("/dev/full", os.O_WRONLY)  # every write: ENOSPC
    app.state.recorder.fd = full

    async def scenario() -> bytes:
        for _ in range(300):  # over the 256-entry batch, flushed inside a request
            assert (await call(app, "/x"))[0] == 200
        await asyncio.sleep(0)  # the scheduled flush
        await call(app, "/x")
        return (await call(app, "/metrics"))[1]  # flushes the last one itself

    try:
        metrics = asyncio.run(scenario())
    finally:
        os.close(full)
    assert requests_counted(metrics) == 301.0
    assert app.state.recorder.lines_lost == 301
    err = capfd.readouterr().err
    assert err.count("access lines cannot be written") == 1
