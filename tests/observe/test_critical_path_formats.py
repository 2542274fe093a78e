"""Reading OTLP JSON and Jaeger JSON exports, and their critical paths.

``traces/jaeger_scenarios.json`` and ``traces/otlp_scenarios.jsonl`` hold the same six
hand-built traces (sequential, overlapping, outliving, outside, messaging, partial) in
the two formats; ``traces/otlp_rounding.json`` has sub-microsecond times;
``traces/otlp_sdk.json`` was written by the real OpenTelemetry SDK (regenerate it with
``uv run python -m tests.observe.test_critical_path_formats``).
"""

from __future__ import annotations

import sys
from typing import Any

import orjson
import pytest
from google.protobuf.json_format import MessageToJson  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind

from shipshape.observe.critical_path import SpanRef, Trace, TraceCriticalPath, critical_paths
from shipshape.observe.trace_formats import (
    TraceFormatError,
    detect_format,
    parse_jaeger,
    parse_otlp,
)
from tests.critical_path_files import SDK_PATH, TRACES

# (service, operation, start offset µs, duration on the path µs, self time µs) per root.
EXPECTED: dict[str, list[list[tuple[str, str, int, int, int]]]] = {
    "sequential": [
        [
            ("api", "GET /checkout", 0, 10, 35),
            ("auth", "verify", 10, 20, 20),
            ("api", "GET /checkout", 30, 10, 35),
            ("db", "SELECT orders", 40, 30, 30),
            ("api", "GET /checkout", 70, 5, 35),
            ("api", "render", 75, 15, 15),
            ("api", "GET /checkout", 90, 10, 35),
        ]
    ],
    "overlapping": [
        [
            ("api", "GET /search", 0, 20, 50),
            ("index", "query shard c", 20, 40, 40),
            ("api", "GET /search", 60, 40, 50),
        ]
    ],
    "outliving": [
        [
            ("api", "POST /upload", 0, 50, 50),
            ("store", "checksum", 50, 20, 30),
            ("store", "write blob", 70, 30, 80),
        ]
    ],
    "outside": [[("api", "GET /status", 0, 50, 50)]],
    "messaging": [
        [
            ("orders", "POST /orders", 0, 10, 25),
            ("orders", "publish order.created", 10, 50, 20),
            ("orders", "POST /orders", 60, 40, 25),
        ]
    ],
    "partial": [
        [("gateway", "GET /report", 0, 110, 110)],
        [
            ("reports", "build report", 0, 10, 20),
            ("reports", "load rows", 10, 20, 20),
            ("reports", "build report", 30, 10, 20),
        ],
    ],
}
SCENARIO_OF_OTLP_TRACE = {f"5ea1ab1e{index + 1:024x}": name for index, name in enumerate(EXPECTED)}


def summary(result: TraceCriticalPath) -> list[list[tuple[str, str, int, int, int]]]:
    return [
        [
            (s.service, s.operation, s.start_us - path.root.start_us, s.duration_us, s.self_time_us)
            for s in path.sections
        ]
        for path in result.paths
    ]


def load(name: str) -> Any:
    text = (TRACES / name).read_bytes()
    if name.endswith(".jsonl"):
        return [orjson.loads(line) for line in text.splitlines() if line.strip()]
    return orjson.loads(text)


def scenario_traces(fmt: str) -> dict[str, Trace]:
    if fmt == "jaeger":
        return {trace.trace_id: trace for trace in parse_jaeger(load("jaeger_scenarios.json"))}
    traces = parse_otlp(load("otlp_scenarios.jsonl"))
    return {SCENARIO_OF_OTLP_TRACE[trace.trace_id]: trace for trace in traces}


@pytest.mark.parametrize("fmt", ["jaeger", "otlp"])
@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_both_formats_give_jaeger_uis_critical_path(fmt: str, scenario: str) -> None:
    trace = scenario_traces(fmt)[scenario]
    result = critical_paths(trace)
    assert summary(result) == EXPECTED[scenario]
    for path in result.paths:
        assert sum(s.duration_us for s in path.sections) == path.root.duration_us


@pytest.mark.parametrize("fmt", ["jaeger", "otlp"])
def test_a_file_holds_several_traces_in_first_seen_order(fmt: str) -> None:
    assert list(scenario_traces(fmt)) == list(EXPECTED)


def test_an_otlp_trace_split_over_lines_and_resources_is_one_trace() -> None:
    sequential = scenario_traces("otlp")["sequential"]
    assert sorted(span.service for span in sequential.spans) == ["api", "api", "auth", "db"]


