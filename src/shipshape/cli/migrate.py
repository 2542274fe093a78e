"""``shipshape migrate``: schema migrations from model snapshots."""

from __future__ import annotations

from typing import Annotated

import typer

from shipshape.cli._io import (
    console,
    handle_errors,
    load_data,
    print_json,
    require_mapping,
    source_name,
    table,
)
from shipshape.deploy.migrate import compute_migration

NAME = "migrate"
HELP = "Schema migrations from Pydantic models."
app = typer.Typer(no_args_is_help=True)


@app.command("diff")
@handle_errors
def diff(
    old: Annotated[str, typer.Argument(help="Old {field: type} snapshot (JSON, YAML or TOML).")],
    new: Annotated[str, typer.Argument(help="New {field: type} snapshot.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show fields added, removed and changed between two snapshots."""
    steps = compute_migration(
        require_mapping(load_data(old), source_name(old), "the old snapshot"),
        require_mapping(load_data(new), source_name(new), "the new snapshot"),
    )
    if as_json:
        print_json(steps)
        return
    rows = [("added", step["field"], "", step["type"]) for step in steps["added"]]
    rows += [("removed", step["field"], step["type"], "") for step in steps["removed"]]
    rows += [
        ("changed", step["field"], step["old_type"], step["new_type"]) for step in steps["changed"]
    ]
    if rows:
        table(None, ["change", "field", "old type", "new type"], rows)
    else:
        console.print("no changes")
