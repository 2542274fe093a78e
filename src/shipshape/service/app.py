"""``production(app)``: wrap any ASGI app (FastAPI first of all) in the production layer."""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
from typing import Any

from shipshape.observe.health import CheckFunc, HealthChecks
from shipshape.observe.logs import (
    Redactor,
    configure_logging,
    encode_json,
    jsonable,
    request_id_var,
)
from shipshape.observe.telemetry import DecidedTracerProvider, configure_tracing
from shipshape.service._types import ASGIApp, Receive, Scope, Send
from shipshape.service.endpoints import build_endpoints
from shipshape.service.middleware import VALIDATION_FAILED, ProductionMiddleware
from shipshape.service.responses import PROBLEM_JSON, problem
from shipshape.service.settings import ServiceSettings
from shipshape.service.state import ServiceState

__all__ = ["ProductionApp", "production"]

_logger = logging.getLogger("shipshape.service")


class ProductionApp:
    """The wrapped application: an ASGI app that also exposes the layer's parts.

    Attribute access falls through to the wrapped app, so ``app.get(...)`` still
    works on a wrapped FastAPI application.
    """

    def __init__(self, app: ASGIApp, settings: ServiceSettings) -> None:
        self.app = app
        self.settings = settings
        self.state = ServiceState(settings)
        if settings.tracing.enabled:
            provider = configure_tracing(settings.service_name, settings.tracing.sample_ratio)
            # the provider the app's spans are recorded with (FastAPI's telemetry may
            # have been given one of its own): the layer's spans go there too, and it is
            # the one flushed at shutdown
            (
                self.state.native_telemetry,
                self.state.native_every_request,
                self.state.tracer_provider,
            ) = _use_native_telemetry(app, settings, provider)
        _count_validation_errors(app, self.state)
        _answer_unhandled_errors(app)
        self._declared_checks(app)
        _document_layer_responses(app, settings)
        self.middleware = ProductionMiddleware(app, self.state, build_endpoints(self.state))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.middleware(scope, receive, send)

    def _declared_checks(self, app: Any) -> None:
        """Checks the app declares itself, in ``app.state.shipshape_checks`` (name → check)."""
        declared = getattr(getattr(app, "state", None), "shipshape_checks", None)
        if isinstance(declared, dict):
            for name, check in declared.items():
                if str(name) in self.state.health.names():
                    _logger.warning(
                        "health check %r is configured in the settings; the app's own "
                        "check of that name is not used",
                        str(name),
                    )
                    continue
                self.state.health.add(str(name), check, component_type="datastore")

    @property
    def health(self) -> HealthChecks:
        """Register dependency checks: ``@app.health.check("payments")``."""
        return self.state.health

    def add_check(self, name: str, func: CheckFunc, *, timeout: float | None = None) -> None:
        self.state.health.add(name, func, timeout=timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


def production(app: ASGIApp, settings: ServiceSettings | None = None) -> ProductionApp:
    """Add request ids, JSON logs, ``/metrics``, ``/livez`` ``/readyz`` ``/healthz``, rate
    limits and tracing to ``app`` in one pure-ASGI layer.

    ``settings`` defaults to ``ServiceSettings()`` (read from ``SHIPSHAPE_*``).
    """
    if isinstance(app, ProductionApp):  # one layer: ids, lines, limits and metrics once
        if settings is not None and settings != app.settings:
            raise ValueError(
                "the app already has the production layer, with other settings: wrap the "
                "inner app instead"
            )
        return app
    settings = settings if settings is not None else ServiceSettings()
    if settings.logs.configure_logging:
        configure_logging(settings.logs.level, Redactor(settings.logs.redact_keys))
    return ProductionApp(app, settings)


def _use_native_telemetry(
    app: Any, settings: ServiceSettings, provider: Any
) -> tuple[bool, bool, Any]:
    """Use FastAPI's built-in telemetry where it exists, configured for our sampling;
    returns whether it is used, whether it must run for every request, and the tracer
    provider the app's server spans are recorded with (``provider`` unless FastAPI's
    telemetry records them with one the app gave it).

    It records the server spans of sampled requests with the layer's tracer provider
    (or the one the app gave it), handed over explicitly, so FastAPI does not look the
    global one up per request, and wrapped so that its spans follow the layer's
    sampling decision.
    Its OpenTelemetry metrics and log events are turned off unless the app gave them
    a provider of their own: the layer's Prometheus metrics and JSON logs already
    cover every request, and one request should not be instrumented twice. With
    them off, FastAPI's telemetry is skipped entirely for unsampled requests; with
    them on, it runs for every request and its spans follow the layer's decision.
    """
    config = getattr(app, "_telemetry", None)
    if not settings.tracing.fastapi_telemetry:
        return False, False, provider
    if not isinstance(config, dict) or not hasattr(app, "_native_telemetry"):
        return False, False, provider
    config["operation_spans"] = settings.tracing.operation_spans
    given = config.get("tracer_provider")
    if not isinstance(given, DecidedTracerProvider):
        config["tracer_provider"] = DecidedTracerProvider(given or provider)
    if config.get("meter_provider") is None:
        config["metrics"] = False
    if config.get("logger_provider") is None:
        config["logs"] = False
    used = bool(config.get("tracing", True))
    every = used and bool(config.get("metrics") or config.get("logs"))
    return used, every, config["tracer_provider"].provider if used else provider


def _count_validation_errors(app: Any, state: ServiceState) -> None:
    """Count requests FastAPI rejects with a Pydantic validation error, by route (in
    mounted FastAPI apps too): the handler marks the request, and the layer counts it
    under the route template that labels the request's other metrics."""
    for mounted in _mounted_apps(app):
        _count_validation_errors(mounted, state)
    try:
        from fastapi import FastAPI
        from fastapi.exception_handlers import request_validation_exception_handler
        from fastapi.exceptions import RequestValidationError
        from starlette.responses import Response
    except ImportError:
        return
    if not isinstance(app, FastAPI):
        return
    previous = app.exception_handlers.get(RequestValidationError)
    handler = previous or request_validation_exception_handler

    async def counting_handler(request: Any, error: Any) -> Any:
        request.scope[VALIDATION_FAILED] = True
        errors = error.errors()
        with contextlib.suppress(RecursionError):  # a body nested past Python's limit
            finite = _finite(errors)
            if finite is not errors:  # NaN or Infinity in the body: the 422 must stay JSON
                error = RequestValidationError(
                    finite, body=_finite(error.body), endpoint_ctx=error.endpoint_ctx
                )
        try:
            response = handler(request, error)
            return await response if inspect.isawaitable(response) else response
        except RecursionError:
            if handler is not request_validation_exception_handler:
                raise
            # FastAPI's own 422 echoes the input: a body nested too deep for its writer
            # is written with the input cut at a depth the layer's encoder can take
            body = {"detail": jsonable(list(error.errors()))}
            return Response(encode_json(body), status_code=422, media_type="application/json")

    app.add_exception_handler(RequestValidationError, counting_handler)
    _undecodable_json_as_422(app, counting_handler)


_BODY_PARSE_ERROR = "There was an error parsing the body"  # FastAPI's, for a 400


def _undecodable_json_as_422(app: Any, validation_handler: Any) -> None:
    """A JSON body FastAPI cannot read at all (bytes that are not UTF-8, nesting past
    Python's limit, an integer of more than 4,300 digits) gets the 422 a malformed JSON
    body gets (``json_invalid``, counted as a validation error), not FastAPI's bare 400.
    """
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    previous = app.exception_handlers.get(HTTPException) or http_exception_handler

    async def handler(request: Any, error: Any) -> Any:
        cause = error.__cause__
        if (
            getattr(error, "status_code", None) == 400
            and getattr(error, "detail", None) == _BODY_PARSE_ERROR
            and isinstance(cause, ValueError | RecursionError)
            and _declares_json(request.headers.get("content-type"))
        ):
            reason = "nested too deeply" if isinstance(cause, RecursionError) else str(cause)
            invalid: dict[str, Any] = {
                "type": "json_invalid",
                "loc": ("body",),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": reason[:200]},
            }
            return await validation_handler(request, RequestValidationError([invalid]))
        response = previous(request, error)
        return await response if inspect.isawaitable(response) else response

    app.add_exception_handler(HTTPException, handler)


def _declares_json(content_type: str | None) -> bool:
    """No content type (FastAPI then reads JSON), or ``application/json`` / ``*+json``."""
    if not content_type:
        return True
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def _finite(value: Any) -> Any:
    """``value`` with every NaN and infinity (which Python's JSON reader takes, and
    JSON cannot hold) in its lists, tuples and dicts replaced by its text (``"nan"``,
    ``"inf"``, ``"-inf"``); ``value`` itself when it has none."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        items = {key: _finite(item) for key, item in value.items()}
        changed = any(items[key] is not item for key, item in value.items())
        return items if changed else value
    if isinstance(value, list | tuple):
        finite = [_finite(item) for item in value]
        if all(new is old for new, old in zip(finite, value, strict=True)):
            return value
        return finite if isinstance(value, list) else tuple(finite)
    return value


def _answer_unhandled_errors(app: Any) -> None:
    """Give a Starlette/FastAPI app without a handler of its own for unhandled errors
    one that answers like the layer: a 500 ``application/problem+json`` carrying the
    request id, instead of Starlette's plain-text "Internal Server Error".

    Starlette answers those errors inside the app (its ``ServerErrorMiddleware``),
    before the layer could; the layer still logs each one, once, with its traceback.
    Apps mounted inside it (``app.mount("/v2", other)``) get the same.
    """
    try:
        from starlette.responses import Response
    except ImportError:  # pragma: no cover - starlette comes with fastapi
        return
    for mounted in _mounted_apps(app):  # each answers its own errors before its parent
        _answer_unhandled_errors(mounted)
    handlers = getattr(app, "exception_handlers", None)
    if not isinstance(handlers, dict) or 500 in handlers or Exception in handlers:
        return

    async def answer(request: Any, error: Exception) -> Any:
        body = problem(
            500, "Internal Server Error", "unexpected error", request_id=request_id_var.get()
        )
        return Response(
            encode_json(body),
            status_code=500,
            media_type=PROBLEM_JSON.decode(),
            headers={"cache-control": "no-store"},
        )

    handlers[Exception] = answer
    if getattr(app, "middleware_stack", None) is not None:
        app.middleware_stack = None  # built already: build it again with the handler


def _mounted_apps(app: Any) -> list[Any]:
    """The apps mounted in ``app`` (``app.mount(...)``), also inside mounted routers."""
    found: list[Any] = []
    for route in getattr(app, "routes", None) or ():
        inner = getattr(route, "app", None)
        if inner is None or inner is app or not hasattr(route, "path"):
            continue
        if hasattr(inner, "exception_handlers"):
            found.append(inner)
        elif getattr(route, "routes", None):  # a Mount around a plain router
            found.extend(_mounted_apps(route))
    return found


_PROBLEM = {"application/problem+json": {"schema": {"type": "object"}}}


def _document_layer_responses(app: Any, settings: ServiceSettings) -> None:
    """Add the answers the layer itself may give to a FastAPI app's OpenAPI schema."""
    original = getattr(app, "openapi", None)
    if original is None or not hasattr(app, "openapi_schema"):
        return
    layer: dict[str, dict[str, Any]] = {
        "400": {
            "description": "Malformed request",
            "content": {**_PROBLEM, "application/json": {"schema": {"type": "object"}}},
        },
        "413": {"description": "Request body too large", "content": _PROBLEM},
        "500": {"description": "Unexpected error", "content": _PROBLEM},
    }
    if settings.ratelimit.enabled:
        layer["429"] = {"description": "Rate limit exceeded", "content": _PROBLEM}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema  # type: ignore[no-any-return]
        schema: dict[str, Any] = original()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if isinstance(operation, dict) and "responses" in operation:
                    for code, response in layer.items():
                        operation["responses"].setdefault(code, response)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
