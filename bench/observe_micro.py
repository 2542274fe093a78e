"""Observability micro-benchmarks: shipshape's log formatting and metrics against their
usual anchors, all in the same run, best of ``--repeat`` interleaved rounds.

    uv run python bench/observe_micro.py
    uv run python bench/observe_micro.py --ops 50000 --repeat 5

Logs (goal: >= 5x python-json-logger's ``pythonjsonlogger.json.JsonFormatter``):

* a stdlib ``LogRecord`` (message, level, logger, a ``request_id`` and five more
  ``extra=`` fields) through ``shipshape.observe.logs.JsonFormatter.format`` / ``.render``
  against ``JsonFormatter.format`` of python-json-logger configured for the same keys
  (``timestamp``, ``level``, ``message``, ``logger`` + extras). python-json-logger's
  ``OrjsonFormatter`` is a second anchor (same encoder as ours).
* the access line: ``shipshape.service.recorder.access_line`` (the line's dict, encoded
  by ``encode_json``, from the entry ``ProductionMiddleware._record`` queues) against
  python-json-logger formatting a ``LogRecord`` carrying the same eleven fields; and the
  real ``ProductionMiddleware._record`` (metrics off; outside an event loop the entry
  is recorded at once, so each line is one write to /dev/null) against
  python-json-logger's format plus the same write.

Metrics (goal: at least as fast as prometheus_client):

* ``Histogram.observe((method, route), seconds)`` against prometheus_client's
  ``Histogram.labels(method, route).observe(seconds)`` (same buckets, same values,
  twelve label pairs) and, second anchor, a pre-bound child's ``.observe``.
* ``Counter.inc((method, route, status))`` likewise against ``Counter.labels(...).inc()``.

Each timed loop walks the same precomputed inputs; an empty loop over them is timed
too and reported, since it is part of every figure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import prometheus_client
from pythonjsonlogger.json import JsonFormatter as PjlJsonFormatter
from pythonjsonlogger.orjson import OrjsonFormatter as PjlOrjsonFormatter

from shipshape.observe.logs import JsonFormatter
from shipshape.observe.metrics import Counter, Histogram
from shipshape.service import production
from shipshape.service._types import Receive, Scope, Send
from shipshape.service.recorder import Entry, access_line
from shipshape.service.settings import (
    LogSettings,
    MetricsSettings,
    RateLimitSettings,
    ServiceSettings,
    TracingSettings,
)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
METHODS = ("GET", "POST")
ROUTES = ("/", "/orders", "/orders/{order_id}", "/users", "/users/{user_id}", "<unmatched>")
STATUSES = ("200", "201", "404", "422")

Loop = Callable[[], None]


# -- log records --------------------------------------------------------------------------


def app_record() -> logging.LogRecord:
    """An application log line: message, level, logger, request id and five extras."""
    record = logging.LogRecord(
        "orders.api", logging.INFO, __file__, 42, "order %s created", ("A-1042",), None
    )
    extras: dict[str, Any] = {
        "request_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "order_id": 1042,
        "customer": "alice@example.com",
        "items": 3,
        "total": "59.97",
        "paid": True,
    }
    record.__dict__.update(extras)
    return record


def access_fields(index: int) -> dict[str, Any]:
    """The fields of one access line, as ``ProductionMiddleware._record`` writes them."""
    return {
        "request_id": f"{index:032x}",
        "method": "GET",
        "route": "/orders/{order_id}",
        "path": f"/orders/{index}",
        "status": 200,
        "duration_ms": 1.234,
        "client": "127.0.0.1",
        "bytes": 412,
    }


def access_record(index: int) -> logging.LogRecord:
    """The same access line as a stdlib record, the way a python-json-logger stack logs it."""
    fields = access_fields(index)
    record = logging.LogRecord(
        "access", logging.INFO, __file__, 1, "GET /orders/{order_id} 200", None, None
    )
    record.__dict__.update(fields)
    return record


def pjl_formatter(kind: type[PjlJsonFormatter] | type[PjlOrjsonFormatter]) -> logging.Formatter:
    """python-json-logger set up to emit the keys ours emits."""
    return kind(
        "{levelname}{message}{name}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,
    )


@contextmanager
def stdout_to_devnull() -> Any:
    """Point fd 1 at /dev/null for a timed loop that writes lines to stdout."""
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


async def _plain_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The access-line benchmark never calls the app."""


