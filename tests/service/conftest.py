"""Fixtures for the production layer: one in-memory span exporter for the process."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shipshape.observe.telemetry import configure_tracing

_EXPORTER = InMemorySpanExporter()

#: a valid body for the example orders API's POST /orders
ORDER = {
    "customer_email": "ada@example.com",
    "items": [{"sku": "BOOK-1", "quantity": 2, "unit_price": "12.50"}],
    "shipping_address": {
        "street": "1 Main St",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
    },
}


_ATTACHED: list[TracerProvider] = []


def _install_provider() -> None:
    """Export every finished span of the process's provider to ``_EXPORTER``.

    The global provider can be set once per process; whichever test set it (ours or
    the layer's own ``configure_tracing``), the in-memory exporter is attached to it.
    """
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        current = configure_tracing("tests", 0.0)  # the layer's own provider
    assert isinstance(current, TracerProvider)
    if current not in _ATTACHED:
        current.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        _ATTACHED.append(current)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Finished spans of this test (the provider samples no new root by itself)."""
    _install_provider()
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every JSON object line of captured output (other lines are ignored)."""
    records = []
    for line in text.splitlines():
        if line.startswith("{"):
            records.append(orjson.loads(line))
    return records


def access_lines(text: str) -> list[dict[str, Any]]:
    return [record for record in json_lines(text) if "status" in record and "route" in record]


def start(args: list[str], cwd: Path, **env: str) -> subprocess.Popen[bytes]:
    """``shipshape serve`` with ``args`` as a real process, in ``cwd``."""
    return subprocess.Popen(
        [sys.executable, "-m", "shipshape", "serve", *args],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_until_live(
    port: int,
    process: subprocess.Popen[bytes],
    timeout: float = 30,
    said: Callable[[], str] | None = None,
) -> None:
    """Wait for ``/livez``; if the server exits first, fail with what it ``said`` (its
    stderr, unless the caller reads its output itself)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            if said is not None:
                raise AssertionError(said())
            raise AssertionError(
                f"server exited: {process.stderr.read() if process.stderr else ''!r}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not come up")


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
    """An OTLP/HTTP collector on a free port: its port, and the (path, body) it got."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    _Collector.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Collector.received
    server.shutdown()
    server.server_close()


def exported_spans(received: list[tuple[str, bytes]]) -> list[tuple[dict[str, str], Any]]:
    """The spans a collector got over OTLP/HTTP, each with its resource's attributes."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    spans: list[tuple[dict[str, str], Any]] = []
    for path, body in received:
        assert path == "/v1/traces"
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                spans.extend((resource, span) for span in scope_spans.spans)
    return spans
