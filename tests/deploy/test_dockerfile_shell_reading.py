"""RUN commands in every form a Dockerfile writes them: exec form, ``sh -c`` scripts with
several commands, and commands inside ``if``/``then``/``do`` bodies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipshape.cli import app

runner = CliRunner()

TEMPLATE = """\
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1
WORKDIR /app
{run}
USER 10001
EXPOSE 8000
CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"]
"""


def lint(tmp_path: Path, run: str) -> list[tuple[str, int | None, str]]:
    path = tmp_path / "Dockerfile"
    path.write_text(TEMPLATE.format(run=run))
    (tmp_path / ".dockerignore").write_text(".git\n.venv\n")
    result = runner.invoke(app, ["dockerfile", "lint", str(path), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return [(f["code"], f["line"], f["message"]) for f in json.loads(result.stdout)["findings"]]


UNPINNED = ("SS-DF009", 4, "pip: flask is not pinned to an exact version")


@pytest.mark.parametrize(
    "run",
    [
        'RUN ["pip", "install", "--no-cache-dir", "flask"]',
        'RUN --mount=type=cache,target=/root/.cache ["pip", "install", "flask"]',
        'RUN ["/bin/sh", "-c", "pip install --no-cache-dir flask && echo done"]',
        'RUN sh -c "pip install --no-cache-dir flask; pip check"',
        "RUN bash -ec 'pip install --no-cache-dir flask && echo ok'",
        "RUN if [ -f /etc/debian_version ]; then pip install --no-cache-dir flask; fi",
        "RUN for i in 1; do pip install --no-cache-dir flask; done",
    ],
)
def test_installs_are_found_in_every_run_form(tmp_path: Path, run: str) -> None:
    assert lint(tmp_path, run) == [UNPINNED]


def test_exec_form_run_keeps_its_cache_finding(tmp_path: Path) -> None:
    found = lint(tmp_path, 'RUN ["pip", "install", "flask==3.0.0"]')
    assert [(code, line) for code, line, _ in found] == [("SS-DF010", 4)]


def test_a_server_after_other_commands_in_sh_c_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    text = TEMPLATE.format(run="").replace(
        '["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"]',
        '["sh", "-c", "alembic upgrade head && exec uvicorn main:app --port 9000"]',
    )
    path.write_text(text)
    (tmp_path / ".dockerignore").write_text(".git\n.venv\n")
    result = runner.invoke(app, ["dockerfile", "lint", str(path), "--format", "json"])
    codes = [(f["code"], f["line"]) for f in json.loads(result.stdout)["findings"]]
    assert codes == [("SS-DF013", 7), ("SS-DF014", 7)]
