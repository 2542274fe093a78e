"""Random layers of configuration data, for the property tests of the config layers."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

_KEYS = st.sampled_from(["a", "b", "c"])
_LEAVES = st.one_of(st.integers(-3, 3), st.sampled_from(["x", "y"]), st.lists(st.integers(0, 2)))
_TREES = st.recursive(
    _LEAVES, lambda children: st.dictionaries(_KEYS, children, max_size=3), max_leaves=8
)
#: one layer: up to three keys, each a leaf or a small tree of them
LAYER_DATA = st.dictionaries(_KEYS, _TREES, max_size=3)


def value_at(data: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` (a key per level) in nested mappings."""
    for key in path:
        data = data[key]
    return data
