"""``shipshape balance``: load-balancing strategies."""

from __future__ import annotations

from collections import Counter
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
from shipshape.scale.balance import round_robin_balance

NAME = "balance"
HELP = "Simulate load-balancing strategies."
app = typer.Typer(no_args_is_help=True)


@app.command("round-robin")
@handle_errors
def round_robin(
    path: Annotated[str, typer.Argument(help="A list of server names (JSON, YAML or TOML).")],
    requests: Annotated[int, typer.Option("--requests", "-n", help="Number of requests.", min=0)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the assignment as JSON.")] = False,
) -> None:
    """Assign requests to servers in turn (request i goes to server i mod n)."""
    source = source_name(path)
    servers = require_list(pick(load_data(path), "servers", source), source, "servers")
    assignment = round_robin_balance(servers, requests)
    if as_json:
        print_json(assignment)
        return
    counts = Counter(str(server) for server in assignment)
    table(None, ["server", "requests"], [(str(s), counts[str(s)]) for s in dict.fromkeys(servers)])