def log_loops(ops: int) -> tuple[dict[str, Loop], dict[str, Loop], list[str]]:
    ours = JsonFormatter()
    pjl = pjl_formatter(PjlJsonFormatter)
    pjl_orjson = pjl_formatter(PjlOrjsonFormatter)
    rng = range(ops)
    # one record per formatter: python-json-logger sets attributes on the record it formats
    rec_ours, rec_pjl, rec_pjl_orjson = app_record(), app_record(), app_record()

    def empty() -> None:
        for _ in rng:
            pass

    def shipshape_format() -> None:
        fmt, record = ours.format, rec_ours
        for _ in rng:
            fmt(record)

    def shipshape_render() -> None:
        render, record = ours.render, rec_ours
        for _ in rng:
            render(record)

    def pjl_format() -> None:
        fmt, record = pjl.format, rec_pjl
        for _ in rng:
            fmt(record)

    def pjl_orjson_format() -> None:
        fmt, record = pjl_orjson.format, rec_pjl_orjson
        for _ in rng:
            fmt(record)

    records = {
        "empty loop": empty,
        "pythonjsonlogger.json.JsonFormatter.format": pjl_format,
        "pythonjsonlogger.orjson.OrjsonFormatter.format": pjl_orjson_format,
        "shipshape JsonFormatter.format (str)": shipshape_format,
        "shipshape JsonFormatter.render (bytes, what the handler writes)": shipshape_render,
    }

    # -- the access line
    fields = access_fields(7)
    arec_pjl = access_record(7)
    settings = ServiceSettings(
        logs=LogSettings(configure_logging=False),
        metrics=MetricsSettings(enabled=False),
        tracing=TracingSettings(enabled=False),
        ratelimit=RateLimitSettings(enabled=False),
    )
    middleware = production(_plain_app, settings).middleware
    scope: Scope = {"type": "http", "path": "/orders/7", "route": None}
    record_line = middleware._record
    devnull = os.open(os.devnull, os.O_WRONLY)

    to_epoch = time.time() - time.perf_counter()
    entry: Entry = (
        time.perf_counter(),
        200,
        fields["method"],
        fields["route"],
        fields["request_id"],
        fields["path"],
        0.001234,
        fields["client"],
        fields["bytes"],
        None,
        False,
    )

    def access_dict_encode() -> None:
        # what the recorder's flush does per request: the line's dict, encoded
        for _ in rng:
            access_line(entry, to_epoch)

    def access_pjl() -> None:
        fmt = pjl.format
        for _ in rng:
            fmt(arec_pjl)

    def access_record_real() -> None:
        started = time.perf_counter()
        rid = fields["request_id"]
        with stdout_to_devnull():
            for _ in rng:
                record_line(scope, "GET", 200, (started, 0.0), rid, "127.0.0.1", 412, None, False)

    def access_pjl_write() -> None:
        fmt = pjl.format
        for _ in rng:
            os.write(devnull, (fmt(arec_pjl) + "\n").encode("utf-8"))

    access = {
        "empty loop": empty,
        "pjl JsonFormatter.format(access record)": access_pjl,
        "shipshape access_line (dict + encode_json)": access_dict_encode,
        "pjl JsonFormatter.format + encode + os.write": access_pjl_write,
        "shipshape ProductionMiddleware._record (writes)": access_record_real,
    }

    samples = [
        "pjl JsonFormatter   " + pjl.format(app_record()),
        "pjl OrjsonFormatter " + pjl_orjson.format(app_record()),
        "shipshape           " + ours.format(app_record()),
        "pjl access          " + pjl.format(access_record(7)),
    ]
    _check_same_keys(ours.format(app_record()), pjl.format(app_record()))
    return records, access, samples


def _check_same_keys(ours: str, anchor: str) -> None:
    mine, theirs = json.loads(ours), json.loads(anchor)
    if set(mine) != set(theirs):
        raise SystemExit(f"the formatters emit different keys: {sorted(mine)} vs {sorted(theirs)}")
    for key in ("message", "level", "logger", "request_id", "order_id", "customer"):
        if mine[key] != theirs[key]:
            raise SystemExit(f"the formatters disagree on {key}: {mine[key]!r} vs {theirs[key]!r}")


# -- metrics ------------------------------------------------------------------------------


def metric_loops(ops: int) -> tuple[dict[str, Loop], dict[str, Loop]]:
    rand = random.Random(3)
    pairs = [(method, route) for method in METHODS for route in ROUTES]
    inputs = [
        (*rand.choice(pairs), rand.lognormvariate(-5.0, 1.2), rand.choice(STATUSES))
        for _ in range(ops)
    ]
    registry = prometheus_client.CollectorRegistry()
    p_hist = prometheus_client.Histogram(
        "http_request_duration_seconds",
        "latency",
        ["method", "route"],
        buckets=BUCKETS,
        registry=registry,
    )
    p_count = prometheus_client.Counter(
        "http_requests_total", "requests", ["method", "route", "status"], registry=registry
    )
    s_hist = Histogram("http_request_duration_seconds", "latency", ("method", "route"), BUCKETS)
    s_count = Counter("http_requests_total", "requests", ("method", "route", "status"))
    bound_hist = p_hist.labels("GET", "/orders/{order_id}")
    bound_count = p_count.labels("GET", "/orders/{order_id}", "200")

    def empty() -> None:
        for _method, _route, _value, _status in inputs:
            pass

    def prom_observe() -> None:
        labels = p_hist.labels
        for method, route, value, _status in inputs:
            labels(method, route).observe(value)

    def prom_bound_observe() -> None:
        observe = bound_hist.observe
        for _method, _route, value, _status in inputs:
            observe(value)

    def ours_observe() -> None:
        observe = s_hist.observe
        for method, route, value, _status in inputs:
            observe((method, route), value)

    def prom_inc() -> None:
        labels = p_count.labels
        for method, route, _value, status in inputs:
            labels(method, route, status).inc()

    def prom_bound_inc() -> None:
        inc = bound_count.inc
        for _method, _route, _value, _status in inputs:
            inc()

    def ours_inc() -> None:
        inc = s_count.inc
        for method, route, _value, status in inputs:
            inc((method, route, status))

    histogram = {
        "empty loop": empty,
        "prometheus_client Histogram.labels(m, r).observe(v)": prom_observe,
        "prometheus_client pre-bound child .observe(v)": prom_bound_observe,
        "shipshape Histogram.observe((m, r), v)": ours_observe,
    }
    counter = {
        "empty loop": empty,
        "prometheus_client Counter.labels(m, r, s).inc()": prom_inc,
        "prometheus_client pre-bound child .inc()": prom_bound_inc,
        "shipshape Counter.inc((m, r, s))": ours_inc,
    }
    return histogram, counter


