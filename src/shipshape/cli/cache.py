"""``shipshape cache``: cache simulations."""

from __future__ import annotations

import math
from typing import Annotated

import typer

from shipshape.cli._io import (
    check_option,
    handle_errors,
    load_data,
    pick,
    print_json,
    require_list,
    source_name,
    table,
)
from shipshape.scale.cache import lru_cache_sim

NAME = "cache"
HELP = "Simulate caches."
app = typer.Typer(no_args_is_help=True)


@app.command("simulate")
@handle_errors
def simulate(
    path: Annotated[str, typer.Argument(help="A list of accessed keys (JSON, YAML or TOML).")],
    capacity: Annotated[int, typer.Option("--capacity", "-c", help="Cache size in keys (>= 0).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Replay accesses through an LRU cache: hits, misses and the final content."""
    check_option("--capacity", capacity)
    source = source_name(path)
    accesses = require_list(pick(load_data(path), "accesses", source), source, "accesses")
    for index, key in enumerate(accesses):
        # true is not 1, nor null a key: JSON's other scalars are refused, not merged.
        if isinstance(key, bool) or not isinstance(key, str | int | float):
            raise ValueError(
                f"{source}: accesses[{index}]: a key must be a string or a number, "
                f"got {'null' if key is None else type(key).__name__}"
            )
        if isinstance(key, float) and not math.isfinite(key):
            # NaN equals nothing (not even itself) and JSON has neither: no key.
            raise ValueError(
                f"{source}: accesses[{index}]: a key must be a finite number, got {key}"
            )
    result = lru_cache_sim(capacity, accesses)
    if as_json:
        print_json(result)
        return
    hit_rate = result["hits"] / len(accesses) if accesses else 0.0
    table(
        None,
        ["hits", "misses", "hit rate", "cache (LRU → MRU)"],
        [
            [
                result["hits"],
                result["misses"],
                f"{hit_rate:.1%}",
                ", ".join(map(str, result["cache"])),
            ]
        ],
    )
