"""Operations to DDL through SQLAlchemy Core and Alembic's operations.

The same code runs on a live connection (``apply``/``rollback``) and in Alembic's
offline ``as_sql`` mode (``plan``). Column-level changes go through
``batch_alter_table`` so SQLite recreates the table where it cannot ALTER; the
table it copies from is built from the snapshot, never reflected.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

from shipshape.deploy.migrate._gc import paused_gc
from shipshape.deploy.migrate.diff import apply_operations, table_indexes, type_change
from shipshape.deploy.migrate.spec import (
    Column,
    MigrationError,
    Operation,
    Snapshot,
    Table,
    parse_sql_type,
)

__all__ = ["render_sql", "run_operations", "sa_column", "sa_table", "sa_type", "server_default"]

_TABLE_LEVEL = {"create_table", "drop_table", "rename_table"}


def sa_type(column: Column) -> TypeEngine[Any]:
    """The SQLAlchemy type of a snapshot column; compiled per dialect by SQLAlchemy.

    Types that attach nothing to a table are shared between columns; ENUM and
    BOOLEAN (schema types, which bind to their table) are built fresh each time.
    """
    if column.type in {"ENUM", "BOOLEAN"}:
        return _build_type(column.type, column.enum)
    return _shared_type(column.type)


@functools.lru_cache(maxsize=256)
def _shared_type(type_name: str) -> TypeEngine[Any]:
    return _build_type(type_name, None)


def _build_type(type_name: str, enum: tuple[str, ...] | None) -> TypeEngine[Any]:
    name, args = parse_sql_type(type_name)
    if name == "ENUM":
        values = enum or ()
        return sa.Enum(
            *values,
            native_enum=False,
            create_constraint=False,
            length=max((len(v) for v in values), default=1),
        )
    if name == "NUMERIC":
        return sa.Numeric(args[0], args[1]) if args else sa.Numeric()
    if name == "VARCHAR":
        return sa.String(args[0])
    if name == "JSON":
        return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    simple: dict[str, TypeEngine[Any]] = {
        "INTEGER": sa.Integer(),
        "BIGINT": sa.BigInteger(),
        "SMALLINT": sa.SmallInteger(),
        "FLOAT": sa.Float(),
        "TEXT": sa.Text(),
        "BOOLEAN": sa.Boolean(),
        "DATE": sa.Date(),
        "TIME": sa.Time(),
        "TIMESTAMP": sa.DateTime(timezone=False),
        "TIMESTAMPTZ": sa.DateTime(timezone=True),
        "INTERVAL": sa.Interval(),
        "UUID": sa.Uuid(),
        "BLOB": sa.LargeBinary(),
    }
    return simple[name]


def server_default(value: Any) -> str | None:
    """The server default for a JSON default value, as a literal both dialects accept."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def sa_column(name: str, column: Column) -> sa.Column[Any]:
    return sa.Column(
        name,
        sa_type(column),
        nullable=column.nullable,
        primary_key=column.primary_key,
        server_default=server_default(column.default),
        autoincrement="auto" if column.primary_key else False,
    )


def sa_table(name: str, table: Table, metadata: sa.MetaData | None = None) -> sa.Table:
    """The table a snapshot describes, with its indexes."""
    result = sa.Table(
        name,
        metadata if metadata is not None else sa.MetaData(),
        *(sa_column(col, spec) for col, spec in table.columns.items()),
    )
    for index in table_indexes(name, table):
        sa.Index(index.name, result.c[index.column], unique=index.unique)
    return result


def _groups(ops: Sequence[Operation]) -> Iterator[list[Operation]]:
    group: list[Operation] = []
    for op in ops:
        if group and (op.kind in _TABLE_LEVEL or group[0].table != op.table):
            yield group
            group = []
        group.append(op)
        if op.kind in _TABLE_LEVEL:
            yield group
            group = []
    if group:
        yield group


def _using(operations: Operations, name: str, column: Column) -> dict[str, str]:
    """How PostgreSQL converts the old values: an explicit cast, so every type converts.

    Except into a bounded string (``VARCHAR(n)``, enums): an explicit cast silently cuts a
    longer value to ``n`` characters, so the value goes through ``TEXT`` and the column's
    assignment cast, which fails on a value that does not fit instead.
    """
    dialect = operations.get_context().dialect
    if dialect.name != "postgresql":
        return {}
    quoted = dialect.identifier_preparer.quote(name)
    if parse_sql_type(column.type)[0] in {"VARCHAR", "ENUM"}:
        return {"postgresql_using": f"{quoted}::TEXT"}
    return {"postgresql_using": f"{quoted}::{sa_type(column).compile(dialect=dialect)}"}


def _table_op(operations: Operations, op: Operation) -> None:
    if op.kind == "create_table":
        assert op.definition is not None
        columns = {name: sa_column(name, spec) for name, spec in op.definition.columns.items()}
        indexes = [
            sa.Index(index.name, columns[index.column], unique=index.unique)
            for index in table_indexes(op.table, op.definition)
        ]
        operations.create_table(op.table, *columns.values(), *indexes)
    elif op.kind == "drop_table":
        operations.drop_table(op.table)
    else:
        assert op.to is not None
        operations.rename_table(op.table, op.to)


