"""Databases for tests: SQL helpers, fresh PostgreSQL schemas, migrations applied and
rolled back (the ``database`` fixture is in ``tests/conftest.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from shipshape.deploy.migrate import (
    Migration,
    apply_migrations,
    open_engine,
    rollback_migrations,
)


def execute(url: str, *statements: str) -> None:
    """Run SQL statements on a database, in one transaction."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(sa.text(statement))
    finally:
        engine.dispose()


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    """The rows a query returns, as tuples."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(query))]
    finally:
        engine.dispose()


@contextmanager
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, as a URL whose search_path points at it;
    dropped with everything in it afterwards."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    execute(postgres_url, f"create schema {schema}")
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        execute(postgres_url, f"drop schema {schema} cascade")


def apply(url: str, migrations: list[Migration], *, contract: bool = False) -> list[str]:
    """Apply pending migrations to the database at ``url``; the ids applied."""
    engine = open_engine(url)
    try:
        return apply_migrations(engine, migrations, contract=contract)
    finally:
        engine.dispose()


def rollback(url: str, migrations: list[Migration], steps: int) -> list[str]:
    """Undo the last ``steps`` migrations at ``url``; the ids undone."""
    engine = open_engine(url)
    try:
        return rollback_migrations(engine, migrations, steps)
    finally:
        engine.dispose()
