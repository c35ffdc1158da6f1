"""The app's figures: what the head learned, how it got there, and what it still confuses.

Each figure is two steps: a function that turns the session's numbers into a tidy
`pandas.DataFrame` (tested on real values), and one that draws it as an Altair chart. That one
chart is what the browser shows and what the downloads export: the PNG and every frame of the
GIF are the same Vega-Lite specs rendered by vl-convert, so there is one drawing of each figure.
Nothing here imports Streamlit, so the figures can be built and checked without a server.

**The head's weights** are a K x D matrix: one row per output (a binary head has one, p of the
positive answer; a K-class head one per class) and one column per unit of the frozen layer (the
digit of each softmax output of the shipped CNN, the old class of each output of the 5-9
network, or the unit's number on any other layer). A layer wider than `MAX_UNITS` would make an
unreadable wall of cells, so only the units whose weights have varied most are shown, and the
figure says so. The bias gets its own column only where the head trains one; on a softmax layer
it is held at 0 (see `head.py`), and the figure says that instead.

**Their evolution** over the rounds: for a binary head, rounds down and units across, one cell
per weight, as the demo drew it. For K classes that picture would be K times as wide, so each
cell is instead the length (L2 norm over every unit) of one class's weight row in one round:
a class nobody has labelled keeps length 0, and a class's row grows as the head learns what
tells it apart.

The weight heatmaps use a diverging scale centred on 0 and symmetric, reaching out to the
largest |value| shown (bias included), so no cell is ever clipped.
"""

from __future__ import annotations

import io
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa
from PIL import Image

from tl_active.core.rows import row_max
from tl_active.core.task import Task
from tl_active.sessions.figures import HISTOGRAM_BINS
from tl_active.sessions.figures import p_histogram as count_p
from tl_active.sessions.records import RoundRecord

WEIGHT_SCHEME = "redblue"  # negative red, positive blue, white at 0
NORM_SCHEME = "blues"
POSITIVE_COLOUR = "#1f77b4"
NEGATIVE_COLOUR = "#d62728"
RIGHT_COLOUR = "#1f77b4"
WRONG_COLOUR = "#d62728"
CLASS_COLOUR = "#4c72b0"
MAX_UNITS = 16  # the most unit columns a weights heatmap shows
BIAS = "bias"
BIAS_GAP = " "  # the name of the empty column between the weights and the bias
PNG_SCALE = 2  # pixels per Vega unit in exported PNGs: crisp on a projector
MAX_GIF_FRAMES = 40  # each frame is a rendering of 0.1 to 0.4 s


# --- names ----------------------------------------------------------------------------------------


def answer_name(task: Task, class_names: Sequence[str] | None = None) -> str:
    """The positive answer of a binary task ('odd', 'even', '{2,3,5,7}'), or 'classes 0-4'."""
    if not task.is_binary:
        return task.describe(class_names)
    name = task.name(class_names)
    return name if name in ("odd", "even") else "{" + name + "}"


def p_label(task: Task, class_names: Sequence[str] | None = None) -> str:
    """What the figures call the head's p: 'p(odd)', or 'p(top answer)' for K classes."""
    return f"p({answer_name(task, class_names)})" if task.is_binary else "p(top answer)"


def symmetric_extent(values: Sequence[float] | np.ndarray, floor: float = 1e-6) -> float:
    """The largest |value|: the colour scale runs from minus this to plus this.

    A head still at zero gets a scale of +-1 rather than a degenerate one.
    """
    values = np.asarray(values, dtype=float)
    extent = float(np.max(np.abs(values))) if values.size else 0.0
    return extent if extent > floor else 1.0


@dataclass(frozen=True)
class HeadLayout:
    """How to read a head's weights: a name per row (output) and per column (unit)."""

    outputs: tuple[str, ...]  # one per output: ("p(odd)",) or the class names
    units: tuple[str, ...]  # one per unit of the frozen layer
    unit_title: str  # what the columns are, e.g. "digit (the CNN's softmax output)"
    bias_trained: bool  # False: the bias is held at 0 and gets no column
    output_title: str = "output"

    @property
    def width(self) -> int:
        return len(self.units)


