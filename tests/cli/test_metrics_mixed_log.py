"""`shipshape metrics latency` on real access logs: other lines mixed in are skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipshape.cli import app

runner = CliRunner()


def access(route: str, ms: float) -> str:
    return json.dumps({"route": route, "duration_ms": ms, "status": 200, "level": "INFO"})


def latency(path: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["metrics", "latency", str(path), *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", ["access.jsonl", "access.log", "access"])
def test_plain_text_lines_are_skipped_with_one_warning(tmp_path: Path, name: str) -> None:
    log = tmp_path / name
    log.write_text(
        "\n".join(
            [
                "INFO:     Started server process [4242]",
                access("/orders", 10),
                "INFO:     some plain text line",
                access("/orders", 30),
                "Traceback (most recent call last):",
                '  File "app.py", line 1, in <module>',
                access("/health", 1),
                "",
            ]
        ),
        encoding="utf-8",
    )
    code, stdout, stderr = latency(log, "--json")
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["/orders"]["count"] == 2
    assert report["/orders"]["max"] == 30.0
    assert report["/health"]["count"] == 1
    assert stderr == (
        f"warning: {log}: skipped 4 of 7 lines that are not JSON log records, the first at line 1\n"
    )


def test_json_lines_that_are_not_objects_are_skipped(tmp_path: Path) -> None:
    log = tmp_path / "access.jsonl"
    log.write_text(
        "\n".join([access("/a", 2), "[1,2]", "42", '{"level": "INFO", "message": "hi"}', ""]),
        encoding="utf-8",
    )
    code, stdout, stderr = latency(log, "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["/a"]["count"] == 1
    assert "skipped 2 of 4 lines" in stderr
    assert "the first at line 2" in stderr
    code, stdout, _ = latency(log)
    assert code == 0
    assert "latency per route" in stdout


def test_a_log_without_any_access_line_is_an_error(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text('INFO:     started\n{"level": "INFO", "message": "hi"}\n', encoding="utf-8")
    code, stdout, stderr = latency(log)
    assert code == 2
    assert stdout == ""
    assert stderr.count("\n") == 1
    assert "no request records (route and duration_ms) found" in stderr


def test_a_log_of_json_records_prints_no_warning(tmp_path: Path) -> None:
    log = tmp_path / "access.jsonl"
    app_line = '{"level": "INFO", "message": "Application startup complete."}'
    log.write_text("\n".join([app_line, access("/a", 1), access("/a", 3), ""]), encoding="utf-8")
    code, stdout, stderr = latency(log, "--json")
    assert code == 0
    assert stderr == ""
    assert json.loads(stdout)["/a"]["mean"] == 2.0


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("times.json", "[3, 1, 2]"),
        ("times.yaml", "times: [3, 1, 2]\n"),
        ("times.jsonl", "3\n1\n2\n"),
        ("times", "- 3\n- 1\n- 2\n"),
        ("times.toml", "times = [3, 1, 2]\n"),
    ],
)
def test_lists_of_times_still_work(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, stdout, stderr = latency(path, "--json")
    assert code == 0, stderr
    assert stderr == ""
    assert json.loads(stdout)["max"] == 3.0


def test_a_json_array_of_access_records_skips_other_items(tmp_path: Path) -> None:
    path = tmp_path / "records.json"
    records = [{"route": "/a", "duration_ms": 4}, [1, 2], {"message": "hi"}]
    path.write_text(json.dumps(records), encoding="utf-8")
    code, stdout, stderr = latency(path, "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["/a"]["count"] == 1
    assert "skipped 1 of 3 items" in stderr
    assert "the first at item 2" in stderr


def test_broken_json_documents_are_still_named(tmp_path: Path) -> None:
    path = tmp_path / "times.json"
    path.write_text("[1, 2,\n", encoding="utf-8")
    code, _, stderr = latency(path)
    assert code == 2
    assert f"{path}:2: invalid JSON" in stderr
