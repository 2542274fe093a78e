"""The Jaeger-UI critical path core: sections, clamping, blocking rules, invariants."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipshape.observe.critical_path import (
    SpanRef,
    Trace,
    TraceSpan,
    critical_paths,
    self_time,
)


def span(
    span_id: str,
    start: int,
    duration: int,
    parent: str | None = None,
    *,
    ref_type: str = "CHILD_OF",
    kind: str = "",
    service: str = "svc",
) -> TraceSpan:
    references = (SpanRef(parent, ref_type),) if parent is not None else ()  # type: ignore[arg-type]
    return TraceSpan(span_id, service, f"op {span_id}", start, duration, kind, references)


def sections(*spans: TraceSpan) -> list[tuple[str, int, int]]:
    """(span id, start, end) of the only root's critical path."""
    result = critical_paths(Trace("t", spans))
    assert len(result.paths) == 1
    return [(s.span_id, s.start_us, s.end_us) for s in result.paths[0].sections]


def test_sequential_children_alternate_with_the_parents_own_time() -> None:
    assert sections(
        span("root", 0, 100),
        span("a", 10, 20, "root"),
        span("b", 40, 30, "root"),
    ) == [("root", 0, 10), ("a", 10, 30), ("root", 30, 40), ("b", 40, 70), ("root", 70, 100)]


def test_of_overlapping_children_the_last_finishing_blocks_and_earlier_overlap_is_skipped() -> None:
    assert sections(
        span("root", 0, 100),
        span("a", 10, 40, "root"),
        span("c", 20, 40, "root"),
    ) == [("root", 0, 20), ("c", 20, 60), ("root", 60, 100)]


def test_children_finishing_together_resolve_to_the_earliest_started() -> None:
    assert sections(
        span("root", 0, 100),
        span("late", 30, 30, "root"),
        span("early", 20, 40, "root"),
    ) == [("root", 0, 20), ("early", 20, 60), ("root", 60, 100)]


def test_a_child_ending_exactly_where_the_next_starts_is_not_before_it() -> None:
    # Jaeger UI looks for children that end strictly before the returning child's start.
    assert sections(
        span("root", 0, 100),
        span("a", 0, 50, "root"),
        span("b", 50, 50, "root"),
    ) == [("root", 0, 50), ("b", 50, 100)]


def test_a_child_outliving_its_parent_is_clamped_to_the_parents_end() -> None:
    assert sections(
        span("root", 0, 100),
        span("b", 50, 100, "root"),
        span("g", 40, 30, "b"),
    ) == [("root", 0, 50), ("g", 50, 70), ("b", 70, 100)]


def test_a_child_starting_before_its_parent_is_clamped_to_the_parents_start() -> None:
    assert sections(span("root", 10, 20), span("b", 5, 30, "root")) == [("b", 10, 30)]


@pytest.mark.parametrize(
    ("start", "duration"),
    [(130, 10), (120, 5), (90, 10), (80, 5)],
    ids=["after", "at-the-end", "ending-at-the-start", "before"],
)
def test_a_child_wholly_outside_its_parent_is_dropped_with_its_subtree(
    start: int, duration: int
) -> None:
    assert sections(
        span("root", 100, 20),
        span("out", start, duration, "root"),
        span("below", start, duration, "out"),
    ) == [("root", 100, 120)]


def test_producer_to_consumer_and_follows_from_children_do_not_block() -> None:
    assert sections(
        span("root", 0, 100, kind="server"),
        span("publish", 10, 50, "root", kind="producer"),
        span("handle", 20, 30, "publish", kind="consumer"),
        span("audit", 70, 25, "root", ref_type="FOLLOWS_FROM"),
    ) == [("root", 0, 10), ("publish", 10, 60), ("root", 60, 100)]


def test_a_consumer_under_a_non_producer_still_blocks() -> None:
    assert sections(
        span("root", 0, 100, kind="server"),
        span("handle", 20, 30, "root", kind="consumer"),
    ) == [("root", 0, 20), ("handle", 20, 50), ("root", 50, 100)]


