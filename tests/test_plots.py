"""The app's figures, checked on their numbers: no Streamlit, no TensorFlow, a synthetic pool."""

from __future__ import annotations

import dataclasses
import io
import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from PIL import Image
from synthetic import synthetic_features

from tl_active import plots
from tl_active.core.task import DIGITS, Task
from tl_active.data.backbones import SHIPPED, unit_names
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession

ODD = Task.binary("odd")
CLASSES = Task.multiclass("0-4")


@pytest.fixture(scope="module")
def session() -> LabellingSession:
    """Odd/even on the 10 softmax outputs: a 1 x 10 head, its bias held at 0."""
    s = LabellingSession(synthetic_features(), SessionSettings(strategy="representative", seed=3))
    s.auto_label(3)
    return s


@pytest.fixture(scope="module")
def k_session() -> LabellingSession:
    """Classes 0-4 on the 128-wide embedding: a 5 x 128 head with its intercepts."""
    features = synthetic_features(layer="embedding")
    s = LabellingSession(
        features, SessionSettings(task=CLASSES, layer="embedding", batch_size=5, seed=1)
    )
    s.auto_label(4)
    return s


def layout_of(s: LabellingSession) -> plots.HeadLayout:
    units = unit_names(SHIPPED["mnist-cnn"], s.settings.layer, s.features.width)
    return plots.head_layout(s.task, s.features.class_names, units, "unit", s.head.bias_trained)


def _params(spec: dict) -> dict:
    """The values of a spec's Vega-Lite params, by name (Altair lifts them to the top level)."""
    return {p["name"]: p["value"] for p in spec.get("params", []) if "value" in p}


def _resolved(item, params: dict):
    """A domain item with the param it names put in: `{"expr": "(-w_extent)"}` -> -2.5."""
    if not isinstance(item, dict):
        return item
    match = re.fullmatch(r"\(?(-?)(\w+)\)?", item["expr"])
    value = params[match.group(2)]
    return -value if match.group(1) else value


def _colour_domain(spec: dict) -> list[list[float]]:
    """The colour scale's domain of every layer that encodes colour by value, params put in."""
    domains = []
    params = _params(spec)

    def walk(node):
        if isinstance(node, dict):
            colour = node.get("encoding", {}).get("color", {})
            if isinstance(colour, dict) and colour.get("field") == "value":
                domains.append([_resolved(d, params) for d in colour["scale"]["domain"]])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(spec)
    return domains


DIGIT_LAYOUT = plots.HeadLayout(("p(odd)",), DIGITS, "digit", bias_trained=False)
DEMO_LAYOUT = plots.HeadLayout(("p(odd)",), DIGITS, "digit", bias_trained=True)


# --- the weights ------------------------------------------------------------------------------


def test_weights_frame_lists_the_units_and_the_bias_only_where_it_is_trained():
    weights = [np.arange(10) - 4.5]
    frame = plots.weights_frame(weights, [0.25], DIGIT_LAYOUT)
    assert frame["unit"].tolist() == list(DIGITS)
    assert frame["value"].tolist() == [-4.5, -3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 4.5]
    assert set(frame["output"]) == {"p(odd)"}
    assert frame["label"].iloc[0] == "-4.50"
    with_bias = plots.weights_frame(weights, [0.25], DEMO_LAYOUT)
    assert with_bias["unit"].tolist() == [*DIGITS, "bias"]
    assert with_bias["label"].iloc[-1] == "+0.25"
    assert plots.bias_note(DIGIT_LAYOUT).startswith("No bias column")
    assert plots.bias_note(DEMO_LAYOUT) == ""


def test_weights_frame_refuses_weights_of_another_shape():
    with pytest.raises(ValueError, match=r"expected weights of shape \(1, 10\)"):
        plots.weights_frame([[1.0, 2.0]], [0.0], DIGIT_LAYOUT)


def test_weight_scale_is_symmetric_and_never_clips():
    weights = [[0.5, -7.25, 1.0, 0, 0, 0, 0, 0, 0, 3.0]]
    spec = plots.weights_heatmap(weights, [2.0], DEMO_LAYOUT).to_dict()
    domains = _colour_domain(spec)
    assert domains and all(d == [-7.25, 7.25] for d in domains)
    # A bias larger than every weight widens the scale rather than being clipped.
    spec = plots.weights_heatmap([[0.1] * 10], [-9.0], DEMO_LAYOUT).to_dict()
    assert all(d == [-9.0, 9.0] for d in _colour_domain(spec))


