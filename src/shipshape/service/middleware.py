"""The production layer: one pure-ASGI middleware that does every per-request job.

Request id, body limit, rate limit, trace sampling, access log and metrics happen in
one pass; probes and ``/metrics`` are answered before the application is called.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import Token
from random import random
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
    TraceState,
)

from shipshape.observe.logs import (
    mark_logged,
    request_id_var,
    span_ids,
    trace_ids_var,
)
from shipshape.observe.telemetry import (
    TraceParent,
    parse_traceparent,
    request_sampled_var,
)
from shipshape.service._types import ASGIApp, Message, Receive, Scope, Send
from shipshape.service.responses import send_problem
from shipshape.service.state import ServiceState
from shipshape.stores.base import StoreUnavailable

__all__ = ["VALIDATION_FAILED", "ProductionMiddleware"]

_logger = logging.getLogger("shipshape.service")

# Request ids made here: 16 random hex digits per process, then a 16-digit counter,
# so ids are unique across workers and cost no system call.
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(int.from_bytes(os.urandom(4), "big"))

SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "QUERY"}
)
UNMATCHED_ROUTE = "<unmatched>"
# set in the scope of a request FastAPI refused with a validation error (``app.py``)
VALIDATION_FAILED = "shipshape.validation_failed"
_HTTP1 = frozenset({"1.0", "1.1"})
_CLOSE = ((b"connection", b"close"),)

Endpoint = Callable[[Scope, Receive, Send], Awaitable[None]]


_REFUSED_BEFORE_ROUTING = frozenset({400, 413, 429})
_DUPLICATED = b"two headers"  # never a valid traceparent nor a safe request id
_TRACE_CONTEXT_HEADERS = frozenset({b"traceparent", b"tracestate"})
_MATCHED_ROUTES_KEPT = 4096


def _effective_routes(routes: Any) -> Any:
    """``routes`` with FastAPI's included routers (which have no path of their own)
    replaced by the routes they include, each with its full path, where FastAPI can
    list them (``fastapi.routing.iter_route_contexts``)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return routes
    try:
        return list(iter_route_contexts(routes or ()))
    except Exception:
        return routes


def _route_matches(routes: Any, scope: Scope) -> Iterator[tuple[Any, Any, Scope]]:
    """Each route that can say how it matches ``scope``: the route, its ``Match`` and
    the scope it would hand on (routes that fail to say are skipped)."""
    for route in _effective_routes(routes):
        matches = getattr(route, "matches", None)
        if matches is None:
            continue
        try:
            match, child_scope = matches(scope)
        except Exception:
            continue
        yield route, match, child_scope


def _match_route(routes: Any, scope: Scope) -> str:
    """The path template of the first route that matches ``scope`` fully (inside a
    mount, the mount's template followed by its route's), else of the first that
    matches all but the method, else ``<unmatched>``."""
    try:
        from starlette.routing import Match
    except ImportError:  # pragma: no cover - starlette comes with fastapi
        return UNMATCHED_ROUTE
    partial = UNMATCHED_ROUTE
    for route, match, child_scope in _route_matches(routes, scope):
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        if match is Match.FULL:
            inner = getattr(route, "routes", None)
            if inner:  # a Mount around a router or an app: go on inside, as routing would
                label = _match_route(inner, {**scope, **child_scope})
                if label is not UNMATCHED_ROUTE:
                    return path + label
            return path
        if match is Match.PARTIAL and partial is UNMATCHED_ROUTE:
            partial = path
    return partial


def _serves(routes: Any, scope: Scope) -> bool:
    """Whether some route (inside mounted routers too) matches ``scope`` fully."""
    try:
        from starlette.routing import Match
    except ImportError:  # pragma: no cover - starlette comes with fastapi
        return False
    for route, match, child_scope in _route_matches(routes, scope):
        if match is Match.FULL:
            inner = getattr(route, "routes", None)
            if not inner or _serves(inner, {**scope, **child_scope}):
                return True
    return False


