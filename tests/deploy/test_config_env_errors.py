"""Settings from environment variables: errors name the variable and the layer, and
validation reads nothing but the merged layers (not pydantic-settings' own sources)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pydantic import BaseModel, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from typer.testing import CliRunner

from shipshape.cli import app
from shipshape.deploy.settings_layers import SettingsError, load_settings, resolve_settings


class Policy(BaseModel):
    route: str
    rate: int = 1


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIXCFG_", env_nested_delimiter="__")

    allowed_hosts: list[str] = ["localhost"]
    policies: list[Policy] = []
    name: str = "orders"


class Needs(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIXCFG_")

    dsn: str


def test_broken_json_in_a_variable_names_the_variable_the_layer_and_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIXCFG_ALLOWED_HOSTS", "[broken")
    with pytest.raises(SettingsError) as caught:
        resolve_settings(Settings, "prod", root=tmp_path, secrets_dir=None)
    assert str(caught.value) == (
        "$FIXCFG_ALLOWED_HOSTS: allowed_hosts: invalid JSON: "
        "unexpected character, expected a JSON value at column 2 (layer environ)"
    )


def test_broken_json_given_as_environ_is_named_too(tmp_path: Path) -> None:
    environ = {"FIXCFG_POLICIES": '[{"route":"/orders"'}
    with pytest.raises(SettingsError) as caught:
        resolve_settings(Settings, "prod", root=tmp_path, environ=environ, secrets_dir=None)
    [problem] = caught.value.problems
    assert (problem.source, problem.key, problem.layer) == (
        "$FIXCFG_POLICIES",
        "policies",
        "environ",
    )
    assert problem.message.startswith("invalid JSON: ")


def test_text_that_only_looks_like_json_is_fine_for_a_string_field(tmp_path: Path) -> None:
    environ = {"FIXCFG_NAME": "[not json"}
    loaded = load_settings(Settings, "prod", root=tmp_path, environ=environ, secrets_dir=None)
    assert loaded.name == "[not json"


def test_validation_reads_only_the_layers_it_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIXCFG_DSN", "postgresql://leak")
    monkeypatch.setenv("FIXCFG_NAME", "from-os-environ")
    with pytest.raises(SettingsError, match="dsn: required, and no layer of env 'prod' sets it"):
        resolve_settings(Needs, "prod", root=tmp_path, environ={}, secrets_dir=None)
    loaded = load_settings(Settings, "prod", root=tmp_path, environ={}, secrets_dir=None)
    assert type(loaded) is Settings
    assert loaded.name == "orders"
    assert loaded == Settings.model_construct(
        allowed_hosts=["localhost"], policies=[], name="orders"
    )
    from_env = load_settings(Needs, "prod", root=tmp_path, secrets_dir=None)
    assert type(from_env) is Needs
    assert from_env.dsn == "postgresql://leak"
    assert from_env.model_fields_set == {"dsn"}


def test_a_whole_model_error_does_not_blame_the_last_layer(tmp_path: Path) -> None:
    class Checked(BaseModel):
        low: int = 1
        high: int = 2

        @model_validator(mode="after")
        def ordered(self) -> Checked:
            if self.low > self.high:
                raise ValueError("low must not exceed high")
            return self

    with pytest.raises(SettingsError) as caught:
        resolve_settings(
            Checked, "prod", root=tmp_path, environ={}, secrets_dir=None, overrides={"low": 5}
        )
    assert str(caught.value) == "(settings): Value error, low must not exceed high"


MODEL = """\
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QAAPP_")
    allowed_hosts: list[str] = []
"""


def test_config_show_names_the_variable(tmp_path: Path) -> None:
    module = f"qaenv_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(MODEL, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.shipshape]\nsettings = "{module}:Settings"\n', encoding="utf-8"
    )
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "prod.yaml").write_text("allowed_hosts: [a]\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["config", "show", "--root", str(tmp_path), "--secrets-dir", "none"],
        env={"QAAPP_ALLOWED_HOSTS": "[broken"},
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: $QAAPP_ALLOWED_HOSTS: allowed_hosts: invalid JSON: "
        "unexpected character, expected a JSON value at column 2 (layer environ)\n"
    )


def test_serve_names_the_variable(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SHIPSHAPE_RATELIMIT__POLICIES": '[{"route":"/orders"',
        "SHIPSHAPE_ENV": "dev",
    }
    result = subprocess.run(
        [sys.executable, "-m", "shipshape", "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "error: $SHIPSHAPE_RATELIMIT__POLICIES: ratelimit.policies: invalid JSON: "
    )
    assert line.endswith(" (layer environ)")
