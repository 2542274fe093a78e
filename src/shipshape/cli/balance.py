"""``shipshape balance``: load-balancing strategies."""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from shipshape.cli._io import (
    EXIT_FINDINGS,
    InputError,
    check_option,
    console,
    handle_errors,
    load_data,
    pick,
    print_json,
    require_list,
    source_name,
    table,
)
from shipshape.observe.logs import encode_json
from shipshape.scale.balance import STRATEGIES, round_robin_balance
from shipshape.scale.simulate import SimulationSpec, simulate_balance

NAME = "balance"
HELP = "Simulate load-balancing strategies."
app = typer.Typer(no_args_is_help=True)


@app.command("round-robin")
@handle_errors
def round_robin(
    path: Annotated[str, typer.Argument(help="A list of server names (JSON, YAML or TOML).")],
    requests: Annotated[int, typer.Option("--requests", "-n", help="Number of requests (>= 0).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the assignment as JSON.")] = False,
) -> None:
    """Assign requests to servers in turn (request i goes to server i mod n)."""
    check_option("--requests", requests)
    source = source_name(path)
    servers = require_list(pick(load_data(path), "servers", source), source, "servers")
    for index, server in enumerate(servers):
        if isinstance(server, bool) or not isinstance(server, str | int | float):
            raise InputError(
                source, f"servers[{index}] must be a server name, got {type(server).__name__}"
            )
    try:
        # The seed's own checks; the assignment itself is never held in memory, so
        # -n 10**12 prints its counts at once and streams its JSON.
        round_robin_balance(servers, 0 if servers else requests)
    except ValueError as error:
        raise InputError(source, str(error)) from None
    if as_json:
        write_assignment(servers, requests)
        return
    counts: Counter[str] = Counter()
    cycles, rest = divmod(requests, len(servers)) if servers else (0, 0)
    for index, server in enumerate(servers):
        counts[str(server)] += cycles + (index < rest)
    table(None, ["server", "requests"], [(str(s), counts[str(s)]) for s in dict.fromkeys(servers)])


def write_assignment(servers: Sequence[Any], requests: int) -> None:
    """Print ``round_robin_balance(servers, requests)`` as JSON, a few cycles at a time."""
    if not requests:
        print_json([])
        return
    items = [encode_json(server).decode() for server in servers]
    cycles, rest = divmod(requests, len(items))
    cycle = ",".join(items)
    per_write = max(1, _WRITE_SIZE // (len(cycle) + 1))
    parts = ["["]
    try:
        while cycles:
            batch = min(cycles, per_write)
            cycles -= batch
            parts.append(",".join([cycle] * batch))
            if cycles or rest:
                parts.append(",")
            sys.stdout.write("".join(parts))
            parts = []
        parts.append(",".join(items[:rest]))
        parts.append("]\n")
        sys.stdout.write("".join(parts))
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


_WRITE_SIZE = 1 << 16


def validation_message(error: ValidationError) -> str:
    """The first problem of a Pydantic error as ``field.path: message``."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "document"
    extra = f" ({error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{extra}"


@app.command("simulate")
@handle_errors
def simulate(
    path: Annotated[
        str,
        typer.Argument(
            help="Backends {name, weight, latency_ms, failure_rate} (JSON, YAML or TOML), "
            "optionally with rate, keys and policy."
        ),
    ],
    *,
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy", "-s", help=f"One of: {', '.join(STRATEGIES)}.", show_default=True
        ),
    ] = "round-robin",
    requests: Annotated[
        int, typer.Option("--requests", "-n", help="Number of requests (>= 0).")
    ] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same result).")] = 0,
    remove: Annotated[
        str | None,
        typer.Option("--remove", help="Sticky only: the backend to remove (default: the last)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Simulate N requests over backends with a strategy: per-backend counts.

    Uses the same pool as the httpx transports (passive ejection, slow start).
    For ``sticky``, also reports how many keys move when a backend is removed.
    Exits 1 when some requests found no backend available.
    """
    check_option("--requests", requests)
    source = source_name(path)
    if strategy not in STRATEGIES:
        raise InputError(
            "--strategy", f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}"
        )
    data = load_data(path)
    if isinstance(data, list):
        data = {"backends": data}
    try:
        spec = SimulationSpec.model_validate(data)
    except ValidationError as error:
        raise InputError(source, validation_message(error)) from None
    if remove is not None and remove not in {backend.name for backend in spec.backends}:
        raise InputError(source, f"--remove {remove!r}: no such backend")
    result = simulate_balance(spec, strategy, requests, seed=seed, remove=remove)
    if as_json:
        print_json(result)
    else:
        rows = [
            (
                b["name"],
                b["weight"],
                b["requests"],
                f"{b['share']:.2%}",
                b["failures"],
                b["ejections"],
            )
            for b in result["backends"]
        ]
        title = f"{strategy}: {result['served']} of {requests} requests served"
        table(title, ["backend", "weight", "requests", "share", "failures", "ejections"], rows)
        sticky = result.get("sticky")
        if sticky is not None:
            console.print(
                f"removing {sticky['removed']!r}: {sticky['moved']} of {sticky['keys']} keys move "
                f"({sticky['owned_by_removed']} were on it, "
                f"{sticky['moved_from_other_backends']} from other backends)",
                highlight=False,
            )
    if result["unserved"]:
        raise typer.Exit(EXIT_FINDINGS)