def head_layout(
    task: Task,
    class_names: Sequence[str],
    units: Sequence[str],
    unit_title: str,
    bias_trained: bool,
    answers: Sequence[str] = (),
) -> HeadLayout:
    """The layout of a task's head on a layer whose units have these names.

    `answers` names the outputs where a person named them (images without classes). Two
    classes make a logistic head: one row, the p of the second.
    """
    if task.is_binary:
        return HeadLayout((p_label(task, class_names),), tuple(units), unit_title, bias_trained)
    names = tuple(answers) or task.answers(class_names)
    if len(names) == 2:
        return HeadLayout((f"p({names[1]})",), tuple(units), unit_title, bias_trained)
    return HeadLayout(names, tuple(units), unit_title, bias_trained, output_title="class")


@dataclass(frozen=True)
class Figure:
    """A chart and the note that must be read with it (what it leaves out, and why)."""

    chart: alt.TopLevelMixin
    note: str = ""


# --- live figures: a spec kept per shape, fresh data and params each round ----------------------


@dataclass(frozen=True)
class LiveChart:
    """A figure as a page draws it after every round: what changes, apart from what stays.

    `build` makes the Altair chart with its data by name (`alt.NamedData`) and its changing
    numbers as Vega-Lite params; its spec depends only on `shape`, so `live_spec` turns it into
    Vega-Lite once per shape (tens of milliseconds) and afterwards only puts in `datasets` and
    the `params`' values (well under one).
    """

    shape: tuple
    build: Callable[[], alt.TopLevelMixin]
    datasets: Mapping[str, pa.Table]  # built from columns: no data frame on the way
    params: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


MAX_TEMPLATES = 256  # specs kept, over every session of a server: a few per layout and question
_templates: OrderedDict[tuple, dict] = OrderedDict()
_templates_lock = threading.Lock()


def _template(chart: LiveChart) -> dict:
    with _templates_lock:
        spec = _templates.get(chart.shape)
        if spec is not None:
            _templates.move_to_end(chart.shape)
            return spec
    spec = chart.build().to_dict(validate=False)
    spec.pop("config", None)  # Altair's default view size; the page sizes the chart
    with _templates_lock:
        _templates[chart.shape] = spec
        while len(_templates) > MAX_TEMPLATES:
            _templates.popitem(last=False)
    return spec


def live_spec(chart: LiveChart) -> dict:
    """The chart's Vega-Lite spec with this round's data and params, from the kept template.

    The template is shared and never changed: the spec returned is a new top-level dict whose
    `datasets` and `params` are new lists and dicts (the rest is the template's own).
    """
    template = _template(chart)
    params = []
    for param in template.get("params", []):
        name = param.get("name")
        params.append({**param, "value": chart.params[name]} if name in chart.params else param)
    missing = set(chart.params) - {p.get("name") for p in params}
    if missing:
        raise ValueError(f"the {chart.shape[0]} chart has no params {sorted(missing)}")
    spec = dict(template)
    spec["datasets"] = {**template.get("datasets", {}), **chart.datasets}
    if params:
        spec["params"] = params
    return spec


# --- the head's weights -----------------------------------------------------------------------


def weight_history(rounds: Sequence[RoundRecord], layout: HeadLayout) -> np.ndarray:
    """Every round's weights, (rounds + 1, outputs, units), starting with the untrained zeros."""
    shape = (len(layout.outputs), layout.width)
    stack = [np.zeros(shape)] + [np.asarray(r.weights, float).reshape(shape) for r in rounds]
    return np.stack(stack)


def shown_units(history: np.ndarray, max_units: int = MAX_UNITS) -> np.ndarray:
    """The units a weights heatmap shows, in their own order: all, or the most varying.

    A unit's spread is its largest weight minus its smallest, over every output and round so
    far (the untrained zeros included), so the choice stays put while scrubbing through the
    rounds. Ties go to the lower unit.
    """
    width = history.shape[-1]
    if width <= max_units:
        return np.arange(width)
    flat = history.reshape(-1, width)
    spread = flat.max(axis=0) - flat.min(axis=0)
    return np.sort(np.argsort(-spread, kind="stable")[:max_units])


def units_note(layout: HeadLayout, shown: np.ndarray) -> str:
    """What the heatmap leaves out: empty when every unit is shown."""
    if len(shown) == layout.width:
        return ""
    over = "outputs and rounds" if len(layout.outputs) > 1 else "rounds"
    return (
        f"{len(shown)} of the layer's {layout.width} units shown: those whose weights varied "
        f"most over the {over} so far."
    )


