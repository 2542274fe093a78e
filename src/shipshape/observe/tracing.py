"""Traces: span trees and their critical paths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

__all__ = ["CriticalPath", "find_critical_path", "span_parents"]


class CriticalPath(TypedDict):
    total_duration_ms: float
    depth: int


def span_parents(spans: Sequence[Mapping[str, Any]]) -> list[int | None]:
    """Each span's parent index, validated: in range, not itself, no cycles.

    Raises ``ValueError`` naming the offending span.
    """
    count = len(spans)
    parents: list[int | None] = []
    for index, span in enumerate(spans):
        if not isinstance(span, Mapping):
            raise ValueError(f"span {index}: must be a mapping, not {type(span).__name__}")
        parent = span.get("parent_id")
        if parent is not None:
            if isinstance(parent, bool) or not isinstance(parent, int):
                raise ValueError(f"span {index}: parent_id must be an int or null, got {parent!r}")
            if not 0 <= parent < count:
                raise ValueError(f"span {index}: parent_id {parent} is out of range 0..{count - 1}")
            if parent == index:
                raise ValueError(f"span {index}: is its own parent")
        parents.append(parent)
    return parents


def topological_order(parents: Sequence[int | None]) -> list[int]:
    """Span indexes, every parent before its children (iterative, linear time)."""
    children: list[list[int]] = [[] for _ in parents]
    order = [index for index, parent in enumerate(parents) if parent is None]
    for index, parent in enumerate(parents):
        if parent is not None:
            children[parent].append(index)
    cursor = 0
    while cursor < len(order):
        order.extend(children[order[cursor]])
        cursor += 1
    if len(order) != len(parents):
        reached = bytearray(len(parents))
        for index in order:
            reached[index] = 1
        start = reached.index(0)
        raise ValueError(f"span {_cycle_member(parents, start)}: is part of a parent cycle")
    return order


def _cycle_member(parents: Sequence[int | None], start: int) -> int:
    """A span on the cycle above ``start`` (walking up the parent links)."""
    seen: set[int] = set()
    node = start
    while node not in seen:
        seen.add(node)
        parent = parents[node]
        assert parent is not None
        node = parent
    return node


def _duration(spans: Sequence[Mapping[str, Any]], index: int) -> float:
    value = spans[index].get("duration_ms", 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"span {index}: duration_ms must be a number, got {value!r}")
    return value


def find_critical_path(spans: Sequence[Mapping[str, Any]]) -> CriticalPath:
    """The course's critical path: the longest root-to-leaf chain of spans.

    ``total_duration_ms`` is the largest sum of ``duration_ms`` over any root-to-leaf
    chain and ``depth`` the largest number of spans in any chain; the two are computed
    independently. Span ids are list indexes and ``parent_id`` is ``None`` for roots.
    Linear time, no recursion. Raises ``ValueError`` naming a span whose parent is out
    of range, itself, or on a cycle.
    """
    if not spans:
        return {"total_duration_ms": 0, "depth": 0}
    parents = span_parents(spans)
    order = topological_order(parents)
    totals: list[float] = [0] * len(spans)
    depths = [0] * len(spans)
    is_leaf = [True] * len(spans)
    for index in order:
        parent = parents[index]
        own = _duration(spans, index)
        if parent is None:
            totals[index], depths[index] = own, 1
        else:
            totals[index] = totals[parent] + own
            depths[index] = depths[parent] + 1
            is_leaf[parent] = False
    leaves = [index for index in order if is_leaf[index]]
    return {
        "total_duration_ms": max(totals[index] for index in leaves),
        "depth": max(depths[index] for index in leaves),
    }
