"""``shipshape dockerfile lint|rules|generate`` through the CLI and a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipshape.cli import app
from shipshape.deploy.dockerfile import LintSettings, lint_dockerfile, lint_path, rule_table

CORPUS = Path(__file__).parent.parent / "corpus" / "dockerfiles"
runner = CliRunner()


def lint(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["dockerfile", "lint", *args], input=input)
    return result.exit_code, result.stdout, result.stderr


def test_lint_clean_file_exits_0(tmp_path: Path) -> None:
    code, out, _ = lint(str(CORPUS / "good-uv-multistage.Dockerfile"))
    assert code == 0
    assert "no findings" in out


def test_lint_text_names_file_line_code_and_fix() -> None:
    code, out, _ = lint(str(CORPUS / "bad-port-mismatch.Dockerfile"))
    assert code == 1
    assert "bad-port-mismatch.Dockerfile:9: SS-DF013 error" in out
    assert "uvicorn listens on port 8080 but EXPOSE declares 8000" in out
    assert "fix: Make EXPOSE and the server's --port" in out


def test_lint_json_output() -> None:
    code, out, _ = lint(str(CORPUS / "bad-secrets.Dockerfile"), "--json")
    assert code == 1
    data = json.loads(out)
    assert [(f["code"], f["line"]) for f in data["findings"]] == [
        ("SS-DF016", 2),
        ("SS-DF016", 6),
        ("SS-DF016", 7),
    ]
    assert data["counts"] == {"info": 0, "warning": 0, "error": 3}
    assert data["errors"] == []


def test_lint_sarif_output_is_sarif_2_1_0() -> None:
    code, out, _ = lint(str(CORPUS / "bad-everything.Dockerfile"), "--format", "sarif")
    assert code == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in rule_table()]
    first = run["results"][0]
    assert first["ruleId"] == rules[first["ruleIndex"]]["id"]
    assert first["level"] in {"note", "warning", "error"}
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("bad-everything.Dockerfile")


def test_sarif_of_a_run_that_failed_says_so_with_the_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.Dockerfile"
    broken.write_text("FROM python:3.12-slim\nRUN <<EOF\necho hi\n")
    good = CORPUS / "bad-reload.Dockerfile"
    code, out, err = lint(str(broken), str(good), "--format", "sarif")
    assert code == 2
    run = json.loads(out)["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["SS-DF015"]
    [invocation] = run["invocations"]
    assert invocation["executionSuccessful"] is False
    [notification] = invocation["toolExecutionNotifications"]
    assert notification["level"] == "error"
    assert notification["message"]["text"] == f"{broken}:2: " + (
        "unterminated heredoc: no line 'EOF' ends the <<EOF opened here"
    )
    location = notification["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("broken.Dockerfile")
    assert location["region"] == {"startLine": 2}
    assert "unterminated heredoc" in err


def test_sarif_of_a_run_that_succeeded_says_so() -> None:
    for file, expected in (("bad-reload.Dockerfile", 1), ("good-pip-single.Dockerfile", 0)):
        code, out, _ = lint(str(CORPUS / file), "--format", "sarif")
        assert code == expected
        assert json.loads(out)["runs"][0]["invocations"] == [{"executionSuccessful": True}]


def test_sarif_of_a_missing_file_has_a_notification_naming_it(tmp_path: Path) -> None:
    code, out, _ = lint(str(tmp_path / "nope"), "--format", "sarif")
    assert code == 2
    [invocation] = json.loads(out)["runs"][0]["invocations"]
    [notification] = invocation["toolExecutionNotifications"]
    assert notification["message"]["text"].endswith("nope: no such file")
    location = notification["locations"][0]["physicalLocation"]
    assert "region" not in location
    assert location["artifactLocation"]["uri"].endswith("nope")


@pytest.mark.parametrize(
    ("level", "expected"),
    [("info", 1), ("warning", 1), ("error", 0)],
)
def test_fail_level(level: str, expected: int) -> None:
    code, _, _ = lint(str(CORPUS / "bad-reload.Dockerfile"), "--fail-level", level)
    assert code == expected


def test_ignore_option() -> None:
    code, out, _ = lint(str(CORPUS / "bad-reload.Dockerfile"), "--ignore", "SS-DF015")
    assert code == 0, out


def test_fail_level_and_ignore_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.shipshape.dockerfile]\nfail-level = "error"\nignore = ["SS-DF019"]\n'
    )
    (tmp_path / "Dockerfile").write_text((CORPUS / "bad-reload.Dockerfile").read_text())
    code, out, _ = lint(str(tmp_path / "Dockerfile"))
    assert code == 0
    assert "SS-DF015 warning" in out
    assert "SS-DF019" not in out
    assert lint(str(tmp_path / "Dockerfile"), "--fail-level", "warning")[0] == 1


def test_bad_pyproject_settings_exit_2_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.shipshape.dockerfile]\nignore = ["SS-DF404"]\n')
    (tmp_path / "Dockerfile").write_text("FROM python:3.12-slim\n")
    code, _, err = lint(str(tmp_path / "Dockerfile"))
    assert code == 2
    assert "pyproject.toml" in err
    assert "SS-DF404" in err
    assert "Traceback" not in err


def test_context_option_points_at_the_build_context(tmp_path: Path) -> None:
    (tmp_path / "docker").mkdir()
    dockerfile = tmp_path / "docker" / "Dockerfile"
    dockerfile.write_text((CORPUS / "good-pip-single.Dockerfile").read_text())
    (tmp_path / "requirements.txt").write_text("fastapi>=0.100\n")
    (tmp_path / ".dockerignore").write_text(".git\n.venv\n")
    code, out, _ = lint(str(dockerfile), "--context", str(tmp_path), "--json")
    assert code == 1
    findings = json.loads(out)["findings"]
    assert [(f["code"], f["message"]) for f in findings] == [
        ("SS-DF009", "requirements.txt:1: fastapi>=0.100 is not pinned to an exact version")
    ]
    (tmp_path / "docker" / "Dockerfile.dockerignore").write_text(".venv\n")
    _, out, _ = lint(str(dockerfile), "--context", str(tmp_path), "--json")
    assert "SS-DF019" in [f["code"] for f in json.loads(out)["findings"]]
    assert lint(str(dockerfile), "--context", str(tmp_path / "nope"))[0] == 2


def test_stdin() -> None:
    code, out, _ = lint("-", input=(CORPUS / "bad-shell-form.Dockerfile").read_text())
    assert code == 1
    assert "<stdin>:9: SS-DF007" in out


def test_unreadable_and_non_dockerfiles_exit_2_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("Shopping list\nmilk\n")
    code, out, err = lint(str(tmp_path / "missing"), str(tmp_path / "notes.txt"))
    assert code == 2
    assert f"{tmp_path / 'missing'}: no such file" in err
    assert f"{tmp_path / 'notes.txt'}:1: unknown instruction 'Shopping'" in err
    assert "Traceback" not in out + err


def test_good_files_are_still_reported_next_to_a_bad_one(tmp_path: Path) -> None:
    code, out, _ = lint(str(CORPUS / "bad-reload.Dockerfile"), str(tmp_path / "missing"), "--json")
    assert code == 2
    data = json.loads(out)
    assert [f["code"] for f in data["findings"]] == ["SS-DF015"]
    assert len(data["errors"]) == 1


def test_rules_command_lists_the_table() -> None:
    result = runner.invoke(app, ["dockerfile", "rules", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert rows[13]["id"] == "SS-DF014"
    assert set(rows[0]) == {"id", "name", "severity", "why", "fix"}


def test_lint_in_a_real_process() -> None:
    command = [sys.executable, "-c", "from shipshape.cli import main; main()"]
    done = subprocess.run(
        [*command, "dockerfile", "lint", "--json", str(CORPUS / "bad-localhost.Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert [f["code"] for f in json.loads(done.stdout)["findings"]] == ["SS-DF014"]


# --- generate --------------------------------------------------------------------------------


def make_uv_project(root: Path) -> Path:
    (root / "src" / "orders").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "orders"\nversion = "0.1.0"\nrequires-python = ">=3.11,<3.13"\n'
        'dependencies = ["fastapi==0.115.6", "uvicorn==0.34.0"]\n'
    )
    (root / "uv.lock").write_text("version = 1\n")
    (root / "src" / "orders" / "__init__.py").write_text("")
    (root / "src" / "orders" / "main.py").write_text(
        "from fastapi import FastAPI\n\napp = FastAPI()\n"
    )
    return root


def make_pip_project(root: Path) -> Path:
    (root / "service").mkdir(parents=True)
    (root / "requirements.txt").write_text("fastapi==0.115.6\nuvicorn[standard]==0.34.0\n")
    (root / "service" / "__init__.py").write_text("")
    (root / "service" / "api.py").write_text("import fastapi\n\nweb = fastapi.FastAPI()\n")
    return root


def test_generate_uv_project_lints_with_zero_findings(tmp_path: Path) -> None:
    project = make_uv_project(tmp_path)
    result = runner.invoke(app, ["dockerfile", "generate", str(project)])
    assert result.exit_code == 0, result.stderr
    dockerfile = (project / "Dockerfile").read_text()
    assert "FROM python:3.12-slim AS build" in dockerfile
    assert "RUN uv sync --frozen --no-dev" in dockerfile
    assert 'CMD ["uvicorn", "orders.main:app", "--host", "0.0.0.0", "--port", "8000"]' in dockerfile
    assert dockerfile.count("FROM ") == 2
    assert "USER 10001:10001" in dockerfile
    assert lint_path(project / "Dockerfile", LintSettings()) == []
    assert lint(str(project))[0] == 0


def test_generate_pip_project_lints_with_zero_findings(tmp_path: Path) -> None:
    project = make_pip_project(tmp_path)
    result = runner.invoke(app, ["dockerfile", "generate", str(project), "--port", "9000"])
    assert result.exit_code == 0, result.stderr
    dockerfile = (project / "Dockerfile").read_text()
    assert "RUN pip install -r requirements.txt" in dockerfile
    assert '"service.api:web"' in dockerfile
    assert "EXPOSE 9000" in dockerfile
    assert lint_path(project, LintSettings()) == []
    assert ".venv" in (project / ".dockerignore").read_text().splitlines()


def test_generate_serves_with_shipshape_when_the_project_uses_it(tmp_path: Path) -> None:
    project = make_uv_project(tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('"uvicorn==0.34.0"', '"shipshape==0.1.0"')
        + '\n[tool.shipshape]\napp = "orders.main:app"\n'
    )
    result = runner.invoke(app, ["dockerfile", "generate", str(project), "--stdout"])
    assert result.exit_code == 0
    assert (
        '["shipshape", "serve", "orders.main:app", "--host", "0.0.0.0", "--port", "8000"]'
        in result.stdout
    )
    assert "HEALTHCHECK" in result.stdout
    assert "/livez" in result.stdout
    assert lint_dockerfile(result.stdout) == []
    assert not (project / "Dockerfile").exists()


def test_generate_never_overwrites_without_force(tmp_path: Path) -> None:
    project = make_pip_project(tmp_path)
    (project / "Dockerfile").write_text("FROM mine\n")
    result = runner.invoke(app, ["dockerfile", "generate", str(project)])
    assert result.exit_code == 2
    assert "already exists; use --force" in result.stderr
    assert (project / "Dockerfile").read_text() == "FROM mine\n"
    assert not (project / ".dockerignore").exists()
    forced = runner.invoke(app, ["dockerfile", "generate", str(project), "--force", "--json"])
    assert forced.exit_code == 0
    assert json.loads(forced.stdout)["written"][0].endswith("Dockerfile")
    assert (project / "Dockerfile").read_text().startswith("# syntax=docker/dockerfile:1")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("empty", "neither uv.lock nor requirements.txt"),
        ("no-app", "cannot tell which ASGI app"),
        ("bad-toml", "invalid TOML"),
        ("bad-python", "allows none of"),
    ],
)
def test_generate_bad_projects_exit_2(tmp_path: Path, setup: str, message: str) -> None:
    if setup == "empty":
        (tmp_path / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    elif setup == "no-app":
        (tmp_path / "requirements.txt").write_text("fastapi==0.115.6\n")
    elif setup == "bad-toml":
        (tmp_path / "pyproject.toml").write_text("[project\nname=")
    else:
        (tmp_path / "pyproject.toml").write_text('[project]\nrequires-python = ">=4"\n')
        (tmp_path / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    result = runner.invoke(app, ["dockerfile", "generate", str(tmp_path)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_generate_notes_unpinned_requirements(tmp_path: Path) -> None:
    project = make_pip_project(tmp_path)
    (project / "requirements.txt").write_text("fastapi\nuvicorn==0.34.0\n")
    result = runner.invoke(app, ["dockerfile", "generate", str(project)])
    assert result.exit_code == 0
    assert "requirements.txt:1: fastapi is not pinned" in result.stderr
    assert [f.code for f in lint_path(project, LintSettings())] == ["SS-DF009"]


def test_generate_stdout_keeps_the_notes_on_stderr(tmp_path: Path) -> None:
    project = make_pip_project(tmp_path)
    (project / "requirements").mkdir()
    (project / "requirements" / "base.txt").write_text("fastapi==0.115.0\nhttpx\n")
    (project / "requirements.txt").write_text("-r requirements/base.txt\ngunicorn==22.0.0\n")
    result = runner.invoke(app, ["dockerfile", "generate", str(project), "--stdout"])
    assert result.exit_code == 0, result.stderr
    assert "note: requirements/base.txt:2: httpx is not pinned" in result.stderr
    assert result.stdout.startswith("# syntax=docker/dockerfile:1\n")
    assert "note:" not in result.stdout
    assert not (project / "Dockerfile").exists()


@pytest.mark.parametrize(
    ("pyproject", "expected"),
    [
        (None, "3.12"),
        ('[project]\nname = "svc"\nversion = "1"\n', "3.12"),
        ('[project]\nname = "svc"\nversion = "1"\nrequires-python = ">=3.9"\n', "3.13"),
        ('[project]\nname = "svc"\nversion = "1"\nrequires-python = "<3.11"\n', "3.10"),
    ],
)
def test_generate_python_without_and_with_requires_python(
    tmp_path: Path, pyproject: str | None, expected: str
) -> None:
    project = make_pip_project(tmp_path)
    if pyproject is not None:
        (project / "pyproject.toml").write_text(pyproject)
    result = runner.invoke(app, ["dockerfile", "generate", str(project), "--stdout"])
    assert result.exit_code == 0, result.stderr
    assert f"FROM python:{expected}-slim AS runtime" in result.stdout


def test_validate_reads_a_folder_as_lint_does(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text((CORPUS / "good-pip-single.Dockerfile").read_text())
    for command in ("validate", "lint"):
        result = runner.invoke(app, ["dockerfile", command, str(tmp_path / "")])
        assert result.exit_code in (0, 1), result.output
        assert "is a directory" not in result.stderr
    result = runner.invoke(app, ["dockerfile", "validate", str(tmp_path), "--json"])
    assert (result.exit_code, json.loads(result.stdout)) == (0, {"valid": True, "errors": []})
    empty = tmp_path / "empty"
    empty.mkdir()
    for command in ("validate", "lint"):
        result = runner.invoke(app, ["dockerfile", command, str(empty)])
        assert result.exit_code == 2
        assert f"{empty / 'Dockerfile'}: no such file" in result.stderr
