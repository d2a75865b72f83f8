"""Timing helpers: a monotonic clock in milliseconds and p50/p95 over a set of samples."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


def now_ms() -> float:
    return time.perf_counter_ns() / 1_000_000


def cpu_ms() -> float:
    """CPU time of this process, every thread included."""
    return time.process_time_ns() / 1_000_000


def percentile(samples: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (p50 of 20 samples is the 10th smallest): every value
    reported is one that was measured, never an interpolation between two."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Samples:
    """Durations in milliseconds of one thing measured several times."""

    values: list[float] = field(default_factory=list)

    def add(self, ms: float) -> None:
        self.values.append(ms)

    @property
    def p50(self) -> float:
        return percentile(self.values, 50)

    @property
    def p95(self) -> float:
        return percentile(self.values, 95)

    def __len__(self) -> int:
        return len(self.values)


def fmt_ms(value: float) -> str:
    if math.isnan(value):
        return "—"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms"
