"""The observe seed contract: format_log_entries, compute_latency_metrics,
find_critical_path, check_health (issue 2, exactly as specified)."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import enum
import json
import math
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipshape import (
    check_health,
    compute_latency_metrics,
    find_critical_path,
    format_log_entries,
)

# No deadlines and no too-slow health check: the suite runs on small, shared machines.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

LOG_KEYS = ["timestamp", "level", "message", "context"]


def strict_json(text: str) -> Any:
    """Parse ``text`` as standard JSON: NaN and Infinity literals are errors."""

    def reject(literal: str) -> Any:
        raise ValueError(f"not JSON: {literal}")

    return json.loads(text, parse_constant=reject)


def context_value(value: Any) -> Any:
    [line] = format_log_entries([{"message": "m", "value": value}])
    entry = strict_json(line)
    assert list(entry) == LOG_KEYS
    return entry["context"]["value"]


# --- format_log_entries --------------------------------------------------------------


def test_logs_full_entry() -> None:
    entry = {"timestamp": "2026-11-25T10:00:00Z", "level": "warning", "message": "slow", "ms": 812}
    [line] = format_log_entries([entry])
    assert strict_json(line) == {
        "timestamp": "2026-11-25T10:00:00Z",
        "level": "WARNING",
        "message": "slow",
        "context": {"ms": 812},
    }


def test_logs_defaults() -> None:
    [line] = format_log_entries([{}])
    assert strict_json(line) == {
        "timestamp": "unknown",
        "level": "INFO",
        "message": "",
        "context": {},
    }


def test_logs_each_string_has_exactly_the_four_keys_in_order() -> None:
    lines = format_log_entries([{}, {"message": "x", "a": 1, "level": "debug", "timestamp": 1}])
    assert [list(strict_json(line)) for line in lines] == [LOG_KEYS, LOG_KEYS]


@pytest.mark.parametrize(
    ("level", "expected"),
    [("info", "INFO"), ("Error", "ERROR"), ("WARNING", "WARNING"), ("debug", "DEBUG")],
)
def test_logs_level_is_always_uppercased(level: str, expected: str) -> None:
    [line] = format_log_entries([{"level": level}])
    assert strict_json(line)["level"] == expected


def test_logs_context_holds_every_other_key_in_input_order() -> None:
    entry = {"zeta": 1, "message": "m", "alpha": 2, "level": "info", "mid": 3, "timestamp": "t"}
    [line] = format_log_entries([entry])
    context = strict_json(line)["context"]
    assert list(context) == ["zeta", "alpha", "mid"]
    assert context == {"zeta": 1, "alpha": 2, "mid": 3}


def test_logs_a_context_key_in_the_input_is_just_another_key() -> None:
    [line] = format_log_entries([{"context": {"user": 7}, "request_id": "r1"}])
    assert strict_json(line)["context"] == {"context": {"user": 7}, "request_id": "r1"}


def test_logs_one_string_per_entry_in_order() -> None:
    lines = format_log_entries([{"message": str(i)} for i in range(5)])
    assert [strict_json(line)["message"] for line in lines] == ["0", "1", "2", "3", "4"]
    assert format_log_entries([]) == []


def test_logs_each_string_is_one_line() -> None:
    [line] = format_log_entries([{"message": "two\nlines", "nested": {"a": [1, 2]}}])
    assert "\n" not in line
    assert strict_json(line)["message"] == "two\nlines"


def test_logs_inputs_are_not_mutated() -> None:
    entries = [{"level": "warn", "message": "m", "tags": ["a"], "meta": {"k": 1}}, {}]
    before = copy.deepcopy(entries)
    format_log_entries(entries)
    assert entries == before


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int


class FailingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


@pytest.mark.parametrize(
    "value",
    [
        b"bytes\x00",
        {1, 2},
        frozenset({"a"}),
        1 + 2j,
        datetime.date(2026, 11, 25),
        pytest.param(
            datetime.datetime(2026, 11, 25, 10, 30, 5),
            id="datetime",
        ),
        pytest.param(Color.RED, id="enum"),
        pytest.param(Point(1), id="dataclass"),
        pytest.param(
            float("nan"),
            id="nan",
        ),
        pytest.param(
            float("inf"),
            id="inf",
        ),
        pytest.param(
            float("-inf"),
            id="-inf",
        ),
    ],
    ids=repr,
)
def test_logs_values_json_cannot_encode_are_rendered_with_str(value: Any) -> None:
    assert context_value(value) == str(value)


@pytest.mark.parametrize("value", [2**64, -(2**100), 10**300])
def test_logs_big_ints_stay_json_numbers(value: int) -> None:
    # JSON numbers have no size limit, so a big int is encodable and stays a number.
    assert context_value(value) == value


def test_logs_a_value_renders_the_same_whatever_its_siblings() -> None:
    [line] = format_log_entries([{"big": 2**70, "nan": float("nan")}])
    assert strict_json(line)["context"] == {"big": 2**70, "nan": "nan"}


def test_logs_unencodable_mapping_keys_are_rendered_with_str() -> None:
    [line] = format_log_entries([{"by_pair": {(1, 2): "x"}}])
    assert strict_json(line)["context"] == {"by_pair": {"(1, 2)": "x"}}


def test_logs_self_referencing_value_does_not_crash() -> None:
    loop: dict[str, Any] = {"name": "loop"}
    loop["self"] = loop
    [line] = format_log_entries([{"message": "m", "loop": loop}])
    entry = strict_json(line)
    assert entry["message"] == "m"
    assert entry["context"]["loop"]["name"] == "loop"


def test_logs_a_value_whose_str_raises_does_not_crash() -> None:
    # str() itself fails here, so no rendering can be str(); the promise kept is "never a
    # crash": a valid JSON line with the other fields intact and a string in its place.
    [line] = format_log_entries([{"message": "m", "bad": FailingRepr(), "ok": 1}])
    entry = strict_json(line)
    assert entry["message"] == "m"
    assert entry["context"]["ok"] == 1
    assert isinstance(entry["context"]["bad"], str)


def test_logs_lone_surrogate_strings_do_not_crash() -> None:
    [line] = format_log_entries([{"message": "m", "raw": "bad \ud800 text"}])
    entry = strict_json(line)
    assert entry["message"] == "m"
    assert isinstance(entry["context"]["raw"], str)


_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
_entries = st.dictionaries(
    st.one_of(st.sampled_from(["timestamp", "level", "message"]), st.text(max_size=6)),
    _json_values,
    max_size=6,
).map(lambda entry: {**entry, "level": str(entry["level"])} if "level" in entry else entry)


@relaxed
@given(st.lists(_entries, max_size=5))
def test_logs_render_any_json_entry_exactly(entries: list[dict[str, Any]]) -> None:
    lines = format_log_entries(entries)
    assert len(lines) == len(entries)
    for line, entry in zip(lines, entries, strict=True):
        parsed = strict_json(line)
        assert list(parsed) == LOG_KEYS
        assert parsed["timestamp"] == entry.get("timestamp", "unknown")
        assert parsed["level"] == entry.get("level", "INFO").upper()
        assert parsed["message"] == entry.get("message", "")
        others = [k for k in entry if k not in {"timestamp", "level", "message"}]
        assert list(parsed["context"]) == others
        assert parsed["context"] == {k: entry[k] for k in others}


# --- compute_latency_metrics ---------------------------------------------------------

METRIC_KEYS = ["mean", "p50", "p95", "p99", "max"]


def test_metrics_empty_input_gives_all_zero_floats() -> None:
    result = compute_latency_metrics([])
    assert result == {"mean": 0.0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    assert all(isinstance(value, float) for value in result.values())


def test_metrics_course_outlier_example() -> None:
    # 99 requests of 10 ms and one of 5 s: the mean hides it, max shows it.
    result = compute_latency_metrics([10.0] * 99 + [5000.0])
    assert result == {"mean": 59.9, "p50": 10.0, "p95": 10.0, "p99": 10.0, "max": 5000.0}


def test_metrics_percentile_index_is_int_of_p_times_n_minus_1() -> None:
    # n = 10: p50 -> int(4.5) = 4, p95 -> int(8.55) = 8, p99 -> int(8.91) = 8
    result = compute_latency_metrics([7, 3, 10, 1, 5, 2, 9, 4, 8, 6])
    assert result == {"mean": 5.5, "p50": 5, "p95": 9, "p99": 9, "max": 10}


def test_metrics_percentiles_of_a_hundred_and_one_values() -> None:
    result = compute_latency_metrics(list(range(100, -1, -1)))
    assert result == {"mean": 50.0, "p50": 50, "p95": 95, "p99": 99, "max": 100}


def test_metrics_single_value() -> None:
    assert compute_latency_metrics([12.5]) == dict.fromkeys(METRIC_KEYS, 12.5)


@pytest.mark.parametrize(
    ("times", "mean"),
    [([1, 2, 2], 1.67), ([2.675], 2.67), ([0.125, 0.125], 0.12), ([1, 2], 1.5)],
)
def test_metrics_mean_uses_builtin_round_to_two_places(times: list[float], mean: float) -> None:
    # round() works on the binary float: 2.675 -> 2.67 and ties go to even: 0.125 -> 0.12
    assert compute_latency_metrics(times)["mean"] == mean


def test_metrics_mean_sums_in_the_input_order_as_the_course_does() -> None:
    # sum() of these in this order is 127.33999...; of the sorted copy, 127.34000...
    times = [15.69, 47.93, 44.83, 18.89]
    assert compute_latency_metrics(times)["mean"] == round(sum(times) / len(times), 2) == 31.83


@relaxed
@given(_times_with_decimals := st.lists(st.decimals(0, 1000, places=2), min_size=1, max_size=8))
def test_metrics_mean_is_the_course_formula(times: list[Any]) -> None:
    values = [float(value) for value in times]
    assert compute_latency_metrics(values)["mean"] == round(sum(values) / len(values), 2)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, 10**400, -(10**400)])
def test_metrics_refuse_values_that_are_not_finite_numbers(bad: float) -> None:
    with pytest.raises(ValueError, match=r"time #1 is"):
        compute_latency_metrics([1.0, bad])


def test_metrics_input_is_not_sorted_in_place() -> None:
    times = [3.0, 1.0, 2.0]
    compute_latency_metrics(times)
    assert times == [3.0, 1.0, 2.0]


def test_metrics_keys_in_documented_order() -> None:
    assert list(compute_latency_metrics([1.0, 2.0])) == METRIC_KEYS


_times = st.lists(
    st.one_of(st.floats(min_value=0, max_value=1e6, allow_nan=False), st.integers(0, 10**6)),
    min_size=1,
    max_size=300,
)


@relaxed
@given(_times)
def test_metrics_percentiles_are_input_elements_and_ordered(times: list[float]) -> None:
    result = compute_latency_metrics(times)
    assert all(result[key] in times for key in ("p50", "p95", "p99", "max"))
    assert result["p50"] <= result["p95"] <= result["p99"] <= result["max"]
    assert result["max"] == max(times)
    ordered = sorted(times)
    at = {p: ordered[int(p / 100 * (len(ordered) - 1))] for p in (50, 95, 99)}
    assert (result["p50"], result["p95"], result["p99"]) == (at[50], at[95], at[99])
    exact_mean = math.fsum(times) / len(times)
    assert abs(result["mean"] - exact_mean) <= 0.005 + 1e-9 * max(1.0, exact_mean)
    assert result["mean"] == round(result["mean"], 2)


# --- find_critical_path --------------------------------------------------------------


def span(duration: float, parent: int | None, service: str = "svc") -> dict[str, Any]:
    return {"service": service, "duration_ms": duration, "parent_id": parent}


def test_trace_empty() -> None:
    assert find_critical_path([]) == {"total_duration_ms": 0, "depth": 0}


def test_trace_single_root() -> None:
    assert find_critical_path([span(42, None)]) == {"total_duration_ms": 42, "depth": 1}


def test_trace_slowest_branch_at_each_fork() -> None:
    spans = [
        span(100, None, "gateway"),
        span(50, 0, "auth"),
        span(30, 0, "orders"),
        span(45, 2, "payment"),
    ]
    assert find_critical_path(spans) == {"total_duration_ms": 175, "depth": 3}


def test_trace_total_and_depth_are_computed_independently() -> None:
    # The slowest chain (0 -> 1) has 2 spans; the deepest chain (0 -> 2 -> 3 -> 4) is fast.
    spans = [span(10, None), span(100, 0), span(1, 0), span(1, 2), span(1, 3)]
    assert find_critical_path(spans) == {"total_duration_ms": 110, "depth": 4}


def test_trace_many_roots() -> None:
    spans = [span(5, None), span(7, None), span(1, 0), span(1, 2), span(3, 1)]
    assert find_critical_path(spans) == {"total_duration_ms": 10, "depth": 3}


def test_trace_children_may_come_before_their_parents() -> None:
    spans = [span(3, 2), span(4, 0), span(10, None)]
    assert find_critical_path(spans) == {"total_duration_ms": 17, "depth": 3}


def test_trace_float_durations() -> None:
    spans = [span(1.5, None), span(2.25, 0)]
    assert find_critical_path(spans) == {"total_duration_ms": 3.75, "depth": 2}


def test_trace_spans_are_not_mutated() -> None:
    spans = [span(1, None), span(2, 0), span(3, 0)]
    before = copy.deepcopy(spans)
    find_critical_path(spans)
    assert spans == before


def test_trace_million_span_chain_needs_no_recursion() -> None:
    spans = [span(1, None if i == 0 else i - 1) for i in range(1_000_000)]
    assert find_critical_path(spans) == {"total_duration_ms": 1_000_000, "depth": 1_000_000}


def test_trace_long_chain_listed_leaf_first() -> None:
    n = 100_000
    spans = [span(2, None if i == n - 1 else i + 1) for i in range(n)]
    assert find_critical_path(spans) == {"total_duration_ms": 2 * n, "depth": n}


def names_span(*ids: int) -> str:
    return r"\bspan #?(" + "|".join(map(str, ids)) + r")\b"


@pytest.mark.parametrize("parent", [2, 99, -1])
def test_trace_parent_out_of_range_raises_naming_the_span(parent: int) -> None:
    with pytest.raises(ValueError, match=names_span(1)):
        find_critical_path([span(1, None), span(1, parent)])


def test_trace_lone_span_with_a_missing_parent_raises_naming_it() -> None:
    with pytest.raises(ValueError, match=names_span(0)):
        find_critical_path([span(1, 5)])


def test_trace_self_parent_raises_naming_the_span() -> None:
    with pytest.raises(ValueError, match=names_span(2)):
        find_critical_path([span(1, None), span(1, 0), span(1, 2)])


def test_trace_two_span_cycle_raises_naming_a_span_on_it() -> None:
    with pytest.raises(ValueError, match=names_span(1, 2)):
        find_critical_path([span(1, None), span(1, 2), span(1, 1)])


def test_trace_cycle_without_any_root_raises() -> None:
    with pytest.raises(ValueError, match=names_span(0, 1, 2)):
        find_critical_path([span(1, 2), span(1, 0), span(1, 1)])


def test_trace_cycle_below_a_tail_raises_naming_a_span_on_the_cycle() -> None:
    spans = [span(1, None), span(1, 0), span(1, 4), span(1, 2), span(1, 3), span(1, 2)]
    with pytest.raises(ValueError, match=names_span(2, 3, 4)):
        find_critical_path(spans)


def reference_critical_path(spans: list[dict[str, Any]]) -> dict[str, Any]:
    """The course's recursive definition, for small trees."""
    if not spans:
        return {"total_duration_ms": 0, "depth": 0}
    children: dict[int, list[int]] = {}
    for index, item in enumerate(spans):
        if item["parent_id"] is not None:
            children.setdefault(item["parent_id"], []).append(index)

    def total(index: int) -> float:
        below = [total(child) for child in children.get(index, [])]
        return float(spans[index]["duration_ms"] + (max(below) if below else 0))

    def depth(index: int) -> int:
        return 1 + max((depth(child) for child in children.get(index, [])), default=0)

    roots = [index for index, item in enumerate(spans) if item["parent_id"] is None]
    return {
        "total_duration_ms": max(total(root) for root in roots),
        "depth": max(depth(root) for root in roots),
    }


