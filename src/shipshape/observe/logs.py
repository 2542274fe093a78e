"""Structured JSON log lines: one encoder and one entry shape for every log we write."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import orjson
from pydantic import BaseModel, SecretBytes, SecretStr

__all__ = [
    "DEFAULT_REDACT_KEYS",
    "JsonFormatter",
    "JsonLineHandler",
    "Redactor",
    "configure_logging",
    "encode_json",
    "format_log_entries",
    "jsonable",
    "line_head",
    "log_entry",
    "mark_logged",
    "request_id_var",
    "safe_str",
    "span_ids",
    "trace_ids_var",
    "utc_now",
    "utc_timestamp",
    "write_line",
    "write_lines",
]

DEFAULT_REDACT_KEYS = ("password", "secret", "token", "authorization", "api_key", "cookie")
_SecretTypes = (SecretStr, SecretBytes)

RESERVED_KEYS = frozenset({"timestamp", "level", "message"})
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def safe_str(value: Any) -> str:
    """``str(value)``, or a placeholder naming the type when ``str()`` itself fails."""
    try:
        return str(value)
    except Exception:
        try:
            return repr(value)
        except Exception:
            return f"<unprintable {type(value).__name__}>"


def _key(key: Any) -> str:
    """A mapping key as ``json`` writes it; keys ``json`` refuses become ``str(key)``."""
    if isinstance(key, str):
        return str.__str__(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    if isinstance(key, float):
        return float.__repr__(key) if math.isfinite(key) else safe_str(key)
    return safe_str(key)


_MAX_DEPTH = 500


def jsonable(value: Any) -> Any:
    """A copy made only of JSON types, as ``json.dumps(value, default=str)`` sees it.

    What JSON cannot encode becomes ``str()``: datetimes, plain enums, dataclasses,
    sets, bytes, NaN and infinities, objects; a value that contains itself, or nests
    deeper than 500 levels, becomes its ``str()`` at that point. Never raises: the
    copy is made without recursion, so nesting is not bounded by Python's stack.
    """
    if not isinstance(value, dict | list | tuple):
        return _jsonable_scalar(value)
    top: dict[str, Any] | list[Any] = {} if isinstance(value, dict) else []
    # depth-first, one entry per container being copied: its (key, item) pairs still
    # to copy, the copy, and its id (a container met again on its own path is a cycle)
    stack: list[tuple[Iterator[tuple[Any, Any]], Any, int]] = [(_pairs(value), top, id(value))]
    path = {id(value)}
    while stack:
        pairs, copy, ident = stack[-1]
        for key, item in pairs:
            if not isinstance(item, dict | list | tuple):
                _put(copy, key, _jsonable_scalar(item))
            elif id(item) in path or len(stack) > _MAX_DEPTH:
                _put(copy, key, safe_str(item))
            else:
                inner: dict[str, Any] | list[Any] = {} if isinstance(item, dict) else []
                _put(copy, key, inner)
                stack.append((_pairs(item), inner, id(item)))
                path.add(id(item))
                break  # copy the inner container first; this one resumes after it
        else:
            stack.pop()
            path.discard(ident)
    return top


def _jsonable_scalar(value: Any) -> Any:
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else safe_str(value)
    return safe_str(value)


def _pairs(container: dict[Any, Any] | list[Any] | tuple[Any, ...]) -> Iterator[tuple[Any, Any]]:
    """A container's items as ``(key, value)``: JSON keys for a dict, ``None`` else."""
    if isinstance(container, dict):
        return ((_key(key), item) for key, item in container.items())
    return ((None, item) for item in container)


def _put(copy: Any, key: Any, item: Any) -> None:
    if key is None:
        copy.append(item)
    else:
        copy[key] = item


def encode_json(value: Any) -> bytes:
    """Compact JSON of ``value``; never raises.

    orjson does the work; values it cannot encode natively become ``str()``. The few
    documents orjson refuses outright (integers beyond 64 bits, lone surrogates, deep
    nesting, cycles) go through ``jsonable`` and the stdlib encoder.
    """
    try:
        return orjson.dumps(value, default=safe_str, option=_ORJSON_OPTIONS)
    except (orjson.JSONEncodeError, TypeError, RecursionError):
        return _encode_plain(jsonable(value))


