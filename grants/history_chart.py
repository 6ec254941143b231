"""Bars of verifications per day, pure: counts in, rectangles in SVG units out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from django.utils.safestring import SafeString, mark_safe

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
    def svg(self) -> SafeString:
        """The chart as inline SVG markup (render_svg: numbers and dates only)."""
        return mark_safe(render_svg(self))

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


def _n(value: float) -> str:
    """A coordinate whatever the locale: 12.5, 300."""
    return f"{value:.1f}".removesuffix(".0")


def render_svg(chart: DailyChart) -> str:
    """The chart as one <svg role="img"> (a <title> per day for hover; the page's table
    is the text alternative). In: a DailyChart. Out: SVG markup; no record text in it."""
    days = len(chart.bars)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="vdaily" '
        f'viewBox="0 0 {_n(chart.width)} {_n(chart.height)}" width="{_n(chart.width)}" '
        f'height="{_n(chart.height)}" role="img" aria-labelledby="daily-title" '
        'data-testid="verification-daily-svg" '
        'font-family="system-ui, -apple-system, \'Segoe UI\', Roboto, sans-serif" font-size="10">',
        f'<title id="daily-title">Verifications per day over the last {days} days: '
        f"{chart.total} in all; the table below lists each day.</title>",
        f'<line x1="0" x2="{_n(chart.width)}" y1="{_n(chart.axis_y)}" y2="{_n(chart.axis_y)}" '
        'stroke="#adb5bd" stroke-width="1"/>',
    ]
    width = _n(chart.bar_width)
    for bar in chart.bars:
        parts = [
            f'<g data-day="{bar.day:%Y-%m-%d}" data-passed="{bar.passed}" '
            f'data-failed="{bar.failed}"><title>{bar.day:%a %Y-%m-%d}: {bar.summary}</title>'
            f'<rect x="{_n(bar.x)}" y="{_n(chart.top)}" width="{width}" '
            f'height="{_n(chart.plot_height)}" fill="transparent"/>'
        ]
        parts += [
            f'<rect x="{_n(bar.x)}" y="{_n(s.y)}" width="{width}" height="{_n(s.height)}" '
            f'fill="{s.colour}"/>'
            for s in bar.segments
        ]
        if bar.tick:
            parts.append(
                f'<text x="{_n(bar.label_x)}" y="{_n(chart.label_y)}" text-anchor="end" '
                f'fill="#495057">{bar.day:%m-%d}</text>'
            )
        out.append("".join(parts) + "</g>")
    out.append("</svg>")
    return "\n".join(out)
