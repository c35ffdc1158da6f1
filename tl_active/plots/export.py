"""The figures as files: the same Altair charts rendered to PNG by vl-convert, the page's
figures in one PNG, and the weights' evolution as an animated GIF, one rendering per frame.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd
from PIL import Image

from tl_active.plots.style import CLASS_COLOUR, Figure, symmetric_extent
from tl_active.plots.weights import (
    HeadLayout,
    shown_units,
    units_note,
    weight_history,
    weights_heatmap,
)
from tl_active.sessions.figures import p_histogram as count_p
from tl_active.sessions.records import RoundRecord

PNG_SCALE = 2  # pixels per Vega unit in exported PNGs: crisp on a projector
MAX_GIF_FRAMES = 40  # each frame is a rendering of 0.1 to 0.4 s


def to_png(chart: alt.TopLevelMixin, scale: float = PNG_SCALE) -> bytes:
    """A chart rendered by vl-convert (no browser): the same spec the app shows.

    Altair refuses to embed more than 5,000 rows, a guard for pages sent to a browser; a PNG
    drawn here is not, and a sweep's summary of every binary question holds 6,132 cells.
    """
    import vl_convert

    with alt.data_transformers.disable_max_rows():
        spec = chart.to_dict()
    return vl_convert.vegalite_to_png(spec, scale=scale)


def figures_chart(
    weights: Figure,
    histogram: alt.Chart,
    by_class: alt.LayerChart,
    curve: alt.LayerChart,
    title: str = "",
) -> alt.VConcatChart:
    """The page's figures in one chart: the weights, p over the pool and per class, the curve."""
    parts = [weights.chart]
    if weights.note:
        # The heatmap's own title with its note under it; the whole figure keeps `title`.
        heading = alt.Title(alt.ExprRef("w_title"), subtitle=weights.note)
        parts = [weights.chart.properties(title=heading)]
    pool = alt.hconcat(histogram.properties(width=420), by_class.properties(width=420))
    return (
        alt.vconcat(
            *parts,
            pool.resolve_scale(color="independent"),
            curve.properties(width=880),
            title=title,
        )
        .resolve_scale(color="independent")
        .resolve_legend(color="independent", shape="independent")
    )


def figures_png(
    weights: Figure,
    histogram: alt.Chart,
    by_class: alt.LayerChart,
    curve: alt.LayerChart,
    title: str = "",
) -> bytes:
    return to_png(figures_chart(weights, histogram, by_class, curve, title))


def counts_histogram(counts: Sequence[int], x_title: str, ymax: float) -> alt.Chart:
    """A histogram from recorded counts over equal bins on [0, 1] (a round's `p_histogram`).

    Bars taller than `ymax` are cut at the top of the chart (the caller says so in its title).
    """
    edges = np.linspace(0.0, 1.0, len(counts) + 1)
    frame = pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:], "count": list(counts)})
    return (
        alt.Chart(frame)
        .mark_bar(color=CLASS_COLOUR, stroke="white", clip=True)
        .encode(
            x=alt.X("bin_start:Q", bin="binned", title=x_title, scale=alt.Scale(domain=[0, 1])),
            x2=alt.X2("bin_end:Q"),
            y=alt.Y("count:Q", title="in the pool", scale=alt.Scale(domain=[0, ymax])),
        )
        .properties(width=520, height=240)
    )


def evolution_frame_charts(
    rounds: Sequence[RoundRecord],
    layout: HeadLayout,
    x_title: str,
    pool_size: int,
    start_accuracy: float,
    max_frames: int = MAX_GIF_FRAMES,
) -> list[alt.VConcatChart]:
    """One chart per round (round 0 first), as the demo drew them: p over the pool on top, the
    weights below, titled with the number of curated samples; one colour scale for all.

    A session longer than `max_frames` rounds gets that many, evenly spread from the start to
    the last round (each frame says how many samples it shows): every frame costs a rendering.
    """
    history = weight_history(rounds, layout)
    shown = shown_units(history)
    zeros = [0.0] * len(layout.outputs)
    # The untrained head gives every image the same p: 0.5, or 1/K for K classes.
    untrained_p = 0.5 if len(layout.outputs) == 1 else 1.0 / len(layout.outputs)
    start_counts = count_p(np.full(pool_size, untrained_p))
    steps = [(0, start_counts, history[0], zeros, start_accuracy, False)] + [
        (r.n_labels, r.p_histogram, history[i + 1], r.bias, r.metrics["accuracy"], r.simulated)
        for i, r in enumerate(rounds)
    ]
    shown_values = [history[:, :, shown].ravel()]
    if layout.bias_trained:
        shown_values.append(np.ravel([s[3] for s in steps]))
    extent = symmetric_extent(np.concatenate(shown_values))
    # The untrained head's single bar holds the whole pool and would flatten every later
    # frame: the scale fits the rounds, and the first frame says that its bar is cut.
    ymax = max(max(s[1]) for s in steps[1:] or steps) * 1.05
    note = units_note(layout, shown)
    if len(steps) > max_frames:
        kept = np.unique(np.linspace(0, len(steps) - 1, max_frames).round().astype(int))
        steps = [steps[k] for k in kept]
    charts = []
    for n_labels, counts, weights, bias, accuracy, simulated in steps:
        auto = " (auto-labelled)" if simulated else ""
        cut = f", the bar of all {max(counts):,} images cut" if max(counts) > ymax else ""
        top = counts_histogram(counts, x_title, ymax).properties(
            title=f"test accuracy {accuracy:.1%}{auto}{cut}"
        )
        bottom = weights_heatmap(weights, bias, layout, shown, note, extent)
        charts.append(
            alt.vconcat(top, bottom, title=f"Number of curated samples: {n_labels}", center=True)
        )
    return charts


def evolution_gif(
    rounds: Sequence[RoundRecord],
    layout: HeadLayout,
    x_title: str,
    pool_size: int,
    start_accuracy: float,
    frame_ms: int = 600,
    hold_ms: int = 2000,
    timings: list[float] | None = None,
    max_frames: int = MAX_GIF_FRAMES,
) -> bytes:
    """The evolution as an animated GIF, in round order, first and last frames held longer.

    Each frame is rendered from its Altair chart by vl-convert (0.1 to 0.4 s a frame on this
    project's 2-core machine, so at most `max_frames` of them); frames of slightly different
    sizes are padded with white to the largest. `timings`, when given, receives the seconds
    each frame took to render.
    """
    images = []
    charts = evolution_frame_charts(rounds, layout, x_title, pool_size, start_accuracy, max_frames)
    for chart in charts:
        started = time.perf_counter()
        images.append(Image.open(io.BytesIO(to_png(chart, scale=1))).convert("RGB"))
        if timings is not None:
            timings.append(time.perf_counter() - started)
    width = max(i.width for i in images)
    height = max(i.height for i in images)
    frames = []
    for image in images:
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(image, ((width - image.width) // 2, 0))
        frames.append(canvas.convert("P", palette=Image.ADAPTIVE))
    durations = [frame_ms] * len(frames)
    durations[0] = durations[-1] = hold_ms
    buffer = io.BytesIO()
    frames[0].save(
        buffer, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0
    )
    return buffer.getvalue()
