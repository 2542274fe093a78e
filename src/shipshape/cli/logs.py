"""``shipshape logs``: structured JSON log lines."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from shipshape.cli._io import handle_errors, load_data, pick, require_list, source_name
from shipshape.observe.logs import format_log_entries

NAME = "logs"
HELP = "Format structured JSON logs."
app = typer.Typer(no_args_is_help=True)


@app.command("format")
@handle_errors
def format_(
    path: Annotated[
        str, typer.Argument(help="A list of log entries (JSON, JSON lines, YAML; - reads stdin).")
    ],
) -> None:
    """Print one JSON line per entry: timestamp, level, message and context."""
    source = source_name(path)
    entries = require_list(pick(load_entries(path), "entries", source), source, "entries")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"{source}: entries[{index}] must be a mapping")
    sys.stdout.write("".join(line + "\n" for line in format_log_entries(entries)))


def load_entries(path: str) -> Any:
    """The document of ``path`` (a ``.jsonl``/``.ndjson`` file is a list of its lines,
    so a log of one line is one entry and an empty log is none); any other single
    object without an ``entries`` key (e.g. one line on stdin) is one entry too."""
    data = load_data(path)
    return [data] if isinstance(data, Mapping) and "entries" not in data else data
