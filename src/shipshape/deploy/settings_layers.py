"""Layered settings with provenance: every layer merged by the one ``merge_config`` rule.

Order, lowest first: model defaults < ``config/base.*`` < ``config/<env>.*`` < ``.env`` <
environment variables < secrets directory < explicit overrides. Each source is a small
function with one job; the order is the :data:`LAYERS` tuple, not code paths. For every
key the loader remembers which layer, which file (or variable) and which line set it.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import orjson
from dotenv.parser import parse_stream
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings

from shipshape.deploy.config import (
    CONFIG_SUFFIXES,
    ConfigFileError,
    Document,
    merge_config,
    read_document,
)
from shipshape.deploy.settings_schema import (
    SECRET_KEY,
    FeatureFlags,
    display_text,
    field_names,
    mask_value,
    model_defaults,
    plain_value,
    secret_paths,
    submodel,
)

__all__ = [
    "LAYERS",
    "FeatureFlags",
    "Origin",
    "ResolvedSettings",
    "SettingsEntry",
    "SettingsError",
    "SettingsProblem",
    "load_settings",
    "resolve_settings",
    "unknown_keys",
]

LAYERS = ("defaults", "base", "env", "dotenv", "environ", "secrets", "overrides")

KeyPath = tuple[str, ...]
M = TypeVar("M", bound=BaseModel)

_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class SettingsProblem:
    """Why settings cannot load; ``kind``: ``file``, ``unknown``, ``missing`` or ``invalid``."""

    kind: str
    message: str
    source: str | None = None
    line: int | None = None
    key: str | None = None
    layer: str | None = None

    def __str__(self) -> str:
        where = Origin(self.layer or "", self.source, self.line).where
        text = f"{self.key}: {self.message}" if self.key else self.message
        suffix = f" (layer {self.layer})" if self.layer else ""
        return text + suffix if where == "-" else f"{where}: {text}{suffix}"


class SettingsError(ValueError):
    """Settings that cannot be loaded: each line names the file, the line, the key, the layer."""

    def __init__(self, problems: list[SettingsProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value came from: the layer, the file or variable, and the line."""

    layer: str
    source: str | None = None
    line: int | None = None

    @property
    def where(self) -> str:
        if self.source is None:
            return "-"
        return f"{self.source}:{self.line}" if self.line is not None else self.source


