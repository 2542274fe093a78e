"""`shipshape metrics latency` over an access log written by the layer."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shipshape.cli import app

runner = CliRunner()


def write_log(path: Path) -> None:
    lines = [
        {"level": "INFO", "message": "Application startup complete.", "logger": "uvicorn.error"},
        *({"route": "/orders", "duration_ms": float(ms), "status": 200} for ms in (10, 20, 30, 40)),
        {"route": "/orders/{order_id}", "duration_ms": 5.0, "status": 200},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_latency_per_route_from_an_access_log(tmp_path: Path) -> None:
    log = tmp_path / "access.jsonl"
    write_log(log)
    result = runner.invoke(app, ["metrics", "latency", str(log), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["/orders"] == {
        "count": 4, "mean": 25.0, "p50": 20.0, "p95": 30.0, "p99": 30.0, "max": 40.0,
    }  # fmt: skip
    assert report["/orders/{order_id}"]["count"] == 1
    table = runner.invoke(app, ["metrics", "latency", str(log)])
    assert table.exit_code == 0
    assert "/orders/{order_id}" in table.output


def test_a_log_without_requests_is_bad_input(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text('{"level": "INFO", "message": "hi"}\n{"level": "INFO", "message": "ho"}\n')
    result = runner.invoke(app, ["metrics", "latency", str(log)])
    assert result.exit_code == 2
    assert "no request records" in result.output


def test_a_non_numeric_duration_names_the_line(tmp_path: Path) -> None:
    log = tmp_path / "bad.jsonl"
    log.write_text('{"route": "/", "duration_ms": 1}\n{"route": "/", "duration_ms": "slow"}\n')
    result = runner.invoke(app, ["metrics", "latency", str(log)])
    assert result.exit_code == 2
    assert "bad.jsonl:2" in result.output


def test_a_negative_duration_names_the_line(tmp_path: Path) -> None:
    log = tmp_path / "skewed.jsonl"
    log.write_text('{"route": "/a", "duration_ms": 1}\n{"route": "/a", "duration_ms": -5}\n')
    result = runner.invoke(app, ["metrics", "latency", str(log), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {log}:2: duration_ms must not be negative, got -5\n"


def test_a_negative_time_in_a_list_is_bad_input(tmp_path: Path) -> None:
    times = tmp_path / "times.json"
    times.write_text("[3, -1.5, 2]")
    result = runner.invoke(app, ["metrics", "latency", str(times)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {times}: time #1 is negative: -1.5\n"


def test_a_one_line_log_names_its_line_like_longer_logs() -> None:
    line = '{"route": "/a", "duration_ms": true}\n'
    result = runner.invoke(app, ["metrics", "latency", "-"], input=line)
    assert result.exit_code == 2
    assert result.stderr == "error: <stdin>:1: duration_ms must be a number, got True\n"
    result = runner.invoke(app, ["metrics", "latency", "-", "--json"], input=line[:-7] + "3}\n")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["/a"]["count"] == 1


def test_stdin_may_hold_one_number_per_line() -> None:
    for text, expected in (("12\n15\n", 15.0), ("12\n", 12.0), ("12", 12.0), ("1.5\n\n3\n", 3.0)):
        result = runner.invoke(app, ["metrics", "latency", "-", "--json"], input=text)
        assert result.exit_code == 0, (text, result.stderr)
        assert json.loads(result.stdout)["max"] == expected


def test_a_document_of_the_wrong_shape_says_what_was_expected() -> None:
    expected = (
        'expected a list of durations (a JSON, YAML or TOML list, {"times": [...]}, or one '
        "number per line) or a JSON access log (one object with route and duration_ms per "
        "line), got "
    )
    for text, got in (
        ("12\nslow\n", "a single string ('12 slow')"),
        ("true\n", "a boolean (true)"),
    ):
        result = runner.invoke(app, ["metrics", "latency", "-"], input=text)
        assert result.exit_code == 2
        assert result.stderr == f"error: <stdin>: {expected}{got}\n"
    result = runner.invoke(app, ["metrics", "latency", "-"], input='{"times": "12 15"}')
    assert result.exit_code == 2
    assert result.stderr == (
        "error: <stdin>: times must be a list of durations, got a single string ('12 15')\n"
    )
