"""OpenTelemetry setup: one tracer provider, parent-based ratio sampling, OTLP export.

The production layer decides sampling once per request, before the app runs, so an
unsampled request costs almost nothing: FastAPI's built-in telemetry is skipped for
it. For a sampled request FastAPI (or, for other ASGI apps, our middleware) records
the server span, and the provider's sampler agrees with the decision through
``request_sampled_var``. The provider the layer creates records ``LightSpan`` s
(``spans.py``): the SDK's spans, with less work per span.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import (
    Link,
    Span,
    SpanKind,
)
from opentelemetry.util._decorator import _agnosticcontextmanager
from opentelemetry.util.types import Attributes

from shipshape.observe.spans import LightTracer, LightTracerProvider, dropped_span

__all__ = [
    "DecidedTracerProvider",
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

    __slots__ = ("flags", "sampled", "span_id", "trace_id")

    def __init__(self, trace_id: str, span_id: str, flags: int) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        #: the trace-flags byte (0x01 sampled; 0x02 random trace id, W3C Level 2)
        self.flags = flags
        self.sampled = bool(flags & 1)


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
    return TraceParent(trace_id.decode(), span_id.decode(), int(flags, 16))


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


class DecidedTracerProvider(trace.TracerProvider):
    """A tracer provider whose tracers follow the request layer's decision first.

    Inside a request the layer decided not to sample (``request_sampled_var`` is
    ``False``), every span started is non-recording and unsampled, whatever the
    wrapped provider's sampler would say (it may be the app's own, and it does not
    know that two ``traceparent`` headers make a context invalid). Otherwise the
    wrapped provider's tracer does the work.
    """

    def __init__(self, provider: trace.TracerProvider) -> None:
        self.provider = provider

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        tracer = self.provider.get_tracer(*args, **kwargs)
        if isinstance(tracer, LightTracer) and tracer.provider.decided == request_sampled_var.get:
            tracer.binding = True  # the layer's own: it follows the decision itself
            return tracer
        return _DecidedTracer(tracer)


class _DecidedTracer(trace.Tracer):
    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer

    def start_span(
        self, name: str, context: Context | None = None, *args: Any, **kwargs: Any
    ) -> Span:
        if request_sampled_var.get() is False:
            return _dropped_span(context)
        return self.tracer.start_span(name, context, *args, **kwargs)

    @_agnosticcontextmanager  # as the SDK's: decorates async functions too
    def start_as_current_span(
        self, name: str, context: Context | None = None, *args: Any, **kwargs: Any
    ) -> Iterator[Span]:
        if request_sampled_var.get() is False:
            end_on_exit = kwargs.get("end_on_exit", True)
            with trace.use_span(_dropped_span(context), end_on_exit=end_on_exit) as span:
                yield span
            return
        with self.tracer.start_as_current_span(name, context, *args, **kwargs) as span:
            yield span


def _dropped_span(context: Context | None) -> Span:
    return dropped_span(trace.get_current_span(context).get_span_context())


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
    provider = LightTracerProvider(
        resource=Resource.create({"service.name": service_name}),
        sampler=ParentBased(root=RequestSampler(sample_ratio)),
        decided=request_sampled_var.get,
    )
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return trace.get_tracer_provider()
