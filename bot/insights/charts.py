"""The review's charts as PNG images, drawn with matplotlib's Agg backend (no display needed).

Each chart carries its own light card background, opaque, with dark text and the colour-blind
safe Okabe–Ito blue and vermilion: Slack shows images as they are, so a transparent chart with
dark text would vanish in the dark theme, while an opaque card reads the same in both.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere: headless rendering

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bot.insights.review import IncidentRow

BACKGROUND = "#FFFFFF"
INK = "#1D1C1D"  # Slack's own text colour in the light theme
GRID = "#DDDDDD"
BLUE = "#0072B2"
VERMILION = "#D55E00"
SIZE = (9, 4.5)
DPI = 110
# matplotlib's font cache and text layout are not safe across threads at once.
_LOCK = threading.Lock()


def _figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=SIZE, dpi=DPI, facecolor=BACKGROUND)
    axes = figure.add_subplot(1, 1, 1, facecolor=BACKGROUND)
    for spine in axes.spines.values():
        spine.set_color(GRID)
    axes.tick_params(colors=INK, labelsize=9)
    axes.grid(True, color=GRID, linewidth=0.6)
    axes.set_axisbelow(True)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # Fixed margins instead of bbox_inches="tight", which draws the whole figure twice.
    figure.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.18)
    figure.savefig(buffer, format="png", facecolor=BACKGROUND)
    return buffer.getvalue()


def durations_chart(rows: Sequence[IncidentRow], title: str) -> bytes:
    """Time to detect and to resolve of each incident, by the day it was declared (minutes, log scale:
    a two-minute detection and a two-day outage both stay visible)."""
    with _LOCK:
        figure, axes = _figure()
        for measure, colour, marker, label in (
            ("time_to_detect", BLUE, "o", "time to detect"),
            ("time_to_resolve", VERMILION, "s", "time to resolve"),
        ):
            measured = [(r.declared, r.durations.get(measure)) for r in rows]
            points = [
                (day, delta.total_seconds() / 60)
                for day, delta in measured
                if delta is not None and delta.total_seconds() > 0
            ]
            if points:
                days: Any = [p[0] for p in points]  # matplotlib takes dates; its stubs say numbers
                axes.scatter(
                    days,
                    [p[1] for p in points],
                    s=22,
                    color=colour,
                    marker=marker,
                    label=f"{label} ({len(points)})",
                    alpha=0.85,
                    edgecolors="none",
                )
        if axes.collections:
            axes.set_yscale("log")
            axes.legend(frameon=False, labelcolor=INK, fontsize=9)
        else:
            axes.text(
                0.5,
                0.5,
                "no durations recorded in this period",
                ha="center",
                va="center",
                color=INK,
                transform=axes.transAxes,
            )
        axes.set_ylabel("minutes (log scale)", color=INK)
        axes.set_title(title, color=INK, fontsize=11, loc="left")
        figure.autofmt_xdate()
        return _png(figure)


def items_chart(weeks: Sequence[tuple[dt.date, int, int]], title: str) -> bytes:
    """Action items open versus done at the end of each week."""
    with _LOCK:
        figure, axes = _figure()
        days: Any = [w[0] for w in weeks]  # matplotlib takes dates; its stubs say numbers
        axes.plot(days, [w[1] for w in weeks], color=VERMILION, marker="o", markersize=3, linewidth=2, label="open")
        axes.plot(days, [w[2] for w in weeks], color=BLUE, marker="s", markersize=3, linewidth=2, label="done")
        axes.set_ylim(bottom=0)
        axes.set_ylabel("action items", color=INK)
        axes.legend(frameon=False, labelcolor=INK, fontsize=9)
        axes.set_title(title, color=INK, fontsize=11, loc="left")
        figure.autofmt_xdate()
        return _png(figure)
