"""``shipshape ratelimit``: token-bucket simulations."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from shipshape.cli._io import (
    check_option,
    handle_errors,
    load_data,
    naming,
    pick,
    print_json,
    require_list,
    source_name,
    table,
)
from shipshape.scale.ratelimit import token_bucket_limiter

NAME = "ratelimit"
HELP = "Simulate token-bucket rate limits."
app = typer.Typer(no_args_is_help=True)


@app.command("simulate")
@handle_errors
def simulate(
    path: Annotated[str, typer.Argument(help="A list of request timestamps in seconds.")],
    capacity: Annotated[float, typer.Option("--capacity", "-c", help="Bucket size (>= 0).")],
    refill_rate: Annotated[
        float, typer.Option("--refill-rate", "-r", help="Tokens added per second (>= 0).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Decide each request: allowed while the bucket holds a token, denied otherwise."""
    check_option("--capacity", capacity)
    check_option("--refill-rate", refill_rate)
    source = source_name(path)
    timestamps = require_list(pick(load_data(path), "timestamps", source), source, "timestamps")
    for index, value in enumerate(timestamps):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{source}: timestamps[{index}] must be a number, got {value!r}")
    with naming(source):
        verdicts = token_bucket_limiter(capacity, refill_rate, timestamps)
    if as_json:
        print_json(verdicts)
        return
    counts = Counter(verdicts)
    rows = [(t, v) for t, v in zip(timestamps, verdicts, strict=True)]
    table(f"allowed {counts['allowed']}, denied {counts['denied']}", ["timestamp", "verdict"], rows)
