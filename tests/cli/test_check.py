"""``shipshape check``: one report over Dockerfile, deploy spec and configuration layers."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from shipshape.cli.check import CHECKERS, check, check_rules

runner = CliRunner()
app = typer.Typer()
app.command()(check)

GOOD_DOCKERFILE = """\
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system app
USER 10001
EXPOSE 8000
CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"]
"""

GOOD_DEPLOY = """\
base:
  name: orders
  region: eu-west-1
  instance_type: m6i.large
  min_instances: 2
  image: ghcr.io/acme/orders:1.4.2
environments:
  prod:
    max_instances: 6
"""

MODEL = """\
from pydantic import BaseModel, SecretStr


class Settings(BaseModel):
    debug: bool = False
    log_level: str = "info"
    secret_key: SecretStr = SecretStr("dev-only-key")
    database_url: str
"""


def make(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def good_project(tmp_path: Path) -> Path:
    return make(
        tmp_path,
        {
            "Dockerfile": GOOD_DOCKERFILE,
            ".dockerignore": ".git\n.venv\n",
            "requirements.txt": "fastapi==0.115.0\n",
            "deploy.yaml": GOOD_DEPLOY,
            "config/base.yaml": "debug: false\nlog_level: info\n",
            "config/prod.yaml": "log_level: warning\n",
        },
    )


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), env={})


def codes(result: Result) -> list[str]:
    return [finding["code"] for finding in json.loads(result.stdout)["findings"]]


def test_a_ready_project_passes(tmp_path: Path) -> None:
    root = good_project(tmp_path)
    result = run(str(root), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["findings"] == []
    assert report["files"] == [
        str(root / "Dockerfile"),
        str(root / "deploy.yaml"),
        str(root / "config" / "base.yaml"),
        str(root / "config" / "prod.yaml"),
    ]
    text = run(str(root))
    assert text.exit_code == 0
    assert f"{root / 'deploy.yaml'}: no findings" in text.stdout


def test_one_report_over_every_part_in_one_namespace(tmp_path: Path) -> None:
    root = good_project(tmp_path)
    make(
        root,
        {
            "Dockerfile": GOOD_DOCKERFILE.replace("USER 10001\n", ""),
            "deploy.yaml": GOOD_DEPLOY.replace(
                "max_instances: 6", "max_instances: 1\n    min_instances: 3"
            ),
            "config/prod.yaml": "debug: true\nlog_level: DEBUG\napi_token: abc123\n",
        },
    )
    result = run(str(root), "--json")
    assert result.exit_code == 1
    found = json.loads(result.stdout)["findings"]
    assert [(f["code"], f["line"]) for f in found] == [
        ("SS-DF011", 1),
        ("SS-CFG001", 1),
        ("SS-CFG002", 2),
        ("SS-CFG003", 3),
        ("SS-DEP010", 9),
    ]
    assert found[1]["file"] == str(root / "config" / "prod.yaml")
    assert "[prod] debug is on" in found[1]["message"]


def test_default_and_placeholder_secrets_with_the_project_model(tmp_path: Path) -> None:
    module = f"checksettings_{uuid.uuid4().hex[:8]}"
    root = make(
        tmp_path,
        {
            f"{module}.py": MODEL,
            "pyproject.toml": f'[tool.shipshape]\nsettings = "{module}:Settings"\n',
            "config/base.yaml": "log_level: info\n",
        },
    )
    result = run(str(root), "--json")
    assert result.exit_code == 1, result.output
    [finding] = json.loads(result.stdout)["findings"]
    assert finding["code"] == "SS-CFG004"
    assert "secret_key keeps the model's default" in finding["message"]
    make(root, {"config/prod.yaml": "secret_key: changeme\n"})
    assert codes(run(str(root), "--json")) == ["SS-CFG003", "SS-CFG004"]


def test_a_key_only_the_deploy_environment_supplies_is_not_a_finding(tmp_path: Path) -> None:
    module = f"checksettings_{uuid.uuid4().hex[:8]}"
    root = make(
        tmp_path,
        {
            f"{module}.py": MODEL.replace('SecretStr("dev-only-key")', 'SecretStr("")'),
            "config/base.yaml": "log_level: info\n",
        },
    )
    result = run(str(root), "--model", f"{module}:Settings", "--json")
    assert result.exit_code == 0, result.output


def test_secrets_in_non_production_files_are_info(tmp_path: Path) -> None:
    root = make(tmp_path, {"config/dev.yaml": "database:\n  password: postgres\n"})
    result = run(str(root), "--json")
    [finding] = json.loads(result.stdout)["findings"]
    assert (finding["code"], finding["severity"], finding["line"]) == ("SS-CFG003", "info", 2)
    assert result.exit_code == 1
    assert run(str(root), "--fail-level", "warning").exit_code == 0


def test_production_environment_names(tmp_path: Path) -> None:
    root = make(tmp_path, {"config/live.yaml": "debug: 'on'\n"})
    assert codes(run(str(root), "--json")) == []
    assert codes(run(str(root), "--json", "--prod-env", "live")) == ["SS-CFG001"]


def test_sarif_lists_every_rule_and_each_result(tmp_path: Path) -> None:
    root = make(tmp_path, {"config/prod.yaml": "debug: true\n"})
    result = run(str(root), "--format", "sarif")
    assert result.exit_code == 1
    sarif = json.loads(result.stdout)
    run_ = sarif["runs"][0]
    rule_ids = [rule["id"] for rule in run_["tool"]["driver"]["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    assert {"SS-DF011", "SS-DEP010", "SS-CFG001"} <= set(rule_ids)
    [sarif_result] = run_["results"]
    assert rule_ids[sarif_result["ruleIndex"]] == "SS-CFG001"
    assert sarif_result["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}


def test_sarif_reports_a_part_that_could_not_be_checked(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {"config/prod.yaml": "debug: true\n", "Dockerfile": "FROM python:3.12-slim\nRUN <<EOF\n"},
    )
    result = run(str(root), "--format", "sarif")
    assert result.exit_code == 2
    run_ = json.loads(result.stdout)["runs"][0]
    assert [r["ruleId"] for r in run_["results"]] == ["SS-CFG001"]
    [invocation] = run_["invocations"]
    assert invocation["executionSuccessful"] is False
    [notification] = invocation["toolExecutionNotifications"]
    assert "unterminated heredoc" in notification["message"]["text"]
    location = notification["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("Dockerfile")
    assert location["region"] == {"startLine": 2}
    ok = run(str(make(tmp_path / "ok", {"config/prod.yaml": "debug: false\n"})), "-f", "sarif")
    assert json.loads(ok.stdout)["runs"][0]["invocations"] == [{"executionSuccessful": True}]


def test_every_rule_id_is_unique_and_namespaced() -> None:
    ids = [rule.id for rule in check_rules()]
    assert len(ids) == len(set(ids))
    assert all(rule_id.startswith(("SS-DF", "SS-DEP", "SS-CFG", "SS-MIG")) for rule_id in ids)
    assert [name for name, _ in CHECKERS] == ["dockerfile", "deploy", "config", "migrations"]


def test_bad_input_exits_2_and_still_reports_the_rest(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {"deploy.yaml": "region: [\n", "config/prod.yaml": "debug: true\n"},
    )
    result = run(str(root), "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert codes(result) == ["SS-CFG001"]
    assert report["errors"][0].startswith(f"{root / 'deploy.yaml'}:2: invalid YAML")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"config/prod.yaml": "port: [1,\n"}, "prod.yaml:2: invalid YAML"),
        ({"deploy.toml": "a = 1\n", "deploy.yaml": "a: 1\n"}, "keep one or pass --deploy"),
        (
            {"deploy.yaml": "region: r\ninstance_type: t\nmin_instances: 2\nreplicas: 2\n"},
            "deploy.yaml:4: default: replicas: unknown key",
        ),
        ({"Dockerfile": ""}, "Dockerfile"),
    ],
)
def test_unreadable_parts_name_file_and_line(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    result = run(str(make(tmp_path, files)))
    assert result.exit_code == 2
    assert message in result.stderr


def test_nothing_to_check_and_no_directory(tmp_path: Path) -> None:
    result = run(str(tmp_path))
    assert result.exit_code == 2
    assert "found no Dockerfile" in result.stderr
    missing = run(str(tmp_path / "nope"))
    assert missing.exit_code == 2
    assert "no such directory" in missing.stderr


def test_deploy_port_must_be_one_the_dockerfile_exposes(tmp_path: Path) -> None:
    root = good_project(tmp_path)
    make(root, {"deploy.yaml": GOOD_DEPLOY + "    port: 8080\n"})
    result = run(str(root), "--json")
    [finding] = json.loads(result.stdout)["findings"]
    assert (finding["code"], finding["line"]) == ("SS-DEP019", 10)
    assert "port 8080 is not EXPOSEd by the Dockerfile (8000)" in finding["message"]
    make(root, {"Dockerfile": GOOD_DOCKERFILE.replace("EXPOSE 8000", "EXPOSE 8000/tcp 8080")})
    assert codes(run(str(root), "--json")) == []


def test_a_password_inside_a_url_is_a_secret_in_the_file(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {
            "config/prod.yaml": (
                "database:\n  url: postgresql://app:topsecret@db/orders\n"
                "  replicas: ['postgresql://ro:pw2@r1/orders']\n"
                "  local: sqlite:///orders.db\n"
            )
        },
    )
    result = run(str(root), "--json")
    findings = json.loads(result.stdout)["findings"]
    assert [(f["code"], f["severity"], f["line"]) for f in findings] == [
        ("SS-CFG003", "error", 2),
        ("SS-CFG003", "error", 3),
    ]
    assert "topsecret" not in result.stdout
    assert result.exit_code == 1
