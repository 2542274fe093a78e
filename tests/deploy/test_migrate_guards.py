"""``shipshape migrate``: read-only commands never create a database, a missing
``--dir`` is an error, and ``rollback N`` never undoes fewer or more than asked."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from shipshape.cli import app
from shipshape.deploy.migrate import load_migrations, open_engine, rollback_migrations
from tests.databases import execute, rows

runner = CliRunner()

USERS = """\
from pydantic import BaseModel


class User(BaseModel):
    __tablename__ = "users"
    id: int
    name: str
"""

NOTES = (
    USERS
    + """

class Note(BaseModel):
    __tablename__ = "notes"
    id: int
    text: str
"""
)


def migrate(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["migrate", *args])
    return result.exit_code, result.stdout, result.stderr


def models(root: Path, body: str) -> str:
    name = f"models_{uuid.uuid4().hex[:12]}"
    (root / f"{name}.py").write_text(body, encoding="utf-8")
    return name


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two migrations written (0001 users, 0002 notes); ``app.db`` has 0001 applied, one row."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHIPSHAPE_DATABASE_URL", raising=False)
    assert migrate("make", "-m", models(tmp_path, USERS))[0] == 0
    assert migrate("apply", "-d", "app.db")[0] == 0
    assert migrate("make", "-m", models(tmp_path, NOTES))[0] == 0
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("insert into users (id, name) values (1, 'ann')")
    return tmp_path


def one_line_error(err: str, message: str) -> None:
    assert message in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [["status"], ["status", "--json"], ["plan", "--pending"], ["plan", "--pending", "--json"]],
)
def test_read_only_commands_do_not_create_a_missing_sqlite_file(
    project: Path, args: list[str]
) -> None:
    missing = project / "nowhere" / "typo.db"
    missing.parent.mkdir()
    code, out, err = migrate(*args, "-d", str(missing))
    assert code == 0, err
    assert not missing.exists()
    assert list(missing.parent.iterdir()) == []
    assert err.strip() == f"note: no database at {missing} yet: every migration is pending"
    if "--json" in args and args[0] == "status":
        assert [m["state"] for m in json.loads(out)["migrations"]] == ["pending", "pending"]
    elif "--json" in args:
        assert [m["id"] for m in json.loads(out)["migrations"]] == ["0001", "0002"]
    else:
        assert "0001" in out
        assert "0002" in out


def test_check_with_a_missing_database_reports_pending_and_creates_nothing(project: Path) -> None:
    code, out, err = migrate("check", "-d", "typo.db")
    assert code == 1
    assert "pending: 0001_initial" in out
    assert "pending: 0002" in out
    assert "no database at" in err
    assert not (project / "typo.db").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["status", "-d", "app.db"],
        ["apply", "-d", "app.db"],
        ["rollback", "-d", "app.db"],
        ["plan", "--pending", "-d", "app.db"],
        ["status", "-d", "fresh.db"],
    ],
)
def test_a_missing_migrations_directory_is_an_error(project: Path, args: list[str]) -> None:
    code, out, err = migrate(*args, "--dir", "nodir")
    assert code == 2, (out, err)
    one_line_error(err, "error: no such migrations directory: nodir")
    assert out == ""
    assert not (project / "fresh.db").exists()
    with sqlite3.connect(project / "app.db") as connection:
        assert connection.execute("select id from shipshape_migrations").fetchall() == [("0001",)]


def test_rollback_more_than_applied_refuses_and_undoes_nothing(project: Path) -> None:
    code, out, err = migrate("rollback", "5", "-d", "app.db")
    assert code == 2, (out, err)
    one_line_error(err, "cannot roll back 5 migrations: only 1 is applied; nothing was rolled back")
    with sqlite3.connect(project / "app.db") as connection:
        assert connection.execute("select id, name from users").fetchall() == [(1, "ann")]
        assert connection.execute("select id from shipshape_migrations").fetchall() == [("0001",)]
    code, out, _ = migrate("rollback", "1", "-d", "app.db")
    assert (code, out.strip()) == (0, "rolled back 0001_initial")
    code, _, err = migrate("rollback", "-d", "app.db")
    assert code == 2
    one_line_error(err, "cannot roll back 1 migration: none is applied")


@pytest.mark.parametrize("steps", ["0", "-1"])
def test_rollback_of_zero_or_fewer_is_a_usage_error(project: Path, steps: str) -> None:
    code, _, err = migrate("rollback", "-d", "app.db", "--", steps)
    assert code == 2
    assert "greater than or equal to 1" in err
    with sqlite3.connect(project / "app.db") as connection:
        assert connection.execute("select id from shipshape_migrations").fetchall() == [("0001",)]


def test_rollback_does_not_create_a_missing_database(project: Path) -> None:
    code, _, err = migrate("rollback", "-d", "typo.db")
    assert code == 2
    one_line_error(err, f"error: no such database: {project / 'typo.db'}")
    assert not (project / "typo.db").exists()


def test_exact_rollback_of_more_than_applied_raises_before_undoing_any(
    project: Path, database: str
) -> None:
    from shipshape.deploy.migrate import apply_migrations

    migrations = load_migrations(project / "migrations")
    engine = open_engine(database)
    try:
        assert apply_migrations(engine, migrations) == ["0001", "0002"]
        with pytest.raises(ValueError, match="cannot roll back 3 migrations: only 2 are applied"):
            rollback_migrations(engine, migrations, 3, exact=True)
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
        assert {"users", "notes"} <= tables
        with pytest.raises(ValueError, match="cannot roll back -1 migrations: the count must not"):
            rollback_migrations(engine, migrations, -1)
        assert rollback_migrations(engine, migrations, 0, exact=True) == []
        assert rollback_migrations(engine, migrations, 2, exact=True) == ["0002", "0001"]
    finally:
        engine.dispose()


SCORES = """\
from pydantic import BaseModel


class Player(BaseModel):
    __tablename__ = "players"
    id: int
    score: {annotation}
"""


def test_apply_refuses_a_float_to_int_change_that_would_alter_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: str
) -> None:
    # PostgreSQL rounded 1.5 to 2 and SQLite cut it to 1; both now refuse, changing nothing.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHIPSHAPE_DATABASE_URL", raising=False)
    assert migrate("make", "-m", models(tmp_path, SCORES.format(annotation="float = 1.5")))[0] == 0
    assert migrate("apply", "-d", database)[0] == 0
    execute(database, "insert into players (id) values (1)")
    assert migrate("make", "-m", models(tmp_path, SCORES.format(annotation="int = 2")))[0] == 0

    code, out, err = migrate("apply", "-d", database)

    assert (code, out) == (1, "")
    one_line_error(
        err,
        "error: migration 0002_alter_players_score (up) failed and was rolled back: "
        "players.score: 1 row holds a value that FLOAT → INTEGER would change (e.g. 1.5); "
        "nothing was converted — fix those values first or keep the wider type",
    )
    assert rows(database, "select id, score from players") == [(1, 1.5)]
    code, out, _ = migrate("status", "-d", database, "--json")
    assert [m["state"] for m in json.loads(out)["migrations"]] == ["applied", "pending"]
