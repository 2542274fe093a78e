"""Applying migrations to a database: history, locking, apply, rollback, status.

Each migration runs in its own transaction together with its history row in
``shipshape_migrations``. Before reading the history, the transaction takes a
lock: ``pg_advisory_xact_lock`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite.
So replicas that start at once apply each migration exactly once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from shipshape.deploy.migrate.files import load_migrations
from shipshape.deploy.migrate.spec import DATABASE_ENV, Migration, MigrationError, Snapshot
from shipshape.deploy.migrate.sql import run_operations

__all__ = [
    "DATABASE_ENV",
    "HISTORY_TABLE",
    "MigrationError",
    "MigrationState",
    "apply_migrations",
    "database_url",
    "migration_states",
    "open_engine",
    "pending_migrations",
    "read_migration_states",
    "rollback_migrations",
    "sqlite_file",
]

HISTORY_TABLE = "shipshape_migrations"
CHECK_CONNECT_TIMEOUT = 10  # seconds; read_migration_states only
State = Literal["applied", "pending", "modified", "missing"]

_history = sa.Table(
    HISTORY_TABLE,
    sa.MetaData(),
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("phase", sa.String(16), nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class MigrationState:
    """Where one migration stands in one database."""

    id: str
    name: str
    phase: str
    state: State
    checksum: str
    applied_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def database_url(value: str | None = None, project_dir: Path | None = None) -> str:
    """The database: ``value`` (a URL or SQLite file path), the env var, or ``shipshape.db``."""
    value = value or os.environ.get(DATABASE_ENV) or str((project_dir or Path()) / "shipshape.db")
    if "://" not in value:
        return f"sqlite:///{Path(value).resolve()}"
    if value.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite ``url`` names, or None (another database, or in memory)."""
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise ValueError("not a database URL or file path") from None
    if parsed.get_backend_name() != "sqlite":
        return None
    path = parsed.database
    if not path or path == ":memory:" or parsed.query.get("mode") == "memory":
        return None
    return Path(path.removeprefix("file:")) if parsed.query.get("uri") else Path(path)


