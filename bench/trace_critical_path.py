"""Critical path of real trace exports: parsing and the Jaeger-UI walk, against anchors.

    uv run python bench/trace_critical_path.py [SPANS]

One synthetic OTLP JSON export of SPANS spans (default 100,000: a random tree, fan-out
and overlap included) and a deep chain of 1,000,000 spans. Anchors measured in the
same run: ``orjson.loads`` of the same bytes (the floor for reading the file) and the
seed ``find_critical_path`` (the course's linear longest-chain walk) over the same
tree. Ratios are ours / anchor (time: >1 is slower). Best of 3 runs each.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

from shipshape.observe.critical_path import SpanRef, Trace, TraceSpan, critical_paths
from shipshape.observe.trace_formats import parse_otlp
from shipshape.observe.tracing import find_critical_path

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def best(func: Callable[[], object], repeat: int = 3) -> float:
    fastest = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        fastest = min(fastest, time.perf_counter() - started)
    return fastest


def report(name: str, seconds: float, anchor: float) -> None:
    print(f"{name:<52} {seconds * 1000:10.1f} ms  x{seconds / anchor:6.2f}")


def random_tree(count: int, rng: random.Random) -> list[tuple[int, int, int]]:
    """(parent index or -1, start ns, end ns) per span; parents come first."""
    spans = [(-1, 1_700_000_000_000_000_000, 1_700_000_000_000_000_000 + 10**9)]
    for index in range(1, count):
        parent = max(0, index - 1 - int(rng.expovariate(1 / 20)))
        _, start, end = spans[parent]
        length = end - start
        child_start = start + rng.randrange(max(1, length))
        child_end = child_start + rng.randrange(max(1, length // 2 + 1000))
        spans.append((parent, child_start, child_end))
    return spans


def otlp_bytes(tree: list[tuple[int, int, int]]) -> bytes:
    spans: list[dict[str, Any]] = []
    for index, (parent, start, end) in enumerate(tree):
        spans.append(
            {
                "traceId": TRACE_ID,
                "spanId": f"{index + 1:016x}",
                "parentSpanId": f"{parent + 1:016x}" if parent >= 0 else "",
                "name": f"operation {index % 50}",
                "kind": 1 + index % 5,
                "startTimeUnixNano": str(start),
                "endTimeUnixNano": str(end),
                "attributes": [{"key": "http.route", "value": {"stringValue": "/orders/{id}"}}],
            }
        )
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "bench"}}]}
    document = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}
    return orjson.dumps(document)


def exports(count: int) -> None:
    tree = random_tree(count, random.Random(7))
    raw = otlp_bytes(tree)
    seed_spans = [
        {"service": "bench", "duration_ms": (end - start) / 1e6, "parent_id": parent}
        for parent, start, end in ((p if p >= 0 else None, s, e) for p, s, e in tree)
    ]
    print(f"OTLP JSON export: {count:,} spans, {len(raw) / 1e6:.1f} MB")
    loads = best(lambda: orjson.loads(raw))
    seed = best(lambda: find_critical_path(seed_spans))
    (trace,) = parse_otlp(orjson.loads(raw))
    parse = best(lambda: parse_otlp(orjson.loads(raw)))
    walk = best(lambda: critical_paths(trace))
    sections = sum(len(path.sections) for path in critical_paths(trace).paths)
    report("anchor orjson.loads(file)", loads, loads)
    report("anchor seed find_critical_path (same tree)", seed, seed)
    report("parse_otlp(orjson.loads(file)) vs orjson.loads", parse, loads)
    report(f"critical_paths ({sections} sections) vs seed", walk, seed)
    report("file to critical path vs orjson.loads", parse + walk, loads)


def deep_chain(count: int = 1_000_000) -> None:
    spans = [TraceSpan("s0", "bench", "op", 0, count)]
    spans.extend(
        TraceSpan(f"s{i}", "bench", "op", i, count - i, "", (SpanRef(f"s{i - 1}"),))
        for i in range(1, count)
    )
    trace = Trace("deep", tuple(spans))
    seed_spans = [
        {"service": "bench", "duration_ms": 1, "parent_id": None if i == 0 else i - 1}
        for i in range(count)
    ]
    print(f"deep chain: {count:,} spans, each starting 1 µs after its parent")
    seed = best(lambda: find_critical_path(seed_spans))
    walk = best(lambda: critical_paths(trace))
    report("anchor seed find_critical_path", seed, seed)
    report("critical_paths vs seed", walk, seed)


if __name__ == "__main__":
    exports(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
    print()
    deep_chain()
