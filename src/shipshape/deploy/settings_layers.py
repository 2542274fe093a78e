"""Layered settings with provenance: every layer merged by the one ``merge_config`` rule.

Order, lowest first: model defaults < ``config/base.*`` < ``config/<env>.*`` < ``.env`` <
environment variables < secrets directory < explicit overrides. Each source is a small
function with one job; the order is the :data:`LAYERS` tuple, not code paths. For every
key the loader remembers which layer, which file (or variable) and which line set it.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, Generic, TypeVar, cast, overload

from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from shipshape.deploy.config import (
    ConfigFileError,
    merge_config,
    read_document,
)
from shipshape.deploy.settings_schema import (
    MASK,
    SECRET_KEY,
    URL_PASSWORD,
    FeatureFlags,
    display_text,
    mask_value,
    model_defaults,
    plain_value,
    secret_paths,
    submodel,
)
from shipshape.deploy.settings_sources import (
    KeyPath,
    Layer,
    Origin,
    config_file,
    dotenv_items,
    env_layer,
    file_layer,
    leaves,
    override_layer,
    related,
    secret_items,
)

__all__ = [
    "DEFAULT",
    "LAYERS",
    "Default",
    "FeatureFlags",
    "Origin",
    "ResolvedSettings",
    "SettingsEntry",
    "SettingsError",
    "SettingsProblem",
    "load_settings",
    "mask_url_passwords",
    "resolve_settings",
    "unknown_keys",
]

LAYERS = ("defaults", "base", "env", "dotenv", "environ", "secrets", "overrides")

M = TypeVar("M", bound=BaseModel)


class Default(Enum):
    """The type of :data:`DEFAULT`: "use the model's setting, else the documented default"."""

    token = 0


DEFAULT = Default.token

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


def mask_url_passwords(value: Any) -> Any:
    """``value`` with the password of every URL in it (``scheme://user:pw@host``) masked.

    Strings inside lists and mappings included; other values are returned unchanged.
    """
    if isinstance(value, str):
        return URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", value)
    if isinstance(value, Mapping):
        return {key: mask_url_passwords(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_url_passwords(item) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class SettingsEntry:
    """One leaf key of the effective settings, as ``config show`` prints it."""

    key: str
    value: Any
    secret: bool
    origin: Origin

    @property
    def shown(self) -> Any:
        """The value as every output prints it: a secret as the mask, URL passwords masked."""
        return mask_value(self.value) if self.secret else mask_url_passwords(self.value)

    @property
    def display(self) -> str:
        """:attr:`shown` as one line of text."""
        shown = self.shown
        return shown if isinstance(shown, str) else display_text(shown)


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
            for path, value in leaves(effective)
        ]


# --- merging with provenance ------------------------------------------------------------------


@dataclass(frozen=True)
class _Sources:
    """``load_<layer>`` for each entry of :data:`LAYERS`: reads its place, or returns None."""

    model: type[BaseModel] | None
    env: str
    root: Path
    config_dir: Path
    dotenv: Path | None
    prefix: str
    delimiter: str
    environ: Mapping[str, str]
    secrets_dir: Path | None
    overrides: Mapping[str, Any]

    def _file(self, name: str, stem: str) -> Layer | None:
        file = config_file(self.config_dir, stem)
        return None if file is None else file_layer(name, read_document(file))

    def _env_like(
        self, name: str, items: list[tuple[str, str, Origin]], known: Mapping[str, Any]
    ) -> Layer:
        return env_layer(
            name,
            items,
            prefix=self.prefix,
            delimiter=self.delimiter,
            model=self.model,
            known=known,
            require_prefix=name != "secrets",
            only_known=self.model is not None,
        )

    def load_defaults(self, values: Mapping[str, Any]) -> Layer | None:
        if self.model is None:
            return None
        data = model_defaults(self.model)
        return Layer("defaults", data, {path: Origin("defaults") for path, _ in leaves(data)})

    def load_base(self, values: Mapping[str, Any]) -> Layer | None:
        return self._file("base", "base")

    def load_env(self, values: Mapping[str, Any]) -> Layer | None:
        return self._file("env", self.env)

    def load_dotenv(self, values: Mapping[str, Any]) -> Layer | None:
        if self.dotenv is None or not self.dotenv.is_file():
            return None
        layer = self._env_like("dotenv", dotenv_items(self.dotenv), values)
        return replace(layer, file=str(self.dotenv))

    def load_environ(self, values: Mapping[str, Any]) -> Layer | None:
        if self.model is None and not self.prefix:
            return None
        items = [(name, raw, Origin("environ", f"${name}")) for name, raw in self.environ.items()]
        return self._env_like("environ", items, values)

    def load_secrets(self, values: Mapping[str, Any]) -> Layer | None:
        if self.secrets_dir is None or not self.secrets_dir.is_dir():
            return None
        return self._env_like("secrets", secret_items(self.secrets_dir), values)

    def load_overrides(self, values: Mapping[str, Any]) -> Layer | None:
        return override_layer(self.overrides) if self.overrides else None


def _apply(values: dict[str, Any], origins: dict[KeyPath, Origin], layer: Layer) -> dict[str, Any]:
    for path, origin in layer.origins.items():
        below = any(known[: len(path)] == path and known != path for known in origins)
        if below and _is_empty_mapping(layer.data, path):
            continue
        for known in [p for p in origins if related(p, path)]:
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


def _unparsed(resolved: ResolvedSettings[Any], path: KeyPath) -> tuple[KeyPath, str] | None:
    """The variable-set key at or above ``path`` whose JSON-looking text is not JSON."""
    for end in range(len(path), 0, -1):
        origin = resolved.origins.get(path[:end])
        if origin is None:
            continue
        for layer in resolved.layers:
            if layer.origins.get(path[:end]) == origin and path[:end] in layer.unparsed:
                return path[:end], layer.unparsed[path[:end]]
        return None
    return None


def _validation_problems(
    error: ValidationError, resolved: ResolvedSettings[Any]
) -> list[SettingsProblem]:
    problems: list[SettingsProblem] = []
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
        if not path:  # the model as a whole: no one layer is to blame
            problems.append(SettingsProblem(kind, message, key=key))
            continue
        origin = resolved.origin(path)
        unparsed = _unparsed(resolved, path) if kind == "invalid" else None
        if unparsed is not None:
            key, message = ".".join(unparsed[0]), unparsed[1]
        problem = SettingsProblem(kind, message, origin.source, origin.line, key, origin.layer)
        if problem not in problems:
            problems.append(problem)
    return problems


@functools.cache
def _layers_only(model: type[BaseSettings]) -> type[BaseSettings]:
    """``model`` with no settings source but its arguments: the layers merged here.

    Validating a ``BaseSettings`` runs its ``__init__``, which would read the process
    environment, ``.env`` and secrets again by pydantic-settings' rules (and fail on
    their parse errors before the merged values are even looked at).
    """

    class LayersOnly(model):  # type: ignore[misc, valid-type]
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings,)

    LayersOnly.__name__ = model.__name__
    LayersOnly.__qualname__ = model.__qualname__
    LayersOnly.__module__ = model.__module__
    return LayersOnly


def _validate(model: type[M], values: dict[str, Any]) -> M:
    """``model`` validated from ``values`` alone."""
    if not issubclass(model, BaseSettings):
        return model.model_validate(values, by_alias=True, by_name=True)
    settings = _layers_only(model).model_validate(values, by_alias=True, by_name=True)
    # The subclass only differs in where it reads from: hand out the model's own class.
    object.__setattr__(settings, "__class__", model)
    return cast(M, settings)


@overload
def resolve_settings(
    model: type[M],
    env: str = "prod",
    *,
    root: str | Path = ".",
    config_dir: str | Path = "config",
    dotenv: str | Path | None = ".env",
    env_prefix: str | None = None,
    env_nested_delimiter: str | None = None,
    environ: Mapping[str, str] | None = None,
    secrets_dir: str | Path | Default | None = DEFAULT,
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
    env_nested_delimiter: str | None = None,
    environ: Mapping[str, str] | None = None,
    secrets_dir: str | Path | Default | None = DEFAULT,
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
    env_nested_delimiter: str | None = None,
    environ: Mapping[str, str] | None = None,
    secrets_dir: str | Path | Default | None = DEFAULT,
    overrides: Mapping[str, Any] | None = None,
    validate: bool = True,
) -> ResolvedSettings[M]:
    """Load every layer for ``env``, merge them, validate against ``model`` if given.

    ``environ`` defaults to ``os.environ``; relative paths are taken from ``root``. With a
    ``BaseSettings`` model, its ``env_prefix``, ``env_nested_delimiter`` and ``secrets_dir``
    are the defaults; otherwise ``__`` and ``/run/secrets`` (``secrets_dir=None`` skips
    it). Raises :class:`SettingsError` naming the file, line, key and layer;
    ``validate=False`` merges the layers (defaults included) without validating them.
    """
    if not _ENV_NAME.match(env) or env == "base":
        message = f"environment name {env!r}: use letters, digits, - and _ (not base)"
        raise SettingsError([SettingsProblem("file", message)])
    base_dir = Path(root)
    model_secrets: object = None
    if model is not None and issubclass(model, BaseSettings):
        config = model.model_config
        env_prefix = config.get("env_prefix", "") if env_prefix is None else env_prefix
        if env_nested_delimiter is None:
            env_nested_delimiter = config.get("env_nested_delimiter")
        model_secrets = config.get("secrets_dir")
    if secrets_dir is DEFAULT:
        secrets_dir = model_secrets if isinstance(model_secrets, str | Path) else "/run/secrets"
    sources = _Sources(
        model=model,
        env=env,
        root=base_dir,
        config_dir=base_dir / config_dir,
        dotenv=None if dotenv is None else base_dir / dotenv,
        prefix=env_prefix or "",
        delimiter=env_nested_delimiter or "__",
        environ=os.environ if environ is None else environ,
        secrets_dir=None if secrets_dir is None else base_dir / secrets_dir,
        overrides=overrides or {},
    )
    layers: list[Layer] = []
    values: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    try:
        for name in LAYERS:
            layer = getattr(sources, f"load_{name}")(values)
            if layer is not None:
                layers.append(layer)
                values = _apply(values, origins, layer)
    except ConfigFileError as error:
        problem = SettingsProblem("file", error.message, error.file, error.line)
        raise SettingsError([problem]) from None
    files = [layer.file for layer in layers if layer.file is not None]
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
        settings = _validate(model, values)
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
    env_nested_delimiter: str | None = None,
    environ: Mapping[str, str] | None = None,
    secrets_dir: str | Path | Default | None = DEFAULT,
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