def test_untrained_head_gets_a_unit_scale_not_a_degenerate_one():
    assert plots.symmetric_extent(np.zeros(11)) == 1.0
    assert plots.symmetric_extent([0.0, -0.3, 0.2]) == pytest.approx(0.3)


def test_the_binary_heatmap_is_one_row_of_ten_digits_with_the_bias_note(session):
    layout = layout_of(session)
    assert layout.outputs == ("p(odd)",) and layout.units == DIGITS
    figure = plots.weights_figure(session.rounds, 3, layout)
    assert "held at 0" in figure.note and "units shown" not in figure.note
    frame = plots.weights_frame(session.rounds[-1].weights, session.rounds[-1].bias, layout)
    assert len(frame) == 10
    np.testing.assert_allclose(frame["value"], session.head.coef_[0])


def test_a_wide_k_class_head_shows_its_16_most_varying_units_and_says_so(k_session):
    layout = layout_of(k_session)
    assert layout.outputs == ("0", "1", "2", "3", "4") and layout.width == 128
    assert layout.bias_trained  # an embedding is no simplex: the head fits its intercepts
    history = plots.weight_history(k_session.rounds, layout)
    assert history.shape == (5, 5, 128)  # 4 rounds and the start
    shown = plots.shown_units(history)
    # The spread of each unit over every class and round, zeros of the start included.
    spread = history.max(axis=(0, 1)) - history.min(axis=(0, 1))
    assert len(shown) == 16 and list(shown) == sorted(shown)
    assert spread[shown].min() >= np.delete(spread, shown).max()

    figure = plots.weights_figure(k_session.rounds, 4, layout, "after round 4")
    assert figure.note.startswith("16 of the layer's 128 units shown")
    frame = plots.weights_frame(
        k_session.rounds[-1].weights, k_session.rounds[-1].bias, layout, shown
    )
    assert len(frame) == 5 * (16 + 1)  # 5 classes x (16 units + the bias)
    cells = frame.set_index(["output", "unit"])["value"]
    weights, bias = k_session.head.coef_, k_session.head.intercept_
    for k in range(5):
        for u in shown[:3]:
            assert cells[(str(k), str(u))] == pytest.approx(weights[k, u])
        assert cells[(str(k), "bias")] == pytest.approx(bias[k])
    spec = figure.chart.to_dict()
    assert spec["layer"][0]["encoding"]["x"]["scale"]["domain"] == {"expr": "w_units"}
    assert _params(spec)["w_units"] == [
        *(str(u) for u in shown),
        plots.BIAS_GAP,
        "bias",
    ]


def test_shown_units_keep_every_unit_of_a_narrow_layer_and_pick_known_ones_of_a_wide_one():
    assert plots.shown_units(np.zeros((2, 1, 10))).tolist() == list(range(10))
    history = np.zeros((2, 3, 20))
    history[1, 0, [2, 5, 7, 19]] = [0.1, -3.0, 2.0, 0.5]
    history[1, 2, 11] = 9.0
    picked = plots.shown_units(history, max_units=4)
    assert picked.tolist() == [5, 7, 11, 19]


def test_the_5to9_softmax_read_as_digits_0_to_4_is_a_5_by_5_old_to_new_class_map():
    names = unit_names(SHIPPED["mnist-cnn-5to9"], "digits", 5)
    assert names == ("5", "6", "7", "8", "9")
    assert unit_names(SHIPPED["mnist-cnn-5to9"], "embedding", 128)[:3] == ("0", "1", "2")
    layout = plots.head_layout(CLASSES, DIGITS, names, "old class", bias_trained=False)
    weights = np.arange(25.0).reshape(5, 5) - 12
    frame = plots.weights_frame(weights, np.zeros(5), layout)
    assert len(frame) == 25 and "bias" not in set(frame["unit"])
    assert frame.set_index(["output", "unit"]).loc[("2", "8"), "value"] == weights[2, 3]
    assert list(dict.fromkeys(frame["output"])) == ["0", "1", "2", "3", "4"]
    assert list(dict.fromkeys(frame["unit"])) == ["5", "6", "7", "8", "9"]


# --- the evolution ----------------------------------------------------------------------------


