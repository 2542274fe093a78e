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
    failures: Sequence[Exception],
    fail_at: Severity | None,
) -> None:
    """Print ``findings`` as SARIF (saying whether the run succeeded, with a notification
    naming the file and line of each of ``failures``, the parts that could not be
    checked), JSON (``document``'s keys first, then the findings, then the errors) or
    text; print each error; exit 2 on errors, else 1 when a finding is at or above
    ``fail_at``."""
    errors = [str(failure) for failure in failures]
    if output is OutputFormat.sarif and not as_json:
        print_json(to_sarif(findings, rules(), failures=[_where(f) for f in failures]))
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


def _where(failure: Exception) -> tuple[str, str | None, int | None]:
    """A failure's message, and the file and line it names, when it names them."""
    file = getattr(failure, "file", None) or getattr(failure, "source", None)
    line = getattr(failure, "line", None)
    return (
        str(failure),
        file if isinstance(file, str) else None,
        line if isinstance(line, int) else None,
    )