def bias_note(layout: HeadLayout) -> str:
    if layout.bias_trained:
        return ""
    return (
        "No bias column: the layer's outputs sum to 1, so a bias would only shift every "
        "weight; it is held at 0."
    )


def weights_frame(
    weights: Sequence[Sequence[float]] | np.ndarray,
    bias: Sequence[float] | np.ndarray,
    layout: HeadLayout,
    shown: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per cell: output, unit, value, label; the bias last, where the head trains it."""
    return pd.DataFrame(weights_columns(weights, bias, layout, shown))


def weights_columns(
    weights: Sequence[Sequence[float]] | np.ndarray,
    bias: Sequence[float] | np.ndarray,
    layout: HeadLayout,
    shown: np.ndarray | None = None,
) -> dict[str, Any]:
    """`weights_frame`'s columns, for a page that sends them as Arrow without a data frame."""
    weights = np.asarray(weights, float)
    expected = (len(layout.outputs), layout.width)
    if weights.shape != expected:
        raise ValueError(f"expected weights of shape {expected}, got {weights.shape}")
    shown = np.arange(layout.width) if shown is None else np.asarray(shown)
    # Built from whole columns, output by output (row-major), not row by row: the page draws
    # this after every round.
    cells = weights[:, shown]
    units = [layout.units[u] for u in shown]
    if layout.bias_trained:
        cells = np.column_stack([cells, np.asarray(bias, float).reshape(len(layout.outputs))])
        units.append(BIAS)
    values = cells.ravel()
    return {
        "output": [o for o in layout.outputs for _ in units],
        "unit": units * len(layout.outputs),
        "value": values,
        "label": [f"{v:+.2f}" for v in values.tolist()],
    }


def _tips(*fields: str | alt.Tooltip) -> list[alt.Tooltip]:
    """Tooltips as channel objects.

    Altair turns a shorthand string or a plain dict in `encode` into a channel by hashing every
    class of its schema, tens of milliseconds per chart; the label page builds its charts after
    every round, so every channel here is spelled as its class.
    """
    return [f if isinstance(f, alt.Tooltip) else alt.Tooltip(f) for f in fields]


def _cell_text_colour(test: str) -> alt.ColorValue:
    """White text on a dark cell, black elsewhere."""
    return alt.ColorValue("black", condition={"test": test, "value": "white"})


def _text_colour(extent: str) -> alt.ColorValue:
    """`extent` names the param that holds the colour scale's reach."""
    return _cell_text_colour(f"abs(datum.value) > 0.6 * {extent}")


def _params(values: Mapping[str, Any]) -> dict[str, alt.Parameter]:
    return {name: alt.param(name=name, value=value) for name, value in values.items()}


def weights_values(
    frame: pd.DataFrame | Mapping[str, Any],
    layout: HeadLayout,
    title: str = "",
    extent: float | None = None,
) -> dict[str, Any]:
    """What a weights heatmap's spec takes as params: the colour scale's reach, the columns
    (the units shown, then a gap and the bias where it is trained) and the title."""
    extent = symmetric_extent(frame["value"]) if extent is None else float(extent)
    units = [u for u in dict.fromkeys(frame["unit"]) if u != BIAS]
    domain = units + ([BIAS_GAP, BIAS] if layout.bias_trained else [])
    return {"w_extent": extent, "w_units": domain, "w_title": title}


def weights_chart(
    source: pd.DataFrame | alt.NamedData, layout: HeadLayout, values: Mapping[str, Any]
) -> alt.LayerChart:
    """The weights heatmap drawn from `source` (a `weights_frame`, or the name of one) and
    `weights_values`, which it takes as Vega-Lite params: a page keeps this spec for as long as
    the layout and the number of columns stay, and sends only the data and the params."""
    p = _params(values)
    step = 52 if len(values["w_units"]) <= 12 else 40
    colour = alt.Color(
        "value:Q",
        scale=alt.Scale(scheme=WEIGHT_SCHEME, domain=[-p["w_extent"], p["w_extent"]], domainMid=0),
        legend=alt.Legend(title=None, orient="right", gradientLength=50),
    )
    base = alt.Chart(source).encode(
        x=alt.X(
            "unit:N",
            scale=alt.Scale(domain=alt.ExprRef("w_units")),
            title=layout.unit_title,
            axis=alt.Axis(labelAngle=0),
        ),
        y=alt.Y(
            "output:N",
            scale=alt.Scale(domain=list(layout.outputs)),
            title=layout.output_title if len(layout.outputs) > 1 else None,
        ),
        tooltip=_tips("output:N", "unit:N", alt.Tooltip("value:Q", format="+.4f")),
    )
    rect = base.mark_rect(stroke="white").encode(color=colour)
    text = base.mark_text(fontSize=13 if step == 52 else 10).encode(
        text=alt.Text("label:N"), color=_text_colour("w_extent")
    )
    return (
        alt.layer(rect, text)
        .add_params(*p.values())
        .properties(
            width=alt.Step(step), height=alt.Step(step), title=alt.Title(alt.ExprRef("w_title"))
        )
    )


def weights_heatmap(
    weights: Sequence[Sequence[float]] | np.ndarray,
    bias: Sequence[float] | np.ndarray,
    layout: HeadLayout,
    shown: np.ndarray | None = None,
    title: str = "",
    extent: float | None = None,
) -> alt.LayerChart:
    """The weights as an outputs x units heatmap with the values in the cells, the bias apart.

    One view, the bias set apart by an empty column, so that the app can fit it to the width of
    its column (a concatenation keeps its own width and gets cut off in a narrow one). `extent`
    fixes the colour scale (the GIF keeps one for all its frames).
    """
    frame = weights_frame(weights, bias, layout, shown)
    return weights_chart(frame, layout, weights_values(frame, layout, title, extent))


def _selected_weights(rounds: Sequence[RoundRecord], selected: int, layout: HeadLayout):
    history = weight_history(rounds, layout)
    shown = shown_units(history)
    record = rounds[selected - 1] if selected else None
    bias = record.bias if record else [0.0] * len(layout.outputs)
    note = " ".join(n for n in (units_note(layout, shown), bias_note(layout)) if n)
    return weights_columns(history[selected], bias, layout, shown), note


def weights_figure(
    rounds: Sequence[RoundRecord], selected: int, layout: HeadLayout, title: str = ""
) -> Figure:
    """The heatmap of round `selected` (0: the untrained head), its units chosen over all rounds."""
    columns, note = _selected_weights(rounds, selected, layout)
    frame = pd.DataFrame(columns)
    return Figure(weights_chart(frame, layout, weights_values(frame, layout, title)), note)


def weights_live(
    rounds: Sequence[RoundRecord], selected: int, layout: HeadLayout, title: str = ""
) -> LiveChart:
    """`weights_figure` for a page that draws it again after every round (`live_spec`)."""
    columns, note = _selected_weights(rounds, selected, layout)
    values = weights_values(columns, layout, title)
    return LiveChart(
        shape=("weights", layout, len(values["w_units"])),
        build=lambda: weights_chart(alt.NamedData("weights"), layout, values),
        datasets={"weights": pa.table(columns)},
        params=values,
        note=note,
    )


# --- their evolution, round by round ------------------------------------------------------------


def round_label(number: int, simulated: bool) -> str:
    return "start" if number == 0 else f"{number} (auto)" if simulated else str(number)


def evolution_frame(
    rounds: Sequence[RoundRecord], layout: HeadLayout, shown: np.ndarray | None = None
) -> pd.DataFrame:
    """Long form, round 0 (the untrained head, all zeros) first: one row per round and column.

    Binary: the columns are the shown units and `value` is the weight. K classes: the columns
    are the classes and `value` is the L2 norm of that class's weight row over every unit.
    """
    return pd.DataFrame(evolution_columns(rounds, layout, shown))


def evolution_columns(
    rounds: Sequence[RoundRecord], layout: HeadLayout, shown: np.ndarray | None = None
) -> dict[str, Any]:
    """`evolution_frame`'s columns, for a page that sends them as Arrow without a data frame."""
    history = weight_history(rounds, layout)
    steps = [(0, False)] + [(r.number, bool(r.simulated)) for r in rounds]
    binary = len(layout.outputs) == 1
    if binary:
        shown = np.arange(layout.width) if shown is None else np.asarray(shown)
        names = [layout.units[u] for u in shown]
        values = history[:, 0, shown]
    else:
        names = list(layout.outputs)
        values = np.linalg.norm(history, axis=2)
    # Whole columns, round by round (row-major): the page draws this after every round.
    flat = values.ravel()
    n = len(names)
    text = "{:+.1f}" if binary else "{:.1f}"
    return {
        "round": np.repeat([number for number, _ in steps], n),
        "label": [round_label(*step) for step in steps for _ in names],
        "column": names * len(steps),
        "value": flat,
        "simulated": np.repeat([simulated for _, simulated in steps], n).astype(bool),
        "label_text": [text.format(v) for v in flat.tolist()],
    }


EVOLUTION_ROWS_AT_STEP = 30  # up to this many rows, each 22 px; then the chart keeps 660 px
EVOLUTION_MAX_FIT = 110  # beyond this many rows (6 px each), the chart grows again


def evolution_values(
    frame: pd.DataFrame | Mapping[str, Any], binary: bool, selected: int | None
) -> dict[str, Any]:
    """What an evolution heatmap's spec takes as params: the colour scale's reach, the columns
    in order, and the round outlined (-1 for none)."""
    if binary:
        extent = symmetric_extent(frame["value"])
    else:
        extent = max(float(np.max(frame["value"])), 1e-6)
    columns = list(dict.fromkeys(frame["column"]))
    return {
        "e_extent": extent,
        "e_columns": columns,
        "e_selected": -1 if selected is None else selected,
    }


def evolution_shape(n_rows: int) -> tuple[str, bool]:
    """How the rows are sized ('step' 22 px, 'fit' into 660 px, or 'small' 6 px) and whether
    their cells have room for the values."""
    if n_rows <= EVOLUTION_ROWS_AT_STEP:
        return "step", True
    if n_rows <= EVOLUTION_MAX_FIT:
        return "fit", 660 / n_rows >= 16
    return "small", False


def evolution_chart(
    source: pd.DataFrame | alt.NamedData,
    layout: HeadLayout,
    values: Mapping[str, Any],
    n_rows: int,
    outlined: bool,
) -> alt.LayerChart:
    """The evolution heatmap drawn from `source` (an `evolution_frame`, or its name) and
    `evolution_values`, taken as params; its spec changes only with the rows' sizing."""
    p = _params(values)
    binary = len(layout.outputs) == 1
    if binary:
        scale = alt.Scale(scheme=WEIGHT_SCHEME, domain=[-p["e_extent"], p["e_extent"]], domainMid=0)
        legend_title, text_colour = "weight", _text_colour("e_extent")
    else:
        scale = alt.Scale(scheme=NORM_SCHEME, domain=[0, p["e_extent"]])
        legend_title = "length of the class's weights"
        text_colour = _cell_text_colour("datum.value > 0.6 * e_extent")
    colour = alt.Color(
        "value:Q",
        scale=scale,
        # Below the rows, not beside them: the app gives this chart a narrow column.
        legend=alt.Legend(title=legend_title, orient="bottom", direction="horizontal"),
    )
    x = alt.X(
        "column:N",
        scale=alt.Scale(domain=alt.ExprRef("e_columns")),
        title=layout.unit_title if binary else layout.output_title,
        axis=alt.Axis(labelAngle=0, orient="top"),
    )
    y = alt.Y("label:N", sort=alt.EncodingSortField(field="round", op="min"), title="round")
    base = alt.Chart(source).encode(
        x=x,
        y=y,
        tooltip=_tips("round:Q", "label:N", "column:N", alt.Tooltip("value:Q", format="+.3f")),
    )
    sizing, with_text = evolution_shape(n_rows)
    layers = [base.mark_rect().encode(color=colour)]
    if with_text:
        layers.append(
            base.mark_text(fontSize=10).encode(text=alt.Text("label_text:N"), color=text_colour)
        )
    if outlined:
        layers.append(
            alt.Chart(source)
            .transform_filter("datum.round == e_selected")
            .mark_rect(fill=None, stroke="black", strokeWidth=2)
            .encode(x=x, y=y)
        )
    height = {"step": alt.Step(22), "fit": 660, "small": alt.Step(6)}[sizing]
    return alt.layer(*layers).add_params(*p.values()).properties(width=alt.Step(34), height=height)


def evolution_heatmap(
    rounds: Sequence[RoundRecord],
    layout: HeadLayout,
    selected: int | None = None,
    shown: np.ndarray | None = None,
) -> alt.LayerChart:
    """Every round as one heatmap (rounds down, columns across); the selected round outlined."""
    frame = evolution_frame(rounds, layout, shown)
    values = evolution_values(frame, len(layout.outputs) == 1, selected)
    return evolution_chart(frame, layout, values, len(rounds) + 1, selected is not None)


def _evolution_parts(rounds: Sequence[RoundRecord], layout: HeadLayout):
    if len(layout.outputs) > 1:
        note = (
            "Each cell is the length of one class's weights (over all "
            f"{layout.width} units) after that round: 0 until the class is labelled, growing as "
            "the head learns what tells it apart."
        )
        return evolution_columns(rounds, layout), note
    shown = shown_units(weight_history(rounds, layout))
    return evolution_columns(rounds, layout, shown), units_note(layout, shown)


def evolution_figure(
    rounds: Sequence[RoundRecord], layout: HeadLayout, selected: int | None = None
) -> Figure:
    """The evolution heatmap with its note (which units, or why class norms)."""
    columns, note = _evolution_parts(rounds, layout)
    frame = pd.DataFrame(columns)
    values = evolution_values(frame, len(layout.outputs) == 1, selected)
    chart = evolution_chart(frame, layout, values, len(rounds) + 1, selected is not None)
    return Figure(chart, note)


def evolution_live(
    rounds: Sequence[RoundRecord], layout: HeadLayout, selected: int | None = None
) -> LiveChart:
    """`evolution_figure` for a page that draws it again after every round (`live_spec`)."""
    columns, note = _evolution_parts(rounds, layout)
    values = evolution_values(columns, len(layout.outputs) == 1, selected)
    n_rows, outlined = len(rounds) + 1, selected is not None
    return LiveChart(
        shape=("evolution", layout, evolution_shape(n_rows), outlined),
        build=lambda: evolution_chart(alt.NamedData("evolution"), layout, values, n_rows, outlined),
        datasets={"evolution": pa.table(columns)},
        params=values,
        note=note,
    )


# --- the head's p over the pool ----------------------------------------------------------------


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
            legend=alt.Legend(
                title="MNIST says" if task.is_binary else "the head's answer", orient="top"
            ),
        ),
        _tips("group:N", "bin_start:Q", "bin_end:Q", "count:Q"),
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
            y=alt.Y("count:Q", stack=True, title="pool images"),
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
        _tips("answer:N", "count:Q"),
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
        tooltip=_tips(
            "class:N",
            alt.Tooltip("median:Q", format=".3f"),
            alt.Tooltip("mean:Q", format=".3f"),
            alt.Tooltip("wrong:Q", format=".1%", title="answered wrong"),
        ),
    )
    scale = alt.Scale(domain=[0, 1])
    whiskers = base.mark_rule().encode(
        y=alt.Y("q05:Q", scale=scale, title=y_title), y2=alt.Y2("q95:Q"), color=colour
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


# --- the learning curve ------------------------------------------------------------------------


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


def before_after_frame(
    before: Sequence[RoundRecord], after: Sequence[RoundRecord], names: tuple[str, str]
) -> pd.DataFrame:
    """Test accuracy against labels of a session and of the one that continues it fine-tuned."""
    return pd.DataFrame(
        [
            {"backbone": name, "labels": r.n_labels, "accuracy": float(r.metrics["accuracy"])}
            for name, rounds in zip(names, (before, after))
            for r in rounds
            if "accuracy" in r.metrics
        ],
        columns=["backbone", "labels", "accuracy"],
    )


def before_after_chart(frame: pd.DataFrame, fine_tuned_at: int) -> alt.LayerChart:
    """The learning curve before and after fine-tuning, with a rule where it was fine-tuned."""
    names = list(dict.fromkeys(frame["backbone"]))
    lines = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("labels:Q", title="labels"),
            y=alt.Y(
                "accuracy:Q",
                title="test accuracy",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(zero=False),
            ),
            color=alt.Color(
                "backbone:N",
                sort=names,
                scale=alt.Scale(domain=names, range=TABLEAU[: len(names)]),
                legend=alt.Legend(orient="bottom", title=None, labelLimit=400),
            ),
            tooltip=_tips("backbone:N", "labels:Q", alt.Tooltip("accuracy:Q", format=".2%")),
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"labels": [fine_tuned_at]}))
        .mark_rule(strokeDash=[4, 4], color="gray")
        .encode(x="labels:Q")
    )
    return alt.layer(lines, rule).properties(height=220)


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
        tooltip=_tips("round:Q", "labels:Q", alt.Tooltip("accuracy:Q", format=".4f")),
    )
    return [
        base.mark_rule(color=STOP_COLOUR, strokeWidth=2),
        base.mark_text(align="left", dx=4, dy=12, color=STOP_COLOUR, fontWeight="bold").encode(
            y=alt.YValue(0), text=alt.Text("text:N")
        ),
    ]