def test_evolution_frame_has_a_start_row_and_one_row_per_round(session):
    layout = layout_of(session)
    frame = plots.evolution_frame(session.rounds, layout)
    assert len(frame) == 10 * (len(session.rounds) + 1)
    assert frame[frame["round"] == 0]["value"].tolist() == [0.0] * 10
    last = frame[frame["round"] == 3]["value"].to_numpy()
    np.testing.assert_allclose(last, session.rounds[-1].weights[0])
    # Rounds answered by the ground truth are marked in their labels.
    assert set(frame[frame["round"] > 0]["label"]) == {"1 (auto)", "2 (auto)", "3 (auto)"}
    spec = plots.evolution_heatmap(session.rounds, layout, selected=2).to_dict()
    extent = float(np.max(np.abs(frame["value"])))
    assert _colour_domain(spec)[0] == [-extent, extent]


def test_k_class_evolution_is_the_length_of_each_class_row_per_round(k_session):
    layout = layout_of(k_session)
    figure = plots.evolution_figure(k_session.rounds, layout, selected=2)
    assert "length of one class's weights" in figure.note
    frame = plots.evolution_frame(k_session.rounds, layout)
    assert len(frame) == 5 * (len(k_session.rounds) + 1)
    assert list(dict.fromkeys(frame["column"])) == ["0", "1", "2", "3", "4"]
    for r in (k_session.rounds[0], k_session.rounds[-1]):
        norms = frame[frame["round"] == r.number]["value"].to_numpy()
        np.testing.assert_allclose(norms, np.linalg.norm(r.weights, axis=1))
    assert frame[frame["round"] == 0]["value"].tolist() == [0.0] * 5
    # A sequential scale from 0 to the longest row.
    assert _colour_domain(figure.chart.to_dict())[0] == [0, float(frame["value"].max())]


# --- p over the pool --------------------------------------------------------------------------


def test_histogram_counts_every_pool_image_once_by_true_class(session):
    data = session.data
    frame = plots.histogram_frame(ODD, DIGITS, data.y_pool, session.proba_pool)
    assert len(frame) == 2 * plots.HISTOGRAM_BINS
    odd = np.isin(data.y_pool, [1, 3, 5, 7, 9])
    by_class = frame.groupby("group")["count"].sum()
    assert by_class["truly odd"] == odd.sum()
    assert by_class["truly not odd"] == (~odd).sum()


def test_histogram_bins_known_values():
    p = np.array([0.01, 0.04, 0.51, 0.99, 1.0])
    y = np.array([0, 1, 3, 5, 2])
    proba = np.column_stack([1 - p, p])
    frame = plots.histogram_frame(ODD, DIGITS, y, proba, bins=2)
    counts = {(r.group, r.bin_start): r.count for r in frame.itertuples()}
    assert counts == {
        ("truly odd", 0.0): 1,  # the 1 at p = 0.04
        ("truly odd", 0.5): 2,  # 3 and 5
        ("truly not odd", 0.0): 1,  # the 0
        ("truly not odd", 0.5): 1,  # the 2 at p = 1.0 (the last bin is closed)
    }


def test_k_class_histogram_splits_the_top_p_by_whether_the_head_is_right():
    proba = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6], [0.45, 0.35, 0.2]])
    y = np.array([0, 2, 4, 4])  # data classes; the task's classes are 0, 2 and 4
    frame = plots.histogram_frame(Task.multiclass("0,2,4"), DIGITS, y, proba, bins=2)
    counts = {(r.group, r.bin_start): r.count for r in frame.itertuples()}
    assert counts == {
        ("head right", 0.0): 0,
        ("head right", 0.5): 3,  # 0.7 for a 0, 0.6 for a 2, 0.6 for a 4
        ("head wrong", 0.0): 1,  # the last 4, called a 0 with p = 0.45
        ("head wrong", 0.5): 0,
    }


def test_p_by_class_uses_exact_quantiles_per_digit(session):
    data = session.data
    frame = plots.p_by_class_frame(ODD, DIGITS, data.y_pool, session.proba_pool)
    assert frame["class"].tolist() == list(DIGITS)
    assert frame["group"].tolist() == ["odd" if d % 2 else "not odd" for d in range(10)]
    for d in (0, 7):
        p = session.p_pool[data.y_pool == d]
        row = frame.iloc[d]
        assert row["median"] == pytest.approx(np.median(p))
        assert row["q05"] == pytest.approx(np.quantile(p, 0.05))
        assert row["mean"] == pytest.approx(p.mean())
        assert row["wrong"] == pytest.approx(np.mean((p > 0.5) != (d % 2 == 1)))


