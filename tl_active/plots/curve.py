"""The learning curve: test figures against labels, the frozen-head ceiling, and where the
stopping signals first said the person could stop; and the curve before and after fine-tuning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd
import pyarrow as pa

from tl_active.plots.live import LiveChart
from tl_active.plots.style import FLUSHLESS, TABLEAU, tooltips
from tl_active.sessions.records import RoundRecord


def curve_frame(rounds: Sequence[RoundRecord], start: Mapping[str, float]) -> pd.DataFrame:
    """Test accuracy, precision and recall against the number of labels, from 0 labels on."""
    return pd.DataFrame(curve_columns(rounds, start))


def curve_columns(rounds: Sequence[RoundRecord], start: Mapping[str, float]) -> dict[str, list]:
    """`curve_frame`'s columns, for a page that sends them as Arrow without a data frame."""
    points = [(0, 0, False, start)] + [
        (r.number, r.n_labels, r.simulated, r.metrics) for r in rounds
    ]
    metrics = ("accuracy", "precision", "recall")
    return {
        "round": [number for number, *_ in points for _ in metrics],
        "labels": [n_labels for _, n_labels, *_ in points for _ in metrics],
        "metric": list(metrics) * len(points),
        "value": [float(m[metric]) for *_, m in points for metric in metrics],
        "answered_by": [
            "ground truth (auto)" if simulated else "person"
            for _, _, simulated, _ in points
            for _ in metrics
        ],
    }


# The one-row tables of the curve's ceiling and stop, typed even when empty.
CEILING_TYPES = {"value": pa.float64(), "text": pa.string()}


STOP_TYPES = {
    "labels": pa.int64(),
    "round": pa.int64(),
    "accuracy": pa.float64(),
    "text": pa.string(),
}


def _typed_table(columns: Mapping[str, list], types: Mapping[str, pa.DataType]) -> pa.Table:
    """A row or none as an Arrow table with these column types."""
    return pa.table({name: pa.array(columns[name], kind) for name, kind in types.items()})


def _typed_frame(columns: Mapping[str, list], types: Mapping[str, pa.DataType]) -> pd.DataFrame:
    """A row or none as a data frame with these column types (NumPy's, and pandas' strings)."""
    dtypes = {pa.float64(): float, pa.int64(): int, pa.string(): str}
    return pd.DataFrame(
        {name: pd.Series(columns[name], dtype=dtypes[kind]) for name, kind in types.items()}
    )


def ceiling_frame(ceiling: Mapping[str, float] | None) -> pd.DataFrame:
    """The frozen-head ceiling's line: one row, or none where there is no test set."""
    return _typed_frame(ceiling_columns(ceiling), CEILING_TYPES)


def ceiling_columns(ceiling: Mapping[str, float] | None) -> dict[str, list]:
    if ceiling is None:
        return {"value": [], "text": []}
    return {
        "value": [float(ceiling["accuracy"])],
        "text": [f"frozen-head ceiling {ceiling['accuracy']:.1%}"],
    }


STOP_COLOUR = "#2ca02c"


def stop_frame(rounds: Sequence[RoundRecord]) -> pd.DataFrame:
    """Where the stopping signals first said the person could stop: one row, or none yet."""
    return _typed_frame(stop_columns(rounds), STOP_TYPES)


def stop_columns(rounds: Sequence[RoundRecord]) -> dict[str, list]:
    stop = next((r for r in rounds if r.can_stop), None)
    if stop is None:
        return {"labels": [], "round": [], "accuracy": [], "text": []}
    return {
        "labels": [stop.n_labels],
        "round": [stop.number],
        "accuracy": [float(stop.metrics["accuracy"])],
        "text": [f"you can stop ({stop.n_labels} labels)"],
    }


def stop_marker(source: pd.DataFrame | alt.NamedData) -> list[alt.Chart]:
    """A vertical rule and a note where the stopping recommendation first fired (a `stop_frame`
    or its name; with no row, nothing is drawn)."""
    base = alt.Chart(source).encode(
        x=alt.X("labels:Q"),
        tooltip=tooltips("round:Q", "labels:Q", alt.Tooltip("accuracy:Q", format=".4f")),
    )
    return [
        base.mark_rule(color=STOP_COLOUR, strokeWidth=2),
        base.mark_text(align="left", dx=4, dy=12, color=STOP_COLOUR, fontWeight="bold").encode(
            y=alt.YValue(0), text=alt.Text("text:N")
        ),
    ]


# The page's and the PNG's colours of each figure of the learning curve.
METRIC_COLOURS = {"accuracy": "#1f77b4", "precision": "#9ecae9", "recall": "#d62728"}