def test_a_span_whose_parent_is_missing_becomes_its_own_root_with_a_warning() -> None:
    result = critical_paths(
        Trace(
            "t",
            (
                span("orphan", 10, 40, "gone"),
                span("root", 0, 100),
                span("child", 20, 20, "orphan"),
            ),
        )
    )
    assert [path.root.span_id for path in result.paths] == ["root", "orphan"]
    assert [(s.span_id, s.start_us, s.end_us) for s in result.paths[1].sections] == [
        ("orphan", 10, 20),
        ("child", 20, 40),
        ("orphan", 40, 50),
    ]
    assert len(result.warnings) == 1
    assert "span orphan (svc: op orphan)" in result.warnings[0]
    assert "parent gone (CHILD_OF) is not in the file" in result.warnings[0]


def test_a_missing_child_of_parent_falls_back_to_a_present_follows_from_one() -> None:
    job = TraceSpan(
        "job", "svc", "op", 10, 50, "", (SpanRef("gone"), SpanRef("root", "FOLLOWS_FROM"))
    )
    result = critical_paths(Trace("t", (span("root", 0, 100), job)))
    (path,) = result.paths  # one root: the job is the root's (not blocking) child
    assert [(s.span_id, s.start_us, s.end_us, s.self_time_us) for s in path.sections] == [
        ("root", 0, 100, 50)  # off the path, in the root's self time
    ]
    assert result.warnings == (
        "span job (svc: op): parent gone (CHILD_OF) is not in the file (a partial "
        "export?); read as a FOLLOWS_FROM (not blocking) child of root",
    )


def test_a_present_child_of_parent_wins_over_a_follows_from_one_without_warnings() -> None:
    child = TraceSpan(
        "child",
        "svc",
        "op",
        10,
        50,
        "",
        (SpanRef("lost", "FOLLOWS_FROM"), SpanRef("gone"), SpanRef("root"), SpanRef("other")),
    )
    result = critical_paths(Trace("t", (span("root", 0, 100), span("other", 0, 5), child)))
    assert [s.span_id for s in result.paths[0].sections] == ["root", "child", "root"]
    assert result.warnings == ()


def test_with_no_reference_present_the_first_child_of_one_is_named() -> None:
    orphan = TraceSpan(
        "orphan", "svc", "op", 10, 10, "", (SpanRef("gone2", "FOLLOWS_FROM"), SpanRef("gone"))
    )
    result = critical_paths(Trace("t", (span("root", 0, 100), orphan)))
    assert [path.root.span_id for path in result.paths] == ["root", "orphan"]
    assert "parent gone (CHILD_OF) is not in the file" in result.warnings[0]
    assert result.warnings[0].endswith("treated as a root")


def test_times_of_zero_are_times() -> None:
    assert sections(span("root", 0, 10), span("a", 0, 5, "root")) == [
        ("a", 0, 5),
        ("root", 5, 10),
    ]


def test_adjacent_sections_of_one_span_are_merged() -> None:
    assert sections(span("root", 0, 10), span("instant", 4, 0, "root")) == [("root", 0, 10)]


def test_a_zero_duration_root_has_an_empty_path() -> None:
    assert sections(span("root", 5, 0)) == []


def test_duplicate_span_ids_are_renamed_as_jaeger_ui_does() -> None:
    result = critical_paths(Trace("t", (span("x", 0, 10), span("x", 20, 10))))
    assert [path.sections[0].span_id for path in result.paths] == ["x", "x_1"]
    assert result.warnings == ("span x (svc: op x): duplicate span id, read as x_1",)


def test_a_root_with_a_duplicate_id_is_named_as_its_sections_name_it() -> None:
    result = critical_paths(Trace("t", (span("x", 0, 10), span("x", 20, 10))))
    assert [(path.root.span_id, path.root.start_us) for path in result.paths] == [
        ("x", 0),
        ("x_1", 20),
    ]


@pytest.mark.parametrize(
    "spans",
    [
        (span("a", 0, 10, "b"), span("b", 0, 10, "a")),
        (span("root", 0, 10), span("self", 0, 10, "self")),
    ],
    ids=["two-span-cycle", "self-parent"],
)
def test_parent_cycles_raise_naming_a_span(spans: tuple[TraceSpan, ...]) -> None:
    with pytest.raises(ValueError, match=r"trace t: span \w+ .*: is part of a parent cycle"):
        critical_paths(Trace("t", spans))