def test_k_class_boxes_are_p_of_the_true_class_per_class(k_session):
    data = k_session.data
    proba = k_session.proba_pool
    frame = plots.p_by_class_frame(CLASSES, DIGITS, data.y_pool, proba)
    assert frame["class"].tolist() == ["0", "1", "2", "3", "4"]
    for k in (0, 3):
        mine = data.truth_pool == k
        p = proba[mine, k]
        row = frame.iloc[k]
        assert row["median"] == pytest.approx(np.median(p))
        assert row["q95"] == pytest.approx(np.quantile(p, 0.95))
        assert row["wrong"] == pytest.approx(np.mean(proba[mine].argmax(axis=1) != k))
    # The means are the session's own mean p of the true class.
    np.testing.assert_allclose(frame["mean"], k_session.p_by_class(), rtol=1e-6)  # float32 p
    chance = plots.p_by_class_chart(CLASSES, DIGITS, data.y_pool, proba).to_dict()
    rules = [rows for rows in chance["datasets"].values() if rows and set(rows[0]) == {"y"}]
    assert rules[0][0]["y"] == pytest.approx(0.2)  # chance for 5 classes


# --- the learning curve -----------------------------------------------------------------------


def test_curve_starts_at_zero_labels_and_shows_the_frozen_head_ceiling(session):
    start = session.start_metrics().as_dict()
    frame = plots.curve_frame(session.rounds, start)
    accuracy = frame[frame.metric == "accuracy"]
    assert accuracy["labels"].tolist() == [0] + [r.n_labels for r in session.rounds]
    assert accuracy["value"].tolist() == [start["accuracy"]] + [
        r.metrics["accuracy"] for r in session.rounds
    ]
    assert accuracy["answered_by"].tolist() == ["person"] + ["ground truth (auto)"] * 3
    spec = plots.learning_curve(session.rounds, start, session.ceiling().as_dict()).to_dict()
    ceiling_rows = [rows for rows in spec["datasets"].values() if rows and "text" in rows[0]]
    assert ceiling_rows[0][0]["value"] == pytest.approx(session.ceiling().accuracy)
    assert ceiling_rows[0][0]["text"].startswith("frozen-head ceiling ")
    # The x axis counts whole labels: no 0.000000 at the start, no 0.2, 0.4 ... after a round.
    x = spec["layer"][0]["encoding"]["x"]
    assert x["axis"] == {"format": "d", "tickMinStep": 1}
    # The y axis's end labels sit on their ticks: Streamlit's theme set them flush with the
    # ends, and a line at 1.0 looked above "1.0" (measured in Chromium, 5 px at 200 px high).
    assert spec["layer"][0]["encoding"]["y"]["axis"] == {"labelFlush": False}


def test_curve_marks_where_the_signals_first_said_stop():
    s = LabellingSession(synthetic_features(), SessionSettings(strategy="representative"))
    start, ceiling = s.start_metrics().as_dict(), s.ceiling().as_dict()
    s.auto_label(2)
    spec = plots.learning_curve(s.rounds, start, ceiling).to_dict()
    assert not any("you can stop" in json.dumps(rows) for rows in spec["datasets"].values())
    s.auto_label(10)
    stop = s.stop_round()
    assert stop is not None
    spec = plots.learning_curve(s.rounds, start, ceiling).to_dict()
    marker = [rows for rows in spec["datasets"].values() if rows and "you can stop" in str(rows[0])]
    assert marker[0][0]["labels"] == stop.n_labels and marker[0][0]["round"] == stop.number
    assert marker[0][0]["text"] == f"you can stop ({stop.n_labels} labels)"


def test_names_follow_the_task():
    assert plots.answer_name(ODD) == "odd"
    assert plots.answer_name(Task.binary("2,3,5,7")) == "{2,3,5,7}"
    assert plots.p_label(Task.binary("even")) == "p(even)"
    assert plots.answer_name(CLASSES, DIGITS) == "classes 0-4"
    assert plots.p_label(CLASSES, DIGITS) == "p(top answer)"


# --- exports ----------------------------------------------------------------------------------


