"""The benchmark's pure maths: percentiles, the ideal throughput and efficiency."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks, as
    numpy's default; NaN for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, not {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ideal_rate(cpu_s_per_article: Mapping[str, float], cores: int) -> float:
    """Articles per second ``cores`` cores could enrich if the stages' CPU were all it took:
    ``cores / sum of the per-article CPU seconds``."""
    total = sum(cpu_s_per_article.values())
    if cores < 1 or total <= 0:
        raise ValueError("need at least one core and a positive cost per article")
    return cores / total


def efficiency(throughput: float, ideal: float) -> float:
    """The pipeline's throughput as a fraction of the bare ideal for the same cores."""
    if ideal <= 0:
        raise ValueError("the ideal throughput must be positive")
    return throughput / ideal


def latency_summary(latencies: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99, mean and max of latencies in seconds."""
    return {
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "mean": sum(latencies) / len(latencies) if latencies else math.nan,
        "max": max(latencies) if latencies else math.nan,
    }
