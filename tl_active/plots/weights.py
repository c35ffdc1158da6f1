"""The head's weights: a K x D matrix drawn as an outputs x units heatmap.

One row per output (a binary head has one, p of the positive answer; a K-class head one per
class) and one column per unit of the frozen layer (the digit of each softmax output of the
shipped CNN, the old class of each output of the 5-9 network, or the unit's number on any other
layer): a `HeadLayout` names them. A layer wider than `MAX_UNITS` would make an unreadable wall
of cells, so only the units whose weights have varied most are shown, and the figure says so.
The bias gets its own column only where the head trains one; on a softmax layer it is held at 0
(see `head.py`), and the figure says that instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa

from tl_active.core.task import Task
from tl_active.plots.live import LiveChart
from tl_active.plots.style import (
    WEIGHT_SCHEME,
    Figure,
    as_params,
    p_label,
    symmetric_extent,
    text_colour_by,
    tooltips,
)
from tl_active.sessions.records import RoundRecord

MAX_UNITS = 16  # the most unit columns a weights heatmap shows
BIAS = "bias"
BIAS_GAP = " "  # the name of the empty column between the weights and the bias


@dataclass(frozen=True)
class HeadLayout:
    """How to read a head's weights: a name per row (output) and per column (unit)."""

    outputs: tuple[str, ...]  # one per output: ("p(odd)",) or the class names
    units: tuple[str, ...]  # one per unit of the frozen layer
    unit_title: str  # what the columns are, e.g. "digit (the CNN's softmax output)"
    bias_trained: bool  # False: the bias is held at 0 and gets no column
    output_title: str = "output"

    @property
    def width(self) -> int:
        return len(self.units)


def head_layout(
    task: Task,
    class_names: Sequence[str],
    units: Sequence[str],
    unit_title: str,
    bias_trained: bool,
    answers: Sequence[str] = (),
) -> HeadLayout:
    """The layout of a task's head on a layer whose units have these names.

    `answers` names the outputs where a person named them (images without classes). Two
    classes make a logistic head: one row, the p of the second.
    """
    if task.is_binary:
        return HeadLayout((p_label(task, class_names),), tuple(units), unit_title, bias_trained)
    names = tuple(answers) or task.answers(class_names)
    if len(names) == 2:
        return HeadLayout((f"p({names[1]})",), tuple(units), unit_title, bias_trained)
    return HeadLayout(names, tuple(units), unit_title, bias_trained, output_title="class")


def weight_history(rounds: Sequence[RoundRecord], layout: HeadLayout) -> np.ndarray:
    """Every round's weights, (rounds + 1, outputs, units), starting with the untrained zeros."""
    shape = (len(layout.outputs), layout.width)
    stack = [np.zeros(shape)] + [np.asarray(r.weights, float).reshape(shape) for r in rounds]
    return np.stack(stack)


def shown_units(history: np.ndarray, max_units: int = MAX_UNITS) -> np.ndarray:
    """The units a weights heatmap shows, in their own order: all, or the most varying.

    A unit's spread is its largest weight minus its smallest, over every output and round so
    far (the untrained zeros included), so the choice stays put while scrubbing through the
    rounds. Ties go to the lower unit.
    """
    width = history.shape[-1]
    if width <= max_units:
        return np.arange(width)
    flat = history.reshape(-1, width)
    spread = flat.max(axis=0) - flat.min(axis=0)
    return np.sort(np.argsort(-spread, kind="stable")[:max_units])


def units_note(layout: HeadLayout, shown: np.ndarray) -> str:
    """What the heatmap leaves out: empty when every unit is shown."""
    if len(shown) == layout.width:
        return ""
    over = "outputs and rounds" if len(layout.outputs) > 1 else "rounds"
    return (
        f"{len(shown)} of the layer's {layout.width} units shown: those whose weights varied "
        f"most over the {over} so far."
    )


