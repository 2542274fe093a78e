"""``shipshape migrate``: schema migrations from Pydantic models."""

from __future__ import annotations

import atexit
import gc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.text import Text

from shipshape.cli._io import (
    EXIT_FINDINGS,
    InputError,
    console,
    err_console,
    fail,
    handle_errors,
    load_data,
    print_json,
    require_mapping,
    source_name,
    table,
)
from shipshape.deploy.migrate import (
    DATABASE_ENV,
    DestructiveChange,
    Migration,
    MigrationError,
    Operation,
    Renames,
    Snapshot,
    compute_migration,
    diff_snapshots,
    import_models,
    last_snapshot,
    load_migrations,
    next_migrations,
    snapshot_models,
    write_migrations,
)

NAME = "migrate"
HELP = "Schema migrations from Pydantic models."
app = typer.Typer(no_args_is_help=True)

P = ParamSpec("P")
R = TypeVar("R")

ModelsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--models",
        "-m",
        help="Module (or module:Class,Class) holding the models; repeatable. "
        "Default: the modules recorded in the last migration.",
    ),
]
RenameOption = Annotated[
    list[str] | None,
    typer.Option(
        "--rename", help="A rename: TABLE.OLD=NEW for a column, OLD=NEW for a table; repeatable."
    ),
]
DirOption = Annotated[Path, typer.Option("--dir", help="Directory of migration files.")]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        "-d",
        envvar=DATABASE_ENV,
        help="SQLAlchemy URL or SQLite file path (default: shipshape.db).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _database_errors(func: Callable[P, R]) -> Callable[P, R]:
    """A failed migration exits 1; an unreachable database exits 2; both in one line."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except MigrationError as error:
            fail(Text(str(error)), EXIT_FINDINGS)
        except DestructiveChange as error:
            fail(Text(str(error)), EXIT_FINDINGS)
        except Exception as error:
            from sqlalchemy.exc import SQLAlchemyError

            if not isinstance(error, SQLAlchemyError):
                raise
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            fail(Text(f"database error: {reason}"))

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    wrapper.__wrapped__ = func  # type: ignore[attr-defined]
    return wrapper


def _parse_renames(values: Sequence[str] | None) -> Renames:
    tables: dict[str, str] = {}
    columns: dict[tuple[str, str], str] = {}
    for value in values or ():
        old, sep, new = value.partition("=")
        old, new = old.strip(), new.strip()
        if not sep or not old or not new:
            raise InputError(
                f"--rename {value}", "expected TABLE.OLD=NEW (a column) or OLD=NEW (a table)"
            )
        if "." in old:
            table_name, _, old_column = old.partition(".")
            new_table, dot, new_column = new.rpartition(".")
            if (
                not table_name
                or not old_column
                or (dot and new_table != table_name)
                or not new_column
            ):
                raise InputError(
                    f"--rename {value}", "expected TABLE.OLD=NEW with one table on both sides"
                )
            columns[(table_name, new_column)] = old_column
        elif "." in new:
            raise InputError(
                f"--rename {value}", "expected TABLE.OLD=NEW (a column) or OLD=NEW (a table)"
            )
        else:
            tables[new] = old
    return Renames(tables, columns)


def _check_renames(asked: Renames, old: Snapshot, new: Snapshot) -> None:
    for new_table, old_table in asked.tables.items():
        if old_table not in old.tables:
            raise InputError(
                f"--rename {old_table}={new_table}", f"the last snapshot has no table {old_table!r}"
            )
        if new_table not in new.tables:
            raise InputError(
                f"--rename {old_table}={new_table}", f"the models have no table {new_table!r}"
            )
    for (table_name, new_column), old_column in asked.columns.items():
        where = f"--rename {table_name}.{old_column}={new_column}"
        source = asked.tables.get(table_name, table_name)
        if source not in old.tables or old_column not in old.tables[source].columns:
            raise InputError(where, f"the last snapshot has no column {table_name}.{old_column}")
        if table_name not in new.tables or new_column not in new.tables[table_name].columns:
            raise InputError(where, f"the models have no column {table_name}.{new_column}")


def _skip_final_collection() -> None:
    """At exit, skip the interpreter's last full GC pass over every schema object.

    After a plan over thousands of tables that pass alone costs about as much
    as rendering the SQL, only to free memory the OS takes back anyway.
    """
    global _EXIT_HOOKED
    if not _EXIT_HOOKED:
        atexit.register(gc.freeze)
        _EXIT_HOOKED = True


_EXIT_HOOKED = False


def _load(
    directory: Path, models: Sequence[str] | None, rename: Sequence[str] | None
) -> tuple[list[Migration], Snapshot, Renames]:
    _skip_final_collection()
    migrations = load_migrations(directory)
    asked = _parse_renames(rename)
    specs = list(models or last_snapshot(migrations).models)
    if not specs:
        raise InputError(
            "--models", "name the module holding the models, e.g. --models myapp.models"
        )
    classes = import_models(specs, Path.cwd())
    if not classes:
        raise InputError(f"--models {' '.join(specs)}", "no Pydantic models found there")
    snapshot, declared = snapshot_models(classes, specs)
    _check_renames(asked, last_snapshot(migrations), snapshot)
    return migrations, snapshot, declared.merged(asked)


def _existing_migrations(directory: Path) -> list[Migration]:
    """The migrations in ``directory``, which must exist: a wrong ``--dir`` is not "none yet"."""
    if not directory.exists():
        raise ValueError(f"no such migrations directory: {directory}")
    return load_migrations(directory)


def _database(database: str | None) -> tuple[str, Path | None]:
    """The database URL (checked: parsable, a driver installed) and its SQLite file, if any."""
    from shipshape.deploy.migrate.db import database_url, open_engine, sqlite_file

    url = database_url(database)
    try:
        path = sqlite_file(url)
    except ValueError:
        # not repeated: a URL that does not parse may still hold a password
        raise InputError("--database", "not a database URL or file path") from None
    open_engine(url).dispose()  # connects to nothing: only checks the URL and the driver
    return url, path


def _read_states(database: str | None, migrations: Sequence[Migration]) -> list[Any]:
    """The state of each migration in the database, without writing to it.

    A SQLite file that does not exist is not created: every migration is pending
    there (as for ``shipshape check``), and a note on stderr says so.
    """
    from shipshape.deploy.migrate.db import read_migration_states

    url, path = _database(database)
    if path is not None and not path.exists():
        err_console.print(
            Text.assemble(
                ("note:", "yellow"), f" no database at {path} yet: every migration is pending"
            ),
            highlight=False,
        )
    return read_migration_states(migrations, url)


def describe(op: Operation) -> str:
    """One line for one operation, e.g. ``add_column users.email VARCHAR(255) NULL``."""
    if op.kind in {"create_table", "drop_table"}:
        count = len(op.definition.columns) if op.definition else 0
        return f"{op.kind} {op.table} ({count} columns)"
    if op.kind in {"rename_table", "rename_column"}:
        source = f"{op.table}.{op.column}" if op.column else op.table
        return f"{op.kind} {source} → {op.to}"
    if op.kind in {"create_index", "drop_index"}:
        assert op.index is not None
        unique = "unique " if op.index.unique else ""
        return f"{op.kind} {op.index.name} ({unique}{op.table}.{op.index.column})"
    column = op.after or op.before
    assert column is not None
    if op.kind == "alter_column" and op.before is not None and op.after is not None:
        before, after = op.before, op.after
        old = f"{before.type}{'' if before.nullable else ' NOT NULL'}"
        new = f"{after.type}{'' if after.nullable else ' NOT NULL'}"
        if before.default != after.default:
            old, new = f"{old} DEFAULT {before.default!r}", f"{new} DEFAULT {after.default!r}"
        return f"alter_column {op.table}.{op.column} {old} → {new}"
    default = f" DEFAULT {column.default!r}" if column.default is not None else ""
    null = "" if column.nullable else " NOT NULL"
    return f"{op.kind} {op.table}.{op.column} {column.type}{null}{default}"


def _op_json(op: Operation) -> dict[str, Any]:
    risk = op.risk
    return {
        "operation": op.kind,
        "summary": describe(op),
        "risk": risk.level if risk else None,
        "code": risk.code if risk else None,
        "why": risk.why if risk else None,
    }


def _print_ops(migrations: Sequence[Migration]) -> None:
    """One plain line per operation: cheap for thousands of them, and easy to grep."""
    lines = [
        f"{m.id}_{m.name}  {m.phase:<8}  {op.risk.level if op.risk else '':<21}  "
        f"{op.risk.code if op.risk else '':<23}  {describe(op)}"
        + (f"  ({op.risk.why})" if op.risk else "")
        for m in migrations
        for op in m.up
    ]
    console.file.write("\n".join(lines) + "\n")


def _rename_hints(migrations: Sequence[Migration]) -> list[str]:
    """``--rename`` suggestions: a column dropped and one of the same type added to a table."""
    ops = [op for migration in migrations for op in migration.up]
    added = [op for op in ops if op.kind == "add_column" and op.after is not None]
    dropped = [op for op in ops if op.kind == "drop_column" and op.before is not None]
    return [
        f"--rename {drop.table}.{drop.column}={add.column}"
        for drop in dropped
        for add in added
        if add.table == drop.table
        and add.after
        and drop.before
        and add.after.type == drop.before.type
    ]


@app.command("diff")
@handle_errors
def diff(
    old: Annotated[str, typer.Argument(help="Old {field: type} snapshot (JSON, YAML or TOML).")],
    new: Annotated[str, typer.Argument(help="New {field: type} snapshot.")],
    as_json: JsonOption = False,
) -> None:
    """Show fields added, removed and changed between two snapshots."""
    steps = compute_migration(
        require_mapping(load_data(old), source_name(old), "the old snapshot"),
        require_mapping(load_data(new), source_name(new), "the new snapshot"),
    )
    if as_json:
        print_json(steps)
        return
    rows = [("added", step["field"], "", step["type"]) for step in steps["added"]]
    rows += [("removed", step["field"], step["type"], "") for step in steps["removed"]]
    rows += [
        ("changed", step["field"], step["old_type"], step["new_type"]) for step in steps["changed"]
    ]
    if rows:
        table(None, ["change", "field", "old type", "new type"], rows)
    else:
        console.print("no changes")


@app.command("make")
@handle_errors
@_database_errors
def make(
    *,
    models: ModelsOption = None,
    rename: RenameOption = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Name of the migration (default: from the changes)."),
    ] = None,
    allow_destructive: Annotated[
        bool,
        typer.Option(
            "--allow-destructive", help="Allow drops; they go into a separate contract migration."
        ),
    ] = False,
    directory: DirOption = Path("migrations"),
    as_json: JsonOption = False,
) -> None:
    """Write the next versioned migration (up and down) for the models' changes.

    Exit 0 when written or nothing changed; 1 when the change drops data and
    --allow-destructive was not given; 2 on bad input.
    """
    migrations, snapshot, renames = _load(directory, models, rename)
    try:
        made = next_migrations(
            migrations, snapshot, renames, name=name, allow_destructive=allow_destructive
        )
    except DestructiveChange as error:
        if as_json:
            print_json({"written": [], "refused": [_op_json(op) for op in error.operations]})
        raise
    paths = write_migrations(directory, made)
    if as_json:
        print_json(
            {
                "written": [
                    {
                        "file": str(path),
                        "id": m.id,
                        "phase": m.phase,
                        "operations": [_op_json(op) for op in m.up],
                    }
                    for path, m in zip(paths, made, strict=True)
                ]
            }
        )
        return
    if not made:
        console.print("no changes: the models match the last migration")
        return
    _print_ops(made)
    for path in paths:
        console.print(f"wrote {path}", highlight=False)


@app.command("plan")
@handle_errors
@_database_errors
def plan(
    *,
    models: ModelsOption = None,
    rename: RenameOption = None,
    dialect: Annotated[
        str | None,
        typer.Option(
            "--dialect", help="sqlite or postgresql (default: from --database, else sqlite)."
        ),
    ] = None,
    database: DatabaseOption = None,
    pending: Annotated[
        bool,
        typer.Option(
            "--pending", help="Instead: the SQL of the migration files --database has not applied."
        ),
    ] = False,
    directory: DirOption = Path("migrations"),
    as_json: JsonOption = False,
) -> None:
    """Show the operations, their risk and the SQL that `make` + `apply` would run.

    With --pending, the SQL that `apply` would run for the files already written
    (the database is only read; a missing SQLite file is not created).
    Exit 0; 2 on bad input.
    """
    from shipshape.deploy.migrate.db import database_url
    from shipshape.deploy.migrate.sql import render_sql

    if dialect is None:
        scheme = database_url(database).split("://", 1)[0] if database or pending else "sqlite"
        dialect = scheme.split("+", 1)[0]
    if dialect not in {"sqlite", "postgresql"}:
        raise InputError(f"--dialect {dialect}", "expected sqlite or postgresql")
    if pending:
        _database(database)
        migrations = _existing_migrations(directory)
        waiting = {s.id for s in _read_states(database, migrations) if s.state == "pending"}
        planned = [m for m in migrations if m.id in waiting]
        befores = [Snapshot(), *(m.snapshot for m in migrations)]
        previous = {m.id: before for m, before in zip(migrations, befores, strict=False)}
    else:
        migrations, snapshot, renames = _load(directory, models, rename)
        planned = next_migrations(migrations, snapshot, renames, allow_destructive=True)
        previous = {}
    before = last_snapshot(migrations)
    sql: list[str] = []
    for migration in planned:
        before = previous.get(migration.id, before)
        sql.append(render_sql(migration.up, before, dialect))
        before = migration.snapshot
    if as_json:
        print_json(
            {
                "dialect": dialect,
                "migrations": [
                    {
                        "id": m.id,
                        "name": m.name,
                        "phase": m.phase,
                        "operations": [_op_json(op) for op in m.up],
                        "sql": text,
                    }
                    for m, text in zip(planned, sql, strict=True)
                ],
                "rename_hints": _rename_hints(planned),
            }
        )
        return
    if not planned:
        console.print(
            "nothing pending" if pending else "no changes: the models match the last migration"
        )
        return
    _print_ops(planned)
    for migration, text in zip(planned, sql, strict=True):
        console.file.write(f"-- {migration.id}_{migration.name} ({migration.phase}, {dialect})\n")
        console.file.write(text.rstrip() + "\n")
    for hint in _rename_hints(planned):
        console.print(
            f"hint: a drop and an add of the same type; if it is a rename, pass {hint}",
            highlight=False,
        )


@app.command("apply")
@handle_errors
@_database_errors
def apply(
    database: DatabaseOption = None,
    contract: Annotated[
        bool,
        typer.Option(
            "--contract", help="Also apply contract migrations (the drops), once no old code runs."
        ),
    ] = False,
    directory: DirOption = Path("migrations"),
    as_json: JsonOption = False,
) -> None:
    """Apply pending migrations in order, each in a transaction, exactly once across replicas.

    Exit 0 when applied (or nothing pending); 1 when a migration failed (it was
    rolled back) or an applied file was edited; 2 on bad input.
    """
    from shipshape.deploy.migrate.db import apply_migrations, migration_states, open_engine

    url, _ = _database(database)
    migrations = _existing_migrations(directory)
    engine = open_engine(url)
    try:
        applied = apply_migrations(engine, migrations, contract=contract)
        waiting = [s for s in migration_states(engine, migrations) if s.state == "pending"]
    finally:
        engine.dispose()
    if as_json:
        print_json({"applied": applied, "pending": [s.as_dict() for s in waiting]})
        return
    by_id = {m.id: m for m in migrations}
    for migration_id in applied:
        console.print(f"applied {migration_id}_{by_id[migration_id].name}", highlight=False)
    if not applied:
        console.print("nothing to apply", highlight=False)
    if waiting:
        first = waiting[0]
        console.print(
            f"waiting: {first.id}_{first.name} is a {first.phase} migration; "
            "run `shipshape migrate apply --contract` once no running code uses what it drops",
            highlight=False,
        )


@app.command("rollback")
@handle_errors
@_database_errors
def rollback(
    steps: Annotated[
        int, typer.Argument(min=1, help="How many applied migrations to undo, newest first.")
    ] = 1,
    database: DatabaseOption = None,
    directory: DirOption = Path("migrations"),
    as_json: JsonOption = False,
) -> None:
    """Undo the last N applied migrations with their down operations.

    Exit 0 when done; 1 when one failed (it was rolled back); 2 on bad input, such
    as N larger than the number of applied migrations (then nothing is undone).
    """
    from shipshape.deploy.migrate.db import open_engine, rollback_migrations

    url, path = _database(database)
    migrations = _existing_migrations(directory)
    if path is not None and not path.exists():
        raise ValueError(f"no such database: {path}")
    engine = open_engine(url)
    try:
        undone = rollback_migrations(engine, migrations, steps, exact=True)
    finally:
        engine.dispose()
    if as_json:
        print_json({"rolled_back": undone})
        return
    by_id = {m.id: m for m in migrations}
    for migration_id in undone:
        console.print(f"rolled back {migration_id}_{by_id[migration_id].name}", highlight=False)


@app.command("status")
@handle_errors
@_database_errors
def status(
    database: DatabaseOption = None,
    directory: DirOption = Path("migrations"),
    as_json: JsonOption = False,
) -> None:
    """List migrations: applied, pending, modified (edited after apply), missing (no file).

    Only reads the database: a SQLite file that does not exist is not created
    (every migration is pending there). Exit 0; 2 on bad input.
    """
    _database(database)
    states = _read_states(database, _existing_migrations(directory))
    if as_json:
        print_json({"migrations": [s.as_dict() for s in states]})
        return
    if not states:
        console.print(f"no migrations in {directory}", highlight=False)
        return
    table(
        None,
        ["id", "name", "phase", "state", "applied at"],
        [(s.id, s.name, s.phase, s.state, s.applied_at or "") for s in states],
    )


@app.command("check")
@handle_errors
@_database_errors
def check(
    models: ModelsOption = None,
    rename: RenameOption = None,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            "-d",
            help="Also fail when this database has pending migrations (read only).",
        ),
    ] = None,
    directory: DirOption = Path("migrations"),
    as_json: JsonOption = False,
) -> None:
    """For CI: exit 1 when the models drifted from the last migration (or migrations are pending).

    Exit 0 when they match, 1 on drift, 2 on bad input.
    """
    migrations, snapshot, renames = _load(directory, models, rename)
    ops = diff_snapshots(last_snapshot(migrations), snapshot, renames)
    pending: list[dict[str, Any]] = []
    if database is not None:
        states = _read_states(database, migrations)
        pending = [state.as_dict() for state in states if state.state == "pending"]
    if as_json:
        print_json({"drift": [_op_json(op) for op in ops], "pending": pending})
    else:
        for op in ops:
            console.print(f"drift: {describe(op)}", highlight=False)
        for state in pending:
            console.print(f"pending: {state['id']}_{state['name']}", highlight=False)
        if ops:
            console.print(
                "the models changed since the last migration: run `shipshape migrate make`",
                highlight=False,
            )
        elif not pending:
            console.print("ok: the models match the last migration", highlight=False)
    if ops or pending:
        raise typer.Exit(EXIT_FINDINGS)
