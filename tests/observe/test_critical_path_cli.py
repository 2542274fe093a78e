"""``shipshape trace critical-path`` on OTLP, Jaeger and seed files: output and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from shipshape import find_critical_path
from shipshape.cli import app
from tests.critical_path_files import TRACES, invoke

REPO = Path(__file__).resolve().parents[2]
SEED_SPANS = [
    {"service": "gateway", "duration_ms": 100, "parent_id": None},
    {"service": "auth", "duration_ms": 50, "parent_id": 0},
    {"service": "orders", "duration_ms": 30, "parent_id": 0},
    {"service": "payment", "duration_ms": 45, "parent_id": 2},
]


def assert_bad_input(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    message = result.stderr.strip()
    assert "\n" not in message, message
    assert "Traceback" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert result.stdout == ""


def write(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("fixture", ["jaeger_scenarios.json", "otlp_scenarios.jsonl"])
def test_json_reports_every_trace_with_sections_adding_up_to_each_root(fixture: str) -> None:
    result = invoke(str(TRACES / fixture), "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["format"] == ("jaeger" if fixture.startswith("jaeger") else "otlp")
    assert len(report["traces"]) == 6
    for trace in report["traces"]:
        for path in trace["paths"]:
            assert sum(s["duration_us"] for s in path["sections"]) == path["root"]["duration_us"]
    sequential = report["traces"][0]["paths"][0]
    assert sequential["root"]["operation"] == "GET /checkout"
    assert sequential["root"]["duration_ms"] == 0.1
    assert [(s["service"], s["duration_us"]) for s in sequential["sections"]] == [
        ("api", 10),
        ("auth", 20),
        ("api", 10),
        ("db", 30),
        ("api", 5),
        ("api", 15),
        ("api", 10),
    ]
    first = sequential["sections"][0]
    assert first["self_time_us"] == 35
    assert first["self_time_ms"] == 0.035
    assert first["end_us"] - first["start_us"] == first["duration_us"]


def test_the_missing_parent_warning_goes_to_stderr_and_into_the_json() -> None:
    path = str(TRACES / "jaeger_scenarios.json")
    result = invoke(path, "--json", "--trace-id", "partial")
    assert result.exit_code == 0
    (trace,) = json.loads(result.stdout)["traces"]
    assert len(trace["paths"]) == 2
    (warning,) = trace["warnings"]
    assert "span orphan (reports: build report): parent lost (CHILD_OF)" in warning
    assert f"warning: {path}: trace partial: span orphan" in result.stderr


def test_the_table_shows_services_operations_and_self_times() -> None:
    result = invoke(str(TRACES / "otlp_sdk.json"))
    assert result.exit_code == 0, result.stderr
    for text in (
        "trace 4bf92f3577b34da6a3ce929d0e0e4736",
        "shipshape-demo: GET /orders/{id} · 50.000 ms",
        "publish order.viewed",
        "GET inventory",
        "20.000",
        "40.0%",
        "5.500",
    ):
        assert text in result.stdout, text
    assert "SELECT orders" not in result.stdout
    assert "handle order.viewed" not in result.stdout


def test_trace_id_selects_one_trace_case_insensitively() -> None:
    result = invoke(
        str(TRACES / "otlp_scenarios.jsonl"), "--json", "--trace-id", "5EA1AB1E" + "0" * 23 + "2"
    )
    assert result.exit_code == 0
    (trace,) = json.loads(result.stdout)["traces"]
    assert trace["trace_id"] == "5ea1ab1e000000000000000000000002"


def test_an_unknown_trace_id_is_bad_input_listing_the_traces() -> None:
    path = str(TRACES / "jaeger_scenarios.json")
    assert_bad_input(
        invoke(path, "--trace-id", "nope"),
        path,
        "no trace 'nope'",
        "sequential, overlapping, outliving, outside, messaging and 1 more",
    )


def test_the_seed_list_of_spans_still_gets_the_seed_answer(tmp_path: Path) -> None:
    path = write(tmp_path, "spans.json", json.dumps(SEED_SPANS))
    result = invoke(path, "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == find_critical_path(SEED_SPANS)
    yaml_path = write(tmp_path, "spans.yaml", "spans:\n  - {service: a, duration_ms: 7}\n")
    table = invoke(yaml_path)
    assert table.exit_code == 0
    assert "total_duration_ms" in table.stdout
    assert "7" in table.stdout
    assert_bad_input(invoke(path, "--trace-id", "x"), path, "--trace-id needs an OTLP or Jaeger")


def test_stdin_is_read_with_a_dash() -> None:
    text = (TRACES / "otlp_rounding.json").read_text(encoding="utf-8")
    result = invoke("-", "--json", stdin=text)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["traces"][0]["paths"][0]["root"]["duration_us"] == 9


@pytest.mark.parametrize(
    ("name", "content", "fragments"),
    [
        ("empty.json", "", ["empty file"]),
        ("other.json", '{"hello": 1}', ["not a trace export", "resourceSpans", "data"]),
        ("broken.json", '{\n  "resourceSpans": [\n}', ["invalid JSON", ":3:"]),
        (
            "lines.jsonl",
            '{"resourceSpans": []}\n\n{"resourceSpans": [\n',
            ["invalid JSON line", ":3:"],
        ),
        (
            "fields.jsonl",
            '{"resourceSpans": []}\n\n{"resourceSpans": [{"scopeSpans": [{"spans": [{}]}]}]}\n',
            [":3:", "resourceSpans[0].scopeSpans[0].spans[0].traceId: Field required"],
        ),
        (
            "jaeger.json",
            '{"data": [{"traceID": "t", "spans": [{"spanID": "a", "startTime": 1}]}]}',
            ["data[0].spans[0].duration: Field required"],
        ),
        (
            "cycle.json",
            json.dumps(
                {
                    "data": [
                        {
                            "traceID": "t",
                            "spans": [
                                {
                                    "spanID": "a",
                                    "startTime": 1,
                                    "duration": 1,
                                    "references": [{"refType": "CHILD_OF", "spanID": "b"}],
                                },
                                {
                                    "spanID": "b",
                                    "startTime": 1,
                                    "duration": 1,
                                    "references": [{"refType": "CHILD_OF", "spanID": "a"}],
                                },
                            ],
                        }
                    ]
                }
            ),
            ["trace t: span", "is part of a parent cycle"],
        ),
        ("nospans.json", '{"resourceSpans": []}', ["no spans in this OTLP export"]),
        (
            "seed-cycle.json",
            '[{"duration_ms": 1, "parent_id": 1}, {"duration_ms": 1, "parent_id": 0}]',
            ["span", "cycle"],
        ),
        ("markup.json", '{"[bold]x": 1}', ["not a trace export"]),
        (
            "jaeger-error.json",
            '{"data": null, "errors": [{"code": 404, "msg": "trace not found"}]}',
            ["a Jaeger API error response, no traces: trace not found"],
        ),
        (
            "jaeger-list.json",
            '[{"traceID": "t", "spans": []}, {"traceID": "u", "spans": 3}]',
            ["[1].spans: Input should be a valid list"],
        ),
        (
            "not-a-record.jsonl",
            '{"resourceSpans": []}\n[1]\n',
            [":2: Input should be a valid dictionary"],
        ),
        (
            "hugetime.json",
            '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "'
            + "1" * 32
            + '", "spanId": "'
            + "1" * 16
            + '", "startTimeUnixNano": "99999999999999999999999", "endTimeUnixNano": "1"}]}]}]}',
            [
                "resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: must fit in 64 bits "
                "(at most 18446744073709551615), got 99999999999999999999999"
            ],
        ),
    ],
)
def test_bad_files_exit_2_with_one_line_naming_the_file(
    tmp_path: Path, name: str, content: str, fragments: list[str]
) -> None:
    path = write(tmp_path, name, content)
    assert_bad_input(invoke(path), path, *fragments)


def test_a_missing_file_is_bad_input(tmp_path: Path) -> None:
    path = str(tmp_path / "absent.json")
    assert_bad_input(invoke(path), path, "no such file")


@pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv")
def test_a_real_process_prints_json_and_exits_0() -> None:
    completed = subprocess.run(
        [
            "uv",
            "run",
            "shipshape",
            "trace",
            "critical-path",
            str(TRACES / "otlp_sdk.json"),
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report: dict[str, Any] = json.loads(completed.stdout)
    (trace,) = report["traces"]
    assert trace["paths"][0]["root"]["duration_us"] == 50_000


JAEGER_ZERO_LED = {
    "data": [
        {
            "traceID": "00000000000000000a1b2c3d4e5f6071",
            "spans": [
                {
                    "traceID": "00000000000000000a1b2c3d4e5f6071",
                    "spanID": "00f067aa0ba902b7",
                    "operationName": "GET /orders",
                    "references": [],
                    "startTime": 1_700_000_000_000_000,
                    "duration": 2_500,
                    "processID": "p1",
                }
            ],
            "processes": {"p1": {"serviceName": "gateway"}},
        }
    ]
}


def test_trace_ids_match_with_or_without_leading_zeros(tmp_path: Path) -> None:
    path = write(tmp_path, "jaeger.json", json.dumps(JAEGER_ZERO_LED))
    for wanted in ("a1b2c3d4e5f6071", "00000000000000000A1B2C3D4E5F6071", "0a1b2c3d4e5f6071"):
        result = invoke(path, "--trace-id", wanted, "--json")
        assert result.exit_code == 0, (wanted, result.stderr)
        [trace] = json.loads(result.stdout)["traces"]
        assert trace["trace_id"] == "00000000000000000a1b2c3d4e5f6071"


def test_empty_exports_and_lists_are_errors(tmp_path: Path) -> None:
    assert_bad_input(invoke(write(tmp_path, "a.json", '{"data": []}')), "no spans in this Jaeger")
    assert_bad_input(invoke(write(tmp_path, "b.json", "[]")), "no spans")


@pytest.mark.parametrize(
    ("content", "answer"),
    [
        ('{"resourceSpans": null}', "no spans in this OTLP export"),
        ('{"resource_spans": null}', "no spans in this OTLP export"),
        ('{"trace": {"resourceSpans": null}}', "no spans in this OTLP export"),
        ('{"resourceSpans": null}\n{"resourceSpans": null}\n', "no spans in this OTLP export"),
        (
            '{"resourceSpans": [{"resource": {"attributes": [{"key": null}]}}]}',
            "no spans in this OTLP export",
        ),
        ('{"data": null}', "no spans in this Jaeger export"),
        ('{"data": null, "total": 0, "limit": 0, "offset": 0, "errors": null}', "no spans in"),
        ('{"data": [{"traceID": "t", "spans": null}]}', "no spans in this Jaeger export"),
        ('{"traceID": "t", "spans": null}', "no spans in this Jaeger export"),
    ],
)
def test_a_null_list_is_an_empty_one_not_a_missing_field(
    tmp_path: Path, content: str, answer: str
) -> None:
    path = write(tmp_path, "null.json", content)
    assert_bad_input(invoke(path), path, answer)
    assert "Field required" not in invoke(path).stderr


def test_a_jaeger_answer_per_line_may_start_with_a_null_one(tmp_path: Path) -> None:
    span = {"spanID": "a1", "operationName": "GET", "startTime": 10, "duration": 5}
    answer = {"data": [{"traceID": "t", "spans": [span], "processes": None}]}
    path = write(tmp_path, "answers.jsonl", '{"data": null}\n' + json.dumps(answer) + "\n")
    result = invoke(path, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["format"] == "jaeger"
    [trace] = report["traces"]
    assert [s["span_id"] for s in trace["paths"][0]["sections"]] == ["a1"]


def test_span_ids_are_not_folded_in_80_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "jaeger.json", json.dumps(JAEGER_ZERO_LED))
    result = CliRunner().invoke(
        app, ["trace", "critical-path", path], env={"COLUMNS": "80"}, terminal_width=80
    )
    assert result.exit_code == 0, result.stderr
    assert "00f067aa0ba902b7" in result.stdout


def _jaeger_span(span_id: str, operation: str, start: int, duration: int, **extra: Any) -> Any:
    return {
        "traceID": "6a4e5fbc2d0a0c31",
        "spanID": span_id,
        "operationName": operation,
        "references": [],
        "startTime": 1_700_000_000_000_000 + start,
        "duration": duration,
        "processID": "p1",
        **extra,
    }


LONG_NAME = "GET /dispatch/" + "/".join(["a-rather-long-route"] * 5)
OLD_JAEGER = {
    "data": [
        {
            "traceID": "6a4e5fbc2d0a0c31",
            "spans": [
                _jaeger_span(
                    "6a4e5fbc2d0a0c31",
                    LONG_NAME,
                    0,
                    1000,
                ),
                _jaeger_span(
                    "7b2c3d4e5f601234", "legacy child", 200, 500, parentSpanID="6a4e5fbc2d0a0c31"
                ),
            ],
            "processes": {"p1": {"serviceName": "frontend"}},
        }
    ]
}


def test_jaeger_parent_span_id_of_the_older_format_is_the_parent(tmp_path: Path) -> None:
    result = invoke(write(tmp_path, "old.json", json.dumps(OLD_JAEGER)), "--json")
    assert result.exit_code == 0, result.stderr
    [trace] = json.loads(result.stdout)["traces"]
    [path] = trace["paths"]  # one root: the child is not a second one
    assert [section["operation"] for section in path["sections"]][1] == "legacy child"
    assert result.stderr == ""


def test_a_byte_order_mark_is_read_past(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_text(json.dumps(OLD_JAEGER), encoding="utf-8-sig")
    assert invoke(str(path), "--json").exit_code == 0


def test_piped_output_never_cuts_names(tmp_path: Path) -> None:
    path = write(tmp_path, "old.json", json.dumps(OLD_JAEGER))
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    result = subprocess.run(
        [sys.executable, "-m", "shipshape", "trace", "critical-path", path],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert any(LONG_NAME in row and "frontend" in row for row in rows), result.stdout


def _run_traced_file(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "shipshape",
            "trace",
            "critical-path",
            str(TRACES / "otlp_sdk.json"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


def test_a_terminal_sees_what_a_long_read_is_doing_and_a_pipe_does_not() -> None:
    # a terminal (as rich tells one: TTY_INTERACTIVE / TTY_COMPATIBLE) gets a spinner
    # naming the stage on stderr, cleared at the end; a pipe gets nothing on stderr
    shown = _run_traced_file(TTY_INTERACTIVE="1", TTY_COMPATIBLE="1")
    assert shown.returncode == 0, shown.stderr
    assert "walking 6 spans in 1 traces" in shown.stderr
    piped = _run_traced_file(TTY_INTERACTIVE="0", TTY_COMPATIBLE="0")
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""
    assert "GET /orders/{id}" in piped.stdout


TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


def _otlp(*spans: dict[str, Any]) -> str:
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]
                    },
                    "scopeSpans": [{"spans": [{"traceId": TRACE_ID, **span} for span in spans]}],
                }
            ]
        }
    )


def _otlp_span(span_id: str, name: str, start_ms: int, end_ms: int, **extra: Any) -> Any:
    base = 1_700_000_000_000_000_000
    return {
        "spanId": span_id,
        "name": name,
        "startTimeUnixNano": str(base + start_ms * 1_000_000),
        "endTimeUnixNano": str(base + end_ms * 1_000_000),
        **extra,
    }


def _one_root_with_the_job_off_the_path(result: Result) -> None:
    assert result.exit_code == 0, result.stderr
    [trace] = json.loads(result.stdout)["traces"]
    [path] = trace["paths"]  # the job is no second root
    assert [(s["operation"], s["duration_us"], s["self_time_us"]) for s in path["sections"]] == [
        ("root", 100_000, 50_000)
    ]  # FOLLOWS_FROM: off the path, in the root's self time
    [warning] = trace["warnings"]
    assert "batch-job): parent 00000000000000ee (CHILD_OF) is not in the file" in warning
    assert warning.endswith("read as a FOLLOWS_FROM (not blocking) child of 0000000000000001")
    assert warning in result.stderr


def test_an_otlp_span_whose_parent_is_missing_falls_back_to_its_link(tmp_path: Path) -> None:
    link = {"traceId": TRACE_ID, "spanId": "0000000000000001"}
    path = write(
        tmp_path,
        "otlp.json",
        _otlp(
            _otlp_span("0000000000000001", "root", 0, 100),
            _otlp_span(
                "0000000000000002",
                "batch-job",
                10,
                60,
                parentSpanId="00000000000000ee",
                links=[link],
            ),
        ),
    )
    _one_root_with_the_job_off_the_path(invoke(path, "--json"))


def test_a_jaeger_span_whose_child_of_is_missing_falls_back_to_follows_from(
    tmp_path: Path,
) -> None:
    references = [
        {"refType": "CHILD_OF", "traceID": "6a4e5fbc2d0a0c31", "spanID": "00000000000000ee"},
        {"refType": "FOLLOWS_FROM", "traceID": "6a4e5fbc2d0a0c31", "spanID": "0000000000000001"},
    ]
    document = {
        "data": [
            {
                "traceID": "6a4e5fbc2d0a0c31",
                "spans": [
                    _jaeger_span("0000000000000001", "root", 0, 100_000),
                    _jaeger_span(
                        "0000000000000002", "batch-job", 10_000, 50_000, references=references
                    ),
                ],
                "processes": {"p1": {"serviceName": "api"}},
            }
        ]
    }
    path = write(tmp_path, "jaeger.json", json.dumps(document))
    _one_root_with_the_job_off_the_path(invoke(path, "--json"))


def test_a_root_lasting_0_us_gets_one_line_not_an_empty_table(tmp_path: Path) -> None:
    path = write(tmp_path, "zero.json", _otlp(_otlp_span("0000000000000001", "instant", 5, 5)))
    result = invoke(path)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"trace {TRACE_ID} · api: instant · 0.000 ms: span 0000000000000001 lasts 0 µs, "
        "so no time is on its critical path\n"
    )
    [trace] = json.loads(invoke(path, "--json").stdout)["traces"]
    assert [(p["root"]["duration_us"], p["sections"]) for p in trace["paths"]] == [(0, [])]
