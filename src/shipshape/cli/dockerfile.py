"""``shipshape dockerfile``: check Dockerfiles."""

from __future__ import annotations

from typing import Annotated

import typer

from shipshape.cli._io import (
    EXIT_FINDINGS,
    console,
    handle_errors,
    print_json,
    read_text,
    source_name,
    table,
)
from shipshape.deploy.dockerfile import SEED_DOCKERFILE_CODES, validate_dockerfile

NAME = "dockerfile"
HELP = "Check Dockerfiles."
app = typer.Typer(no_args_is_help=True)


@app.command("validate")
@handle_errors
def validate(
    path: Annotated[str, typer.Argument(help="Dockerfile to check; - reads stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the final stage for a slim base image, WORKDIR, EXPOSE and CMD/ENTRYPOINT.

    Exit 0 when valid, 1 with findings, 2 on unreadable input.
    """
    result = validate_dockerfile(read_text(path))
    if as_json:
        print_json(result)
    elif result["valid"]:
        console.print(f"{source_name(path)}: valid")
    else:
        rows = [(code, SEED_DOCKERFILE_CODES[code]) for code in result["errors"]]
        table(f"{source_name(path)}: invalid", ["code", "problem"], rows)
    if not result["valid"]:
        raise typer.Exit(EXIT_FINDINGS)
