"""``shipshape migrate`` make/plan/apply/rollback/status/check through the real CLI."""

from __future__ import annotations

import json
import sqlite3
import textwrap
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipshape.cli import app

runner = CliRunner()

USERS = """\
from typing import Optional

from pydantic import BaseModel, Field


class User(BaseModel):
    __tablename__ = "users"
    id: int
    name: str = Field(max_length=50)
"""


def models(tmp_path: Path, body: str) -> str:
    """A model module with a fresh name in the project dir (the CLI imports from the cwd)."""
    name = f"models_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body), encoding="utf-8")
    return name


def migrate(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["migrate", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHIPSHAPE_DATABASE_URL", raising=False)
    return tmp_path


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchall()


def test_check_fails_on_drift_and_passes_after_make_and_apply(project: Path) -> None:
    v1 = models(project, USERS)
    assert migrate("check", "-m", v1)[0] == 1  # no migration yet: everything is drift
    assert migrate("make", "-m", v1)[0] == 0
    code, out, _ = migrate("check", "-m", v1, "--database", "app.db")
    assert (code, "pending: 0001_initial" in out) == (1, True)
    assert migrate("apply", "--database", "app.db")[0] == 0
    assert migrate("check", "-m", v1, "--database", "app.db")[0] == 0

    v2 = models(project, USERS + "    email: Optional[str] = None\n")
    code, out, _ = migrate("check", "-m", v2, "--json")
    assert code == 1
    assert json.loads(out)["drift"][0]["summary"] == "add_column users.email TEXT"
    assert migrate("make", "-m", v2)[0] == 0
    assert migrate("apply", "--database", "app.db")[0] == 0
    assert migrate("check", "--database", "app.db")[0] == 0  # the models recorded by make
    assert query(project / "app.db", "select id from shipshape_migrations") == [
        ("0001",),
        ("0002",),
    ]


def test_rename_on_the_command_line_keeps_the_data(project: Path) -> None:
    migrate("make", "-m", models(project, USERS))
    migrate("apply", "-d", "app.db")
    with sqlite3.connect(project / "app.db") as connection:
        connection.execute("insert into users values (1, 'ann')")
    renamed = models(project, USERS.replace("name: str", "full_name: str"))
    code, out, _ = migrate("plan", "-m", renamed)
    assert code == 0
    assert "hint: a drop and an add of the same type; if it is a rename, pass" in out
    assert "--rename users.name=full_name" in out
    code, out, _ = migrate("make", "-m", renamed)
    assert (code, "drop_column" in out) == (1, False)  # the drop needs --allow-destructive
    code, out, _ = migrate("make", "-m", renamed, "--rename", "users.name=full_name", "--json")
    assert code == 0, out
    [written] = json.loads(out)["written"]
    assert [(op["operation"], op["risk"]) for op in written["operations"]] == [
        ("rename_column", "backward-incompatible")
    ]
    assert migrate("apply", "-d", "app.db")[0] == 0
    assert query(project / "app.db", "select id, full_name from users") == [(1, "ann")]


def test_destructive_changes_need_a_flag_and_wait_for_the_contract_step(project: Path) -> None:
    migrate("make", "-m", models(project, USERS + "    legacy: str = 'x'\n"))
    migrate("apply", "-d", "app.db")
    v2 = models(project, USERS)
    code, _, err = migrate("make", "-m", v2)
    assert code == 1
    assert "destructive changes need --allow-destructive: users.legacy" in err
    code, out, _ = migrate("make", "-m", v2, "--allow-destructive")
    assert code == 0
    assert sorted(p.name for p in (project / "migrations").iterdir()) == [
        "0001_initial.json",
        "0002_drop_users_legacy.json",
    ]
    code, out, _ = migrate("apply", "-d", "app.db")
    assert (code, "nothing to apply" in out, "is a contract migration" in out) == (0, True, True)
    code, out, _ = migrate("status", "-d", "app.db", "--json")
    assert [(m["id"], m["phase"], m["state"]) for m in json.loads(out)["migrations"]] == [
        ("0001", "expand", "applied"),
        ("0002", "contract", "pending"),
    ]
    assert migrate("apply", "-d", "app.db", "--contract")[0] == 0
    assert [row[1] for row in query(project / "app.db", "pragma table_info(users)")] == [
        "id",
        "name",
    ]
    code, out, _ = migrate("rollback", "-d", "app.db")
    assert (code, out.strip()) == (0, "rolled back 0002_drop_users_legacy")
    assert [row[1] for row in query(project / "app.db", "pragma table_info(users)")] == [
        "id",
        "name",
        "legacy",
    ]


def test_plan_prints_sql_for_either_dialect(project: Path) -> None:
    v1 = models(project, USERS + "    tags: list[str] = []\n")
    code, out, _ = migrate("plan", "-m", v1, "--dialect", "postgresql", "--json")
    assert code == 0
    plan = json.loads(out)
    assert plan["dialect"] == "postgresql"
    [migration] = plan["migrations"]
    assert "CREATE TABLE users" in migration["sql"]
    assert "tags JSONB DEFAULT '[]' NOT NULL" in migration["sql"]
    code, out, _ = migrate("plan", "-m", v1, "--database", "postgresql://u@h/db")
    assert "-- 0001_initial (expand, postgresql)" in out
    assert not (project / "migrations").exists()  # plan writes nothing


def test_plan_pending_shows_what_apply_would_run(project: Path) -> None:
    migrate("make", "-m", models(project, USERS))
    migrate("apply", "-d", "app.db")
    migrate("make", "-m", models(project, USERS + "    email: Optional[str] = None\n"))
    code, out, _ = migrate("plan", "--pending", "-d", "app.db", "--json")
    assert code == 0
    [migration] = json.loads(out)["migrations"]
    assert migration["id"] == "0002"
    assert migration["sql"].strip() == "ALTER TABLE users ADD COLUMN email TEXT;"
    migrate("apply", "-d", "app.db")
    assert migrate("plan", "--pending", "-d", "app.db")[1].strip() == "nothing pending"


def test_an_edited_applied_migration_makes_apply_exit_1(project: Path) -> None:
    migrate("make", "-m", models(project, USERS))
    migrate("apply", "-d", "app.db")
    path = project / "migrations" / "0001_initial.json"
    path.write_text(path.read_text().replace('"name": "initial"', '"name": "initial2"'))
    code, _, err = migrate("apply", "-d", "app.db")
    assert code == 1
    assert "0001_initial2 was changed after it was applied" in err
    code, out, _ = migrate("status", "-d", "app.db")
    assert "modified" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["make", "-m", "no_such_module_here"], "--models no_such_module_here: no module named"),
        (["plan", "-m", "{users}", "--rename", "users.name"], "--rename users.name: expected"),
        (
            ["plan", "-m", "{users}", "--rename", "users.nope=x"],
            "last snapshot has no column users.nope",
        ),
        (
            ["plan", "-m", "{users}", "--dialect", "oracle"],
            "--dialect oracle: expected sqlite or postgresql",
        ),
        (["plan", "-m", "{users}:Nope"], "has no Pydantic model 'Nope'"),
        (["make"], "--models: name the module holding the models"),
        (["status", "-d", "nope://"], "database"),
        (["apply", "-d", "{corrupt}"], "0001_initial.json: not a valid migration"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(project: Path, args: list[str], message: str) -> None:
    users = models(project, USERS)
    if "{corrupt}" in args:
        (project / "migrations").mkdir()
        (project / "migrations" / "0001_initial.json").write_text('{"id": "0001", "up": 3}')
    args = [arg.replace("{users}", users).replace("{corrupt}", "app.db") for arg in args]
    code, out, err = migrate(*args)
    assert code == 2, (out, err)
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_every_command_has_help() -> None:
    for command in ("diff", "make", "plan", "apply", "rollback", "status", "check"):
        result = runner.invoke(app, ["migrate", command, "--help"])
        assert result.exit_code == 0
        assert "--json" in result.stdout
