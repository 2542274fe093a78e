"""Fixtures for the store tests: the asyncio backend, key prefixes, throwaway servers."""

from __future__ import annotations

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


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A redis-server process of this test's own, on a free port."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with RedisServer() as server:
        yield server
