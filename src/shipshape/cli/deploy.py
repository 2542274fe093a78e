"""``shipshape deploy``: validate deploy specs and render them to Kubernetes."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from shipshape.cli._io import (
    EXIT_FINDINGS,
    InputError,
    console,
    err_console,
    handle_errors,
    print_json,
    read_text,
    source_name,
    table,
)
from shipshape.deploy.config import parse_document
from shipshape.deploy.kubernetes import IMAGE_REQUIRED, render_kubernetes, to_yaml_stream
from shipshape.deploy.target import (
    DeployEnvironment,
    DeployProblem,
    deploy_environments,
    environment_problems,
    parse_spec,
)
from shipshape.findings import Severity

NAME = "deploy"
HELP = "Validate deploy specs and render them to Kubernetes manifests."
app = typer.Typer(no_args_is_help=True)

FileArg = Annotated[
    str, typer.Argument(help="YAML, TOML or JSON deploy spec; - reads stdin (YAML or JSON).")
]


class Target(StrEnum):
    kubernetes = "kubernetes"


def _environments(path: str, only: str | None) -> list[DeployEnvironment]:
    document = parse_document(read_text(path), source_name(path))
    environments = deploy_environments(document)
    if only is None:
        return environments
    chosen = [environment for environment in environments if environment.name == only]
    if not chosen:
        names = ", ".join(environment.name for environment in environments)
        raise InputError(source_name(path), f"no environment {only!r} (found: {names})")
    return chosen


def _problem_json(environment: DeployEnvironment, problem: DeployProblem) -> dict[str, Any]:
    rule = problem.rule
    return {
        "code": problem.code,
        "id": rule.id,
        "severity": rule.severity.name,
        "message": problem.message,
        "line": environment.line_of(problem.path),
        "fix": rule.fix,
    }


@app.command("validate")
@handle_errors
def validate(
    path: FileArg,
    env: Annotated[str | None, typer.Option("--env", help="Check only this environment.")] = None,
    fail_level: Annotated[
        str, typer.Option("--fail-level", help="Lowest severity that fails: info, warning, error.")
    ] = "error",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check every environment of a deploy spec: the seed codes, the schema, cross-field rules.

    Exit 0 when nothing at or above --fail-level is found, 1 with findings, 2 on unreadable
    input, invalid YAML/TOML/JSON, unknown keys or wrongly typed fields.
    """
    threshold = Severity.parse(fail_level)
    source = source_name(path)
    report = []
    failed = False
    for environment in _environments(path, env):
        problems = environment_problems(environment)
        env_failed = any(problem.rule.severity >= threshold for problem in problems)
        failed = failed or env_failed
        report.append((environment, problems, env_failed))
    errors = [
        problem.code
        for _, problems, _ in report
        for problem in problems
        if problem.rule.severity >= threshold
    ]
    if as_json:
        print_json(
            {
                "file": source,
                "valid": not failed,
                "errors": errors,
                "environments": [
                    {
                        "env": environment.name,
                        "valid": not env_failed,
                        "findings": [_problem_json(environment, p) for p in problems],
                    }
                    for environment, problems, env_failed in report
                ],
            }
        )
    else:
        for environment, problems, env_failed in report:
            verdict = "invalid" if env_failed else "valid"
            if not problems:
                console.print(f"{source} [{environment.name}]: valid", markup=False)
                continue
            rows = [
                (
                    f"{source}:{environment.line_of(p.path) or '-'}",
                    p.rule.id,
                    p.code,
                    p.rule.severity.name,
                    p.message,
                )
                for p in problems
            ]
            table(
                f"{source} [{environment.name}]: {verdict}",
                ["where", "id", "code", "severity", "problem"],
                rows,
            )
    if failed:
        raise typer.Exit(EXIT_FINDINGS)


@app.command("render")
@handle_errors
def render(
    path: FileArg,
    env: Annotated[
        str | None,
        typer.Option("--env", help="Environment to render (needed when the file has several)."),
    ] = None,
    target: Annotated[Target, typer.Option("--target", help="What to render for.")] = (
        Target.kubernetes
    ),
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write one file per manifest into this directory."),
    ] = None,
) -> None:
    """Render one environment to Kubernetes manifests, in apply order.

    RBAC for the migration wait, the migration Job, Deployment (startup, /livez, /readyz
    probes), Service, HorizontalPodAutoscaler and PodDisruptionBudget, as a multi-document
    YAML stream on stdout or files in --output. Exit 1 (nothing rendered) when the spec has
    error findings, 2 on bad input.
    """
    environments = _environments(path, env)
    if len(environments) > 1:
        names = ", ".join(environment.name for environment in environments)
        raise InputError(source_name(path), f"several environments ({names}): pick one with --env")
    environment = environments[0]
    errors = [
        problem
        for problem in environment_problems(environment)
        if problem.rule.severity >= Severity.error
    ]
    if errors:
        for problem in errors:
            where = f"{source_name(path)}:{environment.line_of(problem.path) or '-'}"
            err_console.print(
                f"{where}: {problem.rule.id} {problem.code}: {problem.message}",
                markup=False,
                highlight=False,
            )
        raise typer.Exit(EXIT_FINDINGS)
    spec = parse_spec(environment)
    if spec.image is None:
        raise InputError(
            source_name(path),
            f"{environment.name}: image: {IMAGE_REQUIRED}",
            environment.line_of(("image",)) if "image" in environment.config else None,
        )
    manifests = render_kubernetes(spec)
    if output is None:
        console.print(to_yaml_stream(manifests).rstrip(), markup=False, highlight=False)
        return
    try:
        output.mkdir(parents=True, exist_ok=True)
        for index, manifest in enumerate(manifests):
            name = f"{index:02d}-{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"
            (output / name).write_text(to_yaml_stream([manifest]), encoding="utf-8")
    except OSError as error:
        raise InputError(str(output), error.strerror or str(error)) from None
    console.print(f"wrote {len(manifests)} manifests to {output}", markup=False)