@dataclass(frozen=True, slots=True)
class Layer:
    name: str
    data: dict[str, Any]
    origins: dict[KeyPath, Origin]
    lines: dict[KeyPath, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SettingsEntry:
    """One leaf key of the effective settings, as ``config show`` prints it."""

    key: str
    value: Any
    secret: bool
    origin: Origin

    @property
    def display(self) -> str:
        return mask_value(self.value) if self.secret else display_text(self.value, mask_urls=True)


@dataclass(frozen=True)
class ResolvedSettings(Generic[M]):
    """The merged layers, the validated model (None in schema-less mode) and provenance."""

    env: str
    values: dict[str, Any]
    origins: dict[KeyPath, Origin]
    layers: list[Layer]
    settings: M | None = None
    secret_paths: frozenset[KeyPath] = frozenset()
    files: list[str] = field(default_factory=list)

    def origin(self, key: str | KeyPath) -> Origin:
        """Who set ``key`` (dotted or a path); the nearest written ancestor for containers."""
        path = tuple(key.split(".")) if isinstance(key, str) else key
        for end in range(len(path), 0, -1):
            if path[:end] in self.origins:
                return self.origins[path[:end]]
        below = [origin for known, origin in self.origins.items() if known[: len(path)] == path]
        return below[-1] if below else Origin("defaults")

    def is_secret(self, path: KeyPath) -> bool:
        return (
            any(path[:end] in self.secret_paths for end in range(1, len(path) + 1))
            or any(SECRET_KEY.search(part) for part in path)
            or self.origin(path).layer == "secrets"
        )

    def entries(self) -> list[SettingsEntry]:
        """Every leaf key, sorted, with its effective value and origin."""
        raw = self.values if self.settings is None else self.settings.model_dump()
        effective = plain_value(raw)
        return [
            SettingsEntry(".".join(path), value, self.is_secret(path), self.origin(path))
            for path, value in _leaves(effective)
        ]


def _leaves(value: Mapping[str, Any], prefix: KeyPath = ()) -> list[tuple[KeyPath, Any]]:
    leaves: list[tuple[KeyPath, Any]] = []
    for key in sorted(value, key=str):
        item, path = value[key], (*prefix, str(key))
        if isinstance(item, Mapping) and item:
            leaves += _leaves(item, path)
        else:
            leaves.append((path, item))
    return leaves


# --- the sources -----------------------------------------------------------------------------


def _file_layer(name: str, document: Document) -> Layer:
    data = document.data
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigFileError(document.file, f"must be a mapping, got {type(data).__name__}")
    data = {str(key): value for key, value in data.items()}
    origins = {
        path: Origin(name, document.file, document.lines.get(path)) for path, _ in _leaves(data)
    }
    return Layer(name, data, origins, dict(document.lines))


def _config_file(config_dir: Path, stem: str) -> Path | None:
    found = [config_dir / f"{stem}{suffix}" for suffix in CONFIG_SUFFIXES]
    found = [path for path in found if path.is_file()]
    if len(found) > 1:
        names = " and ".join(str(path) for path in found)
        raise ConfigFileError(str(found[0]), f"both {names} exist; keep one")
    return found[0] if found else None


def _parse_env_value(raw: str) -> Any:
    stripped = raw.strip()
    if stripped[:1] in ("{", "["):
        try:
            return orjson.loads(stripped)
        except orjson.JSONDecodeError:
            return raw
    return raw


def _env_layer(
    name: str,
    items: list[tuple[str, str, Origin]],
    *,
    prefix: str,
    delimiter: str,
    model: type[BaseModel] | None,
    known: Mapping[str, Any],
    require_prefix: bool,
    only_known: bool,
) -> Layer:
    """Variables named ``<prefix><key>[<delimiter><key>...]`` as a nested layer."""
    data: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    fields = field_names(model)
    known_top = fields or {str(key).lower(): str(key) for key in known}
    for variable, raw, origin in sorted(items):
        rest = variable
        if prefix and variable.lower().startswith(prefix.lower()):
            rest = variable[len(prefix) :]
        elif prefix and require_prefix:
            continue
        parts = rest.split(delimiter) if delimiter else [rest]
        if not rest or any(not part for part in parts):
            continue
        top = known_top.get(parts[0].lower())
        if top is None and only_known:
            continue
        path = [top or parts[0].lower()]
        current_model = submodel(model, path[0])
        lower_known = known.get(path[0]) if isinstance(known, Mapping) else None
        for part in parts[1:]:
            names = field_names(current_model)
            if not names and isinstance(lower_known, Mapping):
                names = {str(key).lower(): str(key) for key in lower_known}
            canonical = names.get(part.lower(), part.lower())
            current_model = submodel(current_model, canonical)
            lower_known = lower_known.get(canonical) if isinstance(lower_known, Mapping) else None
            path.append(canonical)
        nested: Any = _parse_env_value(raw)
        for key in reversed(path):
            nested = {key: nested}
        data = merge_config(data, nested)
        key_path = tuple(path)
        for known_path in [p for p in origins if _related(p, key_path)]:
            del origins[known_path]
        origins[key_path] = origin
    return Layer(name, data, origins)


def _related(a: KeyPath, b: KeyPath) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _dotenv_items(path: Path) -> list[tuple[str, str, Origin]]:
    document = read_documentdisplay_text(path)
    items = []
    for binding in parse_stream(io.StringIO(document)):
        if binding.error:
            line = binding.original.string.strip()[:40]
            raise ConfigFileError(str(path), f"cannot parse {line!r}", binding.original.line)
        if binding.key is not None and binding.value is not None:
            origin = Origin("dotenv", str(path), binding.original.line)
            items.append((binding.key, binding.value, origin))
    return items


def read_documentdisplay_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigFileError(str(path), f"not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise ConfigFileError(str(path), error.strerror or str(error)) from None


def _secret_items(directory: Path) -> list[tuple[str, str, Origin]]:
    items = []
    try:
        files = sorted(directory.iterdir())
    except OSError as error:
        raise ConfigFileError(str(directory), error.strerror or str(error)) from None
    for file in files:
        if file.is_file() and not file.name.startswith("."):
            value = read_documentdisplay_text(file).removesuffix("\n").removesuffix("\r")
            items.append((file.name, value, Origin("secrets", str(file))))
    return items


def _override_layer(overrides: Mapping[str, Any]) -> Layer:
    data = merge_config({}, overrides)
    return Layer("overrides", data, {path: Origin("overrides") for path, _ in _leaves(data)})


# --- merging with provenance ------------------------------------------------------------------


def _apply(values: dict[str, Any], origins: dict[KeyPath, Origin], layer: Layer) -> dict[str, Any]:
    for path, origin in layer.origins.items():
        below = any(known[: len(path)] == path and known != path for known in origins)
        if below and _is_empty_mapping(layer.data, path):
            continue
        for known in [p for p in origins if _related(p, path)]:
            del origins[known]
        origins[path] = origin
    return merge_config(values, layer.data)


def _is_empty_mapping(data: Mapping[str, Any], path: KeyPath) -> bool:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return isinstance(value, Mapping) and not value


def _key_origin(layer: Layer, path: KeyPath) -> Origin:
    """Where ``path`` itself was written: its own line in a file, else its first leaf."""
    below = [origin for known, origin in layer.origins.items() if known[: len(path)] == path]
    first = below[0] if below else Origin(layer.name)
    return Origin(layer.name, first.source, layer.lines.get(path, first.line))


def unknown_keys(model: type[BaseModel], data: Mapping[str, Any]) -> list[KeyPath]:
    """Key paths of ``data`` that no field of ``model`` (or its nested models) accepts."""
    unknown: list[KeyPath] = []
    stack: list[tuple[type[BaseModel], Mapping[str, Any], KeyPath]] = [(model, data, ())]
    while stack:
        current, values, prefix = stack.pop()
        names = {name: name for name in current.model_fields}
        names.update(
            {info.alias: name for name, info in current.model_fields.items() if info.alias}
        )
        for key, value in values.items():
            name = names.get(str(key))
            if name is None:
                if current.model_config.get("extra") != "allow":
                    unknown.append((*prefix, str(key)))
                continue
            sub = submodel(current, name)
            if sub is not None and isinstance(value, Mapping):
                stack.append((sub, value, (*prefix, str(key))))
    return sorted(unknown)


def _validation_problems(
    error: ValidationError, resolved: ResolvedSettings[Any]
) -> list[SettingsProblem]:
    problems = []
    for item in error.errors():
        path = tuple(str(part) for part in item["loc"])
        key = ".".join(path) or "(settings)"
        if item["type"] == "missing":
            message = (
                f"required, and no layer of env {resolved.env!r} sets it "
                "(add it to a config file or the environment)"
            )
            problems.append(SettingsProblem("missing", message, key=key))
            continue
        kind = "unknown" if item["type"] == "extra_forbidden" else "invalid"
        message = "unknown key" if kind == "unknown" else item["msg"]
        origin = resolved.origin(path)
        problems.append(
            SettingsProblem(kind, message, origin.source, origin.line, key, origin.layer)
        )
    return problems


@overload
def resolve_settings(
    model: type[M],
    env: str = "prod",
    *,
    root: str | Path = ".",
    config_dir: str | Path = "config",
    dotenv: str | Path | None = ".env",
    env_prefix: str | None = None,
    env_nested_delimiter: str = "__",
    environ: Mapping[str, str] | None = None,
    secrets_dir: str | Path | None = "/run/secrets",
    overrides: Mapping[str, Any] | None = None,
    validate: bool = True,
) -> ResolvedSettings[M]: ...


@overload
def resolve_settings(
    model: None = None,
    env: str = "prod",
    *,
    root: str | Path = ".",
    config_dir: str | Path = "config",
    dotenv: str | Path | None = ".env",
    env_prefix: str | None = None,
    env_nested_delimiter: str = "__",
    environ: Mapping[str, str] | None = None,
    secrets_dir: str | Path | None = "/run/secrets",
    overrides: Mapping[str, Any] | None = None,
    validate: bool = True,
) -> ResolvedSettings[Any]: ...


def resolve_settings(
    model: type[M] | None = None,
    env: str = "prod",
    *,
    root: str | Path = ".",
    config_dir: str | Path = "config",
    dotenv: str | Path | None = ".env",
    env_prefix: str | None = None,
    env_nested_delimiter: str = "__",
    environ: Mapping[str, str] | None = None,
    secrets_dir: str | Path | None = "/run/secrets",
    overrides: Mapping[str, Any] | None = None,
    validate: bool = True,
) -> ResolvedSettings[M]:
    """Load every layer for ``env``, merge them, validate against ``model`` if given.

    ``environ`` defaults to ``os.environ``; relative paths are taken from ``root``. With a
    ``BaseSettings`` model, its ``env_prefix``, ``env_nested_delimiter`` and ``secrets_dir``
    are the defaults. Raises :class:`SettingsError` naming the file, line, key and layer;
    ``validate=False`` merges the layers (defaults included) without validating them.
    """
    if not _ENV_NAME.match(env) or env == "base":
        message = f"environment name {env!r}: use letters, digits, - and _ (not base)"
        raise SettingsError([SettingsProblem("file", message)])
    base_dir = Path(root)
    if model is not None and issubclass(model, BaseSettings):
        config = model.model_config
        env_prefix = config.get("env_prefix", "") if env_prefix is None else env_prefix
        env_nested_delimiter = config.get("env_nested_delimiter") or env_nested_delimiter
        model_secrets = config.get("secrets_dir")
        if isinstance(model_secrets, str | Path):
            secrets_dir = model_secrets
    prefix = env_prefix or ""
    environ = os.environ if environ is None else environ
    layers: list[Layer] = []
    files: list[str] = []
    values: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}

    def add(layer: Layer) -> None:
        nonlocal values
        layers.append(layer)
        values = _apply(values, origins, layer)

    try:
        if model is not None:
            defaults = model_defaults(model)
            add(Layer("defaults", defaults, {p: Origin("defaults") for p, _ in _leaves(defaults)}))
        for layer_name, stem in (("base", "base"), ("env", env)):
            file = _config_file(base_dir / config_dir, stem)
            if file is not None:
                files.append(str(file))
                add(_file_layer(layer_name, read_document(file)))
        if dotenv is not None and (base_dir / dotenv).is_file():
            files.append(str(base_dir / dotenv))
            add(
                _env_layer(
                    "dotenv",
                    _dotenv_items(base_dir / dotenv),
                    prefix=prefix,
                    delimiter=env_nested_delimiter,
                    model=model,
                    known=values,
                    require_prefix=True,
                    only_known=model is not None,
                )
            )
        if model is not None or prefix:
            items = [(name, raw, Origin("environ", f"${name}")) for name, raw in environ.items()]
            add(
                _env_layer(
                    "environ",
                    items,
                    prefix=prefix,
                    delimiter=env_nested_delimiter,
                    model=model,
                    known=values,
                    require_prefix=True,
                    only_known=model is not None,
                )
            )
        if secrets_dir is not None and (base_dir / secrets_dir).is_dir():
            add(
                _env_layer(
                    "secrets",
                    _secret_items(base_dir / secrets_dir),
                    prefix=prefix,
                    delimiter=env_nested_delimiter,
                    model=model,
                    known=values,
                    require_prefix=False,
                    only_known=model is not None,
                )
            )
        if overrides:
            add(_override_layer(overrides))
    except ConfigFileError as error:
        problem = SettingsProblem("file", error.message, error.file, error.line)
        raise SettingsError([problem]) from None
    resolved: ResolvedSettings[M] = ResolvedSettings(
        env=env,
        values=values,
        origins=origins,
        layers=layers,
        secret_paths=frozenset(secret_paths(model)) if model is not None else frozenset(),
        files=files,
    )
    if model is None or not validate:
        return resolved
    unknown = [
        SettingsProblem(
            "unknown", "unknown key", origin.source, origin.line, ".".join(path), layer.name
        )
        for layer in layers
        if layer.name != "defaults"
        for path in unknown_keys(model, layer.data)
        for origin in [_key_origin(layer, path)]
    ]
    if unknown:
        raise SettingsError(unknown)
    try:
        settings = model.model_validate(values, by_alias=True, by_name=True)
    except ValidationError as error:
        raise SettingsError(_validation_problems(error, resolved)) from None
    return ResolvedSettings(
        env=env,
        values=values,
        origins=origins,
        layers=layers,
        settings=settings,
        secret_paths=resolved.secret_paths,
        files=files,
    )


def load_settings(
    model: type[M],
    env: str = "prod",
    *,
    root: str | Path = ".",
    config_dir: str | Path = "config",
    dotenv: str | Path | None = ".env",
    env_prefix: str | None = None,
    env_nested_delimiter: str = "__",
    environ: Mapping[str, str] | None = None,
    secrets_dir: str | Path | None = "/run/secrets",
    overrides: Mapping[str, Any] | None = None,
) -> M:
    """The validated settings for ``env``: see :func:`resolve_settings` for the layers."""
    resolved = resolve_settings(
        model,
        env,
        root=root,
        config_dir=config_dir,
        dotenv=dotenv,
        env_prefix=env_prefix,
        env_nested_delimiter=env_nested_delimiter,
        environ=environ,
        secrets_dir=secrets_dir,
        overrides=overrides,
    )
    assert resolved.settings is not None
    return resolved.settings
