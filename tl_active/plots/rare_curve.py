"""The learning curve of a rare answer: PR-AUC, precision and recall per label, over the
positives found per label spent.

On a question such as snow (2 % of days) the accuracy curve says 98 % from the first round,
whatever the head learns; what moves is how well the head ranks the test set (PR-AUC, from the
base rate up) and how many positives the labels hold to learn from. The chart shows both on
one axis of labels: the test figures with the frozen head's PR-AUC as the ceiling on the left
axis, and the positive answers given against what labelling at random would find on the right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pyarrow as pa

from tl_active.plots.curve import CEILING_TYPES, STOP_TYPES, _typed_table, stop_columns, stop_marker
from tl_active.plots.live import LiveChart
from tl_active.plots.style import FLUSHLESS, tooltips
from tl_active.sessions.records import RoundRecord

PR_AUC = "PR-AUC"
# The page's and the PNG's colours: PR-AUC as accuracy is on the plain curve.
RARE_COLOURS = {PR_AUC: "#1f77b4", "precision": "#9ecae9", "recall": "#d62728"}
FOUND_COLOUR = "#ff7f0e"
RANDOM_COLOUR = "#7f7f7f"
# Vega draws a right axis's title a few pixels past the chart's edge, where the page's column
# cuts it: room for it on that side (a chart's own padding, so only where it stands alone).
PAGE_PADDING = {"left": 5, "top": 5, "bottom": 5, "right": 10}


def rare_curve_columns(curve: Mapping[str, list]) -> dict[str, list]:
    """The test figures as long columns, from 0 labels on: the rare answer's PR-AUC, precision
    and recall at p > 0.5 (`figures.rare_curve`)."""
    names = {PR_AUC: "pr_auc", "precision": "precision", "recall": "recall"}
    columns: dict[str, list] = {name: [] for name in ("round", "labels", "metric", "value")}
    columns["answered_by"] = []
    for at in range(len(curve["round"])):
        for name, column in names.items():
            columns["round"].append(curve["round"][at])
            columns["labels"].append(curve["labels"][at])
            columns["metric"].append(name)
            columns["value"].append(float(curve[column][at]))
            columns["answered_by"].append(
                "ground truth (auto)" if curve["simulated"][at] else "person"
            )
    return columns


def found_columns(curve: Mapping[str, list], pool_rate: float) -> dict[str, list]:
    """The positives' panel: the positive answers among the labels after each round, and what as
    many labels drawn at random would hold (the pool's share of positives times the labels)."""
    return {
        "round": list(curve["round"]),
        "labels": list(curve["labels"]),
        "found": [int(n) for n in curve["positives"]],
        "at_random": [pool_rate * n for n in curve["labels"]],
    }


def rare_ceiling_columns(pr_auc: float | None) -> dict[str, list]:
    if pr_auc is None:
        return {"value": [], "text": []}
    return {"value": [float(pr_auc)], "text": [f"frozen-head ceiling PR-AUC {pr_auc:.2f}"]}


def rare_curve_chart(
    source: alt.NamedData | alt.Data,
    found: alt.NamedData | alt.Data,
    ceiling: alt.NamedData | alt.Data,
    stop: alt.NamedData | alt.Data,
    answer: str,
    height: int = 260,
) -> alt.LayerChart:
    """The test figures on the left axis, the positives found on the right (see the module),
    on one axis of labels. `answer` names the positive answer.

    One panel, not two stacked: a page's column sizes a single chart to its width, and the
    plain curve's height holds it, so nothing under it moves for a rare question.
    """
    found_title = f"{answer} found"
    x = alt.X("labels:Q", title="labels given", axis=alt.Axis(format="d", tickMinStep=1))
    # One key for both axes: the figures by name, the positives in orange, random's in grey.
    key = {**RARE_COLOURS, found_title: FOUND_COLOUR, "at random": RANDOM_COLOUR}
    colour = alt.Scale(domain=list(key), range=list(key.values()))
    # Five entries on one line at 1280 px: a little less room between them than the default.
    legend = alt.Legend(orient="top", title=None, labelLimit=120, columnPadding=6, symbolSize=60)
    lines = alt.Chart(source).encode(
        x=x,
        y=alt.Y("value:Q", title="test set", scale=alt.Scale(domain=[0, 1]), axis=FLUSHLESS),
        color=alt.Color("metric:N", scale=colour, legend=legend),
        tooltip=tooltips(
            "round:Q", "labels:Q", "metric:N", alt.Tooltip("value:Q", format=".3f"), "answered_by:N"
        ),
    )
    dots = lines.mark_point(filled=True, size=40).encode(
        shape=alt.Shape(
            "answered_by:N",
            scale=alt.Scale(domain=["person", "ground truth (auto)"], range=["circle", "triangle"]),
            legend=None,  # the page's heading says it
        )
    )
    rule = alt.Chart(ceiling).mark_rule(strokeDash=[6, 4], color="black").encode(y=alt.Y("value:Q"))
    text = (
        alt.Chart(ceiling)
        .mark_text(align="left", dx=4, dy=-7, color="black")
        .encode(y=alt.Y("value:Q"), x=alt.XValue(0), text=alt.Text("text:N"))
    )
    figures = alt.layer(lines.mark_line(), dots, rule, text, *stop_marker(stop))
    base = alt.Chart(found).encode(x=x)
    # Whole positives only: on an axis reaching 1, Vega still puts a tick at 0.5.
    right = alt.Axis(
        orient="right",
        format="d",
        tickMinStep=1,
        labelExpr="datum.value % 1 ? '' : datum.label",
        titleColor=FOUND_COLOUR,
    )
    positives = alt.layer(
        # The right axis reaches 1 at least: before any positive, random's expectation of a
        # fraction must not climb the whole height as if it were many.
        base.mark_rule(opacity=0).encode(y=alt.YDatum(1, axis=right)),
        base.mark_line(strokeDash=[4, 3]).encode(
            y=alt.Y("at_random:Q", title=found_title, axis=right),
            color=alt.ColorDatum("at random"),
            tooltip=tooltips(
                "labels:Q", alt.Tooltip("at_random:Q", format=".1f", title="at random")
            ),
        ),
        base.mark_line(point=True).encode(
            y=alt.Y("found:Q", title=found_title, axis=right),
            color=alt.ColorDatum(found_title),
            tooltip=tooltips("round:Q", "labels:Q", alt.Tooltip("found:Q", title=found_title)),
        ),
    )
    return alt.layer(figures, positives).resolve_scale(y="independent").properties(height=height)


def _rare_datasets(
    curve: Mapping[str, list],
    rounds: Sequence[RoundRecord],
    ceiling_pr_auc: float | None,
    pool_rate: float,
) -> dict[str, pa.Table]:
    return {
        "rare_curve": pa.table(rare_curve_columns(curve)),
        "rare_found": pa.table(found_columns(curve, pool_rate)),
        "rare_ceiling": _typed_table(rare_ceiling_columns(ceiling_pr_auc), CEILING_TYPES),
        "rare_stop": _typed_table(stop_columns(rounds), STOP_TYPES),
    }


def rare_learning_curve(
    curve: Mapping[str, list],
    rounds: Sequence[RoundRecord],
    ceiling_pr_auc: float | None,
    pool_rate: float,
    answer: str,
) -> alt.LayerChart:
    """The chart with its data in it, for an export."""
    data = _rare_datasets(curve, rounds, ceiling_pr_auc, pool_rate)
    frames = {name: alt.Data(values=table.to_pylist()) for name, table in data.items()}
    return rare_curve_chart(
        frames["rare_curve"],
        frames["rare_found"],
        frames["rare_ceiling"],
        frames["rare_stop"],
        answer,
    )


def rare_curve_live(
    curve: Mapping[str, list],
    rounds: Sequence[RoundRecord],
    ceiling_pr_auc: float | None,
    pool_rate: float,
    answer: str,
    height: int = 200,
) -> LiveChart:
    """`rare_learning_curve` for a page that draws it again after every round (`live_spec`)."""
    return LiveChart(
        shape=("rare_curve", answer, height),
        build=lambda: rare_curve_chart(
            alt.NamedData("rare_curve"),
            alt.NamedData("rare_found"),
            alt.NamedData("rare_ceiling"),
            alt.NamedData("rare_stop"),
            answer,
            height=height,
        ).properties(padding=PAGE_PADDING),
        datasets=_rare_datasets(curve, rounds, ceiling_pr_auc, pool_rate),
    )
