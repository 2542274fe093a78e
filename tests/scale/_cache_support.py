"""Helpers of the cache tests: unique Redis namespaces, deleted after each test."""

from __future__ import annotations

import contextlib
import secrets

import redis

from tests.conftest import REDIS_URL

_used: list[str] = []


def namespace(prefix: str = "test:cache") -> str:
    """A namespace of this test's own; its keys are deleted when the test ends."""
    name = f"{prefix}:{secrets.token_hex(6)}"
    _used.append(name)
    return name


def forget_namespaces() -> None:
    """Delete the keys of every namespace handed out since the last call."""
    if not _used:
        return
    with contextlib.suppress(redis.exceptions.RedisError):
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
        try:
            for name in _used:
                keys = list(client.scan_iter(match=f"{name}:*", count=1000))
                if keys:
                    client.delete(*keys)
        finally:
            client.close()
    _used.clear()
