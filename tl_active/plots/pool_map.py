"""The pool map as a page draws it: every drawn image a point where the frozen network puts it,
coloured by the head's answer and faded where the head is unsure; the person's labels marked
with their answers; the open batch ringed and numbered as in the grid.

The projection is computed once (`tl_active.data.pool_map`); a round changes only the columns
that come from the head, so the chart's spec is kept per shape (`live_spec`) and a round sends
one table. The points' positions and names are made once per map and drawn set (`MapPoints`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import altair as alt
import numpy as np
import pyarrow as pa

from tl_active.plots.live import LiveChart

MIN_OPACITY = 0.12  # a point the head cannot tell at all is still seen
BATCH_COLOUR = "#111111"
# The box a person drags on the map to label a region (its x and y ranges, in the map's units).
MAP_BOX = "box"
# A drag draws the box; a drag with shift held pans, as the wheel zooms.
_DRAG = "[pointerdown[!event.shiftKey], window:pointerup] > window:pointermove!"
_SHIFT_DRAG = "[pointerdown[event.shiftKey], window:pointerup] > window:pointermove!"


@dataclass(frozen=True)
class MapPoints:
    """What stays from round to round: the drawn images' positions and names."""

    positions: np.ndarray  # (n,) positions in the task's pool (what the head's rows are)
    pool_index: np.ndarray  # (n,) whole-pool indices (what rounds record)
    x: np.ndarray
    y: np.ndarray
    names: pa.Array  # how the data kind names each image


def certainty(proba: np.ndarray) -> np.ndarray:
    """How sure the head is of its answer, in [0, 1]: 0 where every answer is as likely."""
    k = proba.shape[1]
    top = proba.max(axis=1)
    return np.clip((top - 1 / k) / (1 - 1 / k), 0.0, 1.0)


def map_table(
    points: MapPoints,
    proba: np.ndarray,
    p_shown: np.ndarray,
    answers: Sequence[str],
    labelled: Mapping[int, str],
    batch: Sequence[int],
    thumbnails: Mapping[int, str] = {},  # noqa: B006  (read only)
) -> pa.Table:
    """One row per drawn point: where it is, what the head says and how surely, the person's
    answer if labelled, its number in the open batch if it is in it, and a thumbnail for those.

    `proba` and `p_shown` are over the task's pool; `labelled`, `batch` and `thumbnails` are by
    whole-pool index.
    """
    rows = proba[points.positions]
    said = np.asarray(answers, dtype=object)[rows.argmax(axis=1)]
    number = {int(i): n + 1 for n, i in enumerate(batch)}
    index = points.pool_index.tolist()
    return pa.table(
        {
            "x": pa.array(points.x),
            "y": pa.array(points.y),
            "image name": points.names,
            "head says": pa.array(said.tolist(), pa.string()),
            "p": pa.array(np.round(p_shown[points.positions], 3)),
            "sure": pa.array(np.round(MIN_OPACITY + (1 - MIN_OPACITY) * certainty(rows), 3)),
            "you said": pa.array([labelled.get(i) for i in index], pa.string()),
            "batch": pa.array([number.get(i) for i in index], pa.int32()),
            "image": pa.array([thumbnails.get(i) for i in index], pa.string()),
        }
    )


def _scale(answers: Sequence[str], colours: Sequence[str]) -> alt.Scale:
    if colours:
        return alt.Scale(domain=list(answers), range=list(colours))
    return alt.Scale(domain=list(answers), scheme="tableau10")


def map_chart(
    data: alt.Data,
    answers: Sequence[str],
    method: str,
    colours: Sequence[str] = (),
    height: int = 460,
    item: str = "image",
) -> alt.Chart:
    """The map: points, the labelled ones marked, the open batch ringed and numbered.

    `colours`, one per answer, are the grid's (the same answer, the same colour on the page).
    A drag draws a box (the selection `MAP_BOX`, by x and y) for labelling a region at once;
    shift and drag pans, the wheel zooms, a double click clears the box. The tooltips name a
    point as the data kind names its items (`item`: "image name", "window name"); the
    thumbnail's field stays "image", the key Vega's tooltip draws a picture for.
    """
    name = alt.Tooltip("image name:N", title=f"{item} name")
    colour = alt.Color(
        "head says:N",
        scale=_scale(answers, colours),
        legend=alt.Legend(title="head says", orient="right"),
    )
    axis = alt.Axis(labels=False, ticks=False, title=None, grid=False, domain=False)
    x = alt.X("x:Q", axis=axis, scale=alt.Scale(zero=False))
    y = alt.Y("y:Q", axis=axis, scale=alt.Scale(zero=False))
    base = alt.Chart(data).encode(x=x, y=y)
    points = (
        base.mark_circle(size=14)
        .encode(
            color=colour,
            opacity=alt.Opacity("sure:Q", scale=None, legend=None),
            tooltip=[name, "head says:N", "p:Q"],
        )
        .properties(name="points")
        .add_params(
            alt.selection_interval(
                name=MAP_BOX, encodings=["x", "y"], on=_DRAG, zoom=False, clear="dblclick"
            )
        )
    )
    labelled = (
        base.transform_filter("isValid(datum['you said'])")
        .mark_point(shape="square", size=60, filled=False, strokeWidth=1.6)
        .encode(
            stroke=alt.Stroke(
                "you said:N",
                scale=_scale(answers, colours),
                legend=alt.Legend(title="you said (squares)", orient="right"),
            ),
            tooltip=[name, "you said:N", "head says:N", "p:Q", "image:N"],
        )
    )
    in_batch = base.transform_filter("isValid(datum.batch)")
    ring = in_batch.mark_point(
        shape="circle", size=170, filled=False, strokeWidth=2.2, color=BATCH_COLOUR
    ).encode(tooltip=["batch:Q", name, "head says:N", "p:Q", "image:N"])
    number = in_batch.mark_text(
        dx=9, dy=-9, fontSize=12, fontWeight="bold", color=BATCH_COLOUR
    ).encode(text="batch:Q")
    return (
        alt.layer(points, labelled, ring, number)
        .properties(height=height, title=f"{method.upper()} map of the pool")
        .add_params(
            alt.selection_interval(name="view", bind="scales", translate=_SHIFT_DRAG, zoom="wheel!")
        )
    )


def map_live(
    points: MapPoints,
    proba: np.ndarray,
    p_shown: np.ndarray,
    answers: Sequence[str],
    labelled: Mapping[int, str],
    batch: Sequence[int],
    method: str,
    thumbnails: Mapping[int, str] = {},  # noqa: B006  (read only)
    colours: Sequence[str] = (),
    item: str = "image",
) -> LiveChart:
    """`map_chart` for a page that draws it again after every round (`live_spec`)."""
    names, colours = tuple(answers), tuple(colours)
    return LiveChart(
        shape=("pool_map", names, method, colours, item),
        build=lambda: map_chart(alt.NamedData("pool_map"), names, method, colours, item=item),
        datasets={
            "pool_map": map_table(points, proba, p_shown, names, labelled, batch, thumbnails)
        },
    )
