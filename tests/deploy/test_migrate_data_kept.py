"""No migration changes or drops a value without saying so, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
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
import decimal
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


SCORE_FLOAT = """
class Player(BaseModel):
    __tablename__ = "players"
    id: int
    score: float = 1.5
"""

SCORE_INT = """
class Player(BaseModel):
    __tablename__ = "players"
    id: int
    score: int = 2
"""


def history(database: str) -> list[tuple[str]]:
    return rows(database, "select id from shipshape_migrations order by id")


def test_a_float_that_an_integer_would_change_is_refused_on_both_databases(
    tmp_path: Path, database: str
) -> None:
    # PostgreSQL's ::INTEGER rounded 1.5 to 2 and SQLite's CAST cut it to 1, silently.
    apply(database, make(tmp_path, SCORE_FLOAT))
    execute(database, "insert into players (id) values (1), (2)")
    execute(database, "insert into players (id, score) values (3, 3.0), (4, -0.25)")
    migrations = make(tmp_path, SCORE_INT)
    [operation] = migrations[-1].up
    assert operation.risk is not None
    assert operation.risk.code == "narrow_type"
    with pytest.raises(MigrationError) as raised:
        apply(database, migrations)
    assert str(raised.value) == (
        "migration 0002_alter_players_score (up) failed and was rolled back: players.score: "
        "3 rows hold a value that FLOAT → INTEGER would change (e.g. -0.25); nothing was "
        "converted — fix those values first or keep the wider type"
    )
    # nothing changed: values, type (a fraction is still stored as such) and history
    execute(database, "insert into players (id, score) values (5, 0.5)")
    assert rows(database, "select id, score from players order by id") == [
        (1, 1.5),
        (2, 1.5),
        (3, 3.0),
        (4, -0.25),
        (5, 0.5),
    ]
    assert history(database) == [("0001",)]

    execute(database, "update players set score = 2 where id <> 3")
    assert apply(database, migrations) == ["0002"]
    assert rows(database, "select id, score from players order by id") == [
        (1, 2),
        (2, 2),
        (3, 3),
        (4, 2),
        (5, 2),
    ]


def test_a_rollback_that_would_round_a_float_is_refused_too(tmp_path: Path, database: str) -> None:
    apply(database, make(tmp_path, SCORE_INT))
    migrations = make(tmp_path, SCORE_FLOAT)
    assert apply(database, migrations) == ["0002"]
    execute(database, "insert into players (id, score) values (1, 7), (2, 2.5)")
    with pytest.raises(MigrationError, match=r"players\.score: 1 row holds a value that FLOAT"):
        rollback(database, migrations, 1)
    assert rows(database, "select score from players order by id") == [(7.0,), (2.5,)]
    assert history(database) == [("0001",), ("0002",)]


PRICE_CENTS = """
class Product(BaseModel):
    __tablename__ = "products"
    id: int
    price: Optional[decimal.Decimal] = Field(default=None, max_digits=10, decimal_places=3)
"""

PRICE_NARROWER = """
class Product(BaseModel):
    __tablename__ = "products"
    id: int
    price: Optional[decimal.Decimal] = Field(default=None, max_digits=10, decimal_places=2)
"""

PRICE_WHOLE = """
class Product(BaseModel):
    __tablename__ = "products"
    id: int
    price: Optional[int] = None
"""

IN_STOCK = """
class Product(BaseModel):
    __tablename__ = "products"
    id: int
    price: Optional[bool] = None
"""


@pytest.mark.parametrize(
    ("target", "stored", "change"),
    [
        (PRICE_WHOLE, "1.25", "NUMERIC(10,3) → INTEGER"),
        (PRICE_NARROWER, "1.255", "NUMERIC(10,3) → NUMERIC(10,2)"),
    ],
    ids=["numeric-to-int", "numeric-scale"],
)
def test_a_numeric_narrowing_that_would_round_is_refused_on_both_databases(
    tmp_path: Path, database: str, target: str, stored: str, change: str
) -> None:
    apply(database, make(tmp_path, PRICE_CENTS))
    execute(database, f"insert into products (id, price) values (1, 4), (2, {stored}), (3, null)")
    migrations = make(tmp_path, target)
    message = f"products.price: 1 row holds a value that {change} would change (e.g. {stored}"
    with pytest.raises(MigrationError, match=re.escape(message)):
        apply(database, migrations)
    assert [
        float(price)
        for (price,) in rows(database, "select price from products where id < 3 order by id")
    ] == [4.0, float(stored)]
    assert history(database) == [("0001",)]

    execute(database, "delete from products where id = 2")
    assert apply(database, migrations) == ["0002"]
    assert [
        (i, None if p is None else float(p))
        for i, p in rows(database, "select id, price from products order by id")
    ] == [(1, 4.0), (3, None)]


def test_an_integer_that_a_boolean_would_change_is_refused_on_both_databases(
    tmp_path: Path, database: str
) -> None:
    # PostgreSQL's ::BOOLEAN makes any number but 0 true: 5 would come back as 1.
    apply(database, make(tmp_path, PRICE_WHOLE))
    execute(database, "insert into products (id, price) values (1, 1), (2, 5), (3, 0)")
    migrations = make(tmp_path, IN_STOCK)
    message = "products.price: 1 row holds a value that INTEGER → BOOLEAN would change (e.g. 5)"
    with pytest.raises(MigrationError, match=re.escape(message)):
        apply(database, migrations)
    assert rows(database, "select price from products order by id") == [(1,), (5,), (0,)]
    execute(database, "delete from products where id = 2")
    assert apply(database, migrations) == ["0002"]
    assert rows(database, "select price from products order by id") == [(True,), (False,)]
