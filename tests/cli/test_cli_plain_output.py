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
