"""``shipshape serve``: run an ASGI app under uvicorn with the production layer."""

from __future__ import annotations

from typing import Annotated

import typer

from shipshape.cli._io import handle_errors


@handle_errors
def serve(
    app: Annotated[
        str | None,
        typer.Argument(help="MODULE:APP to serve; the bundled example orders API by default."),
    ] = None,
    env: Annotated[
        str | None, typer.Option("--env", help="Environment name (dev, prod, ...).")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Bind port.", min=0, max=65535)] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Worker processes.", min=1)
    ] = None,
) -> None:
    """Serve MODULE:APP (or the example orders API) with request ids, JSON logs, /metrics,
    /livez, /readyz, rate limits and tracing.
    """
    from shipshape.service.runner import run

    run(app, env=env, host=host, port=port, workers=workers)
