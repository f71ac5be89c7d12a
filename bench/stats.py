"""Percentiles and medians, the only statistics the benchmarks report."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of unsorted values; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(latencies: Sequence[float], prefix: str = "") -> dict[str, float]:
    """p50/p95/p99/max in milliseconds, and the sample count."""
    return {
        f"{prefix}n": len(latencies),
        f"{prefix}p50_ms": percentile(latencies, 50) * 1000,
        f"{prefix}p95_ms": percentile(latencies, 95) * 1000,
        f"{prefix}p99_ms": percentile(latencies, 99) * 1000,
        f"{prefix}max_ms": (max(latencies) * 1000) if latencies else math.nan,
    }


def median(values: Iterable[float]) -> float:
    finite = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(finite) if finite else math.nan
