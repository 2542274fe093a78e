"""The Dockerfile corpus: every file lints to exactly its expected findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypedDict

import pytest

from shipshape.deploy.dockerfile import (
    LintSettings,
    lint_dockerfile,
    lint_path,
    rule_table,
    validate_dockerfile,
)

CORPUS = Path(__file__).parent.parent / "corpus" / "dockerfiles"


class Case(TypedDict):
    about: str
    findings: list[str]


EXPECTED: dict[str, Case] = json.loads((CORPUS / "expected.json").read_text())["cases"]


def _codes(file: str) -> list[str]:
    findings = lint_path(CORPUS / file, LintSettings())
    return [f"{f.code}:{f.line}" if f.line is not None else f.code for f in findings]


def test_the_corpus_has_at_least_thirty_dockerfiles_all_with_expectations() -> None:
    files = sorted(path.name for path in CORPUS.glob("*.Dockerfile"))
    assert len(files) >= 30
    assert files == sorted(EXPECTED)


def test_the_corpus_mixes_good_and_bad_single_and_multi_stage_pip_uv_poetry() -> None:
    texts = {name: (CORPUS / name).read_text() for name in EXPECTED}
    assert sum(not EXPECTED[name]["findings"] for name in texts) >= 10
    assert sum(bool(EXPECTED[name]["findings"]) for name in texts) >= 10
    assert (
        sum(
            text.upper().count("\nFROM ") + text.upper().startswith("FROM ") > 1
            for text in texts.values()
        )
        >= 8
    )
    for tool in ("pip install", "uv sync", "poetry install", "uv pip install", "pipx install"):
        assert any(tool in text for text in texts.values()), tool


def test_every_rule_but_missing_from_fires_somewhere_in_the_corpus() -> None:
    fired = {code.split(":")[0] for case in EXPECTED.values() for code in case["findings"]}
    wanted = {rule.id for rule in rule_table()} - {"SS-DF001"}
    assert wanted <= fired


@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_corpus_file_has_exactly_its_expected_findings(file: str) -> None:
    assert sorted(_codes(file)) == sorted(EXPECTED[file]["findings"])


@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_the_seed_check_agrees_with_the_linter_on_its_five_rules(file: str) -> None:
    seed = {
        "SS-DF001": "missing_from",
        "SS-DF002": "base_image_not_slim",
        "SS-DF003": "missing_workdir",
        "SS-DF004": "missing_expose",
        "SS-DF005": "missing_cmd",
    }
    linted = [seed[c.split(":")[0]] for c in _codes(file) if c.split(":")[0] in seed]
    result = validate_dockerfile((CORPUS / file).read_text())
    assert result["errors"] == linted
    assert result["valid"] is (not linted)


@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_windows_line_endings_change_nothing(file: str) -> None:
    text = (CORPUS / file).read_text()
    unix = [(f.code, f.line, f.message) for f in lint_dockerfile(text)]
    windows = [(f.code, f.line, f.message) for f in lint_dockerfile(text.replace("\n", "\r\n"))]
    assert windows == unix


def test_the_docs_table_is_the_rule_table() -> None:
    docs = (CORPUS.parents[2] / "docs" / "dockerfile.md").read_text()
    for rule in rule_table():
        row = f"| {rule.id} | `{rule.name}` | {rule.severity.name} | {rule.why} | {rule.fix} |"
        assert row in docs, rule.id
