"""``ServiceSettings``: every knob of the production layer, from code or ``SHIPSHAPE_*``."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shipshape.observe.logs import DEFAULT_REDACT_KEYS
from shipshape.stores.base import LIMIT

__all__ = [
    "HealthSettings",
    "LogSettings",
    "MetricsSettings",
    "RateLimitPolicy",
    "RateLimitSettings",
    "ServiceSettings",
    "TracingSettings",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _list_from_text(value: object) -> object:
    """A list setting given as text (an environment variable): a JSON array, or items
    separated by commas (``password,ssn``)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError as error:
            raise ValueError(f"not a JSON array: {error}") from None
    return [item.strip() for item in text.split(",") if item.strip()]


def _absolute_path(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"a path must start with '/': {path!r}")
    return path


def _buckets(bounds: tuple[float, ...]) -> tuple[float, ...]:
    if any(math.isnan(bound) or bound == -math.inf for bound in bounds):
        raise ValueError(f"bucket bounds must be numbers, not NaN or -inf: {bounds}")
    if all(bound == math.inf for bound in bounds):
        raise ValueError("needs at least one finite bucket bound (+Inf is always added)")
    if len(set(bounds)) != len(bounds):
        raise ValueError(f"bucket bounds must be distinct: {bounds}")
    return bounds


def _http_urls(urls: tuple[str, ...]) -> tuple[str, ...]:
    for index, url in enumerate(urls):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # named by position, never printed: the URL may carry a password
            raise ValueError(f"URL {index} is not an http:// or https:// URL with a host")
    return urls


def _patterns(patterns: tuple[str, ...]) -> tuple[str, ...]:
    if not any(pattern.strip() for pattern in patterns):
        raise ValueError(
            "must name at least one key pattern (an empty list would unmask every secret key)"
        )
    return patterns


def _proxy(entry: str) -> str:
    if entry != "unix":
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is neither an IP network (CIDR) nor 'unix'") from None
    return entry


#: a tuple setting that an environment variable gives as JSON or comma-separated
_TextList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_list_from_text)]
_Path = Annotated[str, AfterValidator(_absolute_path)]


