"""Latency metrics: the percentile rule shared by every latency report."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TypedDict

__all__ = ["LatencyMetrics", "compute_latency_metrics", "percentile"]


class LatencyMetrics(TypedDict):
    mean: float
    p50: float
    p95: float
    p99: float
    max: float


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The nearest-rank-below percentile: ``sorted_values[int(p / 100 * (n - 1))]``."""
    if not sorted_values:
        return 0.0
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    return float(sorted_values[int(p / 100 * (len(sorted_values) - 1))])


def compute_latency_metrics(times: Iterable[float]) -> LatencyMetrics:
    """Mean (rounded to 2 places), p50, p95, p99 and max of response ``times``.

    Percentiles index a sorted copy at ``int(p / 100 * (n - 1))``; empty input gives
    all ``0.0``. Raises ``ValueError`` for a value that is not a finite number.
    """
    ordered = sorted(_checked(times))
    if not ordered:
        return {"mean": 0.0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    return {
        "mean": round(sum(ordered) / len(ordered), 2),
        "p50": percentile(ordered, 50),
        "p95": percentile(ordered, 95),
        "p99": percentile(ordered, 99),
        "max": float(ordered[-1]),
    }


def _checked(times: Iterable[float]) -> list[float]:
    values = list(times)
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ValueError(f"time #{index} is not a number: {value!r}")
    return values