def curve_chart(
    source: pd.DataFrame | alt.NamedData,
    ceiling: pd.DataFrame | alt.NamedData,
    stop: pd.DataFrame | alt.NamedData,
    has_test_set: bool = True,
) -> alt.LayerChart:
    """The curve drawn from `source` (a `curve_frame` or its name), its ceiling line, and where
    the stopping signals first said the person could stop (`stop_frame`).

    Without a test set (images without classes), the figures are the head's cross-validated on
    the labels given, and the ceiling's data is empty.
    """
    axis = "on the held-out test set" if has_test_set else "cross-validated on your labels"
    lines = alt.Chart(source).encode(
        x=alt.X("labels:Q", title="labels given"),
        y=alt.Y("value:Q", title=axis, scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("metric:N", legend=alt.Legend(orient="top", title=None)),
        tooltip=_tips(
            "round:Q", "labels:Q", "metric:N", alt.Tooltip("value:Q", format=".4f"), "answered_by:N"
        ),
    )
    line = lines.mark_line()
    dots = lines.mark_point(filled=True, size=50).encode(
        shape=alt.Shape(
            "answered_by:N",
            scale=alt.Scale(domain=["person", "ground truth (auto)"], range=["circle", "triangle"]),
            # Untitled, so that it fits beside the metrics in a narrow column; the page's
            # caption says what the triangles are.
            legend=alt.Legend(orient="top", title=None),
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
) -> alt.LayerChart:
    """The test figures per number of labels, the frozen-head ceiling as a dashed line, and
    where the stopping signals first said the person could stop, as a marker.

    Without a test set (`ceiling` None: images without classes), the figures are the head's
    cross-validated on the labels given, and there is no ceiling to draw.
    """
    return curve_chart(
        curve_frame(rounds, start),
        ceiling_frame(ceiling),
        stop_frame(rounds),
        has_test_set=ceiling is not None,
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
        ),
        datasets={
            "curve": pa.table(curve_columns(rounds, start)),
            "curve_ceiling": _typed_table(ceiling_columns(ceiling), CEILING_TYPES),
            "curve_stop": _typed_table(stop_columns(rounds), STOP_TYPES),
        },
    )


# --- the strategy comparison -------------------------------------------------------------------

YOURS = "your session"
TABLEAU = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def compare_chart(
    bands: pd.DataFrame,
    ceiling: float | None,
    yours: pd.DataFrame | None = None,
    title: str = "",
    y_domain: tuple[float, float] | None = None,
) -> alt.LayerChart:
    """Mean test accuracy per strategy against labels, the seeds' range as a band, the
    frozen-head ceiling dashed (none if it is None), and a person's own session (`n_labels`,
    `mean`) in black.

    `bands` is `compare.mean_curves` of the runs; `y_domain` zooms in (what falls outside is
    cut at the chart's edge).
    """
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
        y=alt.Y("low:Q", scale=y_scale, title="test accuracy"), y2="high:Q"
    )
    line = base.mark_line(point=True, clip=True).encode(
        y="mean:Q",
        tooltip=[
            "strategy:N",
            alt.Tooltip("n_labels:Q", title="labels"),
            alt.Tooltip("mean:Q", title="mean accuracy", format=".2%"),
            alt.Tooltip("low:Q", title="lowest seed", format=".2%"),
            alt.Tooltip("high:Q", title="highest seed", format=".2%"),
        ],
    )
    layers = [band, line]
    if ceiling is not None:
        ceiling_frame = pd.DataFrame(
            {"ceiling": [ceiling], "text": [f"frozen-head ceiling {ceiling:.2%}"]}
        )
        rule = (
            alt.Chart(ceiling_frame)
            .mark_rule(strokeDash=[6, 4], color="gray")
            .encode(y="ceiling:Q", tooltip=[alt.Tooltip("ceiling:Q", format=".2%")])
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
                    alt.Tooltip("mean:Q", title="accuracy", format=".2%"),
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


# --- exports: the same charts as PNG, and the evolution as a GIF -------------------------------


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
        title = alt.Title(alt.ExprRef("w_title"), subtitle=weights.note)
        parts = [weights.chart.properties(title=title)]
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
            y=alt.Y("count:Q", title="pool images", scale=alt.Scale(domain=[0, ymax])),
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
