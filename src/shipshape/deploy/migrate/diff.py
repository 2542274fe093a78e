"""The pure core: diff two snapshots into operations, classify them, invert and replay them.

``compute_migration`` (the course's seed) diffs one table's ``{column: type}``
mapping; ``diff_snapshots`` runs it per table and adds tables, renames and
indexes around it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from shipshape.deploy.migrate.spec import (
    Column,
    Index,
    Operation,
    Risk,
    RiskLevel,
    Snapshot,
    Table,
    index_name,
    parse_sql_type,
)

__all__ = [
    "ChangedField",
    "FieldType",
    "MigrationSteps",
    "Renames",
    "apply_operations",
    "assess",
    "compute_migration",
    "diff_snapshots",
    "invert",
    "split_phases",
]

RISK_ORDER: dict[RiskLevel, int] = {
    "safe": 0,
    "backward-incompatible": 1,
    "data-dependent": 2,
    "destructive": 3,
}


class FieldType(TypedDict):
    field: str
    type: Any


class ChangedField(TypedDict):
    field: str
    old_type: Any
    new_type: Any


class MigrationSteps(TypedDict):
    added: list[FieldType]
    removed: list[FieldType]
    changed: list[ChangedField]


def compute_migration(
    old_schema: Mapping[str, Any], new_schema: Mapping[str, Any]
) -> MigrationSteps:
    """Diff two ``{field: type}`` snapshots into added, removed and changed fields.

    Each list is sorted by field name; a field is *changed* when it is in both
    snapshots with types that compare unequal.
    """
    if not isinstance(old_schema, Mapping) or not isinstance(new_schema, Mapping):
        raise TypeError("compute_migration expects two mappings of field name to type")
    old_names, new_names = _sorted_names(old_schema), _sorted_names(new_schema)
    # new objects: a type that is a dict or a list is copied, never shared with the input
    added: list[FieldType] = [
        {"field": name, "type": copy.deepcopy(new_schema[name])}
        for name in new_names
        if name not in old_schema
    ]
    removed: list[FieldType] = [
        {"field": name, "type": copy.deepcopy(old_schema[name])}
        for name in old_names
        if name not in new_schema
    ]
    changed: list[ChangedField] = [
        {
            "field": name,
            "old_type": copy.deepcopy(old_schema[name]),
            "new_type": copy.deepcopy(new_schema[name]),
        }
        for name in new_names
        if name in old_schema and old_schema[name] != new_schema[name]
    ]
    return {"added": added, "removed": removed, "changed": changed}


def _sorted_names(schema: Mapping[Any, Any]) -> list[Any]:
    """The field names of ``schema``, sorted; a ``TypeError`` naming two names that cannot
    be ordered (``1`` and ``'a'``) rather than Python's bare ``'<' not supported``."""
    try:
        return sorted(schema)
    except TypeError:
        kinds: dict[type, Any] = {}
        for name in schema:
            kinds.setdefault(type(name), name)
        shown = " and ".join(f"{name!r} ({kind.__name__})" for kind, name in kinds.items())
        raise TypeError(
            f"compute_migration: field names must be sortable together (use strings); got {shown}"
        ) from None


@dataclass(frozen=True)
class Renames:
    """Rename hints: ``tables`` maps new → old name, ``columns`` maps (table, new) → old."""

    tables: Mapping[str, str] = field(default_factory=dict)
    columns: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def merged(self, other: Renames) -> Renames:
        return Renames({**self.tables, **other.tables}, {**self.columns, **other.columns})


def column_indexes(table: str, name: str, column: Column) -> list[Index]:
    """The index a column's markers ask for: a unique one wins over a plain one."""
    if column.primary_key:
        return []
    if column.unique:
        return [Index(name=index_name(table, name, True), column=name, unique=True)]
    if column.index:
        return [Index(name=index_name(table, name, False), column=name, unique=False)]
    return []


def table_indexes(name: str, table: Table) -> list[Index]:
    return [
        index for col, spec in table.columns.items() for index in column_indexes(name, col, spec)
    ]


def _op(kind: Any, table: str, **fields: Any) -> Operation:
    operation = Operation(kind=kind, table=table, **fields)
    return operation.model_copy(update={"risk": assess(operation)})


def _bare(column: Column) -> Column:
    return column.model_copy(update={"unique": False, "index": False})


def _reindex(
    old_table: str, old_col: str, new_table: str, new_col: str, column: Column
) -> tuple[list[Operation], list[Operation]]:
    """Drops of a column's indexes under old names, creates under new names."""
    drops = [
        _op("drop_index", old_table, index=i) for i in column_indexes(old_table, old_col, column)
    ]
    creates = [
        _op("create_index", new_table, index=i) for i in column_indexes(new_table, new_col, column)
    ]
    return drops, creates


