"""What every figure shares: its colours, the names it gives the task's answers, and how it
spells Altair's channels.

The weight heatmaps use a diverging scale centred on 0 and symmetric, reaching out to the
largest |value| shown (bias included), so no cell is ever clipped: `symmetric_extent` is that
reach. A `Figure` is a chart with the note that must be read with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt
import numpy as np

from tl_active.core.task import Task

WEIGHT_SCHEME = "redblue"  # negative red, positive blue, white at 0
NORM_SCHEME = "blues"
POSITIVE_COLOUR = "#1f77b4"
NEGATIVE_COLOUR = "#d62728"
RIGHT_COLOUR = "#1f77b4"
WRONG_COLOUR = "#d62728"
CLASS_COLOUR = "#4c72b0"
# A y axis from 0 to 1 whose end labels sit on their ticks. Streamlit's theme sets labels
# flush with the axis ends: "1.0" then sat half a line below the top, so a line at 1.0 (recall
# after a lucky round, the odd/even ceiling) looked above 1.0 in front of a room.
FLUSHLESS = alt.Axis(labelFlush=False)
TABLEAU = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def answer_name(task: Task, class_names: Sequence[str] | None = None) -> str:
    """The positive answer of a binary task ('odd', 'even', '{2,3,5,7}'), or 'classes 0-4'."""
    if not task.is_binary:
        return task.describe(class_names)
    name = task.name(class_names)
    # Braces mark a set of classes ('{2,3,5,7}'); data of two named classes (weather's
    # "no snow" and "snow") asks about one, named as it is.
    one_named = class_names is not None and len(class_names) == 2
    return name if name in ("odd", "even") or one_named else "{" + name + "}"


def p_label(task: Task, class_names: Sequence[str] | None = None) -> str:
    """What the figures call the head's p: 'p(odd)', or 'p(top answer)' for K classes."""
    return f"p({answer_name(task, class_names)})" if task.is_binary else "p(top answer)"


def symmetric_extent(values: Sequence[float] | np.ndarray, floor: float = 1e-6) -> float:
    """The largest |value|: the colour scale runs from minus this to plus this.

    A head still at zero gets a scale of +-1 rather than a degenerate one.
    """
    values = np.asarray(values, dtype=float)
    extent = float(np.max(np.abs(values))) if values.size else 0.0
    return extent if extent > floor else 1.0


@dataclass(frozen=True)
class Figure:
    """A chart and the note that must be read with it (what it leaves out, and why)."""

    chart: alt.TopLevelMixin
    note: str = ""


def tooltips(*fields: str | alt.Tooltip) -> list[alt.Tooltip]:
    """Tooltips as channel objects.

    Altair turns a shorthand string or a plain dict in `encode` into a channel by hashing every
    class of its schema, tens of milliseconds per chart; the label page builds its charts after
    every round, so every channel here is spelled as its class.
    """
    return [f if isinstance(f, alt.Tooltip) else alt.Tooltip(f) for f in fields]


def cell_text_colour(test: str) -> alt.ColorValue:
    """White text on a dark cell, black elsewhere."""
    return alt.ColorValue("black", condition={"test": test, "value": "white"})


def text_colour_by(extent: str) -> alt.ColorValue:
    """`extent` names the param that holds the colour scale's reach."""
    return cell_text_colour(f"abs(datum.value) > 0.6 * {extent}")


def as_params(values: Mapping[str, Any]) -> dict[str, alt.Parameter]:
    """Vega-Lite params of these names and values, which a spec can keep while they change."""
    return {name: alt.param(name=name, value=value) for name, value in values.items()}