@pytest.mark.parametrize("fmt", ["jaeger", "otlp"])
def test_the_missing_parent_is_named_in_a_warning(fmt: str) -> None:
    result = critical_paths(scenario_traces(fmt)["partial"])
    (warning,) = result.warnings
    orphan = result.paths[1].root
    assert f"span {orphan.span_id} (reports: build report): parent " in warning
    assert "is not in the file" in warning
    assert not critical_paths(scenario_traces(fmt)["sequential"]).warnings


def test_otlp_kinds_links_and_ids_read_as_jaeger_reads_them() -> None:
    messaging = scenario_traces("otlp")["messaging"]
    by_name = {span.operation: span for span in messaging.spans}
    assert by_name["publish order.created"].kind == "producer"
    assert by_name["handle order.created"].kind == "consumer"
    root_id = by_name["POST /orders"].span_id
    assert [(ref.span_id, ref.ref_type) for ref in by_name["record"].references] == [
        (root_id, "FOLLOWS_FROM")
    ]
    assert root_id == "000000000000a01d"


def test_otlp_times_floor_the_start_and_the_duration_to_microseconds() -> None:
    (trace,) = parse_otlp(load("otlp_rounding.json"))
    base = 1_700_000_000_000_000
    spans = {span.operation: (span.start_us - base, span.duration_us) for span in trace.spans}
    assert spans == {"GET /tick": (0, 9), "work": (1, 0), "flush": (2, 6)}
    result = critical_paths(trace)
    assert summary(result) == [
        [
            ("clock", "GET /tick", 0, 2, 3),
            ("clock", "flush", 2, 6, 6),
            ("clock", "GET /tick", 8, 1, 3),
        ]
    ]


class CountingIds(IdGenerator):
    """Deterministic ids, so the SDK fixture is reproducible."""

    def __init__(self) -> None:
        self.spans = 0

    def generate_span_id(self) -> int:
        self.spans += 1
        return 0x5D0C_0000_0000_0000 + self.spans

    def generate_trace_id(self) -> int:
        return 0x4BF92F3577B34DA6A3CE929D0E0E4736


SDK_START = 1_764_000_000_000_000_123


