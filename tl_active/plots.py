"""The app's figures: what the head learned, how it got there, and what it still confuses.

Each figure is two steps: a function that turns the session's numbers into a tidy
`pandas.DataFrame` (tested on real values), and one that draws it, as an Altair chart for the
browser or with matplotlib for the PNG and GIF downloads. Nothing here imports Streamlit, so the
figures can be built and checked without a server.

The weight heatmaps use a diverging scale centred on 0 and symmetric, reaching out to the
largest |value| shown (bias included), so no cell is ever clipped.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image

from tl_active.session import HISTOGRAM_BINS, RoundRecord, target_name

DIGITS = list(range(10))
WEIGHT_SCHEME = "redblue"  # negative red, positive blue, white at 0
MPL_WEIGHT_CMAP = "RdBu"  # the same, for matplotlib
POSITIVE_COLOUR = "#1f77b4"
NEGATIVE_COLOUR = "#d62728"


def class_name(target: frozenset[int]) -> str:
    """'odd', 'even', or the positive digits as a set, e.g. '{2,3,5,7}'."""
    name = target_name(target)
    return name if name in ("odd", "even") else "{" + name + "}"


def p_label(target: frozenset[int]) -> str:
    """The axis title for the head's output, e.g. 'p(odd)'."""
    return f"p({class_name(target)})"


def symmetric_extent(values: Sequence[float] | np.ndarray, floor: float = 1e-6) -> float:
    """The largest |value|: the colour scale runs from minus this to plus this.

    A head still at zero gets a scale of +-1 rather than a degenerate one.
    """
    values = np.asarray(values, dtype=float)
    extent = float(np.max(np.abs(values))) if values.size else 0.0
    return extent if extent > floor else 1.0


# --- the 10 weights and the bias ---------------------------------------------------------------


def weights_frame(weights: Sequence[float], bias: float) -> pd.DataFrame:
    """One row per digit weight, then the bias: term, value, label."""
    terms = [str(d) for d in DIGITS] + ["bias"]
    values = [float(w) for w in weights] + [float(bias)]
    if len(values) != 11:
        raise ValueError(f"expected 10 weights, got {len(values) - 1}")
    return pd.DataFrame({"term": terms, "value": values, "label": [f"{v:+.2f}" for v in values]})


BIAS_GAP = " "  # the name of the empty column between the digits' weights and the bias


def weights_heatmap(weights: Sequence[float], bias: float, title: str = "") -> alt.LayerChart:
    """The 10 classification-to-binary weights as a 1 x 10 heatmap, the bias beside it.

    One view, the bias set apart by an empty column, so that the app can fit it to the width of
    its column: a concatenation keeps its own width and gets cut off in a narrow one.
    """
    frame = weights_frame(weights, bias)
    extent = symmetric_extent(frame["value"])
    colour = alt.Color(
        "value:Q",
        scale=alt.Scale(scheme=WEIGHT_SCHEME, domain=[-extent, extent], domainMid=0),
        legend=alt.Legend(title=None, orient="right", gradientLength=50),
    )
    base = (
        alt.Chart(frame)
        .transform_calculate(row="'weights'")  # one row, sized as one step like the columns
        .encode(
            x=alt.X(
                "term:N",
                scale=alt.Scale(domain=[str(d) for d in DIGITS] + [BIAS_GAP, "bias"]),
                title="digit",
                axis=alt.Axis(labelAngle=0),
            ),
            y=alt.Y("row:N", axis=None),
            tooltip=list(frame.columns),
        )
    )
    rect = base.mark_rect(stroke="white").encode(color=colour)
    text = base.mark_text(fontSize=13).encode(
        text="label:N",
        color=alt.condition(
            f"abs(datum.value) > {0.6 * extent}", alt.value("white"), alt.value("black")
        ),
    )
    return (rect + text).properties(width=alt.Step(52), height=alt.Step(52), title=title)


# --- their evolution, round by round ------------------------------------------------------------


def round_label(number: int, simulated: bool) -> str:
    return "start" if number == 0 else f"{number} (auto)" if simulated else str(number)


def evolution_frame(rounds: Sequence[RoundRecord]) -> pd.DataFrame:
    """Rounds x digits, long form, starting with round 0 (the untrained head, all zeros)."""
    rows = [
        {"round": 0, "label": "start", "digit": d, "value": 0.0, "simulated": False} for d in DIGITS
    ]
    for r in rounds:
        rows += [
            {
                "round": r.number,
                "label": round_label(r.number, r.simulated),
                "digit": d,
                "value": float(w),
                "simulated": bool(r.simulated),
            }
            for d, w in zip(DIGITS, r.weights)
        ]
    frame = pd.DataFrame(rows)
    frame["label_text"] = frame["value"].map(lambda v: f"{v:+.1f}")
    return frame


