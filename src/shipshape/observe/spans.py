"""A lighter recording span for the tracer provider the layer creates.

In a server, the OpenTelemetry SDK's ``Span`` costs more than half of what a whole
trivial FastAPI request does: two locks and a ``BoundedAttributes`` per span, every
attribute value passed through the recursive cleaner, a ``ReadableSpan`` copy handed
to the span processors at the end even when there are none (``bench/RESULTS.md``,
"Lighter spans for 100% sampling").

``LightTracerProvider`` is the SDK's ``TracerProvider`` (same sampler, ids, resource,
span limits, processors, shutdown) whose tracers make ``LightSpan`` s: SDK spans
(``isinstance(span, opentelemetry.sdk.trace.Span)`` holds, and the SDK's own methods
do the rare work: events, links, status, exceptions) that store plain attribute
values (``str``, ``bool``, ``int``, ``float``) without the cleaner, allocate events,
links and the lock-guarded containers only when used, and build the
``ReadableSpan`` for the processors only when there are processors. What processors
and exporters receive is what the SDK would give them, limits and dropped counts
included; ``tests/observe/test_spans.py`` checks that against the SDK's own spans.

The SDK's experimental per-tracer configurator is honoured (a tracer it disables
makes non-recording spans); its internal span metrics
(``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED``) turn the light spans off, so that they
are counted. Span processors are registered as with the SDK: ``add_span_processor``,
or on an ``active_span_processor`` (``ConcurrentMultiSpanProcessor``) given to the
provider. Unlike the SDK's, attribute writes take no lock: two threads writing to
one span at its attribute limit may both evict (one attribute more than the SDK
would drop, counted as dropped); no write raises, and processors never get more
attributes than the limit.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from time import time_ns
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import (
    ConcurrentMultiSpanProcessor,
    ReadableSpan,
    SpanLimits,
    SynchronousMultiSpanProcessor,
    Tracer,
    TracerProvider,
)
from opentelemetry.sdk.trace import Span as SDKSpan
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import Sampler
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode
from opentelemetry.util import types
from opentelemetry.util._decorator import _agnosticcontextmanager

__all__ = ["LightSpan", "LightTracer", "LightTracerProvider", "dropped_span"]

# the SDK's own warnings, verbatim and from the same loggers
_logger = logging.getLogger("opentelemetry.sdk.trace")
_attributes_logger = logging.getLogger("opentelemetry.attributes")

_PLAIN = frozenset({str, bool, int, float})
_STR = frozenset({str})
_UNSET = Status(StatusCode.UNSET)
# flags the SDK sets from 1.3x on; absent (0) in older API versions
_RANDOM_TRACE_ID = int(getattr(TraceFlags, "RANDOM_TRACE_ID", 0))
_SAMPLED = int(TraceFlags.SAMPLED)
_TRACE_FLAGS = [TraceFlags(flags) for flags in range(256)]
_new_span = object.__new__


def dropped_span(parent: SpanContext | None) -> trace_api.Span:
    """A non-recording span in the parent's trace, marked unsampled for what follows
    (keeping the parent's random-trace-id flag, as the SDK's unsampled spans do)."""
    if parent is None or not parent.is_valid:
        return trace_api.INVALID_SPAN
    return trace_api.NonRecordingSpan(
        SpanContext(
            parent.trace_id,
            parent.span_id,
            is_remote=parent.is_remote,
            trace_flags=_TRACE_FLAGS[parent.trace_flags & _RANDOM_TRACE_ID],
            trace_state=parent.trace_state,
        )
    )


class LightTracerProvider(TracerProvider):
    """``opentelemetry.sdk.trace.TracerProvider`` whose tracers record ``LightSpan`` s.

    ``decided`` is an optional function returning ``True`` when the caller (the
    request layer) has already decided that the current request is sampled: a span
    whose parent is absent or sampled is then recorded without asking the sampler,
    which would say the same (the layer's sampler is parent-based and follows that
    decision for roots).
    """

    def __init__(
        self,
        sampler: Sampler | None = None,
        resource: Resource | None = None,
        shutdown_on_exit: bool = True,
        active_span_processor: SynchronousMultiSpanProcessor
        | ConcurrentMultiSpanProcessor
        | None = None,
        id_generator: IdGenerator | None = None,
        span_limits: SpanLimits | None = None,
        *,
        decided: Callable[[], bool | None] | None = None,
        **sdk_options: Any,
    ) -> None:
        # the SDK provider's own arguments, in its order (meter_provider and the
        # tracer configurator pass through as keywords)
        self.limits = span_limits or SpanLimits()
        self.processors = active_span_processor or SynchronousMultiSpanProcessor()  # type: ignore[no-untyped-call]
        super().__init__(
            sampler=sampler,
            resource=resource,
            shutdown_on_exit=shutdown_on_exit,
            active_span_processor=self.processors,
            id_generator=id_generator,
            span_limits=self.limits,
            **sdk_options,
        )
        self.decided_sampler = self.sampler if decided is not None else None
        self.decided = decided
        # processors may be added to the multi-processor itself, as the SDK allows: the
        # spans look at its tuple of processors, not at a count kept here
        self.light = hasattr(self.processors, "_span_processors") and os.environ.get(
            "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", ""
        ).strip().lower() not in {"true", "1"}

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: types.Attributes = None,
    ) -> trace_api.Tracer:
        tracer = super().get_tracer(
            instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )
        if not self.light or not isinstance(tracer, Tracer):  # OTEL_SDK_DISABLED: no-op
            return tracer
        return LightTracer(self, tracer)


class LightTracer(trace_api.Tracer):
    """Starts ``LightSpan`` s with the SDK tracer's sampler, ids, resource and scope."""

    def __init__(
        self, provider: LightTracerProvider, tracer: Tracer, *, binding: bool = False
    ) -> None:
        self.provider = provider
        # binding: a "not sampled" decision makes every span non-recording, whatever the
        # sampler would say (what telemetry.DecidedTracerProvider asks of a tracer)
        self.binding = binding
        self.tracer = tracer
        self.id_generator = tracer.id_generator
        is_random = getattr(self.id_generator, "is_trace_id_random", None)
        self.random_roots = bool(is_random()) if is_random is not None else False
        self.enabled: Callable[[], bool] | None = getattr(tracer, "_is_enabled", None)
        self.scope: InstrumentationScope | None = getattr(tracer, "_instrumentation_scope", None)

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace_api.Span:
        links = links or ()
        parent: SpanContext | None = trace_api.get_current_span(context).get_span_context()
        if parent is not None and not isinstance(parent, SpanContext):
            raise TypeError("parent_span_context must be a SpanContext or None.")
        if self.enabled is not None and not self.enabled():
            return trace_api.NonRecordingSpan(
                context=parent if parent is not None else trace_api.INVALID_SPAN_CONTEXT
            )
        provider = self.provider
        decided = provider.decided
        verdict = decided() if decided is not None else None
        if verdict is False and self.binding:
            return dropped_span(parent)
        if parent is None or not parent.is_valid:
            parent = None
            trace_id = self.id_generator.generate_trace_id()
        else:
            trace_id = parent.trace_id
        if (
            verdict is True
            and provider.sampler is provider.decided_sampler
            and (parent is None or parent.trace_flags.sampled)
        ):
            recording, sampled = True, True
            trace_state = parent.trace_state if parent is not None else None
        else:
            result = provider.sampler.should_sample(
                context, trace_id, name, kind, attributes, links
            )
            decision = result.decision
            recording = decision.is_recording()  # type: ignore[no-untyped-call]
            sampled = decision.is_sampled()  # type: ignore[no-untyped-call]
            attributes, trace_state = result.attributes, result.trace_state
        flags = _SAMPLED if sampled else 0
        random = self.random_roots if parent is None else parent.trace_flags & _RANDOM_TRACE_ID
        if random:
            flags |= _RANDOM_TRACE_ID
        span_context = SpanContext(
            trace_id,
            self.id_generator.generate_span_id(),
            is_remote=False,
            trace_flags=_TRACE_FLAGS[flags],
            trace_state=trace_state,
        )
        if not recording:
            return trace_api.NonRecordingSpan(context=span_context)
        span: LightSpan = _new_span(LightSpan)  # past the SDK's __new__ guard
        span.__init__(  # type: ignore[misc]
            name,
            span_context,
            parent,
            kind,
            self,
            attributes,
            links,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        )
        span._start_time = start_time if start_time is not None else time_ns()  # a new span
        if provider.processors._span_processors:
            span._span_processor.on_start(span, parent_context=context)
        return span

    @_agnosticcontextmanager  # as the SDK's: decorates async functions too
    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace_api.Span]:
        span = self.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        with trace_api.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


