"""Bars of verifications per day, pure: counts in, rectangles in SVG units out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

BAR_WIDTH = 16.0
BAR_GAP = 4.0
PLOT_HEIGHT = 100.0
TOP = 16.0  # room for the largest count's label
AXIS_HEIGHT = 18.0
LEFT = 4.0

# The same colours as the access map's passing / not verified / failing.
COLOURS = {"passed": "#146c43", "static_only": "#6c757d", "failed": "#b02a37"}


class DailyCounts(Protocol):
    day: date
    passed: int
    failed: int
    static_only: int


@dataclass(frozen=True)
class Segment:
    kind: str
    y: float
    height: float
    colour: str


@dataclass
class DayBar:
    """One day's stacked bar: failures at the bottom, then static only, then passes."""

    day: date
    passed: int
    failed: int
    static_only: int
    x: float
    segments: list[Segment] = field(default_factory=list)
    tick: bool = False

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.static_only

    @property
    def label_x(self) -> float:
        """Where the day's label ends (text-anchor end), under the bar's right edge."""
        return round(self.x + BAR_WIDTH, 1)

    @property
    def summary(self) -> str:
        words = f"{self.passed} passed, {self.failed} failed"
        return words + (f", {self.static_only} static only" if self.static_only else "")


@dataclass
class DailyChart:
    width: float
    height: float
    bars: list[DayBar]
    peak: int
    axis_y: float
    bar_width: float = BAR_WIDTH
    top: float = TOP

    @property
    def plot_height(self) -> float:
        return PLOT_HEIGHT

    @property
    def label_y(self) -> float:
        return self.height - 4

    @property
    def total(self) -> int:
        return sum(bar.total for bar in self.bars)


def daily_chart(counts: Sequence[DailyCounts]) -> DailyChart:
    """Stacked bars scaled to the busiest day; every 7th day from the last is labelled.

    In: one row per day, oldest first (zero days included). Out: a DailyChart in px.
    A day with no verification has no segments (the axis still shows it).
    """
    peak = max((c.passed + c.failed + c.static_only for c in counts), default=0)
    scale = PLOT_HEIGHT / peak if peak else 0.0
    bars = []
    last = len(counts) - 1
    for index, count in enumerate(counts):
        bar = DayBar(
            day=count.day,
            passed=count.passed,
            failed=count.failed,
            static_only=count.static_only,
            x=round(LEFT + index * (BAR_WIDTH + BAR_GAP), 1),
            tick=(last - index) % 7 == 0,
        )
        base = TOP + PLOT_HEIGHT
        for kind in ("failed", "static_only", "passed"):
            n = getattr(count, kind)
            if not n:
                continue
            height = max(n * scale, 1.0)
            base -= height
            bar.segments.append(
                Segment(kind=kind, y=round(base, 1), height=round(height, 1), colour=COLOURS[kind])
            )
        bars.append(bar)
    width = LEFT * 2 + len(counts) * (BAR_WIDTH + BAR_GAP)
    return DailyChart(
        width=round(width, 1),
        height=TOP + PLOT_HEIGHT + AXIS_HEIGHT,
        bars=bars,
        peak=peak,
        axis_y=TOP + PLOT_HEIGHT,
    )
