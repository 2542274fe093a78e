"""Parse Redis URLs (``redis://``, ``rediss://``, ``unix://``, ``redis+sentinel://``) once.

Options are checked here, at the edge, so a typo in a query string is a clear
``StoreError`` naming the option instead of a ``TypeError`` at the first request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from shipshape.stores.base import StoreError

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_SOCKET_TIMEOUT",
    "REDIS_SCHEMES",
    "RedisURL",
    "parse_redis_url",
    "redact_url",
]

DEFAULT_SOCKET_TIMEOUT = 0.5
DEFAULT_CONNECT_TIMEOUT = 0.5
DEFAULT_SENTINEL_PORT = 26379
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel")


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError("must be > 0")
    return number


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be >= 0")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be > 0")
    return number


def _boolean(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _cert_reqs(value: str) -> str:
    if value.lower() not in ("none", "optional", "required"):
        raise ValueError("must be none, optional or required")
    return value.lower()


_COMMON_OPTIONS: dict[str, Callable[[str], Any]] = {
    "db": _non_negative_int,
    "username": str,
    "password": str,
    "socket_timeout": _positive_float,
    "socket_connect_timeout": _positive_float,
    "health_check_interval": _non_negative_int,
    "max_connections": _positive_int,
    "client_name": str,
}
_TLS_OPTIONS: dict[str, Callable[[str], Any]] = {
    "ssl_cert_reqs": _cert_reqs,
    "ssl_ca_certs": str,
    "ssl_certfile": str,
    "ssl_keyfile": str,
    "ssl_check_hostname": _boolean,
}
_SENTINEL_OPTIONS: dict[str, Callable[[str], Any]] = {
    "sentinel_username": str,
    "sentinel_password": str,
}


@dataclass(frozen=True)
class RedisURL:
    """A parsed Redis URL: where to connect and the connection keyword arguments.

    For ``redis+sentinel`` URLs, ``sentinels`` lists the Sentinel addresses,
    ``service`` the monitored master's name and ``sentinel_kwargs`` the options for
    the Sentinel connections; ``kwargs`` are always for the data connection.
    """

    scheme: str
    kwargs: dict[str, Any]
    sentinels: tuple[tuple[str, int], ...] = ()
    service: str = ""
    sentinel_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def is_sentinel(self) -> bool:
        return self.scheme == "redis+sentinel"


def parse_redis_url(url: str) -> RedisURL:
    """Parse ``url``; raise ``StoreError`` naming the part that is wrong."""
    parts = _split(url)
    scheme = parts.scheme.lower()
    if scheme not in REDIS_SCHEMES:
        raise StoreError(
            f"unsupported Redis URL scheme {scheme!r} in {redact_url(url)!r}; "
            "use redis://, rediss://, unix:// or redis+sentinel://"
        )
    allowed = dict(_COMMON_OPTIONS)
    if scheme in ("rediss", "redis+sentinel"):
        allowed |= _TLS_OPTIONS if scheme == "rediss" else _SENTINEL_OPTIONS
    options = _parse_query(url, parts.query, allowed)
    kwargs: dict[str, Any] = {
        "socket_timeout": DEFAULT_SOCKET_TIMEOUT,
        "socket_connect_timeout": DEFAULT_CONNECT_TIMEOUT,
    }
    userinfo, _, hosts = parts.netloc.rpartition("@")
    if userinfo:
        username, has_password, password = userinfo.partition(":")
        if username:
            kwargs["username"] = unquote(username)
        if has_password:
            kwargs["password"] = unquote(password)
    if scheme == "unix":
        if not parts.path:
            raise StoreError(f"unix:// URL {redact_url(url)!r} needs a socket path")
        kwargs["unix_socket_path"] = unquote(parts.path)
        kwargs |= options
        return RedisURL(scheme, kwargs)
    if scheme == "redis+sentinel":
        return _sentinel(url, hosts, parts.path, kwargs, options)
    host, port = _address(url, hosts or "127.0.0.1", 6379)
    kwargs |= {"host": host, "port": port, "db": _path_db(url, parts.path)}
    if scheme == "rediss":
        kwargs["ssl"] = True
    kwargs |= options
    return RedisURL(scheme, kwargs)


def _sentinel(
    url: str, hosts: str, path: str, kwargs: dict[str, Any], options: dict[str, Any]
) -> RedisURL:
    if not hosts:
        raise StoreError(f"redis+sentinel URL {redact_url(url)!r} names no Sentinel host")
    sentinels = tuple(
        _address(url, host, DEFAULT_SENTINEL_PORT) for host in hosts.split(",") if host
    )
    segments = [unquote(segment) for segment in path.split("/") if segment]
    if not segments or len(segments) > 2:
        raise StoreError(
            f"redis+sentinel URL {redact_url(url)!r} must end with /SERVICE or /SERVICE/DB, "
            "e.g. redis+sentinel://h1:26379,h2:26379/mymaster"
        )
    service = segments[0]
    if len(segments) == 2:
        kwargs["db"] = _db(url, segments[1])
    sentinel_kwargs = {
        "socket_timeout": options.get("socket_timeout", DEFAULT_SOCKET_TIMEOUT),
        "socket_connect_timeout": options.get("socket_connect_timeout", DEFAULT_CONNECT_TIMEOUT),
    }
    if "sentinel_username" in options:
        sentinel_kwargs["username"] = options.pop("sentinel_username")
    if "sentinel_password" in options:
        sentinel_kwargs["password"] = options.pop("sentinel_password")
    kwargs |= options
    return RedisURL("redis+sentinel", kwargs, sentinels, service, sentinel_kwargs)


def _split(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError as error:  # e.g. "Invalid IPv6 URL" for an unclosed [
        raise StoreError(f"malformed Redis URL {redact_url(url)!r}: {error}") from None


def _parse_query(url: str, query: str, allowed: dict[str, Callable[[str], Any]]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        parser = allowed.get(name)
        if parser is None:
            raise StoreError(
                f"unknown option {name!r} in Redis URL {redact_url(url)!r}; "
                f"known: {', '.join(sorted(allowed))}"
            )
        try:
            options[name] = parser(value)
        except ValueError as error:
            raise StoreError(
                f"option {name}={value!r} in Redis URL {redact_url(url)!r}: {error}"
            ) from None
    return options


def _address(url: str, host: str, default_port: int) -> tuple[str, int]:
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port_text = host.partition(":")
    if not name:
        raise StoreError(f"empty host in Redis URL {redact_url(url)!r}")
    if not port_text:
        return unquote(name), default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise StoreError(f"bad port {port_text!r} in Redis URL {redact_url(url)!r}")
    return unquote(name), int(port_text)


def _path_db(url: str, path: str) -> int:
    text = unquote(path).strip("/")
    return _db(url, text) if text else 0


def _db(url: str, text: str) -> int:
    if not text.isdigit():
        raise StoreError(f"database {text!r} in Redis URL {redact_url(url)!r} is not a number")
    return int(text)


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for error messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:  # malformed: still hide the userinfo password and password options
        return _QUERY_PASSWORD.sub(r"\1***", _USERINFO_PASSWORD.sub(r"\1***@", url))
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if not at and "@" in url:  # a password with an unencoded '/', '?' or '#' cut the netloc
        return _QUERY_PASSWORD.sub(r"\1***", _USERINFO_PASSWORD.sub(r"\1***@", url))
    if at and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    netloc = f"{userinfo}@{hosts}" if at else parts.netloc
    query = "&".join(
        f"{name}=***" if "password" in name.lower() else f"{name}={value}"
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return parts._replace(netloc=netloc, query=query).geturl()


# up to the last '@': a password may hold '/', '?' or '#' that should have been encoded
_USERINFO_PASSWORD = re.compile(r"(://[^/?#:@]*:).*@")
_QUERY_PASSWORD = re.compile(r"(?i)([?&][^=&#]*password[^=&#]*=)[^&#]*")
