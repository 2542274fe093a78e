"""``shipshape trace critical-path`` on exports as other tools write them: protobuf JSON
with ``null`` fields, Grafana Tempo's answers, Jaeger API answers one per line, bare
span lists, and arrays of records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import Result

from tests.critical_path_files import SDK_PATH, TRACES, invoke

T0 = 1_700_000_000_000_000


def report(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def path_rows(trace: dict[str, Any]) -> list[tuple[str, str, int, int, int]]:
    [path] = trace["paths"]
    start = path["root"]["start_us"]
    return [
        (
            section["service"],
            section["operation"],
            section["start_us"] - start,
            section["duration_us"],
            section["self_time_us"],
        )
        for section in path["sections"]
    ]


def sdk_export() -> dict[str, Any]:
    """The committed SDK export: protobuf's JSON (base64 ids, ``SPAN_KIND_*`` names)."""
    document: dict[str, Any] = json.loads((TRACES / "otlp_sdk.json").read_text("utf-8"))
    return document


def test_null_fields_of_protobuf_json_read_as_unset() -> None:
    document = sdk_export()
    for resource_spans in document["resourceSpans"]:
        resource_spans["schemaUrl"] = None
        for scope in resource_spans["scopeSpans"]:
            scope["scope"] = None
            for span in scope["spans"]:
                span.setdefault("parentSpanId", None)
                span |= {"links": None, "attributes": None, "status": None, "events": None}
    result = invoke("-", "--json", stdin=json.dumps(document))
    [trace] = report(result)["traces"]
    assert path_rows(trace) == SDK_PATH
    assert result.stderr == ""


def test_a_null_kind_is_unspecified_and_a_null_resource_has_no_service_name() -> None:
    span = {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "parentSpanId": None,
        "name": "job",
        "kind": None,
        "startTimeUnixNano": "1000000",
        "endTimeUnixNano": "3000000",
    }
    document = {"resourceSpans": [{"resource": None, "scopeSpans": [{"spans": [span]}]}]}
    [trace] = report(invoke("-", "--json", stdin=json.dumps(document)))["traces"]
    assert path_rows(trace) == [("OTLPResourceNoServiceName", "job", 0, 2000, 2000)]


def test_a_null_time_is_still_a_bad_field() -> None:
    span = {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "startTimeUnixNano": "1000",
        "endTimeUnixNano": None,
    }
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    result = invoke("-", stdin=json.dumps(document))
    assert result.exit_code == 2
    assert "spans[0].endTimeUnixNano: Input should be a valid integer" in result.stderr


def test_tempo_batches_and_its_v2_trace_answer_are_otlp() -> None:
    resource_spans = sdk_export()["resourceSpans"]
    for answer in ({"batches": resource_spans}, {"trace": {"resourceSpans": resource_spans}}):
        document = report(invoke("-", "--json", stdin=json.dumps(answer)))
        assert document["format"] == "otlp"
        [trace] = document["traces"]
        assert trace["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert path_rows(trace) == SDK_PATH


def jaeger_span(trace_id: str, span_id: str, start: int, duration: int, parent: str = "") -> Any:
    references = [{"refType": "CHILD_OF", "traceID": trace_id, "spanID": parent}] if parent else []
    return {
        "traceID": trace_id,
        "spanID": span_id,
        "operationName": f"op {span_id}",
        "references": references,
        "startTime": T0 + start,
        "duration": duration,
        "processID": "p1",
        "tags": [],
        "logs": [],
        "warnings": None,
    }


def jaeger_answer(trace_id: str, *spans: Any) -> dict[str, Any]:
    return {
        "data": [
            {
                "traceID": trace_id,
                "spans": list(spans),
                "processes": {"p1": {"serviceName": "api", "tags": []}},
                "warnings": None,
            }
        ],
        "total": 0,
        "limit": 0,
        "offset": 0,
        "errors": None,
    }


# root 0..100 µs; a 10..40 and b 30..90 overlap: b finishes last, a ends after b starts
FANOUT = (
    jaeger_span("f00d", "root", 0, 100),
    jaeger_span("f00d", "a", 10, 30, "root"),
    jaeger_span("f00d", "b", 30, 60, "root"),
)
FANOUT_PATH = [
    ("api", "op root", 0, 30, 20),
    ("api", "op b", 30, 60, 60),
    ("api", "op root", 90, 10, 20),
]


def test_jaeger_api_answers_one_per_line_are_every_trace() -> None:
    lines = [jaeger_answer("f00d", *FANOUT), jaeger_answer("beef", jaeger_span("beef", "x", 0, 50))]
    for text in (
        "\n".join(json.dumps(line) for line in lines) + "\n",  # curl ... >> answers.jsonl
        json.dumps(lines, indent=2),  # the same answers as one JSON array
    ):
        document = report(invoke("-", "--json", stdin=text))
        assert document["format"] == "jaeger"
        fanout, single = document["traces"]
        assert (fanout["trace_id"], single["trace_id"]) == ("f00d", "beef")
        assert path_rows(fanout) == FANOUT_PATH
        assert path_rows(single) == [("api", "op x", 0, 50, 50)]


def test_a_bad_jaeger_answer_of_several_names_its_line() -> None:
    bad = jaeger_answer("beef", jaeger_span("beef", "x", 0, 50))
    del bad["data"][0]["spans"][0]["duration"]
    text = f"{json.dumps(jaeger_answer('f00d', *FANOUT))}\n\n{json.dumps(bad)}\n"
    result = invoke("-", stdin=text)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: <stdin>:3: data[0].spans[0].duration: Field required")


def test_a_bare_list_of_jaeger_spans_is_one_trace() -> None:
    spans = [span | {"process": {"serviceName": "api"}} for span in FANOUT]
    document = report(invoke("-", "--json", stdin=json.dumps(spans)))
    assert document["format"] == "jaeger"
    [trace] = document["traces"]
    assert path_rows(trace) == FANOUT_PATH


def test_a_bare_list_of_otlp_spans_is_not_mistaken_for_the_seed_list() -> None:
    spans = sdk_export()["resourceSpans"][0]["scopeSpans"][0]["spans"]
    result = invoke("-", stdin=json.dumps(spans))
    assert result.exit_code == 2
    assert "not a trace export" in result.stderr
    assert result.stdout == ""


def test_a_bad_record_of_a_json_array_is_named_by_its_index(tmp_path: Path) -> None:
    records = [{"resourceSpans": []}, {"resourceSpans": [{"scopeSpans": [{"spans": [{}]}]}]}]
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    result = invoke(str(path))
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert message.startswith(
        f"error: {path}: [1].resourceSpans[0].scopeSpans[0].spans[0].traceId: Field required"
    ), message


def test_otlp_or_zipkin_spans_under_a_spans_key_are_not_the_seed_list() -> None:
    otlp = sdk_export()["resourceSpans"][0]["scopeSpans"][0]["spans"]
    zipkin = [{"traceId": "5af7183fb1d4cf5f", "id": "6b221d5bc9e6496c", "duration": 1}]
    for spans in (otlp, zipkin):
        for document in (spans, {"spans": spans}):
            result = invoke("-", stdin=json.dumps(document))
            assert result.exit_code == 2, result.stdout
            assert "not a trace export" in result.stderr
