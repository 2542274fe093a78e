"""``shipshape.observe.logs.JsonFormatter``: the shape and content of a stdlib record's
JSON line, whatever way the record was made.

Every test compares the decoded line as an ordered list of ``(key, value)`` pairs, so
key order is checked along with the values.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel, SecretStr

from shipshape.observe import logs
from shipshape.observe.logs import (
    DEFAULT_REDACT_KEYS,
    MASK,
    JsonFormatter,
    Redactor,
    request_id_var,
    trace_ids_var,
    utc_timestamp,
)
from tests.threads import race

# 2025-11-25T15:28:07.123Z; a binary fraction, so the milliseconds are exact
CREATED = 1_764_084_487.125
STAMP = "2025-11-25T15:28:07.125Z"


def pairs(line: str) -> list[tuple[str, Any]]:
    """The line's fields in order; also checks it is one compact JSON object."""
    assert "\n" not in line
    decoded = json.loads(line)
    assert isinstance(decoded, dict)
    return list(decoded.items())


def make_record(
    msg: str = "order %s created",
    args: tuple[Any, ...] = ("A-1042",),
    extra: dict[str, Any] | None = None,
    level: int = logging.INFO,
    exc_info: Any = None,
) -> logging.LogRecord:
    """A record as ``Logger.info(msg, *args, extra=extra)`` makes it."""
    record = logging.getLogger("orders.api").makeRecord(
        "orders.api", level, __file__, 42, msg, args, exc_info, extra=extra
    )
    record.created = CREATED
    return record


def head(message: str = "order A-1042 created", level: str = "INFO") -> list[tuple[str, Any]]:
    return [("timestamp", STAMP), ("level", level), ("message", message), ("logger", "orders.api")]


@pytest.fixture
def request_id() -> Iterator[str]:
    token = request_id_var.set("4bf92f3577b34da6a3ce929d0e0e4736")
    try:
        yield "4bf92f3577b34da6a3ce929d0e0e4736"
    finally:
        request_id_var.reset(token)


def test_extras_follow_the_head_in_the_order_the_record_got_them() -> None:
    extra = {"order_id": 1042, "customer": "alice@example.com", "items": 3, "paid": True}
    formatter = JsonFormatter()
    assert pairs(formatter.format(make_record(extra=extra))) == head() + list(extra.items())
    # the same keys in another order, from another call site: their own order
    reordered = dict(reversed(list(extra.items())))
    assert pairs(formatter.format(make_record(extra=reordered))) == head() + list(reordered.items())
    assert pairs(formatter.format(make_record(extra=extra))) == head() + list(extra.items())


def test_format_is_render_decoded() -> None:
    formatter = JsonFormatter()
    record = make_record(extra={"city": "Zürich", "note": "line\u2028break"})
    assert formatter.format(record) == formatter.render(record).decode("utf-8")
    assert pairs(formatter.format(record))[-2:] == [("city", "Zürich"), ("note", "line\u2028break")]


def test_plain_values_of_every_kind_pass_through() -> None:
    extra = {"n": -5, "big": 2**70, "f": 1.5, "yes": True, "no": False, "none": None, "s": "x"}
    line = JsonFormatter().format(make_record(extra=extra))
    assert pairs(line) == head() + list(extra.items())


def test_secret_keys_and_secret_values_are_masked_where_they_stand() -> None:
    @dataclasses.dataclass
    class Client:
        name: str
        api_key: str

    class Login(BaseModel):
        user: str
        password: str

    extra = {
        "order_id": 7,
        "password": "hunter2",
        "user_token": {"nested": "dict"},  # masked whole: its key looks secret
        "card": SecretStr("4111 1111 1111 1111"),
        "payload": {"user": "ada", "Authorization": "Bearer abc", "items": [1, 2]},
        "headers": [("cookie", "sid=1"), ("accept", "*/*")],
        "client": Client("c", "sk-live-123"),
        "login": Login(user="ada", password="pw"),
        "paid": True,
    }
    line = JsonFormatter().format(make_record(extra=extra))
    assert pairs(line) == [
        *head(),
        ("order_id", 7),
        ("password", MASK),
        ("user_token", MASK),
        ("card", MASK),
        ("payload", {"user": "ada", "Authorization": MASK, "items": [1, 2]}),
        ("headers", [["cookie", MASK], ["accept", "*/*"]]),
        ("client", {"name": "c", "api_key": MASK}),
        ("login", {"user": "ada", "password": MASK}),
        ("paid", True),
    ]
    for secret in ("hunter2", "4111", "Bearer abc", "sid=1", "sk-live-123", '"pw"'):
        assert secret not in line


