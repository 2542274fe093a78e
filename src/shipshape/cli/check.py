"""``shipshape check [PATH]``: one production-readiness report over a project.

Each part of a project is one checker in :data:`CHECKERS` (Dockerfile, deploy spec,
configuration layers); a checker returns its findings and the files it read. Adding a
part, such as pending migrations, is one more entry in that tuple.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.text import Text

from shipshape.cli._io import (
    EXIT_FINDINGS,
    EXIT_USAGE,
    InputError,
    console,
    err_console,
    handle_errors,
    print_json,
)
from shipshape.deploy.config import CONFIG_SUFFIXES, ConfigFileError, read_document
from shipshape.deploy.config_checks import CONFIG_RULES, PRODUCTION_ENVS, config_findings
from shipshape.deploy.dockerfile import LintError, lint_path, parse_dockerfile, rule_table
from shipshape.deploy.settings_schema import import_model, project_options
from shipshape.deploy.target import DEPLOY_RULES, deploy_findings
from shipshape.findings import Finding, Rule, Severity, fails, render_text, to_json, to_sarif

__all__ = ["CHECKERS", "Project", "check", "check_rules"]


@dataclass(frozen=True)
class Project:
    """What every checker gets: the project root, its ``[tool.shipshape]`` and the model."""

    root: Path
    options: dict[str, Any] = field(default_factory=dict)
    model: type[BaseModel] | None = None
    prod_envs: tuple[str, ...] = PRODUCTION_ENVS
    deploy_file: Path | None = None


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


CHECKERS: tuple[tuple[str, Checker], ...] = (
    ("dockerfile", check_dockerfile),
    ("deploy", check_deploy),
    ("config", check_config),
)


def check_rules() -> list[Rule]:
    """Every rule ``check`` can report, for SARIF and the docs."""
    return [*rule_table(), *DEPLOY_RULES.values(), *CONFIG_RULES.values()]


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


class Level(StrEnum):
    info = "info"
    warning = "warning"
    error = "error"


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
) -> None:
    """Production-readiness report: Dockerfile (SS-DF), deploy spec (SS-DEP), config (SS-CFG).

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
    )
    findings: list[Finding] = []
    checked: list[str] = []
    errors: list[str] = []
    for _, checker in CHECKERS:
        try:
            found, files = checker(project)
        except (LintError, ConfigFileError, InputError, ValueError) as error:
            errors.append(str(error))
            continue
        findings += found
        checked += files
    if not checked and not errors:
        raise InputError(str(path), "found no Dockerfile, deploy spec (deploy.*) or config/ here")
    if output is OutputFormat.sarif and not as_json:
        print_json(to_sarif(findings, check_rules()))
    elif as_json or output is OutputFormat.json:
        print_json({"path": str(path), "files": checked, **to_json(findings), "errors": errors})
    else:
        render_text(findings, console, checked)
    for message in errors:
        err_console.print(Text.assemble(("error:", "bold red"), f" {message}"), highlight=False)
    if errors:
        raise typer.Exit(EXIT_USAGE)
    if fails(findings, Severity[fail_level.value]):
        raise typer.Exit(EXIT_FINDINGS)