class _LayerRoute:
    """The route of a request the layer answers itself (a probe, a scrape): its path."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    if route is None:
        return UNMATCHED_ROUTE
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED_ROUTE
    return path


class ProductionMiddleware:
    """Wraps any ASGI app; see ``shipshape.service.production``."""

    def __init__(self, app: ASGIApp, state: ServiceState, endpoints: dict[str, Endpoint]) -> None:
        self.app = app
        self.state = state
        self.endpoints = endpoints
        self.endpoint_routes = {path: _LayerRoute(path) for path in endpoints}
        settings = state.settings
        self.max_body = settings.max_body_bytes
        self.request_id_header = settings.request_id_header.lower().encode("latin-1")
        self.request_id_response_header = self.request_id_header
        self.recorder = state.recorder
        self.recording = settings.logs.access_log or settings.metrics.enabled
        self.log_probes = settings.logs.log_probes
        self.limiter = state.limiter if settings.ratelimit.enabled else None
        self.exempt = tuple(settings.ratelimit.exempt_paths)
        self.key_header = state.client_keys.header
        self.wanted_headers = frozenset(
            name
            for name in (
                self.request_id_header,
                b"traceparent",
                b"tracestate",
                b"content-length",
                b"transfer-encoding",
                b"x-forwarded-for",
                # read only behind trusted proxies (the server believes none itself)
                b"x-forwarded-proto" if state.client_keys.uses_forwarded else None,
                self.key_header,
            )
            if name is not None
        )
        self.use_forwarded = state.client_keys.uses_forwarded
        self.tracing = settings.tracing.enabled
        self.sample_ratio = settings.tracing.sample_ratio
        self.follow_caller = settings.tracing.follow_caller_sampled
        self.native_telemetry = state.native_telemetry
        self.native_every_request = state.native_every_request
        provider = state.tracer_provider or trace.get_tracer_provider()
        self.tracer = provider.get_tracer("shipshape") if self.tracing else None
        self.metrics = settings.metrics.enabled
        self.in_flight = state.in_flight
        self.in_flight.values.setdefault((), 0.0)
        # counted with metrics off too: draining on SIGTERM waits for it to reach 0
        self.in_flight_values = self.in_flight.values
        self.validation_errors = state.validation_errors
        self.ratelimit_total = state.ratelimit_decisions
        self.ratelimit_unstored = state.ratelimit_unstored
        self.policy = state.limiter.policies.default
        self.route_policies = bool(state.limiter.policies)
        self.take_nowait = getattr(state.limiter.store, "take_nowait", None)
        self._matched_routes: dict[tuple[str, str], str] = {}
        self._head_as_get: dict[str, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.state.lifespan(self.app, scope, receive, send)
            else:
                if self.use_forwarded and scope["type"] == "websocket":
                    self.state.client_keys.forward_websocket(scope)
                await self.app(scope, receive, send)
            return
        state = self.state
        if not state.started and not state.lifespan_seen:
            state.mark_serving()
        app = self.app
        exempt = False
        path: str = scope["path"]
        root_path = scope.get("root_path")
        # the path below the root path (the server's --root-path is part of "path"):
        # what the layer's endpoints, exempt paths and route policies are matched on
        route_path = _below(path, root_path) if root_path else path
        endpoint = self.endpoints.get(route_path)
        if endpoint is not None:
            if not self.log_probes:
                await endpoint(scope, receive, self._echo_request_id(scope, send))
                return
            app, exempt = endpoint, True
            scope["route"] = self.endpoint_routes[route_path]  # labels its line and metrics

        started = time.perf_counter()
        method: str = scope["method"]

        request_id: bytes | None = None
        traceparent: bytes | None = None
        tracestate: bytes | None = None
        content_length: bytes | None = None
        chunked = False
        forwarded_for: bytes | None = None
        forwarded_proto: bytes | None = None
        api_key: bytes | None = None
        id_header, key_header = self.request_id_header, self.key_header
        wanted = self.wanted_headers
        for name, value in scope["headers"]:
            if name not in wanted:
                continue
            if name == id_header:
                # RFC 9110 5.3: repeated, it reads as one comma-joined value: not a token
                request_id = value if request_id is None else _DUPLICATED
            elif name == b"traceparent":
                # W3C: more than one traceparent header makes the context invalid
                traceparent = value if traceparent is None else _DUPLICATED
            elif name == b"content-length":
                content_length = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"x-forwarded-for":
                forwarded_for = value if forwarded_for is None else forwarded_for + b"," + value
            elif name == key_header:
                api_key = value
            elif name == b"tracestate":
                # W3C: a tracestate split over several header lines is one list
                tracestate = value if tracestate is None else tracestate + b"," + value
            elif name == b"x-forwarded-proto":
                forwarded_proto = value
        if request_id is not None and SAFE_REQUEST_ID.fullmatch(request_id) is not None:
            rid = request_id.decode("ascii")
        else:
            rid = f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"
            request_id = rid.encode("ascii")
        rid_token = request_id_var.set(rid)

        if self.use_forwarded:
            client = state.client_keys.client_address(scope, forwarded_for)
            if forwarded_proto is not None:  # (before the peer below is replaced)
                state.client_keys.forwarded_scheme(scope, forwarded_proto)
            if forwarded_for is not None:  # the app sees the client, not its proxy
                state.client_keys.forwarded_client(scope, client)
        else:
            client = scope["client"][0] if scope.get("client") else "unknown"
        extra_headers: list[tuple[bytes, bytes]] = [(self.request_id_response_header, request_id)]
        status = 0
        sent_bytes = 0
        response_started = False
        response_done = False
        body_refused = False
        body_over = False
        body_total = 0
        parent: TraceParent | None = None
        sampled = False
        span = None
        span_error: BaseException | None = None
        context_token = None
        trace_ids: tuple[str, str] | None = None
        trace_token = None

        head = method == "HEAD"
        finished = 0.0  # when the response's last byte went out

        async def send_wrapper(message: Message) -> None:
            nonlocal status, sent_bytes, response_started, response_done, trace_ids, finished
            if body_refused and response_started:
                return
            kind = message["type"]
            if head and kind == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}  # a HEAD answer carries no content
            if kind == "http.response.start":
                response_started = True
                status = message["status"]
                if sampled and trace_ids is None:
                    trace_ids = _native_trace_ids(scope)
                headers = message.get("headers", ())
                if status == 405:
                    headers = _complete_allow(app, scope, headers)
                message["headers"] = [*headers, *extra_headers]
            elif kind == "http.response.body":
                sent_bytes += len(message.get("body", b""))
                response_done = not message.get("more_body", False)
            await send(message)
            if response_done and not finished:
                # the request's duration ends here, not after the app's background tasks
                finished = time.perf_counter()

        async def limited_receive() -> Message:
            """Count a body of undeclared length; past the limit, answer 413 (unless the
            app already answered) and tell the app the client is gone."""
            nonlocal body_total, body_refused, body_over
            if body_over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                body_total += len(message.get("body", b""))
                if body_total > self.max_body:
                    body_over = True
                    if not response_started:
                        await send_problem(
                            send_wrapper,
                            413,
                            "Content Too Large",
                            f"request body exceeds the limit of {self.max_body} bytes",
                            _close(scope),
                            request_id=rid,
                        )
                        body_refused = True
                    return {"type": "http.disconnect"}
            return message

        sampled_token = None
        denied = False
        logged = False
        app_receive: Receive = receive
        try:
            # -- tracing: decide once, here (requests the layer refuses are traced too)
            if self.tracing:
                if traceparent is not None:
                    parent = parse_traceparent(traceparent)
                    if traceparent is _DUPLICATED and self.native_telemetry:
                        _hide_trace_context(scope)
                # parent-based: follow the caller's sampled flag, else sample a ratio of
                # roots (and, unless callers are trusted to, of callers' sampled traces)
                if parent is None or (parent.sampled and not self.follow_caller):
                    ratio = self.sample_ratio
                    sampled = ratio >= 1.0 or (ratio > 0.0 and random() < ratio)
                else:
                    sampled = parent.sampled
                if sampled:
                    sampled_token = request_sampled_var.set(True)
                    if not self.native_telemetry:
                        scope["fastapi.telemetry"] = None
                        span, context_token = self._start_span(scope, parent, tracestate)
                        trace_ids = span_ids(span)
                else:
                    if self.native_every_request:
                        # FastAPI's telemetry still records metrics or log events; its
                        # span follows this decision (dropped) instead of sampling again
                        sampled_token = request_sampled_var.set(False)
                    else:
                        scope["fastapi.telemetry"] = None
                    if parent is not None:
                        context_token = otel_context.attach(
                            trace.set_span_in_context(
                                NonRecordingSpan(_span_context(parent, False, tracestate))
                            )
                        )
                        trace_ids = (parent.trace_id, parent.span_id)
                if trace_ids is not None:
                    trace_token = trace_ids_var.set(trace_ids)

            # -- body limit, decided after the rate limit: a refused body spends a token too
            declared = None
            if content_length is not None:
                try:
                    declared = int(content_length)
                except ValueError:
                    declared = -1
            elif chunked or scope.get("http_version", "1.1") not in _HTTP1:
                # HTTP/1 without Content-Length or Transfer-Encoding has no body at all
                app_receive = limited_receive

            # -- rate limit
            limiter = self.limiter
            if (
                limiter is not None
                and not exempt
                and not (self.exempt and self._exempt_path(route_path))
            ):
                key = api_key.decode("latin-1") if api_key else client
                unstored = False
                policy = (
                    limiter.policies.lookup(method, route_path)
                    if self.route_policies
                    else self.policy
                )
                try:
                    take = self.take_nowait
                    if take is not None:
                        decision = take(
                            policy.bucket_prefix + key, policy.capacity, policy.refill_rate
                        )
                    else:
                        decision = await limiter.take(policy, key)
                except StoreUnavailable:
                    unstored = True
                    decision = limiter.without_store(policy)
                    if self.metrics:
                        self.ratelimit_unstored.inc(
                            policy.open_labels if limiter.fail_open else policy.closed_labels
                        )
                extra_headers += policy.headers(decision)
                if self.metrics:
                    self.ratelimit_total.inc(
                        policy.allowed_labels if decision.allowed else policy.denied_labels
                    )
                if not decision.allowed:
                    denied = True
                    if sampled and span is None:  # FastAPI's telemetry never sees it
                        span, trace_ids, trace_token = self._refusal_span(scope, parent, tracestate)
                    await send_problem(
                        send_wrapper,
                        429,
                        "Too Many Requests",
                        f"rate limit {policy.name!r} cannot be checked (its store is "
                        "unreachable, and the layer fails closed); retry later"
                        if unstored
                        else f"rate limit {policy.name!r} exceeded; retry later",
                        # a body the limit would refuse is not read either
                        _close(scope)
                        if declared is not None and not 0 <= declared <= self.max_body
                        else (),
                        request_id=rid,
                    )
                    return

            # -- body limit: refuse a declared oversize body without reading it
            if declared is not None:
                if declared < 0:
                    if sampled and span is None:  # FastAPI's telemetry never sees it
                        span, trace_ids, trace_token = self._refusal_span(scope, parent, tracestate)
                    await send_problem(
                        send_wrapper,
                        400,
                        "Bad Request",
                        "invalid Content-Length header",
                        _close(scope),
                        request_id=rid,
                    )
                    return
                if declared > self.max_body:
                    if sampled and span is None:  # FastAPI's telemetry never sees it
                        span, trace_ids, trace_token = self._refusal_span(scope, parent, tracestate)
                    # closing the connection is what spares reading the body at all
                    await send_problem(
                        send_wrapper,
                        413,
                        "Content Too Large",
                        f"request body is {declared} bytes; the limit is {self.max_body}",
                        _close(scope),
                        request_id=rid,
                    )
                    return

            in_flight = self.in_flight_values
            if in_flight is not None:
                in_flight[()] += 1
            try:
                if head and app is self.app and self._serve_head_as_get(scope):
                    # RFC 9110 9.3.2: HEAD is GET without content; FastAPI routes only GET
                    app_scope = {**scope, "method": "GET"}
                    try:
                        await app(app_scope, app_receive, send_wrapper)
                    finally:  # the route the app found labels the request
                        for name, value in app_scope.items():
                            if name != "method":
                                scope[name] = value
                else:
                    await app(scope, app_receive, send_wrapper)
            finally:
                if in_flight is not None:
                    in_flight[()] -= 1
            if not response_started:
                raise RuntimeError("the application returned without sending a response")
        except Exception as error:
            if not body_refused:
                answered_here = not response_started
                if answered_here:
                    status = 500
                    await send_problem(
                        send_wrapper,
                        500,
                        "Internal Server Error",
                        "unexpected error",
                        request_id=rid,
                    )
                span_error = error  # marked on the span as it ends
                logged = True
                self._log(
                    scope,
                    method,
                    status,
                    (started, finished),
                    rid,
                    client,
                    sent_bytes,
                    trace_ids,
                    error,
                )
                if not (answered_here or response_done):
                    # a response cut short: the server must close the connection. A
                    # complete one (an app's error handler answered) stays logged once.
                    raise
        except asyncio.CancelledError:
            # the client went away (or the server is stopping): nginx calls this 499
            status = status or 499
            raise
        finally:
            if span is not None:
                try:
                    self._end_span(span, scope, status, span_error)
                except Exception:  # a span processor's failure must not cost the request
                    _logger.exception("could not end the span of %s %s", method, path)
            if context_token is not None:
                otel_context.detach(context_token)
            if sampled_token is not None:
                request_sampled_var.reset(sampled_token)
            if trace_token is not None:
                trace_ids_var.reset(trace_token)
            request_id_var.reset(rid_token)
            if not logged:
                # every way out (an answer of the layer's own, 4xx/5xx, a cancelled
                # request) leaves exactly one access line and one metrics sample
                self._record(
                    scope,
                    method,
                    status,
                    (started, finished),
                    rid,
                    client,
                    sent_bytes,
                    trace_ids,
                    denied,
                )

    def _label(self, scope: Scope, status: int) -> str:
        """The route template that labels a request once the app is done with it.

        The route the app chose (``scope["route"]``), unless the request went through
        a ``Mount`` (whose own route knows only the part below the mount) or the app
        chose none (a refusal before routing, a plain Starlette route or mount): then
        the template is matched again from the top.
        """
        route = _route_label(scope)
        app_root = scope.get("app_root_path")
        if app_root is not None and scope.get("root_path", "") != app_root:
            return self._matched_route({**scope, "root_path": app_root})
        if route is UNMATCHED_ROUTE and (status in _REFUSED_BEFORE_ROUTING or "endpoint" in scope):
            return self._matched_route(scope)
        return route

    def _matched_route(self, scope: Scope) -> str:
        """The route template of a request the app did not label itself: one refused
        before routing (429, 413, 400), or one Starlette routed to a plain ``Route`` or
        ``Mount`` (FastAPI's ``/openapi.json`` and ``/docs``, static files), which leave
        an ``endpoint`` in the scope but no ``route``.

        Match it against the app's routes here (Starlette and FastAPI apps; anything
        else stays ``<unmatched>``). Answers are remembered per method and path, at
        most ``_MATCHED_ROUTES_KEPT`` of them.
        """
        key = (scope["method"], scope["path"])
        route = self._matched_routes.get(key)
        if route is None:
            route = _match_route(getattr(self.app, "routes", None), scope)
            if len(self._matched_routes) >= _MATCHED_ROUTES_KEPT:
                self._matched_routes.clear()
            self._matched_routes[key] = route
        return route

    def _echo_request_id(self, scope: Scope, send: Send) -> Send:
        """``send`` for a probe or scrape answered without the per-request work: its
        response still carries the request id (the caller's if safe, else a new one)."""
        request_id = None
        for name, value in scope["headers"]:
            if name == self.request_id_header:  # repeated, it is not one safe token
                request_id = value if request_id is None else _DUPLICATED
        if request_id is None or SAFE_REQUEST_ID.fullmatch(request_id) is None:
            request_id = f"{_ID_PREFIX}{next(_ID_COUNTER):016x}".encode("ascii")
        header = (self.request_id_response_header, request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        return send_with_id

    def _serve_head_as_get(self, scope: Scope) -> bool:
        """Whether a HEAD request must be served as a GET: no route of the app takes
        HEAD for its path, and one takes GET. Answers are remembered per path."""
        path = scope["path"]
        answer = self._head_as_get.get(path)
        if answer is None:
            routes = getattr(self.app, "routes", None)
            answer = (
                routes is not None
                and not _serves(routes, scope)
                and _serves(routes, {**scope, "method": "GET"})
            )
            if len(self._head_as_get) >= _MATCHED_ROUTES_KEPT:
                self._head_as_get.clear()
            self._head_as_get[path] = answer
        return answer

    def _exempt_path(self, path: str) -> bool:
        """``exempt_paths`` entries match a path exactly or as a prefix ending at ``/``."""
        for prefix in self.exempt:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return True
        return False

    def _record(
        self,
        scope: Scope,
        method: str,
        status: int,
        times: tuple[float, float],
        rid: str,
        client: str,
        sent_bytes: int,
        trace_ids: tuple[str, str] | None,
        denied: bool,
    ) -> None:
        """Queue the request's access line and metrics sample; ``times`` are when it
        started and when its response was complete (0 when it never was: then now)."""
        if not self.recording:  # neither access log nor metrics: nothing to label
            return
        started, ended = times
        ended = ended or time.perf_counter()
        route = self._label(scope, status)
        if self.metrics and VALIDATION_FAILED in scope:
            self.validation_errors.inc((route,))
        method_label = method if method in KNOWN_METHODS else "_OTHER"
        self.recorder.add(
            (
                ended,
                status,
                method_label,
                route,
                rid,
                scope["path"],
                ended - started,
                client,
                sent_bytes,
                trace_ids,
                denied,
            )
        )

    def _log(
        self,
        scope: Scope,
        method: str,
        status: int,
        times: tuple[float, float],
        rid: str,
        client: str,
        sent_bytes: int,
        trace_ids: tuple[str, str] | None,
        error: BaseException,
    ) -> None:
        """The access line of a failed request, then the error with its traceback."""
        self._record(scope, method, status, times, rid, client, sent_bytes, trace_ids, False)
        token = request_id_var.set(rid)
        # FastAPI's span is no longer current here: the line takes the ids it was given
        trace_token = trace_ids_var.set(trace_ids) if trace_ids is not None else None
        try:
            _logger.error(
                "unhandled error in %s %s", method, self._label(scope, status), exc_info=error
            )
            mark_logged(error)
        finally:
            if trace_token is not None:
                trace_ids_var.reset(trace_token)
            request_id_var.reset(token)

    def _start_span(
        self, scope: Scope, parent: TraceParent | None, tracestate: bytes | None
    ) -> tuple[Any, Token[Context]]:
        """The layer's server span of a sampled request, made current."""
        assert self.tracer is not None
        context = None
        if parent is not None:
            context = trace.set_span_in_context(
                NonRecordingSpan(_span_context(parent, True, tracestate))
            )
        method = scope["method"]
        attributes = {
            "http.request.method": method,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
        }
        if method not in KNOWN_METHODS:  # OpenTelemetry's HTTP conventions
            attributes["http.request.method"] = "_OTHER"
            attributes["http.request.method_original"] = method
            method = "HTTP"
        span = self.tracer.start_span(
            method, context=context, kind=SpanKind.SERVER, attributes=attributes
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        return span, token

    def _refusal_span(
        self, scope: Scope, parent: TraceParent | None, tracestate: bytes | None
    ) -> tuple[Any, tuple[str, str] | None, Token[tuple[str, str] | None]]:
        """The server span of a sampled request the layer refuses (400, 413, 429) before
        FastAPI's telemetry, which would have recorded it, ever sees it; its ids, and
        the token that makes them the request's for logging."""
        span, token = self._start_span(scope, parent, tracestate)
        otel_context.detach(token)  # nothing runs inside it: it only needs ending
        ids = span_ids(span)
        return span, ids, trace_ids_var.set(ids)

    def _end_span(self, span: Any, scope: Scope, status: int, error: BaseException | None) -> None:
        """Label the layer's server span with the response and end it: the exception the
        request failed with, the status code, the route template (in the name too,
        ``{method} {route}``), and a 5xx answer as an error (unless an exception already
        marked it). Only the API's ``Span`` methods: another provider's span (a no-op
        one) has no name or status to read."""
        if error is not None:
            span.set_status(StatusCode.ERROR)
            span.set_attribute("error.type", _exception_type(error))
            with contextlib.suppress(Exception):  # it reads the exception's own text
                span.record_exception(error)
        if status:
            span.set_attribute("http.response.status_code", status)
            route = self._label(scope, status)
            if route is not UNMATCHED_ROUTE:
                span.set_attribute("http.route", route)
                method = scope["method"]
                span.update_name(f"{method if method in KNOWN_METHODS else 'HTTP'} {route}")
            if status >= 500 and error is None:
                span.set_status(StatusCode.ERROR)
                span.set_attribute("error.type", str(status))
        span.end()


def _below(path: str, root_path: str) -> str:
    """``path`` without ``root_path`` in front, as Starlette routes it (``/`` for the
    root path itself); ``path`` when it does not start with it."""
    if not path.startswith(root_path):
        return path
    rest = path[len(root_path) :]
    if not rest:
        return "/"
    return rest if rest[0] == "/" else path


def _close(scope: Scope) -> tuple[tuple[bytes, bytes], ...]:
    """``Connection: close`` for an HTTP/1 refusal, so the rest of the body is never
    read; HTTP/2 and 3 forbid the header (RFC 9113 8.2.2) and end just the stream."""
    return _CLOSE if scope.get("http_version", "1.1") in _HTTP1 else ()


def _complete_allow(app: Any, scope: Scope, headers: Any) -> list[tuple[bytes, bytes]]:
    """Starlette answers 405 with the methods of one route only; list every route's.

    RFC 9110 wants ``Allow`` to name all methods the resource supports, and one path
    is often served by several routes (``GET /orders`` and ``POST /orders``).
    """
    methods: set[str] = set()
    for route in _effective_routes(getattr(app, "routes", ())):
        regex = getattr(route, "path_regex", None)
        route_methods = getattr(route, "methods", None)
        if regex is not None and route_methods and regex.match(scope["path"]):
            methods.update(route_methods)
    if not methods:
        return list(headers)
    if "GET" in methods:
        methods.add("HEAD")  # the layer serves HEAD wherever the app serves GET
    allow = ", ".join(sorted(methods)).encode("latin-1")
    return [(name, value) for name, value in headers if name.lower() != b"allow"] + [
        (b"allow", allow)
    ]


def _span_context(parent: TraceParent, sampled: bool, tracestate: bytes | None) -> SpanContext:
    """The caller's span as a remote parent, flagged with the layer's decision (which
    is the caller's own unless its sampled flag was not followed) and the caller's
    random-trace-id flag, with the caller's ``tracestate``: W3C asks every participant
    to pass both on."""
    return SpanContext(
        trace_id=int(parent.trace_id, 16),
        span_id=int(parent.span_id, 16),
        is_remote=True,
        trace_flags=_TRACE_FLAGS[(parent.flags & _RANDOM_TRACE_ID) | (1 if sampled else 0)],
        trace_state=None if tracestate is None else _trace_state(tracestate),
    )


_RANDOM_TRACE_ID = 0x02  # W3C Trace Context Level 2
_TRACE_FLAGS = [TraceFlags(flags) for flags in range(4)]
_TRACE_STATES: dict[bytes, TraceState] = {}
_TRACE_STATES_KEPT = 1024
_TRACE_STATE_CACHED_LENGTH = 512


def _trace_state(value: bytes) -> TraceState:
    """A ``tracestate`` header as OpenTelemetry reads it (empty when malformed), parsed
    once per distinct value: callers of one service tend to send the same few. Values
    longer than the 512 characters W3C asks participants to carry are parsed every
    time, so that the memory kept stays small whatever callers send."""
    state = _TRACE_STATES.get(value)
    if state is None:
        state = TraceState.from_header([value.decode("latin-1")])
        if len(value) <= _TRACE_STATE_CACHED_LENGTH:
            if len(_TRACE_STATES) >= _TRACE_STATES_KEPT:
                _TRACE_STATES.clear()
            _TRACE_STATES[value] = state
    return state


def _exception_type(error: BaseException) -> str:
    """``error.type`` of an exception, as OpenTelemetry (and FastAPI) spell it."""
    cls = type(error)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def _hide_trace_context(scope: Scope) -> None:
    """Drop two ``traceparent`` headers (and ``tracestate``) from the request, so
    FastAPI's telemetry, which reads them itself, starts a new trace as the layer does:
    its propagator takes the first one, but W3C says two make the context invalid (and
    an invalid ``traceparent`` voids ``tracestate``). The only header the layer refuses
    that OpenTelemetry's propagator would take."""
    scope["headers"] = [
        (name, value) for name, value in scope["headers"] if name not in _TRACE_CONTEXT_HEADERS
    ]


def _native_trace_ids(scope: Scope) -> tuple[str, str] | None:
    """The ids of the server span FastAPI's built-in telemetry opened for this request."""
    span = getattr(scope.get("fastapi.telemetry"), "span", None)
    return None if span is None else span_ids(span)
