"""Applying migrations to real SQLite files and a real PostgreSQL server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from shipshape.deploy.migrate import (
    Column,
    Migration,
    MigrationError,
    Snapshot,
    Table,
    import_models,
    load_migrations,
    migration_states,
    next_migrations,
    open_engine,
    pending_migrations,
    snapshot_models,
    write_migrations,
)
from tests.databases import apply, execute, postgres_schema, rollback, rows

HEADER = """\
from __future__ import annotations

import datetime
import decimal
import enum
from typing import Optional

from pydantic import BaseModel, Field
"""

USERS_V1 = """
class User(BaseModel):
    __tablename__ = "users"
    id: int
    name: str = Field(max_length=50)
    score: int
"""

USERS_V2 = """
class User(BaseModel):
    __tablename__ = "users"
    id: int
    full_name: str = Field(max_length=50, json_schema_extra={"renamed_from": "name"})
    score: float
    active: bool = True
    nickname: Optional[str] = None
"""


def write_models(directory: Path, body: str) -> str:
    """Write a model module with a fresh name (so imports never hit a cached one)."""
    name = f"models_{uuid.uuid4().hex[:12]}"
    (directory / f"{name}.py").write_text(HEADER + textwrap.dedent(body), encoding="utf-8")
    return name


def reflect(url: str) -> dict[str, Any]:
    """Tables, columns (type, nullable, default) and indexes, without the history table."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            schema: dict[str, Any] = {}
            for table in sorted(inspector.get_table_names()):
                if table == "shipshape_migrations":
                    continue
                columns = {
                    col["name"]: (
                        str(col["type"].compile(dialect=connection.dialect)),
                        col["nullable"],
                        str(col["default"]) if col["default"] is not None else None,
                    )
                    for col in inspector.get_columns(table)
                }
                indexes = sorted(
                    (index["name"] or "", tuple(index["column_names"]), bool(index["unique"]))
                    for index in inspector.get_indexes(table)
                )
                schema[table] = {"columns": columns, "indexes": indexes}
            return schema
    finally:
        engine.dispose()


def make(tmp_path: Path, body: str, *, allow_destructive: bool = False) -> list[Migration]:
    """Write the next migration(s) for the models in ``body``; return every migration on disk."""
    directory = tmp_path / "migrations"
    existing = load_migrations(directory)
    module = write_models(tmp_path, body)
    snapshot, renames = snapshot_models(import_models([module], tmp_path), [module])
    made = next_migrations(existing, snapshot, renames, allow_destructive=allow_destructive)
    write_migrations(directory, made)
    return load_migrations(directory)


def test_add_widen_and_rename_keep_every_row(tmp_path: Path, database: str) -> None:
    assert apply(database, make(tmp_path, USERS_V1)) == ["0001"]
    execute(database, "insert into users (id, name, score) values (1, 'ann', 3), (2, 'bob', 5)")
    migrations = make(tmp_path, USERS_V2)
    [operations] = [[op.kind for op in m.up] for m in migrations[1:]]
    assert operations == ["rename_column", "add_column", "add_column", "alter_column"]
    assert apply(database, migrations) == ["0002"]
    assert rows(
        database, "select id, full_name, score, active, nickname from users order by id"
    ) == [
        (1, "ann", 3.0, True, None),
        (2, "bob", 5.0, True, None),
    ]
    assert isinstance(rows(database, "select score from users")[0][0], float)


def test_a_migration_failing_half_way_leaves_schema_and_data_as_before(
    tmp_path: Path, database: str
) -> None:
    apply(database, make(tmp_path, USERS_V1))
    execute(database, "insert into users (id, name, score) values (1, 'ann', 3), (2, 'bob', 5)")
    schema, data = reflect(database), rows(database, "select * from users order by id")
    migrations = make(
        tmp_path,
        USERS_V1 + '    code: str = Field(default="x", json_schema_extra={"unique": True})\n'
        "    note: Optional[str] = None\n",
    )
    assert [op.kind for op in migrations[-1].up] == ["add_column", "create_index", "add_column"]
    with pytest.raises(MigrationError, match=r"0002_add_users_code_index_users_etc \(up\) failed"):
        apply(database, migrations)
    assert reflect(database) == schema
    assert rows(database, "select * from users order by id") == data
    engine = open_engine(database)
    try:
        states = {state.id: state.state for state in migration_states(engine, migrations)}
    finally:
        engine.dispose()
    assert states == {"0001": "applied", "0002": "pending"}


def test_upgrade_then_rollback_returns_the_previous_schema(tmp_path: Path, database: str) -> None:
    apply(database, make(tmp_path, USERS_V1))
    execute(database, "insert into users (id, name, score) values (1, 'ann', 3)")
    before = reflect(database)
    migrations = make(tmp_path, USERS_V2)
    apply(database, migrations)
    assert reflect(database) != before
    assert rollback(database, migrations, 1) == ["0002"]
    assert reflect(database) == before
    assert rows(database, "select id, name, score from users") == [(1, "ann", 3)]
    assert rollback(database, migrations, 5) == ["0001"]
    assert reflect(database) == {}


