"""What the ``trace critical-path`` tests share: the trace files and how to run the CLI."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from shipshape.cli import app

TRACES = Path(__file__).parent / "observe" / "traces"

# (service, operation, start offset µs, on path µs, self time µs) of otlp_sdk.json's path
SDK_PATH = [
    ("shipshape-demo", "GET /orders/{id}", 0, 10_000, 5_500),
    ("shipshape-demo", "GET inventory", 10_000, 20_000, 20_000),
    ("shipshape-demo", "GET /orders/{id}", 30_000, 1_000, 5_500),
    ("shipshape-demo", "publish order.viewed", 31_000, 9_000, 2_000),
    ("shipshape-demo", "GET /orders/{id}", 40_000, 1_000, 5_500),
    ("shipshape-demo", "render", 41_000, 7_500, 7_500),
    ("shipshape-demo", "GET /orders/{id}", 48_500, 1_500, 5_500),
]


def invoke(*args: str, stdin: str | None = None) -> Result:
    """``shipshape trace critical-path ARGS``; an uncaught exception fails the test."""
    result = CliRunner().invoke(
        app, ["trace", "critical-path", *args], input=stdin, env={"COLUMNS": "200"}
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}") from result.exception
    return result
