"""``config show --json`` / ``config diff --json``: values are JSON values, secrets masked."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shipshape.cli import app

runner = CliRunner()


def test_an_empty_or_missing_secret_is_an_empty_string_or_null_in_json(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "prod.yaml").write_text(
        "api_token: ''\nsigning_key: null\ndb_password: hunter2\n", encoding="utf-8"
    )
    result = runner.invoke(
        app,
        ["config", "show", "--root", str(tmp_path), "--secrets-dir", "none", "--json"],
        env={},
    )
    assert result.exit_code == 0, result.output
    settings = {entry["key"]: entry for entry in json.loads(result.stdout)["settings"]}
    assert settings["api_token"]["value"] == ""
    assert settings["signing_key"]["value"] is None
    assert settings["db_password"]["value"] == "********"
    assert all(entry["secret"] for entry in settings.values())
    assert "hunter2" not in result.stdout


def test_the_table_still_shows_an_empty_secret_as_quotes(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "prod.yaml").write_text("api_token: ''\n", encoding="utf-8")
    result = runner.invoke(
        app, ["config", "show", "--root", str(tmp_path), "--secrets-dir", "none"], env={}
    )
    assert result.exit_code == 0, result.output
    assert '""' in result.stdout


def test_diff_json_shows_an_emptied_secret_as_an_empty_string(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "dev.yaml").write_text("api_token: ''\n", encoding="utf-8")
    (config / "prod.yaml").write_text("api_token: s3cret\n", encoding="utf-8")
    args = ["diff", "dev", "prod", "--json", "--root", str(tmp_path), "--secrets-dir", "none"]
    result = runner.invoke(app, ["config", *args], env={})
    assert result.exit_code == 0, result.output
    [change] = json.loads(result.stdout)["changes"]
    assert change["dev"]["value"] == ""
    assert change["prod"]["value"] == "********"
    assert "s3cret" not in result.stdout