@st.composite
def span_trees(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 14))
    parents = [None] + [draw(st.one_of(st.none(), st.integers(0, i - 1))) for i in range(1, n)]
    durations = draw(st.lists(st.integers(0, 100), min_size=n, max_size=n))
    order = draw(st.permutations(range(n)))
    position = {old: new for new, old in enumerate(order)}
    spans: list[dict[str, Any]] = [{}] * n
    for old in range(n):
        parent = parents[old]
        spans[position[old]] = span(
            durations[old], None if parent is None else position[parent], f"s{old}"
        )
    return spans


@settings(relaxed, max_examples=300)
@given(span_trees())
def test_trace_matches_the_recursive_reference(spans: list[dict[str, Any]]) -> None:
    assert find_critical_path(spans) == reference_critical_path(spans)


# --- check_health --------------------------------------------------------------------


def test_health_empty_is_healthy() -> None:
    assert check_health({}) == {"status": "healthy", "details": {}}


def test_health_faq_degraded_cache() -> None:
    deps = {"database": "healthy", "cache": "degraded", "queue": "healthy"}
    assert check_health(deps) == {"status": "degraded", "details": deps}


def test_health_unhealthy_beats_degraded() -> None:
    deps = {"database": "degraded", "cache": "unhealthy", "queue": "healthy"}
    assert check_health(deps)["status"] == "unhealthy"


