"""``shipshape config show`` and ``config diff`` through the real CLI."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

from typer.testing import CliRunner

from shipshape.cli import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]

MODEL = """\
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Database(BaseModel):
    host: str = "localhost"
    port: int = 5432
    password: SecretStr = SecretStr("")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORD_")
    debug: bool = False
    database: Database = Database()
"""


def make_project(tmp_path: Path, *, with_model: bool) -> tuple[Path, str]:
    module = f"ordsettings_{uuid.uuid4().hex[:8]}"
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "base.yaml").write_text(
        "debug: true\ndatabase:\n  host: db.local\n  password: devpass\n", encoding="utf-8"
    )
    (tmp_path / "config" / "prod.yaml").write_text(
        "debug: false\ndatabase:\n  host: db.internal\n  password: prodpass\n", encoding="utf-8"
    )
    (tmp_path / "config" / "dev.toml").write_text("[database]\nport = 6000\n", encoding="utf-8")
    if with_model:
        (tmp_path / f"{module}.py").write_text(MODEL, encoding="utf-8")
        (tmp_path / "pyproject.toml").write_text(
            f'[tool.shipshape]\nsettings = "{module}:Settings"\n', encoding="utf-8"
        )
    return tmp_path, f"{module}:Settings"


def show(*args: str) -> object:
    return runner.invoke(app, ["config", "show", "--secrets-dir", "none", *args])


def test_show_json_with_the_model_from_pyproject(tmp_path: Path) -> None:
    root, spec = make_project(tmp_path, with_model=True)
    result = runner.invoke(
        app, ["config", "show", "--env", "prod", "--root", str(root), "--json"], env={}
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model"] == spec
    rows = {row["key"]: row for row in report["settings"]}
    assert rows["database.password"] == {
        "key": "database.password",
        "value": "********",
        "secret": True,
        "layer": "env",
        "source": str(root / "config" / "prod.yaml"),
        "line": 4,
    }
    assert rows["database.port"]["value"] == 5432
    assert rows["database.port"]["layer"] == "defaults"
    assert rows["debug"]["value"] is False
    assert "prodpass" not in result.stdout


def test_show_text_masks_and_names_the_setter(tmp_path: Path) -> None:
    root, _ = make_project(tmp_path, with_model=True)
    result = runner.invoke(app, ["config", "show", "--env", "dev", "--root", str(root)], env={})
    assert result.exit_code == 0, result.output
    assert "devpass" not in result.stdout
    assert "dev.toml:2" in result.stdout
    assert "config/base.yaml:1" in result.stdout


def test_environment_and_set_overrides_win(tmp_path: Path) -> None:
    root, _ = make_project(tmp_path, with_model=True)
    result = runner.invoke(
        app,
        ["config", "show", "--root", str(root), "--json", "--set", "database.port=7000"],
        env={"ORD_DEBUG": "true"},
    )
    assert result.exit_code == 0, result.output
    rows = {row["key"]: row for row in json.loads(result.stdout)["settings"]}
    assert (rows["debug"]["value"], rows["debug"]["source"]) == (True, "$ORD_DEBUG")
    assert (rows["database.port"]["value"], rows["database.port"]["layer"]) == (7000, "overrides")


def test_schema_less_mode_without_a_model(tmp_path: Path) -> None:
    root, _ = make_project(tmp_path, with_model=False)
    result = runner.invoke(
        app, ["config", "show", "--env", "dev", "--root", str(root), "--json"], env={}
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model"] is None
    assert [row["key"] for row in report["settings"]] == [
        "database.host",
        "database.password",
        "database.port",
        "debug",
    ]


def test_validation_error_exits_2_naming_layer_file_and_key(tmp_path: Path) -> None:
    root, _ = make_project(tmp_path, with_model=True)
    (root / "config" / "prod.yaml").write_text("database:\n  port: many\n", encoding="utf-8")
    result = runner.invoke(app, ["config", "show", "--root", str(root)], env={})
    assert result.exit_code == 2
    assert f"{root / 'config' / 'prod.yaml'}:2: database.port:" in result.stderr
    assert "(layer env)" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_key_and_invalid_yaml_exit_2(tmp_path: Path) -> None:
    root, _ = make_project(tmp_path, with_model=True)
    prod = root / "config" / "prod.yaml"
    prod.write_text("databse:\n  host: x\n", encoding="utf-8")
    result = runner.invoke(app, ["config", "show", "--root", str(root)], env={})
    assert result.exit_code == 2
    assert f"{prod}:1: databse: unknown key (layer env)" in result.stderr
    prod.write_text("database: [\n", encoding="utf-8")
    result = runner.invoke(app, ["config", "show", "--root", str(root)], env={})
    assert result.exit_code == 2
    assert f"{prod}:2: invalid YAML" in result.stderr


def test_bad_model_and_bad_root_exit_2(tmp_path: Path) -> None:
    root, _ = make_project(tmp_path, with_model=False)
    result = runner.invoke(app, ["config", "show", "--root", str(root), "--model", "nope:X"])
    assert result.exit_code == 2
    assert "no module named 'nope'" in result.stderr
    result = runner.invoke(app, ["config", "show", "--root", str(root / "missing")])
    assert result.exit_code == 2
    assert "no such directory" in result.stderr
    result = runner.invoke(app, ["config", "show", "--root", str(root), "--set", "novalue"])
    assert result.exit_code == 2
    assert "KEY.PATH=VALUE" in result.stderr


def test_diff_lists_changed_keys_with_their_setters(tmp_path: Path) -> None:
    root, _ = make_project(tmp_path, with_model=True)
    result = runner.invoke(
        app, ["config", "diff", "dev", "prod", "--root", str(root), "--json"], env={}
    )
    assert result.exit_code == 0, result.output
    changes = {change["key"]: change for change in json.loads(result.stdout)["changes"]}
    assert sorted(changes) == ["database.host", "database.password", "database.port", "debug"]
    password = changes["database.password"]
    assert password["dev"]["value"] == password["prod"]["value"] == "********"
    assert password["prod"]["line"] == 4
    assert changes["database.port"]["dev"]["layer"] == "env"
    assert changes["database.port"]["prod"]["layer"] == "defaults"


def test_diff_exit_code_and_no_differences(tmp_path: Path) -> None:
    root, _ = make_project(tmp_path, with_model=True)
    result = runner.invoke(
        app, ["config", "diff", "dev", "prod", "--root", str(root), "--exit-code"], env={}
    )
    assert result.exit_code == 1
    assert "database.host" in result.stdout
    same = runner.invoke(app, ["config", "diff", "qa", "staging", "--root", str(root)], env={})
    assert same.exit_code == 0
    assert "no differences" in same.stdout


def test_show_in_a_real_process(tmp_path: Path) -> None:
    root, _ = make_project(tmp_path, with_model=True)
    completed = subprocess.run(
        ["uv", "run", "--quiet", "shipshape", "config", "show", "--root", str(root), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["env"] == "prod"