def test_evolution_gif_has_one_frame_per_round_plus_the_start(k_session):
    layout = layout_of(k_session)
    seconds: list[float] = []
    data = plots.evolution_gif(
        k_session.rounds,
        layout,
        "p(top answer)",
        k_session.data.size,
        k_session.start_metrics().accuracy,
        timings=seconds,
    )
    gif = Image.open(io.BytesIO(data))
    assert gif.format == "GIF"
    assert gif.n_frames == len(k_session.rounds) + 1 == len(seconds)
    assert gif.info["loop"] == 0
    charts = plots.evolution_frame_charts(
        k_session.rounds, layout, "p", k_session.data.size, k_session.start_metrics().accuracy
    )
    assert charts[0].title == "Number of curated samples: 0"
    assert charts[-1].title == f"Number of curated samples: {k_session.rounds[-1].n_labels}"
    # One colour scale for every frame: the largest |weight| of the units shown, any round.
    domains = {tuple(_colour_domain(c.to_dict())[0]) for c in charts}
    assert len(domains) == 1


def test_figures_png_is_the_page_charts_in_one_png(k_session):
    layout = layout_of(k_session)
    data, proba = k_session.data, k_session.proba_pool
    weights = plots.weights_figure(k_session.rounds, 4, layout, "Weights after round 4")
    chart = plots.figures_chart(
        weights,
        plots.p_histogram(CLASSES, DIGITS, data.y_pool, proba),
        plots.p_by_class_chart(CLASSES, DIGITS, data.y_pool, proba),
        plots.learning_curve(
            k_session.rounds,
            k_session.start_metrics().as_dict(),
            k_session.ceiling().as_dict(),
        ),
        title="classes 0-4 on the embedding",
    )
    spec = chart.to_dict()
    # The note travels with the exported figure, under the heatmap's own title; the figure's
    # title is the session's, written once (it was the heatmap's, twice).
    assert spec["vconcat"][0]["title"]["subtitle"] == weights.note
    assert spec["title"] == "classes 0-4 on the embedding"
    assert _params(spec)["w_title"] == "Weights after round 4"
    # The cells' values at a fixed size: a file keeps its step, where they fit.
    texts = [m for m in spec["vconcat"][0]["layer"] if m["mark"]["type"] == "text"]
    assert texts[0]["mark"]["fontSize"] == 11
    image = Image.open(io.BytesIO(plots.to_png(chart)))
    assert image.format == "PNG"
    assert image.width > 1000 and image.height > 1000


def test_a_long_session_gets_at_most_max_frames_evenly_spread_with_the_first_and_last(k_session):
    layout = layout_of(k_session)
    size, accuracy = k_session.data.size, k_session.start_metrics().accuracy
    charts = plots.evolution_frame_charts(k_session.rounds, layout, "p", size, accuracy, 3)
    labels = [r.n_labels for r in k_session.rounds]  # 4 rounds: 5 frames, 3 kept
    assert [c.title for c in charts] == [
        "Number of curated samples: 0",
        f"Number of curated samples: {labels[1]}",
        f"Number of curated samples: {labels[3]}",
    ]


# --- live charts: one spec per shape, data and params each round ------------------------------


def _records(spec: dict) -> dict:
    """A live spec with its data frames as records, as vl-convert (and the browser) read them."""
    datasets = {
        name: rows.to_pylist() if isinstance(rows, pa.Table) else rows
        for name, rows in spec["datasets"].items()
    }
    return {**spec, "datasets": datasets}


def _live_and_export(session):
    layout = layout_of(session)
    rounds, data, proba = session.rounds, session.data, session.proba_pool
    task, names = session.task, session.features.class_names
    start, ceiling = session.start_metrics().as_dict(), session.ceiling().as_dict()
    title = "Weights after round 3"
    return [
        (
            plots.weights_live(rounds, 3, layout, title),
            plots.weights_figure(rounds, 3, layout, title).chart,
        ),
        (
            plots.evolution_live(rounds, layout, 2),
            plots.evolution_figure(rounds, layout, 2).chart,
        ),
        (
            plots.histogram_live(task, names, data.y_pool, proba),
            plots.p_histogram(task, names, data.y_pool, proba),
        ),
        (
            plots.by_class_live(task, names, data.y_pool, proba),
            plots.p_by_class_chart(task, names, data.y_pool, proba),
        ),
        (
            plots.curve_live(rounds, start, ceiling),
            # The page says who answered in its heading, not in a second key.
            plots.learning_curve(rounds, start, ceiling, shape_legend=False),
        ),
    ]