class LogSettings(_Section):
    access_log: bool = True
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_probes: bool = Field(False, description="Also log /livez, /readyz, /healthz, /metrics.")
    redact_keys: Annotated[_TextList, AfterValidator(_patterns)] = Field(
        DEFAULT_REDACT_KEYS,
        description="Key substrings whose values are masked, matched in snake_case (apiKey "
        "and X-API-Key read api_key, x_api_key); replaces the defaults, may not be empty.",
    )
    configure_logging: bool = Field(
        True, description="Route stdlib logging (root, uvicorn) through the JSON formatter."
    )

    @field_validator("level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


class MetricsSettings(_Section):
    enabled: bool = True
    path: _Path = "/metrics"
    multiprocess_dir: str | None = Field(
        None, description="Shared directory for --workers N; set by `shipshape serve`."
    )
    buckets: Annotated[
        tuple[float, ...], NoDecode, BeforeValidator(_list_from_text), AfterValidator(_buckets)
    ] = (
        0.005,
        0.01,
        0.025,
        0.05,
        0.075,
        0.1,
        0.25,
        0.5,
        0.75,
        1.0,
        2.5,
        5.0,
        7.5,
        10.0,
    )


class HealthSettings(_Section):
    livez_path: _Path = "/livez"
    readyz_path: _Path = "/readyz"
    healthz_path: _Path = "/healthz"
    cache_seconds: float = Field(1.0, ge=0, description="Reuse check results this long.")
    timeout_seconds: float = Field(2.0, gt=0, description="Per-check timeout.")
    serve_when_degraded: bool = Field(
        False, description="Answer 200 (status warn) instead of 503 when only degraded."
    )
    database_url: str | None = Field(None, description="SQLAlchemy URL to check.")
    redis_url: str | None = None
    http_urls: Annotated[_TextList, AfterValidator(_http_urls)] = ()
    disk_path: str | None = None
    disk_min_free_bytes: int = Field(100 * 1024 * 1024, ge=0)


# the most tokens (and tokens per second) a bucket may hold: what every store takes
MAX_BUCKET = LIMIT


class RateLimitPolicy(_Section):
    """Capacity and refill for one route template (and optionally one method)."""

    route: str
    method: str | None = None
    capacity: int = Field(ge=1, le=MAX_BUCKET)
    refill_rate: float = Field(
        ge=0, le=MAX_BUCKET, allow_inf_nan=False, description="Tokens per second."
    )

    @field_validator("method")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else None


class RateLimitSettings(_Section):
    enabled: bool = True
    store_url: str = "memory://"
    capacity: int = Field(100, ge=1, le=MAX_BUCKET, description="Burst size of the default policy.")
    refill_rate: float = Field(
        50.0,
        ge=0,
        le=MAX_BUCKET,
        allow_inf_nan=False,
        description="Tokens per second, default policy.",
    )
    policies: tuple[RateLimitPolicy, ...] = ()
    key: str = Field(
        "client", description="`client` (address, proxy-aware) or `header:<Name>` (an API key)."
    )
    trusted_proxies: Annotated[
        _TextList, AfterValidator(lambda items: tuple(map(_proxy, items)))
    ] = Field(
        (),
        description="CIDRs (and `unix`) whose X-Forwarded-For and X-Forwarded-Proto are "
        "believed; no other peer's are (`shipshape serve` turns uvicorn's own proxy "
        "header handling off).",
    )
    fail_open: bool = Field(True, description="Admit requests when the store is unreachable.")
    exempt_paths: Annotated[
        _TextList, AfterValidator(lambda items: tuple(map(_absolute_path, items)))
    ] = ()

    @field_validator("key")
    @classmethod
    def _key_kind(cls, value: str) -> str:
        if value != "client" and not re.fullmatch(r"header:[A-Za-z0-9-]+", value):
            raise ValueError("key must be 'client' or 'header:<Header-Name>'")
        return value


class TracingSettings(_Section):
    enabled: bool = True
    sample_ratio: float = Field(
        0.001,
        ge=0,
        le=1,
        description="Share of new traces recorded (callers' sampled traces are followed).",
    )
    follow_caller_sampled: bool = Field(
        True,
        description="Record every request whose traceparent says sampled (W3C parent-based). "
        "false: sample those at sample_ratio too (the trace id still continues), so that "
        "outside callers cannot force recording.",
    )
    operation_spans: bool = Field(
        False, description="FastAPI's dependency/endpoint/serialization spans."
    )
    fastapi_telemetry: bool = Field(
        True,
        description="Record sampled requests with FastAPI's built-in telemetry (true) or "
        "with the layer's own lighter server span (false). Never both.",
    )


class ServiceSettings(BaseSettings):
    """Settings of the production layer; env vars ``SHIPSHAPE_*``, nested with ``__``."""

    model_config = SettingsConfigDict(
        env_prefix="SHIPSHAPE_",
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
    )

    env: str = "dev"
    service_name: str = "shipshape-service"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    max_body_bytes: int = Field(1024 * 1024, ge=0, description="Larger bodies get 413.")
    request_id_header: str = "X-Request-ID"
    drain_seconds: float = Field(
        2.0, ge=0, description="On SIGTERM, report not-ready this long before shutting down."
    )
    drain_timeout_seconds: float = Field(
        30.0,
        ge=0,
        description="After drain_seconds, keep answering (readiness still 503) while requests "
        "are in flight, at most this long more; then the server stops accepting connections "
        "and lets the requests still in flight finish.",
    )
    logs: LogSettings = LogSettings()
    metrics: MetricsSettings = MetricsSettings()
    health: HealthSettings = HealthSettings()
    ratelimit: RateLimitSettings = RateLimitSettings()
    tracing: TracingSettings = TracingSettings()

    @model_validator(mode="after")
    def _distinct_paths(self) -> ServiceSettings:
        paths = [
            self.health.livez_path,
            self.health.readyz_path,
            self.health.healthz_path,
            self.metrics.path,
        ]
        if len(set(paths)) != len(paths):
            raise ValueError(f"probe and metrics paths must differ: {paths}")
        return self
