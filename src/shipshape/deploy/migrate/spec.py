"""The data of migrations: columns, tables, snapshots, operations and migration files.

Everything that is written under ``migrations/`` is one of these models, so a
file is parsed (and a corrupt one rejected) once, at the edge.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

__all__ = [
    "DATABASE_ENV",
    "SNAPSHOT_FORMAT",
    "Column",
    "Index",
    "Migration",
    "MigrationError",
    "Operation",
    "OperationKind",
    "Phase",
    "Risk",
    "RiskLevel",
    "Snapshot",
    "Table",
    "index_name",
    "parse_sql_type",
]

SNAPSHOT_FORMAT = 1
DATABASE_ENV = "SHIPSHAPE_DATABASE_URL"


class MigrationError(Exception):
    """A migration that failed or cannot run as asked; the message says which and why."""


_TYPE_PATTERN = re.compile(
    r"^(?:INTEGER|BIGINT|SMALLINT|FLOAT|NUMERIC(?:\((\d+),(\d+)\))?|VARCHAR\((\d+)\)|TEXT"
    r"|BOOLEAN|DATE|TIME|TIMESTAMP|TIMESTAMPTZ|INTERVAL|UUID|BLOB|JSON|ENUM)$"
)

RiskLevel = Literal["safe", "data-dependent", "destructive", "backward-incompatible"]
Phase = Literal["expand", "contract"]
OperationKind = Literal[
    "create_table",
    "drop_table",
    "rename_table",
    "add_column",
    "drop_column",
    "alter_column",
    "rename_column",
    "create_index",
    "drop_index",
]


def parse_sql_type(text: str) -> tuple[str, tuple[int, ...]]:
    """Split a snapshot type such as ``VARCHAR(50)`` into its name and arguments."""
    match = _TYPE_PATTERN.match(text)
    if match is None:
        raise ValueError(
            f"unknown SQL type {text!r}; expected one of INTEGER, BIGINT, SMALLINT, FLOAT, "
            "NUMERIC, NUMERIC(p,s), VARCHAR(n), TEXT, BOOLEAN, DATE, TIME, TIMESTAMP, "
            "TIMESTAMPTZ, INTERVAL, UUID, BLOB, JSON, ENUM"
        )
    name = text.split("(", 1)[0]
    args = tuple(int(group) for group in match.groups() if group is not None)
    return name, args


class Column(BaseModel):
    """One column: its SQL type, nullability, server default and index markers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    nullable: bool = False
    default: JsonValue = None
    primary_key: bool = False
    unique: bool = False
    index: bool = False
    enum: tuple[str, ...] | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        parse_sql_type(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _one_index(cls, data: Any) -> Any:
        """A column has at most one index: the primary key's, a unique one, or a plain one."""
        if isinstance(data, dict) and (data.get("primary_key") or data.get("unique")):
            data = {**data, "index": False}
            if data.get("primary_key"):
                data["unique"] = False
        return data

    def shape(self) -> tuple[str, bool, JsonValue, tuple[str, ...] | None]:
        """What ``ALTER COLUMN`` changes: type, nullability, default (and enum values)."""
        return (self.type, self.nullable, self.default, self.enum)


class Table(BaseModel):
    """One table: its columns in order, and the model it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: dict[str, Column]
    model: str = ""


class Snapshot(BaseModel):
    """The schema that a set of models asks for, as stored with each migration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal[1] = 1
    models: tuple[str, ...] = ()
    tables: dict[str, Table] = Field(default_factory=dict)


class Index(BaseModel):
    """A single-column index derived from the column's ``index``/``unique`` markers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    column: str
    unique: bool


class Risk(BaseModel):
    """How risky one operation is, with a stable code and the reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: RiskLevel
    code: str
    why: str


class Operation(BaseModel):
    """One schema change; ``before``/``after`` carry what the inverse needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: OperationKind
    table: str
    column: str | None = None
    to: str | None = None
    before: Column | None = None
    after: Column | None = None
    definition: Table | None = None
    index: Index | None = None
    risk: Risk | None = None


class Migration(BaseModel):
    """One versioned migration file: its operations both ways and the snapshot after it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal[1] = 1
    id: str = Field(pattern=r"^\d{4,}$")
    name: str
    phase: Phase = "expand"
    up: tuple[Operation, ...]
    down: tuple[Operation, ...]
    snapshot: Snapshot

    def checksum(self) -> str:
        """SHA-256 of the canonical JSON of the file: layout changes do not count."""
        data = self.model_dump(mode="json")
        return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def index_name(table: str, column: str, unique: bool) -> str:
    """``ix_<table>_<column>`` or ``uq_<table>_<column>``, kept under PostgreSQL's 63 bytes."""
    name = f"{'uq' if unique else 'ix'}_{table}_{column}"
    if len(name.encode()) <= 60:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name.encode()[:51].decode(errors='ignore')}_{digest}"
