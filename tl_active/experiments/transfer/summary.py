"""What the transfer lab's rows say: the summary over seeds, the findings, the table and chart.

`summarise` and `findings` are pure of files and printing, so the app's page calls them too;
`read_rows` reads a `transfer.csv` written by a run back, checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tl_active.experiments.transfer.settings import (
    ALL,
    COLUMNS,
    FROZEN_CONV,
    HEAD,
    SCRATCH,
    SUMMARY_COLUMNS,
)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Per method, selection and labels: the mean over seeds (and the lowest and highest)."""
    frame = rows.assign(
        seconds_per_epoch=rows["train_seconds"] / rows["epochs"].where(rows["epochs"] > 0)
    )
    grouped = frame.groupby(["method", "selection", "labels"], sort=False)
    summary = grouped.agg(
        seeds=("seed", "nunique"),
        accuracy=("accuracy", "mean"),
        accuracy_min=("accuracy", "min"),
        accuracy_max=("accuracy", "max"),
        train_seconds=("train_seconds", "mean"),
        epochs=("epochs", "mean"),
        seconds_per_epoch=("seconds_per_epoch", "mean"),
    ).reset_index()
    return summary[SUMMARY_COLUMNS]


def read_rows(path: Path | str) -> pd.DataFrame:
    """A `transfer.csv` written by a run, checked; `TlActiveError` saying what is wrong if not."""
    from tl_active.errors import TlActiveError

    path = Path(path)
    try:
        rows = pd.read_csv(path)
    except FileNotFoundError:
        raise TlActiveError(
            f"{path} is missing: `python -m tl_active transfer --out {path.parent}` makes it"
        ) from None
    except (OSError, ValueError) as error:
        raise TlActiveError(f"{path} cannot be read as a CSV file ({error})") from None
    missing = [c for c in COLUMNS if c not in rows.columns]
    if missing:
        raise TlActiveError(f"{path} is not a transfer.csv: it lacks {', '.join(missing)}")
    rows = rows[COLUMNS].copy()
    for column in COLUMNS[2:]:
        rows[column] = pd.to_numeric(rows[column], errors="coerce")
    numeric = rows[COLUMNS[2:]]
    if rows.empty or numeric.isna().any().any() or not rows["accuracy"].between(0, 1).all():
        raise TlActiveError(f"{path} holds no rows or damaged ones")
    return rows


def _value(summary: pd.DataFrame, method: str, selection: str, labels: int, column: str):
    found = summary[
        (summary["method"] == method)
        & (summary["selection"] == selection)
        & (summary["labels"] == labels)
    ]
    return float(found[column].iloc[0]) if len(found) else float("nan")


@dataclass(frozen=True)
class Findings:
    """The issue's questions, answered from a summary (NaN where the run did not measure it)."""

    epoch_speedup: float  # scratch's seconds per epoch over frozen-conv's, on the most labels
    all_labels_gap: float  # frozen-conv's accuracy minus scratch's, with all labels
    at_50: dict[str, float]  # selection -> best of head / fine-tune minus scratch, at 50 labels
    # selection -> the fewest labels from which fine-tuning beats the head at every budget
    fine_tune_pays_from: dict[str, int | None]
    lines: tuple[str, ...]


