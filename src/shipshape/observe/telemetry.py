"""OpenTelemetry setup: one tracer provider, parent-based ratio sampling, OTLP export.

The production layer decides sampling once per request, before the app runs, so an
unsampled request costs almost nothing: FastAPI's built-in telemetry is skipped for
it. For a sampled request FastAPI (or, for other ASGI apps, our middleware) records
the server span, and the provider's sampler agrees with the decision through
``request_sampled_var``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

__all__ = [
    "RequestSampler",
    "TraceParent",
    "configure_tracing",
    "parse_traceparent",
    "request_sampled_var",
]

request_sampled_var: ContextVar[bool | None] = ContextVar("shipshape_request_sampled", default=None)

_TRACEPARENT = re.compile(rb"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$")
_ZERO_TRACE = b"0" * 32
_ZERO_SPAN = b"0" * 16


class TraceParent:
    """A parsed W3C ``traceparent`` header."""

    __slots__ = ("sampled", "span_id", "trace_id")

    def __init__(self, trace_id: str, span_id: str, sampled: bool) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.sampled = sampled


def parse_traceparent(value: bytes) -> TraceParent | None:
    """``None`` for anything that is not a valid W3C trace context (version 00 rules):
    lowercase hex only, no all-zero ids, version ``ff`` refused."""
    match = _TRACEPARENT.match(value.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags = match.groups()
    if version == b"ff" or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    if version == b"00" and len(value.strip()) != 55:
        return None
    return TraceParent(trace_id.decode(), span_id.decode(), bool(int(flags, 16) & 1))


class RequestSampler(Sampler):
    """Root sampler: follows the request layer's decision when it made one (``True``
    samples, ``False`` drops), else samples a ratio of new traces."""

    def __init__(self, ratio: float) -> None:
        self._ratio = TraceIdRatioBased(ratio)
        self.ratio = ratio

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        decided = request_sampled_var.get()
        if decided is not None:
            decision = Decision.RECORD_AND_SAMPLE if decided else Decision.DROP
            return SamplingResult(decision, attributes if decided else None, trace_state)
        return self._ratio.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"RequestSampler{{{self.ratio}}}"


def _provider_is_default(provider: object) -> bool:
    return type(provider).__name__ in {"ProxyTracerProvider", "NoOpTracerProvider"}


def configure_tracing(service_name: str, sample_ratio: float) -> trace.TracerProvider:
    """The global tracer provider, created once per process.

    An application that already installed its own provider keeps it. Ours samples
    parent-based with ``sample_ratio`` for new traces and exports over OTLP/HTTP when
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) is set.
    """
    current = trace.get_tracer_provider()
    if not _provider_is_default(current):
        return current
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}),
        sampler=ParentBased(root=RequestSampler(sample_ratio)),
    )
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return trace.get_tracer_provider()
