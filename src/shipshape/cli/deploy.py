"""``shipshape deploy``: validate deploy configurations."""

from __future__ import annotations

from typing import Annotated

import typer

from shipshape.cli._io import (
    EXIT_FINDINGS,
    console,
    handle_errors,
    load_data,
    print_json,
    require_mapping,
    source_name,
    table,
)
from shipshape.deploy.target import DEPLOY_CONFIG_CODES, validate_deploy_config

NAME = "deploy"
HELP = "Validate deploy configurations."
app = typer.Typer(no_args_is_help=True)


@app.command("validate")
@handle_errors
def validate(
    path: Annotated[str, typer.Argument(help="JSON, YAML or TOML deploy config; - reads stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check region, instance_type and min_instances.

    Exit 0 when valid, 1 with findings, 2 on unreadable input.
    """
    source = source_name(path)
    config = require_mapping(load_data(path), source, "the deploy config")
    result = validate_deploy_config(config)
    if as_json:
        print_json(result)
    elif result["valid"]:
        console.print(f"{source}: valid")
    else:
        rows = [(code, DEPLOY_CONFIG_CODES[code]) for code in result["errors"]]
        table(f"{source}: invalid", ["code", "problem"], rows)
    if not result["valid"]:
        raise typer.Exit(EXIT_FINDINGS)
