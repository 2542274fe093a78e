"""``rediss://`` reaches a real TLS Redis, verifying its certificate when asked to."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipshape.stores import StoreUnavailable
from shipshape.stores.redis import RedisStore, connect_sync
from shipshape.testing import RedisServer, free_port

pytestmark = pytest.mark.anyio


@pytest.fixture
def tls_server(tmp_path: Path, tls_binaries: None) -> Iterator[tuple[int, Path]]:
    """A redis-server with a TLS port and a self-signed certificate for 127.0.0.1."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-nodes", "-days", "1",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-keyout", str(key), "-out", str(cert),
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    tls_port = free_port()
    tls = (
        "--tls-port", str(tls_port),
        "--tls-cert-file", str(cert),
        "--tls-key-file", str(key),
        "--tls-ca-cert-file", str(cert),
        "--tls-auth-clients", "no",
    )  # fmt: skip
    with RedisServer(args=tls, directory=tmp_path):
        yield tls_port, cert


async def test_rediss_store_decides_over_a_verified_tls_connection(
    tls_server: tuple[int, Path],
) -> None:
    port, cert = tls_server
    store = RedisStore(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}")
    try:
        decisions = [await store.take("k", 2, 0.0) for _ in range(3)]
    finally:
        await store.aclose()

    assert [d.allowed for d in decisions] == [True, True, False]


async def test_rediss_refuses_a_certificate_it_cannot_verify(
    tls_server: tuple[int, Path],
) -> None:
    port, _ = tls_server
    store = RedisStore(f"rediss://127.0.0.1:{port}/0")
    try:
        with pytest.raises(StoreUnavailable, match="certificate verify failed"):
            await store.take("k", 2, 0.0)
    finally:
        await store.aclose()


def test_rediss_sync_client_with_verification_off(tls_server: tuple[int, Path]) -> None:
    port, _ = tls_server
    client = connect_sync(f"rediss://127.0.0.1:{port}/0?ssl_cert_reqs=none")
    try:
        assert client.ping()
    finally:
        client.close()
