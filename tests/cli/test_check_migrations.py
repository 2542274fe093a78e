"""``shipshape check``'s migrations part (SS-MIG) on real SQLite files and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from shipshape.cli import app
from shipshape.cli.check import MIGRATION_RULES, check_rules
from tests.databases import postgres_schema

runner = CliRunner()

USERS = """\
from pydantic import BaseModel, Field


class User(BaseModel):
    __tablename__ = "users"
    id: int
    name: str = Field(max_length=50)
"""

USERS_V2 = USERS + "    email: str | None = None\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory as the cwd (``migrate`` imports models from there)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHIPSHAPE_DATABASE_URL", raising=False)
    return tmp_path


def models(root: Path, body: str) -> str:
    """A model module with a fresh name, so that no test sees another's cached import."""
    name = f"checkmodels_{uuid.uuid4().hex[:12]}"
    (root / f"{name}.py").write_text(textwrap.dedent(body), encoding="utf-8")
    return name


def migrate(*args: str) -> Result:
    result = runner.invoke(app, ["migrate", *args])
    assert result.exit_code == 0, result.output
    return result


def check(*args: str) -> Result:
    return runner.invoke(app, ["check", *args])


def report(result: Result) -> dict[str, object]:
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def findings(result: Result) -> list[dict[str, str]]:
    found = report(result)["findings"]
    assert isinstance(found, list)
    return found


def codes(result: Result) -> list[str]:
    return [finding["code"] for finding in findings(result)]


def test_pending_migrations_are_warnings_and_no_database_file_is_created(project: Path) -> None:
    migrate("make", "-m", models(project, USERS))
    result = check(".", "--json", "--fail-level", "warning")
    assert result.exit_code == 1, result.output
    [finding] = findings(result)
    assert (finding["code"], finding["severity"]) == ("SS-MIG001", "warning")
    assert "migration 0001_initial is not applied to sqlite:///" in finding["message"]
    assert finding["file"] == str(Path("migrations") / "0001_initial.json")
    assert finding["fix"] == "run `shipshape migrate apply`"
    assert report(result)["files"] == [finding["file"]]
    assert not (project / "shipshape.db").exists()
    assert check(".", "--fail-level", "error").exit_code == 0
    assert not (project / "shipshape.db").exists()


def test_no_findings_once_applied(project: Path) -> None:
    migrate("make", "-m", models(project, USERS))
    migrate("apply", "-d", "app.db")
    result = check(".", "--json", "--database", "app.db")
    assert (result.exit_code, codes(result)) == (0, [])
    text = check(".", "-d", "app.db")
    assert text.exit_code == 0
    assert f"{Path('migrations') / '0001_initial.json'}: no findings" in text.stdout
    # the default database is PATH/shipshape.db, and $SHIPSHAPE_DATABASE_URL overrides it
    (project / "app.db").rename(project / "shipshape.db")
    assert codes(check(".", "--json")) == []
    env = {"SHIPSHAPE_DATABASE_URL": str(project / "other.db")}
    assert codes(runner.invoke(app, ["check", ".", "--json"], env=env)) == ["SS-MIG001"]
    assert not (project / "other.db").exists()


def test_a_file_edited_after_apply_is_an_error(project: Path) -> None:
    migrate("make", "-m", models(project, USERS))
    migrate("apply", "-d", "app.db")
    file = project / "migrations" / "0001_initial.json"
    file.write_text(file.read_text().replace("VARCHAR(50)", "VARCHAR(80)"), encoding="utf-8")
    result = check(".", "--json", "-d", "app.db", "--fail-level", "error")
    assert result.exit_code == 1
    # the edited snapshot no longer matches the models either
    finding, drift = findings(result)
    assert (finding["code"], finding["severity"], drift["code"]) == (
        "SS-MIG002",
        "error",
        "SS-MIG004",
    )
    assert "alter_column users.name VARCHAR(80) NOT NULL → VARCHAR(50)" in drift["message"]
    assert "0001_initial was changed after it was applied" in finding["message"]
    assert finding["file"] == str(Path("migrations") / "0001_initial.json")


