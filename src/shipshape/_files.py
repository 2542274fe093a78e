"""Reading user files: one place that turns OS errors into one-line reasons."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson

__all__ = ["FileLineError", "UnreadableFile", "loads_json", "read_utf8"]


class UnreadableFile(Exception):
    """A file that could not be read as UTF-8 text; ``reason`` is one short line."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class FileLineError(ValueError):
    """A problem in a user's file: ``str()`` is ``file[:line]: what is wrong``."""

    def __init__(self, file: str, message: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.message = message
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}")


def read_utf8(path: str | Path) -> str:
    """The text of ``path``; every failure is an ``UnreadableFile`` naming the reason."""
    name = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnreadableFile(name, "no such file") from None
    except IsADirectoryError:
        raise UnreadableFile(name, "is a directory, expected a file") from None
    except PermissionError:
        raise UnreadableFile(name, "permission denied") from None
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            name, f"not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    except OSError as error:
        raise UnreadableFile(name, error.strerror or str(error)) from None


# orjson reads an integer beyond 64 bits as a float (18446744073709551616 and ...617
# become one number) and refuses one beyond a double's range: text with a run of 20
# digits is read by the stdlib instead, whose integers are exact. A run inside a string
# or a fraction only costs the slower reader.
_LONG_DIGITS = re.compile(r"\d{20}")


def loads_json(text: str) -> Any:
    """JSON text as Python values, integers exact whatever their size."""
    if _LONG_DIGITS.search(text) is None:
        return orjson.loads(text)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return orjson.loads(text)  # not JSON: orjson's error, with its line


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
