"""The weights' evolution over the rounds, as one heatmap: rounds down, columns across.

For a binary head, one cell per weight of the units shown, as the demo drew it. For K classes
that picture would be K times as wide, so each cell is instead the length (L2 norm over every
unit) of one class's weight row in one round: a class nobody has labelled keeps length 0, and a
class's row grows as the head learns what tells it apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa

from tl_active.plots.live import LiveChart
from tl_active.plots.style import (
    NORM_SCHEME,
    WEIGHT_SCHEME,
    Figure,
    as_params,
    cell_text_colour,
    symmetric_extent,
    text_colour_by,
    tooltips,
)
from tl_active.plots.weights import HeadLayout, shown_units, units_note, weight_history
from tl_active.sessions.records import RoundRecord


def round_label(number: int, simulated: bool) -> str:
    return "start" if number == 0 else f"{number} (auto)" if simulated else str(number)


def evolution_frame(
    rounds: Sequence[RoundRecord], layout: HeadLayout, shown: np.ndarray | None = None
) -> pd.DataFrame:
    """Long form, round 0 (the untrained head, all zeros) first: one row per round and column.

    Binary: the columns are the shown units and `value` is the weight. K classes: the columns
    are the classes and `value` is the L2 norm of that class's weight row over every unit.
    """
    return pd.DataFrame(evolution_columns(rounds, layout, shown))


def evolution_columns(
    rounds: Sequence[RoundRecord], layout: HeadLayout, shown: np.ndarray | None = None
) -> dict[str, Any]:
    """`evolution_frame`'s columns, for a page that sends them as Arrow without a data frame."""
    history = weight_history(rounds, layout)
    steps = [(0, False)] + [(r.number, bool(r.simulated)) for r in rounds]
    binary = len(layout.outputs) == 1
    if binary:
        shown = np.arange(layout.width) if shown is None else np.asarray(shown)
        names = [layout.units[u] for u in shown]
        values = history[:, 0, shown]
    else:
        names = list(layout.outputs)
        values = np.linalg.norm(history, axis=2)
    # Whole columns, round by round (row-major): the page draws this after every round.
    flat = values.ravel()
    n = len(names)
    text = "{:+.1f}" if binary else "{:.1f}"
    return {
        "round": np.repeat([number for number, _ in steps], n),
        "label": [round_label(*step) for step in steps for _ in names],
        "column": names * len(steps),
        "value": flat,
        "simulated": np.repeat([simulated for _, simulated in steps], n).astype(bool),
        "label_text": [text.format(v) for v in flat.tolist()],
    }


EVOLUTION_ROWS_AT_STEP = 30  # up to this many rows, each 22 px; then the chart keeps 660 px
EVOLUTION_MAX_FIT = 110  # beyond this many rows (6 px each), the chart grows again


def evolution_values(
    frame: pd.DataFrame | Mapping[str, Any], binary: bool, selected: int | None
) -> dict[str, Any]:
    """What an evolution heatmap's spec takes as params: the colour scale's reach, the columns
    in order, and the round outlined (-1 for none)."""
    if binary:
        extent = symmetric_extent(frame["value"])
    else:
        extent = max(float(np.max(frame["value"])), 1e-6)
    columns = list(dict.fromkeys(frame["column"]))
    return {
        "e_extent": extent,
        "e_columns": columns,
        "e_selected": -1 if selected is None else selected,
    }


def evolution_shape(n_rows: int) -> tuple[str, bool]:
    """How the rows are sized ('step' 22 px, 'fit' into 660 px, or 'small' 6 px) and whether
    their cells have room for the values."""
    if n_rows <= EVOLUTION_ROWS_AT_STEP:
        return "step", True
    if n_rows <= EVOLUTION_MAX_FIT:
        return "fit", 660 / n_rows >= 16
    return "small", False


