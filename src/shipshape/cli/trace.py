"""``shipshape trace``: critical paths of traces."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shipshape.cli._io import (
    InputError,
    console,
    err_console,
    handle_errors,
    parse_data,
    pick,
    print_json,
    read_text,
    require_list,
    source_name,
    table,
    working,
)
from shipshape.observe.critical_path import RootPath, Trace, TraceCriticalPath, critical_paths
from shipshape.observe.trace_formats import (
    TraceFormat,
    TraceFormatError,
    detect_format,
    read_traces,
)
from shipshape.observe.tracing import find_critical_path

NAME = "trace"
HELP = "Analyse distributed traces."
app = typer.Typer(no_args_is_help=True)

_UNKNOWN = (
    'not a trace export: expected OTLP JSON ({"resourceSpans": [...]}), Jaeger JSON '
    '({"data": [{"traceID", "spans", "processes"}]}) or a list of spans '
    "{service, duration_ms, parent_id}"
)


@app.command("critical-path")
@handle_errors
def critical_path(
    path: Annotated[
        str,
        typer.Argument(
            help="OTLP JSON (or JSON lines), Jaeger JSON, or a list of spans "
            "{service, duration_ms, parent_id}; - for stdin."
        ),
    ],
    trace_id: Annotated[
        str | None, typer.Option("--trace-id", help="Report only this trace (OTLP/Jaeger).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The critical path of each trace in an OTLP or Jaeger export, as Jaeger UI computes it.

    For each root span: the blocking path walked back from its end, one row per section
    (service, operation, time on the path, the span's self time); the sections add up to
    the root's duration. For the seed list of spans {service, duration_ms, parent_id} it
    prints the course's answer instead: the longest root-to-leaf chain (total and depth).
    Exit 0 on success, 2 on an unreadable or unknown file.
    """
    source = source_name(path)
    with working(f"reading {source}") as status:
        document, line_numbers = _load_document(path, source)
        fmt = detect_format(document)
        jaeger_errors = _jaeger_errors(document)
        if fmt is None or (jaeger_errors and document.get("data") is None):
            raise InputError(source, jaeger_errors or _UNKNOWN)
        if fmt != "spans":
            status.update(f"reading the spans of {source}")
            traces = _read_traces(document, fmt, source, line_numbers, trace_id)
            spans = sum(len(trace.spans) for trace in traces)
            status.update(f"walking {spans:,} spans in {len(traces):,} traces")
            try:
                results = [critical_paths(trace) for trace in traces]
            except ValueError as error:
                raise InputError(source, str(error)) from None
    if fmt == "spans":
        _print_seed_answer(document, source, trace_id, as_json)
        return
    for result in results:
        for warning in result.warnings:
            err_console.print(
                f"[yellow]warning:[/] {escape(source)}: trace {escape(result.trace_id)}: "
                f"{escape(warning)}",
                highlight=False,
            )
    if as_json:
        print_json({"format": fmt, "traces": [_trace_json(result) for result in results]})
        return
    for result in results:
        for root_path in result.paths:
            _print_path(result.trace_id, root_path)


def _print_seed_answer(document: Any, source: str, trace_id: str | None, as_json: bool) -> None:
    """The course's answer for the seed list of spans: longest chain and its depth."""
    if trace_id is not None:
        raise InputError(source, "--trace-id needs an OTLP or Jaeger export")
    spans = require_list(pick(document, "spans", source), source, "spans")
    if not spans:
        raise InputError(source, "no spans in this list")
    try:
        seed = find_critical_path(spans)
    except ValueError as error:
        raise InputError(source, str(error)) from None
    if as_json:
        print_json(seed)
    else:
        table(None, ["total_duration_ms", "depth"], [[seed["total_duration_ms"], seed["depth"]]])


def _read_traces(
    document: Any,
    fmt: TraceFormat,
    source: str,
    line_numbers: list[int] | None,
    trace_id: str | None,
) -> list[Trace]:
    """The traces of an OTLP or Jaeger document (only ``trace_id``'s when given)."""
    try:
        traces = read_traces(document, fmt)
    except TraceFormatError as error:
        if error.record is None:
            raise InputError(source, str(error)) from None
        if line_numbers:  # JSON lines: the record's line
            raise InputError(source, str(error), line_numbers[error.record]) from None
        # one JSON array of records: its index (a line number would be made up)
        raise InputError(source, f"[{error.record}].{error}") from None
    if trace_id is not None:
        wanted = _trace_key(trace_id)
        selected = [trace for trace in traces if _trace_key(trace.trace_id) == wanted]
        if not selected:
            known = ", ".join(trace.trace_id for trace in traces[:5])
            more = f" and {len(traces) - 5} more" if len(traces) > 5 else ""
            raise InputError(source, f"no trace {trace_id!r} in the file (it has {known}{more})")
        traces = selected
    if not traces:
        raise InputError(source, f"no spans in this {_FORMAT_NAMES.get(fmt, fmt)} export")
    return traces


