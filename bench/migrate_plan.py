"""``shipshape migrate plan`` on 500 models × 30 fields: the goal is under 2 s.

    uv run python bench/migrate_plan.py

Two scenarios, each run as the real CLI in a subprocess (best of 3 wall times):
*initial* (no migrations yet: 500 CREATE TABLEs plus indexes) and *incremental*
(500-table migration on disk, every model gained a column and widened one).

Anchors measured in the same run: the CLI's fixed cost (``shipshape migrate
--help`` in a subprocess), and SQLAlchemy Core alone compiling ``CreateTable``
for the same 500 tables in-process. Ratios are ours / anchor.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

MODELS = 500
FIELDS = 30
BUDGET = 2.0

FIELD_TYPES = [
    "int = 0",
    "str = Field(max_length=120)",
    "Optional[str] = None",
    "float",
    "decimal.Decimal = Field(max_digits=12, decimal_places=2)",
    "datetime.datetime",
    "bool = False",
    "Color = Color.red",
    "list[str] = []",
    "Optional[Address] = None",
]


def models_source(extra: bool = False) -> str:
    lines = [
        "from __future__ import annotations",
        "import datetime, decimal, enum",
        "from typing import Optional",
        "from pydantic import BaseModel, Field",
        "class Color(str, enum.Enum):",
        "    red = 'red'",
        "    green = 'green'",
        "class Address(BaseModel):",
        "    __tablename__ = None",
        "    city: str",
    ]
    for m in range(MODELS):
        lines.append(f"class Model{m}(BaseModel):")
        lines.append("    id: int")
        for f in range(1, FIELDS):
            kind = FIELD_TYPES[(m + f) % len(FIELD_TYPES)]
            if f == 1 and extra:
                kind = "float"  # int → float on field_1 when it was an int
            if f == 2:
                kind = "str = Field(max_length=120, json_schema_extra={'index': True})"
            lines.append(f"    field_{f}: {kind}")
        if extra:
            lines.append("    added: Optional[str] = None")
    return "\n".join(lines) + "\n"


def wall(command: list[str], cwd: Path, repeat: int = 3) -> float:
    best = float("inf")
    env = {**os.environ, "COLUMNS": "200"}
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - started)
    return best


def best_of(func: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


def core_anchor(project: Path) -> float:
    """SQLAlchemy Core compiling CreateTable for the same tables: the floor for the DDL."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateTable

    from shipshape.deploy.migrate import import_models, snapshot_models
    from shipshape.deploy.migrate.sql import sa_table

    snapshot, _ = snapshot_models(import_models(["bench_models_v1"], project))

    def compile_all() -> None:
        metadata = sa.MetaData()
        dialect = sqlite.dialect()
        for name, table in snapshot.tables.items():
            str(CreateTable(sa_table(name, table, metadata)).compile(dialect=dialect))

    return best_of(compile_all)


def in_process(project: Path) -> None:
    """Where plan's time goes, measured in-process on the initial scenario."""
    from shipshape.deploy.migrate import (
        Snapshot,
        diff_snapshots,
        import_models,
        render_sql,
        snapshot_models,
    )

    classes = import_models(["bench_models_v1"], project)
    build = best_of(lambda: snapshot_models(classes))
    snapshot, _ = snapshot_models(classes)
    diff = best_of(lambda: diff_snapshots(Snapshot(), snapshot))
    ops = diff_snapshots(Snapshot(), snapshot)
    render_sqlite = best_of(lambda: render_sql(ops, Snapshot(), "sqlite"))
    render_pg = best_of(lambda: render_sql(ops, Snapshot(), "postgresql"))
    print("in-process breakdown (initial scenario, best of 3)")
    print(f"  snapshot from 500 model classes      {build:7.3f} s")
    print(f"  diff (create 500 tables)             {diff:7.3f} s")
    print(f"  render SQL, sqlite                   {render_sqlite:7.3f} s")
    print(f"  render SQL, postgresql               {render_pg:7.3f} s")


def main() -> None:
    cli = [sys.executable, "-c", "from shipshape.cli import main; main()"]
    with tempfile.TemporaryDirectory() as directory:
        project = Path(directory)
        (project / "bench_models_v1.py").write_text(models_source(), encoding="utf-8")
        (project / "bench_models_v2.py").write_text(models_source(extra=True), encoding="utf-8")
        fixed = wall([*cli, "migrate", "--help"], project)
        initial = wall([*cli, "migrate", "plan", "-m", "bench_models_v1"], project)
        initial_pg = wall(
            [*cli, "migrate", "plan", "-m", "bench_models_v1", "--dialect", "postgresql"], project
        )
        subprocess.run(
            [*cli, "migrate", "make", "-m", "bench_models_v1"],
            cwd=project,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        size = sum(p.stat().st_size for p in (project / "migrations").iterdir())
        incremental = wall([*cli, "migrate", "plan", "-m", "bench_models_v2"], project)
        check = wall([*cli, "migrate", "check", "-m", "bench_models_v1"], project)
        sys.path.insert(0, str(project))
        anchor = core_anchor(project)
        print(f"migrate plan on {MODELS} models × {FIELDS} fields (budget {BUDGET:.1f} s)")
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}"
        )
        rows = [
            ("anchor: `shipshape migrate --help` (CLI start)", fixed),
            ("anchor: SQLAlchemy Core CreateTable ×500 (in-process)", anchor),
            ("plan, initial, sqlite", initial),
            ("plan, initial, postgresql", initial_pg),
            (f"plan, incremental over a {size / 1e6:.1f} MB migration, sqlite", incremental),
            ("check, no drift", check),
        ]
        for name, seconds in rows:
            verdict = "" if name.startswith("anchor") else (" ok" if seconds < BUDGET else " OVER")
            print(
                f"  {name:<58} {seconds:6.3f} s  x{seconds / fixed:5.2f} CLI start"
                f"  x{seconds / anchor:6.2f} Core{verdict}"
            )
        in_process(project)
    print(
        textwrap.dedent("""\
        ratios: wall time / anchor; 'ok' means under the 2 s budget.""")
    )


if __name__ == "__main__":
    main()