def test_expand_then_contract_drops_only_when_asked(tmp_path: Path, database: str) -> None:
    apply(
        database,
        make(tmp_path, USERS_V1 + "    legacy: str = Field(json_schema_extra={'index': True})\n"),
    )
    execute(database, "insert into users (id, name, score, legacy) values (1, 'ann', 3, 'old')")
    migrations = make(tmp_path, USERS_V1, allow_destructive=True)
    assert [m.phase for m in migrations] == ["expand", "expand", "contract"]
    assert apply(database, migrations) == ["0002"]
    execute(
        database, "insert into users (id, name, score) values (2, 'new code', 1)"
    )  # legacy now nullable
    assert "legacy" in reflect(database)["users"]["columns"]
    assert apply(database, migrations, contract=True) == ["0003"]
    assert "legacy" not in reflect(database)["users"]["columns"]
    assert rows(database, "select id, name from users order by id") == [(1, "ann"), (2, "new code")]


def test_an_applied_migration_edited_on_disk_is_refused(tmp_path: Path, database: str) -> None:
    migrations = make(tmp_path, USERS_V1)
    apply(database, migrations)
    edited = migrations[0].model_copy(update={"name": "renamed"})
    with pytest.raises(MigrationError, match="0001_renamed was changed after it was applied"):
        apply(database, [edited])


def test_pending_migrations_for_a_project(tmp_path: Path, database: str) -> None:
    migrations = make(tmp_path, USERS_V1)
    make(tmp_path, USERS_V2)
    assert [s.id for s in pending_migrations(tmp_path, database)] == ["0001", "0002"]
    apply(database, migrations)
    assert [(s.id, s.state) for s in pending_migrations(tmp_path, database)] == [
        ("0002", "pending")
    ]


def _shipshape() -> list[str]:
    script = Path(sys.executable).with_name("shipshape")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from shipshape.cli import main; main()"]


@pytest.mark.postgres
def test_four_processes_applying_at_once_apply_each_migration_exactly_once(
    tmp_path: Path, postgres_url: str
) -> None:
    make(tmp_path, USERS_V1)
    make(tmp_path, USERS_V2)
    make(
        tmp_path,
        USERS_V2
        + "    email: Optional[str] = Field(default=None, json_schema_extra={'unique': True})\n",
    )
    with postgres_schema(postgres_url) as url:
        command = [
            *_shipshape(),
            "migrate",
            "apply",
            "--database",
            url,
            "--dir",
            str(tmp_path / "migrations"),
            "--json",
        ]
        env = {**os.environ, "COLUMNS": "200"}
        processes = [
            subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
            for _ in range(4)
        ]
        results = [(process.wait(timeout=120), *process.communicate()) for process in processes]
        assert [code for code, _, _ in results] == [0, 0, 0, 0], results
        applied = [line for _, out, _ in results for line in out.splitlines()]
        ids = sorted(i for line in applied for i in json.loads(line)["applied"])
        assert ids == ["0001", "0002", "0003"]
        assert rows(url, "select id from shipshape_migrations order by id") == [
            ("0001",),
            ("0002",),
            ("0003",),
        ]
        assert set(reflect(url)["users"]["columns"]) == {
            "id",
            "full_name",
            "score",
            "active",
            "nickname",
            "email",
        }


def test_an_optional_integer_id_is_assigned_by_the_database(tmp_path: Path, database: str) -> None:
    body = """
class Item(BaseModel):
    id: Optional[int] = None
    name: str
"""
    apply(database, make(tmp_path, body))
    execute(
        database, "insert into item (name) values ('a')", "insert into item (name) values ('b')"
    )
    assert rows(database, "select id, name from item order by id") == [(1, "a"), (2, "b")]


_column = st.builds(
    Column,
    type=st.sampled_from(["INTEGER", "FLOAT", "TEXT", "VARCHAR(10)", "BOOLEAN", "JSON"]),
    nullable=st.booleans(),
    default=st.none() | st.integers(0, 1),
    unique=st.booleans(),
    index=st.booleans(),
)
_table = st.dictionaries(st.sampled_from(["x", "y", "z"]), _column, max_size=3).map(
    lambda cols: Table(columns={"id": Column(type="INTEGER", primary_key=True), **cols})
)
_snapshot = st.dictionaries(st.sampled_from(["a", "b"]), _table, max_size=2).map(
    lambda tables: Snapshot(tables=tables)
)


@settings(max_examples=15, deadline=None)
@given(old=_snapshot, new=_snapshot)
def test_random_changes_apply_and_roll_back_on_sqlite(old: Snapshot, new: Snapshot) -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/random.db"
        first = next_migrations([], old)
        second = next_migrations(first, new, allow_destructive=True)
        apply(url, first)
        before = reflect(url)
        apply(url, [*first, *second], contract=True)
        after = reflect(url)
        assert {t: set(spec["columns"]) for t, spec in after.items()} == {
            t: set(table.columns) for t, table in new.tables.items()
        }
        for name, table in new.tables.items():
            nullable = {col: spec[1] for col, spec in after[name]["columns"].items()}
            assert nullable == {col: c.nullable for col, c in table.columns.items()}
            unique = {index[1][0] for index in after[name]["indexes"] if index[2]}
            assert unique == {
                col for col, c in table.columns.items() if c.unique and not c.primary_key
            }
        rollback(url, [*first, *second], len(second))
        assert reflect(url) == before