def open_engine(url: str) -> Engine:
    """An engine whose transactions include DDL (SQLite: ``BEGIN IMMEDIATE``)."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise ValueError(f"--database {url}: not a database URL or file path") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = sa.create_engine(parsed, poolclass=NullPool, connect_args={"timeout": 60})

            @sa.event.listens_for(engine, "connect")
            def _autocommit(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.isolation_level = None

            @sa.event.listens_for(engine, "begin")
            def _begin(connection: Connection) -> None:
                connection.exec_driver_sql("BEGIN IMMEDIATE")

            return engine
        return sa.create_engine(parsed, poolclass=NullPool)
    except (ImportError, sa.exc.NoSuchModuleError) as error:
        raise ValueError(f"--database {parsed.render_as_string()}: no driver ({error})") from None


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        schema = connection.execute(sa.text("select current_schema()")).scalar_one()
        digest = hashlib.sha256(f"{HISTORY_TABLE}:{schema}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        connection.execute(sa.text("select pg_advisory_xact_lock(:key)"), {"key": key})
    _history.create(connection, checkfirst=True)


def _history_rows(connection: Connection) -> dict[str, sa.Row[Any]]:
    rows = connection.execute(sa.select(_history).order_by(_history.c.id)).all()
    return {row.id: row for row in rows}


def _run(connection: Connection, migration: Migration, snapshot: Snapshot, direction: str) -> None:
    context = MigrationContext.configure(connection=connection)
    ops = migration.up if direction == "up" else migration.down
    try:
        run_operations(Operations(context), ops, snapshot)
    except (sa.exc.SQLAlchemyError, MigrationError) as error:
        reason = (
            str(error.orig if isinstance(error, sa.exc.DBAPIError) else error)
            .strip()
            .splitlines()[0]
        )
        raise MigrationError(
            f"migration {migration.id}_{migration.name} ({direction}) failed "
            f"and was rolled back: {reason}"
        ) from error


def _verify(migration: Migration, row: sa.Row[Any]) -> None:
    if row.checksum != migration.checksum():
        raise MigrationError(
            f"migration {migration.id}_{migration.name} was changed after it was applied "
            f"(checksum {row.checksum[:12]} in the database, {migration.checksum()[:12]} on disk)"
        )


def apply_migrations(
    engine: Engine, migrations: Sequence[Migration], *, contract: bool = False
) -> list[str]:
    """Apply pending migrations in order, each in its own locked transaction.

    Stops before the first contract migration unless ``contract`` is true.
    Returns the ids this call applied (other replicas may have applied the rest).
    """
    applied: list[str] = []
    previous = Snapshot()
    with engine.connect() as connection:
        for migration in migrations:
            with connection.begin():
                _lock(connection)
                row = _history_rows(connection).get(migration.id)
                if row is not None:
                    _verify(migration, row)
                elif migration.phase == "contract" and not contract:
                    break
                else:
                    _run(connection, migration, previous, "up")
                    connection.execute(
                        _history.insert().values(
                            id=migration.id,
                            name=migration.name,
                            phase=migration.phase,
                            checksum=migration.checksum(),
                            applied_at=dt.datetime.now(dt.UTC),
                        )
                    )
                    applied.append(migration.id)
            previous = migration.snapshot
    return applied


def _count(number: int) -> str:
    return f"{number} migration" if number == 1 else f"{number} migrations"


def _applied(number: int) -> str:
    return "none is" if not number else f"only {number} {'is' if number == 1 else 'are'}"


def rollback_migrations(
    engine: Engine, migrations: Sequence[Migration], steps: int = 1, *, exact: bool = False
) -> list[str]:
    """Undo the last ``steps`` applied migrations, newest first, each in its own transaction.

    Fewer applied migrations than ``steps``: all of them are undone, or, with
    ``exact``, none is and :class:`ValueError` names how many are applied.
    """
    if steps < 0:
        raise ValueError(f"cannot roll back {_count(steps)}: the count must not be negative")
    by_id = {migration.id: migration for migration in migrations}
    undone: list[str] = []
    with engine.connect() as connection:
        for step in range(steps):
            with connection.begin():
                _lock(connection)
                rows = _history_rows(connection)
                if exact and step == 0 and len(rows) < steps:
                    raise ValueError(
                        f"cannot roll back {_count(steps)}: {_applied(len(rows))} applied; "
                        "nothing was rolled back"
                    )
                if not rows:
                    break
                last = max(rows, key=int)
                migration = by_id.get(last)
                if migration is None:
                    raise MigrationError(
                        f"applied migration {last}_{rows[last].name} has no file to roll back with"
                    )
                _verify(migration, rows[last])
                _run(connection, migration, migration.snapshot, "down")
                connection.execute(_history.delete().where(_history.c.id == last))
                undone.append(last)
    return undone


def migration_states(engine: Engine, migrations: Sequence[Migration]) -> list[MigrationState]:
    """Each migration on disk (and each applied one without a file) with its state."""
    with engine.connect() as connection:
        rows = _history_rows(connection) if sa.inspect(connection).has_table(HISTORY_TABLE) else {}
    states: list[MigrationState] = []
    for migration in migrations:
        row = rows.pop(migration.id, None)
        checksum = migration.checksum()
        if row is None:
            states.append(
                MigrationState(migration.id, migration.name, migration.phase, "pending", checksum)
            )
        else:
            state: State = "applied" if row.checksum == checksum else "modified"
            states.append(
                MigrationState(
                    migration.id,
                    migration.name,
                    migration.phase,
                    state,
                    checksum,
                    row.applied_at.isoformat(),
                )
            )
    states += [
        MigrationState(
            row.id, row.name, row.phase, "missing", row.checksum, row.applied_at.isoformat()
        )
        for row in rows.values()
    ]
    return sorted(states, key=lambda state: int(state.id))


def pending_migrations(
    project_dir: str | Path, database: str | None = None, directory: str = "migrations"
) -> list[MigrationState]:
    """Migrations under ``project_dir/migrations`` not yet applied to ``database``.

    ``database`` is a SQLAlchemy URL or SQLite path; default ``$SHIPSHAPE_DATABASE_URL``
    or ``shipshape.db`` in the project. Used by ``shipshape check``.
    """
    root = Path(project_dir)
    migrations = load_migrations(root / directory)
    engine = open_engine(database_url(database, root))
    try:
        return [state for state in migration_states(engine, migrations) if state.state == "pending"]
    finally:
        engine.dispose()


def read_migration_states(
    migrations: Sequence[Migration], database: str | None = None, project_dir: Path | None = None
) -> list[MigrationState]:
    """:func:`migration_states` without writing anything: no lock, no history table.

    A SQLite file is opened read-only; one that does not exist is not created:
    every migration is pending there. Used by ``shipshape check``.
    """
    url = database_url(database, project_dir)
    path = sqlite_file(url)
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if path is None or not path.is_file():
            return [
                MigrationState(m.id, m.name, m.phase, "pending", m.checksum()) for m in migrations
            ]
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        engine = sa.create_engine(
            "sqlite://",
            creator=lambda: sqlite3.connect(uri, uri=True, timeout=60, check_same_thread=False),
            poolclass=NullPool,
        )
    else:
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            # a report must not hang for minutes on an unroutable host
            parsed = parsed.update_query_dict({"connect_timeout": str(CHECK_CONNECT_TIMEOUT)})
        engine = open_engine(parsed.render_as_string(hide_password=False))
    try:
        return migration_states(engine, migrations)
    finally:
        engine.dispose()
