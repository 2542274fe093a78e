"""The layer's light spans: span processors get what the SDK's own spans give them."""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import (
    ConcurrentMultiSpanProcessor,
    ReadableSpan,
    SpanLimits,
    SpanProcessor,
    Tracer,
    TracerProvider,
)
from opentelemetry.sdk.trace import Span as SDKSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from shipshape.observe.spans import LightSpan, LightTracer, LightTracerProvider
from shipshape.observe.telemetry import RequestSampler
from tests.threads import race

RESOURCE = Resource.create({"service.name": "spans-test"})


class CountingIds(IdGenerator):
    """The same ids, in the same order, for both providers."""

    def __init__(self) -> None:
        self.last = 0

    def generate_span_id(self) -> int:
        self.last += 1
        return self.last

    def generate_trace_id(self) -> int:
        self.last += 1
        return self.last


class Color(enum.IntEnum):
    RED = 1


class Opaque:
    """No ``__str__`` or ``__repr__`` of its own: the SDK drops such values to None."""

    __str__ = object.__str__
    __repr__ = object.__repr__


OPAQUE = Opaque()
ERRORS = (ValueError("bad value"), KeyError("key"))
REMOTE = SpanContext(
    0xABC,
    0xDEF,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
    trace_state=TraceState([("p", "1")]),
)
LOCAL_UNSAMPLED = SpanContext(0xABC, 0xDE0, is_remote=False, trace_flags=TraceFlags(0x02))

keys = st.one_of(st.sampled_from(["a", "b", "c", "http.route", ""]), st.text(max_size=3))
values = st.one_of(
    st.text(max_size=14),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.none(),
    st.binary(max_size=3),
    st.lists(st.integers(), max_size=3),
    st.lists(st.text(max_size=8), max_size=3),
    st.tuples(st.booleans(), st.text(max_size=3)),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.just(Color.RED),
    st.just(OPAQUE),
)
mappings = st.dictionaries(st.one_of(keys, st.integers(0, 2)), values, max_size=4)
links = st.lists(  # (context, attributes): the SDK rewrites the attributes of a Link it is given
    st.tuples(
        st.sampled_from([REMOTE, trace.INVALID_SPAN_CONTEXT]),
        st.one_of(st.none(), st.dictionaries(keys, values, max_size=2)),
    ),
    max_size=2,
)
statuses = st.one_of(
    st.tuples(st.sampled_from(list(StatusCode)), st.one_of(st.none(), st.text(max_size=3))),
    st.tuples(st.builds(Status, st.sampled_from(list(StatusCode)), st.text(max_size=3)), st.none()),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("set_attribute"), st.one_of(keys, st.integers(0, 2)), values),
        st.tuples(st.just("set_attributes"), mappings),
        st.tuples(st.just("update_name"), st.text(max_size=4)),
        st.tuples(st.just("set_status"), statuses),
        st.tuples(st.just("add_event"), st.text(max_size=3), st.one_of(st.none(), mappings)),
        st.tuples(st.just("add_link"), links),
        st.tuples(st.just("record_exception"), st.sampled_from(ERRORS)),
        st.tuples(st.just("end")),
    ),
    max_size=14,
)
limits = st.builds(
    SpanLimits,
    max_span_attributes=st.sampled_from([None, 0, 1, 2, 4, SpanLimits.UNSET]),
    max_span_attribute_length=st.sampled_from([None, 0, 3, 10]),
    max_events=st.sampled_from([None, 0, 1, 2]),
    max_links=st.sampled_from([None, 0, 1]),
    max_event_attributes=st.sampled_from([None, 1]),
    max_link_attributes=st.sampled_from([None, 1]),
    max_attribute_length=st.sampled_from([None, 2]),
)


class Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.name, record.getMessage()))


@pytest.fixture
def warnings() -> Iterator[Warnings]:
    handler = Warnings()
    logger = logging.getLogger("opentelemetry")
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.DEBUG
    yield handler
    logger.removeHandler(handler)
    logger.level = level


