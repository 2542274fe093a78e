"""Redis URLs are parsed once, at the edge, with errors that name the part to fix."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shipshape.stores import StoreError, check_store_url, open_store
from shipshape.stores._redis_url import redact_url
from shipshape.stores.redis import RedisStore, connect, connect_sync, parse_redis_url
from shipshape.testing import RedisServer


def test_plain_url_gives_host_port_db_and_fast_failing_timeouts() -> None:
    target = parse_redis_url("redis://cache.internal:6380/3")

    assert target.scheme == "redis"
    assert target.kwargs == {
        "host": "cache.internal",
        "port": 6380,
        "db": 3,
        "socket_timeout": 0.5,
        "socket_connect_timeout": 0.5,
    }


def test_defaults_are_localhost_6379_db_0() -> None:
    kwargs = parse_redis_url("redis://").kwargs

    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("127.0.0.1", 6379, 0)


def test_credentials_and_query_options_are_decoded() -> None:
    target = parse_redis_url(
        "redis://app:p%40ss@h:1/0?socket_timeout=0.2&db=5&client_name=api&max_connections=20"
    )

    assert target.kwargs["username"] == "app"
    assert target.kwargs["password"] == "p@ss"
    assert target.kwargs["socket_timeout"] == 0.2
    assert target.kwargs["db"] == 5
    assert target.kwargs["client_name"] == "api"
    assert target.kwargs["max_connections"] == 20


def test_rediss_turns_tls_on_and_accepts_tls_options() -> None:
    target = parse_redis_url("rediss://h:6380?ssl_cert_reqs=none&ssl_ca_certs=/ca.pem")

    assert target.kwargs["ssl"] is True
    assert target.kwargs["ssl_cert_reqs"] == "none"
    assert target.kwargs["ssl_ca_certs"] == "/ca.pem"


def test_unix_socket_url() -> None:
    target = parse_redis_url("unix:///run/redis.sock?db=2")

    assert target.kwargs["unix_socket_path"] == "/run/redis.sock"
    assert target.kwargs["db"] == 2


def test_sentinel_url_lists_sentinels_service_and_db() -> None:
    target = parse_redis_url(
        "redis+sentinel://:secret@s1:26379,s2,[::1]:26380/mymaster/4"
        "?sentinel_password=watch&socket_timeout=0.3"
    )

    assert target.is_sentinel
    assert target.sentinels == (("s1", 26379), ("s2", 26379), ("::1", 26380))
    assert target.service == "mymaster"
    assert target.kwargs["db"] == 4
    assert target.kwargs["password"] == "secret"
    assert "sentinel_password" not in target.kwargs
    assert target.sentinel_kwargs == {
        "socket_timeout": 0.3,
        "socket_connect_timeout": 0.5,
        "password": "watch",
    }


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://h:6379", "unsupported Redis URL scheme 'http'"),
        ("redis://h:99999", "bad port '99999'"),
        ("redis://h:6379/zero", "database 'zero'"),
        ("redis://h?sockettimeout=1", "unknown option 'sockettimeout'"),
        ("redis://h?socket_timeout=-1", "option socket_timeout='-1'"),
        ("redis://h?db=x", "option db='x'"),
        ("redis://h?ssl_cert_reqs=none", "unknown option 'ssl_cert_reqs'"),
        ("redis+sentinel:///mymaster", "names no Sentinel host"),
        ("redis+sentinel://s1:26379", "must end with /SERVICE"),
        ("redis+sentinel://s1:26379/a/1/x", "must end with /SERVICE"),
        ("unix://", "needs a socket path"),
    ],
)
def test_bad_urls_raise_store_error_naming_the_problem(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message.replace("?", r"\?").replace("[", r"\[")):
        parse_redis_url(url)


def test_errors_never_show_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        parse_redis_url("redis://user:hunter2@h:6379/0?password=hunter3&bad=1")

    assert "hunter2" not in str(caught.value)
    assert "hunter3" not in str(caught.value)
    assert "user:***@h:6379" in str(caught.value)


def test_password_options_are_hidden_whatever_their_case() -> None:
    with pytest.raises(StoreError) as caught:
        parse_redis_url("redis://h:6379/0?Password=hunter2&bad=1")

    assert "hunter2" not in str(caught.value)
    assert "Password=***" in str(caught.value)


@pytest.mark.parametrize(
    "make",
    [parse_redis_url, open_store, RedisStore, connect, connect_sync],
    ids=lambda make: make.__name__,
)
def test_a_malformed_host_is_a_store_error_without_the_password(make: object) -> None:
    with pytest.raises(StoreError, match=r"malformed .*URL 'redis://:\*\*\*@\[::1/0'") as caught:
        make("redis://:hunter2@[::1/0")  # type: ignore[operator]

    assert "hunter2" not in str(caught.value)
    assert "Invalid IPv6 URL" in str(caught.value)


def test_store_url_is_redacted() -> None:
    store = RedisStore("redis://user:hunter2@127.0.0.1:6379/0")
    try:
        assert store.url == "redis://user:***@127.0.0.1:6379/0"
    finally:
        asyncio.run(store.aclose())


def test_open_store_rejects_unknown_schemes() -> None:
    with pytest.raises(StoreError, match="unsupported store URL scheme 'mongodb'"):
        open_store("mongodb://h")


def test_open_store_picks_the_store_by_scheme() -> None:
    memory = open_store()
    redis_store = open_store("redis://127.0.0.1:6379/0?prefix=app:")

    assert type(memory).__name__ == "MemoryStore"
    assert isinstance(redis_store, RedisStore)
    assert redis_store.prefix == "app:"
    asyncio.run(redis_store.aclose())


@pytest.mark.redis
def test_connect_and_connect_sync_reach_a_real_server(redis_url: str) -> None:
    async def round_trip() -> bool:
        client = connect(redis_url)
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    sync_client = connect_sync(redis_url)
    try:
        assert sync_client.ping()
    finally:
        sync_client.close()
    assert asyncio.run(round_trip())


def test_connect_over_a_unix_socket(tmp_path: Path, redis_binary: None) -> None:
    socket_path = tmp_path / "redis.sock"
    with RedisServer(args=("--unixsocket", str(socket_path)), directory=tmp_path):
        client = connect_sync(f"unix://{socket_path}?db=1")
        try:
            client.set("k", "v")
            assert client.get("k") == b"v"
        finally:
            client.close()


def test_overrides_win_over_url_options() -> None:
    client = connect_sync("redis://127.0.0.1:6379/0?socket_timeout=0.2", socket_timeout=3.0)
    try:
        assert client.connection_pool.connection_kwargs["socket_timeout"] == 3.0
    finally:
        client.close()


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("redis://[::1:6379/0?password=hunter2", "hunter2"),
        ("redis://[::1:6379/0?db=1&Sentinel_Password=hunter2", "hunter2"),
    ],
)
def test_a_malformed_url_hides_every_password(url: str, secret: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert secret not in str(caught.value)
    assert "***" in str(caught.value)


def test_a_password_with_an_unencoded_slash_is_still_hidden_when_redacting() -> None:
    # the '/' ends the netloc early, so the URL parses with no userinfo at all
    assert redact_url("redis://user:hun/ter?2@host:6379/0") == "redis://user:***@host:6379/0"


@pytest.mark.parametrize(
    "url",
    [
        "memory://",
        "redis://127.0.0.1:6379/0?prefix=svc:&socket_timeout=2",
        "redis+sentinel://127.0.0.1:26379/mymaster/0",
        "unix:///run/redis.sock?db=1",
    ],
)
def test_check_store_url_accepts_what_open_store_opens(url: str) -> None:
    check_store_url(url)
    open_store(url)


@pytest.mark.parametrize(
    "url", ["foo://x", "redis://[::1:6379/0?password=hunter2", "redis://h:6379/0?bogus=1"]
)
def test_check_store_url_refuses_what_open_store_refuses(url: str) -> None:
    with pytest.raises(StoreError) as checked:
        check_store_url(url)
    with pytest.raises(StoreError) as opened:
        open_store(url)
    assert str(checked.value) == str(opened.value)
    assert "hunter2" not in str(checked.value)
