"""Tracing of ``shipshape serve`` seen from outside: W3C trace context in, OTLP out."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

CALLER_SPAN = "b7ad6b7169203331"
TRACESTATE = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"


def trace_id(n: int) -> str:
    return f"{n:032x}"


def traceparent(n: int, flags: str = "01") -> str:
    return f"00-{trace_id(n)}-{CALLER_SPAN}-{flags}"


class _Collector(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP traces endpoint that keeps what it is sent."""

    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[int, list[tuple[str, bytes]]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    _Collector.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Collector.received
    server.shutdown()
    server.server_close()


def exported_spans(received: list[tuple[str, bytes]]) -> list[Any]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    spans = []
    for path, body in received:
        assert path == "/v1/traces"
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                spans.extend(scope_spans.spans)
    return spans


def serve(port: int, cwd: Path, **env: str) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "shipshape", "serve", "--port", str(port)],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(
                f"server exited: {server.stderr.read() if server.stderr else ''!r}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError("server did not come up")


@pytest.mark.parametrize("fastapi_telemetry", ["true", "false"])
def test_serve_continues_callers_traces_and_exports_them_over_otlp(
    tmp_path: Path,
    free_port: int,
    collector: tuple[int, list[tuple[str, bytes]]],
    fastapi_telemetry: str,
) -> None:
    collector_port, received = collector
    policies = [{"route": "/orders", "method": "POST", "capacity": 1, "refill_rate": 0.001}]
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
            # the one token of POST /orders, then a sampled caller refused with 429
            assert client.post("/orders", json={}).status_code == 422
            refused = {"traceparent": traceparent(3), "tracestate": TRACESTATE}
            assert client.post("/orders", json={}, headers=refused).status_code == 429
            too_large = {"traceparent": traceparent(4), "content-type": "application/json"}
            answer = client.post("/orders", content=b" " * 5000, headers=too_large)
            assert answer.status_code == 413
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    lines = [json.loads(x) for x in out.decode().splitlines() if '"status":' in x]
    by_trace = {line["trace_id"]: line for line in lines if "trace_id" in line}
    spans = {span.trace_id.hex(): span for span in exported_spans(received)}
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