# -- running ------------------------------------------------------------------------------


def best_times(loops: dict[str, Loop], repeat: int) -> dict[str, float]:
    best = dict.fromkeys(loops, float("inf"))
    for _ in range(repeat):
        for name, loop in loops.items():
            started = time.perf_counter()
            loop()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def report(
    title: str, loops: dict[str, Loop], ops: int, repeat: int, anchor: str
) -> dict[str, float]:
    best = best_times(loops, repeat)
    print(f"{title}: {ops:,} ops, best of {repeat}")
    base = best[anchor]
    for name, seconds in best.items():
        per_op = seconds / ops * 1e9
        if name == "empty loop":
            note = "(loop overhead, included in every line)"
        elif name == anchor:
            note = "(anchor)"
        else:
            note = f"x{base / seconds:5.2f} vs anchor"
        print(f"  {name:<66} {per_op:>8,.0f} ns/op  {note}")
    return {name: base / seconds for name, seconds in best.items()}


def verdict(goal: str, ratio: float, target: float) -> None:
    print(f"  goal: {goal} (x{ratio:.2f}): {'met' if ratio >= target else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ops", type=int, default=20_000, help="calls per timed loop")
    parser.add_argument("--repeat", type=int, default=15, help="rounds; the best counts")
    parser.add_argument("--samples", action="store_true", help="print one line of each format")
    args = parser.parse_args()
    if args.ops < 1 or args.repeat < 1:
        parser.error("--ops and --repeat must be positive")

    records, access, samples = log_loops(args.ops)
    if args.samples:
        print("\n".join(samples))
    pjl = "pythonjsonlogger.json.JsonFormatter.format"
    ratios = report("log record formatting", records, args.ops, args.repeat, pjl)
    verdict(
        "JsonFormatter.format >= 5x python-json-logger",
        ratios["shipshape JsonFormatter.format (str)"],
        5.0,
    )
    versus_orjson = (
        ratios["shipshape JsonFormatter.format (str)"]
        / ratios["pythonjsonlogger.orjson.OrjsonFormatter.format"]
    )
    print(f"  vs python-json-logger's OrjsonFormatter: x{versus_orjson:.2f}")
    ratios = report(
        "access line", access, args.ops, args.repeat, "pjl JsonFormatter.format(access record)"
    )
    verdict(
        "access_line >= 5x python-json-logger",
        ratios["shipshape access_line (dict + encode_json)"],
        5.0,
    )
    written = (
        ratios["shipshape ProductionMiddleware._record (writes)"]
        / ratios["pjl JsonFormatter.format + encode + os.write"]
    )
    print(f"  with the write to /dev/null on both sides: x{written:.2f}")

    histogram, counter = metric_loops(args.ops)
    ratios = report(
        "histogram observe",
        histogram,
        args.ops,
        args.repeat,
        "prometheus_client Histogram.labels(m, r).observe(v)",
    )
    verdict(
        "Histogram.observe at least as fast as prometheus_client (labels included)",
        ratios["shipshape Histogram.observe((m, r), v)"],
        1.0,
    )
    bound = (
        ratios["shipshape Histogram.observe((m, r), v)"]
        / ratios["prometheus_client pre-bound child .observe(v)"]
    )
    print(f"  vs prometheus_client's pre-bound child: x{bound:.2f}")
    ratios = report(
        "counter inc",
        counter,
        args.ops,
        args.repeat,
        "prometheus_client Counter.labels(m, r, s).inc()",
    )
    verdict(
        "Counter.inc at least as fast as prometheus_client (labels included)",
        ratios["shipshape Counter.inc((m, r, s))"],
        1.0,
    )
    bound = (
        ratios["shipshape Counter.inc((m, r, s))"]
        / ratios["prometheus_client pre-bound child .inc()"]
    )
    print(f"  vs prometheus_client's pre-bound child: x{bound:.2f}")


if __name__ == "__main__":
    main()
