"""Findings: what every checker reports, with a stable code and a severity.

Every checker (``dockerfile lint``, ``check`` ...) returns a list of
:class:`Finding` and describes its codes with :class:`Rule`. The three
renderers are shared so that every command prints the same shapes:

- :func:`render_text` — a Rich table per file, for people;
- :func:`to_json` — ``{"findings": [...], "counts": {...}}``, for scripts;
- :func:`to_sarif` — a SARIF 2.1.0 log, for code-scanning UIs (GitHub, GitLab).

:func:`fails` answers the ``--fail-level`` question.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "SARIF_SCHEMA",
    "Finding",
    "Rule",
    "Severity",
    "fails",
    "render_text",
    "sort_findings",
    "to_json",
    "to_sarif",
]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"info": "note", "warning": "warning", "error": "error"}
_STYLE = {"info": "cyan", "warning": "yellow", "error": "bold red"}


class Severity(IntEnum):
    """Ordered so that ``--fail-level`` compares with ``>=``."""

    info = 1
    warning = 2
    error = 3

    @classmethod
    def parse(cls, name: str) -> Severity:
        try:
            return cls[name.lower()]
        except KeyError:
            choices = ", ".join(member.name for member in cls)
            raise ValueError(f"unknown severity {name!r}; expected one of {choices}") from None


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in one file: ``code`` is stable and documented once."""

    code: str
    severity: Severity
    message: str
    file: str
    line: int | None = None
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.name,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class Rule:
    """What a code means: ``why`` and ``fix`` are one line each."""

    id: str
    name: str
    severity: Severity
    why: str
    fix: str
    help_uri: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "severity": self.severity.name,
            "why": self.why,
            "fix": self.fix,
        }


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """By file, then line (file-level findings first), then code."""
    return sorted(findings, key=lambda f: (f.file, f.line or 0, f.code))


def fails(findings: Iterable[Finding], fail_level: Severity) -> bool:
    """Whether any finding is at or above ``fail_level`` (the exit-1 condition)."""
    return any(finding.severity >= fail_level for finding in findings)


def _counts(findings: Sequence[Finding]) -> dict[str, int]:
    return {level.name: sum(f.severity is level for f in findings) for level in Severity}


def render_text(findings: Sequence[Finding], console: Console, files: Sequence[str] = ()) -> None:
    """Print ``file:line: CODE severity message`` lines, each with its fix, then a summary.

    ``files`` are the files that were checked: a clean one prints ``file: no findings``.
    """
    from rich.text import Text

    ordered = sort_findings(findings)
    with_findings = {finding.file for finding in ordered}
    for name in files:
        if name not in with_findings:
            console.print(Text(f"{name}: no findings", style="green"))
    for finding in ordered:
        where = finding.file if finding.line is None else f"{finding.file}:{finding.line}"
        line = Text(f"{where}: ")
        line.append(finding.code, style="bold")
        line.append(f" {finding.severity.name}", style=_STYLE[finding.severity.name])
        line.append(f" {finding.message}")
        console.print(line)
        if finding.fix:
            console.print(Text(f"    fix: {finding.fix}", style="dim"))
    if ordered:
        counts = _counts(ordered)
        parts = ", ".join(f"{counts[level.name]} {level.name}" for level in reversed(Severity))
        checked = len(set(files) | with_findings)
        console.print(Text(f"{len(ordered)} finding(s) ({parts}) in {checked} file(s)"))


def to_json(findings: Sequence[Finding]) -> dict[str, Any]:
    """``{"findings": [...], "counts": {"info": n, "warning": n, "error": n}}``."""
    ordered = sort_findings(findings)
    return {"findings": [f.as_dict() for f in ordered], "counts": _counts(ordered)}


def _uri_reference(path: str) -> str:
    """``path`` as the URI reference SARIF's ``artifactLocation.uri`` must be: every
    character outside RFC 3986's ``pchar`` percent-encoded (UTF-8), ``/`` kept as the
    separator, and ``:`` encoded too, so a first segment never reads as a scheme."""
    return quote(path, safe="/!$&'()*+,;=@-._~")


def to_sarif(
    findings: Sequence[Finding],
    rules: Sequence[Rule],
    *,
    tool: str = "shipshape",
    version: str = "0.1.0",
    information_uri: str = "https://github.com/shipshape/shipshape",
    failures: Sequence[tuple[str, str | None, int | None]] | None = None,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run: the ``rules`` as the driver's rules, one result each finding.

    A finding whose code is not among ``rules`` still gets a result (without ``ruleIndex``).
    With ``failures`` (what could not be checked: a message, and the file and line when
    known), the run also says whether it succeeded: an ``invocation`` with
    ``executionSuccessful`` and an error notification for each failure.
    """
    index = {rule.id: number for number, rule in enumerate(rules)}
    results: list[dict[str, Any]] = []
    for finding in sort_findings(findings):
        message = finding.message + (f" Fix: {finding.fix}" if finding.fix else "")
        result: dict[str, Any] = {
            "ruleId": finding.code,
            "level": _SARIF_LEVEL[finding.severity.name],
            "message": {"text": message},
            "locations": _sarif_locations(finding.file, finding.line),
        }
        if finding.code in index:
            result["ruleIndex"] = index[finding.code]
        results.append(result)
    descriptors = []
    for rule in rules:
        descriptor: dict[str, Any] = {
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.why},
            "fullDescription": {"text": f"{rule.why} Fix: {rule.fix}"},
            "help": {"text": rule.fix},
            "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity.name]},
        }
        if rule.help_uri:
            descriptor["helpUri"] = rule.help_uri
        descriptors.append(descriptor)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": tool,
                "version": version,
                "informationUri": information_uri,
                "rules": descriptors,
            }
        },
        "results": results,
    }
    if failures is not None:
        invocation: dict[str, Any] = {"executionSuccessful": not failures}
        notifications = []
        for text, file, line in failures:
            notification: dict[str, Any] = {"level": "error", "message": {"text": text}}
            if file:
                notification["locations"] = _sarif_locations(file, line)
            notifications.append(notification)
        if notifications:
            invocation["toolExecutionNotifications"] = notifications
        run["invocations"] = [invocation]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _sarif_locations(file: str, line: int | None) -> list[dict[str, Any]]:
    """The SARIF ``locations`` of ``file`` (and ``line``, when known)."""
    location: dict[str, Any] = {"artifactLocation": {"uri": _uri_reference(file)}}
    if line:
        location["region"] = {"startLine": line}
    return [{"physicalLocation": location}]
