"""The experiments' figures: strategies compared over seeds, and a sweep's grid at a glance."""

from __future__ import annotations

import altair as alt
import pandas as pd

from tl_active.plots.style import TABLEAU

YOURS = "your session"
# How each figure a comparison can chart is named and written: accuracy, or a rare answer's
# PR-AUC (`compare.mean_curves(curves, "pr_auc")`), which starts at the base rate, not 0.5.
FIGURES = {"accuracy": ("test accuracy", ".2%"), "pr_auc": ("test PR-AUC", ".3f")}


def compare_chart(
    bands: pd.DataFrame,
    ceiling: float | None,
    yours: pd.DataFrame | None = None,
    title: str = "",
    y_domain: tuple[float, float] | None = None,
    until: float | None = None,
    figure: str = "accuracy",
) -> alt.LayerChart:
    """Mean test accuracy (or the `figure` named, a key of `FIGURES`) per strategy against
    labels, the seeds' range as a band, the frozen-head ceiling dashed (none if it is None),
    and a person's own session (`n_labels`, `mean`) in black.

    `bands` is `compare.mean_curves` of the runs; `y_domain` zooms in (what falls outside is
    cut at the chart's edge); `until` ends the curves at that many labels (the page's choice
    where, past it, every curve is flat at the ceiling: `compare_notes.settled_at`).
    """
    if until is not None:
        bands = bands[bands["n_labels"] <= until]
        yours = None if yours is None else yours[yours["n_labels"] <= until]
    axis_title, number = FIGURES[figure]
    named = axis_title.removeprefix("test ")
    y_scale = alt.Scale(zero=False) if y_domain is None else alt.Scale(domain=list(y_domain))
    names = list(dict.fromkeys(bands["strategy"]))
    domain = names + ([YOURS] if yours is not None else [])
    colours = [TABLEAU[i % len(TABLEAU)] for i in range(len(names))]
    palette = alt.Scale(domain=domain, range=colours + (["black"] if yours is not None else []))
    colour = alt.Color(
        "strategy:N",
        scale=palette,
        sort=domain,
        title=None,
        legend=alt.Legend(symbolOpacity=1, symbolType="circle"),
    )
    base = alt.Chart(bands).encode(x=alt.X("n_labels:Q", title="labels"), color=colour)
    band = base.mark_area(opacity=0.15, clip=True).encode(
        y=alt.Y("low:Q", scale=y_scale, title=axis_title), y2="high:Q"
    )
    line = base.mark_line(point=True, clip=True).encode(
        y="mean:Q",
        tooltip=[
            "strategy:N",
            alt.Tooltip("n_labels:Q", title="labels"),
            alt.Tooltip("mean:Q", title=f"mean {named}", format=number),
            alt.Tooltip("low:Q", title="lowest seed", format=number),
            alt.Tooltip("high:Q", title="highest seed", format=number),
        ],
    )
    layers = [band, line]
    if ceiling is not None:
        ceiling_frame = pd.DataFrame(
            {"ceiling": [ceiling], "text": [f"frozen-head ceiling {ceiling:{number}}"]}
        )
        rule = (
            alt.Chart(ceiling_frame)
            .mark_rule(strokeDash=[6, 4], color="gray")
            .encode(y="ceiling:Q", tooltip=[alt.Tooltip("ceiling:Q", format=number)])
        )
        label = (
            alt.Chart(ceiling_frame)
            .mark_text(align="left", dx=4, dy=-7, color="gray")
            .encode(y="ceiling:Q", x=alt.value(0), text="text:N")
        )
        layers += [rule, label]
    if yours is not None:
        layers.append(
            alt.Chart(yours)
            .mark_line(point=True, strokeWidth=3, clip=True)
            .encode(
                x="n_labels:Q",
                y="mean:Q",
                color=colour,
                tooltip=[
                    "strategy:N",
                    alt.Tooltip("n_labels:Q", title="labels"),
                    alt.Tooltip("mean:Q", title=named, format=number),
                ],
            )
        )
    return alt.layer(*layers).properties(height=420, title=title)


def sweep_chart(summary: pd.DataFrame) -> alt.HConcatChart:
    """A sweep at a glance, one box per strategy over the grid's cells (`sweep.summarise_sweep`).

    Left, each cell's AUC (its mean curve's, over seeds); right, the labels each cell's mean
    curve took to reach 99 % of its frozen-head ceiling, among the cells that reached it (the
    axis title says how many did).
    """
    names = list(dict.fromkeys(summary["strategy"]))
    colour = alt.Color(
        "strategy:N",
        scale=alt.Scale(domain=names, range=[TABLEAU[i % len(TABLEAU)] for i in range(len(names))]),
        legend=None,
    )
    y = alt.Y("strategy:N", sort=names, title=None)
    frame = summary[["strategy", "auc", "labels_to_99pct_of_ceiling"]].copy()
    frame["labels"] = frame["labels_to_99pct_of_ceiling"].astype("float")
    auc = (
        alt.Chart(frame, title=f"AUC of each grid cell ({len(frame):,} cells)")
        .mark_boxplot(extent="min-max")
        .encode(
            x=alt.X("auc:Q", title="AUC (mean curve over seeds)", scale=alt.Scale(zero=False)),
            y=y,
            color=colour,
        )
    )
    reached = frame.dropna(subset=["labels"])
    labels = (
        alt.Chart(reached, title="labels to reach 99 % of the ceiling")
        .mark_boxplot(extent="min-max")
        .encode(
            x=alt.X(
                "labels:Q", title=f"labels ({len(reached):,} of {len(frame):,} cells reach it)"
            ),
            y=y,
            color=colour,
        )
    )
    return alt.hconcat(auc.properties(width=420), labels.properties(width=420))