def diff_snapshots(old: Snapshot, new: Snapshot, renames: Renames | None = None) -> list[Operation]:
    """The operations that turn schema ``old`` into ``new``, each with its risk.

    Renames whose old name is gone from ``old`` (already applied) are ignored.
    """
    renames = renames or Renames()
    ops: list[Operation] = []
    tables: dict[str, Table] = dict(old.tables)
    for new_name, old_name in renames.tables.items():
        if new_name in new.tables and old_name in tables and new_name not in tables:
            definition = tables.pop(old_name)
            drops: list[Operation] = []
            creates: list[Operation] = []
            for col, spec in definition.columns.items():
                dropped, created = _reindex(old_name, col, new_name, col, spec)
                drops += dropped
                creates += created
            ops += [*drops, _op("rename_table", old_name, to=new_name), *creates]
            tables[new_name] = definition
    for name, table in new.tables.items():
        if name not in tables:
            ops.append(_op("create_table", name, definition=table))
        else:
            ops += _diff_table(name, tables[name], table, renames)
    ops += [
        _op("drop_table", name, definition=table)
        for name, table in tables.items()
        if name not in new.tables
    ]
    return ops


def _diff_table(name: str, old: Table, new: Table, renames: Renames) -> list[Operation]:
    ops: list[Operation] = []
    columns = dict(old.columns)
    for (table, new_col), old_col in renames.columns.items():
        if (
            table == name
            and old_col in columns
            and new_col not in columns
            and new_col in new.columns
        ):
            spec = columns[old_col]
            drops, creates = _reindex(name, old_col, name, new_col, spec)
            ops += [*drops, _op("rename_column", name, column=old_col, to=new_col), *creates]
            columns = {
                (new_col if col == old_col else col): value for col, value in columns.items()
            }
    steps = compute_migration(columns, new.columns)
    for added in steps["added"]:
        col, spec = added["field"], added["type"]
        if spec.primary_key:
            raise ValueError(
                f"table {name!r}: adding primary key column {col!r} "
                "to an existing table is not supported"
            )
        ops.append(_op("add_column", name, column=col, after=_bare(spec)))
        ops += [_op("create_index", name, index=i) for i in column_indexes(name, col, spec)]
    for changed in steps["changed"]:
        col, before, after = changed["field"], changed["old_type"], changed["new_type"]
        if before.primary_key != after.primary_key:
            raise ValueError(
                f"table {name!r}: changing the primary key ({col!r}) "
                "of an existing table is not supported"
            )
        old_indexes = column_indexes(name, col, before)
        new_indexes = column_indexes(name, col, after)
        ops += [_op("drop_index", name, index=i) for i in old_indexes if i not in new_indexes]
        if before.shape() != after.shape():
            ops.append(
                _op("alter_column", name, column=col, before=_bare(before), after=_bare(after))
            )
        ops += [_op("create_index", name, index=i) for i in new_indexes if i not in old_indexes]
    for removed in steps["removed"]:
        col, spec = removed["field"], removed["type"]
        ops += [_op("drop_index", name, index=i) for i in column_indexes(name, col, spec)]
        ops.append(_op("drop_column", name, column=col, before=_bare(spec)))
    return ops


_INTEGERS = {"SMALLINT": 1, "INTEGER": 2, "BIGINT": 3}
_TEXTS = {"VARCHAR", "TEXT", "ENUM"}


def type_change(before: Column, after: Column) -> str:
    """``widen`` when every old value fits the new type, ``narrow`` when some may not."""
    old, old_args = parse_sql_type(before.type)
    new, new_args = parse_sql_type(after.type)
    if old == new == "ENUM" or (old in _TEXTS and new in _TEXTS):
        old_values = set(before.enum or ())
        if new == "ENUM":
            return "widen" if old == "ENUM" and old_values <= set(after.enum or ()) else "narrow"
        if new == "TEXT":
            return "widen"
        longest = max((len(v) for v in old_values), default=0) if old == "ENUM" else None
        if old == "VARCHAR" and new == "VARCHAR":
            return "widen" if new_args[0] >= old_args[0] else "narrow"
        if longest is not None:
            return "widen" if new_args[0] >= longest else "narrow"
        return "narrow"
    if old in _INTEGERS:
        if new in _INTEGERS:
            return "widen" if _INTEGERS[new] >= _INTEGERS[old] else "narrow"
        if new == "FLOAT" or (
            new == "NUMERIC" and (not new_args or new_args[0] - new_args[1] >= 19)
        ):
            return "widen"
        return "narrow" if new in {"NUMERIC", "BOOLEAN"} else "change"
    if old == "NUMERIC" and new == "NUMERIC":
        if not new_args:
            return "widen"
        if (
            old_args
            and new_args[1] >= old_args[1]
            and new_args[0] - new_args[1] >= old_args[0] - old_args[1]
        ):
            return "widen"
        return "narrow"
    if old in {"FLOAT", "NUMERIC"} and (new in _INTEGERS or new in {"FLOAT", "NUMERIC"}):
        return "narrow"
    if new == "TEXT":
        return "widen"
    if old == "TIMESTAMP" and new == "TIMESTAMPTZ":
        return "change"
    return "change"