def _batches(group: list[Operation]) -> Iterator[list[Operation]]:
    """``group`` cut after each column rename.

    When SQLite recreates a table, Alembic's batch keeps a renamed column under its old
    name, so a later operation on the new name (an alter of the renamed column) would
    not find it; a fresh batch starts from the schema after the rename.
    """
    batch: list[Operation] = []
    for op in group:
        batch.append(op)
        if op.kind == "rename_column":
            yield batch
            batch = []
    if batch:
        yield batch


def _column_ops(operations: Operations, group: list[Operation], snapshot: Snapshot) -> None:
    name = group[0].table
    current = snapshot.tables[name]
    for ops in _batches(group):
        current = _column_batch(operations, name, ops, current)


_SQLITE_TEMPORAL = {"DATE", "TIME", "TIMESTAMP", "TIMESTAMPTZ", "INTERVAL"}
_SQLITE_NUMERIC = {"INTEGER", "BIGINT", "SMALLINT", "FLOAT", "NUMERIC", "BOOLEAN"}
_SQLITE_TEXTUAL = {"TEXT", "VARCHAR", "ENUM", "UUID", "JSON", "BLOB"}


def _cast_loses_data(before: Column, after: Column) -> bool:
    """Whether SQLite's ``CAST(col AS <after>)`` can change a value it does not convert.

    Dates and times are stored as text, and CAST to a type of NUMERIC affinity keeps only
    the leading number: ``'2024-02-03'`` becomes ``2024``, ``'abc'`` becomes ``0``.
    """
    old, new = parse_sql_type(before.type)[0], parse_sql_type(after.type)[0]
    return new in _SQLITE_TEMPORAL or (
        new in _SQLITE_NUMERIC and (old in _SQLITE_TEXTUAL or old in _SQLITE_TEMPORAL)
    )


def _copy_source(operations: Operations, group: list[Operation], current: Table) -> Table:
    """The table a batch copies from; on SQLite, retyped where a CAST would lose data.

    When SQLite recreates a table, Alembic converts a column whose type changes with
    ``CAST(col AS <new type>)``. Where that cast can cut a value (see
    :func:`_cast_loses_data`), the column is copied as stored instead: the new column's
    affinity converts every value that converts without loss and keeps the others.
    """
    if operations.get_context().dialect.name != "sqlite":
        return current
    retyped = {
        op.column: op.after
        for op in group
        if op.kind == "alter_column"
        and op.column in current.columns
        and op.after is not None
        and _cast_loses_data(current.columns[op.column], op.after)
    }
    if not retyped:
        return current
    columns = {
        column: (
            spec.model_copy(update={"type": retyped[column].type, "enum": retyped[column].enum})
            if column in retyped
            else spec
        )
        for column, spec in current.columns.items()
    }
    return current.model_copy(update={"columns": columns})


_EXACT_NUMBERS = {"INTEGER", "BIGINT", "SMALLINT", "NUMERIC", "BOOLEAN"}
_NUMBERS = {"INTEGER", "BIGINT", "SMALLINT", "FLOAT", "NUMERIC"}


def _changes_values(before: Column, after: Column) -> bool:
    """Whether converting a number into ``after`` can change it rather than fail.

    A narrowing into an integer, a ``NUMERIC`` or a ``BOOLEAN``: PostgreSQL rounds
    ``1.5`` to ``2`` (and a ``NUMERIC`` to its scale, any number but 0 to true) where
    SQLite's ``CAST`` cuts it to ``1``; neither says so. (Into ``FLOAT``, which is
    approximate by nature, and out of range, which fails, there is nothing to refuse.)
    """
    old, new = parse_sql_type(before.type)[0], parse_sql_type(after.type)[0]
    return old in _NUMBERS and new in _EXACT_NUMBERS and type_change(before, after) == "narrow"


