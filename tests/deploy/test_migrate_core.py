"""The pure core: snapshots from models, diffs, risk classes, inversion, SQL rendering."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, Field, NaiveDatetime

from shipshape import compute_migration
from shipshape.deploy.migrate import (
    Column,
    DestructiveChange,
    MigrationFileError,
    ModelError,
    Renames,
    Snapshot,
    Table,
    apply_operations,
    diff_snapshots,
    load_migrations,
    next_migrations,
    render_sql,
    same_schema,
    snapshot_models,
    split_phases,
    write_migrations,
)
from shipshape.deploy.migrate.diff import invert_all


class Color(enum.StrEnum):
    red = "red"
    green = "green"


class Level(enum.IntEnum):
    low = 1
    high = 2


class Address(BaseModel):
    __tablename__: ClassVar[None] = None
    city: str


class Everything(BaseModel):
    id: uuid.UUID
    name: str = Field(max_length=80, json_schema_extra={"unique": True})
    bio: str | None = None
    count: int = 0
    ratio: float
    price: decimal.Decimal = Field(max_digits=10, decimal_places=2)
    loose: decimal.Decimal
    flag: bool = False
    at: dt.datetime
    aware: AwareDatetime
    naive: NaiveDatetime
    day: dt.date
    color: Color = Color.red
    level: Level
    kind: Literal["a", "bb"]
    address: Address | None = None
    tags: list[str] = Field(default_factory=list)
    extra: dict[str, int] = {}
    blob: bytes
    big: int = Field(json_schema_extra={"sql_type": "BIGINT", "index": True})
    short: Annotated[str, Field(max_length=3)] | None = None


def columns_of(*models: type[BaseModel]) -> dict[str, Column]:
    snapshot, _ = snapshot_models(models)
    [table] = snapshot.tables.values()
    return dict(table.columns)


def test_annotations_become_sql_types_nullability_and_defaults() -> None:
    cols = columns_of(Everything)
    types = {name: col.type for name, col in cols.items()}
    assert types == {
        "id": "UUID",
        "name": "VARCHAR(80)",
        "bio": "TEXT",
        "count": "INTEGER",
        "ratio": "FLOAT",
        "price": "NUMERIC(10,2)",
        "loose": "NUMERIC",
        "flag": "BOOLEAN",
        "at": "TIMESTAMPTZ",
        "aware": "TIMESTAMPTZ",
        "naive": "TIMESTAMP",
        "day": "DATE",
        "color": "ENUM",
        "level": "INTEGER",
        "kind": "ENUM",
        "address": "JSON",
        "tags": "JSON",
        "extra": "JSON",
        "blob": "BLOB",
        "big": "BIGINT",
        "short": "VARCHAR(3)",
    }
    assert [name for name, col in cols.items() if col.nullable] == ["bio", "address", "short"]
    assert cols["id"].primary_key
    assert cols["name"].unique
    assert cols["big"].index
    assert cols["color"].enum == ("red", "green")
    assert cols["kind"].enum == ("a", "bb")
    assert (cols["count"].default, cols["flag"].default, cols["color"].default) == (0, False, "red")
    assert cols["extra"].default == {}
    assert cols["tags"].default is None  # a default_factory has no static server default


def test_table_names_and_opting_out() -> None:
    class OrderLine(BaseModel):
        sku: str = Field(json_schema_extra={"primary_key": True})

    snapshot, _ = snapshot_models([OrderLine, Address])
    assert list(snapshot.tables) == ["order_line"]
    assert snapshot.tables["order_line"].columns["sku"].primary_key


def test_an_optional_id_is_a_not_null_primary_key_the_database_assigns() -> None:
    class Item(BaseModel):
        id: int | None = None
        name: str

    cols = columns_of(Item)
    assert (cols["id"].primary_key, cols["id"].nullable) == (True, False)
    snapshot, _ = snapshot_models([Item])
    sql = render_sql(diff_snapshots(Snapshot(), snapshot), Snapshot(), "postgresql")
    assert "id SERIAL NOT NULL" in sql


def test_bad_models_name_the_field() -> None:
    class Odd(BaseModel):
        value: complex

    with pytest.raises(ModelError, match=r"Odd: field 'value': cannot map complex"):
        snapshot_models([Odd])

    class BadOverride(BaseModel):
        value: int = Field(json_schema_extra={"sql_type": "MONEY"})

    with pytest.raises(ModelError, match="unknown SQL type 'MONEY'"):
        snapshot_models([BadOverride])


def test_seed_compute_migration_is_the_per_table_core() -> None:
    assert compute_migration({"a": "int", "b": "str"}, {"b": "text", "c": "int"}) == {
        "added": [{"field": "c", "type": "int"}],
        "removed": [{"field": "a", "type": "int"}],
        "changed": [{"field": "b", "old_type": "str", "new_type": "text"}],
    }
    with pytest.raises(TypeError):
        compute_migration([], {})  # type: ignore[arg-type]


def snap(**tables: dict[str, Column]) -> Snapshot:
    return Snapshot(tables={name: Table(columns=cols) for name, cols in tables.items()})


ID = Column(type="INTEGER", primary_key=True)


def codes(
    old: Snapshot, new: Snapshot, renames: Renames | None = None
) -> list[tuple[str, str, str]]:
    return [
        (op.kind, op.risk.level, op.risk.code)
        for op in diff_snapshots(old, new, renames)
        if op.risk is not None
    ]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, Column(type="TEXT", nullable=True), ("add_column", "safe", "add_nullable_column")),
        (
            None,
            Column(type="INTEGER", default=0),
            ("add_column", "safe", "add_column_with_default"),
        ),
        (None, Column(type="INTEGER"), ("add_column", "data-dependent", "add_not_null_column")),
        (Column(type="INTEGER"), Column(type="FLOAT"), ("alter_column", "safe", "widen_type")),
        (Column(type="INTEGER"), Column(type="BIGINT"), ("alter_column", "safe", "widen_type")),
        (
            Column(type="VARCHAR(10)"),
            Column(type="VARCHAR(20)"),
            ("alter_column", "safe", "widen_type"),
        ),
        (
            Column(type="VARCHAR(20)"),
            Column(type="VARCHAR(10)"),
            ("alter_column", "data-dependent", "narrow_type"),
        ),
        (
            Column(type="FLOAT"),
            Column(type="INTEGER"),
            ("alter_column", "data-dependent", "narrow_type"),
        ),
        (
            Column(type="TEXT"),
            Column(type="INTEGER"),
            ("alter_column", "data-dependent", "change_type"),
        ),
        (
            Column(type="NUMERIC(10,2)"),
            Column(type="NUMERIC(12,2)"),
            ("alter_column", "safe", "widen_type"),
        ),
        (
            Column(type="NUMERIC(10,2)"),
            Column(type="NUMERIC(10,4)"),
            ("alter_column", "data-dependent", "narrow_type"),
        ),
        (
            Column(type="ENUM", enum=("a",)),
            Column(type="ENUM", enum=("a", "b")),
            ("alter_column", "safe", "widen_type"),
        ),
        (
            Column(type="ENUM", enum=("a", "b")),
            Column(type="ENUM", enum=("a",)),
            ("alter_column", "data-dependent", "narrow_type"),
        ),
        (
            Column(type="TEXT", nullable=True),
            Column(type="TEXT"),
            ("alter_column", "data-dependent", "set_not_null"),
        ),
        (
            Column(type="TEXT"),
            Column(type="TEXT", nullable=True),
            ("alter_column", "safe", "drop_not_null"),
        ),
        (
            Column(type="TEXT"),
            Column(type="TEXT", default="x"),
            ("alter_column", "safe", "change_default"),
        ),
        (
            Column(type="TEXT"),
            Column(type="TEXT", unique=True),
            ("create_index", "data-dependent", "add_unique_index"),
        ),
        (
            Column(type="TEXT"),
            Column(type="TEXT", index=True),
            ("create_index", "safe", "add_index"),
        ),
        (
            Column(type="TEXT", index=True),
            Column(type="TEXT"),
            ("drop_index", "safe", "drop_index"),
        ),
        (Column(type="TEXT"), None, ("drop_column", "destructive", "drop_column")),
    ],
)
def test_each_change_has_a_risk_class_and_a_stable_code(
    before: Column | None, after: Column | None, expected: tuple[str, str, str]
) -> None:
    old = snap(t={"id": ID} | ({"c": before} if before else {}))
    new = snap(t={"id": ID} | ({"c": after} if after else {}))
    assert codes(old, new) == [expected]


def test_tables_added_dropped_and_renamed() -> None:
    old = snap(a={"id": ID}, b={"id": ID})
    new = snap(a={"id": ID}, c={"id": ID})
    assert codes(old, new) == [
        ("create_table", "safe", "create_table"),
        ("drop_table", "destructive", "drop_table"),
    ]
    assert codes(old, new, Renames(tables={"c": "b"})) == [
        ("rename_table", "backward-incompatible", "rename_table")
    ]


def test_a_rename_keeps_the_column_and_moves_its_index() -> None:
    old = snap(t={"id": ID, "name": Column(type="TEXT", unique=True)})
    new = snap(t={"id": ID, "full_name": Column(type="TEXT", unique=True)})
    without_hint = [op.kind for op in diff_snapshots(old, new)]
    assert without_hint == ["add_column", "create_index", "drop_index", "drop_column"]
    ops = diff_snapshots(old, new, Renames(columns={("t", "full_name"): "name"}))
    assert [(op.kind, op.risk.code if op.risk else "") for op in ops] == [
        ("drop_index", "drop_index"),
        ("rename_column", "rename_column"),
        ("create_index", "add_unique_index"),
    ]
    assert same_schema(apply_operations(old, ops), new)


def test_declared_renames_come_from_the_models() -> None:
    class Person(BaseModel):
        renamed_from: ClassVar[str] = "ignored"
        __renamed_from__: ClassVar[str] = "people"
        id: int
        full_name: str = Field(json_schema_extra={"renamed_from": "name"})

    _, renames = snapshot_models([Person])
    assert renames == Renames(
        tables={"person": "people"}, columns={("person", "full_name"): "name"}
    )


def test_destructive_changes_are_refused_or_split_into_a_contract_step() -> None:
    old = snap(
        t={"id": ID, "legacy": Column(type="TEXT"), "old_ix": Column(type="TEXT", index=True)}
    )
    new = snap(t={"id": ID, "email": Column(type="TEXT", nullable=True)})
    first = next_migrations([], old)[0]
    with pytest.raises(DestructiveChange, match=r"t\.legacy, t\.old_ix"):
        next_migrations([first], new)
    expand, contract = next_migrations([first], new, allow_destructive=True)
    assert (expand.id, expand.phase, contract.id, contract.phase) == (
        "0002",
        "expand",
        "0003",
        "contract",
    )
    assert [op.kind for op in expand.up] == ["add_column", "alter_column", "alter_column"]
    assert all(op.after and op.after.nullable for op in expand.up)  # old NOT NULL columns relaxed
    assert [op.kind for op in contract.up] == ["drop_column", "drop_index", "drop_column"]
    assert same_schema(contract.snapshot, new)
    assert same_schema(apply_operations(contract.snapshot, contract.down), expand.snapshot)


column_st = st.builds(
    Column,
    type=st.sampled_from(
        ["INTEGER", "BIGINT", "FLOAT", "TEXT", "VARCHAR(10)", "VARCHAR(20)", "JSON"]
    ),
    nullable=st.booleans(),
    default=st.none() | st.integers(-5, 5) | st.text(max_size=3),
    unique=st.booleans(),
    index=st.booleans(),
)
table_st = st.dictionaries(st.sampled_from(["x", "y", "z", "w"]), column_st, max_size=4).map(
    lambda cols: Table(columns={"id": ID, **cols})
)
snapshot_st = st.dictionaries(st.sampled_from(["a", "b", "c"]), table_st, max_size=3).map(
    lambda tables: Snapshot(tables=tables)
)
renames_st = st.builds(
    Renames,
    tables=st.dictionaries(
        st.sampled_from(["a", "b", "c"]), st.sampled_from(["a", "b", "c"]), max_size=2
    ),
    columns=st.dictionaries(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["x", "y", "z", "w"])),
        st.sampled_from(["x", "y", "z", "w"]),
        max_size=3,
    ),
)


@settings(max_examples=300, deadline=None)
@given(old=snapshot_st, new=snapshot_st, renames=renames_st)
def test_diff_replays_to_the_new_schema_and_inverts_to_the_old(
    old: Snapshot, new: Snapshot, renames: Renames
) -> None:
    ops = diff_snapshots(old, new, renames)
    assert same_schema(apply_operations(old, ops), new)
    assert same_schema(apply_operations(new, invert_all(ops)), old)
    expand, contract = split_phases(ops)
    middle = apply_operations(old, expand)
    assert same_schema(apply_operations(middle, contract), new)
    assert all(op.kind not in {"drop_column", "drop_table"} for op in expand)
    assert diff_snapshots(new, new) == []


@settings(max_examples=25, deadline=None)
@given(old=snapshot_st, new=snapshot_st)
def test_every_diff_renders_to_sql_on_both_dialects(old: Snapshot, new: Snapshot) -> None:
    ops = diff_snapshots(old, new)
    for dialect in ("sqlite", "postgresql"):
        sql = render_sql(ops, old, dialect)
        assert bool(sql.strip()) == bool(ops)


def test_plan_sql_uses_batch_mode_on_sqlite_and_alter_on_postgresql() -> None:
    old = snap(users={"id": ID, "score": Column(type="INTEGER")})
    new = snap(users={"id": ID, "score": Column(type="FLOAT")})
    ops = diff_snapshots(old, new)
    sqlite = render_sql(ops, old, "sqlite")
    assert "CREATE TABLE _alembic_tmp_users" in sqlite
    assert "CAST(users.score AS FLOAT)" in sqlite
    postgres = render_sql(ops, old, "postgresql")
    assert "ALTER TABLE users ALTER COLUMN score TYPE FLOAT USING score::FLOAT" in postgres


def test_migration_files_round_trip_and_corrupt_ones_are_named(tmp_path: Path) -> None:
    first = next_migrations([], snap(users={"id": ID}))
    second = next_migrations(
        first, snap(users={"id": ID, "email": Column(type="TEXT", nullable=True)})
    )
    paths = write_migrations(tmp_path, [*first, *second])
    assert [p.name for p in paths] == ["0001_initial.json", "0002_add_users_email.json"]
    loaded = load_migrations(tmp_path)
    assert [m.checksum() for m in loaded] == [m.checksum() for m in [*first, *second]]

    paths[1].write_text(paths[1].read_text().replace('"email"', '"mail"', 1))
    with pytest.raises(
        MigrationFileError, match=r"0002_add_users_email\.json: its 'up' operations"
    ):
        load_migrations(tmp_path)
    paths[1].write_text("{not json")
    with pytest.raises(
        MigrationFileError, match=r"0002_add_users_email\.json: not a valid migration"
    ):
        load_migrations(tmp_path)
