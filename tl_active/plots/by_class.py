"""The head's p per true class: a box per class over its pool images (whiskers 5-95 %).

Binary: per class of the data (each digit), p(positive), coloured by its true answer, with 0.5
dashed. K classes: per class of the task, p of the true class, with chance dashed.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa

from tl_active.core.task import Task
from tl_active.plots.live import LiveChart
from tl_active.plots.style import (
    CLASS_COLOUR,
    FLUSHLESS,
    NEGATIVE_COLOUR,
    POSITIVE_COLOUR,
    answer_name,
    p_label,
    tooltips,
)

_positions_kept: dict[int, tuple[weakref.ref, dict[int, np.ndarray]]] = {}
_positions_lock = threading.Lock()


def class_positions(y: np.ndarray) -> dict[int, np.ndarray]:
    """Where each class present in `y` sits, by class, in order; kept while `y` lives.

    A pool's classes never change while a page draws it round after round, so the positions
    are found once per array, not in a pass over the pool per class and round.
    """
    with _positions_lock:
        kept = _positions_kept.get(id(y))
        if kept is not None and kept[0]() is y:
            return kept[1]
    order = np.argsort(y, kind="stable")
    classes, starts = np.unique(y[order], return_index=True)
    positions = dict(zip(classes.tolist(), np.split(order, starts[1:]), strict=True))
    with _positions_lock:
        for key in [k for k, (ref, _) in _positions_kept.items() if ref() is None]:
            del _positions_kept[key]
        _positions_kept[id(y)] = (weakref.ref(y), positions)
    return positions


def p_by_class_frame(
    task: Task, class_names: Sequence[str], y_pool: np.ndarray, proba: np.ndarray
) -> pd.DataFrame:
    """Per true class: the spread of a p over its pool images (exact quantiles, no sample).

    Binary: per class of the data (each digit), p(positive), and `wrong` is the share of its
    images on the wrong side of 0.5. K classes: per class of the task, p of the true class, and
    `wrong` is the share whose top answer is another class.
    """
    return pd.DataFrame(p_by_class_columns(task, class_names, y_pool, proba))


def p_by_class_columns(
    task: Task, class_names: Sequence[str], y_pool: np.ndarray, proba: np.ndarray
) -> dict[str, list]:
    """`p_by_class_frame`'s columns, for a page that sends them as Arrow without a data frame."""
    name = answer_name(task, class_names)
    rows = []
    # Columns and masks, not `proba[mask, k]` (a gather over a 2-D array, several times slower):
    # the page redraws this after every round.
    positions = class_positions(y_pool)
    if task.is_binary:
        positive_p = np.ascontiguousarray(proba[:, 1])
        groups = [(c, positive_p[where], None) for c, where in positions.items()]
    else:
        top = proba.argmax(axis=1)
        groups = []
        for k, c in enumerate(task.classes):
            where = positions.get(c, np.empty(0, np.intp))
            groups.append((c, np.ascontiguousarray(proba[:, k])[where], top[where]))
    for c, p, answered in groups:
        positive = c in task.positive
        if task.is_binary:
            group = name if positive else f"not {name}"
            wrong = np.mean((p > 0.5) != positive)
        else:
            group = class_names[c]
            wrong = np.mean(answered != task.classes.index(c))
        q05, q25, q50, q75, q95 = np.quantile(p, [0.05, 0.25, 0.5, 0.75, 0.95]).tolist()
        rows.append((class_names[c], group, q05, q25, q50, q75, q95, float(p.mean()), float(wrong)))
    names = ("class", "group", "q05", "q25", "median", "q75", "q95", "mean", "wrong")
    return {n: [row[i] for row in rows] for i, n in enumerate(names)}


def by_class_chart(
    source: pd.DataFrame | alt.NamedData,
    task: Task,
    class_names: Sequence[str],
    order: Sequence[str],
) -> alt.LayerChart:
    """The boxes drawn from `source` (a `p_by_class_frame` or its name), classes in `order`."""
    if task.is_binary:
        name = answer_name(task, class_names)
        colour = alt.Color(
            "group:N",
            scale=alt.Scale(domain=[name, f"not {name}"], range=[POSITIVE_COLOUR, NEGATIVE_COLOUR]),
            legend=alt.Legend(title="true class", orient="top"),
        )
        y_title = f"{p_label(task, class_names)} (box 25-75 %, whiskers 5-95 %)"
        line = 0.5
    else:
        colour = alt.ColorValue(CLASS_COLOUR)
        y_title = "p(true class) (box 25-75 %, whiskers 5-95 %)"
        line = 1.0 / task.n_outputs  # chance
    base = alt.Chart(source).encode(
        x=alt.X("class:N", sort=list(order), title="true class", axis=alt.Axis(labelAngle=0)),
        tooltip=tooltips(
            "class:N",
            alt.Tooltip("median:Q", format=".3f"),
            alt.Tooltip("mean:Q", format=".3f"),
            alt.Tooltip("wrong:Q", format=".1%", title="answered wrong"),
        ),
    )
    scale = alt.Scale(domain=[0, 1])
    whiskers = base.mark_rule().encode(
        y=alt.Y("q05:Q", scale=scale, title=y_title, axis=FLUSHLESS),
        y2=alt.Y2("q95:Q"),
        color=colour,
    )
    box = base.mark_bar(size=22).encode(
        y=alt.Y("q25:Q", scale=scale), y2=alt.Y2("q75:Q"), color=colour
    )
    median = base.mark_tick(size=26, thickness=4).encode(y=alt.Y("median:Q"), color=colour)
    rule = (
        alt.Chart(pd.DataFrame({"y": [line]}))
        .mark_rule(strokeDash=[4, 4], color="gray")
        .encode(y=alt.Y("y:Q"))
    )
    return alt.layer(whiskers, box, median, rule).properties(height=260)


def p_by_class_chart(
    task: Task, class_names: Sequence[str], y_pool: np.ndarray, proba: np.ndarray
) -> alt.LayerChart:
    """A box per true class (whiskers 5-95 %); the dashed line is 0.5, or chance for K classes."""
    frame = p_by_class_frame(task, class_names, y_pool, proba)
    return by_class_chart(frame, task, class_names, list(frame["class"]))


def by_class_live(
    task: Task, class_names: Sequence[str], y_pool: np.ndarray, proba: np.ndarray
) -> LiveChart:
    """`p_by_class_chart` for a page that draws it again after every round (`live_spec`)."""
    names = tuple(class_names)
    columns = p_by_class_columns(task, names, y_pool, proba)
    order = tuple(columns["class"])
    return LiveChart(
        shape=("by_class", task, names, order),
        build=lambda: by_class_chart(alt.NamedData("by_class"), task, names, order),
        datasets={"by_class": pa.table(columns)},
    )