def _load_document(path: str, source: str) -> tuple[Any, list[int] | None]:
    """The parsed document, and the line number of each record when it is JSON lines."""
    text = read_text(path).removeprefix("\ufeff")  # a BOM, as Windows tools write it
    if not text.strip():
        raise InputError(source, "empty file")
    if Path(path).suffix.lower() in {".yaml", ".yml", ".toml"}:
        return parse_data(text, source), None
    try:
        return orjson.loads(text), None
    except orjson.JSONDecodeError as error:
        whole = error
    numbered = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(numbered) > 1 and _parses(numbered[0][1]):
        records, numbers = [], []
        for number, line in numbered:
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError as error:
                raise InputError(source, f"invalid JSON line: {error.msg}", number) from None
            numbers.append(number)
        return records, numbers
    if text.lstrip().startswith(("{", "[")):
        raise InputError(source, f"invalid JSON: {whole.msg}", whole.lineno)
    return parse_data(text, source), None


def _jaeger_errors(document: Any) -> str | None:
    """The message of a Jaeger API error response (``{"data": null, "errors": [...]}``)."""
    if not isinstance(document, Mapping) or not isinstance(document.get("errors"), list):
        return None
    messages = [
        str(error.get("msg", error)) if isinstance(error, Mapping) else str(error)
        for error in document["errors"]
    ]
    return f"a Jaeger API error response, no traces: {'; '.join(messages)}" if messages else None


def _parses(line: str) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _ms(microseconds: int) -> float:
    return microseconds / 1000


def _trace_json(result: TraceCriticalPath) -> dict[str, Any]:
    return {
        "trace_id": result.trace_id,
        "warnings": list(result.warnings),
        "paths": [
            {
                "root": {
                    "span_id": path.root.span_id,
                    "service": path.root.service,
                    "operation": path.root.operation,
                    "start_us": path.root.start_us,
                    "duration_us": path.root.duration_us,
                    "duration_ms": _ms(path.root.duration_us),
                },
                "sections": [
                    {
                        "span_id": section.span_id,
                        "service": section.service,
                        "operation": section.operation,
                        "start_us": section.start_us,
                        "end_us": section.end_us,
                        "duration_us": section.duration_us,
                        "self_time_us": section.self_time_us,
                        "duration_ms": _ms(section.duration_us),
                        "self_time_ms": _ms(section.self_time_us),
                    }
                    for section in path.sections
                ],
            }
            for path in result.paths
        ],
    }


_FORMAT_NAMES = {"otlp": "OTLP", "jaeger": "Jaeger"}
_UNBOUNDED = 10_000


def _trace_key(trace_id: str) -> str:
    """A trace id as compared: hex, lower case, without leading zeros (Jaeger writes a
    64-bit or zero-led 128-bit id either way)."""
    return trace_id.strip().lower().lstrip("0") or "0"


def _print_path(trace_id: str, path: RootPath) -> None:
    root = path.root
    total = root.duration_us
    title = (
        f"trace {escape(trace_id)} · {escape(root.service)}: {escape(root.operation)} · "
        f"{_ms(total):.3f} ms"
    )
    if not path.sections:  # a root lasting 0 µs: nothing is on its path, not an empty table
        console.print(
            f"{title}: span {escape(root.span_id)} lasts 0 µs, so no time is on its critical path",
            highlight=False,
            soft_wrap=True,
        )
        return
    grid = Table(title=title, title_justify="left")
    for column in ("start ms", "service", "operation", "on path ms", "share", "self time ms"):
        grid.add_column(column, justify="right" if column.endswith(("ms", "share")) else "left")
    grid.add_column("span", no_wrap=True, min_width=16)
    for section in path.sections:
        grid.add_row(
            f"{_ms(section.start_us - root.start_us):.3f}",
            escape(section.service),
            escape(section.operation),
            f"{_ms(section.duration_us):.3f}",
            f"{section.duration_us / total:.1%}" if total else "-",
            f"{_ms(section.self_time_us):.3f}",
            escape(section.span_id),
        )
    if console.is_terminal:
        console.print(grid)
    else:  # piped or redirected, the table takes the width it needs: names are never cut
        Console(file=console.file, width=_UNBOUNDED, soft_wrap=True).print(grid)
