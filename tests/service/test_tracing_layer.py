"""Tracing in the layer: parent-based sampling decided once, spans recorded once."""

from __future__ import annotations

import os
from typing import Any

import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.testclient import TestClient

from shipshape.observe.telemetry import DecidedTracerProvider, parse_traceparent
from shipshape.service import ServiceSettings, production
from tests.service.conftest import access_lines

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SAMPLED = f"00-{TRACE_ID}-b7ad6b7169203331-01"
UNSAMPLED = f"00-{TRACE_ID}-b7ad6b7169203331-00"


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    return app


def traced(app: Any, ratio: float) -> TestClient:
    settings = ServiceSettings(drain_seconds=0, tracing={"sample_ratio": ratio})
    return TestClient(production(app, settings))


def server_spans(spans: InMemorySpanExporter) -> list[Any]:
    return [span for span in spans.get_finished_spans() if span.kind == SpanKind.SERVER]


def test_full_sampling_records_one_server_span_and_logs_its_ids(
    spans: InMemorySpanExporter, capfd: pytest.CaptureFixture[str]
) -> None:
    with traced(make_app(), 1.0) as client:
        client.get("/things/1")
    [span] = server_spans(spans)
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/things/{thing_id}"
    [line] = access_lines(capfd.readouterr().out)
    assert line["trace_id"] == format(span.context.trace_id, "032x")
    assert line["span_id"] == format(span.context.span_id, "016x")


def test_incoming_sampled_traceparent_is_continued(
    spans: InMemorySpanExporter, capfd: pytest.CaptureFixture[str]
) -> None:
    with traced(make_app(), 0.0) as client:
        client.get("/things/2", headers={"traceparent": SAMPLED})
    [span] = server_spans(spans)
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == "b7ad6b7169203331"
    assert access_lines(capfd.readouterr().out)[0]["trace_id"] == TRACE_ID


def test_unsampled_requests_record_nothing_but_keep_the_callers_trace_id(
    spans: InMemorySpanExporter, capfd: pytest.CaptureFixture[str]
) -> None:
    with traced(make_app(), 0.0) as client:
        client.get("/things/3")
        client.get("/things/4", headers={"traceparent": UNSAMPLED})
    assert server_spans(spans) == []
    first, second = access_lines(capfd.readouterr().out)
    assert "trace_id" not in first
    assert second["trace_id"] == TRACE_ID


