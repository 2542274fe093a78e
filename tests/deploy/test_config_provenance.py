"""Provenance when an environment variable holds a JSON object: each leaf keeps its origin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shipshape.deploy.config import merge_config
from shipshape.deploy.settings_layers import Origin, SettingsError, resolve_settings
from tests.config_trees import LAYER_DATA, value_at


class Database(BaseModel):
    host: str = "localhost"
    port: int = 5432
    password: SecretStr = SecretStr("")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APP_", env_nested_delimiter="__")

    debug: bool = False
    database: Database = Database()


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_json_object_variable_keeps_the_origins_of_keys_it_does_not_set(
    tmp_path: Path,
) -> None:
    root = write(
        tmp_path,
        {
            "config/base.yaml": "database:\n  host: base-host\n  port: 1111\n",
            ".env": "APP_DATABASE__PORT=2222\n",
            "secrets/database__password": "s3cret\n",
        },
    )
    resolved = resolve_settings(
        Settings,
        "prod",
        root=root,
        environ={"APP_DATABASE": '{"host": "json-host"}'},
        secrets_dir="secrets",
    )
    assert resolved.settings is not None
    assert resolved.settings.database.host == "json-host"
    assert resolved.settings.database.port == 2222
    assert resolved.origin("database.host") == Origin("environ", "$APP_DATABASE")
    assert resolved.origin("database.port") == Origin("dotenv", str(root / ".env"), 1)
    assert resolved.origin("database.password").layer == "secrets"
    shown = {entry.key: entry.origin.layer for entry in resolved.entries()}
    assert shown == {
        "database.host": "environ",
        "database.password": "secrets",
        "database.port": "dotenv",
        "debug": "defaults",
    }


def test_a_variable_set_nested_key_survives_a_lowercase_json_parent(tmp_path: Path) -> None:
    # "APP_DATABASE__PORT" sorts before "app_database": the JSON object comes second and
    # merges into the mapping, so the port stays the variable's, with its origin.
    resolved = resolve_settings(
        Settings,
        "prod",
        root=tmp_path,
        environ={"APP_DATABASE__PORT": "7", "app_database": '{"host": "h"}'},
        secrets_dir=None,
    )
    assert resolved.settings is not None
    assert resolved.settings.database.port == 7
    assert resolved.origin("database.port") == Origin("environ", "$APP_DATABASE__PORT")
    assert resolved.origin("database.host") == Origin("environ", "$app_database")


def test_an_unknown_key_inside_a_json_variable_names_the_variable(tmp_path: Path) -> None:
    environ = {"APP_DATABASE": '{"hots": "h"}'}
    with pytest.raises(SettingsError) as caught:
        resolve_settings(Settings, "prod", root=tmp_path, environ=environ, secrets_dir=None)
    assert str(caught.value) == "$APP_DATABASE: database.hots: unknown key (layer environ)"


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=LAYER_DATA, variables=LAYER_DATA)
def test_every_leaf_origin_holds_its_value_with_json_variables(
    tmp_path: Path, base: dict[str, Any], variables: dict[str, Any]
) -> None:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "base.json").write_text(json.dumps(base), encoding="utf-8")
    environ = {
        f"APP_{key.upper()}": json.dumps(value) if not isinstance(value, str) else value
        for key, value in variables.items()
    }
    resolved = resolve_settings(
        None, "prod", root=tmp_path, env_prefix="APP_", environ=environ, secrets_dir=None
    )
    expected = {
        key: json.loads(text) if text[:1] in "[{" else text
        for key, text in ((key.removeprefix("APP_").lower(), text) for key, text in environ.items())
    }
    expected = {
        key: value if not isinstance(value, int) else str(value) for key, value in expected.items()
    }
    assert resolved.values == merge_config(base, expected)
    layers = {"base": base, "environ": expected}
    leaves = {tuple(entry.key.split(".")) for entry in resolved.entries()}
    assert set(resolved.origins) == leaves
    for path, origin in resolved.origins.items():
        assert value_at(layers[origin.layer], path) == value_at(resolved.values, path)