class ScriptedSampler(Sampler):
    """A sampler's every freedom: its decision, attributes of its own, a trace state."""

    def __init__(self, decision: Decision, extra: dict[Any, Any], state: TraceState | None) -> None:
        self.decision, self.extra, self.state = decision, extra, state

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        return SamplingResult(self.decision, {**(attributes or {}), **self.extra}, self.state)

    def get_description(self) -> str:
        return "scripted"


class Watching(SpanProcessor):
    """What a processor sees of the live span when it starts and as it ends."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

        self.finished: list[ReadableSpan] = []

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        parent = trace.get_current_span(parent_context).get_span_context()
        self.seen.append(("start", parent_context is None, parent, *live_view(span)))

    def _on_ending(self, span: Any) -> None:
        self.seen.append(("ending", *live_view(span)))

    def on_end(self, span: ReadableSpan) -> None:
        self.finished.append(span)  # sampled or not (a SimpleSpanProcessor sees sampled ones)


def live_view(span: Any) -> tuple[Any, ...]:
    return (
        span.name,
        span.get_span_context(),
        span.parent,
        span.kind,
        span.is_recording(),
        list((span.attributes or {}).items()),
        span.dropped_attributes,
        len(span.events),
        len(span.links),
        span.dropped_links,
        span.start_time,
        span.end_time,
        (span.status.status_code, span.status.description),
    )


samplers = st.one_of(
    st.just(ALWAYS_ON),
    st.builds(
        ScriptedSampler,
        st.sampled_from([Decision.RECORD_ONLY, Decision.RECORD_AND_SAMPLE]),
        st.dictionaries(st.one_of(keys, st.integers(0, 1)), values, max_size=2),
        st.sampled_from([None, TraceState([("k", "v")])]),
    ),
)
# how the span ends: end(), or leaving `with span:` (optionally raising), with the
# record_exception / set_status_on_exception flags it was started with
endings = st.tuples(st.sampled_from(["end", "with", "with-raise"]), st.booleans(), st.booleans())


def make(
    cls: type[TracerProvider], span_limits: SpanLimits, sampler: Sampler = ALWAYS_ON
) -> tuple[Any, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = cls(
        sampler=sampler,
        resource=RESOURCE,
        span_limits=span_limits,
        id_generator=CountingIds(),
        shutdown_on_exit=False,
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("spans-test", "1.0", schema_url="https://example.com/s"), exporter


def apply(span: Any, operation: tuple[Any, ...], step: int) -> None:
    name, *args = operation
    if name == "set_status":
        status, description = args[0]
        span.set_status(status, description)
    elif name == "add_event":
        span.add_event(args[0], args[1], timestamp=10 + step)
    elif name == "add_link":
        for context, attributes in args[0]:
            span.add_link(context, attributes)
    elif name == "record_exception":
        span.record_exception(args[0], {"step": step}, timestamp=20 + step)
    elif name == "end":
        span.end(end_time=1000 + step)
    else:
        getattr(span, name)(*args)


def described(span: ReadableSpan) -> dict[str, Any]:
    """Everything an exporter reads from a finished span, attribute order included."""
    return {
        "name": span.name,
        "context": span.context,
        "parent": span.parent,
        "kind": span.kind,
        "status": (span.status.status_code, span.status.description),
        "attributes": list((span.attributes or {}).items()),
        "dropped_attributes": span.dropped_attributes,
        "events": [
            (e.name, e.timestamp, list((e.attributes or {}).items()), e.dropped_attributes)
            for e in span.events
        ],
        "dropped_events": span.dropped_events,
        "links": [
            (link.context, list((link.attributes or {}).items()), link.dropped_attributes)
            for link in span.links
        ],
        "dropped_links": span.dropped_links,
        "times": (span.start_time, span.end_time),
        "resource": dict(span.resource.attributes),
        "scope": span.instrumentation_scope,
        "otlp": otlp(span),
        "json": as_json(span),
    }


def otlp(span: ReadableSpan) -> bytes | str:
    """The span as the OTLP exporters send it (or the error they meet)."""
    try:
        encoded: bytes = encode_spans([span]).SerializeToString(deterministic=True)
    except Exception as error:  # the SDK's spans must fail alike
        return type(error).__name__
    return encoded


def as_json(span: ReadableSpan) -> str:
    """The span as ``ConsoleSpanExporter`` prints it (or the error it meets)."""
    try:
        return str(span.to_json())
    except Exception as error:
        return type(error).__name__


def end_as(span: Any, ending: tuple[str, bool, bool]) -> None:
    how = ending[0]
    if how == "end":
        span.end(end_time=5000)
        return
    try:
        with span:
            if how == "with-raise":
                raise KeyError("left")
    except KeyError:
        pass


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    span_limits=limits,
    sampler=samplers,
    kind=st.sampled_from(list(SpanKind)),
    initial=st.one_of(st.none(), mappings),
    initial_links=links,
    parent=st.sampled_from([None, REMOTE, LOCAL_UNSAMPLED]),
    steps=operations,
    ending=endings,
)
def test_light_spans_export_what_sdk_spans_export(
    warnings: Warnings,
    span_limits: SpanLimits,
    sampler: Sampler,
    kind: SpanKind,
    initial: dict[Any, Any] | None,
    initial_links: list[tuple[SpanContext, dict[str, Any] | None]],
    parent: SpanContext | None,
    steps: list[tuple[Any, ...]],
    ending: tuple[str, bool, bool],
) -> None:
    results = []
    for cls in (TracerProvider, LightTracerProvider):
        tracer, exporter = make(cls, span_limits, sampler)
        watching = Watching()
        tracer_provider = tracer.provider if isinstance(tracer, LightTracer) else None
        (tracer_provider or sdk_provider_of(tracer)).add_span_processor(watching)
        warnings.seen.clear()
        context = trace.set_span_in_context(NonRecordingSpan(parent)) if parent else None
        given_links = [Link(context, attributes) for context, attributes in initial_links]
        with (
            patch("opentelemetry.sdk.trace.time_ns", lambda: 7777),
            patch("shipshape.observe.spans.time_ns", lambda: 7777),
        ):
            span = tracer.start_span(
                "op",
                context,
                kind,
                initial,
                given_links,
                start_time=500,
                record_exception=ending[1],
                set_status_on_exception=ending[2],
            )
            assert isinstance(span, SDKSpan)
            live = []
            for step, operation in enumerate(steps):
                apply(span, operation, step)
                live.append(
                    (dict(span.attributes or {}), span.dropped_attributes, span.is_recording())
                )
            end_as(span, ending)
        [finished] = watching.finished
        exported = exporter.get_finished_spans()
        assert list(exported) == ([finished] if span.get_span_context().trace_flags.sampled else [])
        results.append((described(finished), live, list(warnings.seen), watching.seen))
    sdk, light = results
    assert light[0] == sdk[0]
    assert light[1] == sdk[1]
    assert light[2] == sdk[2]
    assert light[3] == sdk[3]


def sdk_provider_of(tracer: Any) -> Any:
    """The SDK tracer's provider: its processor is the provider's multi-processor."""
    return _Adding(tracer.span_processor)


class _Adding:
    def __init__(self, multi: Any) -> None:
        self.multi = multi

    def add_span_processor(self, processor: SpanProcessor) -> None:
        self.multi.add_span_processor(processor)


def test_the_light_provider_makes_light_spans_and_the_sdk_tracer_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = LightTracerProvider(sampler=ALWAYS_ON, resource=RESOURCE, shutdown_on_exit=False)
    assert isinstance(provider.get_tracer("t").start_span("s"), LightSpan)
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    metered = LightTracerProvider(sampler=ALWAYS_ON, resource=RESOURCE, shutdown_on_exit=False)
    assert type(metered.get_tracer("t")) is Tracer  # the SDK's own spans keep its metrics
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    disabled = LightTracerProvider(sampler=ALWAYS_ON, resource=RESOURCE, shutdown_on_exit=False)
    assert not disabled.get_tracer("t").start_span("s").is_recording()


def test_spans_record_without_processors_and_export_once_one_is_added() -> None:
    provider = LightTracerProvider(sampler=ALWAYS_ON, resource=RESOURCE, shutdown_on_exit=False)
    tracer = provider.get_tracer("t")
    unseen = tracer.start_span("before", attributes={"a": 1})
    assert unseen.is_recording()
    assert unseen.get_span_context().trace_flags.sampled
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    unseen.end()  # started before the processor: like the SDK, it is not seen to start
    tracer.start_span("after", attributes={"b": 2}).end()
    names = [span.name for span in exporter.get_finished_spans()]
    assert names == ["before", "after"]
    assert exporter.get_finished_spans()[1].attributes == {"b": 2}


class CountingSampler(Sampler):
    def __init__(self, inner: Sampler) -> None:
        self.inner = inner
        self.calls = 0

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        self.calls += 1
        return self.inner.should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return "counting"


def test_a_decided_request_skips_the_sampler_only_where_it_would_agree() -> None:
    decision: list[bool | None] = [True]
    sampler = CountingSampler(ParentBased(root=RequestSampler(0.0)))
    provider = LightTracerProvider(
        sampler=sampler, resource=RESOURCE, decided=lambda: decision[0], shutdown_on_exit=False
    )
    tracer = provider.get_tracer("t")
    root = tracer.start_span("root")
    assert root.is_recording()
    assert root.get_span_context().trace_flags.sampled
    child = tracer.start_span("child", trace.set_span_in_context(root))
    assert child.is_recording()
    assert child.get_span_context().trace_id == (root.get_span_context().trace_id)
    assert sampler.calls == 0
    unsampled = SpanContext(7, 8, is_remote=True, trace_flags=TraceFlags(TraceFlags.DEFAULT))
    dropped = tracer.start_span("x", trace.set_span_in_context(NonRecordingSpan(unsampled)))
    assert not dropped.is_recording()
    assert sampler.calls == 1
    decision[0] = None
    assert not tracer.start_span("undecided").is_recording()
    assert sampler.calls == 2
    provider.sampler = ALWAYS_ON  # a sampler put in its place is always asked
    decision[0] = True
    assert tracer.start_span("replaced").is_recording()
    assert sampler.calls == 2


def _flags(provider: Any, context: Context | None) -> int:
    return int(provider.get_tracer("t").start_span("s", context).get_span_context().trace_flags)


@pytest.mark.parametrize("parent_flags", [None, 0x01, 0x03, 0x00])
def test_trace_flags_are_the_sdks(parent_flags: int | None) -> None:
    context = None
    if parent_flags is not None:
        remote = SpanContext(5, 6, is_remote=True, trace_flags=TraceFlags(parent_flags))
        context = trace.set_span_in_context(NonRecordingSpan(remote))
    made = [
        cls(
            sampler=ParentBased(root=ALWAYS_ON),
            resource=RESOURCE,
            id_generator=RandomIdGenerator(),
            shutdown_on_exit=False,
        )
        for cls in (TracerProvider, LightTracerProvider)
    ]
    assert _flags(made[1], context) == _flags(made[0], context)


def _fail_inside(tracer: Any) -> Any:
    with tracer.start_as_current_span("op") as span:
        assert trace.get_current_span() is span
        raise ValueError("boom")


def test_an_exception_leaving_a_span_is_recorded_as_the_sdk_does() -> None:
    results = []
    for cls in (TracerProvider, LightTracerProvider):
        tracer, exporter = make(cls, SpanLimits())
        with pytest.raises(ValueError, match="boom"):
            _fail_inside(tracer)
        [finished] = exporter.get_finished_spans()
        [event] = finished.events
        status = finished.status
        results.append(
            (status.status_code, status.description, event.name, sorted(event.attributes or {}))
        )
    assert results[0] == results[1]
    assert results[1][:3] == (StatusCode.ERROR, "ValueError: boom", "exception")


def test_a_binding_tracer_drops_what_the_layer_did_not_sample() -> None:
    """Through DecidedTracerProvider (FastAPI's spans) a "no" outranks a sampled caller."""
    from shipshape.observe.telemetry import DecidedTracerProvider, request_sampled_var

    provider = LightTracerProvider(
        sampler=ParentBased(root=RequestSampler(1.0)),
        resource=RESOURCE,
        decided=request_sampled_var.get,
        shutdown_on_exit=False,
    )
    caller = trace.set_span_in_context(NonRecordingSpan(REMOTE))  # sampled by the caller
    token = request_sampled_var.set(False)
    try:
        bound_tracer = DecidedTracerProvider(provider).get_tracer("fastapi")
        assert isinstance(bound_tracer, LightTracer)  # no wrapper around the layer's own
        bound = bound_tracer.start_span("GET", caller)
        free = provider.get_tracer("app").start_span("work", caller)
    finally:
        request_sampled_var.reset(token)
    assert not bound.is_recording()
    assert bound.get_span_context().trace_id == REMOTE.trace_id
    assert not bound.get_span_context().trace_flags.sampled
    assert free.is_recording()  # the provider alone is parent-based, as the SDK's is


def _decorated_async_span(provider: Any) -> tuple[int, bool]:
    """Decorate an ``async def`` with ``start_as_current_span``: its span must last as long
    as the coroutine runs and be the parent of the spans started inside."""
    tracer: trace.Tracer = provider.get_tracer("t")

    @tracer.start_as_current_span("work")
    async def work() -> None:
        await asyncio.sleep(0.05)
        with tracer.start_as_current_span("inner"):
            pass

    asyncio.run(work())
    return _work_and_inner(provider)


def _work_and_inner(provider: Any) -> tuple[int, bool]:
    exporter = provider.exporter
    spans = {span.name: span for span in exporter.get_finished_spans()}
    work, inner = spans["work"], spans["inner"]
    return work.end_time - work.start_time, inner.parent == work.context


def _exporting(provider: Any) -> Any:
    provider.exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(provider.exporter))
    return provider


