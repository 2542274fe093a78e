"""The sources of layered settings: each reads one place into a :class:`Layer`.

A layer is nested data plus, for every leaf key, its :class:`Origin` (layer, file or
variable, line). Sources read; they never merge each other — that is the loader's job.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from dotenv.parser import parse_stream
from pydantic import BaseModel

from shipshape.deploy.config import CONFIG_SUFFIXES, ConfigFileError, Document, merge_config
from shipshape.deploy.settings_schema import field_names, submodel

__all__ = [
    "KeyPath",
    "Layer",
    "Origin",
    "config_file",
    "dotenv_items",
    "env_layer",
    "file_layer",
    "leaves",
    "override_layer",
    "read_env_value",
    "read_file_text",
    "related",
    "secret_items",
]

KeyPath = tuple[str, ...]


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
    file: str | None = None
    unparsed: dict[KeyPath, str] = field(default_factory=dict)
    """Keys whose variable looked like JSON (``{``/``[``) but is not: why, kept as text."""


def leaves(value: Mapping[str, Any], prefix: KeyPath = ()) -> list[tuple[KeyPath, Any]]:
    """Every leaf (a non-mapping or an empty mapping) with its key path, sorted by key."""
    found: list[tuple[KeyPath, Any]] = []
    for key in sorted(value, key=str):
        item, path = value[key], (*prefix, str(key))
        if isinstance(item, Mapping) and item:
            found += leaves(item, path)
        else:
            found.append((path, item))
    return found


def file_layer(name: str, document: Document) -> Layer:
    """A parsed config file as a layer; the file must hold a mapping (or nothing)."""
    data = document.data
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigFileError(document.file, f"must be a mapping, got {type(data).__name__}")
    data = {str(key): value for key, value in data.items()}
    origins = {
        path: Origin(name, document.file, document.lines.get(path)) for path, _ in leaves(data)
    }
    return Layer(name, data, origins, dict(document.lines), document.file)


def config_file(config_dir: Path, stem: str) -> Path | None:
    """``<stem>.yaml|yml|toml|json`` in ``config_dir``; two of them is an error."""
    found = [config_dir / f"{stem}{suffix}" for suffix in CONFIG_SUFFIXES]
    found = [path for path in found if path.is_file()]
    if len(found) > 1:
        names = " and ".join(str(path) for path in found)
        raise ConfigFileError(str(found[0]), f"both {names} exist; keep one")
    return found[0] if found else None


def parse_env_value(raw: str) -> Any:
    """A variable's text; JSON when it looks like an object or an array."""
    return read_env_value(raw)[0]


def read_env_value(raw: str) -> tuple[Any, str | None]:
    """A variable's value, JSON when it looks like an object or an array, and why not.

    Text that starts like JSON but is not stays text (a string field may hold it); the
    second item then says what is wrong with it as JSON, for when the model wanted JSON.
    """
    stripped = raw.strip()
    if stripped[:1] in ("{", "["):
        try:
            return orjson.loads(stripped), None
        except orjson.JSONDecodeError as error:
            where = (
                f"line {error.lineno} column {error.colno}"
                if error.lineno > 1
                else (f"column {error.colno}")
            )
            return raw, f"invalid JSON: {error.msg} at {where}"
    return raw, None


def env_layer(
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
    unparsed: dict[KeyPath, str] = {}
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
        value, problem = read_env_value(raw)
        nested = value
        for key in reversed(path):
            nested = {key: nested}
        data = merge_config(data, nested)
        key_path = tuple(path)
        for leaf_path in _value_leaves(value):
            full = (*key_path, *leaf_path)
            below = any(p[: len(full)] == full and p != full for p in origins)
            if below and isinstance(value, Mapping) and not value:
                continue  # an empty object merges into what is there: nothing replaced
            for known_path in [p for p in origins if related(p, full)]:
                del origins[known_path]
            for known_path in [p for p in unparsed if related(p, full)]:
                del unparsed[known_path]
            origins[full] = origin
        if problem is not None:
            unparsed[key_path] = problem
    return Layer(name, data, origins, unparsed=unparsed)


def _value_leaves(value: Any) -> list[KeyPath]:
    """The leaf paths a variable's value sets, relative to its key.

    A JSON object merges into the layers below it, key by key, so each of its leaves is set
    by the variable and every other key keeps its own origin; any other value (an empty
    object included) is one leaf at the key itself.
    """
    if isinstance(value, Mapping) and value:
        return [path for path, _ in leaves(value)]
    return [()]


def related(a: KeyPath, b: KeyPath) -> bool:
    """Whether one path is a prefix of the other (setting one replaces the other)."""
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def dotenv_items(path: Path) -> list[tuple[str, str, Origin]]:
    """``(name, value, origin)`` of each assignment in a ``.env`` file, with its line."""
    document = read_file_text(path)
    items = []
    for binding in parse_stream(io.StringIO(document)):
        if binding.error:
            line = binding.original.string.strip()[:40]
            raise ConfigFileError(str(path), f"cannot parse {line!r}", binding.original.line)
        if binding.key is not None and binding.value is not None:
            origin = Origin("dotenv", str(path), binding.original.line)
            items.append((binding.key, binding.value, origin))
    return items


def read_file_text(path: Path) -> str:
    """UTF-8 text of ``path``; failures are a :class:`ConfigFileError`."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigFileError(str(path), f"not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise ConfigFileError(str(path), error.strerror or str(error)) from None


def secret_items(directory: Path) -> list[tuple[str, str, Origin]]:
    """One ``(file name, content, origin)`` per file, trailing newline removed."""
    items = []
    try:
        files = sorted(directory.iterdir())
    except OSError as error:
        raise ConfigFileError(str(directory), error.strerror or str(error)) from None
    for file in files:
        if file.is_file() and not file.name.startswith("."):
            value = read_file_text(file).removesuffix("\n").removesuffix("\r")
            items.append((file.name, value, Origin("secrets", str(file))))
    return items


def override_layer(overrides: Mapping[str, Any]) -> Layer:
    """Explicit overrides (already nested) as the top layer."""
    data = merge_config({}, overrides)
    return Layer("overrides", data, {path: Origin("overrides") for path, _ in leaves(data)})
