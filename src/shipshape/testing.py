"""Test doubles for code built on shipshape: a manual clock and throwaway Redis servers.

``ManualClock`` replaces ``time.monotonic`` in the memory store, so a rate-limit test
can move time instead of sleeping. ``RedisServer`` and ``SentinelCluster`` start real
``redis-server`` / ``redis-sentinel`` processes on free ports of 127.0.0.1 in a
temporary directory and stop them afterwards; they can be killed and restarted to
test what happens when Redis goes away.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from shipshape.stores.memory import MemoryStore

__all__ = ["ManualClock", "MemoryStore", "RedisServer", "SentinelCluster", "free_port"]


class ManualClock:
    """A clock that moves only when told; call it like ``time.monotonic``."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0) and return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock cannot advance by a negative amount ({seconds})")
        self.now += seconds
        return self.now


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Reply = str | int | list["Reply"] | None


def _read_reply(stream: BinaryIO) -> Reply:
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed mid-reply")
    kind, body = line[:1], line[1:-2].decode(errors="replace")
    if kind == b"+":
        return body
    if kind == b"-":
        raise RedisReplyError(body)
    if kind == b":":
        return int(body)
    if kind == b"$":
        if int(body) < 0:
            return None
        return stream.read(int(body) + 2)[:-2].decode(errors="replace")
    if kind == b"*":
        return None if int(body) < 0 else [_read_reply(stream) for _ in range(int(body))]
    raise ConnectionError(f"unexpected reply {line!r}")


class RedisReplyError(Exception):
    """An error reply (``-ERR ...``) to a command sent by ``RedisServer.command``."""


def _command(port: int, *words: str, timeout: float = 1.0) -> Reply:
    """Send one command to a local Redis or Sentinel and return its decoded reply."""
    request = f"*{len(words)}\r\n" + "".join(
        f"${len(word.encode())}\r\n{word}\r\n" for word in words
    )
    with socket.create_connection(("127.0.0.1", port), timeout) as sock:
        sock.sendall(request.encode())
        with sock.makefile("rb") as stream:
            return _read_reply(stream)


