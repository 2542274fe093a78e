"""``shipshape config``: merge files, and show or diff layered settings with provenance."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from shipshape.cli._io import (
    EXIT_FINDINGS,
    InputError,
    console,
    handle_errors,
    load_data,
    print_json,
    require_mapping,
    source_name,
    warn,
)
from shipshape.deploy.config import CONFIG_SUFFIXES, merge_config
from shipshape.deploy.settings_layers import (
    DEFAULT,
    ResolvedSettings,
    SettingsEntry,
    resolve_settings,
)
from shipshape.deploy.settings_schema import import_model, project_options

NAME = "config"
HELP = "Merge configuration files; show and diff layered settings with provenance."
app = typer.Typer(no_args_is_help=True)

Root = Annotated[Path, typer.Option("--root", help="Project directory (holds config/, .env).")]
Model = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Settings model as module:Class (default: \\[tool.shipshape] settings in "
        "pyproject.toml; without one, the merged layers are shown schema-less).",
    ),
]
ConfigDir = Annotated[str, typer.Option("--config-dir", help="Folder of base.* and <env>.*.")]
EnvPrefix = Annotated[
    str | None,
    typer.Option("--env-prefix", help="Environment variable prefix (default: the model's)."),
]
SecretsDir = Annotated[
    str | None,
    typer.Option(
        "--secrets-dir",
        help="One file per key, /run/secrets style (default: the model's, else /run/secrets).",
    ),
]
Overrides = Annotated[
    list[str] | None,
    typer.Option("--set", help="Explicit override KEY.PATH=VALUE (YAML value); repeatable."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("merge")
@handle_errors
def merge(
    defaults: Annotated[str, typer.Argument(help="Defaults file (JSON, YAML or TOML).")],
    overrides: Annotated[list[str], typer.Argument(help="Override files, applied in order.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of YAML.")] = False,
) -> None:
    """Merge override files onto defaults: nested mappings merge, everything else is replaced."""
    merged = dict(require_mapping(load_data(defaults), source_name(defaults), "the defaults"))
    for path in overrides:
        merged = merge_config(
            merged, require_mapping(load_data(path), source_name(path), "overrides")
        )
    if as_json:
        print_json(merged)
    else:
        console.print(
            yaml.safe_dump(merged, sort_keys=True).rstrip(), highlight=False, markup=False
        )


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``a.b=1`` pairs as one nested mapping; values are read as YAML scalars."""
    result: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip() or any(not part for part in key.split(".")):
            raise InputError("--set", f"expected KEY.PATH=VALUE, got {item!r}")
        try:
            value: Any = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            value = raw
        for part in reversed(key.strip().split(".")):
            value = {part: value}
        result = merge_config(result, value)
    return result


def resolve(
    env: str,
    *,
    root: Path,
    model: str | None,
    config_dir: str,
    env_prefix: str | None,
    secrets_dir: str | None,
    overrides: list[str] | None,
    doing: str = "showing",
) -> tuple[ResolvedSettings[Any], str | None]:
    """Resolve one environment the way ``show`` and ``diff`` both do.

    An environment without a ``config/<env>.*`` file is legitimate (its settings may come
    from the environment alone) but usually a typo, so it is named in a warning on stderr.
    """
    if not root.is_dir():
        raise InputError(str(root), "no such directory")
    options = project_options(root)
    spec = model or options.get("settings")
    if spec is not None and not isinstance(spec, str):
        raise InputError(str(root / "pyproject.toml"), "[tool.shipshape] settings must be a string")
    prefix = env_prefix if env_prefix is not None else options.get("env_prefix")
    settings_model = import_model(spec, root) if spec else None
    resolved = resolve_settings(
        settings_model,
        env,
        root=root,
        config_dir=config_dir,
        env_prefix=prefix if isinstance(prefix, str) else None,
        secrets_dir=DEFAULT if secrets_dir is None else secrets_dir,
        overrides=parse_overrides(overrides),
    )
    if not any(layer.name == "env" for layer in resolved.layers):
        suffixes = ", ".join(CONFIG_SUFFIXES)
        warn(
            f"no {config_dir}/{env}.* file ({suffixes}) in {root / config_dir}; "
            f"{doing} the other layers"
        )
    return resolved, spec


def _print_table(title: str, columns: list[str], rows: Sequence[Sequence[str]]) -> None:
    """Like ``_io.table``, but cells are never read as markup and long paths fold."""
    grid = Table(title=escape(title), title_justify="left")
    for column in columns:
        grid.add_column(escape(column), overflow="fold")
    for row in rows:
        grid.add_row(*(Text(cell) for cell in row))
    console.print(grid)