def test_self_time_subtracts_the_union_of_children_clamped_to_the_span() -> None:
    parent = span("p", 100, 100)
    children = [span("a", 90, 30), span("b", 110, 20), span("c", 150, 100), span("d", 300, 5)]
    assert self_time(parent, children) == 100 - (30 - 0) - (50)
    assert self_time(parent, []) == 100


def test_sections_carry_the_spans_service_operation_and_self_time() -> None:
    result = critical_paths(
        Trace("t", (span("root", 0, 100, service="api"), span("a", 10, 20, "root", service="db")))
    )
    section = result.paths[0].sections[1]
    assert (section.service, section.operation, section.duration_us) == ("db", "op a", 20)
    assert result.paths[0].sections[0].self_time_us == 80


def test_a_million_span_deep_chain_needs_no_recursion() -> None:
    count = 1_000_000
    gc.disable()  # building a million objects is the slow part: skip collections meanwhile
    try:
        spans = [span("s0", 0, 100)]
        spans.extend(span(f"s{i}", 0, 100, f"s{i - 1}") for i in range(1, count))
        trace = Trace("deep", tuple(spans))
        gc.freeze()
    finally:
        gc.enable()
    try:
        result = critical_paths(trace)
    finally:
        gc.unfreeze()
    assert [(s.span_id, s.start_us, s.end_us) for s in result.paths[0].sections] == [
        (f"s{count - 1}", 0, 100)
    ]


# --- a literal port of Jaeger UI's recursive algorithm, to check the iterative one against ---


def jaeger_reference(spans: list[TraceSpan]) -> list[list[tuple[str, int, int]]]:
    by_id = {s.span_id: s for s in spans}
    parent_of: dict[str, str] = {}
    blocking: dict[str, bool] = {}
    for s in spans:
        for wanted in ("CHILD_OF", "FOLLOWS_FROM"):
            ref = next((r for r in s.references if r.ref_type == wanted), None)
            if ref is not None:
                parent_of[s.span_id] = ref.span_id
                parent = by_id[ref.span_id]
                blocking[s.span_id] = wanted == "CHILD_OF" and not (
                    parent.kind == "producer" and s.kind == "consumer"
                )
                break
    order = {s.span_id: i for i, s in enumerate(spans)}

    def children_of(span_id: str) -> list[TraceSpan]:
        kids = [s for s in spans if parent_of.get(s.span_id) == span_id]
        return sorted(kids, key=lambda s: (s.start_us, order[s.span_id]))

    roots = sorted(
        (s for s in spans if s.span_id not in parent_of),
        key=lambda s: (s.start_us, order[s.span_id]),
    )

    def one_root(root: TraceSpan) -> list[tuple[str, int, int]]:
        cp: dict[str, dict[str, Any]] = {}

        def create(s: TraceSpan) -> None:
            node: dict[str, Any] = {"start": s.start_us, "end": s.end_us, "children": []}
            cp[s.span_id] = node
            for child in children_of(s.span_id):
                if blocking[child.span_id]:
                    node["children"].append(child.span_id)
                    create(child)

        create(root)
        for span_id in list(cp):
            node = cp[span_id]
            if span_id not in parent_of:
                continue
            parent = cp.get(parent_of[span_id])
            if parent is None:
                del cp[span_id]
                continue
            if node["start"] >= parent["start"]:
                if node["start"] >= parent["end"]:
                    del cp[span_id]
                    parent["children"].remove(span_id)
                elif node["end"] > parent["end"]:
                    node["end"] = parent["end"]
            elif node["end"] <= parent["start"]:
                del cp[span_id]
                parent["children"].remove(span_id)
            elif node["end"] <= parent["end"]:
                node["start"] = parent["start"]
            else:
                node["start"], node["end"] = parent["start"], parent["end"]

        path: list[tuple[str, int, int]] = []

        def compute(span_id: str, returning: int | None = None) -> None:
            node = cp[span_id]
            best, best_end = None, -1
            for child in node["children"]:
                end = cp[child]["end"]
                if (returning is None or end < returning) and end > best_end:
                    best, best_end = child, end
            section_end = node["end"] if returning is None else returning
            if best is not None:
                if best_end != section_end:
                    path.append((span_id, best_end, section_end))
                compute(best)
            else:
                if node["start"] != section_end:
                    path.append((span_id, node["start"], section_end))
                if span_id in parent_of:
                    compute(parent_of[span_id], node["start"])

        compute(root.span_id)
        merged: list[tuple[str, int, int]] = []
        for span_id, start, end in reversed(path):
            if merged and merged[-1][0] == span_id and merged[-1][2] == start:
                merged[-1] = (span_id, merged[-1][1], end)
            else:
                merged.append((span_id, start, end))
        return merged

    return [one_root(root) for root in roots]


