"""Shared fixtures: real Redis and PostgreSQL, skipped (or failed in CI) when missing."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REDIS_URL = os.environ.get("SHIPSHAPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "SHIPSHAPE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_SERVICES = os.environ.get("SHIPSHAPE_REQUIRE_SERVICES") == "1"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> None:
    """Skip when the service is missing; fail instead under SHIPSHAPE_REQUIRE_SERVICES=1."""
    if _reachable(url, default_port):
        return
    message = f"{name} is not reachable at {url}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (SHIPSHAPE_REQUIRE_SERVICES=1: services are required)")
    pytest.skip(f"{message}; start it or set SHIPSHAPE_TEST_{name.upper()}_URL")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a running Redis server (database 0 of 127.0.0.1:6379 by default)."""
    require_service("redis", REDIS_URL, 6379)
    return REDIS_URL


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of a running PostgreSQL database (``test`` on 127.0.0.1 by default)."""
    require_service("postgres", POSTGRES_URL, 5432)
    return POSTGRES_URL


def pick_free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def free_port() -> int:
    return pick_free_port()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests (``@pytest.mark.anyio``) run on asyncio."""
    return "asyncio"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for one test: a SQLite file, then a fresh PostgreSQL schema."""
    from tests.databases import postgres_schema  # SQLAlchemy only for the tests using it

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'database.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url