@pytest.mark.parametrize("cls", [TracerProvider, LightTracerProvider])
def test_start_as_current_span_decorates_async_functions_as_the_sdk_does(
    cls: type[TracerProvider],
) -> None:
    provider = _exporting(cls(sampler=ALWAYS_ON, resource=RESOURCE, shutdown_on_exit=False))
    duration, nested = _decorated_async_span(provider)
    assert duration >= 40_000_000  # ns: the span covers the awaited work
    assert nested


def test_start_as_current_span_decorates_async_functions_through_the_decided_provider() -> None:
    """The wrapper the layer puts around an app's own provider keeps the SDK's decorator."""
    from shipshape.observe.telemetry import DecidedTracerProvider

    inner = _exporting(TracerProvider(sampler=ALWAYS_ON, resource=RESOURCE, shutdown_on_exit=False))
    decided = DecidedTracerProvider(inner)
    decided.exporter = inner.exporter  # type: ignore[attr-defined]
    duration, nested = _decorated_async_span(decided)
    assert duration >= 40_000_000
    assert nested


@pytest.mark.parametrize("late", [False, True])
def test_an_active_span_processor_of_ones_own_is_used_as_the_sdk_uses_it(late: bool) -> None:
    """``active_span_processor`` (e.g. ``ConcurrentMultiSpanProcessor``), with processors
    added to it before or after the provider is made, as with the SDK's provider."""
    results = []
    for cls in (TracerProvider, LightTracerProvider):
        multi = ConcurrentMultiSpanProcessor(num_threads=2)
        exporter = InMemorySpanExporter()
        if not late:
            multi.add_span_processor(SimpleSpanProcessor(exporter))
        provider = cls(
            sampler=ALWAYS_ON,
            resource=RESOURCE,
            active_span_processor=multi,
            id_generator=CountingIds(),
            shutdown_on_exit=False,
        )
        if late:
            multi.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("t")
        with tracer.start_as_current_span(
            "op", attributes={"a": 1}, start_time=1, end_on_exit=False
        ) as span:
            span.add_event("e", timestamp=2)
        span.end(end_time=3)
        [finished] = exporter.get_finished_spans()
        results.append(described(finished))
        provider.shutdown()
    assert results[1] == results[0]


