"""No migration changes or drops a value without saying so, on SQLite and PostgreSQL."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

from shipshape.deploy.migrate import (
    Migration,
    MigrationError,
    import_models,
    load_migrations,
    next_migrations,
    snapshot_models,
    write_migrations,
)
from tests.databases import apply, execute, rollback, rows

HEADER = """\
from __future__ import annotations

import datetime
import enum
from typing import Literal, Optional

from pydantic import BaseModel, Field
"""


def make(tmp_path: Path, body: str) -> list[Migration]:
    directory = tmp_path / "migrations"
    existing = load_migrations(directory)
    name = f"models_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text(HEADER + textwrap.dedent(body), encoding="utf-8")
    snapshot, renames = snapshot_models(import_models([name], tmp_path), [name])
    write_migrations(directory, next_migrations(existing, snapshot, renames))
    return load_migrations(directory)


V1 = """
class Item(BaseModel):
    __tablename__ = "items"
    id: int
    code: str = Field(max_length=10)
    size: int = 0
"""

NARROW = """
class Item(BaseModel):
    __tablename__ = "items"
    id: int
    code: str = Field(max_length=5)
    size: int = 0
"""

SIZE_AS_TEXT = """
class Item(BaseModel):
    __tablename__ = "items"
    id: int
    code: str = Field(max_length=10)
    size: str = Field(default="0", max_length=3)
"""


def test_narrowing_a_varchar_never_truncates_a_value_that_does_not_fit(
    tmp_path: Path, database: str
) -> None:
    apply(database, make(tmp_path, V1))
    execute(database, "insert into items (id, code) values (1, 'abcdefghij'), (2, 'ab')")
    migrations = make(tmp_path, NARROW)
    [operation] = migrations[-1].up
    assert operation.risk is not None
    assert operation.risk.code == "narrow_type"
    if database.startswith("sqlite"):
        # SQLite does not enforce a length: the value is kept whole
        assert apply(database, migrations) == ["0002"]
    else:
        with pytest.raises(MigrationError, match="value too long for type character varying"):
            apply(database, migrations)
    assert rows(database, "select code from items order by id") == [("abcdefghij",), ("ab",)]


def test_a_short_enough_value_survives_narrowing(tmp_path: Path, database: str) -> None:
    apply(database, make(tmp_path, V1))
    execute(database, "insert into items (id, code) values (1, 'abcde')")
    assert apply(database, make(tmp_path, NARROW)) == ["0002"]
    assert rows(database, "select code from items") == [("abcde",)]


def test_an_integer_that_does_not_fit_a_varchar_is_not_cut(tmp_path: Path, database: str) -> None:
    apply(database, make(tmp_path, V1))
    execute(database, "insert into items (id, code, size) values (1, 'a', 12345), (2, 'b', 7)")
    migrations = make(tmp_path, SIZE_AS_TEXT)
    if database.startswith("sqlite"):
        assert apply(database, migrations) == ["0002"]
        assert rows(database, "select size from items order by id") == [("12345",), ("7",)]
    else:
        with pytest.raises(MigrationError, match="value too long for type character varying"):
            apply(database, migrations)
        assert rows(database, "select size from items order by id") == [(12345,), (7,)]


RENAMED_AND_OPTIONAL = """
class Item(BaseModel):
    __tablename__ = "items"
    id: int
    label: Optional[str] = Field(default=None, json_schema_extra={"renamed_from": "code"})
    size: int = 0
"""


def test_a_column_renamed_and_altered_in_one_migration_keeps_its_values(
    tmp_path: Path, database: str
) -> None:
    apply(database, make(tmp_path, V1))
    execute(database, "insert into items (id, code, size) values (1, 'abc', 2)")
    migrations = make(tmp_path, RENAMED_AND_OPTIONAL)
    assert [op.kind for op in migrations[-1].up] == ["rename_column", "alter_column"]
    assert apply(database, migrations) == ["0002"]
    assert rows(database, "select id, label, size from items") == [(1, "abc", 2)]
    execute(database, "insert into items (id, label) values (2, null)")
    execute(database, "delete from items where id = 2")
    assert rollback(database, migrations, 1) == ["0002"]
    assert rows(database, "select id, code, size from items") == [(1, "abc", 2)]


SIZE_AS_DIGITS = """
class Item(BaseModel):
    __tablename__ = "items"
    id: int
    code: str = Field(max_length=10)
    size: str = "0"
"""


def test_a_type_change_of_a_column_with_a_default_applies_and_rolls_back(
    tmp_path: Path, database: str
) -> None:
    apply(database, make(tmp_path, V1))
    execute(database, "insert into items (id, code, size) values (1, 'a', 42)")
    migrations = make(tmp_path, SIZE_AS_DIGITS)
    assert apply(database, migrations) == ["0002"]
    assert rows(database, "select size from items") == [("42",)]
    execute(database, "insert into items (id, code) values (2, 'b')")
    assert rows(database, "select size from items where id = 2") == [("0",)]
    # back to INTEGER DEFAULT 0: the TEXT default '0' has no implicit cast to INTEGER
    assert rollback(database, migrations, 1) == ["0002"]
    assert rows(database, "select id, size from items order by id") == [(1, 42), (2, 0)]
    execute(database, "insert into items (id, code) values (3, 'c')")
    assert rows(database, "select size from items where id = 3") == [(0,)]


DATES_AS_TEXT = """
class Event(BaseModel):
    __tablename__ = "events"
    id: int
    day: Optional[str] = None
    starts: Optional[datetime.date] = None
    at: Optional[str] = None
"""

DATES_TYPED = """
class Event(BaseModel):
    __tablename__ = "events"
    id: int
    day: Optional[datetime.date] = None
    starts: Optional[datetime.datetime] = None
    at: Optional[datetime.time] = None
"""


def test_a_change_to_a_date_or_time_type_keeps_every_value(tmp_path: Path, database: str) -> None:
    apply(database, make(tmp_path, DATES_AS_TEXT))
    execute(
        database,
        "insert into events (id, day, starts, at) "
        "values (1, '2024-02-03', '2024-05-06', '10:30:00')",
    )
    assert apply(database, make(tmp_path, DATES_TYPED)) == ["0002"]
    [(day, starts, at)] = rows(database, "select day, starts, at from events")
    # SQLite keeps the text as stored; PostgreSQL converts it to the new type
    assert str(day) == "2024-02-03"
    assert str(starts).startswith("2024-05-06")
    assert str(at) == "10:30:00"


def test_text_that_is_not_a_number_is_never_turned_into_zero(tmp_path: Path, database: str) -> None:
    apply(database, make(tmp_path, SIZE_AS_DIGITS))
    execute(database, "insert into items (id, code, size) values (1, 'a', '12'), (2, 'b', 'n/a')")
    migrations = make(tmp_path, V1)
    if database.startswith("sqlite"):
        # SQLite's INTEGER affinity converts '12' and keeps 'n/a' as it was
        assert apply(database, migrations) == ["0002"]
        assert rows(database, "select size from items order by id") == [(12,), ("n/a",)]
    else:
        with pytest.raises(MigrationError, match="invalid input syntax for type integer"):
            apply(database, migrations)
        assert rows(database, "select size from items order by id") == [("12",), ("n/a",)]
