"""Reading trace exports: OTLP JSON and Jaeger JSON, into ``critical_path.Trace``.

OTLP JSON is the OpenTelemetry collector's file exporter / OTLP/HTTP JSON shape
(``{"resourceSpans": [...]}``, one object per line allowed; hex or base64 ids;
nanoseconds as strings or ints; kinds as ints or enum names). Jaeger JSON is the
query API / UI download shape (``{"data": [{"traceID", "spans", "processes"}]}``).
OTLP spans are converted as Jaeger converts them: microseconds with the start
floored and the duration floored, the parent as a CHILD_OF reference and links in
the same trace as FOLLOWS_FROM references (CHILD_OF when the link says so).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from shipshape.observe.critical_path import RefType, SpanRef, Trace, TraceSpan

__all__ = [
    "TraceFormat",
    "TraceFormatError",
    "detect_format",
    "parse_jaeger",
    "parse_otlp",
    "read_traces",
]

TraceFormat = Literal["otlp", "jaeger", "spans"]

NO_SERVICE_NAME = "OTLPResourceNoServiceName"
_OTLP_KINDS = ("", "internal", "server", "client", "producer", "consumer")
_HEX = re.compile(r"[0-9a-fA-F]+")
#: the span fields that keep a ``null`` (to be named as bad) rather than read it as unset
_NEEDED_FIELDS = frozenset(
    (
        *("traceId", "trace_id", "spanId", "span_id"),
        *("startTimeUnixNano", "start_time_unix_nano", "endTimeUnixNano", "end_time_unix_nano"),
    )
)


class TraceFormatError(ValueError):
    """A trace export that cannot be read; ``record`` is the JSON-lines record index."""

    def __init__(self, message: str, record: int | None = None) -> None:
        self.record = record
        super().__init__(message)


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    return value


def _id_of(size: int, *, optional: bool = False) -> Callable[[Any], str]:
    """Normalise an OTLP id to lowercase hex: hex as the spec says, or protobuf's base64."""

    def normalise(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"must be a string of {size * 2} hex digits")
        if optional and (value == "" or value.strip("0") == ""):
            return ""
        if len(value) == size * 2 and _HEX.fullmatch(value):
            return value.lower()
        if len(value) == (size + 2) // 3 * 4:
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) == size:
                return "" if optional and not any(raw) else raw.hex()
        raise ValueError(f"must be {size * 2} hex digits, got {value!r}")

    return normalise


_UINT64_MAX = 2**64 - 1


def _uint64(value: int) -> int:
    """OTLP times are protobuf ``fixed64`` and Jaeger's are Go ``uint64``: larger is no time."""
    if value > _UINT64_MAX:
        raise ValueError(f"must fit in 64 bits (at most {_UINT64_MAX}), got {value}")
    return value


_Count = Annotated[int, BeforeValidator(_not_bool), Field(ge=0), AfterValidator(_uint64)]
_TraceId = Annotated[str, BeforeValidator(_id_of(16))]
_SpanId = Annotated[str, BeforeValidator(_id_of(8))]
_ParentId = Annotated[str, BeforeValidator(_id_of(8, optional=True))]


class _Otlp(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, frozen=True
    )

    @model_validator(mode="before")
    @classmethod
    def _null_is_unset(cls, data: Any) -> Any:
        """Protobuf's JSON mapping: ``null`` is accepted for any field and means unset.

        The fields a span cannot do without keep their ``null``, to be named as bad.
        """
        if isinstance(data, Mapping) and None in data.values():
            return {
                key: value
                for key, value in data.items()
                if value is not None or key in _NEEDED_FIELDS
            }
        return data


class _OtlpKeyValue(_Otlp):
    key: str = ""
    value: dict[str, Any] = Field(default_factory=dict)


class _OtlpLink(_Otlp):
    trace_id: _TraceId
    span_id: _SpanId
    attributes: tuple[_OtlpKeyValue, ...] = ()


class _OtlpSpan(_Otlp):
    trace_id: _TraceId
    span_id: _SpanId
    parent_span_id: _ParentId = ""
    name: str = ""
    kind: int | str = 0
    start_time_unix_nano: _Count
    end_time_unix_nano: _Count
    links: tuple[_OtlpLink, ...] = ()