def _encode_plain(plain: Any) -> bytes:
    """Encode a document of JSON types only, with the stdlib encoder (a document still
    too deep for it from where it is called becomes one string: its text)."""
    try:
        try:
            return json.dumps(plain, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(plain, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    except RecursionError:
        return json.dumps(safe_str(plain), ensure_ascii=True).encode("ascii")


def line_head(timestamp: Any, level: Any, message: Any) -> dict[str, Any]:
    """The three fields every shipshape log line starts with; ``level`` is uppercased.

    The seed entries, the stdlib formatter and the access log all build on it.
    """
    return {
        "timestamp": timestamp,
        "level": (level if isinstance(level, str) else str(level)).upper(),
        "message": message,
    }


def log_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical shape: ``timestamp``, ``level`` (uppercased), ``message``, ``context``.

    ``context`` holds every other key of ``entry``, in input order.
    """
    if not isinstance(entry, Mapping):
        raise TypeError(f"a log entry must be a mapping, not {type(entry).__name__}")
    line = line_head(
        entry.get("timestamp", "unknown"), entry.get("level", "INFO"), entry.get("message", "")
    )
    line["context"] = {key: value for key, value in entry.items() if key not in RESERVED_KEYS}
    return line


def format_log_entries(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """Render each entry as one JSON object string of the canonical shape.

    Defaults: ``timestamp`` ``"unknown"``, ``level`` ``"INFO"``, ``message`` ``""``.
    Values JSON cannot encode are rendered with ``str()`` (as ``json.dumps(...,
    default=str)`` would, but NaN and infinities too); this never raises on values.
    """
    return [encode_json(jsonable(log_entry(entry))).decode("utf-8") for entry in entries]


# -- the production side: request context, redaction, stdlib logging, access log --------

request_id_var: ContextVar[str | None] = ContextVar("shipshape_request_id", default=None)
trace_ids_var: ContextVar[tuple[str, str] | None] = ContextVar("shipshape_trace_ids", default=None)

MASK = "**********"


# a camelCase word boundary: apiKey, APIKey, XAPIKey
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = str.maketrans("-. ", "___")


def _squeeze(name: str) -> str:
    """``name`` in snake_case (words split at case changes and at ``-``, ``.`` and
    spaces, joined by ``_``, lowercased): how key names and patterns are compared."""
    return _CAMEL_BOUNDARY.sub("_", name).translate(_SEPARATORS).lower()


class Redactor:
    """Masks values of secret-looking keys and every ``SecretStr``/``SecretBytes``.

    The key test is a substring match on the key's snake_case spelling (words split at
    case changes and at ``-``, ``.`` and spaces), so ``api_key`` also catches
    ``apiKey``, ``X-API-Key``, ``Api-Key`` (and, a pattern of several words, ``apikey``
    too); it is decided once per key name and remembered.
    """

    def __init__(self, key_patterns: Iterable[str]) -> None:
        self.patterns = tuple(
            pattern for pattern in map(_squeeze, key_patterns) if pattern.strip("_")
        )
        # a pattern of several words also matches them written together (apikey)
        self._joined = tuple(p.replace("_", "") for p in self.patterns if "_" in p.strip("_"))
        self._verdicts: dict[str, bool] = {}

    def is_secret_key(self, key: Any) -> bool:
        if not isinstance(key, str):
            return False
        verdict = self._verdicts.get(key)
        if verdict is None:
            squeezed = _squeeze(key)
            joined = squeezed.replace("_", "")
            verdict = any(pattern in squeezed for pattern in self.patterns) or any(
                pattern in joined for pattern in self._joined
            )
            if len(self._verdicts) < 10_000:
                self._verdicts[key] = verdict
        return verdict

    def redact(self, value: Any, depth: int = 0) -> Any:
        """A copy of ``value`` with every secret masked: values under secret-looking keys
        (in mappings, Pydantic models, dataclasses and ``(key, value)`` pairs such as
        header lists), and every ``SecretStr``/``SecretBytes``. Past 32 levels of
        nesting the rest is masked rather than searched.
        """
        if isinstance(value, _SecretTypes):
            return MASK
        if value is None or isinstance(value, str | int | float | bytes):
            return value
        if depth > 32:
            return MASK
        if isinstance(value, BaseModel):
            value = value.model_dump()
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
        if isinstance(value, Mapping):
            return {
                key: MASK if self.is_secret_key(_text(key)) else self.redact(item, depth + 1)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            if (
                isinstance(value, tuple)
                and len(value) == 2
                and isinstance(value[0], str | bytes)
                and self.is_secret_key(_text(value[0]))
            ):
                return (value[0], MASK)
            return [self.redact(item, depth + 1) for item in value]
        return value


def _text(key: Any) -> Any:
    return key.decode("latin-1") if isinstance(key, bytes) else key


# the second last formatted and its date-and-time text, as one tuple (see utc_timestamp)
_second_cache: list[tuple[float, str]] = [(-1.0, "")]
_PLAIN = frozenset({str, int, float, bool, type(None)})
# index 1000 too: just before a whole second, the fraction can round up to 1.0
_MILLIS = (*(f".{millis:03d}Z" for millis in range(1000)), ".999Z")


def utc_timestamp(epoch_seconds: float) -> str:
    """RFC 3339 UTC with millisecond precision: ``2026-11-25T15:28:07.123Z``.

    The date-and-time part is formatted once per second and reused; the second and
    its text are swapped in together, so threads never pair one with the other's.
    """
    second, text = _second_cache[0]
    fraction = epoch_seconds - second
    if not 0.0 <= fraction < 1.0:
        whole = int(epoch_seconds)
        if whole > epoch_seconds:  # int() rounds toward zero; before 1970 that is up
            whole -= 1
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _second_cache[0] = (float(whole), text)
        fraction = epoch_seconds - whole
    return text + _MILLIS[int(fraction * 1000)]


def utc_now() -> str:
    return utc_timestamp(time.time())


_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
_HEAD_KEYS = frozenset({"timestamp", "level", "message", "logger"})
_CONTEXT_KEYS = frozenset({"request_id", "trace_id", "span_id", "exception"})
_UPPERCASE_LEVELS = frozenset({"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET"})
# what a generated renderer reads from the record's __dict__
_READ_KEYS = frozenset({"name", "msg", "args", "levelname", "created", "exc_info", "exc_text"})
_PLANS_KEPT = 1_000
_GET_MESSAGE = logging.LogRecord.getMessage

Render = Callable[[logging.LogRecord, dict[str, Any]], bytes]


def _level_name(level: Any) -> str:
    return (level if isinstance(level, str) else str(level)).upper()


class _Plan:
    """What ``JsonFormatter.render`` copies from a record with a given ``__dict__``
    layout (its keys, in order): decided once per layout, since a call site logs the
    same ``extra=`` keys every time.
    """

    __slots__ = ("keys", "masked")

    def __init__(self, names: Iterable[Any], redactor: Redactor) -> None:
        keys = [key for key in names if key not in _RECORD_ATTRIBUTES and key not in _HEAD_KEYS]
        #: the ``extra=`` keys, in record order
        self.keys = tuple(keys)
        #: those of them under a secret-looking name
        self.masked = frozenset(key for key in keys if redactor.is_secret_key(key))


# The renderer generated for one record layout: ``JsonFormatter._line`` and
# ``JsonFormatter._extras`` unrolled for its extras, so that a line of plain values is
# one dict display and one ``orjson.dumps``. A string key appears in the source as its
# ``repr`` (a literal equal to it, whatever it holds), any other as a constant (``K0``,
# ``K1``…) in the function's namespace.
_RENDERER = """\
def render(record, fields):
    if type(record) is not LogRecord:  # a subclass may read its fields its own way
        return generic(record, fields)
    level = fields["levelname"]
    if type(level) is not str or level not in UPPERCASE:
        level = level_name(level)
    message = fields["msg"]
    if type(message) is str and type(record).getMessage is GET_MESSAGE:
        args = fields["args"]
        if args:
            message = message % args
    else:
        message = record.getMessage()
    created = fields["created"]
    second, text = SECOND[0]  # utc_timestamp's cache: its usual case, inlined
    fraction = created - second
    if 0.0 <= fraction < 1.0:
        timestamp = text + MILLIS[int(fraction * 1000)]
    else:
        timestamp = utc_timestamp(created)
    logger = fields["name"]
    request_id = request_id_now()
    trace_ids = trace_ids_now() or (current_span_ids() if otel_context() else None)
    exception = fields["exc_info"]
    exception = format_exception(exception) if exception else fields["exc_text"] or None
{values}
    plain = {plain}
    if plain and request_id is None and trace_ids is None and exception is None:
        line = {{
            "timestamp": timestamp, "level": level, "message": message, "logger": logger,
            {items}
        }}
    else:
        line = {{"timestamp": timestamp, "level": level, "message": message, "logger": logger}}
        if request_id is not None:
            line["request_id"] = request_id
        if trace_ids is not None:
            line["trace_id"], line["span_id"] = trace_ids
        if exception is not None:
            line["exception"] = exception
        if not plain:
            return extras(line, fields, plan)
{sets}
    try:
        return dumps(line)
    except TypeError:  # an int beyond 64 bits, a lone surrogate
        return encode_json(line)
"""


class JsonFormatter(logging.Formatter):
    """stdlib ``logging`` records as one JSON object per line, in the access log's shape.

    Fields: ``timestamp`` (RFC 3339 UTC), ``level``, ``message``, ``logger``, the
    request's ``request_id`` / ``trace_id`` / ``span_id`` when inside a request (or,
    outside one, those of the current OpenTelemetry span), ``exception`` when there is
    one, then every ``extra=`` key in the order the record got them (secrets masked).

    Records of one ``__dict__`` layout (the same ``extra=`` keys in the same order,
    what one call site logs) are rendered by a function generated for that layout the
    first time it is seen; the generic path (``_line`` then ``_extras``) gives the same
    line, and serves records of other classes and layouts past the first thousand.
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or Redactor(DEFAULT_REDACT_KEYS)

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    @redactor.setter
    def redactor(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._renderers: dict[tuple[Any, ...], Render] = {}
        self._last: tuple[list[Any], Render] = ([], self._renderer(()))

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__
        names = [*fields]  # a list display: the quickest copy of a dict's keys
        last_names, render = self._last
        if names != last_names:
            render = self._find(names)
        return render(record, fields).decode()

    def render(self, record: logging.LogRecord) -> bytes:
        """The line as UTF-8 bytes (``format`` decodes them), without the newline."""
        fields = record.__dict__
        names = [*fields]
        last_names, render = self._last
        if names != last_names:
            render = self._find(names)
        return render(record, fields)

    def _find(self, names: list[Any]) -> Render:
        """The renderer of a layout other than the last one, which it becomes."""
        layout = tuple(names)
        render = self._renderers.get(layout) or self._renderer(layout)
        self._last = (names, render)
        return render

    def _renderer(self, names: tuple[Any, ...]) -> Render:
        plan = _Plan(names, self._redactor)

        def generic(record: logging.LogRecord, fields: dict[str, Any]) -> bytes:
            return self._extras(self._line(record), fields, plan)

        if len(self._renderers) >= _PLANS_KEPT:  # ever-new layouts: never compile
            return generic
        render: Render = generic
        if _READ_KEYS.issubset(names):
            render = self._generate(plan, generic)
        self._renderers[names] = render
        return render

    def _generate(self, plan: _Plan, generic: Render) -> Render:
        """The renderer of ``plan``'s layout (see ``_RENDERER``): extra ``i`` is its key's
        literal (or the constant ``K{i}``) and, unless masked, the local ``v{i}``."""
        values, plain, items, sets = [], ["True"], [], []
        for index, key in enumerate(plan.keys):
            # a string key is written as its literal (a dict display of constant keys
            # is built in one step); any other as the constant K{index}
            name = repr(key) if type(key) is str else f"K{index}"
            value = "MASK" if key in plan.masked else f"v{index}"
            if value != "MASK":
                values.append(f"    v{index} = fields[{name}]\n")
                plain.append(f"type(v{index}) in PLAIN")
            items.append(f"{name}: {value}")
            if key in _CONTEXT_KEYS:  # the line's own request_id & co. win
                sets.append(f"        if {name} not in line:\n    ")
            sets.append(f"        line[{name}] = {value}\n")
        source = _RENDERER.format(
            values="".join(values),
            plain=" and ".join(plain),
            items=", ".join(items),
            sets="".join(sets),
        )
        constants = {f"K{index}": key for index, key in enumerate(plan.keys)}
        namespace: dict[str, Any] = {
            **constants,
            "LogRecord": logging.LogRecord,
            "GET_MESSAGE": _GET_MESSAGE,
            "UPPERCASE": _UPPERCASE_LEVELS,
            "PLAIN": _PLAIN,
            "MASK": MASK,
            "level_name": _level_name,
            "utc_timestamp": utc_timestamp,
            "SECOND": _second_cache,
            "MILLIS": _MILLIS,
            "request_id_now": _request_id,
            "trace_ids_now": _trace_ids,
            "current_span_ids": _current_span_ids,
            "otel_context": _otel_context_getter(),
            "format_exception": self.formatException,
            "dumps": orjson.dumps,
            "encode_json": encode_json,
            "extras": self._extras,
            "generic": generic,
            "plan": plan,
        }
        exec(compile(source, "<shipshape.observe.logs renderer>", "exec"), namespace)
        render: Render = namespace["render"]
        return render

    def _line(self, record: logging.LogRecord) -> dict[str, Any]:
        """The head of a record's line and its request context."""
        level = record.levelname
        if type(level) is not str or level not in _UPPERCASE_LEVELS:
            level = _level_name(level)
        line = {
            "timestamp": utc_timestamp(record.created),
            "level": level,
            "message": record.getMessage(),
            "logger": record.name,
        }
        request_id = _request_id()
        if request_id is not None:
            line["request_id"] = request_id
        trace_ids = _trace_ids() or _current_span_ids()
        if trace_ids is not None:
            line["trace_id"], line["span_id"] = trace_ids
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return line

    def _extras(self, line: dict[str, Any], fields: dict[str, Any], plan: _Plan) -> bytes:
        """Add the record's extras to ``line`` (masked, redacted, or as they are; an
        extra named like a field the line already has is left out), then encode."""
        redact = self._redactor.redact
        for key in plan.keys:
            if key in line:  # only context keys can be: head keys are never extras
                continue
            if key in plan.masked:
                line[key] = MASK
            else:
                value = fields[key]
                line[key] = value if type(value) in _PLAIN else redact(value)
        return encode_json(line)


_request_id = request_id_var.get
_trace_ids = trace_ids_var.get


def span_ids(span: Any) -> tuple[str, str] | None:
    """A span's ``(trace_id, span_id)`` in W3C hex, or ``None`` for an invalid one."""
    span_context = span.get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def _bind_otel() -> Any:
    """Bind ``_otel_current`` and ``_otel_span`` on first use (importing OpenTelemetry
    is slow), and return the current OpenTelemetry context.

    With OpenTelemetry's default runtime context (``ContextVarsRuntimeContext``, chosen
    once, when ``opentelemetry.context`` is imported) the current context is read
    straight from its ``ContextVar``; with any other, through ``context.get_current``.
    """
    global _otel_current, _otel_span
    from opentelemetry import context
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
    from opentelemetry.trace import get_current_span

    runtime = getattr(context, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    _otel_span = get_current_span  # first: _otel_current is what tells it is bound
    if type(runtime) is ContextVarsRuntimeContext and isinstance(variable, ContextVar):
        _otel_current = variable.get
    else:
        _otel_current = context.get_current
    return _otel_current()


_otel_current: Callable[[], Any] = _bind_otel  # the current OpenTelemetry ``Context``
_otel_span: Callable[[Any], Any]  # ``opentelemetry.trace.get_current_span``


def _otel_context_getter() -> Callable[[], Any]:
    """The function that returns the current OpenTelemetry context (bound now)."""
    if _otel_current is _bind_otel:
        _bind_otel()
    return _otel_current


def _current_span_ids() -> tuple[str, str] | None:
    """The ids of OpenTelemetry's current span, or ``None`` outside a valid one."""
    context = _otel_current()
    return span_ids(_otel_span(context)) if context else None  # an empty one has no span


class JsonLineHandler(logging.Handler):
    """Writes each record as one JSON line straight to a file descriptor (stdout)."""

    def __init__(self, fd: int = 1, formatter: JsonFormatter | None = None) -> None:
        super().__init__()
        self.fd = fd
        self.json_formatter = formatter or JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            write_line(self.fd, self.json_formatter.render(record))
        except Exception:
            self.handleError(record)


def write_line(fd: int, line: bytes) -> None:
    """One ``write`` per line, so lines of several workers never interleave."""
    _write_all(fd, line + b"\n")


def write_lines(fd: int, lines: list[bytes], chunk: int = 4096) -> None:
    """Write whole ``lines`` (each ending in a newline) in as few ``write`` calls as
    chunks of at most ``chunk`` bytes allow; a line longer than that is one write."""
    batch: list[bytes] = []
    size = 0
    for line in lines:
        if batch and size + len(line) > chunk:
            _write_all(fd, b"".join(batch))
            batch, size = [], 0
        batch.append(line)
        size += len(line)
    if batch:
        _write_all(fd, b"".join(batch))


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            written = os.write(fd, data)
        except InterruptedError:
            continue
        except BlockingIOError:
            time.sleep(0.001)
            continue
        data = data[written:]


_LOGGED = "_shipshape_logged"


def mark_logged(error: BaseException) -> None:
    """Note that ``error`` was logged with its traceback (by the request layer), so the
    server's own report of it is not logged again (see ``configure_logging``)."""
    with contextlib.suppress(AttributeError):  # a type taking no attributes: logged twice
        setattr(error, _LOGGED, True)


class _NotLoggedYet(logging.Filter):
    """Drops a record whose exception was already logged with its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not getattr(error, _LOGGED, False)


_NOT_LOGGED_YET = _NotLoggedYet()


def configure_logging(level: str = "INFO", redactor: Redactor | None = None) -> None:
    """Route the root logger and uvicorn's loggers through the JSON formatter."""
    handler = JsonLineHandler(1, JsonFormatter(redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # uvicorn reports an exception the app raised after its response started ("Exception
    # in ASGI application"); the request layer has logged it already, with the request
    logging.getLogger("uvicorn.error").addFilter(_NOT_LOGGED_YET)
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
    access.disabled = True
