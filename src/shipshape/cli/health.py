"""``shipshape health``: classify dependency health."""

from __future__ import annotations

from typing import Annotated

import typer

from shipshape.cli._io import (
    EXIT_FINDINGS,
    handle_errors,
    load_data,
    naming,
    print_json,
    require_mapping,
    source_name,
    table,
)
from shipshape.observe.health import check_health

NAME = "health"
HELP = "Classify service health from dependency statuses."
app = typer.Typer(no_args_is_help=True)


@app.command("check")
@handle_errors
def check(
    path: Annotated[str, typer.Argument(help="A mapping of dependency name to status.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Overall status: unhealthy beats degraded beats healthy. Exit 1 unless healthy."""
    source = source_name(path)
    deps = require_mapping(load_data(path), source, "the dependencies")
    with naming(source):
        report = check_health(deps)
    if as_json:
        print_json(report)
    else:
        table(
            f"status: {report['status']}", ["dependency", "status"], list(report["details"].items())
        )
    if report["status"] != "healthy":
        raise typer.Exit(EXIT_FINDINGS)
