"""Continuation quirks Docker builds with: blank lines inside a continuation, and a
continuation still open at the end of the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipshape.cli import app

runner = CliRunner()


def lint(tmp_path: Path, text: str) -> tuple[int, list[tuple[str, int | None]]]:
    path = tmp_path / "Dockerfile"
    path.write_bytes(text.encode("utf-8"))
    result = runner.invoke(app, ["dockerfile", "lint", str(path), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    findings = json.loads(result.stdout)["findings"]
    return result.exit_code, [(finding["code"], finding["line"]) for finding in findings]


@pytest.mark.parametrize("gap", ["", "   ", "\t"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_blank_line_inside_a_continuation_does_not_end_the_instruction(
    tmp_path: Path, gap: str, newline: str
) -> None:
    lines = [
        "FROM python:3.12-slim",
        "RUN apt-get update && \\",
        gap,
        "    apt-get install -y curl && \\",
        "    pip install flask",
        'CMD ["python", "-m", "app"]',
    ]
    _, found = lint(tmp_path, newline.join(lines) + newline)
    assert ("SS-DF009", 2) in found  # flask unpinned: the RUN was read whole, at line 2


def test_an_escape_directive_sets_the_continuation_character(tmp_path: Path) -> None:
    text = '# escape=`\nFROM python:3.12-slim\nRUN pip install `\n\n    flask\nCMD ["python"]\n'
    _, found = lint(tmp_path, text)
    assert ("SS-DF009", 3) in found


def test_blank_lines_in_heredoc_bodies_are_left_alone(tmp_path: Path) -> None:
    text = (
        "# syntax=docker/dockerfile:1\nFROM python:3.12-slim\nRUN <<EOF\nset -e \\\n\n"
        'pip install flask==3.0.0\nEOF\nUSER 1000\nCMD ["python"]\n'
    )
    _, found = lint(tmp_path, text)
    assert not any(code == "SS-DF009" for code, _ in found)


@pytest.mark.parametrize("end", ["\n", ""])
def test_a_continuation_open_at_the_end_of_the_file_keeps_its_text(
    tmp_path: Path, end: str
) -> None:
    _, found = lint(tmp_path, "FROM python:3.12-slim\nRUN pip install flask \\" + end)
    assert ("SS-DF009", 2) in found
