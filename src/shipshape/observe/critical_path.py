"""The critical path of a real trace, computed the way Jaeger UI computes it.

The critical path is the blocking path walked back from the root's end: at each
point, the child that finished last before that point comes first, then the
parent's own time before it. Children are clamped to their parent's window
(dropped when wholly outside), so the sections add up to the root's duration.
PRODUCER→CONSUMER children and FOLLOWS_FROM children are not blocking.

This reproduces ``packages/jaeger-ui/src/components/TracePage/CriticalPath`` of
jaegertracing/jaeger-ui (``createCPSpanMap``, ``sanitizeOverFlowingChildren``,
``findLastFinishingChildSpan``, ``computeCriticalPath``) iteratively, in
O(n log n), with two deliberate differences: a span none of whose references is
in the file becomes a root of its own (with a warning) where Jaeger UI shows
nothing, and a time of 0 is a time, not "no time". Times are integer
microseconds, as in Jaeger.

The course's seed ``find_critical_path`` (the longest root-to-leaf chain) lives in
``tracing.py`` and keeps its own semantics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

__all__ = [
    "PathSection",
    "RootPath",
    "SpanRef",
    "Trace",
    "TraceCriticalPath",
    "TraceSpan",
    "critical_paths",
    "self_time",
]

RefType = Literal["CHILD_OF", "FOLLOWS_FROM"]


@dataclass(frozen=True, slots=True)
class SpanRef:
    """A span's reference to another span of the same trace (Jaeger's model)."""

    span_id: str
    ref_type: RefType = "CHILD_OF"


@dataclass(frozen=True, slots=True)
class TraceSpan:
    """One span, in Jaeger's units: integer microseconds since the epoch."""

    span_id: str
    service: str
    operation: str
    start_us: int
    duration_us: int
    kind: str = ""
    references: tuple[SpanRef, ...] = ()

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us


