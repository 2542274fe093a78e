"""Configuration merging: one rule for every layer."""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import orjson
import yaml

from shipshape._files import FileLineError, UnreadableFile, loads_json, read_utf8

__all__ = [
    "CONFIG_SUFFIXES",
    "ConfigFileError",
    "Document",
    "merge_config",
    "parse_document",
    "read_document",
]


def _sorted_keys(keys: set[Any]) -> list[Any]:
    try:
        return sorted(keys)
    except TypeError:
        return sorted(keys, key=lambda key: (type(key).__name__, repr(key)))


def _normalized(value: Any) -> Any:
    """A deep, independent copy with mapping keys sorted at every level."""
    if isinstance(value, Mapping):
        return {key: _normalized(value[key]) for key in _sorted_keys(set(value))}
    return copy.deepcopy(value)


def merge_config(defaults: Mapping[Any, Any], overrides: Mapping[Any, Any]) -> dict[Any, Any]:
    """Merge ``overrides`` onto ``defaults``.

    Recursive where both sides hold a mapping; otherwise the override wins (lists and
    scalars are replaced, never concatenated). Keys come out sorted at every level. The
    inputs are never mutated and the result shares no mutable object with them.
    """
    if not isinstance(defaults, Mapping) or not isinstance(overrides, Mapping):
        raise TypeError("merge_config expects two mappings")
    result: dict[Any, Any] = {}
    for key in _sorted_keys(set(defaults) | set(overrides)):
        if key in overrides and key in defaults:
            base, override = defaults[key], overrides[key]
            if isinstance(base, Mapping) and isinstance(override, Mapping):
                result[key] = merge_config(base, override)
            else:
                result[key] = _normalized(override)
        elif key in overrides:
            result[key] = _normalized(overrides[key])
        else:
            result[key] = _normalized(defaults[key])
    return result


Path_ = tuple[str, ...]


class ConfigFileError(FileLineError):
    """A configuration file that cannot be read or parsed: ``file:line: what is wrong``."""


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed configuration file, with the line where each key path was written."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest written ancestor."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


CONFIG_SUFFIXES = (".yaml", ".yml", ".toml", ".json")


def format_of(file: str) -> str:
    suffix = PurePath(file).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix == ".toml":
        return "toml"
    return "yaml"


def parse_document(text: str, file: str, fmt: str | None = None) -> Document:
    """Parse YAML, TOML or JSON text (format from the file name) and record key lines."""
    fmt = fmt or format_of(file)
    if fmt == "toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            line = getattr(error, "lineno", None) or _toml_error_line(str(error))
            message = getattr(error, "msg", None) or str(error)
            raise ConfigFileError(file, f"invalid TOML: {message}", line) from None
        return Document(file, data, _toml_lines(text))
    if fmt == "json":
        try:
            data = loads_json(text)  # integers exact whatever their size
        except orjson.JSONDecodeError as error:
            raise ConfigFileError(file, f"invalid JSON: {error.msg}", error.lineno) from None
        return Document(file, data, _yaml_lines(text, file))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigFileError(file, f"invalid YAML: {problem}", line) from None
    except (ValueError, TypeError, RecursionError) as error:
        raise ConfigFileError(file, f"invalid YAML: {error}") from None
    return Document(file, data, _yaml_lines(text, file))


def read_document(path: str | Path) -> Document:
    """Read and parse one configuration file; every failure is a :class:`ConfigFileError`."""
    try:
        text = read_utf8(path)
    except UnreadableFile as error:
        raise ConfigFileError(error.path, error.reason) from None
    return parse_document(text, str(path))


def _toml_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _yaml_lines(text: str, file: str = "<config>") -> dict[Path_, int]:
    """Line of every mapping key; JSON is read as YAML here, and failures give no lines.

    A key written twice in one mapping (the later one would silently replace the earlier,
    a whole block with it) and an alias used inside its own anchor (a structure that never
    ends) are a :class:`ConfigFileError` naming the line.
    """
    try:
        root = yaml.compose(text)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        return {}
    lines: dict[Path_, int] = {}
    # (node, key path or None inside a sequence, ids of the collections above it)
    stack: list[tuple[yaml.Node, Path_ | None, frozenset[int]]] = (
        [(root, (), frozenset())] if root is not None else []
    )
    visited: set[int] = set()
    while stack:
        node, path, above = stack.pop()
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            continue
        if id(node) in above:
            raise ConfigFileError(
                file, "invalid YAML: an alias refers to a node that contains it", _line(node)
            )
        if id(node) in visited:
            continue  # an alias of a node already read: its keys have their lines
        visited.add(id(node))
        inside = above | {id(node)}
        if isinstance(node, yaml.SequenceNode):
            stack += [(item, None, inside) for item in node.value]
            continue
        seen: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            child: Path_ | None = None
            if isinstance(key_node, yaml.ScalarNode):
                key = (key_node.tag, str(key_node.value))
                if key in seen and key_node.tag != "tag:yaml.org,2002:merge":
                    raise ConfigFileError(
                        file,
                        f"duplicate key {key_node.value!r} (first on line {seen[key]}): "
                        "the later one would replace it",
                        _line(key_node),
                    )
                seen.setdefault(key, _line(key_node))
                if path is not None:
                    child = (*path, str(key_node.value))
                    lines.setdefault(child, _line(key_node))
            stack.append((value_node, child, inside))
    return lines


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


_TOML_TABLE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_TOML_PART = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_TOML_KEY = re.compile(rf"^\s*({_TOML_PART}(?:\s*\.\s*{_TOML_PART})*)\s*=")


def _toml_key_parts(dotted: str) -> Path_:
    parts = re.findall(_TOML_PART, dotted)
    return tuple(part.strip("\"'") for part in parts)


def _toml_lines(text: str) -> dict[Path_, int]:
    lines: dict[Path_, int] = {}
    table: Path_ = ()
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _TOML_TABLE.match(line):
            table = _toml_key_parts(match.group(1))
            lines.setdefault(table, number)
        elif match := _TOML_KEY.match(line):
            lines.setdefault((*table, *_toml_key_parts(match.group(1))), number)
    return lines