def test_a_secret_key_is_masked_whatever_its_value() -> None:
    extra = {"api_key": SecretStr("k"), "secret": ["a", "b"], "token": None, "cookie": 5}
    line = JsonFormatter().format(make_record(extra=extra))
    assert pairs(line) == head() + [(key, MASK) for key in extra]


def test_secret_names_match_whatever_their_case_and_separators() -> None:
    # `api_key` is written apiKey in JSON payloads and X-API-Key in headers
    class Settings(BaseModel):
        apiKey: str  # a camelCase payload's field
        access_token: str

    extra = {
        "X-Api-Key": "ak-header",
        "apikey": "ak-lower",
        "settings": Settings(apiKey="ak-model", access_token="at"),
        "payload": {"Api-Key": "ak-dict", "SessionCookie": "c", "client.secret": "s"},
        "headers": [("x-api-key", "ak-pair")],
        "apiKeyring": "masked too: a substring match",
        "tokenizer_model": "masked too",
        "order_id": 7,
    }
    line = JsonFormatter().format(make_record(extra=extra))
    assert pairs(line) == [
        *head(),
        ("X-Api-Key", MASK),
        ("apikey", MASK),
        ("settings", {"apiKey": MASK, "access_token": MASK}),
        ("payload", {"Api-Key": MASK, "SessionCookie": MASK, "client.secret": MASK}),
        ("headers", [["x-api-key", MASK]]),
        ("apiKeyring", MASK),
        ("tokenizer_model", MASK),
        ("order_id", 7),
    ]
    custom = Redactor(["Card-Number", "", "-"])  # blank patterns match nothing
    assert custom.is_secret_key("card_number")
    assert custom.is_secret_key("cardNumber")
    assert custom.is_secret_key("CARDNUMBER")  # a pattern's words written together
    assert not custom.is_secret_key("order_id")


@pytest.mark.parametrize(
    "key", ["sec_retry", "max_sec_retries", "auto_kennel", "photo_ken_burns", "coo_kie"]
)
def test_words_are_not_joined_across_separators_to_make_a_secret_name(key: str) -> None:
    # "sec" + "retry" spells "secret" only once the separator is dropped
    assert not Redactor(DEFAULT_REDACT_KEYS).is_secret_key(key)


def test_swapping_the_redactor_applies_to_the_next_line() -> None:
    formatter = JsonFormatter()
    record = make_record(extra={"order_id": 7, "password": "p"})
    assert pairs(formatter.format(record))[-2:] == [("order_id", 7), ("password", "**********")]
    formatter.redactor = Redactor(["order"])
    assert pairs(formatter.format(record))[-2:] == [("order_id", MASK), ("password", "p")]


def test_values_json_cannot_hold_become_json_or_text() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque!"

    extra = {"set": {1, 2}, "obj": Opaque(), "nan": float("nan"), "b": b"x"}
    line = JsonFormatter().format(make_record(extra=extra))
    assert pairs(line) == [
        *head(),
        ("set", [1, 2]),  # the redactor walks sets as lists
        ("obj", "opaque!"),
        ("nan", None),
        ("b", "b'x'"),
    ]
    # beyond orjson's 64 bits: the stdlib encoder writes it
    line = JsonFormatter().format(make_record(extra={"huge": 2**70, "n": 1}))
    assert pairs(line) == [*head(), ("huge", 2**70), ("n", 1)]


def test_exception_text_comes_after_the_context_and_before_the_extras() -> None:
    formatter = JsonFormatter()
    try:
        raise KeyError("boom")
    except KeyError:
        record = make_record(extra={"order_id": 7}, level=logging.ERROR, exc_info=sys.exc_info())
    assert record.exc_info is not None
    fields = pairs(formatter.format(record))
    assert fields == [
        *head(level="ERROR"),
        ("exception", formatter.formatException(record.exc_info)),
        ("order_id", 7),
    ]
    assert fields[4][1].startswith("Traceback (most recent call last):")
    assert fields[4][1].endswith("KeyError: 'boom'")


