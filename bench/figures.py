"""Figures of a benchmark run, and how several runs are summed up.

A benchmark returns, for one run, a list of `Figure`s: a measured value with its unit, the
name of the figure (of the same run) it is compared with, and the target the issue sets, on
the value itself or on the ratio to the baseline. `summarize` takes the figures of several
runs and prints, for each, the median and the spread (lowest to highest) of the value and of
the ratio, and whether the median meets the target. Speed is never asserted: PASS and MISS
are information for the reader. `best_of` times in-process work.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Figure", "Target", "at_least", "at_most", "below", "best_of", "summarize"]


def best_of(work: Callable[[], object], repeats: int = 3) -> float:
    """The shortest of `repeats` timings of `work`, in seconds (the in-process figures)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


@dataclass(frozen=True, slots=True)
class Target:
    op: str  # ">=", "<=" or "<"
    limit: float
    on_ratio: bool  # the ratio to the baseline (else the value itself)

    def met(self, value: float) -> bool:
        if self.op == ">=":
            return value >= self.limit
        if self.op == "<=":
            return value <= self.limit
        return value < self.limit

    def text(self, unit: str) -> str:
        limit = f"{self.limit:g}"
        return f"target {self.op} {limit}{'x' if self.on_ratio else ' ' + unit}"


def at_least(limit: float, *, ratio: bool = True) -> Target:
    return Target(">=", limit, ratio)


def at_most(limit: float, *, ratio: bool = True) -> Target:
    return Target("<=", limit, ratio)


def below(limit: float, *, ratio: bool = False) -> Target:
    return Target("<", limit, ratio)


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: str | None = None
    """Another figure of the same run; the ratio is value / baseline's value."""
    target: Target | None = None
    note: str = ""


def _number(value: float) -> str:
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _spread(values: Sequence[float]) -> str:
    if len(values) < 2:
        return ""
    return f" [{_number(min(values))}-{_number(max(values))}]"


def summarize(runs: Sequence[Sequence[Figure]]) -> list[str]:
    """One line per figure name (in first-seen order) over every run that measured it."""
    order: list[str] = []
    values: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    first: dict[str, Figure] = {}
    for run in runs:
        by_name = {figure.name: figure for figure in run}
        for figure in run:
            if figure.name not in first:
                order.append(figure.name)
                first[figure.name] = figure
            values.setdefault(figure.name, []).append(figure.value)
            base = by_name.get(figure.baseline) if figure.baseline else None
            if base is not None and base.value:
                ratios.setdefault(figure.name, []).append(figure.value / base.value)
    lines = []
    for name in order:
        figure, measured = first[name], values[name]
        median = statistics.median(measured)
        line = f"{name}: {_number(median)} {figure.unit}{_spread(measured)}"
        ratio = None
        if name in ratios:
            ratio = statistics.median(ratios[name])
            base_median = statistics.median(values[figure.baseline or ""])
            line += (
                f" (ratio {_number(ratio)}x{_spread(ratios[name])} vs {figure.baseline} "
                f"{_number(base_median)} {first[figure.baseline or ''].unit})"
            )
        if figure.target is not None:
            judged = ratio if figure.target.on_ratio else median
            if judged is not None:
                verdict = "PASS" if figure.target.met(judged) else "MISS"
                line += f" {verdict} {figure.target.text(figure.unit)}"
        if figure.note:
            line += f"; {figure.note}"
        lines.append(line)
    if len(runs) > 1:
        lines.append(f"# medians of {len(runs)} runs, [lowest-highest] of the runs")
    return lines
