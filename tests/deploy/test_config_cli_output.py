"""``config show`` / ``config diff``: what every output format prints, through the real CLI."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from typer.testing import CliRunner, Result

from shipshape.cli import app

runner = CliRunner()

MODEL = """\
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict


class Database(BaseModel):
    url: str = "sqlite:///local.db"
    replicas: list[str] = []


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QAAPP_", env_nested_delimiter="__")
    allowed_hosts: list[str] = []
    database: Database = Database()
"""


def project(tmp_path: Path, *, with_model: bool = False) -> Path:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "prod.yaml").write_text(
        "database:\n  url: postgresql://app:topsecret@db/orders\n"
        "  replicas: ['postgresql://ro:replicapw@r1/orders']\n",
        encoding="utf-8",
    )
    (tmp_path / "config" / "dev.yaml").write_text(
        "database: {url: 'sqlite:///dev.db'}\n", encoding="utf-8"
    )
    if with_model:
        module = f"qaset_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{module}.py").write_text(MODEL, encoding="utf-8")
        (tmp_path / "pyproject.toml").write_text(
            f'[tool.shipshape]\nsettings = "{module}:Settings"\n', encoding="utf-8"
        )
    return tmp_path


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, ["config", *args, "--secrets-dir", "none"], env=env or {})


def values(result: Result) -> dict[str, object]:
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    return {entry["key"]: entry["value"] for entry in report["settings"]}


def assert_no_password(text: str) -> None:
    for password in ("topsecret", "replicapw", "envpw"):
        assert password not in text


def test_show_json_masks_url_passwords_like_the_table(tmp_path: Path) -> None:
    root = project(tmp_path)
    result = invoke("show", "--root", str(root), "--env", "prod", "--json")
    assert_no_password(result.stdout)
    assert values(result) == {
        "database.url": "postgresql://app:********@db/orders",
        "database.replicas": ["postgresql://ro:********@r1/orders"],
    }
    table = invoke("show", "--root", str(root), "--env", "prod")
    assert table.exit_code == 0
    assert_no_password(table.stdout)


def test_show_json_masks_a_url_from_the_environment(tmp_path: Path) -> None:
    root = project(tmp_path, with_model=True)
    env = {"QAAPP_DATABASE__URL": "postgresql://u:envpw@h/d"}
    result = invoke("show", "--root", str(root), "--env", "prod", "--json", env=env)
    assert_no_password(result.stdout)
    assert values(result)["database.url"] == "postgresql://u:********@h/d"


def test_diff_json_masks_url_passwords(tmp_path: Path) -> None:
    root = project(tmp_path)
    result = invoke("diff", "dev", "prod", "--root", str(root), "--json")
    assert result.exit_code == 0, result.output
    assert_no_password(result.stdout)
    changes = {change["key"]: change for change in json.loads(result.stdout)["changes"]}
    assert changes["database.url"]["prod"]["value"] == "postgresql://app:********@db/orders"
    assert changes["database.url"]["dev"]["value"] == "sqlite:///dev.db"
    text = invoke("diff", "dev", "prod", "--root", str(root))
    assert text.exit_code == 0
    assert_no_password(text.stdout)


def test_show_warns_when_the_env_has_no_config_file(tmp_path: Path) -> None:
    root = project(tmp_path)
    result = invoke("show", "--root", str(root), "--env", "prdo", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["settings"] == []
    config_dir = root / "config"
    assert result.stderr == (
        f"warning: no config/prdo.* file (.yaml, .yml, .toml, .json) in {config_dir}; "
        "showing the other layers\n"
    )
    quiet = invoke("show", "--root", str(root), "--env", "prod", "--json")
    assert quiet.exit_code == 0
    assert quiet.stderr == ""


def test_diff_warns_for_each_env_without_a_config_file(tmp_path: Path) -> None:
    root = project(tmp_path)
    result = invoke("diff", "dev", "nosuchenv", "--root", str(root), "--json")
    assert result.exit_code == 0, result.output
    changes = json.loads(result.stdout)["changes"]
    assert [change["key"] for change in changes] == ["database.url"]
    [line] = result.stderr.splitlines()
    assert line.startswith("warning: no config/nosuchenv.* file")
    assert invoke("diff", "dev", "prod", "--root", str(root)).stderr == ""


def test_every_url_password_in_a_value_is_masked(tmp_path: Path) -> None:
    """Several URLs in one value, URLs after a prefix, passwords holding "/" or "@"."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "prod.yaml").write_text(
        "broker_url: 'amqp://app:s1Zq9@mq1;amqp://app:s2Zq9@mq2'\n"
        "cache_url: 'redis://app:pa/ss6Zq9@cache'\n"
        "cache_urls: [' redis://:pw4Zq9@c2']\n"
        "dsn_note: 'primary=postgresql://app:pw5Zq9@db/app'\n"
        "odd: 'mysql://u:p@ss/7Zq9@h:3306/d'\n",
        encoding="utf-8",
    )
    as_json = invoke("show", "--root", str(tmp_path), "--env", "prod", "--json")
    as_table = runner.invoke(
        app,
        ["config", "show", "--root", str(tmp_path), "--env", "prod", "--secrets-dir", "none"],
        env={},
        terminal_width=300,
    )
    assert as_table.exit_code == 0, as_table.output
    for output in (as_json.stdout, as_table.stdout):
        assert "Zq9" not in output, output
    shown = values(as_json)
    assert shown["broker_url"] == "amqp://app:********@mq1;amqp://app:********@mq2"
    assert shown["odd"] == "mysql://u:********@h:3306/d"
