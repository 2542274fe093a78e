"""A Redis lock for one loader at a time across processes.

``SET key token NX PX ttl`` takes it; a compare-and-delete script releases it only if
it still holds our token (an expired lock taken over by another process is left
alone); a keeper task renews it every third of its lifetime while the loader runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisLocks"]

_HERE = Path(__file__).parent


class RedisLocks:
    """Locks on one Redis client; ``ttl`` (seconds) bounds how long a dead holder blocks."""

    def __init__(self, redis: Redis, ttl: float, failures: tuple[type[BaseException], ...]) -> None:
        self._redis = redis
        self.ttl = ttl
        self._ttl_ms = max(1, int(ttl * 1000))
        self._failures = failures
        self._release = redis.register_script((_HERE / "release_lock.lua").read_text())
        self._extend = redis.register_script((_HERE / "extend_lock.lua").read_text())

    @staticmethod
    def new_token() -> str:
        return secrets.token_hex(16)

    async def acquire(self, key: str, token: str) -> bool:
        """Take the lock if it is free; ``True`` when we now hold it."""
        return bool(await self._redis.set(key, token, nx=True, px=self._ttl_ms))

    async def release(self, key: str, token: str) -> bool:
        """Delete the lock if it still holds ``token``."""
        return bool(await self._release(keys=[key], args=[token]))

    async def extend(self, key: str, token: str) -> bool:
        """Push the lock's expiry back by ``ttl`` if it still holds ``token``."""
        return bool(await self._extend(keys=[key], args=[token, self._ttl_ms]))

    @contextlib.asynccontextmanager
    async def kept(self, key: str, token: str) -> AsyncIterator[None]:
        """Renew the held lock in the background for the duration of the block."""
        keeper = asyncio.create_task(self._keep(key, token))
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _keep(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                if not await self.extend(key, token):
                    return
            except self._failures:
                return