def test_an_applied_migration_without_its_file_is_an_error(project: Path) -> None:
    v1 = models(project, USERS)
    migrate("make", "-m", v1)
    v2 = models(project, USERS_V2)
    migrate("make", "-m", v2)
    migrate("apply", "-d", "app.db")
    [second] = (project / "migrations").glob("0002_*.json")
    second.unlink()
    result = check(".", "--json", "-d", "app.db")
    assert result.exit_code == 1
    found = findings(result)
    assert [f["code"] for f in found] == ["SS-MIG003"]
    assert f"{second.stem} was applied to sqlite:///" in found[0]["message"]
    assert found[0]["file"] == "migrations"
    # with every file gone, the history still names what was applied
    (project / "migrations" / "0001_initial.json").unlink()
    assert codes(check(".", "--json", "-d", "app.db")) == ["SS-MIG003", "SS-MIG003"]


def test_a_pending_contract_migration_says_when_to_apply_it(project: Path) -> None:
    migrate("make", "-m", models(project, USERS_V2))
    migrate("make", "-m", models(project, USERS), "--allow-destructive")
    migrate("apply", "-d", "app.db")
    [finding] = findings(check(".", "--json", "-d", "app.db"))
    assert finding["code"] == "SS-MIG001"
    assert finding["message"].startswith("contract migration 0002_")
    assert "apply --contract` once no running code uses what it drops" in finding["fix"]


def test_models_drifted_from_the_last_snapshot(project: Path) -> None:
    migrate("make", "-m", models(project, USERS))
    migrate("apply", "-d", "app.db")
    (project / "pyproject.toml").write_text(
        f'[tool.shipshape]\nmodels = "{models(project, USERS_V2)}"\n', encoding="utf-8"
    )
    result = check(".", "--json", "-d", "app.db")
    assert result.exit_code == 1
    [finding] = findings(result)
    assert (finding["code"], finding["severity"]) == ("SS-MIG004", "error")
    assert "drifted from the last migration: add_column users.email TEXT" in finding["message"]
    assert finding["file"] == str(Path("migrations") / "0001_initial.json")
    assert "shipshape migrate make" in finding["fix"]


