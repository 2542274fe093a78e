"""``shipshape check [PATH]``: one production-readiness report over a project.

Each part of a project is one checker in :data:`CHECKERS` (Dockerfile, deploy spec,
configuration layers, migrations); a checker returns its findings and the files it read.
Adding a part is one more entry in that tuple.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from pydantic import BaseModel

from shipshape.cli._findings import Level, OutputFormat, report_findings
from shipshape.cli._io import (
    InputError,
    handle_errors,
)
from shipshape.deploy.config import CONFIG_SUFFIXES, ConfigFileError, read_document
from shipshape.deploy.config_checks import CONFIG_RULES, PRODUCTION_ENVS, config_findings
from shipshape.deploy.dockerfile import LintError, lint_path, parse_dockerfile, rule_table
from shipshape.deploy.migrate import (
    DATABASE_ENV,
    Migration,
    diff_snapshots,
    import_models,
    last_snapshot,
    load_migrations,
    snapshot_models,
)
from shipshape.deploy.migrate.files import file_name
from shipshape.deploy.settings_schema import import_model, project_options
from shipshape.deploy.target import DEPLOY_RULES, deploy_findings
from shipshape.findings import Finding, Rule, Severity

__all__ = ["CHECKERS", "MIGRATION_RULES", "Project", "check", "check_rules"]


@dataclass(frozen=True)
class Project:
    """What every checker gets: the project root, its ``[tool.shipshape]`` and the model."""

    root: Path
    options: dict[str, Any] = field(default_factory=dict)
    model: type[BaseModel] | None = None
    prod_envs: tuple[str, ...] = PRODUCTION_ENVS
    deploy_file: Path | None = None
    database: str | None = None


CheckResult = tuple[list[Finding], list[str]]
Checker = Callable[[Project], CheckResult]


def check_dockerfile(project: Project) -> CheckResult:
    dockerfile = project.root / "Dockerfile"
    if not dockerfile.is_file():
        return [], []
    return lint_path(dockerfile), [str(dockerfile)]


def find_deploy_file(project: Project) -> Path | None:
    """``--deploy``, else ``[tool.shipshape] deploy``, else ``deploy.{yaml,yml,toml,json}``."""
    if project.deploy_file is not None:
        return project.deploy_file
    configured = project.options.get("deploy")
    if isinstance(configured, str):
        return project.root / configured
    found = [project.root / f"deploy{suffix}" for suffix in CONFIG_SUFFIXES]
    found = [path for path in found if path.is_file()]
    if len(found) > 1:
        names = " and ".join(path.name for path in found)
        raise InputError(str(project.root), f"both {names} exist; keep one or pass --deploy")
    return found[0] if found else None


def exposed_ports(project: Project) -> set[int]:
    """Ports the final stage of ``PATH/Dockerfile`` EXPOSEs; empty when unknown or unreadable."""
    try:
        text = (project.root / "Dockerfile").read_text(encoding="utf-8")
        final = parse_dockerfile(text).final
    except (OSError, UnicodeDecodeError, ValueError):
        return set()
    if final is None:
        return set()
    ports = set()
    for instruction in final.effective():
        if instruction.keyword == "EXPOSE":
            for word in instruction.arguments:
                number = word.split("/", 1)[0]
                if number.isdigit():
                    ports.add(int(number))
    return ports


def check_deploy(project: Project) -> CheckResult:
    file = find_deploy_file(project)
    if file is None:
        return [], []
    return deploy_findings(read_document(file), exposed_ports(project)), [str(file)]


def check_config(project: Project) -> CheckResult:
    config_dir = project.options.get("config_dir", "config")
    return config_findings(
        project.root,
        model=project.model,
        config_dir=config_dir if isinstance(config_dir, str) else "config",
        prod_envs=project.prod_envs,
    )


MIGRATION_RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            "SS-MIG001",
            "pending_migration",
            Severity.warning,
            "a migration file is not applied to the database yet",
            "run `shipshape migrate apply` (a contract migration: with --contract, once no "
            "running code uses what it drops)",
        ),
        Rule(
            "SS-MIG002",
            "migration_modified_after_apply",
            Severity.error,
            "a migration file was changed after it was applied: its checksum no longer matches "
            "the database's record, so other databases get a different schema",
            "restore the file as it was applied and put the change in a new migration "
            "(`shipshape migrate make`)",
        ),
        Rule(
            "SS-MIG003",
            "applied_migration_missing",
            Severity.error,
            "the database applied a migration that has no file: it cannot be rolled back and "
            "a fresh database will not get it",
            "restore the migration file from version control",
        ),
        Rule(
            "SS-MIG004",
            "models_drifted",
            Severity.error,
            "the models changed since the last migration's snapshot: the database will not "
            "match the code",
            "run `shipshape migrate make` and commit the new migration",
        ),
        Rule(
            "SS-MIG005",
            "database_unreadable",
            Severity.warning,
            "the database's migration history could not be read, so pending migrations are unknown",
            "pass a reachable --database (or $SHIPSHAPE_DATABASE_URL), or check from where the "
            "database is reachable",
        ),
    )
}


def _finding(code: str, message: str, file: Path, fix: str | None = None) -> Finding:
    rule = MIGRATION_RULES[code]
    return Finding(code, rule.severity, message, str(file), fix=fix or rule.fix)


def _model_specs(project: Project, migrations: list[Migration]) -> list[str]:
    """``[tool.shipshape] models`` (a module or a list), else the last migration's modules."""
    configured = project.options.get("models")
    if configured is None:
        return list(last_snapshot(migrations).models)
    if isinstance(configured, str) and configured:
        return [configured]
    if (
        isinstance(configured, list)
        and configured
        and all(isinstance(spec, str) and spec for spec in configured)
    ):
        return list(configured)
    raise InputError(
        str(project.root / "pyproject.toml"),
        "[tool.shipshape] models must be a module name or a list of them",
    )