class _OtlpScopeSpans(_Otlp):
    spans: tuple[_OtlpSpan, ...] = ()


class _OtlpResource(_Otlp):
    attributes: tuple[_OtlpKeyValue, ...] = ()


class _OtlpResourceSpans(_Otlp):
    resource: _OtlpResource = _OtlpResource()
    scope_spans: tuple[_OtlpScopeSpans, ...] = ()
    instrumentation_library_spans: tuple[_OtlpScopeSpans, ...] = ()


class _OtlpTracesData(_Otlp):
    #: ``batches`` in Grafana Tempo's ``/api/traces/{id}`` answer and Grafana's download
    resource_spans: list[_OtlpResourceSpans] = Field(
        default_factory=list,
        validation_alias=AliasChoices("resourceSpans", "resource_spans", "batches"),
    )


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _null_is_empty(value: Any) -> Any:
    """Go writes an empty (nil) slice as ``null``: Jaeger's ``"spans": null`` is no spans."""
    return [] if value is None else value


class _Jaeger(BaseModel):
    model_config = ConfigDict(frozen=True)


class _JaegerRef(_Jaeger):
    ref_type: Annotated[RefType, BeforeValidator(_upper)] = Field(alias="refType")
    trace_id: str | None = Field(None, alias="traceID")
    span_id: str = Field(alias="spanID", min_length=1)


class _JaegerTag(_Jaeger):
    key: str
    value: Any = None


class _JaegerProcess(_Jaeger):
    service_name: str = Field(alias="serviceName")


class _JaegerSpan(_Jaeger):
    trace_id: str | None = Field(None, alias="traceID")
    span_id: str = Field(alias="spanID", min_length=1)
    operation_name: str = Field("", alias="operationName")
    references: list[_JaegerRef] | None = None
    #: the parent in Jaeger's older JSON, before ``references``
    parent_span_id: str | None = Field(None, alias="parentSpanID")
    start_time: _Count = Field(alias="startTime")
    duration: Annotated[int, BeforeValidator(_not_bool), AfterValidator(_uint64)]
    process_id: str | None = Field(None, alias="processID")
    process: _JaegerProcess | None = None
    tags: list[_JaegerTag] | None = None


class _JaegerTrace(_Jaeger):
    trace_id: str | None = Field(None, alias="traceID")
    spans: Annotated[list[_JaegerSpan], BeforeValidator(_null_is_empty)]
    processes: dict[str, _JaegerProcess] | None = None


class _JaegerResponse(_Jaeger):
    data: Annotated[list[_JaegerTrace], BeforeValidator(_null_is_empty)]


_JAEGER_TRACES = TypeAdapter(list[_JaegerTrace])
#: the keys of a Jaeger query API answer (``{"data": null}`` is one with no traces)
_JAEGER_RESPONSE_KEYS = frozenset(("data", "total", "limit", "offset", "errors"))


def detect_format(document: Any) -> TraceFormat | None:
    """Which export ``document`` (parsed JSON) is, or ``None`` when it is none of them."""
    if _is_otlp(document):
        return "otlp"
    if isinstance(document, Mapping):
        if _is_jaeger_response(document):
            return "jaeger"
        spans = document.get("spans")
        if (
            spans is None
            and "spans" in document
            and ("traceID" in document or "processes" in document)
        ):
            return "jaeger"
        if isinstance(spans, list):
            first = spans[0] if spans else None
            if "traceID" in document or "processes" in document:
                return "jaeger"
            if isinstance(first, Mapping) and "spanID" in first:
                return "jaeger"
            return None if _is_foreign_span(first) else "spans"
        return None
    if isinstance(document, list):
        first = document[0] if document else None
        if _is_otlp(first):
            return "otlp"
        if isinstance(first, Mapping):
            if "spans" in first and ("traceID" in first or "processes" in first):
                return "jaeger"
            if _is_jaeger_response(first) or "spanID" in first:
                # Jaeger API answers one per line, or a trace's bare list of spans
                return "jaeger"
            if _is_foreign_span(first):
                return None
        return "spans"
    return None


