"""``shipshape metrics``: latency reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer

from shipshape.cli._io import (
    InputError,
    handle_errors,
    load_data,
    naming,
    pick,
    print_json,
    require_list,
    source_name,
    table,
)
from shipshape.observe.metrics import LatencyMetrics, compute_latency_metrics

NAME = "metrics"
HELP = "Latency percentiles from timings or access logs."
app = typer.Typer(no_args_is_help=True)


def durations_by_route(records: Sequence[Any], source: str) -> dict[str, list[float]]:
    """Request durations per route from access-log records (``route`` and ``duration_ms``).

    Lines that are not request records (application log lines) are skipped.
    """
    durations: dict[str, list[float]] = {}
    for number, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            raise InputError(source, "expected one JSON object per line", number)
        fields = record.get("context") if isinstance(record.get("context"), Mapping) else record
        assert isinstance(fields, Mapping)
        duration = fields.get("duration_ms")
        if duration is None or "route" not in fields:
            continue
        if isinstance(duration, bool) or not isinstance(duration, int | float):
            raise InputError(source, f"duration_ms must be a number, got {duration!r}", number)
        durations.setdefault(str(fields["route"]), []).append(duration)
    return dict(sorted(durations.items()))


@app.command("latency")
@handle_errors
def latency(
    path: Annotated[
        str,
        typer.Argument(
            help="A JSON access log (one object per line, as `shipshape serve` writes), "
            "or a list of response times (JSON, YAML or TOML); - reads stdin."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Mean, p50, p95, p99 and max: per route for an access log, overall for a list of times."""
    source = source_name(path)
    data = load_data(path)
    if isinstance(data, Mapping) and "times" not in data:
        data = [data]
    values = require_list(pick(data, "times", source), source, "times")
    if values and all(isinstance(value, Mapping) for value in values):
        durations = durations_by_route(values, source)
        if not durations:
            raise InputError(source, "no request records (route and duration_ms) found")
        routes: dict[str, LatencyMetrics] = {
            route: compute_latency_metrics(times) for route, times in durations.items()
        }
        if as_json:
            print_json(
                {route: {"count": len(durations[route]), **m} for route, m in routes.items()}
            )
            return
        columns = ["route", "count", "mean", "p50", "p95", "p99", "max"]
        rows = [[route, len(durations[route]), *m.values()] for route, m in routes.items()]
        table("latency per route (ms)", columns, rows)
        return
    with naming(source):
        metrics = compute_latency_metrics(values)
    if as_json:
        print_json(metrics)
    else:
        table(None, list(metrics), [list(metrics.values())])