def _alter_risks(before: Column, after: Column) -> list[Risk]:
    risks: list[Risk] = []
    if (before.type, before.enum) != (after.type, after.enum):
        change = type_change(before, after)
        what = f"{before.type} → {after.type}"
        if change == "widen":
            risks.append(Risk(level="safe", code="widen_type", why=f"{what} holds every old value"))
        elif change == "narrow":
            risks.append(
                Risk(
                    level="data-dependent",
                    code="narrow_type",
                    why=f"{what} may not hold every old value: the migration fails "
                    "rather than cut or round one",
                )
            )
        else:
            risks.append(
                Risk(
                    level="data-dependent",
                    code="change_type",
                    why=f"{what} converts every row; rows that do not convert make it fail",
                )
            )
    if before.nullable and not after.nullable:
        risks.append(
            Risk(level="data-dependent", code="set_not_null", why="fails if any row holds NULL")
        )
    elif after.nullable and not before.nullable:
        risks.append(
            Risk(
                level="safe",
                code="drop_not_null",
                why="NULL becomes allowed; existing rows are untouched",
            )
        )
    if before.default != after.default:
        risks.append(
            Risk(
                level="safe",
                code="change_default",
                why="only rows inserted later see the new default",
            )
        )
    return risks


def assess(op: Operation) -> Risk:
    """The risk class of one operation, with a stable code and the reason."""
    table = op.table
    if op.kind == "create_table":
        return Risk(level="safe", code="create_table", why=f"new table {table}")
    if op.kind == "drop_table":
        return Risk(
            level="destructive", code="drop_table", why=f"drops table {table} and every row in it"
        )
    if op.kind == "rename_table":
        return Risk(
            level="backward-incompatible",
            code="rename_table",
            why=f"code still running the old version reads {table}, which becomes {op.to}",
        )
    if op.kind == "rename_column":
        return Risk(
            level="backward-incompatible",
            code="rename_column",
            why=f"code still running the old version reads {table}.{op.column}, "
            f"which becomes {op.to}",
        )
    if op.kind == "drop_column":
        return Risk(
            level="destructive",
            code="drop_column",
            why=f"drops {table}.{op.column} and its data in every row",
        )
    if op.kind == "add_column":
        assert op.after is not None
        if op.after.nullable:
            return Risk(level="safe", code="add_nullable_column", why="existing rows get NULL")
        if op.after.default is not None:
            return Risk(
                level="safe",
                code="add_column_with_default",
                why=f"existing rows get the default {op.after.default!r}",
            )
        return Risk(
            level="data-dependent",
            code="add_not_null_column",
            why=f"NOT NULL without a default fails when {table} has rows",
        )
    if op.kind == "create_index":
        assert op.index is not None
        if op.index.unique:
            return Risk(
                level="data-dependent",
                code="add_unique_index",
                why=f"fails if {table}.{op.index.column} holds duplicates",
            )
        return Risk(
            level="safe",
            code="add_index",
            why="reads unchanged; the build locks writes on large tables",
        )
    if op.kind == "drop_index":
        return Risk(
            level="safe", code="drop_index", why="no data changes; queries using it get slower"
        )
    assert op.before is not None
    assert op.after is not None
    risks = _alter_risks(op.before, op.after) or [
        Risk(level="safe", code="change_default", why="no effective change")
    ]
    worst = max(risks, key=lambda risk: RISK_ORDER[risk.level])
    return worst.model_copy(update={"why": "; ".join(risk.why for risk in risks)})


