"""ONBUILD triggers are linted like the instructions they hold, on the ONBUILD line; they
neither satisfy nor trigger the rules about the image's own final stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipshape.cli import app
from shipshape.deploy.dockerfile import LintError, lint_dockerfile, validate_dockerfile

runner = CliRunner()

HEAD = """\
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1
WORKDIR /app
EXPOSE 8000
USER 10001
CMD ["uvicorn", "app:app", "--host", "0.0.0.0", "--port", "8000"]
"""


def found(text: str, context_dir: Path | None = None) -> set[tuple[str, int | None]]:
    findings = lint_dockerfile(text, "Dockerfile", context_dir=context_dir)
    return {(f.code, f.line) for f in findings}


def test_the_qa_case_reports_on_the_onbuild_lines(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        HEAD + "ONBUILD RUN pip install -r requirements.txt flask\nONBUILD ADD . /app\n"
    )
    (tmp_path / ".dockerignore").write_text(".git\n.venv\n")
    result = runner.invoke(app, ["dockerfile", "lint", str(tmp_path), "--json"])
    assert result.exit_code == 1, result.stderr
    codes = {(f["code"], f["line"]) for f in json.loads(result.stdout)["findings"]}
    assert codes == {("SS-DF009", 7), ("SS-DF010", 7), ("SS-DF017", 8)}


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        ("ONBUILD RUN pip install flask", {("SS-DF009", 7), ("SS-DF010", 7)}),
        ("onbuild run pip install --no-cache-dir flask==3.0.0", set()),
        ("ONBUILD ADD . /app", {("SS-DF017", 7)}),
        ("ONBUILD ADD https://example.com/x.tar.gz /x", set()),
        ("ONBUILD WORKDIR app", {("SS-DF006", 7)}),
        ("ONBUILD ENV API_TOKEN=abc", {("SS-DF016", 7)}),
        ("ONBUILD ARG DB_PASSWORD", {("SS-DF016", 7)}),
        ("ONBUILD RUN uv sync", {("SS-DF009", 7), ("SS-DF010", 7)}),
        ("ONBUILD RUN --mount=type=cache,target=/root/.cache pip install x==1", set()),
    ],
)
def test_a_trigger_is_linted_like_its_instruction(
    trigger: str, expected: set[tuple[str, int]]
) -> None:
    assert found(HEAD + trigger + "\n") == expected


def test_triggers_neither_satisfy_nor_break_the_final_stage_rules() -> None:
    bare = "FROM python:3.12-slim\n"
    triggers = (
        "ONBUILD WORKDIR /srv\nONBUILD EXPOSE 8000\nONBUILD USER app\n"
        "ONBUILD ENV PYTHONUNBUFFERED=1\nONBUILD CMD uvicorn app:app --reload\n"
    )
    assert (
        found(bare + triggers)
        == found(bare)
        == {
            ("SS-DF003", 1),
            ("SS-DF004", 1),
            ("SS-DF005", 1),
            ("SS-DF011", 1),
            ("SS-DF012", 1),
        }
    )
    assert found(HEAD + "ONBUILD USER root\nONBUILD EXPOSE 9000\nONBUILD CMD sh -c x\n") == set()
    assert validate_dockerfile(bare + triggers)["errors"] == [
        "missing_workdir",
        "missing_expose",
        "missing_cmd",
    ]


def test_trigger_env_follows_the_image_and_earlier_triggers() -> None:
    assert found(HEAD + "ENV PIP_NO_CACHE_DIR=1\nONBUILD RUN pip install x==1\n") == set()
    assert found(HEAD + "ONBUILD ENV PIP_NO_CACHE_DIR=1\nONBUILD RUN pip install x==1\n") == set()
    # an ONBUILD ENV is set in the downstream build, not in this image
    assert found(HEAD + "ONBUILD ENV PIP_NO_CACHE_DIR=1\nRUN pip install x==1\n") == {
        ("SS-DF010", 8)
    }


def test_source_before_dependencies_among_triggers() -> None:
    text = HEAD + "ONBUILD COPY . .\nONBUILD RUN pip install -r requirements.txt\n"
    assert found(text) == {("SS-DF018", 7), ("SS-DF010", 8)}
    good = (
        HEAD + "ONBUILD COPY requirements.txt .\n"
        "ONBUILD RUN pip install --no-cache-dir -r requirements.txt\nONBUILD COPY . .\n"
    )
    assert found(good) == set()


def test_trigger_requirement_files_are_not_read_from_this_context(tmp_path: Path) -> None:
    """A trigger runs in the downstream build: its requirements.txt is not this one."""
    (tmp_path / "requirements.txt").write_text("flask\n")
    (tmp_path / ".dockerignore").write_text(".git\n.venv\n")
    text = HEAD + "ONBUILD RUN pip install --no-cache-dir -r requirements.txt\n"
    assert found(text, context_dir=tmp_path) == set()
    plain = HEAD + "RUN pip install --no-cache-dir -r requirements.txt\n"
    assert found(plain, context_dir=tmp_path) == {("SS-DF009", 7)}


def test_a_heredoc_trigger_is_one_instruction() -> None:
    text = HEAD + "ONBUILD RUN <<EOF\npip install flask\nEOF\n"
    assert found(text) == {("SS-DF009", 7), ("SS-DF010", 7)}


def test_inline_ignore_on_an_onbuild_line() -> None:
    text = HEAD + "# shipshape: ignore=SS-DF009,SS-DF010\nONBUILD RUN pip install flask\n"
    assert found(text) == set()


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ("ONBUILD FROM python:3.12", "7: FROM is not allowed as an ONBUILD trigger"),
        ("ONBUILD ONBUILD RUN x", "7: ONBUILD is not allowed as an ONBUILD trigger"),
        ("ONBUILD MAINTAINER me", "7: MAINTAINER is not allowed as an ONBUILD trigger"),
        ("ONBUILD Shopping list", "7: unknown instruction 'SHOPPING' after ONBUILD"),
        ("ONBUILD RUN", "7: instruction 'ONBUILD RUN' has no arguments"),
    ],
)
def test_a_bad_trigger_is_a_syntax_error(trigger: str, message: str) -> None:
    with pytest.raises(LintError) as error:
        lint_dockerfile(HEAD + trigger + "\n")
    assert str(error.value) == f"Dockerfile:{message}"
    result = runner.invoke(app, ["dockerfile", "lint", "-"], input=HEAD + trigger + "\n")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: <stdin>:{message}"