def _drift(project: Project, migrations: list[Migration], where: Path) -> list[Finding]:
    from shipshape.cli.migrate import describe

    specs = _model_specs(project, migrations)
    if not specs:
        return []
    classes = import_models(specs, project.root)
    if not classes:
        raise InputError(f"models {' '.join(specs)}", "no Pydantic models found there")
    snapshot, renames = snapshot_models(classes, specs)
    return [
        _finding("SS-MIG004", f"the models drifted from the last migration: {describe(op)}", where)
        for op in diff_snapshots(last_snapshot(migrations), snapshot, renames)
    ]


def _database_source(project: Project) -> str:
    if project.database:
        return "--database"
    if os.environ.get(DATABASE_ENV):
        return f"${DATABASE_ENV}"
    return str(project.root / "shipshape.db")


def _masked(url: str) -> tuple[str, str | None]:
    """The URL with its password hidden, and the password (to scrub it from messages)."""
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    return parsed.render_as_string(hide_password=True), parsed.password


def check_migrations(project: Project) -> CheckResult:
    """SS-MIG: pending, modified and missing migrations, and models drifted from the files.

    Reads the database read-only: a SQLite file that does not exist is not created (every
    migration is pending there).
    """
    setting = project.options.get("migrations_dir", "migrations")
    directory = project.root / (setting if isinstance(setting, str) else "migrations")
    if not directory.exists():
        return [], []
    import sqlalchemy as sa

    from shipshape.deploy.migrate.db import database_url, read_migration_states

    migrations = load_migrations(directory)
    last = directory / file_name(migrations[-1]) if migrations else directory
    findings = _drift(project, migrations, last)
    files = [str(directory / file_name(migration)) for migration in migrations] or [str(directory)]
    try:
        url, password = _masked(database_url(project.database, project.root))
    except (sa.exc.ArgumentError, ValueError):
        # The message never repeats the URL: it may hold a password that cannot be parsed out.
        raise InputError(_database_source(project), "not a database URL or file path") from None
    try:
        states = read_migration_states(migrations, project.database, project.root)
    except ValueError as error:
        reason = str(error).split(": ", 1)[-1]
        raise InputError(_database_source(project), f"cannot open {url}: {reason}") from None
    except sa.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        for secret in (password, quote(password, safe="")) if password else ():
            reason = reason.replace(secret, "***")
        message = f"cannot read the migration history from {url}: {reason}"
        return [*findings, _finding("SS-MIG005", message, directory)], files
    for state in states:
        label = f"{state.id}_{state.name}"
        file = directory / f"{label}.json"
        if state.state == "pending" and state.phase == "contract":
            message = f"contract migration {label} is not applied to {url}"
            fix = "run `shipshape migrate apply --contract` once no running code uses what it drops"
            findings.append(_finding("SS-MIG001", message, file, fix))
        elif state.state == "pending":
            message = f"migration {label} is not applied to {url}"
            findings.append(_finding("SS-MIG001", message, file, "run `shipshape migrate apply`"))
        elif state.state == "modified":
            message = (
                f"migration {label} was changed after it was applied to {url} "
                f"(on {state.applied_at}): its checksum no longer matches"
            )
            findings.append(_finding("SS-MIG002", message, file))
        elif state.state == "missing":
            message = (
                f"migration {label} was applied to {url} (on {state.applied_at}) "
                f"but {file.name} is not in {directory}"
            )
            findings.append(_finding("SS-MIG003", message, directory))
    return findings, files


