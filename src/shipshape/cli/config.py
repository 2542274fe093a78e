"""``shipshape config``: layered configuration."""

from __future__ import annotations

from typing import Annotated

import typer
import yaml

from shipshape.cli._io import (
    console,
    handle_errors,
    load_data,
    print_json,
    require_mapping,
    source_name,
)
from shipshape.deploy.config import merge_config

NAME = "config"
HELP = "Merge and inspect layered configuration."
app = typer.Typer(no_args_is_help=True)


@app.command("merge")
@handle_errors
def merge(
    defaults: Annotated[str, typer.Argument(help="Defaults file (JSON, YAML or TOML).")],
    overrides: Annotated[list[str], typer.Argument(help="Override files, applied in order.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of YAML.")] = False,
) -> None:
    """Merge override files onto defaults: nested mappings merge, everything else is replaced."""
    merged = dict(require_mapping(load_data(defaults), source_name(defaults), "the defaults"))
    for path in overrides:
        merged = merge_config(
            merged, require_mapping(load_data(path), source_name(path), "overrides")
        )
    if as_json:
        print_json(merged)
    else:
        console.print(
            yaml.safe_dump(merged, sort_keys=True).rstrip(), highlight=False, markup=False
        )
