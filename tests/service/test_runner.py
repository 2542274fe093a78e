"""What `shipshape serve` loads: the app reference and the layered settings."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from shipshape.service import ProductionApp
from shipshape.service.runner import AppLoadError, create_app, load_app, service_settings


def test_settings_come_from_config_layers_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "base.yaml").write_text("service_name: orders\nratelimit:\n  capacity: 7\n")
    (config / "prod.toml").write_text("[ratelimit]\nrefill_rate = 3.0\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHIPSHAPE_ENV", "prod")
    monkeypatch.setenv("SHIPSHAPE_RATELIMIT__CAPACITY", "11")
    settings = service_settings()
    assert settings.env == "prod"
    assert settings.service_name == "orders"
    assert settings.ratelimit.capacity == 11
    assert settings.ratelimit.refill_rate == 3.0


@pytest.mark.parametrize("level", ["debug", "Warning", " ERROR "])
def test_the_log_level_is_read_in_any_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, level: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHIPSHAPE_LOGS__LEVEL", level)
    assert service_settings().logs.level == level.strip().upper()


def test_a_bad_config_value_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "dev.yaml").write_text("port: many\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHIPSHAPE_ENV", raising=False)
    with pytest.raises(ValueError, match=r"dev\.yaml:1: port"):
        service_settings()


def test_factories_are_called_and_apps_wrapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "svc_module.py").write_text(
        "from fastapi import FastAPI\n"
        "app = FastAPI()\n"
        "def make():\n"
        "    return FastAPI(title='made')\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_app("svc_module:make").title == "made"
    monkeypatch.setenv("SHIPSHAPE_APP", "svc_module:app")
    monkeypatch.setenv("SHIPSHAPE_LOGS__CONFIGURE_LOGGING", "false")
    assert isinstance(create_app(), ProductionApp)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("nomodule", "expected MODULE:APP"),
        ("no_such_module_xyz:app", "cannot import"),
        ("json:nothing_here", "has no"),
        ("json:__doc__", "not an ASGI application"),
    ],
)
def test_bad_app_references(reference: str, message: str) -> None:
    with pytest.raises(AppLoadError, match=message):
        load_app(reference)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def broken(:\n", r"importing 'bad_app_\w+' failed: SyntaxError.* at .*:1"),
        ("raise RuntimeError('no DATABASE_URL')\n", r"failed: RuntimeError: no DATABASE_URL at"),
        (
            "def create_app():\n    raise KeyError('SECRET')\n",
            r"the factory 'create_app' failed: KeyError: 'SECRET' at .*:2",
        ),
        (
            "async def create_app():\n    return None\n",
            "'create_app' is an async function without arguments",
        ),
    ],
)
def test_apps_that_cannot_be_made_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, message: str
) -> None:
    name = "bad_app_" + hashlib.sha256(source.encode()).hexdigest()[:8]  # one module each
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    attribute = "create_app" if "create_app" in source else "app"
    with pytest.raises(AppLoadError, match=message) as raised:
        load_app(f"{name}:{attribute}")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "value", "read"),
    [
        ("SHIPSHAPE_LOGS__REDACT_KEYS", "ssn, card", ("ssn", "card")),
        ("SHIPSHAPE_LOGS__REDACT_KEYS", '["ssn", "card"]', ("ssn", "card")),
        ("SHIPSHAPE_RATELIMIT__TRUSTED_PROXIES", "10.0.0.1", ("10.0.0.1",)),
        ("SHIPSHAPE_RATELIMIT__TRUSTED_PROXIES", "10.0.0.0/8,unix", ("10.0.0.0/8", "unix")),
        ("SHIPSHAPE_HEALTH__HTTP_URLS", "http://a:1/ok", ("http://a:1/ok",)),
        ("SHIPSHAPE_METRICS__BUCKETS", "0.1,1", (0.1, 1.0)),
    ],
)
def test_list_settings_from_the_environment_are_json_or_comma_separated(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    read: tuple[Any, ...],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    section, name = variable.removeprefix("SHIPSHAPE_").lower().split("__")
    assert getattr(getattr(service_settings(), section), name) == read


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SHIPSHAPE_METRICS__PATH", "metrics", r"metrics\.path: .*must start with '/'"),
        ("SHIPSHAPE_HEALTH__LIVEZ_PATH", "livez", r"health\.livez_path: .*must start with '/'"),
        ("SHIPSHAPE_RATELIMIT__EXEMPT_PATHS", "/ok,docs", r"exempt_paths: .*'docs'"),
        ("SHIPSHAPE_RATELIMIT__TRUSTED_PROXIES", "notanip", r"trusted_proxies: .*'notanip'"),
        ("SHIPSHAPE_LOGS__REDACT_KEYS", "[ssn", r"redact_keys: .*JSON"),
        ("SHIPSHAPE_LOGS__REDACT_KEYS", "", r"redact_keys: .*at least one key pattern"),
        ("SHIPSHAPE_METRICS__BUCKETS", "nan,1", r"metrics\.buckets: .*not NaN"),
        ("SHIPSHAPE_METRICS__BUCKETS", "1,1", r"metrics\.buckets: .*distinct"),
        ("SHIPSHAPE_METRICS__BUCKETS", "inf", r"metrics\.buckets: .*finite"),
        # a comma inside a URL splits it: the rest is no URL (and the URL is not printed)
        ("SHIPSHAPE_HEALTH__HTTP_URLS", "http://h/x?a=1,2", r"http_urls: .*URL 1 is not"),
        ("SHIPSHAPE_HEALTH__HTTP_URLS", "db.internal", r"http_urls: .*URL 0 is not"),
    ],
)
def test_values_that_could_never_work_are_refused_at_startup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    # a probe path without its leading '/' would answer 404 forever; a proxy entry that
    # is no network would fail at the first request, not naming the setting
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=rf"\${variable}: .*{message}"):
        service_settings()