def test_health_all_healthy() -> None:
    assert check_health({"a": "healthy", "b": "healthy"})["status"] == "healthy"


def test_health_dict_values_give_their_status() -> None:
    deps = {
        "database": {"status": "healthy", "latency_ms": 3},
        "cache": "degraded",
        "search": {"status": "unhealthy", "error": "timeout"},
    }
    assert check_health(deps) == {
        "status": "unhealthy",
        "details": {"database": "healthy", "cache": "degraded", "search": "unhealthy"},
    }


def test_health_details_keep_input_order() -> None:
    deps = {"z": "healthy", "a": "degraded", "m": "healthy"}
    assert list(check_health(deps)["details"]) == ["z", "a", "m"]


@pytest.mark.parametrize(
    "value",
    [
        "ok",
        "",
        "up",
        None,
        1,
        {"state": "healthy"},
        {"status": "fine"},
        pytest.param(
            ["healthy"],
            id="list",
        ),
        pytest.param(
            {"status": {"nested": "healthy"}},
            id="dict-status",
        ),
    ],
    ids=repr,
)
def test_health_unknown_status_raises_naming_the_dependency(value: Any) -> None:
    with pytest.raises(ValueError, match="payments"):
        check_health({"database": "healthy", "payments": value})


def test_health_input_is_not_mutated() -> None:
    deps = {"db": {"status": "degraded", "extra": [1]}, "cache": "healthy"}
    before = copy.deepcopy(deps)
    check_health(deps)
    assert deps == before


RANK = {"healthy": 0, "degraded": 1, "unhealthy": 2}
_statuses = st.sampled_from(list(RANK))
_dependency = st.one_of(
    _statuses,
    st.builds(lambda status, ms: {"status": status, "latency_ms": ms}, _statuses, st.integers()),
)


@relaxed
@given(st.dictionaries(st.text(max_size=5), _dependency, max_size=8))
def test_health_status_is_the_worst_by_rank(deps: dict[str, Any]) -> None:
    result = check_health(deps)
    expected = {
        name: value["status"] if isinstance(value, Mapping) else value
        for name, value in deps.items()
    }
    assert result["details"] == expected
    assert result["status"] == max(expected.values(), key=RANK.__getitem__, default="healthy")
