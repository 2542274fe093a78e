"""Tracing of ``shipshape serve`` seen from outside: W3C trace context in, OTLP out."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import exported_spans, start, wait_until_live

CALLER_SPAN = "b7ad6b7169203331"
TRACESTATE = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"


def trace_id(n: int) -> str:
    return f"{n:032x}"


def traceparent(n: int, flags: str = "01") -> str:
    return f"00-{trace_id(n)}-{CALLER_SPAN}-{flags}"


def serve(port: int, cwd: Path, **env: str) -> subprocess.Popen[bytes]:
    server = start(["--port", str(port)], cwd, **env)
    try:
        wait_until_live(port, server)
    except AssertionError:
        server.kill()
        raise
    return server


@pytest.mark.parametrize("fastapi_telemetry", ["true", "false"])
def test_serve_continues_callers_traces_and_exports_them_over_otlp(
    tmp_path: Path,
    free_port: int,
    collector: tuple[int, list[tuple[str, bytes]]],
    fastapi_telemetry: str,
) -> None:
    collector_port, received = collector
    policies = [{"route": "/orders", "method": "POST", "capacity": 2, "refill_rate": 0.001}]
    server = serve(
        free_port,
        tmp_path,
        SHIPSHAPE_DRAIN_SECONDS="0",
        SHIPSHAPE_MAX_BODY_BYTES="4096",
        SHIPSHAPE_RATELIMIT__POLICIES=json.dumps(policies),
        SHIPSHAPE_TRACING__SAMPLE_RATIO="0",
        SHIPSHAPE_TRACING__FASTAPI_TELEMETRY=fastapi_telemetry,
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{collector_port}",
        OTEL_BSP_SCHEDULE_DELAY="60000",
    )
    try:
        base = f"http://127.0.0.1:{free_port}"
        with httpx.Client(base_url=base) as client:
            sampled = {"traceparent": traceparent(1), "tracestate": TRACESTATE}
            assert client.get("/orders", headers=sampled).status_code == 200
            assert client.get("/orders", headers={"traceparent": traceparent(2, "00")}).is_success
            assert client.get("/orders").status_code == 200  # a root, at ratio 0
            # the two tokens of POST /orders (a body over the limit spends one too), then
            # a sampled caller refused with 429
            assert client.post("/orders", json={}).status_code == 422
            too_large = {"traceparent": traceparent(4), "content-type": "application/json"}
            answer = client.post("/orders", content=b" " * 5000, headers=too_large)
            assert answer.status_code == 413
            refused = {"traceparent": traceparent(3), "tracestate": TRACESTATE}
            assert client.post("/orders", json={}, headers=refused).status_code == 429
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    lines = [json.loads(x) for x in out.decode().splitlines() if '"status":' in x]
    by_trace = {line["trace_id"]: line for line in lines if "trace_id" in line}
    spans = {span.trace_id.hex(): span for _, span in exported_spans(received)}
    assert sorted(spans) == [trace_id(1), trace_id(3), trace_id(4)], err.decode()[-2000:]

    for n, status in [(1, 200), (3, 429), (4, 413)]:
        span = spans[trace_id(n)]
        line = by_trace[trace_id(n)]
        assert line["status"] == status
        assert span.span_id.hex() == line["span_id"]
        assert span.parent_span_id.hex() == CALLER_SPAN
        attributes = {a.key: a.value for a in span.attributes}
        assert attributes["http.response.status_code"].int_value == status
        assert attributes["http.route"].string_value == line["route"]
        assert span.name == f"{line['method']} {line['route']}"
    assert spans[trace_id(1)].trace_state == TRACESTATE
    assert spans[trace_id(3)].trace_state == TRACESTATE
    # the unsampled caller's trace id is still logged, with nothing exported
    assert by_trace[trace_id(2)]["route"] == "/orders"