def evolution_heatmap(rounds: Sequence[RoundRecord], selected: int | None = None) -> alt.LayerChart:
    """The weights of every round as one heatmap (rounds down, digits across); one row outlined."""
    frame = evolution_frame(rounds)
    extent = symmetric_extent(frame["value"])
    order = list(dict.fromkeys(frame["label"]))
    row_height = 22 if len(order) <= 30 else max(6, 660 // len(order))
    colour = alt.Color(
        "value:Q",
        scale=alt.Scale(scheme=WEIGHT_SCHEME, domain=[-extent, extent], domainMid=0),
        # Below the rows, not beside them: the app gives this chart a narrow column.
        legend=alt.Legend(title="weight", orient="bottom", direction="horizontal"),
    )
    base = alt.Chart(frame).encode(
        x=alt.X("digit:O", title="digit", axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("label:N", sort=order, title="round"),
        tooltip=["round", "label", "digit", alt.Tooltip("value:Q", format="+.3f")],
    )
    layers = [base.mark_rect().encode(color=colour)]
    if row_height >= 16:
        layers.append(
            base.mark_text(fontSize=10).encode(
                text="label_text:N",
                color=alt.condition(
                    f"abs(datum.value) > {0.6 * extent}", alt.value("white"), alt.value("black")
                ),
            )
        )
    if selected is not None:
        picked = frame[frame["round"] == selected]
        layers.append(
            alt.Chart(picked)
            .mark_rect(fill=None, stroke="black", strokeWidth=2)
            .encode(x="digit:O", y=alt.Y("label:N", sort=order))
        )
    return alt.layer(*layers).properties(width=alt.Step(34), height=alt.Step(row_height))


# --- the head's p over the pool ----------------------------------------------------------------


def histogram_frame(
    p_pool: np.ndarray, y_pool: np.ndarray, target: frozenset[int], bins: int = HISTOGRAM_BINS
) -> pd.DataFrame:
    """Counts of p(positive) over the pool in equal bins on [0, 1], split by the true class."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    truth = np.isin(y_pool, sorted(target))
    name = class_name(target)
    rows = []
    for positive, cls in ((True, f"truly {name}"), (False, f"truly not {name}")):
        counts = np.histogram(p_pool[truth == positive], bins=edges)[0]
        rows += [
            {"bin_start": edges[i], "bin_end": edges[i + 1], "true_class": cls, "count": int(c)}
            for i, c in enumerate(counts)
        ]
    return pd.DataFrame(rows)


def p_histogram(p_pool: np.ndarray, y_pool: np.ndarray, target: frozenset[int]) -> alt.Chart:
    frame = histogram_frame(p_pool, y_pool, target)
    name = class_name(target)
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(
                "bin_start:Q",
                bin="binned",
                title=f"{p_label(target)} over the pool",
                scale=alt.Scale(domain=[0, 1]),
            ),
            x2="bin_end:Q",
            y=alt.Y("count:Q", stack=True, title="pool images"),
            color=alt.Color(
                "true_class:N",
                scale=alt.Scale(
                    domain=[f"truly {name}", f"truly not {name}"],
                    range=[POSITIVE_COLOUR, NEGATIVE_COLOUR],
                ),
                legend=alt.Legend(title="MNIST says", orient="top"),
            ),
            tooltip=["true_class", "bin_start", "bin_end", "count"],
        )
        .properties(height=260)
    )


def p_by_digit_frame(
    p_pool: np.ndarray, y_pool: np.ndarray, target: frozenset[int]
) -> pd.DataFrame:
    """Per true digit: the spread of p(positive) over its pool images (exact quantiles, no sample)."""
    rows = []
    for d in DIGITS:
        p = p_pool[y_pool == d]
        q05, q25, q50, q75, q95 = np.quantile(p, [0.05, 0.25, 0.5, 0.75, 0.95])
        rows.append(
            {
                "digit": d,
                "positive": d in target,
                "true_class": class_name(target) if d in target else f"not {class_name(target)}",
                "q05": q05,
                "q25": q25,
                "median": q50,
                "q75": q75,
                "q95": q95,
                "mean": float(p.mean()),
                # Images of this digit on the wrong side of 0.5: what the head still confuses.
                "wrong_side": float(np.mean((p > 0.5) != (d in target))),
            }
        )
    return pd.DataFrame(rows)


def p_by_digit_chart(
    p_pool: np.ndarray, y_pool: np.ndarray, target: frozenset[int]
) -> alt.LayerChart:
    """A box per true digit (whiskers 5-95 %), coloured by the digit's true class."""
    frame = p_by_digit_frame(p_pool, y_pool, target)
    name = class_name(target)
    colour = alt.Color(
        "true_class:N",
        scale=alt.Scale(domain=[name, f"not {name}"], range=[POSITIVE_COLOUR, NEGATIVE_COLOUR]),
        legend=alt.Legend(title="true class", orient="top"),
    )
    base = alt.Chart(frame).encode(
        x=alt.X("digit:O", title="true digit", axis=alt.Axis(labelAngle=0)),
        tooltip=[
            "digit",
            "true_class",
            alt.Tooltip("median:Q", format=".3f"),
            alt.Tooltip("mean:Q", format=".3f"),
            alt.Tooltip("wrong_side:Q", format=".1%"),
        ],
    )
    scale = alt.Scale(domain=[0, 1])
    whiskers = base.mark_rule().encode(
        y=alt.Y("q05:Q", scale=scale, title=f"{p_label(target)} (box 25-75 %, whiskers 5-95 %)"),
        y2="q95:Q",
        color=colour,
    )
    box = base.mark_bar(size=22).encode(y=alt.Y("q25:Q", scale=scale), y2="q75:Q", color=colour)
    median = base.mark_tick(size=26, thickness=4).encode(y="median:Q", color=colour)
    half = (
        alt.Chart(pd.DataFrame({"y": [0.5]}))
        .mark_rule(strokeDash=[4, 4], color="gray")
        .encode(y="y:Q")
    )
    return alt.layer(whiskers, box, median, half).properties(height=260)


# --- the learning curve ------------------------------------------------------------------------


def curve_frame(rounds: Sequence[RoundRecord], start: Mapping[str, float]) -> pd.DataFrame:
    """Test accuracy, precision and recall against the number of labels, from 0 labels on."""
    rows = []
    points = [(0, 0, False, start)] + [
        (r.number, r.n_labels, r.simulated, r.metrics) for r in rounds
    ]
    for number, n_labels, simulated, metrics in points:
        for metric in ("accuracy", "precision", "recall"):
            rows.append(
                {
                    "round": number,
                    "labels": n_labels,
                    "metric": metric,
                    "value": float(metrics[metric]),
                    "answered_by": "ground truth (auto)" if simulated else "person",
                }
            )
    return pd.DataFrame(rows)


def learning_curve(
    rounds: Sequence[RoundRecord], start: Mapping[str, float], ceiling: Mapping[str, float]
) -> alt.LayerChart:
    frame = curve_frame(rounds, start)
    lines = alt.Chart(frame).encode(
        x=alt.X("labels:Q", title="labels given"),
        y=alt.Y("value:Q", title="on the held-out test set", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("metric:N", legend=alt.Legend(orient="top", title=None)),
        tooltip=["round", "labels", "metric", alt.Tooltip("value:Q", format=".4f"), "answered_by"],
    )
    line = lines.mark_line()
    dots = lines.mark_point(filled=True, size=50).encode(
        shape=alt.Shape(
            "answered_by:N",
            scale=alt.Scale(domain=["person", "ground truth (auto)"], range=["circle", "triangle"]),
            legend=alt.Legend(orient="top", title="answered by"),
        )
    )
    ceiling_frame = pd.DataFrame(
        {"value": [float(ceiling["accuracy"])], "text": [f"ceiling {ceiling['accuracy']:.1%}"]}
    )
    rule = alt.Chart(ceiling_frame).mark_rule(strokeDash=[6, 4], color="black").encode(y="value:Q")
    text = (
        alt.Chart(ceiling_frame)
        .mark_text(align="left", dx=4, dy=-7, color="black")
        .encode(y="value:Q", x=alt.value(0), text="text:N")
    )
    return alt.layer(line, dots, rule, text).properties(height=260)


# --- matplotlib: the PNG and GIF downloads -------------------------------------------------------


def _draw_weights(ax, weights: Sequence[float], bias: float, extent: float) -> None:
    values = np.append(np.asarray(weights, float), bias)[None, :]
    ax.imshow(values, cmap=MPL_WEIGHT_CMAP, vmin=-extent, vmax=extent, aspect="auto")
    for i, v in enumerate(values[0]):
        ax.text(
            i,
            0,
            f"{v:+.2f}",
            ha="center",
            va="center",
            fontsize=8,
            color="white" if abs(v) > 0.6 * extent else "black",
        )
    ax.axvline(9.5, color="white", linewidth=4)
    ax.set_xticks(range(11), [str(d) for d in DIGITS] + ["bias"])
    ax.set_yticks([])
    ax.set_xlabel("classification-to-binary weights")


def _draw_histogram(ax, counts: Sequence[int], target: frozenset[int], subtitle: str) -> None:
    edges = np.linspace(0.0, 1.0, len(counts) + 1)
    ax.bar(
        edges[:-1], counts, width=np.diff(edges), align="edge", color="#4c72b0", edgecolor="white"
    )
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"{p_label(target)}: not {class_name(target)} - {class_name(target)}")
    ax.set_ylabel("pool images")
    ax.set_title(subtitle, fontsize=10)


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def evolution_frames(
    rounds: Sequence[RoundRecord],
    target: frozenset[int],
    pool_size: int,
    start_accuracy: float,
) -> list[Image.Image]:
    """One image per round (round 0 first), as the demo drew them: p over the pool on top, the
    weights below, titled with the number of curated samples."""
    start_counts = np.zeros(HISTOGRAM_BINS, int)
    start_counts[np.searchsorted(np.linspace(0, 1, HISTOGRAM_BINS + 1), 0.5, side="right") - 1] = (
        pool_size
    )
    steps = [(0, start_counts.tolist(), [0.0] * 10, 0.0, start_accuracy, False)] + [
        (r.n_labels, r.p_histogram, r.weights, r.bias, r.metrics["accuracy"], r.simulated)
        for r in rounds
    ]
    extent = symmetric_extent([v for s in steps for v in (*s[2], s[3])])
    ymax = max(max(s[1]) for s in steps) * 1.05
    frames = []
    for n_labels, counts, weights, bias, accuracy, simulated in steps:
        fig = Figure(figsize=(6.4, 4.8))
        top, bottom = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 1]})
        note = " (auto-labelled)" if simulated else ""
        _draw_histogram(top, counts, target, f"test accuracy {accuracy:.1%}{note}")
        top.set_ylim(0, ymax)
        _draw_weights(bottom, weights, bias, extent)
        fig.suptitle(f"Number of curated samples: {n_labels}")
        fig.tight_layout()
        frames.append(Image.open(io.BytesIO(_png(fig))).convert("P", palette=Image.ADAPTIVE))
    return frames


