"""Fixtures for the store tests: the asyncio backend, key prefixes, throwaway servers."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest

from shipshape.stores.redis import connect_sync
from shipshape.testing import RedisServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own on the shared Redis; its keys are deleted after."""
    prefix = f"shipshape-test:{uuid.uuid4().hex}:"
    yield prefix
    client = connect_sync(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def require_binaries(*names: str) -> None:
    """Skip when a server binary is missing; fail instead under SHIPSHAPE_REQUIRE_SERVICES=1."""
    missing = [name for name in names if shutil.which(name) is None]
    if not missing:
        return
    message = f"{', '.join(missing)} not installed"
    if os.environ.get("SHIPSHAPE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} (SHIPSHAPE_REQUIRE_SERVICES=1: services are required)")
    pytest.skip(message)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A redis-server process of this test's own, on a free port."""
    require_binaries("redis-server")
    with RedisServer() as server:
        yield server


@pytest.fixture
def sentinel_binaries() -> None:
    require_binaries("redis-server", "redis-sentinel")


@pytest.fixture
def tls_binaries() -> None:
    require_binaries("redis-server", "openssl")


@pytest.fixture
def redis_binary() -> None:
    require_binaries("redis-server")