def test_plain_asgi_apps_get_our_own_server_span(spans: InMemorySpanExporter) -> None:
    async def plain(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with traced(plain, 1.0) as client:
        client.get("/x", headers={"traceparent": SAMPLED})
    [span] = server_spans(spans)
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 204


@pytest.mark.parametrize(
    "header",
    [
        b"",
        b"garbage",
        b"00-" + b"0" * 32 + b"-b7ad6b7169203331-01",
        b"00-0af7651916cd43dd8448eb211c80319c-" + b"0" * 16 + b"-01",
        b"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        b"00-0AF7651916CD43DD8448EB211C80319G-b7ad6b7169203331-01",
        b"00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
    ],
)
def test_invalid_traceparent_headers_are_ignored(header: bytes) -> None:
    assert parse_traceparent(header) is None


def test_future_versions_may_carry_more_fields() -> None:
    parsed = parse_traceparent(b"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what")
    assert parsed is not None
    assert parsed.sampled


def test_two_traceparent_headers_make_the_context_invalid(
    spans: InMemorySpanExporter, capfd: pytest.CaptureFixture[str]
) -> None:
    with traced(make_app(), 0.0) as client:
        client.get("/things/5", headers=[("traceparent", SAMPLED), ("traceparent", SAMPLED)])
    assert server_spans(spans) == []
    assert "trace_id" not in access_lines(capfd.readouterr().out)[0]


def test_the_layers_own_span_replaces_fastapis_when_asked(
    spans: InMemorySpanExporter, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = ServiceSettings(
        drain_seconds=0, tracing={"sample_ratio": 1.0, "fastapi_telemetry": False}
    )
    with TestClient(production(make_app(), settings)) as client:
        client.get("/things/6")
    [span] = server_spans(spans)
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "shipshape"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/things/{thing_id}"
    assert access_lines(capfd.readouterr().out)[0]["trace_id"] == format(
        span.context.trace_id, "032x"
    )


def test_fastapi_telemetry_records_the_span_with_our_provider_and_nothing_twice(
    spans: InMemorySpanExporter,
) -> None:
    from opentelemetry import trace

    app = make_app()
    with traced(app, 1.0) as client:
        client.get("/things/7")
    [span] = server_spans(spans)
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "fastapi"
    config = app._telemetry  # FastAPI's own settings, as the layer left them
    assert isinstance(config["tracer_provider"], DecidedTracerProvider)
    assert config["tracer_provider"].provider is trace.get_tracer_provider()
    # request metrics and log events are the layer's (Prometheus, JSON lines)
    assert config["metrics"] is False
    assert config["logs"] is False


@pytest.mark.parametrize("ratio", [0.0, 1.0])
def test_fastapi_telemetry_given_its_own_meter_provider_measures_every_request(
    spans: InMemorySpanExporter, ratio: float
) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

    reader = InMemoryMetricReader()
    app = FastAPI(telemetry={"meter_provider": MeterProvider(metric_readers=[reader])})

    @app.get("/")
    async def root() -> dict[str, bool]:
        return {"ok": True}

    with traced(app, ratio) as client:
        for _ in range(3):
            client.get("/")
        client.get("/", headers={"traceparent": UNSAMPLED})
    data = reader.get_metrics_data()
    assert data is not None
    [duration] = [
        metric
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "http.server.request.duration"
    ]
    [point] = duration.data.data_points
    assert isinstance(point, HistogramDataPoint)
    assert point.count == 4  # sampled or not, FastAPI measured each request once
    # spans follow the layer's one decision: the ratio's, or the caller's unsampled flag
    assert len(server_spans(spans)) == (3 if ratio == 1.0 else 0)


def test_fastapi_telemetry_for_every_request_still_records_no_span_the_layer_dropped(
    spans: InMemorySpanExporter, capfd: pytest.CaptureFixture[str]
) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    app = FastAPI(
        telemetry={"meter_provider": MeterProvider(metric_readers=[InMemoryMetricReader()])}
    )
    inside: list[bool] = []

    @app.get("/")
    async def root() -> dict[str, bool]:
        with trace.get_tracer("app").start_as_current_span("work") as span:
            inside.append(span.is_recording())
        return {"ok": True}

    with traced(app, 0.0) as client:
        # W3C: two traceparent headers make the context invalid, so the layer samples
        # by ratio (0); FastAPI on its own would have followed the first header
        client.get("/", headers=[("traceparent", SAMPLED), ("traceparent", SAMPLED)])
        client.get("/", headers={"traceparent": UNSAMPLED})
        client.get("/")
    assert spans.get_finished_spans() == ()
    assert inside == [False, False, False]
    assert all("trace_id" not in line for line in access_lines(capfd.readouterr().out)[:1])


@pytest.mark.parametrize("fastapi_telemetry", [True, False])
def test_callers_sampled_flag_can_be_sampled_at_the_ratio_instead_of_followed(
    spans: InMemorySpanExporter, capfd: pytest.CaptureFixture[str], fastapi_telemetry: bool
) -> None:
    from opentelemetry import propagate, trace

    app = FastAPI()
    seen: list[tuple[bool, dict[str, str]]] = []

    @app.get("/")
    async def root() -> dict[str, bool]:
        with trace.get_tracer("app").start_as_current_span("work") as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)  # what a call to the next service would carry
            seen.append((span.is_recording(), carrier))
        return {"ok": True}

    def client(ratio: float) -> TestClient:
        tracing = {
            "sample_ratio": ratio,
            "follow_caller_sampled": False,
            "fastapi_telemetry": fastapi_telemetry,
        }
        return TestClient(production(app, ServiceSettings(drain_seconds=0, tracing=tracing)))

    with client(0.0) as untrusting:
        untrusting.get("/", headers={"traceparent": SAMPLED})
    assert server_spans(spans) == []
    recording, carrier = seen[-1]
    assert not recording
    assert carrier["traceparent"].startswith(f"00-{TRACE_ID}-")  # the trace goes on...
    assert carrier["traceparent"].endswith("-00")  # ...marked unsampled downstream
    assert access_lines(capfd.readouterr().out)[0]["trace_id"] == TRACE_ID

    with client(1.0) as sampling_all:
        sampling_all.get("/", headers={"traceparent": SAMPLED})
    [span] = server_spans(spans)
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert seen[-1][0]


# -- black-box review: tracestate, refusals, span names and errors ------------------------

TRACESTATE = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
CALLER_SPAN = "b7ad6b7169203331"
SPAN_MODES = ["fastapi", "layer", "plain"]  # FastAPI's telemetry, the layer's span, plain ASGI


def propagating_app(mode: str, seen: list[dict[str, str]]) -> Any:
    """An app that, like one calling the next service, injects the current context."""
    from opentelemetry import propagate

    if mode == "plain":

        async def plain(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            seen.append(carrier)
            if scope["path"] == "/boom":
                raise RuntimeError("boom")
            status = 503 if scope["path"] == "/unavailable" else 200
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        return plain

    app = FastAPI()

    @app.api_route("/things/{thing_id}", methods=["GET", "POST"])
    async def thing(thing_id: int) -> dict[str, int]:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        seen.append(carrier)
        return {"id": thing_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/unavailable")
    async def unavailable() -> None:
        from fastapi import HTTPException

        raise HTTPException(503)

    return app


def client_for(mode: str, seen: list[dict[str, str]], **settings: Any) -> TestClient:
    tracing = {"fastapi_telemetry": mode == "fastapi", **settings.pop("tracing", {})}
    app = propagating_app(mode, seen)
    service = ServiceSettings(drain_seconds=0, tracing=tracing, **settings)
    return TestClient(production(app, service), raise_server_exceptions=False)


@pytest.mark.parametrize("mode", SPAN_MODES)
@pytest.mark.parametrize("ratio", [0.0, 1.0])
@pytest.mark.parametrize("flags", ["01", "00"])
def test_tracestate_is_carried_into_the_trace_sampled_or_not(
    spans: InMemorySpanExporter, mode: str, ratio: float, flags: str
) -> None:
    seen: list[dict[str, str]] = []
    header = f"00-{TRACE_ID}-{CALLER_SPAN}-{flags}"
    with client_for(mode, seen, tracing={"sample_ratio": ratio}) as client:
        # W3C: tracestate may arrive split over several header lines
        client.get(
            "/things/1",
            headers=[
                ("traceparent", header),
                ("tracestate", "congo=t61rcWkgMzE"),
                ("tracestate", "rojo=00f067aa0ba902b7"),
            ],
        )
    [carrier] = seen
    assert carrier["traceparent"].startswith(f"00-{TRACE_ID}-")
    assert carrier["traceparent"].endswith(f"-{flags}")
    assert carrier.get("tracestate") == TRACESTATE
    recorded = server_spans(spans)
    if flags == "01":
        [span] = recorded
        assert span.context.trace_state.to_header() == TRACESTATE
    else:
        assert recorded == []


@pytest.mark.parametrize("mode", SPAN_MODES)
def test_tracestate_is_ignored_with_an_invalid_traceparent(
    spans: InMemorySpanExporter, mode: str
) -> None:
    seen: list[dict[str, str]] = []
    with client_for(mode, seen, tracing={"sample_ratio": 1.0}) as client:
        client.get(
            "/things/1",
            headers={"traceparent": f"00-{TRACE_ID.upper()}-{CALLER_SPAN}-01", "tracestate": "a=b"},
        )
    [span] = server_spans(spans)
    assert format(span.context.trace_id, "032x") != TRACE_ID.lower()
    assert span.context.trace_state.to_header() == ""
    assert "tracestate" not in seen[0]


@pytest.mark.parametrize("mode", SPAN_MODES)
@pytest.mark.parametrize("refusal", [413, 400, 429])
def test_requests_the_layer_answers_itself_get_a_server_span(
    spans: InMemorySpanExporter,
    capfd: pytest.CaptureFixture[str],
    mode: str,
    refusal: int,
) -> None:
    seen: list[dict[str, str]] = []
    with client_for(
        mode,
        seen,
        tracing={"sample_ratio": 0.0},
        max_body_bytes=10,
        ratelimit={"capacity": 1, "refill_rate": 0.001},
    ) as client:
        headers = {"traceparent": SAMPLED, "tracestate": TRACESTATE}
        if refusal == 413:
            answer = client.post("/things/1", content=b"x" * 100, headers=headers)
        elif refusal == 400:
            answer = client.post(
                "/things/1", content=b"x", headers={**headers, "content-length": "x"}
            )
        else:
            client.get("/things/1")  # the one token of the bucket
            answer = client.get("/things/1", headers=headers)
    assert answer.status_code == refusal
    [span] = server_spans(spans)
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == CALLER_SPAN
    assert span.context.trace_state.to_header() == TRACESTATE
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == refusal
    assert span.attributes["http.request.method"] == answer.request.method
    if mode != "plain":
        assert span.attributes["http.route"] == "/things/{thing_id}"
    [line] = [x for x in access_lines(capfd.readouterr().out) if x["status"] == refusal]
    assert line["trace_id"] == TRACE_ID
    assert line["span_id"] == format(span.context.span_id, "016x")


@pytest.mark.parametrize("mode", ["layer", "plain"])
def test_the_layers_span_is_named_by_route_and_marks_server_errors(
    spans: InMemorySpanExporter, mode: str
) -> None:
    from opentelemetry.trace import StatusCode

    seen: list[dict[str, str]] = []
    with client_for(mode, seen, tracing={"sample_ratio": 1.0}) as client:
        assert client.get("/things/1").status_code == 200
        assert client.get("/unavailable").status_code == 503
        assert client.get("/boom").status_code == 500
    ok, unavailable, boom = server_spans(spans)
    if mode == "layer":  # OpenTelemetry: "{method} {http.route}" when the route is known
        assert ok.name == "GET /things/{thing_id}"
        assert unavailable.name == "GET /unavailable"
    else:
        assert ok.name == "GET"
    assert ok.status.status_code is StatusCode.UNSET
    assert ok.attributes is not None
    assert "error.type" not in ok.attributes
    # a 5xx answer marks the server span as failed, with or without an exception
    assert unavailable.status.status_code is StatusCode.ERROR
    assert unavailable.attributes is not None
    assert unavailable.attributes["error.type"] == "503"
    assert boom.status.status_code is StatusCode.ERROR
    assert boom.attributes is not None
    assert boom.attributes["error.type"] == "RuntimeError"
    assert boom.attributes["http.response.status_code"] == 500


@pytest.mark.parametrize("mode", SPAN_MODES)
@pytest.mark.parametrize("follow", [True, False])
def test_callers_sampled_flag_at_half_ratio(
    spans: InMemorySpanExporter, mode: str, follow: bool
) -> None:
    seen: list[dict[str, str]] = []
    tracing = {"sample_ratio": 0.5, "follow_caller_sampled": follow}
    with client_for(mode, seen, tracing=tracing) as client:
        for _ in range(100):
            client.get("/things/1", headers={"traceparent": SAMPLED})
        for _ in range(20):
            client.get("/things/1", headers={"traceparent": UNSAMPLED})
    recorded = server_spans(spans)
    assert all(format(span.context.trace_id, "032x") == TRACE_ID for span in recorded)
    if follow:
        assert len(recorded) == 100
    else:
        assert 20 <= len(recorded) <= 80  # about half (p of failing ≈ 1e-9)
    # downstream, each request's flag says what was recorded; the trace id goes on
    marked = [carrier["traceparent"].endswith("-01") for carrier in seen]
    assert sum(marked) == len(recorded)
    assert all(carrier["traceparent"].startswith(f"00-{TRACE_ID}-") for carrier in seen)


@pytest.mark.parametrize("mode", SPAN_MODES)
def test_a_duplicated_traceparent_starts_a_new_trace_in_every_span_mode(
    spans: InMemorySpanExporter, mode: str
) -> None:
    """W3C: two traceparent headers make the context invalid, so a sampled request
    starts a trace of its own, whoever records its span (FastAPI would follow the first)."""
    seen: list[dict[str, str]] = []
    with client_for(mode, seen, tracing={"sample_ratio": 1.0}) as client:
        client.get(
            "/things/1",
            headers=[("traceparent", SAMPLED), ("traceparent", SAMPLED), ("tracestate", "a=b")],
        )
    [span] = server_spans(spans)
    assert span.parent is None
    assert format(span.context.trace_id, "032x") != TRACE_ID
    assert span.context.trace_state.to_header() == ""
    assert TRACE_ID not in seen[0]["traceparent"]
    assert "tracestate" not in seen[0]


def measured_propagating_app(seen: list[dict[str, str]]) -> FastAPI:
    """An app whose FastAPI telemetry measures every request (it has a meter provider
    of its own); its ``GET /`` notes what a call to the next service would carry."""
    from opentelemetry import propagate
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    app = FastAPI(
        telemetry={"meter_provider": MeterProvider(metric_readers=[InMemoryMetricReader()])}
    )

    @app.get("/")
    async def root() -> dict[str, bool]:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        seen.append(carrier)
        return {"ok": True}

    return app


def test_a_duplicated_traceparent_is_not_passed_on_when_fastapi_measures_every_request(
    spans: InMemorySpanExporter,
) -> None:
    seen: list[dict[str, str]] = []
    app = measured_propagating_app(seen)

    with traced(app, 0.0) as client:
        client.get("/", headers=[("traceparent", SAMPLED), ("traceparent", SAMPLED)])
    assert spans.get_finished_spans() == ()
    assert seen == [{}]  # an unsampled root: nothing to continue downstream


def test_the_layers_span_from_a_disabled_sdk_does_not_break_requests(tmp_path: Any) -> None:
    """OTEL_SDK_DISABLED=true makes every tracer a no-op one, whose spans have no name
    or status to read: the layer labels them all the same, and the request is served."""
    import subprocess
    import sys

    script = tmp_path / "disabled.py"
    script.write_text(
        "from fastapi import FastAPI, HTTPException\n"
        "from starlette.testclient import TestClient\n"
        "from shipshape.service import ServiceSettings, production\n"
        "app = FastAPI()\n"
        "@app.get('/things/{thing_id}')\n"
        "async def thing(thing_id: int) -> dict[str, int]:\n"
        "    if thing_id == 5:\n"
        "        raise HTTPException(503)\n"
        "    if thing_id == 6:\n"
        "        raise RuntimeError('boom')\n"
        "    return {'id': thing_id}\n"
        "tracing = {'sample_ratio': 1.0, 'fastapi_telemetry': False}\n"
        "layer = production(app, ServiceSettings(drain_seconds=0, tracing=tracing))\n"
        "with TestClient(layer) as client:\n"
        "    codes = [client.get(f'/things/{n}').status_code for n in (1, 5, 6)]\n"
        "print(codes)\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "OTEL_SDK_DISABLED": "true"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[200, 503, 500]"


@pytest.mark.parametrize("mode", SPAN_MODES)
@pytest.mark.parametrize("flags", ["03", "02"])
def test_the_callers_random_trace_id_flag_is_passed_on(
    spans: InMemorySpanExporter, mode: str, flags: str
) -> None:
    """W3C Trace Context Level 2: bit 0x02 says the trace id is random; a participant
    continuing the trace keeps it, sampled (03) or not (02)."""
    seen: list[dict[str, str]] = []
    with client_for(mode, seen, tracing={"sample_ratio": 0.0}) as client:
        client.get("/things/1", headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-{flags}"})
    [carrier] = seen
    assert carrier["traceparent"].endswith(f"-{flags}")
    for span in server_spans(spans):
        assert span.context.trace_flags == int(flags, 16)


@pytest.mark.parametrize("refusal", [413, 429])
def test_a_refused_requests_span_goes_to_the_provider_the_app_gave_fastapi(
    spans: InMemorySpanExporter, refusal: int
) -> None:
    """An app that hands FastAPI a tracer provider of its own records its requests there;
    the span of a request the layer refuses (which FastAPI never sees) goes there too,
    with the app's resource, not to the process's global provider."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    own = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "own-provider"}), shutdown_on_exit=False
    )
    provider.add_span_processor(SimpleSpanProcessor(own))
    app = FastAPI(telemetry={"tracer_provider": provider})

    @app.post("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    settings = ServiceSettings(
        drain_seconds=0,
        tracing={"sample_ratio": 0.0},
        max_body_bytes=10,
        ratelimit={"capacity": 2 if refusal == 413 else 1, "refill_rate": 0.001},
    )
    with TestClient(production(app, settings)) as client:
        assert client.post("/things/1", headers={"traceparent": SAMPLED}).status_code == 200
        if refusal == 413:
            answer = client.post("/things/1", content=b"x" * 100, headers={"traceparent": SAMPLED})
        else:
            answer = client.post("/things/1", headers={"traceparent": SAMPLED})
    assert answer.status_code == refusal
    assert server_spans(spans) == []  # nothing in the global provider
    served, refused = server_spans(own)
    assert served.resource.attributes["service.name"] == "own-provider"
    assert refused.resource.attributes["service.name"] == "own-provider"
    assert refused.attributes is not None
    assert refused.attributes["http.response.status_code"] == refusal
    assert format(refused.context.trace_id, "032x") == TRACE_ID


def test_a_failing_span_processor_costs_no_access_line_nor_the_answer(tmp_path: Any) -> None:
    """The layer ends its span after the answer is sent: a span processor (or a span)
    that raises then is logged, and the request still leaves its access line, whether
    the app answered or failed. A process of its own: the provider is global."""
    import subprocess
    import sys

    script = tmp_path / "raising.py"
    script.write_text(
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import SpanProcessor, TracerProvider\n"
        "from starlette.testclient import TestClient\n"
        "from shipshape.service import ServiceSettings, production\n"
        "class Raising(SpanProcessor):\n"
        "    def on_end(self, span):\n"
        "        raise RuntimeError('processor failed')\n"
        "class Unprintable(Exception):\n"
        "    def __str__(self):\n"
        "        raise ValueError('no text')\n"
        "provider = TracerProvider(shutdown_on_exit=False)\n"
        "provider.add_span_processor(Raising())\n"
        "trace.set_tracer_provider(provider)\n"
        "async def plain(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    if scope['path'] == '/fail':\n"
        "        raise Unprintable()\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'{}'})\n"
        "tracing = {'sample_ratio': 1.0}\n"
        "layer = production(plain, ServiceSettings(drain_seconds=0, tracing=tracing))\n"
        "with TestClient(layer) as client:\n"
        "    codes = [client.get(path).status_code for path in ('/ok', '/fail')]\n"
        "print(codes)\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[200, 500]"
    lines = access_lines(result.stdout)
    assert [(line["path"], line["status"]) for line in lines] == [("/ok", 200), ("/fail", 500)]
    assert result.stdout.count("could not end the span of") == 2


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise ValueError("no text")


def test_the_span_of_a_request_failing_with_an_unprintable_error_still_ends(
    spans: InMemorySpanExporter,
) -> None:
    """Recording an exception reads its text; one that cannot be read still leaves the
    span ended and marked (the SDK's ``record_exception`` raises on it)."""
    from opentelemetry.trace import StatusCode

    async def failing(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            raise _Unprintable()

    settings = ServiceSettings(drain_seconds=0, tracing={"sample_ratio": 1.0})
    with TestClient(production(failing, settings), raise_server_exceptions=False) as client:
        assert client.get("/x").status_code == 500
    [span] = server_spans(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"].endswith("_Unprintable")
    assert span.attributes["http.response.status_code"] == 500


@pytest.mark.parametrize("flags", ["03", "02"])
def test_the_random_trace_id_flag_is_passed_on_when_fastapi_measures_every_request(
    spans: InMemorySpanExporter, flags: str
) -> None:
    """FastAPI's telemetry runs for every request when it has a meter provider; the span
    it starts for a request the layer did not sample is dropped, and keeps the caller's
    random-trace-id flag (0x02) downstream, as the SDK's unsampled spans do."""
    seen: list[dict[str, str]] = []
    app = measured_propagating_app(seen)

    settings = ServiceSettings(
        drain_seconds=0, tracing={"sample_ratio": 0.0, "follow_caller_sampled": False}
    )
    with TestClient(production(app, settings)) as client:
        client.get("/", headers={"traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-{flags}"})
    assert server_spans(spans) == []
    [carrier] = seen
    assert carrier["traceparent"].startswith(f"00-{TRACE_ID}-")
    assert carrier["traceparent"].endswith("-02")  # not sampled here; the id is random


def test_long_tracestate_values_are_not_kept_in_memory() -> None:
    """The parsed-value cache holds header values up to W3C's 512 characters only: a
    caller sending ever-new 5 KB values must not make it hold 1,024 of them."""
    from shipshape.service import middleware

    middleware._TRACE_STATES.clear()
    long_value = b",".join(b"k%d=" % n + b"a" * 250 for n in range(20))
    state = middleware._trace_state(long_value)
    assert state.get("k19") == "a" * 250  # parsed as OpenTelemetry parses it
    assert middleware._trace_state(b"congo=t61rcWkgMzE").get("congo") == "t61rcWkgMzE"
    assert list(middleware._TRACE_STATES) == [b"congo=t61rcWkgMzE"]
