"""Configuration merging: one rule for every layer."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["merge_config"]


def _sorted_keys(keys: set[Any]) -> list[Any]:
    try:
        return sorted(keys)
    except TypeError:
        return sorted(keys, key=lambda key: (type(key).__name__, repr(key)))


def _normalized(value: Any) -> Any:
    """A deep, independent copy with mapping keys sorted at every level."""
    if isinstance(value, Mapping):
        return {key: _normalized(value[key]) for key in _sorted_keys(set(value))}
    return copy.deepcopy(value)


def merge_config(defaults: Mapping[Any, Any], overrides: Mapping[Any, Any]) -> dict[Any, Any]:
    """Merge ``overrides`` onto ``defaults``.

    Recursive where both sides hold a mapping; otherwise the override wins (lists and
    scalars are replaced, never concatenated). Keys come out sorted at every level. The
    inputs are never mutated and the result shares no mutable object with them.
    """
    if not isinstance(defaults, Mapping) or not isinstance(overrides, Mapping):
        raise TypeError("merge_config expects two mappings")
    result: dict[Any, Any] = {}
    for key in _sorted_keys(set(defaults) | set(overrides)):
        if key in overrides and key in defaults:
            base, override = defaults[key], overrides[key]
            if isinstance(base, Mapping) and isinstance(override, Mapping):
                result[key] = merge_config(base, override)
            else:
                result[key] = _normalized(override)
        elif key in overrides:
            result[key] = _normalized(overrides[key])
        else:
            result[key] = _normalized(defaults[key])
    return result