def test_a_cached_exception_text_is_used_without_exc_info() -> None:
    record = make_record(extra={"order_id": 7})
    record.exc_text = "Traceback: earlier"
    assert pairs(JsonFormatter().format(record)) == [
        *head(),
        ("exception", "Traceback: earlier"),
        ("order_id", 7),
    ]


def test_request_id_comes_from_the_context_and_wins_over_an_extra(request_id: str) -> None:
    extra = {"request_id": "from-extra", "exception": "from-extra", "order_id": 7}
    line = JsonFormatter().format(make_record(extra=extra))
    assert pairs(line) == [
        *head(),
        ("request_id", request_id),
        ("exception", "from-extra"),  # no exception on the record: the extra stays
        ("order_id", 7),
    ]


def test_extras_named_like_context_fields_stay_when_the_context_is_empty() -> None:
    extra = {"request_id": "r-1", "trace_id": "t", "span_id": "s", "order_id": 7}
    line = JsonFormatter().format(make_record(extra=extra))
    assert pairs(line) == head() + list(extra.items())


def test_extras_named_like_head_fields_are_dropped() -> None:
    record = make_record(extra={"timestamp": "x", "level": "y", "logger": "z", "order_id": 7})
    assert pairs(JsonFormatter().format(record)) == [*head(), ("order_id", 7)]


def test_a_redactor_matching_context_names_masks_only_the_extras(request_id: str) -> None:
    formatter = JsonFormatter(Redactor(["_id"]))
    record = make_record(extra={"request_id": "from-extra", "order_id": 7})
    assert pairs(formatter.format(record)) == [
        *head(),
        ("request_id", request_id),
        ("order_id", MASK),
    ]
    with_extra_only = pairs(formatter.format(make_record(extra={"request_id": "x"})))
    assert with_extra_only == [*head(), ("request_id", request_id)]


def test_trace_ids_come_from_the_current_opentelemetry_span() -> None:
    tracer = TracerProvider().get_tracer("test_json_formatter")
    formatter = JsonFormatter()
    assert [key for key, _ in pairs(formatter.format(make_record()))] == [k for k, _ in head()]
    with tracer.start_as_current_span("checkout") as span:
        context = span.get_span_context()
        line = formatter.format(make_record(extra={"order_id": 7}))
        with tracer.start_as_current_span("charge") as child:
            inner = formatter.format(make_record())
    assert pairs(line) == [
        *head(),
        ("trace_id", format(context.trace_id, "032x")),
        ("span_id", format(context.span_id, "016x")),
        ("order_id", 7),
    ]
    assert pairs(inner)[4:] == [
        ("trace_id", format(context.trace_id, "032x")),
        ("span_id", format(child.get_span_context().span_id, "016x")),
    ]
    assert "trace_id" not in formatter.format(make_record())


def test_the_request_context_wins_over_the_opentelemetry_span(request_id: str) -> None:
    tracer = TracerProvider().get_tracer("test_json_formatter")
    token = trace_ids_var.set(("a" * 32, "b" * 16))
    try:
        with tracer.start_as_current_span("checkout"):
            line = JsonFormatter().format(make_record())
    finally:
        trace_ids_var.reset(token)
    assert pairs(line) == [
        *head(),
        ("request_id", request_id),
        ("trace_id", "a" * 32),
        ("span_id", "b" * 16),
    ]


def test_a_record_another_formatter_saw_first_looks_the_same() -> None:
    extra = {"order_id": 7, "customer": "alice"}
    fresh = JsonFormatter().format(make_record(extra=extra))
    record = make_record(extra=extra)
    # sets record.message and record.asctime, after the extras
    logging.Formatter("%(asctime)s %(levelname)s %(message)s").format(record)
    assert list(record.__dict__)[-2:] == ["message", "asctime"]
    assert JsonFormatter().format(record) == fresh
    assert pairs(fresh) == head() + list(extra.items())