def findings(summary: pd.DataFrame, fine_tune: str) -> Findings:
    """What the table says about the targets: speed per epoch, all labels, 50 labels, fine-tuning."""
    lines = []
    every = summary[summary["selection"] == ALL]
    n_all = int(every["labels"].iloc[0]) if len(every) else -1
    # Speed per epoch on the most labels trained on: all of them, or else the largest budget.
    if n_all > 0:
        where, n_most, what = ALL, n_all, f"all {n_all:,} labels"
    elif len(summary):
        largest = summary.sort_values("labels", kind="stable").iloc[-1]
        where, n_most = str(largest["selection"]), int(largest["labels"])
        what = f"{n_most:,} labels ({where})"
    else:
        where, n_most, what = ALL, -1, ""
    scratch_epoch = _value(summary, SCRATCH, where, n_most, "seconds_per_epoch")
    frozen_epoch = _value(summary, FROZEN_CONV, where, n_most, "seconds_per_epoch")
    speedup = scratch_epoch / frozen_epoch
    gap = _value(summary, FROZEN_CONV, ALL, n_all, "accuracy") - _value(
        summary, SCRATCH, ALL, n_all, "accuracy"
    )
    if not math.isnan(speedup):
        lines.append(
            f"{what}: an epoch of frozen-conv takes {frozen_epoch:.3f} s, of scratch "
            f"{scratch_epoch:.3f} s ({speedup:.1f} x faster)"
            + ("" if math.isnan(gap) else f"; frozen-conv is {100 * gap:+.2f} points from scratch")
        )
    at_50, pays = {}, {}
    for selection in (s for s in dict.fromkeys(summary["selection"]) if s != ALL):
        measured = [
            value
            for value in (
                _value(summary, HEAD, selection, 50, "accuracy"),
                _value(summary, fine_tune, selection, 50, "accuracy"),
            )
            if not math.isnan(value)
        ]
        best = max(measured, default=float("nan"))
        margin = best - _value(summary, SCRATCH, selection, 50, "accuracy")
        if not math.isnan(margin):
            at_50[selection] = float(margin)
            lines.append(
                f"50 labels, {selection}: the best of head and {fine_tune} is "
                f"{100 * margin:+.2f} points from scratch"
            )
        # Each budget of this selection, then all labels; the first where fine-tuning wins.
        steps = [(selection, int(n)) for n in summary[summary["selection"] == selection]["labels"]]
        steps += [(ALL, n_all)] if n_all > 0 else []
        compared = [
            (
                n,
                _value(summary, fine_tune, source, n, "accuracy"),
                _value(summary, HEAD, source, n, "accuracy"),
            )
            for source, n in sorted(set(steps), key=lambda step: step[1])
        ]
        compared = [
            (n, tuned, frozen) for n, tuned, frozen in compared if not math.isnan(tuned + frozen)
        ]
        if compared:
            # From the smallest budget at which it wins there and at every larger budget.
            pays[selection] = None
            for n, tuned, frozen in reversed(compared):
                if tuned <= frozen:
                    break
                pays[selection] = n
            lines.append(
                f"{fine_tune} against the head, {selection}: "
                + ", ".join(
                    f"{n:,} labels {100 * (tuned - frozen):+.2f}" for n, tuned, frozen in compared
                )
                + " points; "
                + (
                    f"it pays from {pays[selection]:,} labels"
                    if pays[selection]
                    else "it pays at no budget measured"
                )
            )
    return Findings(float(speedup), float(gap), at_50, pays, tuple(lines))


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as a plain-text table: accuracy in percent, seconds, epochs."""
    table = pd.DataFrame(
        {
            "method": summary["method"],
            "selection": summary["selection"],
            "labels": [f"{int(v):,}" for v in summary["labels"]],
            "accuracy": [f"{100 * v:.2f} %" for v in summary["accuracy"]],
            "lowest-highest seed": [
                f"{100 * lo:.2f}-{100 * hi:.2f}"
                for lo, hi in zip(summary["accuracy_min"], summary["accuracy_max"])
            ],
            "train s": [f"{v:.2f}" for v in summary["train_seconds"]],
            "epochs": [f"{v:.1f}" for v in summary["epochs"]],
            "s/epoch": ["-" if pd.isna(v) else f"{v:.3f}" for v in summary["seconds_per_epoch"]],
        }
    )
    return table.to_string(index=False)


def transfer_chart(rows: pd.DataFrame, title: str = "", width: int = 460, stacked: bool = False):
    """Mean test accuracy per method and selection against labels, and against seconds.

    Side by side at 460 px each (the exported figure); `stacked` puts one above the other, for
    a page column narrower than the pair and its legend (1,287 px side by side).
    """
    import altair as alt

    from tl_active import plots

    summary = summarise(rows)
    methods = list(dict.fromkeys(summary["method"]))
    colour = alt.Color(
        "method:N",
        sort=methods,
        scale=alt.Scale(domain=methods, range=plots.TABLEAU[: len(methods)]),
        title="method",
    )
    dash = alt.StrokeDash(
        "selection:N",
        title="line: selection",
        legend=alt.Legend(symbolType="stroke", symbolStrokeColor="gray"),
    )
    shape = alt.Shape("selection:N", title="point: selection")
    tooltip = [
        "method:N",
        "selection:N",
        alt.Tooltip("labels:Q", format=","),
        alt.Tooltip("accuracy:Q", format=".2%", title="mean accuracy"),
        alt.Tooltip("train_seconds:Q", format=".2f", title="seconds"),
        alt.Tooltip("epochs:Q", format=".1f"),
    ]
    y = alt.Y("accuracy:Q", title="test accuracy (mean over seeds)", scale=alt.Scale(zero=False))
    base = alt.Chart(summary).encode(y=y, color=colour, tooltip=tooltip)
    # The budget "all" has no selection of its own: it is drawn as points at the end.
    counted = summary[summary["selection"] != ALL]
    every = summary[summary["selection"] == ALL]
    labels = alt.X(
        "labels:Q",
        title="labels (log)",
        scale=alt.Scale(
            type="log",
            domain=[0.8 * summary["labels"].min(), 1.25 * summary["labels"].max()],
            nice=False,
        ),
    )
    by_labels = alt.layer(
        base.properties(data=counted).mark_line(point=True).encode(x=labels, strokeDash=dash),
        base.properties(data=every)
        .mark_point(filled=True, size=90, shape="diamond")
        .encode(x=labels),
    ).properties(width=width, height=360, title="accuracy against labels (diamonds: all labels)")
    by_seconds = (
        base.mark_point(filled=True, size=70)
        .encode(
            x=alt.X("train_seconds:Q", scale=alt.Scale(type="log"), title="training seconds (log)"),
            shape=shape,
        )
        .properties(width=width, height=360, title="accuracy against training time")
    )
    both = alt.vconcat if stacked else alt.hconcat
    return both(by_labels, by_seconds).properties(title=title)
