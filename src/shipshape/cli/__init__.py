"""The ``shipshape`` command line."""

from __future__ import annotations

import typer

from shipshape.cli import (
    balance,
    cache,
    check,
    config,
    deploy,
    dockerfile,
    failover,
    health,
    logs,
    metrics,
    migrate,
    ratelimit,
    serve,
    trace,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="shipshape",
    help="The production layer for Pydantic services: deploy, observe, scale.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)

app.command("serve")(serve.serve)
app.command("check")(check.check)
for group in (
    dockerfile,
    deploy,
    config,
    migrate,
    logs,
    metrics,
    trace,
    health,
    balance,
    cache,
    ratelimit,
    failover,
):
    app.add_typer(group.app, name=group.NAME, help=group.HELP)


def main() -> None:
    app()
