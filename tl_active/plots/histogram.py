"""The head's p over the pool, counted in bins: how sure it is, and of what.

Binary: p(positive), split by the image's true answer. K classes: p of the head's top answer,
split by whether that answer is right. Where there is no truth to colour by, p of the head's
top answer stacked by that answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa

from tl_active.core.rows import row_max
from tl_active.core.task import Task
from tl_active.plots.live import LiveChart
from tl_active.plots.style import (
    NEGATIVE_COLOUR,
    POSITIVE_COLOUR,
    RIGHT_COLOUR,
    TABLEAU,
    WRONG_COLOUR,
    answer_name,
    p_label,
    tooltips,
)
from tl_active.sessions.figures import HISTOGRAM_BINS


def _shown_p(task: Task, proba: np.ndarray) -> np.ndarray:
    """The p a figure shows per image: p(positive), or p of the head's top answer."""
    return proba[:, 1] if task.is_binary else row_max(proba)


def histogram_groups(task: Task, class_names: Sequence[str]) -> list[str]:
    """The colour groups of the histogram: the truth (binary) or whether the head is right."""
    if task.is_binary:
        name = answer_name(task, class_names)
        return [f"truly {name}", f"truly not {name}"]
    return ["head right", "head wrong"]


def histogram_frame(
    task: Task,
    class_names: Sequence[str],
    y_pool: np.ndarray,
    proba: np.ndarray,
    bins: int = HISTOGRAM_BINS,
) -> pd.DataFrame:
    """Counts of the shown p over the task's pool in equal bins on [0, 1], in two groups.

    Binary: p(positive), split by the image's true answer. K classes: p of the head's top
    answer, split by whether that answer is right.
    """
    return pd.DataFrame(histogram_columns(task, class_names, y_pool, proba, bins))


def histogram_columns(
    task: Task,
    class_names: Sequence[str],
    y_pool: np.ndarray,
    proba: np.ndarray,
    bins: int = HISTOGRAM_BINS,
) -> dict[str, Any]:
    """`histogram_frame`'s columns, for a page that sends them as Arrow without a data frame."""
    truth = task.truth(y_pool)
    p = _shown_p(task, proba)
    first = truth == 1 if task.is_binary else proba.argmax(axis=1) == truth
    edges = np.linspace(0.0, 1.0, bins + 1)
    # One pass over the pool for both groups (the page redraws this after every round): the
    # bin of each p (p = 1 in the last), then the second group's bins after the first's.
    which = np.minimum((np.asarray(p, np.float64) * bins).astype(np.intp), bins - 1)
    counts = np.bincount(which + bins * ~first, minlength=2 * bins)
    return {
        "bin_start": np.tile(edges[:-1], 2),
        "bin_end": np.tile(edges[1:], 2),
        "group": [g for g in histogram_groups(task, class_names) for _ in range(bins)],
        "count": counts.astype(np.int64),
    }


def histogram_chart(
    source: pd.DataFrame | alt.NamedData, task: Task, class_names: Sequence[str]
) -> alt.Chart:
    """The histogram drawn from `source`, a `histogram_frame` or its name."""
    groups = histogram_groups(task, class_names)
    colours = [POSITIVE_COLOUR, NEGATIVE_COLOUR] if task.is_binary else [RIGHT_COLOUR, WRONG_COLOUR]
    return p_bars(
        source,
        f"{p_label(task, class_names)} over the pool",
        alt.Color(
            "group:N",
            scale=alt.Scale(domain=groups, range=colours),
            # Binary: the groups are the truth ("truly odd"), whatever the data calls it.
            legend=alt.Legend(
                title="the truth" if task.is_binary else "the head's answer", orient="top"
            ),
        ),
        tooltips("group:N", "bin_start:Q", "bin_end:Q", "count:Q"),
        height=260,
    )


def p_bars(
    source: pd.DataFrame | alt.NamedData,
    x_title: str,
    colour: alt.Color,
    tooltip: list[alt.Tooltip],
    height: int,
) -> alt.Chart:
    """Counts of p in bins (`bin_start`, `bin_end`, `count`) as bars stacked by `colour`."""
    return (
        alt.Chart(source)
        .mark_bar()
        .encode(
            x=alt.X("bin_start:Q", bin="binned", title=x_title, scale=alt.Scale(domain=[0, 1])),
            x2=alt.X2("bin_end:Q"),
            y=alt.Y("count:Q", stack=True, title="in the pool"),
            color=colour,
            tooltip=tooltip,
        )
        .properties(height=height)
    )


def p_histogram(
    task: Task, class_names: Sequence[str], y_pool: np.ndarray, proba: np.ndarray
) -> alt.Chart:
    return histogram_chart(histogram_frame(task, class_names, y_pool, proba), task, class_names)


def histogram_live(
    task: Task, class_names: Sequence[str], y_pool: np.ndarray, proba: np.ndarray
) -> LiveChart:
    """`p_histogram` for a page that draws it again after every round (`live_spec`)."""
    names = tuple(class_names)
    return LiveChart(
        shape=("histogram", task, names),
        build=lambda: histogram_chart(alt.NamedData("histogram"), task, names),
        datasets={"histogram": pa.table(histogram_columns(task, names, y_pool, proba))},
    )


def answer_histogram_frame(answers: Sequence[str], proba: np.ndarray) -> pd.DataFrame:
    """Counts of the pool's p of the head's top answer, in 20 bins, per answer."""
    said = proba.argmax(axis=1)
    top = proba[np.arange(len(proba)), said]
    edges = np.linspace(0, 1, 21)
    rows = []
    for k, answer in enumerate(answers):
        counts, _ = np.histogram(top[said == k], bins=edges)
        rows += [
            {"bin_start": a, "bin_end": b, "count": int(c), "answer": answer}
            for a, b, c in zip(edges[:-1], edges[1:], counts)
        ]
    return pd.DataFrame(rows)


def _table(frame: pd.DataFrame) -> pa.Table:
    """A frame as an Arrow table, column by column (no pandas schema metadata)."""
    return pa.table({str(name): pa.array(frame[name]) for name in frame.columns})


def answer_histogram_chart(
    source: pd.DataFrame | alt.NamedData, answers: Sequence[str]
) -> alt.Chart:
    """The bars of an `answer_histogram_frame` (or its name), stacked by answer."""
    return p_bars(
        source,
        "p of the head's answer over the pool",
        alt.Color(
            "answer:N",
            sort=list(answers),
            scale=alt.Scale(
                domain=list(answers),
                range=[TABLEAU[k % len(TABLEAU)] for k in range(len(answers))],
            ),
            legend=alt.Legend(orient="top", title="the head says"),
        ),
        tooltips("answer:N", "count:Q"),
        height=220,
    )


def p_by_answer_histogram(answers: Sequence[str], proba: np.ndarray) -> alt.Chart:
    """p of the head's top answer over the pool, stacked by that answer: where there is no
    truth to colour by, how sure the head is of what it would say."""
    return answer_histogram_chart(answer_histogram_frame(answers, proba), answers)


def answer_histogram_live(answers: Sequence[str], proba: np.ndarray) -> LiveChart:
    """`p_by_answer_histogram` for a page that draws it again after every round (`live_spec`)."""
    names = tuple(answers)
    return LiveChart(
        shape=("answer_histogram", names),
        build=lambda: answer_histogram_chart(alt.NamedData("answer_histogram"), names),
        datasets={"answer_histogram": _table(answer_histogram_frame(names, proba))},
    )