def test_level_names_are_uppercased_custom_ones_included() -> None:
    formatter = JsonFormatter()
    assert pairs(formatter.format(make_record(level=logging.WARNING)))[1] == ("level", "WARNING")
    assert pairs(formatter.format(make_record(level=7)))[1] == ("level", "LEVEL 7")
    for name, shown in [("notice", "NOTICE"), ("Audit", "AUDIT"), ("TRACE", "TRACE")]:
        record = make_record()
        record.levelname = name  # what logging.addLevelName(level, name) leads to
        assert pairs(formatter.format(record))[1] == ("level", shown)
    for odd, shown in [(5, "5"), (["x"], "['X']")]:  # names of other types: their text
        record = make_record()
        record.levelname = odd  # type: ignore[assignment]
        assert pairs(formatter.format(record))[1] == ("level", shown)


def test_a_record_from_make_log_record() -> None:
    # attributes and extras arrive in one dict, in its order, over a default record
    record = logging.makeLogRecord(
        {
            "customer": "alice",
            "name": "orders.api",
            "msg": "order %s created",
            "args": ("A-1042",),
            "levelno": logging.INFO,
            "levelname": "INFO",
            "created": CREATED,
            "order_id": 1042,
            "password": "hunter2",
        }
    )
    assert pairs(JsonFormatter().format(record)) == [
        *head(),
        ("customer", "alice"),
        ("order_id", 1042),
        ("password", MASK),
    ]


def test_a_record_of_another_class_with_attributes_before_the_standard_ones() -> None:
    class TaggedRecord(logging.LogRecord):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.tenant = "acme"  # before LogRecord's own attributes
            super().__init__(*args, **kwargs)

        def getMessage(self) -> str:
            return "tagged: " + super().getMessage()

    previous = logging.getLogRecordFactory()
    logging.setLogRecordFactory(TaggedRecord)
    try:
        record = make_record(extra={"order_id": 7})
    finally:
        logging.setLogRecordFactory(previous)
    assert type(record) is TaggedRecord
    assert pairs(JsonFormatter().format(record)) == [
        *head(message="tagged: order A-1042 created"),
        ("tenant", "acme"),
        ("order_id", 7),
    ]


def test_attributes_deleted_and_set_again_move_to_the_end() -> None:
    record = make_record(extra={"order_id": 7})
    thread = record.thread
    del record.thread
    record.tenant = "acme"
    record.thread = thread
    assert pairs(JsonFormatter().format(record)) == [*head(), ("order_id", 7), ("tenant", "acme")]


def test_many_record_layouts_stay_correct() -> None:
    formatter = JsonFormatter()
    for index in range(1_500):  # more layouts than the formatter remembers
        extra = {f"field_{index}": index, "secret_note": "s", "n": index}
        line = formatter.format(make_record(extra=extra))
        assert pairs(line) == [
            *head(),
            (f"field_{index}", index),
            ("secret_note", MASK),
            ("n", index),
        ]


def test_layouts_past_the_ones_remembered_are_not_compiled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a renderer is generated (compiled) for each layout remembered, and only for those:
    # a logger that makes ever-new extra keys must not compile code for every line
    compiled: list[str] = []

    def counting_compile(source: str, *args: Any) -> Any:
        compiled.append(source)
        return compile(source, *args)

    monkeypatch.setattr(logs, "compile", counting_compile, raising=False)
    formatter = JsonFormatter()
    for index in range(1_500):
        line = formatter.format(make_record(extra={f"field_{index}": index}))
        assert pairs(line) == [*head(), (f"field_{index}", index)]
    assert 0 < len(compiled) <= 1_000


def test_timestamps_are_rfc3339_utc_milliseconds() -> None:
    formatter = JsonFormatter()
    for created, stamp in [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (CREATED, STAMP),
        (1_764_084_487.999_5, "2025-11-25T15:28:07.999Z"),
        (1_764_084_488.0, "2025-11-25T15:28:08.000Z"),
    ]:
        record = make_record()
        record.created = created
        assert pairs(formatter.format(record))[0] == ("timestamp", stamp)


def test_threads_never_pair_one_second_with_another_seconds_text() -> None:
    formatter = JsonFormatter()
    seconds = [1_764_084_487 + offset for offset in range(8)]
    failures: list[str] = []

    def work(offset: int) -> None:
        record = make_record()
        for round_ in range(2_000):
            second = seconds[(offset + round_) % len(seconds)]
            record.created = second + 0.25
            stamp = pairs(formatter.format(record))[0][1]
            expected = time.strftime("%Y-%m-%dT%H:%M:%S.250Z", time.gmtime(second))
            if stamp != expected:
                failures.append(f"{stamp} != {expected}")

    race(work)
    assert failures == []


