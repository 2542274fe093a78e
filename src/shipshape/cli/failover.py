"""``shipshape failover``: the course's decisions, the safe planner, and the watch loop."""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
import typer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shipshape.cli._io import (
    EXIT_FINDINGS,
    EXIT_OK,
    InputError,
    check_option,
    err_console,
    handle_errors,
    load_data,
    pick,
    print_json,
    require_list,
    source_name,
    table,
)
from shipshape.scale.failover import (
    FailoverPlan,
    ServerSnapshot,
    failover_decisions,
    plan_failover,
)
from shipshape.scale.watch import FailoverWatcher, HookResult, WatchConfig, run_hooks

NAME = "failover"
HELP = "Failover for a primary/replica fleet: seed decisions, a safe planner, a watch loop."
app = typer.Typer(no_args_is_help=True)


class PlanInput(BaseModel):
    """The file of ``failover plan``: snapshots plus the current epoch."""

    model_config = ConfigDict(extra="forbid")

    servers: list[ServerSnapshot]
    epoch: int | None = Field(default=None, ge=0)
    max_lag: float | None = Field(default=None, ge=0)


@app.command("decide")
@handle_errors
def decide(
    path: Annotated[str, typer.Argument(help="A list of servers {name, role, healthy}.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The course's per-server actions: keep, drain, promote or standby.

    Note: this promotes every healthy replica when a primary is down; use
    ``failover plan`` for the safe single-promotion planner.
    """
    source = source_name(path)
    servers = require_list(pick(load_data(path), "servers", source), source, "servers")
    try:
        decisions = failover_decisions(servers)
    except (ValueError, TypeError) as error:
        raise InputError(source, str(error)) from None
    if as_json:
        print_json(decisions)
    else:
        table(None, ["server", "action"], [(d["server"], d["action"]) for d in decisions])


def _validation_message(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "document"
    extra = f" ({error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{extra}"


def _show_plan(plan: FailoverPlan, title: str | None = None) -> None:
    heading = f"{plan.status} · epoch {plan.epoch} · primary {plan.primary or '-'}"
    rows = [(a.server, a.action, a.follow or "", a.reason) for a in plan.actions]
    table(
        f"{title} · {heading}" if title else heading, ["server", "action", "follow", "reason"], rows
    )
    for alert in plan.alerts:
        err_console.print(f"[bold yellow]alert:[/] {alert}", markup=True, highlight=False)


@app.command("plan")
@handle_errors
def plan(
    path: Annotated[
        str,
        typer.Argument(
            help="Server snapshots {name, role, healthy, priority, lag, epoch, following}, "
            "a list or a mapping with 'servers' (and optional 'epoch', 'max_lag')."
        ),
    ],
    *,
    epoch: Annotated[
        int | None, typer.Option("--epoch", help="Current fencing epoch (default: from the file).")
    ] = None,
    max_lag: Annotated[
        float | None,
        typer.Option("--max-lag", help="Never promote a replica lagging more seconds than this."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """The safe failover plan: at most one promotion, an epoch for fencing.

    Priority: lower is better. Exits 1 when the plan is degraded (nobody to
    promote) or split brain was found, 0 otherwise.
    """
    check_option("--epoch", epoch)
    check_option("--max-lag", max_lag, finite=False)
    source = source_name(path)
    data = load_data(path)
    if isinstance(data, list):
        data = {"servers": data}
    try:
        document = PlanInput.model_validate(data)
    except ValidationError as error:
        raise InputError(source, _validation_message(error)) from None
    try:
        result = plan_failover(
            document.servers,
            epoch if epoch is not None else document.epoch,
            max_lag=max_lag if max_lag is not None else document.max_lag,
        )
    except ValueError as error:
        raise InputError(source, str(error)) from None
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        _show_plan(result)
    if result.alerts:
        raise typer.Exit(EXIT_FINDINGS)


def _config(path: str) -> WatchConfig:
    source = source_name(path)
    data = load_data(path)
    if isinstance(data, list):
        data = {"servers": data}
    try:
        return WatchConfig.model_validate(data)
    except ValidationError as error:
        raise InputError(source, _validation_message(error)) from None


async def _watch(config: WatchConfig, rounds: int | None, interval: float, as_json: bool) -> int:
    problems = False
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(trust_env=False) as client:
        watcher = FailoverWatcher(config, client)
        number = 0
        while rounds is None or number < rounds:
            number += 1
            started = loop.time()
            decision, changed = await watcher.round()
            if changed:
                hooks = await run_hooks(config.hooks, decision)
                problems = problems or any(not hook.ok for hook in hooks)
                _report(number, decision, hooks, as_json)
            if rounds is not None and number >= rounds:
                break
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))
    assert watcher.last is not None
    return EXIT_FINDINGS if problems or watcher.last.alerts else EXIT_OK


def _report(number: int, decision: FailoverPlan, hooks: list[HookResult], as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "round": number,
                "plan": decision.model_dump(mode="json"),
                "hooks": [hook.model_dump(mode="json") for hook in hooks],
            }
        )
        return
    _show_plan(decision, f"round {number}")
    for hook in hooks:
        if not hook.ok:
            err_console.print(
                f"[bold red]hook failed:[/] {hook.command}: {hook.error}",
                markup=True,
                highlight=False,
            )


@app.command("watch")
@handle_errors
def watch(
    path: Annotated[
        str,
        typer.Argument(
            help="Servers file: servers (each name, url, role, priority), hooks (each a "
            "command or {command, timeout}), readyz_path, timeout, epoch, max_lag."
        ),
    ],
    *,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between polling rounds (>= 0).")
    ] = 5.0,
    once: Annotated[bool, typer.Option("--once", help="Poll one round and exit.")] = False,
    max_rounds: Annotated[
        int | None, typer.Option("--max-rounds", help="Stop after this many rounds (>= 1).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON line per changed decision.")
    ] = False,
) -> None:
    """Poll /readyz of every server, print decisions as they change, run hooks.

    Hooks are shell commands run on every change with the plan as JSON on
    stdin and SHIPSHAPE_FAILOVER_* env vars; a failing hook is reported, not
    fatal. Exits 1 when a hook failed or the last plan has alerts.
    """
    check_option("--interval", interval)
    check_option("--max-rounds", max_rounds, minimum=1)
    config = _config(path)
    rounds = 1 if once else max_rounds
    try:
        code = asyncio.run(_watch(config, rounds, interval, as_json))
    except KeyboardInterrupt:
        code = EXIT_OK
    if code:
        raise typer.Exit(code)