def _refuse_changed_values(
    operations: Operations, name: str, group: list[Operation], current: Table
) -> None:
    """Fail before a numeric narrowing that would change a stored value.

    A value changes when it differs from its ``CAST`` to the new type; for ``BOOLEAN``
    when it is neither 0 nor 1; for ``NUMERIC(p,s)`` on SQLite (which keeps any number
    there) when it has more than ``s`` decimals, which PostgreSQL would round. So the
    same rows are refused on both. A value out of the new type's range fails the check
    on PostgreSQL as it would fail the conversion. Nothing to read in offline
    (``plan``) mode.
    """
    context = operations.get_context()
    connection = context.connection
    if context.as_sql or connection is None:
        return
    sqlite = context.dialect.name == "sqlite"
    for op in group:
        if op.kind != "alter_column" or op.column not in current.columns or op.after is None:
            continue
        before, after = current.columns[op.column], op.after
        if not _changes_values(before, after):
            continue
        value = sa.column(op.column, sa_type(before))
        new, args = parse_sql_type(after.type)
        changed: sa.ColumnElement[bool]
        if new == "BOOLEAN":
            changed = value.not_in([0, 1])
        elif new == "NUMERIC" and args and sqlite:
            changed = value != sa.func.round(value, args[1])
        else:
            changed = value != sa.cast(value, sa_type(after))
        query = (
            # the example as stored: no Decimal conversion (SQLite warns about it)
            sa.select(sa.func.count(), sa.func.min(value, type_=sa.types.NullType()))
            .select_from(sa.table(name, value))
            .where(value.is_not(None), changed)
        )
        count, example = connection.execute(query).one()
        if count:
            rows = "1 row holds" if count == 1 else f"{count} rows hold"
            shown = repr(example) if isinstance(example, str | bytes) else str(example)
            raise MigrationError(
                f"{name}.{op.column}: {rows} a value that {before.type} → {after.type} "
                f"would change (e.g. {shown}); nothing was converted — fix those "
                "values first or keep the wider type"
            )


def _column_batch(
    operations: Operations, name: str, group: list[Operation], current: Table
) -> Table:
    _refuse_changed_values(operations, name, group, current)
    source = _copy_source(operations, group, current)
    with operations.batch_alter_table(
        name, copy_from=sa_table(name, source), recreate="auto"
    ) as batch:
        for op in group:
            existing = current.columns.get(op.column or "")
            if op.kind == "add_column":
                assert op.column is not None
                assert op.after is not None
                batch.add_column(sa_column(op.column, op.after))
            elif op.kind == "drop_column":
                assert op.column is not None
                batch.drop_column(op.column)
            elif op.kind == "rename_column":
                assert op.column is not None
                assert existing is not None
                batch.alter_column(
                    op.column,
                    new_column_name=op.to,
                    existing_type=sa_type(existing),
                    existing_nullable=existing.nullable,
                    existing_server_default=server_default(existing.default),
                )
            elif op.kind == "alter_column":
                assert op.column is not None
                assert op.before is not None
                assert op.after is not None
                before, after = op.before, op.after
                changes: dict[str, Any] = {}
                existing_default = server_default(before.default)
                if (before.type, before.enum) != (after.type, after.enum):
                    changes["type_"] = sa_type(after)
                    changes.update(_using(operations, op.column, after))
                    if existing_default is not None:
                        # PostgreSQL converts the old default along with the column and
                        # fails when it has no implicit cast (VARCHAR '0' to INTEGER):
                        # drop it first, set the new one after the type.
                        batch.alter_column(
                            op.column,
                            existing_type=sa_type(before),
                            existing_nullable=before.nullable,
                            existing_server_default=existing_default,
                            server_default=None,
                        )
                        existing_default = None
                if before.nullable != after.nullable:
                    changes["nullable"] = after.nullable
                if server_default(after.default) != existing_default:
                    changes["server_default"] = server_default(after.default)
                batch.alter_column(
                    op.column,
                    existing_type=sa_type(before),
                    existing_nullable=before.nullable,
                    existing_server_default=existing_default,
                    **changes,
                )
            elif op.kind == "create_index":
                assert op.index is not None
                batch.create_index(op.index.name, [op.index.column], unique=op.index.unique)
            else:
                assert op.index is not None
                batch.drop_index(op.index.name)
            current = apply_operations(Snapshot(tables={name: current}), [op]).tables[name]
    return current


def run_operations(
    operations: Operations, ops: Sequence[Operation], snapshot: Snapshot
) -> Snapshot:
    """Emit ``ops`` against the schema ``snapshot``; returns the schema after them."""
    with paused_gc():
        return _run_operations(operations, ops, snapshot)


def _run_operations(
    operations: Operations, ops: Sequence[Operation], snapshot: Snapshot
) -> Snapshot:
    tables = dict(snapshot.tables)
    for group in _groups(ops):
        touched = {op.table for op in group} | {
            op.to for op in group if op.kind == "rename_table" and op.to
        }
        before = Snapshot(tables={name: tables[name] for name in touched if name in tables})
        if group[0].kind in _TABLE_LEVEL:
            _table_op(operations, group[0])
        else:
            _column_ops(operations, group, before)
        for name in touched:
            tables.pop(name, None)
        tables.update(apply_operations(before, group).tables)
    return Snapshot(models=snapshot.models, tables=tables)


def render_sql(ops: Sequence[Operation], snapshot: Snapshot, dialect: str) -> str:
    """The SQL that ``ops`` run on ``sqlite`` or ``postgresql``, from Alembic's offline mode."""
    buffer = io.StringIO()
    context = MigrationContext.configure(
        dialect_name=dialect,
        opts={"as_sql": True, "output_buffer": buffer, "literal_binds": True},
    )
    run_operations(Operations(context), ops, snapshot)
    return buffer.getvalue()
