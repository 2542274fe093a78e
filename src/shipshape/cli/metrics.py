"""``shipshape metrics``: latency reports."""

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
from shipshape.observe.metrics import compute_latency_metrics

NAME = "metrics"
HELP = "Latency percentiles from timings or access logs."
app = typer.Typer(no_args_is_help=True)


@app.command("latency")
@handle_errors
def latency(
    path: Annotated[str, typer.Argument(help="A list of response times (JSON, YAML or TOML).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Mean, p50, p95, p99 and max of a list of response times."""
    source = source_name(path)
    times = require_list(pick(load_data(path), "times", source), source, "times")
    metrics = compute_latency_metrics(times)
    if as_json:
        print_json(metrics)
    else:
        table(None, list(metrics), [list(metrics.values())])