def bias_note(layout: HeadLayout) -> str:
    if layout.bias_trained:
        return ""
    return (
        "No bias column: the layer's outputs sum to 1, so a bias would only shift every "
        "weight; it is held at 0."
    )


def weights_frame(
    weights: Sequence[Sequence[float]] | np.ndarray,
    bias: Sequence[float] | np.ndarray,
    layout: HeadLayout,
    shown: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per cell: output, unit, value, label; the bias last, where the head trains it."""
    return pd.DataFrame(weights_columns(weights, bias, layout, shown))


def weights_columns(
    weights: Sequence[Sequence[float]] | np.ndarray,
    bias: Sequence[float] | np.ndarray,
    layout: HeadLayout,
    shown: np.ndarray | None = None,
) -> dict[str, Any]:
    """`weights_frame`'s columns, for a page that sends them as Arrow without a data frame."""
    weights = np.asarray(weights, float)
    expected = (len(layout.outputs), layout.width)
    if weights.shape != expected:
        raise ValueError(f"expected weights of shape {expected}, got {weights.shape}")
    shown = np.arange(layout.width) if shown is None else np.asarray(shown)
    # Built from whole columns, output by output (row-major), not row by row: the page draws
    # this after every round.
    cells = weights[:, shown]
    units = [layout.units[u] for u in shown]
    if layout.bias_trained:
        cells = np.column_stack([cells, np.asarray(bias, float).reshape(len(layout.outputs))])
        units.append(BIAS)
    values = cells.ravel()
    return {
        "output": [o for o in layout.outputs for _ in units],
        "unit": units * len(layout.outputs),
        "value": values,
        "label": [f"{v:+.2f}" for v in values.tolist()],
    }


def weights_values(
    frame: pd.DataFrame | Mapping[str, Any],
    layout: HeadLayout,
    title: str = "",
    extent: float | None = None,
) -> dict[str, Any]:
    """What a weights heatmap's spec takes as params: the colour scale's reach, the columns
    (the units shown, then a gap and the bias where it is trained) and the title."""
    extent = symmetric_extent(frame["value"]) if extent is None else float(extent)
    units = [u for u in dict.fromkeys(frame["unit"]) if u != BIAS]
    domain = units + ([BIAS_GAP, BIAS] if layout.bias_trained else [])
    return {"w_extent": extent, "w_units": domain, "w_title": title}


# A cell's value ("+0.12", "-1.05") is five characters about 0.6 of the font size wide each.
VALUE_EM = 3.0
VALUE_MIN_FONT = 8  # px: smaller than this, the cells show no values


def cell_font_size(largest: int) -> str:
    """The font size of a cell's value as a Vega expression of the cell's drawn width: the
    largest that fits with a pixel to spare each side, `largest` at most, and 0 (no value)
    where even `VALUE_MIN_FONT` would not fit."""
    fits = f"floor((bandwidth('x') - 2) / {VALUE_EM})"
    return f"{fits} >= {VALUE_MIN_FONT} ? min({largest}, {fits}) : 0"


ROWS_HEIGHT = 110  # px for all the rows of a head with several outputs
ROW_MIN = 18  # px: a cell's value still reads at 10 px


def weights_chart(
    source: pd.DataFrame | alt.NamedData,
    layout: HeadLayout,
    values: Mapping[str, Any],
    stretched: bool = False,
) -> alt.LayerChart:
    """The weights heatmap drawn from `source` (a `weights_frame`, or the name of one) and
    `weights_values`, which it takes as Vega-Lite params: a page keeps this spec for as long as
    the layout and the number of columns stay, and sends only the data and the params.

    `stretched`: the page fits the chart to its column, so the cells' values are sized to the
    cells as drawn (`cell_font_size`); a file keeps its own step, where they always fit."""
    p = as_params(values)
    step = 52 if len(values["w_units"]) <= 12 else 40
    # Rows share a height budget, so that a head with several classes leaves the learning
    # curve under it in view at 1440 x 900 and 1280 x 800 (five 40 px rows pushed it 36 px below
    # the fold of 900).
    row = min(step, max(ROW_MIN, ROWS_HEIGHT // len(layout.outputs)))
    colour = alt.Color(
        "value:Q",
        scale=alt.Scale(scheme=WEIGHT_SCHEME, domain=[-p["w_extent"], p["w_extent"]], domainMid=0),
        legend=alt.Legend(title=None, orient="right", gradientLength=50),
    )
    base = alt.Chart(source).encode(
        x=alt.X(
            "unit:N",
            scale=alt.Scale(domain=alt.ExprRef("w_units")),
            title=layout.unit_title,
            axis=alt.Axis(labelAngle=0),
        ),
        y=alt.Y(
            "output:N",
            scale=alt.Scale(domain=list(layout.outputs)),
            title=layout.output_title if len(layout.outputs) > 1 else None,
        ),
        tooltip=tooltips("output:N", "unit:N", alt.Tooltip("value:Q", format="+.4f")),
    )
    rect = base.mark_rect(stroke="white").encode(color=colour)
    # The values shrink with their cells, and go (the tooltip keeps them) where a cell is too
    # narrow for them to read: the page stretches the heatmap to its column, and 18 columns at
    # 1280 px gave cells of 25 px, where "+0.12" at 10 px ran into its neighbours.
    largest = 13 if step == 52 else 11
    size = alt.ExprRef(cell_font_size(largest)) if stretched else largest
    text = base.mark_text(fontSize=size).encode(
        text=alt.Text("label:N"), color=text_colour_by("w_extent")
    )
    return (
        alt.layer(rect, text)
        .add_params(*p.values())
        .properties(
            width=alt.Step(step), height=alt.Step(row), title=alt.Title(alt.ExprRef("w_title"))
        )
    )


def weights_heatmap(
    weights: Sequence[Sequence[float]] | np.ndarray,
    bias: Sequence[float] | np.ndarray,
    layout: HeadLayout,
    shown: np.ndarray | None = None,
    title: str = "",
    extent: float | None = None,
) -> alt.LayerChart:
    """The weights as an outputs x units heatmap with the values in the cells, the bias apart.

    One view, the bias set apart by an empty column, so that the app can fit it to the width of
    its column (a concatenation keeps its own width and gets cut off in a narrow one). `extent`
    fixes the colour scale (the GIF keeps one for all its frames).
    """
    frame = weights_frame(weights, bias, layout, shown)
    return weights_chart(frame, layout, weights_values(frame, layout, title, extent))


def _selected_weights(rounds: Sequence[RoundRecord], selected: int, layout: HeadLayout):
    history = weight_history(rounds, layout)
    shown = shown_units(history)
    record = rounds[selected - 1] if selected else None
    bias = record.bias if record else [0.0] * len(layout.outputs)
    note = " ".join(n for n in (units_note(layout, shown), bias_note(layout)) if n)
    return weights_columns(history[selected], bias, layout, shown), note


def weights_figure(
    rounds: Sequence[RoundRecord], selected: int, layout: HeadLayout, title: str = ""
) -> Figure:
    """The heatmap of round `selected` (0: the untrained head), its units chosen over all rounds."""
    columns, note = _selected_weights(rounds, selected, layout)
    frame = pd.DataFrame(columns)
    return Figure(weights_chart(frame, layout, weights_values(frame, layout, title)), note)


def weights_live(
    rounds: Sequence[RoundRecord], selected: int, layout: HeadLayout, title: str = ""
) -> LiveChart:
    """`weights_figure` for a page that draws it again after every round (`live_spec`)."""
    columns, note = _selected_weights(rounds, selected, layout)
    values = weights_values(columns, layout, title)
    return LiveChart(
        shape=("weights", layout, len(values["w_units"])),
        build=lambda: weights_chart(alt.NamedData("weights"), layout, values, stretched=True),
        datasets={"weights": pa.table(columns)},
        params=values,
        note=note,
    )