def sdk_spans() -> tuple[ReadableSpan, ...]:
    """A checkout-like trace recorded by the real OpenTelemetry SDK."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource({"service.name": "shipshape-demo"}),
        id_generator=CountingIds(),
        shutdown_on_exit=False,
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("shipshape.tests")

    def at(ms: float) -> int:
        return SDK_START + int(ms * 1_000_000)

    root = tracer.start_span("GET /orders/{id}", kind=SpanKind.SERVER, start_time=at(0))
    inside_root = otel_trace.set_span_in_context(root)
    for name, kind, begin, end in [
        ("SELECT orders", SpanKind.CLIENT, 2, 12),
        ("GET inventory", SpanKind.CLIENT, 10, 30),
        ("render", SpanKind.INTERNAL, 41, 48.5),
    ]:
        tracer.start_span(name, inside_root, kind, start_time=at(begin)).end(at(end))
    publish = tracer.start_span(
        "publish order.viewed", inside_root, SpanKind.PRODUCER, start_time=at(31)
    )
    tracer.start_span(
        "handle order.viewed",
        otel_trace.set_span_in_context(publish),
        SpanKind.CONSUMER,
        start_time=at(32),
    ).end(at(39))
    publish.end(at(40))
    root.end(at(50))
    provider.shutdown()
    return exporter.get_finished_spans()


def sdk_export_json() -> str:
    """The SDK's spans as protobuf's JSON of an OTLP export request."""
    return str(MessageToJson(encode_spans(sdk_spans())))


SDK_EXPECTED = [SDK_PATH]


def test_the_committed_sdk_export_gives_the_expected_path() -> None:
    (trace,) = parse_otlp(load("otlp_sdk.json"))
    assert trace.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert summary(critical_paths(trace)) == SDK_EXPECTED


def test_a_fresh_sdk_export_parses_to_the_sdks_own_spans() -> None:
    spans = sdk_spans()
    document = orjson.loads(sdk_export_json())
    assert detect_format(document) == "otlp"
    (trace,) = parse_otlp(document)
    parsed = {span.span_id: span for span in trace.spans}
    assert len(parsed) == len(spans) == 6
    for span in spans:
        context = span.get_span_context()
        assert context is not None
        assert trace.trace_id == otel_trace.format_trace_id(context.trace_id)
        ours = parsed[otel_trace.format_span_id(context.span_id)]
        assert span.start_time is not None
        assert span.end_time is not None
        assert ours.operation == span.name
        assert ours.service == "shipshape-demo"
        assert ours.kind == span.kind.name.lower()
        assert ours.start_us == span.start_time // 1000
        assert ours.duration_us == (span.end_time - span.start_time) // 1000
        parent = [ref.span_id for ref in ours.references]
        assert parent == ([otel_trace.format_span_id(span.parent.span_id)] if span.parent else [])
    assert summary(critical_paths(trace)) == SDK_EXPECTED


def test_snake_case_keys_old_instrumentation_library_spans_and_api_v3_results_read() -> None:
    span = {
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "name": "job",
        "kind": "SPAN_KIND_CONSUMER",
        "start_time_unix_nano": 5_000,
        "end_time_unix_nano": "7000",
    }
    old = {"resourceSpans": [{"instrumentationLibrarySpans": [{"spans": [span]}]}]}
    v3 = {"result": {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}}
    for document in (old, v3):
        assert detect_format(document) == "otlp"
        ((read,),) = [trace.spans for trace in parse_otlp(document)]
        assert (read.service, read.kind, read.start_us, read.duration_us) == (
            "OTLPResourceNoServiceName",
            "consumer",
            5,
            2,
        )


def test_an_all_zero_parent_id_means_no_parent() -> None:
    document = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                                "spanId": "00f067aa0ba902b7",
                                "parentSpanId": "0000000000000000",
                                "startTimeUnixNano": "1000",
                                "endTimeUnixNano": "2000",
                            }
                        ]
                    }
                ]
            }
        ]
    }
    ((span,),) = [trace.spans for trace in parse_otlp(document)]
    assert span.references == ()


def test_a_span_ending_before_it_starts_reads_as_zero_duration_with_a_warning() -> None:
    document = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                                "spanId": "00f067aa0ba902b7",
                                "name": "skewed",
                                "startTimeUnixNano": "9000",
                                "endTimeUnixNano": "2000",
                            }
                        ]
                    }
                ]
            }
        ]
    }
    (trace,) = parse_otlp(document)
    assert trace.spans[0].duration_us == 0
    assert trace.warnings == (
        "span 00f067aa0ba902b7 (OTLPResourceNoServiceName: skewed): ends before it starts; "
        "read as zero duration",
    )


@pytest.mark.parametrize(
    ("span_fields", "message"),
    [
        ({"spanId": "xyz"}, r"spanId: must be 16 hex digits, got 'xyz'"),
        ({"spanId": "0x0f067aa0ba902b"}, r"spanId: must be 16 hex digits, got '0x0f"),
        ({"spanId": "00f0_7aa0ba902b7"}, r"spanId: must be 16 hex digits"),
        ({"startTimeUnixNano": True}, r"startTimeUnixNano: must be an integer, not a boolean"),
        ({"startTimeUnixNano": "-5"}, r"startTimeUnixNano: Input should be greater than or equal"),
        ({"endTimeUnixNano": None}, r"endTimeUnixNano: Input should be a valid integer"),
        (
            {"startTimeUnixNano": "99999999999999999999999"},
            r"startTimeUnixNano: must fit in 64 bits \(at most 18446744073709551615\), "
            r"got 99999999999999999999999",
        ),
        ({"endTimeUnixNano": 2**64}, r"endTimeUnixNano: must fit in 64 bits"),
        ({"traceId": 7}, r"traceId: must be a string of 32 hex digits"),
    ],
)
def test_bad_otlp_fields_are_named_with_their_path(
    span_fields: dict[str, Any], message: str
) -> None:
    span = {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "startTimeUnixNano": "1000",
        "endTimeUnixNano": "2000",
    } | span_fields
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    with pytest.raises(
        TraceFormatError, match=r"^resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\."
    ):
        parse_otlp(document)
    with pytest.raises(TraceFormatError, match=message):
        parse_otlp(document)


def test_a_bad_json_lines_record_names_its_record() -> None:
    good = load("otlp_rounding.json")
    with pytest.raises(TraceFormatError) as caught:
        parse_otlp([good, {"resourceSpans": "nope"}])
    assert caught.value.record == 1
    assert str(caught.value).startswith("resourceSpans: Input should be a valid list")


@pytest.mark.parametrize(
    "document",
    [
        {"resourceSpans": None},
        {"batches": None, "resourceSpans": []},
        {"result": {"resource_spans": None}},
        [{"resourceSpans": None}, {"resourceSpans": [{"scopeSpans": None}]}],
        {"resourceSpans": [{"resource": {"attributes": [{"key": None, "value": None}]}}]},
    ],
)
def test_a_null_otlp_list_or_key_is_unset_not_missing(document: Any) -> None:
    assert parse_otlp(document) == []


@pytest.mark.parametrize(
    "document",
    [
        {"data": None},
        [{"data": None}, {"data": [{"traceID": "t", "spans": None}]}],
        {"traceID": "t", "spans": None, "processes": None},
        [{"traceID": "t", "spans": None}],
    ],
)
def test_a_null_jaeger_list_is_empty_as_go_writes_it(document: Any) -> None:
    assert parse_jaeger(document) == []


def test_bad_jaeger_fields_are_named_with_their_path() -> None:
    document = {"data": [{"traceID": "t", "spans": [{"spanID": "a", "startTime": "soon"}]}]}
    with pytest.raises(TraceFormatError, match=r"^data\[0\]\.spans\[0\]\.startTime: .*integer"):
        parse_jaeger(document)


@pytest.mark.parametrize("field", ["startTime", "duration"])
def test_jaeger_times_beyond_64_bits_are_bad_fields(field: str) -> None:
    span = {"spanID": "a", "startTime": 10, "duration": 5} | {field: 2**64}
    with pytest.raises(
        TraceFormatError, match=rf"^data\[0\]\.spans\[0\]\.{field}: must fit in 64 bits"
    ):
        parse_jaeger({"data": [{"traceID": "t", "spans": [span]}]})
    span[field] = 2**64 - 1
    assert parse_jaeger({"data": [{"traceID": "t", "spans": [span]}]})


def test_jaeger_single_traces_lists_embedded_processes_and_foreign_references() -> None:
    trace = {
        "traceID": "t1",
        "spans": [
            {"spanID": "a", "startTime": 10, "duration": 5, "process": {"serviceName": "inline"}},
            {
                "spanID": "b",
                "startTime": 11,
                "duration": 2,
                "processID": "nope",
                "references": [
                    {"refType": "follows_from", "traceID": "other", "spanID": "x"},
                    {"refType": "CHILD_OF", "spanID": "a"},
                ],
            },
        ],
    }
    for document in (trace, [trace]):
        assert detect_format(document) == "jaeger"
        (read,) = parse_jaeger(document)
        assert [(s.service, s.references) for s in read.spans] == [
            ("inline", ()),
            ("unknown-service", (SpanRef("a", "CHILD_OF"),)),
        ]


@pytest.mark.parametrize(
    ("document", "fmt"),
    [
        ({"resourceSpans": []}, "otlp"),
        ([{"resourceSpans": []}, {"resourceSpans": []}], "otlp"),
        ([{"result": {"resourceSpans": []}}], "otlp"),
        ({"data": []}, "jaeger"),
        ({"data": None}, "jaeger"),
        ({"data": None, "total": 0, "errors": None}, "jaeger"),
        ([{"data": None}, {"data": []}], "jaeger"),
        ({"traceID": "t", "spans": None}, "jaeger"),
        ({"data": None, "something": "else"}, None),
        ({"resourceSpans": None}, "otlp"),
        ({"spans": [{"spanID": "a"}]}, "jaeger"),
        ([{"service": "a", "duration_ms": 1, "parent_id": None}], "spans"),
        ({"spans": [{"service": "a", "duration_ms": 1, "parent_id": None}]}, "spans"),
        ([], "spans"),
        ({"something": "else"}, None),
        ("text", None),
        (None, None),
    ],
)
def test_formats_are_detected_from_the_document(document: Any, fmt: str | None) -> None:
    assert detect_format(document) == fmt


if __name__ == "__main__":
    (TRACES / "otlp_sdk.json").write_text(sdk_export_json() + "\n", encoding="utf-8")
    sys.exit(0)


@st.composite
def otlp_documents(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    count = draw(st.integers(1, 12))
    base = draw(st.integers(0, 2**62))
    spans, times = [], []
    for index in range(count):
        start = base + draw(st.integers(0, 10**7))
        end = start + draw(st.integers(0, 10**7))
        parent = draw(st.integers(-1, index - 1))
        times.append((start, end))
        spans.append(
            {
                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                "spanId": f"{index + 1:016x}",
                "parentSpanId": f"{parent + 1:016x}" if parent >= 0 else "",
                "kind": draw(st.integers(0, 5)),
                "startTimeUnixNano": draw(st.sampled_from([str(start), start])),
                "endTimeUnixNano": draw(st.sampled_from([str(end), end])),
            }
        )
    return {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}, times


@settings(max_examples=200, deadline=None)
@given(otlp_documents())
def test_otlp_nanoseconds_convert_as_jaeger_and_sections_add_up(
    case: tuple[dict[str, Any], list[tuple[int, int]]],
) -> None:
    document, times = case
    (trace,) = parse_otlp(document)
    for span, (start, end) in zip(trace.spans, times, strict=True):
        assert (span.start_us, span.duration_us) == (start // 1000, (end - start) // 1000)
    for path in critical_paths(trace).paths:
        assert sum(s.duration_us for s in path.sections) == path.root.duration_us