def test_drift_from_the_models_the_migrations_recorded_in_a_real_process(project: Path) -> None:
    module = models(project, USERS)
    migrate("make", "-m", module)
    migrate("apply", "-d", "app.db")
    assert codes(check(".", "--json", "-d", "app.db")) == []
    (project / f"{module}.py").write_text(USERS_V2, encoding="utf-8")
    repo = str(Path(__file__).parents[2])
    done = subprocess.run(
        ["uv", "run", "--project", repo, "shipshape", "check", ".", "--json", "-d", "app.db"],
        capture_output=True,
        text=True,
        cwd=project,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert [f["code"] for f in json.loads(done.stdout)["findings"]] == ["SS-MIG004"]


def test_configured_models_and_no_migration_yet(project: Path) -> None:
    (project / "migrations").mkdir()
    (project / "pyproject.toml").write_text(
        f'[tool.shipshape]\nmodels = ["{models(project, USERS)}"]\n', encoding="utf-8"
    )
    result = check(".", "--json")
    assert codes(result) == ["SS-MIG004"]
    assert "create_table users (2 columns)" in findings(result)[0]["message"]
    (project / "pyproject.toml").write_text("[tool.shipshape]\nmodels = 3\n", encoding="utf-8")
    bad = check(".")
    assert bad.exit_code == 2
    assert "pyproject.toml: [tool.shipshape] models must be a module name" in bad.stderr


def test_unreachable_database_is_a_warning_without_the_password(
    project: Path, free_port: int
) -> None:
    migrate("make", "-m", models(project, USERS))
    url = f"postgresql://app:s3cr3t-pw@127.0.0.1:{free_port}/app"
    result = check(".", "--json", "--database", url)
    assert result.exit_code == 1
    [finding] = findings(result)
    assert (finding["code"], finding["severity"]) == ("SS-MIG005", "warning")
    assert f"postgresql+psycopg://app:***@127.0.0.1:{free_port}/app" in finding["message"]
    assert "s3cr3t-pw" not in result.output
    assert check(".", "-d", url, "--fail-level", "error").exit_code == 0
    text = check(".", "-d", url)
    assert "SS-MIG005" in text.stdout
    assert "s3cr3t-pw" not in text.output


@pytest.mark.parametrize(
    "url", ["postgresql://app:s3cr3t-pw@db:notaport/app", "nodb+nodriver://app:s3cr3t-pw@db/app"]
)
def test_a_bad_database_url_exits_2_without_the_password(project: Path, url: str) -> None:
    migrate("make", "-m", models(project, USERS))
    result = check(".", "--database", url)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --database: ")
    assert "s3cr3t-pw" not in result.output
    assert "Traceback" not in result.output


def test_no_migrations_directory_means_no_migration_findings(project: Path) -> None:
    (project / "config").mkdir()
    (project / "config" / "prod.yaml").write_text("debug: false\n", encoding="utf-8")
    result = check(".", "--json", "-d", "postgresql://app:pw@127.0.0.1:1/app")
    assert (result.exit_code, codes(result), report(result)["errors"]) == (0, [], [])
    assert list(project.iterdir()) == [project / "config"]
    assert check(str(project / "migrations")).exit_code == 2


def test_an_existing_sqlite_file_is_only_read(project: Path) -> None:
    migrate("make", "-m", models(project, USERS))
    empty = project / "empty.db"
    empty.touch()
    assert codes(check(".", "--json", "-d", "empty.db")) == ["SS-MIG001"]
    assert empty.stat().st_size == 0
    assert sorted(path.name for path in project.iterdir() if path.suffix == ".db") == ["empty.db"]


def test_a_corrupt_migration_file_exits_2_naming_it(project: Path) -> None:
    (project / "migrations").mkdir()
    (project / "migrations" / "0001_initial.json").write_text("{", encoding="utf-8")
    result = check(".", "--json")
    assert result.exit_code == 2
    assert "0001_initial.json: not a valid migration" in report(result)["errors"][0]  # type: ignore[index]


def test_json_and_sarif_include_the_migration_rules(project: Path) -> None:
    migrate("make", "-m", models(project, USERS))
    assert [rule.id for rule in check_rules()][-5:] == list(MIGRATION_RULES)
    assert list(MIGRATION_RULES) == [f"SS-MIG00{n}" for n in range(1, 6)]
    sarif = json.loads(check(".", "--format", "sarif").stdout)
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert set(MIGRATION_RULES) <= set(ids)
    [result] = run["results"]
    assert ids[result["ruleIndex"]] == "SS-MIG001"
    assert result["level"] == "warning"
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == str(Path("migrations") / "0001_initial.json")
    data = report(check(".", "--json"))
    assert data["counts"] == {"info": 0, "warning": 1, "error": 0}


@pytest.fixture
def fresh_schema(postgres_url: str) -> Iterator[str]:
    """A fresh schema on the real server, as a URL whose search_path points at it."""
    with postgres_schema(postgres_url) as url:
        yield url


def test_pending_then_applied_on_postgresql(project: Path, fresh_schema: str) -> None:
    v1 = models(project, USERS)
    migrate("make", "-m", v1)
    migrate("make", "-m", models(project, USERS_V2))
    first = check(".", "--json", "-d", fresh_schema)
    assert first.exit_code == 1
    assert codes(first) == ["SS-MIG001", "SS-MIG001"]
    assert "0001_initial is not applied to postgresql+psycopg://" in findings(first)[0]["message"]
    migrate("apply", "-d", fresh_schema)
    assert codes(check(".", "--json", "-d", fresh_schema)) == []
    migrate("rollback", "-d", fresh_schema)
    [pending] = findings(check(".", "--json", "-d", fresh_schema))
    assert pending["code"] == "SS-MIG001"
    assert "0002_add_users_email" in pending["message"]


def test_migrations_dir_setting_and_models_that_cannot_be_imported(project: Path) -> None:
    migrate("make", "-m", models(project, USERS), "--dir", "db/migrations")
    assert "found no Dockerfile" in check(".").stderr  # no migrations/ here
    (project / "pyproject.toml").write_text(
        '[tool.shipshape]\nmigrations_dir = "db/migrations"\n', encoding="utf-8"
    )
    assert codes(check(".", "--json")) == ["SS-MIG001"]
    (project / "pyproject.toml").write_text(
        '[tool.shipshape]\nmigrations_dir = "db/migrations"\nmodels = "no_such_models_xyz"\n',
        encoding="utf-8",
    )
    result = check(".")
    assert result.exit_code == 2
    assert "no module named 'no_such_models_xyz'" in result.stderr
    assert "Traceback" not in result.output