@st.composite
def traces(draw: st.DrawFn) -> list[TraceSpan]:
    count = draw(st.integers(1, 14))
    spans = []
    for index in range(count):
        parent = draw(st.one_of(st.none(), st.integers(0, index - 1))) if index else None
        spans.append(
            span(
                f"s{index}",
                draw(st.integers(0, 60)),
                draw(st.integers(0, 60)),
                None if parent is None else f"s{parent}",
                ref_type=draw(st.sampled_from(["CHILD_OF"] * 5 + ["FOLLOWS_FROM"])),
                kind=draw(st.sampled_from(["", "server", "producer", "consumer"])),
            )
        )
    return draw(st.permutations(spans))


@settings(max_examples=300, deadline=None)
@given(traces())
def test_sections_tile_each_roots_duration(spans: list[TraceSpan]) -> None:
    for path in critical_paths(Trace("t", tuple(spans))).paths:
        assert sum(s.duration_us for s in path.sections) == path.root.duration_us
        cursor = path.root.start_us
        for section in path.sections:
            assert section.start_us == cursor
            assert section.duration_us > 0
            cursor = section.end_us
        assert cursor == path.root.end_us or not path.sections


@settings(max_examples=300, deadline=None)
@given(traces())
def test_the_iterative_walk_gives_jaeger_uis_recursive_answer(spans: list[TraceSpan]) -> None:
    result = critical_paths(Trace("t", tuple(spans)))
    ours = [[(s.span_id, s.start_us, s.end_us) for s in path.sections] for path in result.paths]
    assert ours == jaeger_reference(spans)


# Expected sections published with Jaeger UI's own critical-path tests, as an
# independent oracle: (spans as (id, start, duration, parent)), sections in time order.
JAEGER_UI_CASES = {
    "two-sequential-children": (
        [("c", 1, 100, None), ("e", 50, 10, "c"), ("d", 20, 20, "c")],
        [("c", 1, 20), ("d", 20, 40), ("c", 40, 50), ("e", 50, 60), ("c", 60, 101)],
    ),
    "overlapping-children": (
        [("x", 1, 100, None), ("a", 10, 40, "x"), ("c", 20, 40, "x")],
        [("x", 1, 20), ("c", 20, 60), ("x", 60, 101)],
    ),
    "child-and-grandchild-after-parent": (
        [("a", 1, 30, None), ("b", 40, 40, "a"), ("c", 50, 10, "b")],
        [("a", 1, 31)],
    ),
    "grandchild-starting-before-its-parent": (
        [("a", 1, 29, None), ("b", 15, 20, "a"), ("c", 10, 15, "b")],
        [("a", 1, 15), ("c", 15, 25), ("b", 25, 30)],
    ),
    "descendants-outliving-the-root": (
        [("a", 1, 29, None), ("b", 15, 20, "a"), ("c", 20, 20, "b")],
        [("a", 1, 15), ("b", 15, 20), ("c", 20, 30)],
    ),
    "child-covering-the-root": (
        [("a", 10, 20, None), ("b", 5, 30, "a")],
        [("b", 10, 30)],
    ),
    "child-before-the-root": (
        [("a", 10, 20, None), ("b", 1, 4, "a")],
        [("a", 10, 30)],
    ),
}


@pytest.mark.parametrize("case", list(JAEGER_UI_CASES))
def test_jaeger_uis_own_cases(case: str) -> None:
    spans, expected = JAEGER_UI_CASES[case]
    assert sections(*(span(*fields) for fields in spans)) == expected