def curve_chart(
    source: pd.DataFrame | alt.NamedData,
    ceiling: pd.DataFrame | alt.NamedData,
    stop: pd.DataFrame | alt.NamedData,
    has_test_set: bool = True,
    shape_legend: bool = True,
) -> alt.LayerChart:
    """The curve drawn from `source` (a `curve_frame` or its name), its ceiling line, and where
    the stopping signals first said the person could stop (`stop_frame`).

    `shape_legend` False leaves out the key of who answered (circles, triangles), for a page
    that says it in the chart's heading: beside the metrics' key, in the column the Label page
    gives the curve at 1280 px, it ran past the chart's right edge and was cut.

    Without a test set (images without classes), the figures are the head's cross-validated on
    the labels given, and the ceiling's data is empty.
    """
    axis = "on the held-out test set" if has_test_set else "cross-validated on your labels"
    lines = alt.Chart(source).encode(
        # Whole labels only: with one round drawn, the axis said 0.000000 and 0.2, 0.4, ...
        x=alt.X("labels:Q", title="labels given", axis=alt.Axis(format="d", tickMinStep=1)),
        y=alt.Y("value:Q", title=axis, scale=alt.Scale(domain=[0, 1]), axis=FLUSHLESS),
        # Colours of its own, not the theme's: Streamlit's theme and vl-convert's default
        # gave the page and its PNG different ones.
        color=alt.Color(
            "metric:N",
            scale=alt.Scale(domain=list(METRIC_COLOURS), range=list(METRIC_COLOURS.values())),
            legend=alt.Legend(orient="top", title=None),
        ),
        tooltip=tooltips(
            "round:Q", "labels:Q", "metric:N", alt.Tooltip("value:Q", format=".4f"), "answered_by:N"
        ),
    )
    line = lines.mark_line()
    dots = lines.mark_point(filled=True, size=50).encode(
        shape=alt.Shape(
            "answered_by:N",
            scale=alt.Scale(domain=["person", "ground truth (auto)"], range=["circle", "triangle"]),
            legend=alt.Legend(orient="top", title=None) if shape_legend else None,
        )
    )
    rule = alt.Chart(ceiling).mark_rule(strokeDash=[6, 4], color="black").encode(y=alt.Y("value:Q"))
    text = (
        alt.Chart(ceiling)
        .mark_text(align="left", dx=4, dy=-7, color="black")
        .encode(y=alt.Y("value:Q"), x=alt.XValue(0), text=alt.Text("text:N"))
    )
    return alt.layer(line, dots, rule, text, *stop_marker(stop)).properties(height=260)


def learning_curve(
    rounds: Sequence[RoundRecord],
    start: Mapping[str, float],
    ceiling: Mapping[str, float] | None,
    shape_legend: bool = True,
) -> alt.LayerChart:
    """The test figures per number of labels, the frozen-head ceiling as a dashed line, and
    where the stopping signals first said the person could stop, as a marker (`curve_chart`
    says what `shape_legend` leaves out).

    Without a test set (`ceiling` None: images without classes), the figures are the head's
    cross-validated on the labels given, and there is no ceiling to draw.
    """
    return curve_chart(
        curve_frame(rounds, start),
        ceiling_frame(ceiling),
        stop_frame(rounds),
        has_test_set=ceiling is not None,
        shape_legend=shape_legend,
    )


def curve_live(
    rounds: Sequence[RoundRecord],
    start: Mapping[str, float],
    ceiling: Mapping[str, float] | None,
) -> LiveChart:
    """`learning_curve` for a page that draws it again after every round (`live_spec`)."""
    has_test_set = ceiling is not None
    return LiveChart(
        shape=("curve", has_test_set),
        build=lambda: curve_chart(
            alt.NamedData("curve"),
            alt.NamedData("curve_ceiling"),
            alt.NamedData("curve_stop"),
            has_test_set=has_test_set,
            shape_legend=False,  # the page's heading says it
        ),
        datasets={
            "curve": pa.table(curve_columns(rounds, start)),
            "curve_ceiling": _typed_table(ceiling_columns(ceiling), CEILING_TYPES),
            "curve_stop": _typed_table(stop_columns(rounds), STOP_TYPES),
        },
    )


# How the curve before and after fine-tuning says each figure: its axis title and format.
BEFORE_AFTER_AXES = {"accuracy": ("test accuracy", "%"), "pr_auc": ("test PR-AUC", ".2f")}


def before_after_frame(
    before: Sequence[RoundRecord],
    after: Sequence[RoundRecord],
    names: tuple[str, str],
    figure: str = "accuracy",
    values: tuple[Sequence[float], Sequence[float]] | None = None,
) -> pd.DataFrame:
    """A figure against labels of a session and of the one that continues it fine-tuned: the
    test accuracy each round recorded, or `values` per round of each (a rare answer's PR-AUC,
    which rounds do not record), in a column named `figure`."""
    if values is None:
        values = tuple(
            [float(r.metrics[figure]) if figure in r.metrics else None for r in rounds]
            for rounds in (before, after)
        )
    return pd.DataFrame(
        [
            {"backbone": name, "labels": r.n_labels, figure: float(value)}
            for name, rounds, shown in zip(names, (before, after), values)
            for r, value in zip(rounds, shown)
            if value is not None
        ],
        columns=["backbone", "labels", figure],
    )


def before_after_chart(
    frame: pd.DataFrame, fine_tuned_at: int, figure: str = "accuracy"
) -> alt.LayerChart:
    """The learning curve before and after fine-tuning, with a rule where it was fine-tuned."""
    names = list(dict.fromkeys(frame["backbone"]))
    title, number = BEFORE_AFTER_AXES[figure]
    lines = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("labels:Q", title="labels"),
            y=alt.Y(
                f"{figure}:Q",
                title=title,
                axis=alt.Axis(format=number),
                scale=alt.Scale(zero=False),
            ),
            color=alt.Color(
                "backbone:N",
                sort=names,
                scale=alt.Scale(domain=names, range=TABLEAU[: len(names)]),
                legend=alt.Legend(orient="bottom", title=None, labelLimit=400),
            ),
            tooltip=tooltips(
                "backbone:N",
                "labels:Q",
                alt.Tooltip(f"{figure}:Q", format=".2%" if number == "%" else ".3f", title=title),
            ),
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"labels": [fine_tuned_at]}))
        .mark_rule(strokeDash=[4, 4], color="gray")
        .encode(x="labels:Q")
    )
    return alt.layer(lines, rule).properties(height=220)
