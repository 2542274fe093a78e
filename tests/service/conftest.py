"""Fixtures for the production layer: one in-memory span exporter for the process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shipshape.observe.telemetry import configure_tracing

_EXPORTER = InMemorySpanExporter()


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