CHECKERS: tuple[tuple[str, Checker], ...] = (
    ("dockerfile", check_dockerfile),
    ("deploy", check_deploy),
    ("config", check_config),
    ("migrations", check_migrations),
)


def check_rules() -> list[Rule]:
    """Every rule ``check`` can report, for SARIF and the docs."""
    return [
        *rule_table(),
        *DEPLOY_RULES.values(),
        *CONFIG_RULES.values(),
        *MIGRATION_RULES.values(),
    ]


@handle_errors
def check(
    path: Annotated[Path, typer.Argument(help="Project directory.")] = Path("."),
    *,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output: text, json or sarif.")
    ] = OutputFormat.text,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    fail_level: Annotated[
        Level, typer.Option("--fail-level", help="Exit 1 when a finding is at or above this.")
    ] = Level.info,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="Settings model module:Class (default: \\[tool.shipshape] settings)."
        ),
    ] = None,
    prod_env: Annotated[
        list[str] | None,
        typer.Option("--prod-env", help="Production environment name (repeatable)."),
    ] = None,
    deploy: Annotated[
        Path | None, typer.Option("--deploy", help="Deploy spec (default: deploy.* in PATH).")
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            "-d",
            help="Database whose migration history to read: SQLAlchemy URL or SQLite path "
            "(default: $SHIPSHAPE_DATABASE_URL, else PATH/shipshape.db). Read only.",
        ),
    ] = None,
) -> None:
    """Production-readiness report: Dockerfile (SS-DF), deploy spec (SS-DEP), config (SS-CFG),
    migrations (SS-MIG).

    Exit 0 when no finding reaches --fail-level, 1 when one does, 2 when a file cannot be
    read or is invalid (every other part is still reported).
    """
    if not path.is_dir():
        raise InputError(str(path), "no such directory")
    options = project_options(path)
    spec = model or options.get("settings")
    project = Project(
        root=path,
        options=options,
        model=import_model(spec, path) if isinstance(spec, str) and spec else None,
        prod_envs=tuple(prod_env) if prod_env else PRODUCTION_ENVS,
        deploy_file=deploy,
        database=database,
    )
    findings: list[Finding] = []
    checked: list[str] = []
    errors: list[Exception] = []
    for _, checker in CHECKERS:
        try:
            found, files = checker(project)
        except (LintError, ConfigFileError, InputError, ValueError) as error:
            errors.append(error)
            continue
        findings += found
        checked += files
    if not checked and not errors:
        raise InputError(
            str(path), "found no Dockerfile, deploy spec (deploy.*), config/ or migrations/ here"
        )
    report_findings(
        findings,
        output=output,
        as_json=as_json,
        document={"path": str(path), "files": checked},
        rules=check_rules,
        files=checked,
        failures=errors,
        fail_at=Severity[fail_level.value],
    )
