"""Layered settings: order, the one merge rule, provenance, masking, errors naming their layer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shipshape.deploy.config import merge_config
from shipshape.deploy.settings_layers import (
    FeatureFlags,
    Origin,
    ResolvedSettings,
    SettingsError,
    load_settings,
    resolve_settings,
)
from tests.config_trees import LAYER_DATA, value_at


class Features(FeatureFlags):
    new_checkout: bool = False
    dark_mode: bool = False


class Database(BaseModel):
    host: str = "localhost"
    port: int = 5432
    password: SecretStr = SecretStr("")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APP_")

    debug: bool = False
    name: str = "orders"
    database: Database = Database()
    features: Features = Features()
    api_key: SecretStr = SecretStr("changeme")
    allowed_hosts: list[str] = ["localhost"]


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


BASE = "debug: true\ndatabase:\n  host: db.local\n  port: 5432\nallowed_hosts: [a, b]\n"
PROD = '[database]\nhost = "db.internal"\n\n[features]\nnew_checkout = true\n'


def resolve(root: Path, env: str = "prod") -> ResolvedSettings[Settings]:
    return resolve_settings(Settings, env, root=root, environ={}, secrets_dir=None)


def test_layer_order_and_a_nested_override_keeps_its_siblings(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "config/base.yaml": BASE,
            "config/prod.toml": PROD,
            ".env": "APP_DATABASE__PORT=6543\n",
            "secrets/database__password": "s3cr3t\n",
        },
    )
    resolved = resolve_settings(
        Settings,
        "prod",
        root=root,
        environ={"APP_DEBUG": "false", "PATH": "/bin", "APP_FEATURES__DARK_MODE": "1"},
        secrets_dir="secrets",
        overrides={"name": "orders-eu"},
    )
    settings_ = resolved.settings
    assert settings_ is not None
    assert settings_.database == Database(
        host="db.internal", port=6543, password=SecretStr("s3cr3t")
    )
    assert settings_.database.password.get_secret_value() == "s3cr3t"
    assert settings_.debug is False
    assert settings_.features.enabled == ["dark_mode", "new_checkout"]
    assert settings_.name == "orders-eu"
    assert settings_.allowed_hosts == ["a", "b"]
    assert resolved.origin("database.host") == Origin("env", str(root / "config/prod.toml"), 2)
    assert resolved.origin("database.port") == Origin("dotenv", str(root / ".env"), 1)
    assert resolved.origin("database.password") == Origin(
        "secrets", str(root / "secrets/database__password")
    )
    assert resolved.origin("debug") == Origin("environ", "$APP_DEBUG")
    assert resolved.origin("name") == Origin("overrides")
    assert resolved.origin("api_key") == Origin("defaults")
    assert resolved.origin("allowed_hosts") == Origin("base", str(root / "config/base.yaml"), 5)


def test_load_settings_returns_the_model(tmp_path: Path) -> None:
    root = project(tmp_path, {"config/base.yaml": BASE})
    loaded = load_settings(Settings, "dev", root=root, environ={}, secrets_dir=None)
    assert isinstance(loaded, Settings)
    assert loaded.database.host == "db.local"


def test_environment_variables_ignore_other_programs_and_other_prefixes(tmp_path: Path) -> None:
    resolved = resolve_settings(
        Settings,
        "prod",
        root=tmp_path,
        environ={"NAME": "x", "OTHER_NAME": "y", "APP_NAME": "z", "APP_UNRELATED": "1"},
        secrets_dir=None,
    )
    assert resolved.settings is not None
    assert resolved.settings.name == "z"


def test_entries_mask_secret_fields_and_secret_names(tmp_path: Path) -> None:
    root = project(tmp_path, {"config/base.yaml": "database:\n  password: hunter2\n"})
    entries = {e.key: e for e in resolve(root, "dev").entries()}
    assert entries["database.password"].secret
    assert entries["database.password"].display == "********"
    assert entries["database.password"].value == "hunter2"
    assert entries["api_key"].display == "********"
    assert entries["name"].display == "orders"
    assert not entries["name"].secret


def test_empty_secret_stays_visible_as_empty(tmp_path: Path) -> None:
    entries = {e.key: e for e in resolve(tmp_path, "dev").entries()}
    assert entries["database.password"].display == '""'


def test_url_passwords_are_masked_in_plain_values(tmp_path: Path) -> None:
    root = project(tmp_path, {"config/base.yaml": "cache_url: redis://app:pw@cache:6379/0\n"})
    resolved = resolve_settings(None, "dev", root=root, environ={}, secrets_dir=None)
    [entry] = resolved.entries()
    assert entry.display == "redis://app:********@cache:6379/0"


def test_schema_less_mode_shows_merged_layers(tmp_path: Path) -> None:
    root = project(tmp_path, {"config/base.yaml": BASE, "config/prod.toml": PROD})
    resolved = resolve_settings(
        None, "prod", root=root, env_prefix="APP_", environ={"APP_DEBUG": "0"}, secrets_dir=None
    )
    assert resolved.settings is None
    assert resolved.values["database"] == {"host": "db.internal", "port": 5432}
    assert resolved.values["debug"] == "0"
    assert [e.key for e in resolved.entries()] == [
        "allowed_hosts",
        "database.host",
        "database.port",
        "debug",
        "features.new_checkout",
    ]


def test_schema_less_without_prefix_reads_no_environment(tmp_path: Path) -> None:
    root = project(tmp_path, {"config/base.yaml": "path: /srv\n"})
    resolved = resolve_settings(None, "dev", root=root, environ={"PATH": "/bin"}, secrets_dir=None)
    assert resolved.values == {"path": "/srv"}


def test_json_values_in_environment_variables(tmp_path: Path) -> None:
    resolved = resolve_settings(
        Settings,
        "dev",
        root=tmp_path,
        environ={"APP_ALLOWED_HOSTS": '["x", "y"]', "APP_DATABASE": '{"port": 1}'},
        secrets_dir=None,
    )
    assert resolved.settings is not None
    assert resolved.settings.allowed_hosts == ["x", "y"]
    assert resolved.settings.database.port == 1
    assert resolved.settings.database.host == "localhost"


def test_a_later_scalar_replaces_a_mapping_and_provenance_follows(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {"config/base.yaml": "a:\n  b: 1\n  c: 2\n", "config/dev.yaml": "a: flat\n"},
    )
    resolved = resolve_settings(None, "dev", root=root, environ={}, secrets_dir=None)
    assert resolved.values == {"a": "flat"}
    assert resolved.origins == {("a",): Origin("env", str(root / "config/dev.yaml"), 1)}


def test_validation_error_names_file_line_key_and_layer(tmp_path: Path) -> None:
    root = project(
        tmp_path, {"config/base.yaml": BASE, "config/prod.yaml": "database:\n  port: x\n"}
    )
    with pytest.raises(SettingsError) as caught:
        resolve(root)
    assert str(caught.value) == (
        f"{root / 'config/prod.yaml'}:2: database.port: Input should be a valid integer, "
        "unable to parse string as an integer (layer env)"
    )


def test_environment_variable_errors_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^\$APP_DEBUG: debug: .* \(layer environ\)$"):
        resolve_settings(
            Settings, "prod", root=tmp_path, environ={"APP_DEBUG": "maybe"}, secrets_dir=None
        )


def test_unknown_keys_are_errors_even_where_the_model_ignores_extras(tmp_path: Path) -> None:
    root = project(
        tmp_path, {"config/prod.yaml": "database:\n  hots: x\nfeatures:\n  nope: true\n"}
    )
    with pytest.raises(SettingsError) as caught:
        resolve(root)
    prod = root / "config/prod.yaml"
    assert caught.value.problems[0].kind == "unknown"
    assert str(caught.value).splitlines() == [
        f"{prod}:2: database.hots: unknown key (layer env)",
        f"{prod}:4: features.nope: unknown key (layer env)",
    ]


def test_missing_required_field_says_no_layer_sets_it(tmp_path: Path) -> None:
    class Needs(BaseModel):
        dsn: str

    with pytest.raises(SettingsError, match="dsn: required, and no layer of env 'prod' sets it"):
        resolve_settings(Needs, "prod", root=tmp_path, environ={}, secrets_dir=None)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"config/base.yaml": "a: [\n"}, "config/base.yaml:2: invalid YAML"),
        ({"config/prod.toml": "a = \n"}, "config/prod.toml:1: invalid TOML"),
        ({"config/base.yaml": "- 1\n"}, "config/base.yaml: must be a mapping, got list"),
        ({".env": "A=1\nnot a line\n"}, ".env:2: cannot parse 'not a line'"),
        (
            {"config/base.yaml": "a: 1\n", "config/base.json": "{}"},
            "both",
        ),
    ],
)
def test_unreadable_layers_name_the_file_and_line(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    root = project(tmp_path, files)
    with pytest.raises(SettingsError, match=message.replace("[", r"\[")) as caught:
        resolve_settings(None, "prod", root=root, environ={}, secrets_dir=None)
    assert caught.value.problems[0].kind == "file"


def test_non_utf8_file_is_a_settings_error(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "base.yaml").write_bytes(b"a: \xff\n")
    with pytest.raises(SettingsError, match="not UTF-8"):
        resolve_settings(None, "prod", root=tmp_path, environ={}, secrets_dir=None)


@pytest.mark.parametrize("env", ["base", "../prod", "", "a b"])
def test_bad_environment_names(tmp_path: Path, env: str) -> None:
    with pytest.raises(SettingsError, match="environment name"):
        resolve_settings(None, env, root=tmp_path, environ={}, secrets_dir=None)


def test_feature_flags_are_typed_and_closed() -> None:
    with pytest.raises(TypeError, match="feature flags must be bool"):

        class Bad(FeatureFlags):
            rollout: int = 5

    assert Features(new_checkout=True).enabled == ["new_checkout"]
    with pytest.raises(ValueError, match="extra"):
        Features.model_validate({"unknown_flag": True})


def test_feature_flags_per_environment(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "config/base.yaml": "features:\n  dark_mode: true\n",
            "config/prod.yaml": "features:\n  new_checkout: true\n",
            "config/dev.yaml": "features:\n  dark_mode: false\n",
        },
    )
    prod = load_settings(Settings, "prod", root=root, environ={}, secrets_dir=None)
    dev = load_settings(Settings, "dev", root=root, environ={}, secrets_dir=None)
    assert prod.features.enabled == ["dark_mode", "new_checkout"]
    assert dev.features.enabled == []


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200), suffix=st.sampled_from([".yaml", ".toml", ".json"]))
def test_random_config_text_never_escapes_as_anything_but_a_settings_error(
    tmp_path: Path, text: str, suffix: str
) -> None:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    for old in config.iterdir():
        old.unlink()
    (config / f"base{suffix}").write_text(text, encoding="utf-8")
    problems: list[str] = []
    try:
        resolve_settings(Settings, "prod", root=tmp_path, environ={}, secrets_dir=None)
    except SettingsError as error:
        problems = [str(problem) for problem in error.problems]
    assert all(problem for problem in problems)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from("AP_=\"' #\n\\x1{}[]"), max_size=120))
def test_random_dotenv_text_loads_or_names_the_file(tmp_path: Path, text: str) -> None:
    (tmp_path / ".env").write_text(text, encoding="utf-8")
    problems: list[str] = []
    try:
        resolve_settings(None, "dev", root=tmp_path, env_prefix="AP", environ={}, secrets_dir=None)
    except SettingsError as error:
        problems = [str(problem) for problem in error.problems]
    assert all(problem.startswith(str(tmp_path / ".env")) for problem in problems)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=LAYER_DATA, env=LAYER_DATA, overrides=LAYER_DATA)
def test_every_leaf_has_one_origin_holding_its_value(
    tmp_path: Path, base: dict[str, Any], env: dict[str, Any], overrides: dict[str, Any]
) -> None:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "base.json").write_text(json.dumps(base), encoding="utf-8")
    (config / "prod.json").write_text(json.dumps(env), encoding="utf-8")
    resolved = resolve_settings(
        None, "prod", root=tmp_path, environ={}, secrets_dir=None, overrides=overrides
    )
    assert resolved.values == merge_config(merge_config(base, env), overrides)
    layers = {"base": base, "env": env, "overrides": overrides}
    leaves = {tuple(entry.key.split(".")) for entry in resolved.entries()}
    assert set(resolved.origins) == leaves
    for path, origin in resolved.origins.items():
        assert value_at(layers[origin.layer], path) == value_at(resolved.values, path)


def test_model_secrets_dir_is_the_default_and_none_skips_it(tmp_path: Path) -> None:
    project(tmp_path, {"vault/api_key": "from-vault\n"})

    class Vaulted(BaseSettings):
        model_config = SettingsConfigDict(secrets_dir=str(tmp_path / "vault"))
        api_key: SecretStr = SecretStr("")

    by_model = load_settings(Vaulted, "prod", root=tmp_path, environ={})
    assert by_model.api_key.get_secret_value() == "from-vault"
    skipped = load_settings(Vaulted, "prod", root=tmp_path, environ={}, secrets_dir=None)
    assert skipped.api_key.get_secret_value() == ""
