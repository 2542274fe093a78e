"""``jsonable`` and ``encode_json``: any value becomes JSON, however deep, never raising."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shipshape.observe.logs import encode_json, format_log_entries, jsonable, safe_str


def reference(value: Any, path: frozenset[int] = frozenset(), depth: int = 0) -> Any:
    """What ``jsonable`` makes of a shallow value, written the plain recursive way."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict | list | tuple):
        if id(value) in path or depth > 500:
            return safe_str(value)
        inner = path | {id(value)}
        if isinstance(value, dict):
            return {_key(k): reference(v, inner, depth + 1) for k, v in value.items()}
        return [reference(item, inner, depth + 1) for item in value]
    return str(value)


def _key(key: Any) -> str:
    """A dict key as JSON writes it (``json.dumps``' rule; other keys become their text)."""
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    if isinstance(key, float) and not math.isfinite(key):
        return str(key)
    return key if isinstance(key, str) else repr(key) if isinstance(key, int | float) else str(key)


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),
    st.text(max_size=5),
    st.binary(max_size=3),
    st.sets(st.integers(), max_size=2),
)
_KEYS = st.one_of(st.text(max_size=3), st.integers(), st.booleans(), st.none(), st.floats())
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(_KEYS, inner, max_size=3),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_jsonable_copies_as_the_recursive_definition_does(value: Any) -> None:
    copied = jsonable(value)
    assert copied == reference(value)
    assert json.loads(json.dumps(copied)) == copied  # JSON types only


def _nested(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


def test_values_nested_beyond_pythons_stack_are_written_without_raising() -> None:
    deep = _nested(100_000)
    wide = {"a": _nested(950), "b": {"c": (1, float("nan"))}}
    copied = jsonable(wide)
    assert copied["b"] == {"c": [1, "nan"]}
    depth, node = 0, copied["a"]
    while isinstance(node, list) and node:
        depth, node = depth + 1, node[0]
    assert depth == 500  # then the rest is its text
    assert isinstance(node, str)
    assert encode_json(deep).startswith(b"[[[")
    [line] = format_log_entries([{"message": "deep", "payload": deep, "wide": wide}])
    assert json.loads(line)["context"]["wide"]["b"] == {"c": [1, "nan"]}


def test_a_value_met_again_on_its_own_path_becomes_its_text() -> None:
    cycle: list[Any] = [1]
    cycle.append(cycle)
    shared = [2]
    assert jsonable({"c": cycle, "twice": [shared, shared]}) == {
        "c": [1, "[1, [...]]"],
        "twice": [[2], [2]],  # the same list twice, side by side, is no cycle
    }