def _is_jaeger_response(document: Mapping[str, Any]) -> bool:
    """A Jaeger query API answer: ``{"data": [...]}``, or ``{"data": null}`` with no
    traces (Go's nil slice) and no keys but the answer's own."""
    if "data" not in document:
        return False
    data = document["data"]
    return isinstance(data, list) or (data is None and set(document) <= _JAEGER_RESPONSE_KEYS)


def _is_foreign_span(span: Any) -> bool:
    """An OTLP span out of its ``resourceSpans`` (no service names) or a Zipkin span:
    not the seed list's ``{service, duration_ms, parent_id}``."""
    return isinstance(span, Mapping) and ("spanId" in span or "traceId" in span)


def _is_otlp(document: Any) -> bool:
    """``TracesData`` itself, or wrapped as Jaeger's API v3 and Tempo's v2 API answer."""
    document = _unwrap_otlp(document)
    if not isinstance(document, Mapping):
        return False
    return (
        "resourceSpans" in document
        or "resource_spans" in document
        or isinstance(document.get("batches"), list)
    )


def _unwrap_otlp(record: Any) -> Any:
    """The ``TracesData`` of a record: itself, Jaeger API v3's ``{"result": ...}`` or
    Tempo API v2's ``{"trace": ...}``."""
    if isinstance(record, Mapping):
        for wrapper in ("result", "trace"):
            inner = record.get(wrapper)
            if isinstance(inner, Mapping):
                return inner
    return record


def _message(error: ValidationError) -> str:
    first = error.errors()[0]
    where = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
    ).lstrip(".")
    message = re.sub(r" or instance of _\w+", "", first["msg"].removeprefix("Value error, "))
    more = error.error_count() - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {message}{suffix}" if where else f"{message}{suffix}"


class _TraceBuilder:
    """Spans grouped by trace id, in first-seen order."""

    def __init__(self) -> None:
        self.spans: dict[str, list[TraceSpan]] = {}
        self.warnings: dict[str, list[str]] = {}

    def add(self, trace_id: str, span: TraceSpan, warning: str | None = None) -> None:
        self.spans.setdefault(trace_id, []).append(span)
        if warning is not None:
            self.warnings.setdefault(trace_id, []).append(warning)

    def traces(self) -> list[Trace]:
        return [
            Trace(trace_id, tuple(spans), tuple(self.warnings.get(trace_id, ())))
            for trace_id, spans in self.spans.items()
        ]


def parse_otlp(document: Any) -> list[Trace]:
    """Traces from OTLP JSON: one ``TracesData`` object, or a list of them (JSON lines)."""
    records = document if isinstance(document, list) else [document]
    builder = _TraceBuilder()
    for record_index, record in enumerate(records):
        where = record_index if isinstance(document, list) else None
        try:
            data = _OtlpTracesData.model_validate(_unwrap_otlp(record))
        except ValidationError as error:
            raise TraceFormatError(_message(error), where) from None
        for resource_spans in data.resource_spans:
            service = _service_name(resource_spans.resource)
            for scope in (
                *resource_spans.scope_spans,
                *resource_spans.instrumentation_library_spans,
            ):
                for span in scope.spans:
                    _add_otlp_span(builder, span, service)
    return builder.traces()


def _service_name(resource: _OtlpResource) -> str:
    for attribute in resource.attributes:
        if attribute.key == "service.name":
            value = attribute.value.get("stringValue", attribute.value.get("string_value"))
            if isinstance(value, str):
                return value
    return NO_SERVICE_NAME


def _otlp_kind(kind: int | str) -> str:
    if isinstance(kind, int):
        return _OTLP_KINDS[kind] if 0 <= kind < len(_OTLP_KINDS) else ""
    name = kind.upper().removeprefix("SPAN_KIND_").lower()
    return name if name in _OTLP_KINDS else ""


