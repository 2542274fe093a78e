"""``shipshape dockerfile``: check, lint and generate Dockerfiles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from shipshape.cli._findings import Level, OutputFormat, report_findings
from shipshape.cli._io import (
    EXIT_FINDINGS,
    console,
    err_console,
    fail,
    handle_errors,
    print_json,
    read_text,
    source_name,
    table,
)
from shipshape.deploy.dockerfile import (
    SEED_DOCKERFILE_CODES,
    LintError,
    LintSettings,
    lint_dockerfile,
    lint_path,
    load_settings,
    rule_table,
    validate_dockerfile,
)
from shipshape.deploy.project import ProjectError, find_pyproject
from shipshape.findings import Finding, Severity

NAME = "dockerfile"
HELP = "Check, lint and generate Dockerfiles."
app = typer.Typer(no_args_is_help=True)


@app.command("validate")
@handle_errors
def validate(
    path: Annotated[
        str,
        typer.Argument(help="Dockerfile to check (a folder means its Dockerfile); - reads stdin."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the final stage for a slim base image, WORKDIR, EXPOSE and CMD/ENTRYPOINT.

    Exit 0 when valid, 1 with findings, 2 on unreadable input.
    """
    if path != "-" and Path(path).is_dir():
        path = str(Path(path) / "Dockerfile")  # as lint reads a folder
    result = validate_dockerfile(read_text(path))
    if as_json:
        print_json(result)
    elif result["valid"]:
        console.print(f"{source_name(path)}: valid")
    else:
        rows = [(code, SEED_DOCKERFILE_CODES[code]) for code in result["errors"]]
        table(f"{source_name(path)}: invalid", ["code", "problem"], rows)
    if not result["valid"]:
        raise typer.Exit(EXIT_FINDINGS)


def _settings(config: Path | None, start: Path) -> LintSettings:
    pyproject = config or find_pyproject(start)
    if pyproject is None:
        return LintSettings()
    try:
        return load_settings(pyproject)
    except ProjectError as error:
        raise LintError(error.file, error.message, error.line) from None


def _rule_ids(option: str, values: list[str]) -> frozenset[str]:
    """Rule ids from ``values`` (repeated or comma-separated, any case); an unknown id
    exits 2 in one line."""
    known = {rule.id for rule in rule_table()}
    parts = [part.strip() for value in values for part in value.split(",") if part.strip()]
    for part in parts:
        if part.upper() not in known:
            message = (
                f"{option} {part}: unknown rule id; the Dockerfile rules are "
                f"{min(known)} to {max(known)} (see `shipshape dockerfile rules`)"
            )
            fail(Text(message))
    return frozenset(part.upper() for part in parts)


@app.command("lint")
def lint(
    paths: Annotated[
        list[str],
        typer.Argument(help="Dockerfiles (a folder means its Dockerfile); - reads stdin."),
    ],
    *,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output: text, json or sarif.")
    ] = OutputFormat.text,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    fail_level: Annotated[
        Level | None,
        typer.Option(
            "--fail-level",
            help="Exit 1 when a finding is at or above this severity "
            "(default: fail-level in \\[tool.shipshape.dockerfile], else info).",
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", help="Rule id to skip (repeatable, or comma-separated)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="pyproject.toml to read (default: the nearest one)."),
    ] = None,
    context: Annotated[
        Path | None,
        typer.Option("--context", help="Build context folder (default: each Dockerfile's folder)."),
    ] = None,
) -> None:
    """Lint Dockerfiles with the Python-aware SS-DF rules (see docs/dockerfile.md).

    Exit 0 when no finding reaches the fail level, 1 when one does, 2 when a file
    cannot be read or is not a Dockerfile (reported as file:line: problem).
    """
    ignored = _rule_ids("--ignore", ignore or [])
    findings: list[Finding] = []
    failures: list[Exception] = []
    linted: list[str] = []
    levels: list[Severity] = []
    for path in paths:
        try:
            start = Path.cwd() if path == "-" else Path(path)
            settings = _settings(config, start)
            if ignored:
                settings = settings.model_copy(update={"ignore": settings.ignore | ignored})
            levels.append(settings.fail_level)
            if path == "-":
                text = read_text("-")
                found = lint_dockerfile(text, "<stdin>", settings, context_dir=context)
                linted.append("<stdin>")
            else:
                found = lint_path(path, settings, context_dir=context)
                file = Path(path)
                linted.append(str(file / "Dockerfile" if file.is_dir() else file))
        except (LintError, ValueError) as error:
            failures.append(error)
            continue
        findings.extend(found)
    chosen = Severity[fail_level.value] if fail_level is not None else min(levels, default=None)
    report_findings(
        findings,
        output=output,
        as_json=as_json,
        document={"files": linted},
        rules=rule_table,
        files=linted,
        failures=failures,
        fail_at=chosen,
    )


@app.command("rules")
def rules(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the SS-DF rules: id, name, severity, why and fix."""
    table_rows = rule_table()
    if as_json:
        print_json([rule.as_dict() for rule in table_rows])
        return
    table(
        "Dockerfile rules",
        ["id", "name", "severity", "why", "fix"],
        [(r.id, r.name, r.severity.name, r.why, r.fix) for r in table_rows],
    )


def _print_notes(notes: list[str]) -> None:
    """The generator's notes, on stderr so stdout stays what was asked for."""
    for note in notes:
        err_console.print(Text.assemble(("note:", "yellow"), f" {note}"), highlight=False)


@app.command("generate")
@handle_errors
def generate(
    project: Annotated[Path, typer.Argument(help="Project folder holding pyproject.toml.")] = Path(
        "."
    ),
    *,
    app_ref: Annotated[
        str | None,
        typer.Option(
            "--app", help="MODULE:APP to serve (default: \\[tool.shipshape] app, or found)."
        ),
    ] = None,
    python: Annotated[
        str | None, typer.Option("--python", help="Python version, e.g. 3.12.")
    ] = None,
    port: Annotated[int, typer.Option("--port", help="Port to serve on.", min=1, max=65535)] = 8000,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing Dockerfile/.dockerignore.")
    ] = False,
    stdout: Annotated[
        bool, typer.Option("--stdout", help="Print the Dockerfile instead of writing files.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was written as JSON.")
    ] = False,
) -> None:
    """Write a multi-stage, slim, non-root Dockerfile and a .dockerignore for PROJECT.

    uv.lock present: a uv build stage (uv sync --frozen --no-dev); otherwise pip
    with requirements.txt. Exit 0 when written, 2 when the project cannot be
    read or a file exists (use --force).
    """
    from shipshape.deploy.dockerfile.generate import generate_files

    try:
        files = generate_files(project, app=app_ref, python=python, port=port)
    except ProjectError as error:
        fail(Text(str(error)))
    if stdout:
        _print_notes(files.notes)
        typer.echo(files.dockerfile, nl=False)
        return
    targets = {
        project / "Dockerfile": files.dockerfile,
        project / ".dockerignore": files.dockerignore,
    }
    existing = [str(path) for path in targets if path.exists()]
    if existing and not force:
        fail(f"{', '.join(existing)}: already exists; use --force to overwrite")
    for path, text in targets.items():
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            fail(f"{path}: cannot write: {error.strerror or error}")
    _print_notes(files.notes)
    if as_json:
        print_json({"written": [str(p) for p in targets], "notes": files.notes})
    else:
        for path in targets:
            console.print(f"wrote {path}", highlight=False)