@pytest.mark.parametrize("which", ["session", "k_session"])
def test_a_live_chart_draws_exactly_what_its_export_draws(which, request):
    """The page's spec (data by name, numbers as params) and the exported chart (data inline)
    render to the same picture: one drawing of each figure."""
    import vl_convert

    for live, exported in _live_and_export(request.getfixturevalue(which)):
        spec = plots.live_spec(live)
        assert "config" not in spec and set(live.datasets) <= set(spec["datasets"])
        drawn = [
            # Gradients are numbered in the order vl-convert draws them.
            re.sub(r"gradient_\d+", "gradient", vl_convert.vegalite_to_svg(s))
            for s in (_records(spec), exported.to_dict())
        ]
        assert drawn[0] == drawn[1], live.shape[0]


def test_a_new_round_reuses_the_spec_and_sends_only_data_and_params(session):
    layout = layout_of(session)
    first = plots.live_spec(plots.weights_live(session.rounds[:1], 1, layout, "after 1"))
    last = plots.live_spec(plots.weights_live(session.rounds, 3, layout, "after 3"))
    assert first["layer"] is last["layer"]  # the kept template, not a new chart
    params = _params(last)
    assert params["w_title"] == "after 3" and _params(first)["w_title"] == "after 1"
    np.testing.assert_allclose(last["datasets"]["weights"]["value"], session.rounds[-1].weights[0])
    assert params["w_extent"] == pytest.approx(np.abs(session.rounds[-1].weights).max())
    # The evolution keeps its spec while its rows fit, and changes it as they shrink.
    assert plots.evolution_shape(31) == ("fit", True)
    assert plots.evolution_shape(42) == ("fit", False)
    assert plots.evolution_shape(111) == ("small", False)
    live = plots.weights_live(session.rounds, 3, layout, "after 3")
    with pytest.raises(ValueError, match="no params"):
        plots.live_spec(dataclasses.replace(live, params={**live.params, "nonsense": 1}))


def test_a_sweep_of_every_binary_question_draws_its_png():
    # 6 strategies x 1,022 questions: more rows than Altair embeds for a page.
    rng = np.random.default_rng(0)
    strategies = ["diversity", "uncertainty", "entropy", "representative", "committee", "random"]
    summary = pd.DataFrame(
        {
            "strategy": np.repeat(strategies, 1_022),
            "auc": rng.uniform(0.8, 1.0, 6_132),
            "labels_to_99pct_of_ceiling": pd.array(
                np.where(rng.random(6_132) < 0.5, rng.integers(8, 80, 6_132), -1), "Int64"
            ),
        }
    )
    summary.loc[summary["labels_to_99pct_of_ceiling"] < 0, "labels_to_99pct_of_ceiling"] = pd.NA
    image = Image.open(io.BytesIO(plots.to_png(plots.sweep_chart(summary))))
    assert image.format == "PNG" and image.width > 800


def test_the_page_sizes_the_cells_values_to_the_cells_it_draws(k_session):
    """Stretched to a column, 18 columns of 25 px left no room for "+0.12" at 10 px: the page's
    heatmap sizes its values to the drawn cells, and leaves them out where they cannot fit."""
    layout = layout_of(k_session)
    spec = plots.live_spec(plots.weights_live(k_session.rounds, 4, layout, "w"))
    text = next(m for m in spec["layer"] if m["mark"]["type"] == "text")
    expr = text["mark"]["fontSize"]["expr"]
    assert "bandwidth('x')" in expr

    def size_at(cell: float) -> float:
        fits = (cell - 2) // plots.weights.VALUE_EM
        return min(11, fits) if fits >= plots.weights.VALUE_MIN_FONT else 0

    assert expr == plots.weights.cell_font_size(11)
    assert [size_at(c) for c in (52, 30, 25, 18)] == [11, 9, 0, 0]


def test_the_curve_has_the_same_colours_on_the_page_and_in_its_png(session):
    start, ceiling = session.start_metrics().as_dict(), session.ceiling().as_dict()
    exported = plots.learning_curve(session.rounds, start, ceiling).to_dict()
    live = plots.live_spec(plots.curve_live(session.rounds, start, ceiling))
    for spec in (exported, live):
        colour = spec["layer"][0]["encoding"]["color"]["scale"]
        assert colour == {
            "domain": ["accuracy", "precision", "recall"],
            "range": ["#1f77b4", "#9ecae9", "#d62728"],
        }
    # The page leaves the key of who answered to its heading's help, where it is not cut.
    assert exported["layer"][1]["encoding"]["shape"]["legend"] == {"orient": "top", "title": None}
    assert live["layer"][1]["encoding"]["shape"]["legend"] is None