@dataclass(frozen=True, slots=True)
class Trace:
    """The spans of one trace, with the warnings raised while reading them."""

    trace_id: str
    spans: tuple[TraceSpan, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PathSection:
    """A stretch of the critical path spent in one span (absolute µs)."""

    span_id: str
    service: str
    operation: str
    start_us: int
    end_us: int
    self_time_us: int

    @property
    def duration_us(self) -> int:
        return self.end_us - self.start_us


@dataclass(frozen=True, slots=True)
class RootPath:
    """The critical path below one root span, sections in chronological order."""

    root: TraceSpan
    sections: tuple[PathSection, ...]


@dataclass(frozen=True, slots=True)
class TraceCriticalPath:
    trace_id: str
    paths: tuple[RootPath, ...]
    warnings: tuple[str, ...]


def _label(span: TraceSpan) -> str:
    return f"span {span.span_id} ({span.service}: {span.operation})"


def self_time(span: TraceSpan, children: list[TraceSpan]) -> int:
    """Jaeger UI's self time: the span's duration minus the union of its children.

    ``children`` must be sorted by start time; they are clamped to the span's window.
    """
    return _self_time(
        span.start_us, span.end_us, [(child.start_us, child.end_us) for child in children]
    )


def _self_time(start: int, end: int, children: Iterable[tuple[int, int]]) -> int:
    remaining = end - start
    previous_end = start
    for child_start, child_end in children:
        if child_start > end or child_end < previous_end:
            continue
        clamped_end = min(end, child_end)
        remaining -= clamped_end - max(previous_end, child_start)
        if clamped_end == end:
            break
        previous_end = child_end
    return max(0, remaining)


def critical_paths(trace: Trace) -> TraceCriticalPath:
    """The critical path of every root of ``trace`` (roots in start-time order).

    Raises ``ValueError`` naming a span when parent references form a cycle.
    """
    spans = trace.spans
    count = len(spans)
    warnings = list(trace.warnings)
    index_of: dict[str, int] = {}
    renamed: dict[int, str] = {}
    copies: dict[str, int] = {}
    for index, span in enumerate(spans):
        if index_of.setdefault(span.span_id, index) != index:
            copy = copies.get(span.span_id, 1)
            copies[span.span_id] = copy + 1
            renamed[index] = f"{span.span_id}_{copy}"
            warnings.append(f"{_label(span)}: duplicate span id, read as {renamed[index]}")

    parents = [-1] * count
    blocking = bytearray(count)
    for index, span in enumerate(spans):
        references = span.references
        if not references:
            continue
        if len(references) == 1:
            ref = references[0]
            parent, ref_type = index_of.get(ref.span_id, -1), ref.ref_type
            missing: SpanRef | None = ref if parent < 0 else None
        else:
            parent, ref_type, missing = _resolve_parent(span, index_of)
        if missing is not None:
            outcome = (
                "treated as a root"
                if parent < 0
                else f"read as a FOLLOWS_FROM (not blocking) child of {spans[parent].span_id}"
            )
            warnings.append(
                f"{_label(span)}: parent {missing.span_id} ({missing.ref_type}) is not in "
                f"the file (a partial export?); {outcome}"
            )
        if parent < 0:
            continue
        parents[index] = parent
        blocking[index] = ref_type == "CHILD_OF" and not (
            span.kind == "consumer" and spans[parent].kind == "producer"
        )

    starts = [span.start_us for span in spans]
    first = [0] * (count + 1)
    for parent in parents:
        if parent >= 0:
            first[parent + 1] += 1
    for index in range(count):
        first[index + 1] += first[index]
    fill = first[:]
    flat = [0] * first[count]
    roots: list[int] = []
    for index in sorted(range(count), key=starts.__getitem__):
        parent = parents[index]
        if parent < 0:
            roots.append(index)
        else:
            flat[fill[parent]] = index
            fill[parent] += 1
    tree = _Tree(
        spans,
        renamed,
        parents,
        blocking,
        first,
        flat,
        starts=starts,
        ends=[span.start_us + span.duration_us for span in spans],
        kept=[0] * len(flat),
        kept_stop=fill,
        cursor=first[:],
    )
    tree.check_reachable(trace, roots)
    paths = tuple(_root_path(tree, root) for root in roots)
    return TraceCriticalPath(trace.trace_id, paths, tuple(warnings))


@dataclass(slots=True)
class _Tree:
    """The span tree as flat arrays: the children of span ``i`` are
    ``flat[first[i]:first[i + 1]]``, in start-time order.

    Per root, ``starts``/``ends`` get clamped and the blocking children kept (in
    last-finishing order) in ``kept[first[i]:kept_stop[i]]``; every span belongs to
    exactly one root's tree, so the roots share these arrays.
    """

    spans: tuple[TraceSpan, ...]
    renamed: dict[int, str]
    parents: list[int]
    blocking: bytearray
    first: list[int]
    flat: list[int]
    starts: list[int]
    ends: list[int]
    kept: list[int]
    kept_stop: list[int]
    cursor: list[int]
    self_times: dict[int, int] = field(default_factory=dict)

    def span_id(self, node: int) -> str:
        return self.renamed.get(node) or self.spans[node].span_id

    def self_time(self, node: int) -> int:
        own = self.self_times.get(node)
        if own is None:
            first, flat, spans = self.first, self.flat, self.spans
            span = spans[node]
            if first[node] == first[node + 1]:
                own = span.duration_us
            else:
                own = _self_time(
                    span.start_us,
                    span.end_us,
                    (
                        (spans[child].start_us, spans[child].end_us)
                        for child in flat[first[node] : first[node + 1]]
                    ),
                )
            self.self_times[node] = own
        return own

    def check_reachable(self, trace: Trace, roots: list[int]) -> None:
        first, flat = self.first, self.flat
        reached = bytearray(len(self.parents))
        stack = list(roots)
        while stack:
            node = stack.pop()
            reached[node] = 1
            stack.extend(flat[first[node] : first[node + 1]])
        if all(reached):
            return
        node = reached.index(0)
        visited: set[int] = set()
        while node not in visited:
            visited.add(node)
            node = self.parents[node]
        raise ValueError(
            f"trace {trace.trace_id}: {_label(trace.spans[node])}: is part of a parent cycle"
        )


def _resolve_parent(
    span: TraceSpan, index_of: dict[str, int]
) -> tuple[int, RefType, SpanRef | None]:
    """The first CHILD_OF reference present, else the first FOLLOWS_FROM one.

    The third item is the reference to report as missing from the file: the first
    CHILD_OF one when the parent falls back to a FOLLOWS_FROM reference, the first
    reference of all (CHILD_OF first) when none is present (the parent is then -1),
    else ``None``.
    """
    missing: SpanRef | None = None
    for wanted in ("CHILD_OF", "FOLLOWS_FROM"):
        for ref in span.references:
            if ref.ref_type != wanted:
                continue
            parent = index_of.get(ref.span_id, -1)
            if parent >= 0:
                # only a CHILD_OF parent replaced by a FOLLOWS_FROM one is reported
                if wanted == "CHILD_OF" or (missing and missing.ref_type != "CHILD_OF"):
                    missing = None
                return parent, ref.ref_type, missing
            missing = missing or ref
    if missing is None:
        raise AssertionError("a span with references has a CHILD_OF or FOLLOWS_FROM one")
    return -1, missing.ref_type, missing


def _root_path(tree: _Tree, root: int) -> RootPath:
    spans, blocking, flat, first = tree.spans, tree.blocking, tree.flat, tree.first
    starts, ends, kept, kept_stop = tree.starts, tree.ends, tree.kept, tree.kept_stop
    stack = [root]
    while stack:
        node = stack.pop()
        parent_start, parent_end = starts[node], ends[node]
        begin = stop = first[node]
        for position in range(begin, first[node + 1]):
            child = flat[position]
            if not blocking[child]:
                continue
            start, end = starts[child], ends[child]
            if start >= parent_start:
                if start >= parent_end:
                    continue
                if end > parent_end:
                    ends[child] = parent_end
            else:
                if end <= parent_start:
                    continue
                starts[child] = parent_start
                if end > parent_end:
                    ends[child] = parent_end
            kept[stop] = child
            stop += 1
        kept_stop[node] = stop
        if stop - begin > 1:
            kept[begin:stop] = sorted(kept[begin:stop], key=lambda child: -ends[child])
        stack.extend(kept[begin:stop])

    # Sections as found, latest first, in three parallel int lists (no per-section tuples).
    nodes: list[int] = []
    section_starts: list[int] = []
    section_ends: list[int] = []
    cursor = tree.cursor
    node = root
    returning_from: int | None = None
    while True:
        position, stop = cursor[node], kept_stop[node]
        if returning_from is not None:
            while position < stop and ends[kept[position]] >= returning_from:
                position += 1
            cursor[node] = position
        section_end = ends[node] if returning_from is None else returning_from
        if position < stop:
            child = kept[position]
            if ends[child] != section_end:
                nodes.append(node)
                section_starts.append(ends[child])
                section_ends.append(section_end)
            node, returning_from = child, None
            continue
        if starts[node] != section_end:
            nodes.append(node)
            section_starts.append(starts[node])
            section_ends.append(section_end)
        if node == root:
            break
        returning_from = starts[node]
        node = tree.parents[node]

    sections: list[PathSection] = []
    index = len(nodes) - 1
    while index >= 0:
        node, start, end = nodes[index], section_starts[index], section_ends[index]
        index -= 1
        while index >= 0 and nodes[index] == node and section_starts[index] == end:
            end = section_ends[index]
            index -= 1
        span = spans[node]
        sections.append(
            PathSection(
                tree.span_id(node), span.service, span.operation, start, end, tree.self_time(node)
            )
        )
    root_span = spans[root]
    if root in tree.renamed:  # a duplicate id: the root as its sections name it
        root_span = replace(root_span, span_id=tree.renamed[root])
    return RootPath(root_span, tuple(sections))
