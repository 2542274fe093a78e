"""``shipshape trace``: critical paths of traces."""

from __future__ import annotations

from typing import Annotated

import typer

from shipshape.cli._io import (
    handle_errors,
    load_data,
    pick,
    print_json,
    require_list,
    source_name,
    table,
)
from shipshape.observe.tracing import find_critical_path

NAME = "trace"
HELP = "Analyse distributed traces."
app = typer.Typer(no_args_is_help=True)


@app.command("critical-path")
@handle_errors
def critical_path(
    path: Annotated[str, typer.Argument(help="A list of spans {service, duration_ms, parent_id}.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The longest root-to-leaf chain of spans: its total duration and its depth."""
    source = source_name(path)
    spans = require_list(pick(load_data(path), "spans", source), source, "spans")
    result = find_critical_path(spans)
    if as_json:
        print_json(result)
    else:
        table(
            None, ["total_duration_ms", "depth"], [[result["total_duration_ms"], result["depth"]]]
        )
