"""Snapshots from Pydantic models: one table per model, one column per field.

Conventions (all optional):

* table name: ``__tablename__`` on the class, else the class name in snake_case;
  ``__tablename__ = None`` keeps a model out (a value stored as JSON elsewhere);
* ``Field(json_schema_extra={...})`` keys: ``primary_key``, ``unique``,
  ``index``, ``renamed_from`` (old field name), ``sql_type`` (override);
* without any ``primary_key`` marker a field named ``id`` is the primary key;
  a primary key is NOT NULL even when ``Optional`` (the database assigns it);
  a single integer primary key autoincrements;
* ``__renamed_from__ = "old_table"`` on the class declares a table rename.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import importlib
import math
import re
import sys
import types
import typing
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel, NaiveDatetime
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from shipshape.deploy.migrate._gc import paused_gc
from shipshape.deploy.migrate.diff import Renames
from shipshape.deploy.migrate.spec import Column, Snapshot, Table, parse_sql_type

__all__ = [
    "ModelError",
    "column_for",
    "find_models",
    "import_models",
    "snapshot_models",
    "table_name",
]


class ModelError(ValueError):
    """A model or module that cannot become a table; the message names it."""


_SCALARS: dict[type, str] = {
    bool: "BOOLEAN",
    int: "INTEGER",
    float: "FLOAT",
    dt.date: "DATE",
    dt.time: "TIME",
    dt.timedelta: "INTERVAL",
    uuid.UUID: "UUID",
    bytes: "BLOB",
}
_JSON_ORIGINS = {list, dict, set, frozenset, tuple}


def table_name(model: type[BaseModel]) -> str | None:
    name = model.__dict__.get("__tablename__", PydanticUndefined)
    if name is PydanticUndefined:
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", model.__name__).lower()
    if name is None or isinstance(name, str):
        return name
    raise ModelError(
        f"{model.__module__}.{model.__qualname__}: __tablename__ must be a string or None"
    )


def _extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return dict(extra) if isinstance(extra, dict) else {}


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """The annotation without ``None`` and ``Annotated``: (type, nullable, metadata)."""
    metadata: list[Any] = []
    nullable = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            for item in annotation.__metadata__:
                metadata += item.metadata if isinstance(item, FieldInfo) else [item]
            annotation = annotation.__origin__
            continue
        if origin in (typing.Union, types.UnionType):
            args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            nullable = nullable or len(args) < len(typing.get_args(annotation))
            if len(args) == 1:
                annotation = args[0]
                continue
            return Any, nullable, metadata
        return annotation, nullable, metadata


def _constraint(metadata: Sequence[Any], name: str) -> Any:
    for item in metadata:
        value = getattr(item, name, None)
        if value is not None:
            return value
    return None


def _sql_type(annotation: Any, metadata: Sequence[Any]) -> tuple[str, tuple[str, ...] | None]:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        values = typing.get_args(annotation)
        if all(isinstance(v, str) for v in values):
            return "ENUM", tuple(values)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return "INTEGER", None
        return "JSON", None
    if origin in _JSON_ORIGINS or annotation is Any or annotation in _JSON_ORIGINS:
        return "JSON", None
    if not isinstance(annotation, type):
        raise ModelError(
            f"cannot map {annotation!r} to a SQL type; set json_schema_extra={{'sql_type': ...}}"
        )
    if annotation is NaiveDatetime:
        return "TIMESTAMP", None
    if annotation is AwareDatetime or issubclass(annotation, dt.datetime):
        return "TIMESTAMPTZ", None
    if issubclass(annotation, enum.Enum):
        members = [member.value for member in annotation]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in members):
            return "INTEGER", None
        return "ENUM", tuple(str(v) for v in members)
    if issubclass(annotation, decimal.Decimal):
        digits, places = (
            _constraint(metadata, "max_digits"),
            _constraint(metadata, "decimal_places"),
        )
        if digits is not None:
            return f"NUMERIC({digits},{places or 0})", None
        return "NUMERIC", None
    if issubclass(annotation, str):
        length = _constraint(metadata, "max_length")
        return (f"VARCHAR({length})" if length is not None else "TEXT"), None
    for python_type, sql in _SCALARS.items():
        if issubclass(annotation, python_type):
            return sql, None
    if issubclass(annotation, BaseModel) or typing.is_typeddict(annotation):
        return "JSON", None
    raise ModelError(
        f"cannot map {annotation.__name__} to a SQL type; set json_schema_extra={{'sql_type': ...}}"
    )


def _default(info: FieldInfo) -> Any:
    if info.default is PydanticUndefined or info.default_factory is not None:
        return None
    value = to_jsonable_python(info.default)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def column_for(name: str, info: FieldInfo) -> Column:
    """The column one field asks for."""
    extra = _extra(info)
    annotation, nullable, metadata = _unwrap(info.annotation)
    metadata = [*metadata, *info.metadata]
    override = extra.get("sql_type")
    if override is not None:
        if not isinstance(override, str):
            raise ModelError(f"field {name!r}: sql_type must be a string")
        try:
            parse_sql_type(override)
        except ValueError as error:
            raise ModelError(f"field {name!r}: {error}") from None
        sql_type, values = override, None
    else:
        try:
            sql_type, values = _sql_type(annotation, metadata)
        except ModelError as error:
            raise ModelError(f"field {name!r}: {error}") from None
    for key in ("primary_key", "unique", "index"):
        if key in extra and not isinstance(extra[key], bool):
            raise ModelError(f"field {name!r}: {key} must be true or false")
    return Column(
        type=sql_type,
        nullable=nullable,
        default=_default(info),
        primary_key=bool(extra.get("primary_key", False)),
        unique=bool(extra.get("unique", False)),
        index=bool(extra.get("index", False)),
        enum=values,
    )


def _table(model: type[BaseModel]) -> tuple[Table, dict[str, str]]:
    where = f"{model.__module__}.{model.__qualname__}"
    columns: dict[str, Column] = {}
    renames: dict[str, str] = {}
    for name, info in model.model_fields.items():
        try:
            columns[name] = column_for(name, info)
        except ModelError as error:
            raise ModelError(f"{where}: {error}") from None
        old = _extra(info).get("renamed_from")
        if old is not None:
            if not isinstance(old, str) or not old:
                raise ModelError(f"{where}: field {name!r}: renamed_from must be a field name")
            renames[name] = old
    if not columns:
        raise ModelError(f"{where}: a table needs at least one field")
    if not any(column.primary_key for column in columns.values()) and "id" in columns:
        columns["id"] = columns["id"].model_copy(update={"primary_key": True})
    for name, column in columns.items():
        if column.primary_key and column.nullable:
            # ``id: int | None = None``: None until the database assigns it.
            columns[name] = column.model_copy(update={"nullable": False})
    return Table(columns=columns, model=f"{model.__module__}:{model.__qualname__}"), renames


@paused_gc()
def snapshot_models(
    models: Iterable[type[BaseModel]], sources: Sequence[str] = ()
) -> tuple[Snapshot, Renames]:
    """The snapshot a set of model classes asks for, and the renames they declare."""
    tables: dict[str, Table] = {}
    table_renames: dict[str, str] = {}
    column_renames: dict[tuple[str, str], str] = {}
    for model in models:
        name = table_name(model)
        if name is None:
            continue
        if name in tables:
            raise ModelError(
                f"{tables[name].model} and {model.__module__}:{model.__qualname__} "
                f"both map to table {name!r}"
            )
        tables[name], renames = _table(model)
        column_renames.update({(name, new): old for new, old in renames.items()})
        old_table = model.__dict__.get("__renamed_from__")
        if isinstance(old_table, str) and old_table:
            table_renames[name] = old_table
    return Snapshot(models=tuple(sources), tables=tables), Renames(table_renames, column_renames)


def find_models(module: types.ModuleType) -> list[type[BaseModel]]:
    """Pydantic models defined in ``module`` (not imported into it), in definition order."""
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value is not BaseModel
        and value.__module__ == module.__name__
        and not value.__name__.startswith("_")
    ]


@paused_gc()
def import_models(specs: Sequence[str], project_dir: Path | None = None) -> list[type[BaseModel]]:
    """Import ``module`` or ``module:Class`` specs; the project dir and its ``src/`` go first."""
    if project_dir is not None:
        for path in (project_dir / "src", project_dir):
            if path.is_dir() and str(path.resolve()) not in sys.path:
                sys.path.insert(0, str(path.resolve()))
    found: list[type[BaseModel]] = []
    for spec in specs:
        module_name, _, attribute = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            raise ModelError(f"--models {spec}: no module named {error.name!r}") from None
        except Exception as error:
            raise ModelError(
                f"--models {spec}: importing it failed: {type(error).__name__}: {error}"
            ) from None
        if not attribute:
            found += [model for model in find_models(module) if model not in found]
            continue
        for name in attribute.split(","):
            value = getattr(module, name.strip(), None)
            if not (isinstance(value, type) and issubclass(value, BaseModel)):
                raise ModelError(
                    f"--models {spec}: {module_name} has no Pydantic model {name.strip()!r}"
                )
            if value not in found:
                found.append(value)
    return found
