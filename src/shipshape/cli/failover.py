"""``shipshape failover``: failover decisions."""

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
from shipshape.scale.failover import failover_decisions

NAME = "failover"
HELP = "Decide failover actions for a primary/replica fleet."
app = typer.Typer(no_args_is_help=True)


@app.command("decide")
@handle_errors
def decide(
    path: Annotated[str, typer.Argument(help="A list of servers {name, role, healthy}.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The course's per-server actions: keep, drain, promote or standby.

    Note: this promotes every healthy replica when a primary is down.
    """
    source = source_name(path)
    servers = require_list(pick(load_data(path), "servers", source), source, "servers")
    decisions = failover_decisions(servers)
    if as_json:
        print_json(decisions)
    else:
        table(None, ["server", "action"], [(d["server"], d["action"]) for d in decisions])
