"""The shared finding renderers: text, JSON, SARIF 2.1.0, and the fail level."""

from __future__ import annotations

import io

from rich.console import Console

from shipshape.findings import (
    SARIF_SCHEMA,
    Finding,
    Rule,
    Severity,
    fails,
    render_text,
    to_json,
    to_sarif,
)

RULES = [
    Rule("SS-X001", "first", Severity.error, "Why one.", "Fix one."),
    Rule("SS-X002", "second", Severity.info, "Why two.", "Fix two."),
]
FINDINGS = [
    Finding("SS-X002", Severity.info, "later [note]", "b.txt", 3, "Fix two."),
    Finding("SS-X001", Severity.error, "first problem", "a.txt", 7, "Fix one."),
    Finding("SS-X001", Severity.error, "file-level", "a.txt"),
    Finding("SS-OTHER", Severity.warning, "from elsewhere", "a.txt", 1),
]


def test_severity_parse_and_order() -> None:
    assert Severity.parse("WARNING") is Severity.warning
    assert Severity.info < Severity.warning < Severity.error


def test_fails_compares_at_or_above_the_level() -> None:
    assert fails(FINDINGS, Severity.error)
    assert not fails(FINDINGS[:1], Severity.warning)
    assert not fails([], Severity.info)


def test_json_sorts_by_file_and_line_and_counts() -> None:
    data = to_json(FINDINGS)
    assert [(f["file"], f["line"]) for f in data["findings"]] == [
        ("a.txt", None),
        ("a.txt", 1),
        ("a.txt", 7),
        ("b.txt", 3),
    ]
    assert data["counts"] == {"info": 1, "warning": 1, "error": 2}
    assert data["findings"][2] == {
        "code": "SS-X001",
        "severity": "error",
        "message": "first problem",
        "file": "a.txt",
        "line": 7,
        "fix": "Fix one.",
    }


def test_sarif_has_rules_results_levels_and_regions() -> None:
    log = to_sarif(FINDINGS, RULES, version="9.9")
    assert log["$schema"] == SARIF_SCHEMA
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "shipshape"
    assert driver["version"] == "9.9"
    assert driver["rules"][1] == {
        "id": "SS-X002",
        "name": "second",
        "shortDescription": {"text": "Why two."},
        "fullDescription": {"text": "Why two. Fix: Fix two."},
        "help": {"text": "Fix two."},
        "defaultConfiguration": {"level": "note"},
    }
    results = run["results"]
    assert [r["level"] for r in results] == ["error", "warning", "error", "note"]
    assert "region" not in results[0]["locations"][0]["physicalLocation"]
    assert results[2]["locations"][0]["physicalLocation"]["region"] == {"startLine": 7}
    assert results[2]["ruleIndex"] == 0
    assert "ruleIndex" not in results[1]
    assert results[3]["message"]["text"] == "later [note] Fix: Fix two."


def test_text_lists_each_finding_with_its_fix_and_clean_files() -> None:
    buffer = io.StringIO()
    render_text(FINDINGS, Console(file=buffer, width=200), files=["a.txt", "b.txt", "c.txt"])
    out = buffer.getvalue()
    assert "c.txt: no findings" in out
    assert "a.txt:7: SS-X001 error first problem" in out
    assert "b.txt:3: SS-X002 info later [note]" in out
    assert "    fix: Fix one." in out
    assert "4 finding(s) (2 error, 1 warning, 1 info) in 3 file(s)" in out


def test_sarif_artifact_uris_are_uri_references() -> None:
    """SARIF's ``artifactLocation.uri`` is a URI reference: spaces, ``<>``, ``%`` and
    ``#`` and ``\\`` in a path are percent-encoded; ``/`` stays the separator."""
    findings = [
        Finding("SS-X001", Severity.error, "one", "my app/Dockerfile 100%", 1),
        Finding("SS-X001", Severity.error, "two", "<stdin>", 2),
        Finding("SS-X001", Severity.error, "three", "docker/#1/Dockerfile", 3),
        Finding("SS-X001", Severity.error, "four", "svc\\Dockerfile", 4),
        Finding("SS-X001", Severity.error, "five", "/abs/path/Dockerfile", 5),
        Finding("SS-X001", Severity.error, "six", "c:Dockerfile", 6),
    ]
    uris = [
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for result in to_sarif(findings, RULES)["runs"][0]["results"]
    ]
    assert uris == [
        "/abs/path/Dockerfile",
        "%3Cstdin%3E",
        "c%3ADockerfile",
        "docker/%231/Dockerfile",
        "my%20app/Dockerfile%20100%25",
        "svc%5CDockerfile",
    ]