def evolution_chart(
    source: pd.DataFrame | alt.NamedData,
    layout: HeadLayout,
    values: Mapping[str, Any],
    n_rows: int,
    outlined: bool,
) -> alt.LayerChart:
    """The evolution heatmap drawn from `source` (an `evolution_frame`, or its name) and
    `evolution_values`, taken as params; its spec changes only with the rows' sizing."""
    p = as_params(values)
    binary = len(layout.outputs) == 1
    if binary:
        scale = alt.Scale(scheme=WEIGHT_SCHEME, domain=[-p["e_extent"], p["e_extent"]], domainMid=0)
        legend_title, text_colour = "weight", text_colour_by("e_extent")
    else:
        scale = alt.Scale(scheme=NORM_SCHEME, domain=[0, p["e_extent"]])
        legend_title = "length of the class's weights"
        text_colour = cell_text_colour("datum.value > 0.6 * e_extent")
    colour = alt.Color(
        "value:Q",
        scale=scale,
        # Below the rows, not beside them: the app gives this chart a narrow column.
        legend=alt.Legend(title=legend_title, orient="bottom", direction="horizontal"),
    )
    x = alt.X(
        "column:N",
        scale=alt.Scale(domain=alt.ExprRef("e_columns")),
        title=layout.unit_title if binary else layout.output_title,
        axis=alt.Axis(labelAngle=0, orient="top"),
    )
    y = alt.Y("label:N", sort=alt.EncodingSortField(field="round", op="min"), title="round")
    base = alt.Chart(source).encode(
        x=x,
        y=y,
        tooltip=tooltips("round:Q", "label:N", "column:N", alt.Tooltip("value:Q", format="+.3f")),
    )
    sizing, with_text = evolution_shape(n_rows)
    layers = [base.mark_rect().encode(color=colour)]
    if with_text:
        layers.append(
            base.mark_text(fontSize=10).encode(text=alt.Text("label_text:N"), color=text_colour)
        )
    if outlined:
        layers.append(
            alt.Chart(source)
            .transform_filter("datum.round == e_selected")
            .mark_rect(fill=None, stroke="black", strokeWidth=2)
            .encode(x=x, y=y)
        )
    height = {"step": alt.Step(22), "fit": 660, "small": alt.Step(6)}[sizing]
    return alt.layer(*layers).add_params(*p.values()).properties(width=alt.Step(34), height=height)


def evolution_heatmap(
    rounds: Sequence[RoundRecord],
    layout: HeadLayout,
    selected: int | None = None,
    shown: np.ndarray | None = None,
) -> alt.LayerChart:
    """Every round as one heatmap (rounds down, columns across); the selected round outlined."""
    frame = evolution_frame(rounds, layout, shown)
    values = evolution_values(frame, len(layout.outputs) == 1, selected)
    return evolution_chart(frame, layout, values, len(rounds) + 1, selected is not None)


def _evolution_parts(rounds: Sequence[RoundRecord], layout: HeadLayout):
    if len(layout.outputs) > 1:
        note = (
            "Each cell is the length of one class's weights (over all "
            f"{layout.width} units) after that round: 0 until the class is labelled, growing as "
            "the head learns what tells it apart."
        )
        return evolution_columns(rounds, layout), note
    shown = shown_units(weight_history(rounds, layout))
    return evolution_columns(rounds, layout, shown), units_note(layout, shown)


def evolution_figure(
    rounds: Sequence[RoundRecord], layout: HeadLayout, selected: int | None = None
) -> Figure:
    """The evolution heatmap with its note (which units, or why class norms)."""
    columns, note = _evolution_parts(rounds, layout)
    frame = pd.DataFrame(columns)
    values = evolution_values(frame, len(layout.outputs) == 1, selected)
    chart = evolution_chart(frame, layout, values, len(rounds) + 1, selected is not None)
    return Figure(chart, note)


def evolution_live(
    rounds: Sequence[RoundRecord], layout: HeadLayout, selected: int | None = None
) -> LiveChart:
    """`evolution_figure` for a page that draws it again after every round (`live_spec`)."""
    columns, note = _evolution_parts(rounds, layout)
    values = evolution_values(columns, len(layout.outputs) == 1, selected)
    n_rows, outlined = len(rounds) + 1, selected is not None
    return LiveChart(
        shape=("evolution", layout, evolution_shape(n_rows), outlined),
        build=lambda: evolution_chart(alt.NamedData("evolution"), layout, values, n_rows, outlined),
        datasets={"evolution": pa.table(columns)},
        params=values,
        note=note,
    )
