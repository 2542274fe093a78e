"""Structured JSON log lines: one encoder and one entry shape for every log we write."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

__all__ = ["encode_json", "format_log_entries", "log_entry"]

RESERVED_KEYS = frozenset({"timestamp", "level", "message"})
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _fallback(value: Any) -> str:
    return str(value)


def encode_json(value: Any) -> bytes:
    """Encode ``value`` as compact JSON; anything JSON cannot encode becomes ``str()``.

    orjson does the work; the stdlib encoder is the fallback for the few values orjson
    refuses outright (integers beyond 64 bits, recursion), so encoding never raises.
    """
    try:
        return orjson.dumps(value, default=_fallback, option=_ORJSON_OPTIONS)
    except (orjson.JSONEncodeError, TypeError):
        return _encode_slow(value).encode("utf-8")


def _encode_slow(value: Any) -> str:
    try:
        return json.dumps(
            value,
            default=_fallback,
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
        )
    except (ValueError, TypeError, RecursionError):
        return json.dumps(_plain(value, 0), ensure_ascii=False, separators=(",", ":"))


def _plain(value: Any, depth: int) -> Any:
    """A JSON-safe copy: deep or odd values become their ``str()``."""
    if depth > 64:
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, depth + 1) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, int):
        return value if abs(value) < 2**63 else str(value)
    return str(value)


def log_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical shape: ``timestamp``, ``level`` (uppercased), ``message``, ``context``.

    ``context`` holds every other key of ``entry``, in input order.
    """
    if not isinstance(entry, Mapping):
        raise TypeError(f"a log entry must be a mapping, not {type(entry).__name__}")
    level = entry.get("level", "INFO")
    return {
        "timestamp": entry.get("timestamp", "unknown"),
        "level": (level if isinstance(level, str) else str(level)).upper(),
        "message": entry.get("message", ""),
        "context": {key: value for key, value in entry.items() if key not in RESERVED_KEYS},
    }


def format_log_entries(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """Render each entry as one JSON object string of the canonical shape.

    Defaults: ``timestamp`` ``"unknown"``, ``level`` ``"INFO"``, ``message`` ``""``.
    Values JSON cannot encode are rendered with ``str()``; this never raises on values.
    """
    return [encode_json(log_entry(entry)).decode("utf-8") for entry in entries]
