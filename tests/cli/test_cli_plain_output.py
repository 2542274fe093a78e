"""Plain (non-JSON) CLI output never shows rich markup escapes such as ``\\[``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from shipshape.cli import app

runner = CliRunner()

INVALID_SPEC = """\
base:
  name: orders
  region: eu-west-1
  instance_type: m6i.large
  min_instances: 0
environments:
  dev: {}
"""


def test_deploy_validate_title_has_no_backslash(tmp_path: Path) -> None:
    spec = tmp_path / "deploy.yaml"
    spec.write_text(INVALID_SPEC, encoding="utf-8")
    result = runner.invoke(app, ["deploy", "validate", str(spec)], terminal_width=200)
    assert result.exit_code == 1, result.output
    assert f"{spec} [dev]: invalid" in result.stdout
    assert "\\" not in result.stdout


def test_error_messages_keep_brackets_and_backslashes(tmp_path: Path) -> None:
    for name in ("spec\\[dev].yaml", "spec\\[/].yaml", "spec[1,2]\\"):
        missing = tmp_path / name
        result = runner.invoke(app, ["deploy", "validate", str(missing)])
        assert result.exit_code == 2, result.output
        assert result.stderr == f"error: {missing}: no such file\n"


def test_dockerfile_errors_keep_brackets_and_backslashes(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.12-slim\n", encoding="utf-8")
    for code in ("SS-DF\\[x]", "SS-DF\\[/]"):
        result = runner.invoke(app, ["dockerfile", "lint", str(dockerfile), "--ignore", code])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"error: --ignore {code}: unknown rule id")
    project = tmp_path / "app\\[dev]"  # not a project: no pyproject.toml
    project.mkdir()
    result = runner.invoke(app, ["dockerfile", "generate", str(project)])
    assert result.exit_code == 2, result.output
    assert "app\\[dev]" in result.stderr


def test_migrate_errors_keep_brackets_and_backslashes(tmp_path: Path) -> None:
    missing = tmp_path / "db\\[x]" / "app.db"
    (tmp_path / "migrations").mkdir()
    result = runner.invoke(
        app,
        [
            "migrate",
            "rollback",
            "1",
            "-d",
            f"sqlite:///{missing}",
            "--dir",
            str(tmp_path / "migrations"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "db\\[x]" in result.stderr
