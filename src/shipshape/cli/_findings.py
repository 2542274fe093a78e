"""What the finding commands (``check``, ``dockerfile lint``) share: the output and
fail-level options and the one way findings are reported and turned into an exit code."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any

import typer
from rich.text import Text

from shipshape.cli._io import EXIT_FINDINGS, EXIT_USAGE, console, err_console, print_json
from shipshape.findings import Finding, Rule, Severity, fails, render_text, to_json, to_sarif


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


class Level(StrEnum):
    info = "info"
    warning = "warning"
    error = "error"


def report_findings(
    findings: Sequence[Finding],
    *,
    output: OutputFormat,
    as_json: bool,
    document: Mapping[str, Any],
    rules: Callable[[], Sequence[Rule]],
    files: Sequence[str],
    errors: Sequence[str],
    fail_at: Severity | None,
) -> None:
    """Print ``findings`` as SARIF, JSON (``document``'s keys first, then the findings,
    then ``errors``) or text; print each error; exit 2 on errors, else 1 when a finding
    is at or above ``fail_at``."""
    if output is OutputFormat.sarif and not as_json:
        print_json(to_sarif(findings, rules()))
    elif as_json or output is OutputFormat.json:
        print_json({**document, **to_json(findings), "errors": list(errors)})
    else:
        render_text(findings, console, files)
    for message in errors:
        err_console.print(Text.assemble(("error:", "bold red"), f" {message}"), highlight=False)
    if errors:
        raise typer.Exit(EXIT_USAGE)
    if fail_at is not None and fails(findings, fail_at):
        raise typer.Exit(EXIT_FINDINGS)