class RedisServer:
    """A ``redis-server`` process on 127.0.0.1, with no persistence.

    Use as a context manager, or call ``start()`` / ``stop()``. ``kill()`` ends it
    abruptly (SIGKILL); ``start()`` again brings it back on the same port.
    """

    binary = "redis-server"

    def __init__(
        self,
        port: int | None = None,
        *,
        args: tuple[str, ...] = (),
        directory: Path | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        if shutil.which(self.binary) is None:
            raise FileNotFoundError(f"{self.binary} is not installed or not on PATH")
        self.port = port if port is not None else free_port()
        self.args = args
        self.startup_timeout = startup_timeout
        self._own_directory = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="shipshape-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def command_line(self) -> list[str]:
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--daemonize", "no",
            "--loglevel", "warning",
            *self.args,
        ]  # fmt: skip

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> RedisServer:
        if self.running:
            return self
        log = (self.directory / f"{self.binary}-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            self.command_line(), stdout=log, stderr=subprocess.STDOUT, cwd=self.directory
        )
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.binary} on port {self.port} exited with {self.process.returncode}; "
                    f"log: {self.log_text()[-2000:]}"
                )
            with contextlib.suppress(OSError):
                if _command(self.port, "PING") == "PONG":
                    return
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(
            f"{self.binary} on port {self.port} not ready in {self.startup_timeout}s"
        )

    def log_text(self) -> str:
        path = self.directory / f"{self.binary}-{self.port}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def command(self, *words: str) -> Reply:
        """Send one command (``"INFO", "replication"``) and return the decoded reply."""
        return _command(self.port, *words)

    def kill(self) -> None:
        """End the process abruptly, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()

    def close(self) -> None:
        self.stop()
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _SentinelServer(RedisServer):
    binary = "redis-sentinel"

    def __init__(self, config: str, *, directory: Path, port: int | None = None) -> None:
        super().__init__(port, directory=directory)
        self.config_path = directory / f"sentinel-{self.port}.conf"
        self.config_path.write_text(f"port {self.port}\nbind 127.0.0.1\n{config}")

    def command_line(self) -> list[str]:
        return [self.binary, str(self.config_path)]


class SentinelCluster:
    """A primary, its replicas and Sentinels watching them, all on 127.0.0.1.

    Timeouts are short (``down_after_ms`` 1000, ``failover_timeout_ms`` 3000) so a
    killed primary is replaced in a few seconds. ``url`` is the ``redis+sentinel://``
    URL shipshape's stores accept.
    """

    def __init__(
        self,
        *,
        service: str = "mymaster",
        replicas: int = 1,
        sentinels: int = 3,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
        startup_timeout: float = 20.0,
    ) -> None:
        self.service = service
        self.startup_timeout = startup_timeout
        self.directory = Path(tempfile.mkdtemp(prefix="shipshape-sentinel-"))
        no_sync_delay = ("--repl-diskless-sync-delay", "0")
        self.primary = RedisServer(directory=self.directory, args=no_sync_delay)
        replica_of = (*no_sync_delay, "--replicaof", "127.0.0.1", str(self.primary.port))
        self.replicas = [
            RedisServer(directory=self.directory, args=replica_of) for _ in range(replicas)
        ]
        quorum = sentinels // 2 + 1
        config = (
            f"dir {self.directory}\n"
            f"sentinel monitor {service} 127.0.0.1 {self.primary.port} {quorum}\n"
            f"sentinel down-after-milliseconds {service} {down_after_ms}\n"
            f"sentinel failover-timeout {service} {failover_timeout_ms}\n"
            f"sentinel parallel-syncs {service} 1\n"
        )
        # Sentinels that already know each other skip ~2 s of hello messages.
        ports = [free_port() for _ in range(sentinels)]
        ids = [secrets.token_hex(20) for _ in range(sentinels)]
        self.sentinels = [
            _SentinelServer(
                config
                + f"sentinel myid {ids[index]}\n"
                + "".join(
                    f"sentinel known-sentinel {service} 127.0.0.1 {port} {ids[other]}\n"
                    for other, port in enumerate(ports)
                    if other != index
                ),
                directory=self.directory,
                port=ports[index],
            )
            for index in range(sentinels)
        ]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}"

    @property
    def servers(self) -> list[RedisServer]:
        return [self.primary, *self.replicas]

    def start(self) -> SentinelCluster:
        deadline = time.monotonic() + self.startup_timeout
        try:
            self.primary.start()
            for replica in self.replicas:
                replica.start()
            self._wait(deadline, self._replicas_in_sync, "replicas to sync")
            for sentinel in self.sentinels:
                sentinel.start()
            self._wait(deadline, self._sentinels_agree, "Sentinels to find each other")
        except BaseException:
            self.close()
            raise
        return self

    def master_address(self) -> tuple[str, int]:
        """The master's address according to the first Sentinel that answers."""
        for sentinel in self.sentinels:
            with contextlib.suppress(OSError, RedisReplyError):
                reply = sentinel.command("SENTINEL", "get-master-addr-by-name", self.service)
                if isinstance(reply, list) and len(reply) == 2:
                    return str(reply[0]), int(str(reply[1]))
        raise ConnectionError(f"no Sentinel answered for {self.service!r}")

    def server_at(self, address: tuple[str, int]) -> RedisServer:
        return next(server for server in self.servers if server.address == address)

    def wait_for_new_master(self, old: tuple[str, int], timeout: float = 15.0) -> tuple[str, int]:
        """Block until the Sentinels report a master other than ``old``; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(ConnectionError):
                address = self.master_address()
                if address != old:
                    return address
            time.sleep(0.1)
        raise TimeoutError(f"no failover away from {old} within {timeout}s")

    def failover(self, timeout: float = 15.0) -> tuple[str, int]:
        """Ask the Sentinels for a manual failover (the old master stays up, demoted
        to a replica) and block until a new master is reported; return it."""
        old = self.master_address()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for sentinel in self.sentinels:
                # Refused while a Sentinel has no fresh view of a replica yet
                # (NOGOODSLAVE) or a failover is already under way (INPROG).
                with contextlib.suppress(OSError, RedisReplyError):
                    sentinel.command("SENTINEL", "failover", self.service)
                    break
            with contextlib.suppress(TimeoutError):
                return self.wait_for_new_master(old, timeout=min(2.0, timeout))
        raise TimeoutError(f"no manual failover away from {old} within {timeout}s")

    def _replicas_in_sync(self) -> bool:
        info = str(self.primary.command("INFO", "replication"))
        return f"connected_slaves:{len(self.replicas)}" in info and all(
            "master_link_status:up" in str(replica.command("INFO", "replication"))
            for replica in self.replicas
        )

    def _sentinels_agree(self) -> bool:
        for sentinel in self.sentinels:
            fields = sentinel.command("SENTINEL", "master", self.service)
            assert isinstance(fields, list)
            values = dict(zip(fields[::2], fields[1::2], strict=False))
            if values.get("num-other-sentinels") != str(len(self.sentinels) - 1):
                return False
            if values.get("num-slaves") != str(len(self.replicas)):
                return False
        return True

    def _wait(self, deadline: float, ready: Callable[[], bool], what: str) -> None:
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, RedisReplyError):
                if ready():
                    return
            time.sleep(0.05)
        raise TimeoutError(f"timed out waiting for {what}")

    def close(self) -> None:
        for server in [*self.sentinels, *self.servers]:
            server.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> SentinelCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