@pytest.mark.parametrize(
    ("epoch", "text"),
    [
        (-0.5, "1969-12-31T23:59:59.500Z"),
        (-1.0, "1969-12-31T23:59:59.000Z"),
        (-86400.25, "1969-12-30T23:59:59.750Z"),
        (-1e-17, "1969-12-31T23:59:59.999Z"),  # the fraction rounds up to a whole 1.0
        (0.0, "1970-01-01T00:00:00.000Z"),
        (CREATED, STAMP),
    ],
)
def test_timestamps_before_and_after_1970_keep_their_second_and_milliseconds(
    epoch: float, text: str
) -> None:
    assert utc_timestamp(epoch) == text
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "m", None, None)
    record.created = epoch
    assert json.loads(JsonFormatter().format(record))["timestamp"] == text


class _SubRecord(logging.LogRecord):
    """A record of another class: the formatter takes its generic path for it."""


_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)
_KEYS = st.one_of(
    st.sampled_from(
        [
            "order_id",
            "request_id",
            "trace_id",
            "span_id",
            "exception",
            "timestamp",
            "level",
            "logger",
            "message",
            "asctime",
            "password",
            "api_key",
            "user_token",
        ]
    ),
    # quotes, backslashes, newlines, braces, lone surrogates (never the digits below)
    st.text(max_size=6).filter(lambda key: key not in {"0", "1", "2"}),
    st.integers(0, 2),  # a key set through __dict__ need not be a string
).filter(lambda key: key not in _STANDARD or key in {"message", "asctime"})
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["user", "password", "token"]), st.text(max_size=3)),
    st.builds(SecretStr, st.text(max_size=3)),
)


@settings(max_examples=300, deadline=None)
@given(
    extras=st.lists(st.tuples(_KEYS, _VALUES), max_size=6),
    request_id=st.none() | st.just("4bf92f3577b34da6a3ce929d0e0e4736"),
    trace_ids=st.none() | st.just(("a" * 32, "b" * 16)),
    exc_text=st.none() | st.sampled_from(["", "Traceback: earlier"]),
    levelname=st.sampled_from(["INFO", "notice", 5]),
    message=st.sampled_from([("order %s created", ("A-1042",)), ("plain", ()), (7, ())]),
)
def test_the_renderer_made_for_a_layout_writes_what_the_generic_path_writes(
    extras: list[tuple[str, Any]],
    request_id: str | None,
    trace_ids: tuple[str, str] | None,
    exc_text: str | None,
    levelname: Any,
    message: tuple[Any, tuple[Any, ...]],
) -> None:
    # a plain LogRecord goes through the function generated for its layout, a subclass
    # through the generic code; one formatter for all examples, so layouts repeat
    formatter = _SHARED_FORMATTER
    records = []
    for kind in (logging.LogRecord, _SubRecord):
        record = kind("orders.api", logging.INFO, __file__, 42, message[0], message[1], None)
        record.created = CREATED
        record.levelname = levelname
        record.exc_text = exc_text
        for key, value in extras:
            record.__dict__[key] = value
        records.append(record)
    id_token = request_id_var.set(request_id)
    trace_token = trace_ids_var.set(trace_ids)
    try:
        generated, generic = (formatter.render(record) for record in records)
        again = formatter.format(records[0])
    finally:
        trace_ids_var.reset(trace_token)
        request_id_var.reset(id_token)
    assert generated == generic
    assert again == generated.decode("utf-8")
    line = json.loads(generated)
    assert list(line)[:4] == ["timestamp", "level", "message", "logger"]
    for key, value in dict(extras).items():
        if key in _KEPT_BY_THE_LINE:
            continue
        if isinstance(value, SecretStr) or key in {"password", "api_key", "user_token"}:
            assert line[str(key)] == MASK


_SHARED_FORMATTER = JsonFormatter()
_KEPT_BY_THE_LINE = {"request_id", "trace_id", "span_id", "exception", "message", "asctime"}
_KEPT_BY_THE_LINE |= {"timestamp", "level", "logger"}
