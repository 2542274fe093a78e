"""``shipshape metrics``: latency reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
import yaml

from shipshape.cli._io import (
    InputError,
    handle_errors,
    naming,
    parse_data,
    print_json,
    read_text,
    source_name,
    table,
    warn,
)
from shipshape.observe.metrics import LatencyMetrics, compute_latency_metrics

NAME = "metrics"
HELP = "Latency percentiles from timings or access logs."
app = typer.Typer(no_args_is_help=True)


@dataclass(frozen=True)
class Records:
    """Numbered candidate access records: ``(number, value)``; numbers count ``unit``s."""

    items: list[tuple[int, Any]]
    unit: str
    unreadable: tuple[int, ...] = ()  # lines that are not JSON at all


def durations_by_route(
    records: Sequence[Any] | Records, source: str
) -> tuple[dict[str, list[float]], list[int]]:
    """Request durations per route from access-log records (``route`` and ``duration_ms``),
    and the numbers of the entries that are not JSON objects at all (text, arrays, numbers).

    Both are skipped, as are objects without the two fields (the application's own log
    records, which share the stream); a ``duration_ms`` that is not a number, or is
    negative, is an error naming its line.
    """
    if not isinstance(records, Records):
        records = Records(list(enumerate(records, start=1)), "item")
    durations: dict[str, list[float]] = {}
    skipped = list(records.unreadable)
    for number, record in records.items:
        fields = record.get("context") if isinstance(record, Mapping) else None
        if not isinstance(fields, Mapping):
            fields = record
        if not isinstance(fields, Mapping):
            skipped.append(number)
            continue
        duration = fields.get("duration_ms")
        if duration is None or "route" not in fields:
            continue
        message = None
        if isinstance(duration, bool) or not isinstance(duration, int | float):
            message = f"duration_ms must be a number, got {duration!r}"
        elif duration < 0:
            message = f"duration_ms must not be negative, got {duration!r}"
        if message is not None:
            if records.unit == "line":
                raise InputError(source, message, number)
            raise InputError(source, f"{records.unit} {number}: {message}")
        durations.setdefault(str(fields["route"]), []).append(duration)
    return dict(sorted(durations.items())), sorted(skipped)


def load_latency_input(path: str) -> Any:
    """A times document (list, ``{"times": [...]}``, one record) or an access log's lines.

    Whole JSON, YAML or TOML documents are read as such. Anything else that has JSON
    objects on lines of their own is an access log: every line becomes a candidate record,
    and lines that are not JSON are kept as unreadable (skipped with a warning), since real
    logs mix in plain startup text and tracebacks; a single JSON object on one line is an
    access log of that line. Lines that are all JSON but none an object (one number per
    line) are a list of times; other text is reported by the strict parser.
    """
    text, source = read_text(path), source_name(path)
    if not text.strip():  # whatever its name: no access line, and no list of times either
        raise InputError(source, "empty: no request records (route and duration_ms) or times")
    suffix = Path(path).suffix.lower()
    if suffix in {".yaml", ".yml", ".toml"}:
        return parse_data(text, source)
    try:
        whole = orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    else:
        lines = [number for number, line in enumerate(text.splitlines(), 1) if line.strip()]
        if isinstance(whole, Mapping) and "times" not in whole and len(lines) == 1:
            return Records([(lines[0], whole)], "line")  # an access log of one line
        return whole
    if suffix not in {".json", ".jsonl", ".ndjson"}:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError:
            document = None
        if isinstance(document, list) or (isinstance(document, Mapping) and "times" in document):
            return document
    items: list[tuple[int, Any]] = []
    unreadable: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((number, orjson.loads(line)))
        except orjson.JSONDecodeError:
            unreadable.append(number)
    if not any(isinstance(value, Mapping) for _, value in items):
        if items and not unreadable:  # one JSON value per line, such as 12 then 15
            return [value for _, value in items]
        return parse_data(text, source)
    return Records(items, "line", tuple(unreadable))


_EXPECTED = (
    'expected a list of durations (a JSON, YAML or TOML list, {"times": [...]}, or one '
    "number per line) or a JSON access log (one object with route and duration_ms per line)"
)


def _times(data: Any, source: str) -> Sequence[Any]:
    """The list of times (or records) of a document; a lone number is one time."""
    if isinstance(data, Mapping):
        times = data["times"]
        if not isinstance(times, list):
            raise InputError(source, f"times must be a list of durations, got {_shape(times)}")
        return times
    if isinstance(data, int | float) and not isinstance(data, bool):
        return [data]  # one number on one line
    if not isinstance(data, list):
        raise InputError(source, f"{_EXPECTED}, got {_shape(data)}")
    return data


def _shape(value: Any) -> str:
    """What a document turned out to be, in words."""
    if value is None:
        return "nothing"
    if isinstance(value, str):
        preview = value if len(value) <= 40 else value[:37] + "..."
        return f"a single string ({preview!r})"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a single number ({value!r})"
    return f"a {type(value).__name__}"


def _refuse_negative_times(values: Sequence[Any], source: str) -> None:
    """A response time below zero is no time: bad input, numbered as the core numbers
    the values that are not numbers (``time #0`` is the first)."""
    for index, value in enumerate(values):
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            raise InputError(source, f"time #{index} is negative: {value!r}")


@app.command("latency")
@handle_errors
def latency(
    path: Annotated[
        str,
        typer.Argument(
            help="A JSON access log (one object per line, as `shipshape serve` writes; "
            "lines that are not JSON objects, such as plain startup text or tracebacks, "
            "are skipped with a warning), "
            "or a list of response times (JSON, YAML or TOML, or one number per line); "
            "- reads stdin."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Mean, p50, p95, p99 and max: per route for an access log, overall for a list of times.

    Exit 0, or 2 for unreadable input, a log without a single access line, or a time that
    is not a number or is negative.
    """
    source = source_name(path)
    data = load_latency_input(path)
    if isinstance(data, Mapping) and "times" not in data:
        data = [data]
    if not isinstance(data, Records):
        values = _times(data, source)
        if not values or not any(isinstance(value, Mapping) for value in values):
            _refuse_negative_times(values, source)
            with naming(source):
                metrics = compute_latency_metrics(values)
            if as_json:
                print_json(metrics)
            else:
                table(None, list(metrics), [list(metrics.values())])
            return
        data = values
    durations, skipped = durations_by_route(data, source)
    if not durations:
        raise InputError(source, "no request records (route and duration_ms) found")
    if skipped:
        if isinstance(data, Records):
            unit, total = data.unit, len(data.items) + len(data.unreadable)
        else:
            unit, total = "item", len(data)
        warn(
            f"{source}: skipped {len(skipped)} of {total} {unit}s that are not JSON log "
            f"records, the first at {unit} {skipped[0]}"
        )
    routes: dict[str, LatencyMetrics] = {
        route: compute_latency_metrics(times) for route, times in durations.items()
    }
    if as_json:
        print_json({route: {"count": len(durations[route]), **m} for route, m in routes.items()})
        return
    columns = ["route", "count", "mean", "p50", "p95", "p99", "max"]
    rows = [[route, len(durations[route]), *m.values()] for route, m in routes.items()]
    table("latency per route (ms)", columns, rows)