def _add_otlp_span(builder: _TraceBuilder, span: _OtlpSpan, service: str) -> None:
    references: list[SpanRef] = []
    if span.parent_span_id:
        references.append(SpanRef(span.parent_span_id, "CHILD_OF"))
    for link in span.links:
        if link.trace_id != span.trace_id:
            continue
        ref_type: RefType = "FOLLOWS_FROM"
        for attribute in link.attributes:
            if (
                attribute.key == "opentracing.ref_type"
                and attribute.value.get("stringValue") == "child_of"
            ):
                ref_type = "CHILD_OF"
        if span.parent_span_id and link.span_id == span.parent_span_id:
            references[0] = SpanRef(span.parent_span_id, ref_type)
        else:
            references.append(SpanRef(link.span_id, ref_type))
    start_ns, end_ns = span.start_time_unix_nano, span.end_time_unix_nano
    warning = None
    if end_ns < start_ns:
        warning = (
            f"span {span.span_id} ({service}: {span.name}): ends before it starts; "
            "read as zero duration"
        )
    builder.add(
        span.trace_id,
        TraceSpan(
            span_id=span.span_id,
            service=service,
            operation=span.name,
            start_us=start_ns // 1000,
            duration_us=max(0, end_ns - start_ns) // 1000,
            kind=_otlp_kind(span.kind),
            references=tuple(references),
        ),
        warning,
    )


def parse_jaeger(document: Any) -> list[Trace]:
    """Traces from Jaeger JSON: ``{"data": [trace, ...]}`` (or a list of those: JSON
    lines), one trace, a list of traces, or one trace's bare list of spans."""
    first = document[0] if isinstance(document, list) and document else None
    if isinstance(first, Mapping) and "spanID" in first:
        document = {"spans": document}  # a trace's bare list of spans
    traces: list[_JaegerTrace] = []
    try:
        if isinstance(document, Mapping) and "data" in document:
            traces = _JaegerResponse.model_validate(document).data
        elif isinstance(first, Mapping) and "data" in first:
            for record, response in enumerate(document):  # API answers, one per line
                try:
                    traces.extend(_JaegerResponse.model_validate(response).data)
                except ValidationError as error:
                    raise TraceFormatError(_message(error), record) from None
        elif isinstance(document, list):
            traces = _JAEGER_TRACES.validate_python(document)
        else:
            traces = [_JaegerTrace.model_validate(document)]
    except ValidationError as error:
        raise TraceFormatError(_message(error)) from None
    builder = _TraceBuilder()
    for trace in traces:
        processes = trace.processes or {}
        for span in trace.spans:
            trace_id = span.trace_id or trace.trace_id or ""
            if span.process is not None:
                service = span.process.service_name
            else:
                process = processes.get(span.process_id or "")
                service = process.service_name if process is not None else "unknown-service"
            builder.add(trace_id, *_jaeger_span(span, trace_id, service))
    return builder.traces()


def _jaeger_span(span: _JaegerSpan, trace_id: str, service: str) -> tuple[TraceSpan, str | None]:
    kind = ""
    for tag in span.tags or ():
        if tag.key == "span.kind":
            kind = str(tag.value).lower()
            break
    references = tuple(
        SpanRef(ref.span_id, ref.ref_type)
        for ref in span.references or ()
        if ref.trace_id is None or ref.trace_id == trace_id
    )
    parent = span.parent_span_id
    if parent and parent.strip("0") and not any(ref.span_id == parent for ref in references):
        # as Jaeger's own converter reads it: the parent is a CHILD_OF reference, first
        references = (SpanRef(parent, "CHILD_OF"), *references)
    warning = None
    if span.duration < 0:
        warning = (
            f"span {span.span_id} ({service}: {span.operation_name}): negative duration; "
            "read as zero"
        )
    parsed = TraceSpan(
        span_id=span.span_id,
        service=service,
        operation=span.operation_name,
        start_us=span.start_time,
        duration_us=max(0, span.duration),
        kind=kind,
        references=references,
    )
    return parsed, warning


def read_traces(document: Any, fmt: TraceFormat) -> list[Trace]:
    """The traces of an OTLP or Jaeger document."""
    if fmt == "otlp":
        return parse_otlp(document)
    if fmt == "jaeger":
        return parse_jaeger(document)
    raise TraceFormatError(f"{fmt!r} is not a trace export format")
