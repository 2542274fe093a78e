"""What `shipshape serve` loads: the app reference and the layered settings."""

from __future__ import annotations

import hashlib
from pathlib import Path

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