def evolution_gif(
    rounds: Sequence[RoundRecord],
    target: frozenset[int],
    pool_size: int,
    start_accuracy: float,
    frame_ms: int = 600,
    hold_ms: int = 2000,
) -> bytes:
    """The evolution as an animated GIF, in round order, first and last frames held longer."""
    frames = evolution_frames(rounds, target, pool_size, start_accuracy)
    durations = [frame_ms] * len(frames)
    durations[0] = durations[-1] = hold_ms
    buffer = io.BytesIO()
    frames[0].save(
        buffer, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0
    )
    return buffer.getvalue()


def figures_png(
    weights: Sequence[float],
    bias: float,
    p_pool: np.ndarray,
    y_pool: np.ndarray,
    target: frozenset[int],
    rounds: Sequence[RoundRecord],
    start: Mapping[str, float],
    ceiling: Mapping[str, float],
) -> bytes:
    """The current figures in one PNG: weights, p over the pool, p per digit, learning curve."""
    fig = Figure(figsize=(12, 8))
    grid = fig.add_gridspec(3, 2, height_ratios=[1, 3, 3])
    _draw_weights(fig.add_subplot(grid[0, :]), weights, bias, symmetric_extent([*weights, bias]))
    hist = histogram_frame(p_pool, y_pool, target)
    ax = fig.add_subplot(grid[1, 0])
    bottom = np.zeros(HISTOGRAM_BINS)
    for cls, colour in zip(hist.true_class.unique(), (POSITIVE_COLOUR, NEGATIVE_COLOUR)):
        part = hist[hist.true_class == cls]
        ax.bar(
            part.bin_start,
            part["count"],
            width=part.bin_end - part.bin_start,
            bottom=bottom,
            align="edge",
            color=colour,
            label=cls,
        )
        bottom += part["count"].to_numpy()
    ax.set_xlabel(f"{p_label(target)} over the pool")
    ax.legend()
    per_digit = p_by_digit_frame(p_pool, y_pool, target)
    ax = fig.add_subplot(grid[1, 1])
    for row in per_digit.itertuples():
        colour = POSITIVE_COLOUR if row.positive else NEGATIVE_COLOUR
        ax.vlines(row.digit, row.q05, row.q95, color=colour)
        ax.bar(row.digit, row.q75 - row.q25, bottom=row.q25, width=0.6, color=colour)
        ax.hlines(row.median, row.digit - 0.3, row.digit + 0.3, color="black")
    ax.axhline(0.5, color="gray", linestyle="--")
    ax.set_xticks(DIGITS)
    ax.set_ylim(0, 1)
    ax.set_xlabel("true digit")
    ax.set_ylabel(p_label(target))
    curve = curve_frame(rounds, start)
    ax = fig.add_subplot(grid[2, :])
    for metric, part in curve.groupby("metric"):
        ax.plot(part["labels"], part["value"], marker="o", label=metric)
    ax.axhline(
        ceiling["accuracy"],
        color="black",
        linestyle="--",
        label=f"ceiling {ceiling['accuracy']:.1%}",
    )
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("labels given")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return _png(fig)
