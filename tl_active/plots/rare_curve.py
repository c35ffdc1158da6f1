"""The learning curve of a rare answer: PR-AUC, precision and recall per label, over the
positives found per label spent.

On a question such as snow (2 % of days) the accuracy curve says 98 % from the first round,
whatever the head learns; what moves is how well the head ranks the test set (PR-AUC, from the
base rate up) and how many positives the labels hold to learn from. The chart is two panels on
one axis of labels: the test figures with the frozen head's PR-AUC as the ceiling above, and the
positive answers given against what labelling at random would find below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pyarrow as pa

from tl_active.plots.curve import CEILING_TYPES, STOP_TYPES, _typed_table, stop_columns, stop_marker
from tl_active.plots.live import LiveChart
from tl_active.plots.style import tooltips
from tl_active.sessions.records import RoundRecord

PR_AUC = "PR-AUC"
# The page's and the PNG's colours: PR-AUC as accuracy is on the plain curve.
RARE_COLOURS = {PR_AUC: "#1f77b4", "precision": "#9ecae9", "recall": "#d62728"}
FOUND_COLOUR = "#ff7f0e"
TOP_SHARE = 0.68  # of the chart's height, the figures' panel; the positives' takes the rest


def rare_curve_columns(
    curve: Mapping[str, list], rounds: Sequence[RoundRecord], start: Mapping[str, float]
) -> dict[str, list]:
    """The figures' panel as long columns: PR-AUC (`figures.rare_curve`), and precision and
    recall at p > 0.5 as each round recorded them, from 0 labels on."""
    recorded = [start] + [r.metrics for r in rounds]
    names = (PR_AUC, "precision", "recall")
    columns: dict[str, list] = {name: [] for name in ("round", "labels", "metric", "value")}
    columns["answered_by"] = []
    for at, figures in enumerate(recorded):
        values = (curve["pr_auc"][at], figures["precision"], figures["recall"])
        for name, value in zip(names, values, strict=True):
            columns["round"].append(curve["round"][at])
            columns["labels"].append(curve["labels"][at])
            columns["metric"].append(name)
            columns["value"].append(float(value))
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
    height: int = 200,
    width: int | str = "container",
) -> alt.VConcatChart:
    """The two panels (see the module), `height` pixels of plot between them, the figures'
    x axis left to the positives' panel under it. `answer` names the positive answer."""
    top, bottom = round(height * TOP_SHARE), height - round(height * TOP_SHARE)
    x = alt.X("labels:Q", title="labels given", axis=alt.Axis(format="d", tickMinStep=1))
    lines = alt.Chart(source).encode(
        x=x.axis(None),
        y=alt.Y("value:Q", title="test set", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color(
            "metric:N",
            scale=alt.Scale(domain=list(RARE_COLOURS), range=list(RARE_COLOURS.values())),
            legend=alt.Legend(orient="top", title=None),
        ),
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
    figures = alt.layer(lines.mark_line(), dots, rule, text, *stop_marker(stop)).properties(
        height=top, width=width
    )
    base = alt.Chart(found).encode(x=x)
    found_title = f"{answer} found"
    positives = alt.layer(
        base.mark_line(strokeDash=[4, 3], color="#7f7f7f").encode(
            y=alt.Y("at_random:Q", title=found_title),
            tooltip=tooltips(
                "labels:Q", alt.Tooltip("at_random:Q", format=".1f", title="at random")
            ),
        ),
        base.mark_line(color=FOUND_COLOUR, point=alt.OverlayMarkDef(color=FOUND_COLOUR)).encode(
            y=alt.Y("found:Q", title=found_title, axis=alt.Axis(format="d", tickMinStep=1)),
            tooltip=tooltips("round:Q", "labels:Q", alt.Tooltip("found:Q", title=found_title)),
        ),
    ).properties(height=bottom, width=width)
    return (
        alt.vconcat(figures, positives, spacing=4)
        .resolve_scale(x="shared", color="independent")
        .resolve_legend(color="independent")
    )


def _rare_datasets(
    curve: Mapping[str, list],
    rounds: Sequence[RoundRecord],
    start: Mapping[str, float],
    ceiling_pr_auc: float | None,
    pool_rate: float,
) -> dict[str, pa.Table]:
    return {
        "rare_curve": pa.table(rare_curve_columns(curve, rounds, start)),
        "rare_found": pa.table(found_columns(curve, pool_rate)),
        "rare_ceiling": _typed_table(rare_ceiling_columns(ceiling_pr_auc), CEILING_TYPES),
        "rare_stop": _typed_table(stop_columns(rounds), STOP_TYPES),
    }


def rare_learning_curve(
    curve: Mapping[str, list],
    rounds: Sequence[RoundRecord],
    start: Mapping[str, float],
    ceiling_pr_auc: float | None,
    pool_rate: float,
    answer: str,
    width: int | str = 880,
) -> alt.VConcatChart:
    """The chart with its data in it, for an export (`width` pixels wide)."""
    data = _rare_datasets(curve, rounds, start, ceiling_pr_auc, pool_rate)
    frames = {name: alt.Data(values=table.to_pylist()) for name, table in data.items()}
    return rare_curve_chart(
        frames["rare_curve"],
        frames["rare_found"],
        frames["rare_ceiling"],
        frames["rare_stop"],
        answer,
        height=260,
        width=width,
    )


def rare_curve_live(
    curve: Mapping[str, list],
    rounds: Sequence[RoundRecord],
    start: Mapping[str, float],
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
        ),
        datasets=_rare_datasets(curve, rounds, start, ceiling_pr_auc, pool_rate),
    )