def _where(entry: SettingsEntry, root: Path) -> str:
    """``file:line`` of the setter, relative to the project root when it lies inside it."""
    origin = entry.origin
    if origin.source is None or origin.source.startswith("$"):
        return origin.where
    try:
        source = str(Path(origin.source).relative_to(root))
    except ValueError:
        return origin.where
    return f"{source}:{origin.line}" if origin.line is not None else source


def _entry_json(entry: SettingsEntry) -> dict[str, Any]:
    # an empty or missing secret hides nothing: JSON says "" or null, not the table's text
    unset = entry.secret and (entry.value is None or entry.value == "")
    return {
        "key": entry.key,
        "value": entry.value if unset else entry.shown,
        "secret": entry.secret,
        "layer": entry.origin.layer,
        "source": entry.origin.source,
        "line": entry.origin.line,
    }


@app.command("show")
@handle_errors
def show(
    *,
    env: Annotated[str, typer.Option("--env", help="Environment: reads config/<env>.*.")] = "prod",
    root: Root = Path("."),
    model: Model = None,
    config_dir: ConfigDir = "config",
    env_prefix: EnvPrefix = None,
    secrets_dir: SecretsDir = None,
    overrides: Overrides = None,
    as_json: AsJson = False,
) -> None:
    """Print every key, its value (secrets masked) and the layer and file that set it.

    Layers, lowest first: defaults < config/base.* < config/<env>.* < .env < environment
    variables < secrets directory < --set. Exit 0, or 2 when a layer cannot be read or the
    settings do not validate (the message names the file, line, key and layer). An env
    without a config/<env>.* file is shown with a warning on stderr.
    """
    resolved, spec = resolve(
        env,
        root=root,
        model=model,
        config_dir=config_dir,
        env_prefix=env_prefix,
        secrets_dir=secrets_dir,
        overrides=overrides,
    )
    entries = resolved.entries()
    if as_json:
        print_json(
            {
                "env": env,
                "model": spec,
                "files": resolved.files,
                "settings": [_entry_json(entry) for entry in entries],
            }
        )
        return
    title = f"{env} settings" + (f" ({spec})" if spec else " (schema-less)")
    rows = [(e.key, e.display, e.origin.layer, _where(e, root)) for e in entries]
    _print_table(title, ["key", "value", "layer", "set by"], rows)


@app.command("diff")
@handle_errors
def diff(
    first: Annotated[str, typer.Argument(help="Environment, e.g. dev.")],
    second: Annotated[str, typer.Argument(help="Environment, e.g. prod.")],
    *,
    root: Root = Path("."),
    model: Model = None,
    config_dir: ConfigDir = "config",
    env_prefix: EnvPrefix = None,
    secrets_dir: SecretsDir = None,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when the environments differ.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Keys whose effective values differ between two environments, and who set each side.

    Secrets are compared by value and printed masked. Exit 0 (1 with --exit-code when
    something differs), 2 on unreadable or invalid settings. An env without a
    config/<env>.* file is compared with a warning on stderr.
    """
    sides = []
    for env in (first, second):
        resolved, _ = resolve(
            env,
            root=root,
            model=model,
            config_dir=config_dir,
            env_prefix=env_prefix,
            secrets_dir=secrets_dir,
            overrides=None,
            doing="comparing",
        )
        sides.append({entry.key: entry for entry in resolved.entries()})
    left, right = sides
    changed = sorted(
        key
        for key in set(left) | set(right)
        if key not in left or key not in right or left[key].value != right[key].value
    )

    def side(entry: SettingsEntry | None) -> dict[str, Any] | None:
        return None if entry is None else _entry_json(entry)

    if as_json:
        print_json(
            {
                "first": first,
                "second": second,
                "changes": [
                    {"key": key, first: side(left.get(key)), second: side(right.get(key))}
                    for key in changed
                ],
            }
        )
    elif not changed:
        console.print(f"{first} and {second}: no differences", markup=False)
    else:

        def cell(entry: SettingsEntry | None) -> str:
            return "(unset)" if entry is None else f"{entry.display}  [{_where(entry, root)}]"

        rows = [(key, cell(left.get(key)), cell(right.get(key))) for key in changed]
        _print_table(f"{first} → {second}", ["key", first, second], rows)
    if exit_code and changed:
        raise typer.Exit(EXIT_FINDINGS)
