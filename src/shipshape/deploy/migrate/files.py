"""Versioned migration files under ``migrations/``: plan the next ones, read and write them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import orjson
from pydantic import ValidationError

from shipshape.deploy.migrate._gc import paused_gc
from shipshape.deploy.migrate.diff import (
    Renames,
    apply_operations,
    diff_snapshots,
    invert_all,
    split_phases,
)
from shipshape.deploy.migrate.spec import Migration, Operation, Snapshot

__all__ = [
    "DestructiveChange",
    "MigrationFileError",
    "last_snapshot",
    "load_migrations",
    "next_migrations",
    "same_schema",
    "write_migrations",
]

_FILE = re.compile(r"^(\d{4,})_[A-Za-z0-9_]+\.json$")


class MigrationFileError(ValueError):
    """A migration file that cannot be trusted; the message names the file."""


class DestructiveChange(Exception):
    """The models drop data and ``allow_destructive`` was not given."""

    def __init__(self, operations: Sequence[Operation]) -> None:
        self.operations = list(operations)
        names = ", ".join(
            f"{op.table}.{op.column}" if op.column else op.table for op in self.operations
        )
        super().__init__(f"destructive changes need --allow-destructive: {names}")


def same_schema(a: Snapshot, b: Snapshot) -> bool:
    return {n: t.columns for n, t in a.tables.items()} == {
        n: t.columns for n, t in b.tables.items()
    }


def last_snapshot(migrations: Sequence[Migration]) -> Snapshot:
    return migrations[-1].snapshot if migrations else Snapshot()


def _slug(ops: Sequence[Operation]) -> str:
    words = {
        "create_table": "create",
        "drop_table": "drop",
        "rename_table": "rename",
        "add_column": "add",
        "drop_column": "drop",
        "alter_column": "alter",
        "rename_column": "rename",
        "create_index": "index",
        "drop_index": "unindex",
    }
    parts: list[str] = []
    for op in ops:
        part = f"{words[op.kind]}_{op.table}" + (f"_{op.column}" if op.column else "")
        if part not in parts:
            parts.append(part)
    slug = "_".join(parts[:2]) + ("_etc" if len(parts) > 2 else "")
    return re.sub(r"[^A-Za-z0-9_]", "_", slug)[:48].strip("_") or "change"


@paused_gc()
def next_migrations(
    migrations: Sequence[Migration],
    models: Snapshot,
    renames: Renames | None = None,
    *,
    name: str | None = None,
    allow_destructive: bool = False,
) -> list[Migration]:
    """The migrations that bring the last snapshot to ``models``: expand, then contract.

    Empty when nothing changed; ``DestructiveChange`` when the contract step
    would drop data and ``allow_destructive`` is false.
    """
    last = last_snapshot(migrations)
    ops = diff_snapshots(last, models, renames)
    if not ops:
        return []
    expand, contract = split_phases(ops)
    if contract and not allow_destructive:
        raise DestructiveChange([op for op in contract if op.kind in {"drop_column", "drop_table"}])
    number = int(migrations[-1].id) + 1 if migrations else 1
    base = name or ("initial" if not migrations else _slug(expand or contract))
    base = re.sub(r"[^A-Za-z0-9_]", "_", base)[:60] or "change"
    result: list[Migration] = []
    current = last
    for phase, up in (("expand", expand), ("contract", contract)):
        if not up:
            continue
        current = apply_operations(current, up)
        snapshot = models if phase == "contract" or not contract else current
        if not same_schema(current, snapshot):
            raise AssertionError("diff does not reproduce the models' schema")
        result.append(
            Migration(
                id=f"{number:04d}",
                name=base if phase == "expand" or not expand else f"{base}_contract",
                phase="contract" if phase == "contract" else "expand",
                up=tuple(up),
                down=tuple(invert_all(up)),
                snapshot=snapshot.model_copy(update={"models": models.models}),
            )
        )
        number += 1
    return result


def file_name(migration: Migration) -> str:
    return f"{migration.id}_{migration.name}.json"


def write_migrations(directory: Path, migrations: Sequence[Migration]) -> list[Path]:
    """Write each migration as ``NNNN_name.json``; never overwrites an existing file."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for migration in migrations:
        path = directory / file_name(migration)
        data = orjson.dumps(
            migration.model_dump(mode="json", exclude_none=True), option=orjson.OPT_INDENT_2
        )
        with path.open("xb") as file:
            file.write(data + b"\n")
        paths.append(path)
    return paths


def _error_text(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


@paused_gc()
def load_migrations(directory: Path) -> list[Migration]:
    """Every migration in ``directory`` in order, each checked against the one before.

    A file whose operations do not turn the previous snapshot into its own
    snapshot is rejected: it was edited by hand or is corrupt.
    """
    if not directory.exists():
        return []
    if not directory.is_dir():
        raise MigrationFileError(f"{directory}: is not a directory")
    migrations: list[Migration] = []
    previous = Snapshot()
    for path in sorted(directory.glob("*.json")):
        match = _FILE.match(path.name)
        if match is None:
            raise MigrationFileError(f"{path}: migration files are named NNNN_name.json")
        try:
            migration = Migration.model_validate_json(path.read_bytes())
        except ValidationError as error:
            raise MigrationFileError(
                f"{path}: not a valid migration ({_error_text(error)})"
            ) from None
        except OSError as error:
            raise MigrationFileError(f"{path}: {error.strerror}") from None
        if migration.id != match.group(1):
            raise MigrationFileError(f"{path}: id {migration.id!r} does not match the file name")
        if migrations and int(migration.id) <= int(migrations[-1].id):
            raise MigrationFileError(f"{path}: id {migration.id} is used twice")
        try:
            replayed = apply_operations(previous, migration.up)
            unwound = apply_operations(migration.snapshot, migration.down)
        except ValueError as error:
            raise MigrationFileError(f"{path}: {error}") from None
        if not same_schema(replayed, migration.snapshot):
            raise MigrationFileError(f"{path}: its 'up' operations do not produce its snapshot")
        if not same_schema(unwound, previous):
            raise MigrationFileError(
                f"{path}: its 'down' operations do not restore the previous snapshot"
            )
        migrations.append(migration)
        previous = migration.snapshot
    return migrations
