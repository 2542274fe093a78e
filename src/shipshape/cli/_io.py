"""Shared CLI plumbing: reading input files, printing results, exit codes."""

from __future__ import annotations

import functools
import math
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, ParamSpec, TypeVar

import orjson
import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.status import Status
from rich.table import Table
from rich.text import Text

from shipshape._files import UnreadableFile, loads_json, read_utf8
from shipshape.observe.logs import encode_json

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_OK",
    "EXIT_USAGE",
    "InputError",
    "check_option",
    "console",
    "err_console",
    "fail",
    "handle_errors",
    "load_data",
    "naming",
    "parse_data",
    "pick",
    "print_json",
    "read_text",
    "source_name",
    "table",
    "warn",
    "working",
]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


class InputError(Exception):
    """Bad input: reported as one line on stderr with exit code 2."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.message = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


def fail(message: str | Text, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``.

    A ``str`` is rich markup (escape what is not); a :class:`~rich.text.Text` is printed
    as it is, which is how plain error text (paths, values) should be passed.
    """
    if isinstance(message, Text):
        err_console.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)
    else:
        err_console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(code)


def check_option(
    option: str, value: float | None, minimum: float = 0, *, finite: bool = True
) -> None:
    """``InputError`` naming ``option`` unless ``value`` is a number >= ``minimum``, and
    finite if ``finite`` (NaN never passes; ``None``, an option not given, does).
    Checked here rather than with Typer's ``min=``, whose error is a multi-line usage
    box instead of the one-line ``error: --option: ...``."""
    if value is None:
        return
    if finite and isinstance(value, float) and not math.isfinite(value):
        # `inf`, `nan` and `1e400` all parse as floats
        raise InputError(option, f"must be a finite number, got {value}")
    if not value >= minimum:  # NaN compares false
        raise InputError(option, f"must be >= {minimum}, got {value}")


def warn(message: str) -> None:
    """Print ``warning: message`` (plain text, never markup) on stderr."""
    err_console.print(Text.assemble(("warning:", "yellow"), " ", message), highlight=False)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn bad input into a one-line message and exit code 2, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (InputError, ValueError, TypeError) as error:
            fail(Text(str(error)))

    return wrapper


def working(message: str) -> Status:
    """A spinner with ``message`` on stderr while long work runs (``with working(...)
    as status:``, ``status.update(...)`` between stages); cleared when done, and drawn
    only when stderr is an interactive terminal, so pipes and logs never see it."""
    return err_console.status(escape(message), spinner="dots")


def source_name(path: str) -> str:
    return "<stdin>" if path == "-" else path


def read_text(path: str) -> str:
    """The text of ``path``, or of stdin for ``-``."""
    if path == "-":
        try:
            return sys.stdin.read()
        except UnicodeDecodeError as error:
            raise InputError("<stdin>", f"not UTF-8 text ({error.reason})") from None
    try:
        return read_utf8(path)
    except UnreadableFile as error:
        raise InputError(error.path, error.reason) from None


_JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})


def _format_of(path: str, text: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in {".json", ".jsonl", ".ndjson"}:
        return "json"
    if suffix in {".yaml", ".yml"}:
        return "yaml"
    if suffix == ".toml":
        return "toml"
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return "json"
    return "yaml"


def parse_data(text: str, source: str, fmt: str | None = None) -> Any:
    """Parse JSON, JSON lines, YAML or TOML text; the format comes from the file name.

    A ``.jsonl`` / ``.ndjson`` file is always a list, one value per line (an empty
    file is an empty list); other JSON text of several lines that is not one document
    is read as JSON lines too."""
    if fmt is None and Path(source).suffix.lower() in _JSON_LINES_SUFFIXES:
        return _json_lines(text, source)  # one value per line, whatever their number
    fmt = fmt or _format_of(source, text)
    if fmt == "json":
        try:
            return loads_json(text)
        except orjson.JSONDecodeError as error:
            if _looks_like_json_lines(text):
                return _json_lines(text, source)
            raise InputError(source, f"invalid JSON: {error.msg}", error.lineno) from None
    if fmt == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise InputError(source, f"invalid TOML: {error}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise InputError(source, f"invalid YAML: {problem}", line) from None


def _looks_like_json_lines(text: str) -> bool:
    """Several lines, the first of which is a whole JSON value on its own."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    try:
        orjson.loads(lines[0])
    except orjson.JSONDecodeError:
        return False
    return True


def _json_lines(text: str, source: str) -> list[Any]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(loads_json(line))
        except orjson.JSONDecodeError as error:
            raise InputError(source, f"invalid JSON line: {error.msg}", number) from None
    return records


def load_data(path: str) -> Any:
    """Read and parse a JSON, JSON-lines, YAML or TOML file (``-`` for stdin)."""
    return parse_data(read_text(path), source_name(path))


def pick(data: Any, key: str, source: str) -> Any:
    """``data[key]`` when the document is a mapping holding ``key``, else the document."""
    if isinstance(data, Mapping):
        if key not in data:
            raise InputError(source, f"expected a list or a mapping with a {key!r} key")
        return data[key]
    return data


def _kind(value: Any) -> str:
    """What a document turned out to be, in words: ``nothing`` for an empty one."""
    return "nothing (the input is empty)" if value is None else type(value).__name__


def require_list(value: Any, source: str, what: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise InputError(source, f"{what} must be a list, got {_kind(value)}")
    return value


def require_mapping(value: Any, source: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(source, f"{what} must be a mapping, got {_kind(value)}")
    return value


@contextmanager
def naming(source: str) -> Iterator[None]:
    """Report a core's ``ValueError``/``TypeError`` as bad input in ``source``."""
    try:
        yield
    except (ValueError, TypeError) as error:
        raise InputError(source, str(error)) from None


def print_json(value: Any) -> None:
    sys.stdout.write(encode_json(value).decode("utf-8") + "\n")
    sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    grid = Table(title=escape(title) if title else None, title_justify="left")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*(escape(str(cell)) for cell in row))
    console.print(grid)
