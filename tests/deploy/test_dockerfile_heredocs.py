"""Heredocs as BuildKit reads them: which words open one, where each ends, which bodies
a shell runs, and an unterminated one as a syntax error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipshape.cli import app

runner = CliRunner()

HEAD = "# syntax=docker/dockerfile:1\nFROM python:3.12-slim\nWORKDIR /app\n"
TAIL = (
    "ENV PYTHONUNBUFFERED=1\nUSER 10001\nEXPOSE 8000\n"
    'CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"]\n'
)


def lint(tmp_path: Path, body: str) -> list[tuple[str, int | None]]:
    path = tmp_path / "Dockerfile"
    path.write_text(HEAD + body + TAIL, encoding="utf-8")
    (tmp_path / ".dockerignore").write_text(".git\n.venv\n", encoding="utf-8")
    result = runner.invoke(app, ["dockerfile", "lint", str(path), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return [(f["code"], f["line"]) for f in json.loads(result.stdout)["findings"]]


@pytest.mark.parametrize(
    "heredoc",
    [
        # Docker's own example: terminators are whole words, dots included
        "COPY <<robots.txt <<humans.txt /usr/share/nginx/html/\n(robots)\nrobots.txt\n"
        "(humans)\nhumans.txt\n",
        "COPY <<end-of-file /etc/app.conf\nx=1\nend-of-file\n",
        "RUN 0<<-'EOT' sh\n\techo hi\n\tEOT\n",
    ],
)
def test_heredoc_terminators_are_whole_words(tmp_path: Path, heredoc: str) -> None:
    found = lint(tmp_path, heredoc + "RUN pip install --no-cache-dir flask\n")
    line = 4 + heredoc.count("\n")
    assert found == [("SS-DF009", line)]


@pytest.mark.parametrize(
    "run",
    [
        'RUN echo "a<<b" > /tmp/x && pip install --no-cache-dir flask\n',
        "RUN echo $((1 << 4)) && pip install --no-cache-dir flask\n",
        'RUN ["sh", "-c", "cat <<EOF"] \nRUN pip install --no-cache-dir flask\n',
    ],
)
def test_double_angle_brackets_that_open_no_heredoc(tmp_path: Path, run: str) -> None:
    found = lint(tmp_path, run)
    assert found == [("SS-DF009", 3 + run.count("\n"))]


@pytest.mark.parametrize(
    "run",
    [
        "RUN cat <<EOF > /app/setup.sh\npip install flask\nEOF\n",
        "RUN python3 <<EOF\nimport os\nos.system('pip install flask')\nEOF\n",
        "RUN <<EOF\n#!/usr/bin/env python3\nprint('pip install flask')\nEOF\n",
        "RUN 5<<EOF cat /proc/self/fd/5 > requirements.txt\nflask\nEOF\n",
    ],
)
def test_heredoc_data_is_not_read_as_shell_commands(tmp_path: Path, run: str) -> None:
    assert lint(tmp_path, run) == []


@pytest.mark.parametrize(
    "run",
    [
        "RUN <<EOF\nset -e\npip install --no-cache-dir flask\nEOF\n",
        "RUN <<EOF bash\npip install --no-cache-dir flask\nEOF\n",
        "RUN bash -e <<EOF\npip install --no-cache-dir flask\nEOF\n",
        "RUN <<EOF\n#!/bin/bash\npip install --no-cache-dir flask\nEOF\n",
        "RUN --mount=type=cache,target=/root/.cache <<EOF\npip install flask\nEOF\n",
    ],
)
def test_heredoc_scripts_are_linted_on_their_run_line(tmp_path: Path, run: str) -> None:
    assert lint(tmp_path, run) == [("SS-DF009", 4)]


def test_an_unterminated_heredoc_is_a_syntax_error_not_a_swallowed_file(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(HEAD + "RUN <<EOF\npip install flask\n" + TAIL, encoding="utf-8")
    result = runner.invoke(app, ["dockerfile", "lint", str(path)])
    assert result.exit_code == 2
    assert f"{path}:4: unterminated heredoc" in result.stderr
