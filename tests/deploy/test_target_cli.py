"""``shipshape deploy validate`` and ``render`` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import yaml
from typer.testing import CliRunner

from shipshape.cli import app

runner = CliRunner()

DEPLOY_YAML = """\
base:
  name: orders
  region: eu-west-1
  instance_type: m6i.large
  min_instances: 2
  image: ghcr.io/acme/orders:1.4.2
  secrets:
    DATABASE_URL: {secret: orders-db, key: url}
environments:
  dev:
    min_instances: 1
  prod:
    min_instances: 3
    max_instances: 10
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_validate_reports_each_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", DEPLOY_YAML)
    result = runner.invoke(app, ["deploy", "validate", path, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["valid"] is True
    assert [env["env"] for env in report["environments"]] == ["dev", "prod"]
    [warning] = report["environments"][0]["findings"]
    assert (warning["code"], warning["id"], warning["line"]) == ("single_instance", "SS-DEP015", 11)


def test_fail_level_warning_turns_warnings_into_exit_1(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", DEPLOY_YAML)
    result = runner.invoke(app, ["deploy", "validate", path, "--fail-level", "warning"])
    assert result.exit_code == 1
    assert "single_instance" in result.stdout


def test_validate_exits_1_on_seed_codes_with_seed_json(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.json", '{"region": 1, "min_instances": 0}')
    result = runner.invoke(app, ["deploy", "validate", path, "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["errors"] == [
        "missing_instance_type",
        "region_must_be_string",
        "min_instances_must_be_positive_integer",
    ]


def test_validate_one_environment_and_an_unknown_one(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", DEPLOY_YAML)
    result = runner.invoke(app, ["deploy", "validate", path, "--env", "prod"])
    assert result.exit_code == 0
    assert "[prod]: valid" in result.stdout
    result = runner.invoke(app, ["deploy", "validate", path, "--env", "qa"])
    assert result.exit_code == 2
    assert "no environment 'qa' (found: dev, prod)" in result.stderr


def test_bad_input_exits_2_with_file_and_line(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.toml", "region = 'r'\nmin_instances = \n")
    result = runner.invoke(app, ["deploy", "validate", broken])
    assert result.exit_code == 2
    assert f"{broken}:2: invalid TOML" in result.stderr
    unknown = write(tmp_path, "unknown.yaml", DEPLOY_YAML + "    replica_count: 3\n")
    result = runner.invoke(app, ["deploy", "validate", unknown])
    assert result.exit_code == 2
    assert f"{unknown}:15: prod: replica_count: unknown key" in result.stderr
    result = runner.invoke(app, ["deploy", "validate", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "no such file" in result.stderr
    assert "Traceback" not in result.output


def test_render_prod_to_a_valid_yaml_stream(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", DEPLOY_YAML)
    result = runner.invoke(app, ["deploy", "render", path, "--env", "prod"])
    assert result.exit_code == 0, result.output
    manifests = list(yaml.safe_load_all(result.stdout))
    assert [m["kind"] for m in manifests][3:5] == ["Job", "Deployment"]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, "1.31.0", strict=True)
    hpa = manifests[6]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)


def test_render_to_a_directory(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", DEPLOY_YAML)
    out = tmp_path / "k8s"
    result = runner.invoke(app, ["deploy", "render", path, "--env", "dev", "-o", str(out)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names[3:5] == ["03-job-" + names[3][7:], "04-deployment-orders.yaml"]
    assert len(names) == 8


def test_render_needs_an_environment_when_there_are_several(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", DEPLOY_YAML)
    result = runner.invoke(app, ["deploy", "render", path])
    assert result.exit_code == 2
    assert "pick one with --env" in result.stderr


def test_render_refuses_a_spec_with_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path, "deploy.yaml", DEPLOY_YAML.replace("max_instances: 10", "max_instances: 1")
    )
    result = runner.invoke(app, ["deploy", "render", path, "--env", "prod"])
    assert result.exit_code == 1
    assert f"{path}:14: SS-DEP010 max_instances_below_min" in result.stderr
    assert result.stdout == ""


def test_render_without_image_is_bad_input(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", "region: r\ninstance_type: t\nmin_instances: 2\n")
    result = runner.invoke(app, ["deploy", "render", path])
    assert result.exit_code == 2
    assert "image: required" in result.stderr