class RandomCountingIds(CountingIds):
    def is_trace_id_random(self) -> bool:
        return True


def _parents() -> list[SpanContext | None]:
    made: list[SpanContext | None] = [None, trace.INVALID_SPAN_CONTEXT]
    for remote, flags, state in itertools.product(
        (True, False), (0x00, 0x01, 0x02, 0x03), (TraceState(), TraceState([("a", "1")]))
    ):
        made.append(SpanContext(0xAB, 0xCD, remote, TraceFlags(flags), state))
    return made


def test_the_decided_fast_path_starts_the_spans_the_layers_sampler_would() -> None:
    """With ``decided`` the provider skips ``ParentBased(RequestSampler)`` where it would
    agree: for every parent (none, invalid, remote or local, sampled or not, random trace
    id or not, with a trace state or not), every decision and every ratio, the span is
    the one the SDK's provider with that sampler starts."""
    from shipshape.observe.telemetry import request_sampled_var

    mismatches = []
    for parent, verdict, ratio in itertools.product(_parents(), (True, False, None), (0.0, 1.0)):
        seen = []
        for cls in (TracerProvider, LightTracerProvider):
            options: dict[str, Any] = {}
            if cls is LightTracerProvider:
                options["decided"] = request_sampled_var.get
            provider = cls(
                sampler=ParentBased(root=RequestSampler(ratio)),
                resource=RESOURCE,
                id_generator=RandomCountingIds(),
                shutdown_on_exit=False,
                **options,
            )
            watching = Watching()
            provider.add_span_processor(watching)
            context = trace.set_span_in_context(NonRecordingSpan(parent)) if parent else None
            token = request_sampled_var.set(verdict)
            try:
                span = provider.get_tracer("t").start_span(
                    "s", context, attributes={"a": 1}, start_time=1
                )
            finally:
                request_sampled_var.reset(token)
            span.end(end_time=10**9)
            seen.append((type(span) is NonRecordingSpan, span.get_span_context(), watching.seen))
        if seen[0] != seen[1]:
            mismatches.append((parent, verdict, ratio, seen))
    assert mismatches == []


def test_threads_writing_one_span_at_its_attribute_limit_never_raise() -> None:
    """The light span's attribute writes take no lock; at the limit, evicting the oldest
    attribute while another thread evicts it too must not raise into the caller, nor
    leave the span holding more attributes than the limit."""
    provider = LightTracerProvider(
        sampler=ALWAYS_ON,
        resource=RESOURCE,
        span_limits=SpanLimits(max_span_attributes=2),
        shutdown_on_exit=False,
    )
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    span = provider.get_tracer("t").start_span("shared")
    errors: list[BaseException] = []

    def write(thread: int) -> None:
        try:
            for i in range(50_000):
                span.set_attribute(f"k{thread}-{i % 7}", i)
        except Exception as error:
            errors.append(error)

    quiet = logging.getLogger("opentelemetry.attributes")
    quiet.disabled = True
    try:
        race(write)
    finally:
        quiet.disabled = False
    assert errors == []
    span.end()
    [exported] = exporter.get_finished_spans()
    assert 0 < len(exported.attributes or {}) <= 2  # never more than the limit
    assert exported.dropped_attributes >= 4 * 7 - 2
