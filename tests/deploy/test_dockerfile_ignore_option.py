"""``shipshape dockerfile lint --ignore``: unknown rule ids are one clear line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipshape.cli import app

runner = CliRunner()

DOCKERFILE = """\
FROM python:3.12-slim
WORKDIR /app
RUN pip install flask==3.0.0
ADD . /app
EXPOSE 8000
USER 10001
CMD ["uvicorn", "app:app", "--host", "0.0.0.0", "--port", "8000"]
"""


@pytest.fixture
def dockerfile(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    return tmp_path / "Dockerfile"


def lint(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["dockerfile", "lint", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("values", "named"),
    [
        (["SS-DF999"], "SS-DF999"),
        (["SS-DF010", "nope"], "nope"),
        (["SS-DF010,SS-DF0"], "SS-DF0"),
        (["[bold]x"], "[bold]x"),
    ],
)
def test_an_unknown_rule_id_is_one_line_and_exit_2(
    dockerfile: Path, values: list[str], named: str
) -> None:
    args = [arg for value in values for arg in ("--ignore", value)]
    for extra in ([], ["--json"], [str(dockerfile)]):
        code, out, err = lint(str(dockerfile), *args, *extra)
        assert code == 2, (out, err)
        assert out == ""
        assert err.strip() == (
            f"error: --ignore {named}: unknown rule id; the Dockerfile rules are "
            "SS-DF001 to SS-DF020 (see `shipshape dockerfile rules`)"
        )


def test_known_ids_in_any_case_repeated_or_comma_separated_are_skipped(dockerfile: Path) -> None:
    code, out, _ = lint(str(dockerfile), "--json")
    assert code == 1
    assert {f["code"] for f in json.loads(out)["findings"]} == {
        "SS-DF010",
        "SS-DF012",
        "SS-DF017",
        "SS-DF019",
    }
    code, out, err = lint(
        str(dockerfile), "--ignore", "ss-df010, SS-DF017", "--ignore", "SS-DF012,"
    )
    assert code == 1, err
    assert "SS-DF019" in out
    code, out, err = lint(
        str(dockerfile), "--ignore", "ss-df010,SS-DF017,SS-DF012", "--ignore", "SS-DF019"
    )
    assert (code, out.strip(), err) == (0, f"{dockerfile}: no findings", "")
