"""Schema migrations from Pydantic models: snapshots, diffs with risk classes, apply/rollback.

``compute_migration`` is the course's seed and the per-table core of
``diff_snapshots``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shipshape.deploy.migrate.diff import (
    ChangedField,
    FieldType,
    MigrationSteps,
    Renames,
    apply_operations,
    assess,
    compute_migration,
    diff_snapshots,
    invert,
    split_phases,
)
from shipshape.deploy.migrate.files import (
    DestructiveChange,
    MigrationFileError,
    last_snapshot,
    load_migrations,
    next_migrations,
    same_schema,
    write_migrations,
)
from shipshape.deploy.migrate.models import ModelError, import_models, snapshot_models
from shipshape.deploy.migrate.spec import (
    DATABASE_ENV,
    Column,
    Index,
    Migration,
    MigrationError,
    Operation,
    Risk,
    Snapshot,
    Table,
)

if TYPE_CHECKING:
    from shipshape.deploy.migrate.db import (
        HISTORY_TABLE,
        MigrationState,
        apply_migrations,
        database_url,
        migration_states,
        open_engine,
        pending_migrations,
        rollback_migrations,
    )
    from shipshape.deploy.migrate.sql import render_sql, run_operations

# The database side needs SQLAlchemy and Alembic: imported on first use, so that
# ``import shipshape`` stays light.
_LAZY = {
    "HISTORY_TABLE": "db",
    "MigrationState": "db",
    "apply_migrations": "db",
    "database_url": "db",
    "migration_states": "db",
    "open_engine": "db",
    "pending_migrations": "db",
    "rollback_migrations": "db",
    "render_sql": "sql",
    "run_operations": "sql",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "DATABASE_ENV",
    "HISTORY_TABLE",
    "ChangedField",
    "Column",
    "DestructiveChange",
    "FieldType",
    "Index",
    "Migration",
    "MigrationError",
    "MigrationFileError",
    "MigrationState",
    "MigrationSteps",
    "ModelError",
    "Operation",
    "Renames",
    "Risk",
    "Snapshot",
    "Table",
    "apply_migrations",
    "apply_operations",
    "assess",
    "compute_migration",
    "database_url",
    "diff_snapshots",
    "import_models",
    "invert",
    "last_snapshot",
    "load_migrations",
    "migration_states",
    "next_migrations",
    "open_engine",
    "pending_migrations",
    "render_sql",
    "rollback_migrations",
    "run_operations",
    "same_schema",
    "snapshot_models",
    "split_phases",
    "write_migrations",
]