class LightSpan(SDKSpan):
    """An SDK span that stores plain attribute values as they come and allocates
    events, links and their containers on first use.

    Attribute values other than ``str``/``bool``/``int``/``float`` (sequences,
    mappings, ``None``, other types), keys that are not strings, and strings over the
    length limit go through the SDK's own cleaning; limits and dropped counts are the
    SDK's. Status, events, links and exceptions are the SDK's own methods.
    """

    _start_time: int | None = None
    _end_time: int | None = None
    _attributes_dropped = 0
    _events: Any = ()
    _links: Any = ()
    _status = _UNSET
    _trace_config = None
    _record_exception = True
    _set_status_on_exception = True
    _record_end_metrics = None

    def __init__(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        tracer: LightTracer,
        attributes: types.Attributes,
        links: Sequence[Link],
        *,
        record_exception: bool,
        set_status_on_exception: bool,
    ) -> None:
        # every field SDKSpan.__init__ and ReadableSpan.__init__ set, without their work;
        # the ones every new span starts with are class attributes (below)
        provider = tracer.provider
        self._name = name
        self._context = context
        self._kind = kind
        self._instrumentation_info = tracer.tracer.instrumentation_info
        self._instrumentation_scope = tracer.scope
        self._parent = parent
        self._attributes: dict[str, Any] = {}
        self._resource = tracer.tracer.resource
        self._sampler = provider.sampler
        self._span_processor = provider.processors
        self._provider = provider
        self._limits = provider.limits
        self._lock = threading.Lock()
        if not record_exception:
            self._record_exception = False
        if not set_status_on_exception:
            self._set_status_on_exception = False
        if attributes:  # before the links, as the SDK does (its warnings come in order)
            self.set_attributes(attributes)
        if links:
            self._links = self._new_links(links)

    # -- attributes

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        if self._end_time is not None:
            _logger.warning("Setting attribute on ended span.")
            return
        if type(key) is str and key and type(value) in _PLAIN:
            limit = self._limits.max_span_attribute_length
            if limit is None or type(value) is not str or len(value) <= limit:
                self._put(key, value)
                return
        if self._limits.max_span_attributes == 0:  # no room: dropped unlooked at
            self._attributes_dropped += 1
            return
        if not key or not isinstance(key, str):
            _attributes_logger.warning(
                "invalid key `%s`. must be non-empty string. Dropping key from attributes.",
                key,
            )
            self._attributes_dropped += 1
            return
        self._put_cleaned({key: value})

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        if self._end_time is not None:
            _logger.warning("Setting attribute on ended span.")
            return
        limits = self._limits
        if limits.max_span_attributes == 0:  # no room: dropped unlooked at
            self._attributes_dropped += len(attributes)
            return
        limit = limits.max_span_attribute_length
        if (
            not _PLAIN.issuperset(map(type, attributes.values()))
            or not _STR.issuperset(map(type, attributes))
            or "" in attributes
            or (
                limit is not None
                and any(type(value) is str and len(value) > limit for value in attributes.values())
            )
        ):
            self._put_cleaned(attributes)
            return
        own: dict[str, Any] = self._attributes
        most = limits.max_span_attributes
        if most is None or len(own) + len(attributes) <= most:  # nothing to evict
            if not own.keys().isdisjoint(attributes):
                for key in attributes:
                    own.pop(key, None)  # the SDK moves a set key to the end (newest)
            own.update(attributes)
            return
        for key, value in attributes.items():
            self._put(key, value)

    def _put_cleaned(self, attributes: Mapping[str, types.AnyValue]) -> None:
        """Set attributes through the SDK's cleaning (the same values, warnings and
        dropped counts as its spans)."""
        cleaned = BoundedAttributes(
            None, attributes, immutable=True, max_value_len=self._limits.max_span_attribute_length
        )
        self._attributes_dropped += cleaned.dropped
        for key, value in cleaned.items():
            self._put(key, value)

    def _put(self, key: str, value: types.AnyValue) -> None:
        attributes: dict[str, Any] = self._attributes
        if key in attributes:
            del attributes[key]  # the SDK moves a set key to the end (newest)
        else:
            most = self._limits.max_span_attributes
            if most is not None and len(attributes) >= most:
                if most == 0:
                    self._attributes_dropped += 1
                    return
                _attributes_logger.warning(
                    "Attributes dict is full. Dropping the oldest key-value pair from "
                    "attributes to make space for the new key-value pair.",
                )
                self._make_room(most)
        attributes[key] = value

    def _make_room(self, most: int) -> None:
        """Drop the oldest attributes, counted, until fewer than ``most`` are left: one,
        unless other threads write meanwhile (writes take no lock: the oldest may be
        gone, or the attributes changed under the iterator; look again)."""
        attributes: dict[str, Any] = self._attributes
        while len(attributes) >= most:
            try:
                del attributes[next(iter(attributes))]
            except (RuntimeError, KeyError, StopIteration):
                continue
            self._attributes_dropped += 1

    @property
    def dropped_attributes(self) -> int:
        return self._attributes_dropped

    def update_name(self, name: str) -> None:
        with self._lock:
            if self._end_time is None:
                self._name = name
                return
        _logger.warning("Tried calling %s on an ended span.", "update_name")

    # -- events and links: containers on first use

    def _add_event(self, event: Any) -> None:
        self._append("_events", event, self._limits.max_events, "_add_event")

    def _add_link(self, link: Link) -> None:
        self._append("_links", link, self._limits.max_links, "_add_link")

    def _append(self, field: str, item: Any, most: int | None, method: str) -> None:
        """Append to the events or links, making their ``BoundedList`` on first use;
        after the end, the SDK's warning naming ``method``."""
        with self._lock:
            if self._end_time is None:
                items = getattr(self, field)
                if not isinstance(items, BoundedList):
                    items = BoundedList(most)
                    setattr(self, field, items)
                items.append(item)
                return
        _logger.warning("Tried calling %s on an ended span.", method)

    # -- life cycle

    def start(self, start_time: int | None = None, parent_context: Context | None = None) -> None:
        with self._lock:
            if self._start_time is not None:
                _logger.warning("Calling start() on a started span.")
                return
            self._start_time = start_time if start_time is not None else time_ns()
        if self._provider.processors._span_processors:
            self._span_processor.on_start(self, parent_context=parent_context)

    def end(self, end_time: int | None = None) -> None:
        with self._lock:
            if self._start_time is None:
                raise RuntimeError("Calling end() on a not started span.")
            if self._end_time is not None:
                _logger.warning("Calling end() on an ended span.")
                return
            self._end_time = end_time if end_time is not None else time_ns()
        if self._provider.processors._span_processors:
            processors = self._span_processor
            on_ending = getattr(processors, "_on_ending", None)
            if on_ending is not None:
                on_ending(self)
            processors.on_end(self._readable_span())

    def _readable_span(self) -> ReadableSpan:
        most = self._limits.max_span_attributes
        if most is not None and len(self._attributes) > most:  # writers raced past it
            self._make_room(most + 1)
        return _EndedSpan(
            self._attributes_dropped,
            name=self._name,
            context=self._context,
            parent=self._parent,
            resource=self._resource,
            attributes=dict(self._attributes),
            events=self._events,
            links=self._links,
            kind=self._kind,
            status=self._status,
            start_time=self._start_time,
            end_time=self._end_time,
            instrumentation_info=self._instrumentation_info,
            instrumentation_scope=self._instrumentation_scope,
        )


class _EndedSpan(ReadableSpan):
    """The ``ReadableSpan`` the processors get, carrying the span's dropped count."""

    def __init__(self, dropped: int, **fields: Any) -> None:
        super().__init__(**fields)
        self._attributes_dropped = dropped

    @property
    def dropped_attributes(self) -> int:
        return self._attributes_dropped