def invert(op: Operation) -> Operation:
    """The operation that undoes ``op``."""
    if op.kind in {"create_table", "drop_table"}:
        kind = "drop_table" if op.kind == "create_table" else "create_table"
        return _op(kind, op.table, definition=op.definition)
    if op.kind == "rename_table":
        assert op.to is not None
        return _op("rename_table", op.to, to=op.table)
    if op.kind == "rename_column":
        return _op("rename_column", op.table, column=op.to, to=op.column)
    if op.kind == "add_column":
        return _op("drop_column", op.table, column=op.column, before=op.after)
    if op.kind == "drop_column":
        return _op("add_column", op.table, column=op.column, after=op.before)
    if op.kind == "create_index":
        return _op("drop_index", op.table, index=op.index)
    if op.kind == "drop_index":
        return _op("create_index", op.table, index=op.index)
    return _op("alter_column", op.table, column=op.column, before=op.after, after=op.before)


def invert_all(ops: Iterable[Operation]) -> list[Operation]:
    return [invert(op) for op in reversed(list(ops))]


def split_phases(ops: list[Operation]) -> tuple[list[Operation], list[Operation]]:
    """Expand (everything that keeps old code working) and contract (the drops).

    A NOT NULL column without a default that is about to be dropped becomes
    nullable in the expand step, so new code that no longer writes it works
    before the contract step runs.
    """
    dropped = {(op.table, op.column) for op in ops if op.kind == "drop_column"}
    dropped_tables = {op.table for op in ops if op.kind == "drop_table"}
    expand: list[Operation] = []
    contract: list[Operation] = []
    for op in ops:
        if op.kind in {"drop_column", "drop_table"}:
            if (
                op.kind == "drop_column"
                and op.before is not None
                and not op.before.nullable
                and op.before.default is None
            ):
                relaxed = op.before.model_copy(update={"nullable": True})
                expand.append(
                    _op("alter_column", op.table, column=op.column, before=op.before, after=relaxed)
                )
                contract.append(_op("drop_column", op.table, column=op.column, before=relaxed))
            else:
                contract.append(op)
        elif (
            op.kind == "drop_index"
            and op.index is not None
            and ((op.table, op.index.column) in dropped or op.table in dropped_tables)
        ):
            contract.append(op)
        else:
            expand.append(op)
    return expand, contract


def apply_operations(snapshot: Snapshot, ops: Iterable[Operation]) -> Snapshot:
    """Replay operations on a snapshot: the schema the database has after running them."""
    tables: dict[str, dict[str, Column]] = {
        name: dict(table.columns) for name, table in snapshot.tables.items()
    }
    models = {name: table.model for name, table in snapshot.tables.items()}
    for op in ops:
        where = f"{op.kind} {op.table}"
        if op.kind == "create_table":
            if op.table in tables or op.definition is None:
                raise ValueError(f"{where}: table exists already or has no definition")
            tables[op.table] = dict(op.definition.columns)
            models[op.table] = op.definition.model
            continue
        if op.table not in tables:
            raise ValueError(f"{where}: no such table")
        columns = tables[op.table]
        if op.kind == "drop_table":
            del tables[op.table]
            models.pop(op.table, None)
        elif op.kind == "rename_table":
            if op.to is None or op.to in tables:
                raise ValueError(f"{where}: target {op.to!r} exists already")
            tables[op.to] = tables.pop(op.table)
            models[op.to] = models.pop(op.table, "")
        elif op.kind == "add_column":
            if op.column is None or op.after is None or op.column in columns:
                raise ValueError(f"{where}: column {op.column!r} exists already")
            columns[op.column] = op.after
        elif op.kind == "drop_column":
            if op.column not in columns:
                raise ValueError(f"{where}: no column {op.column!r}")
            del columns[op.column]
        elif op.kind == "rename_column":
            if op.column not in columns or op.to is None or op.to in columns:
                raise ValueError(f"{where}: cannot rename {op.column!r} to {op.to!r}")
            tables[op.table] = {
                (op.to if col == op.column else col): spec for col, spec in columns.items()
            }
        elif op.kind == "alter_column":
            if op.column not in columns or op.after is None:
                raise ValueError(f"{where}: no column {op.column!r}")
            after = op.after
            columns[op.column] = columns[op.column].model_copy(
                update={
                    "type": after.type,
                    "nullable": after.nullable,
                    "default": after.default,
                    "enum": after.enum,
                }
            )
        else:
            index = op.index
            if index is None or index.column not in columns:
                raise ValueError(f"{where}: index on unknown column")
            create = op.kind == "create_index"
            flag = "unique" if index.unique else "index"
            columns[index.column] = columns[index.column].model_copy(update={flag: create})
    return Snapshot(
        models=snapshot.models,
        tables={
            name: Table(columns=columns, model=models.get(name, ""))
            for name, columns in tables.items()
        },
    )
