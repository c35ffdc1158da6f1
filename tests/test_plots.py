"""The app's figures, checked on their numbers: no Streamlit, no TensorFlow, a synthetic pool."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from synthetic import synthetic_features

from tl_active import plots
from tl_active.session import ODD, LabellingSession, SessionSettings


@pytest.fixture(scope="module")
def session() -> LabellingSession:
    s = LabellingSession(synthetic_features(), SessionSettings(strategy="representative", seed=3))
    s.auto_label(3)
    return s


def _colour_domain(spec: dict) -> list[float]:
    """The colour scale's domain of every layer that encodes colour by value."""
    domains = []

    def walk(node):
        if isinstance(node, dict):
            colour = node.get("encoding", {}).get("color", {})
            if isinstance(colour, dict) and colour.get("field") == "value":
                domains.append(colour["scale"]["domain"])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(spec)
    return domains


def test_weights_frame_lists_ten_digits_then_the_bias():
    frame = plots.weights_frame(np.arange(10) - 4.5, 0.25)
    assert frame["term"].tolist() == [str(d) for d in range(10)] + ["bias"]
    assert frame["value"].tolist() == [-4.5, -3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 4.5, 0.25]
    assert frame["label"].iloc[0] == "-4.50" and frame["label"].iloc[-1] == "+0.25"


def test_weights_frame_refuses_a_wrong_number_of_weights():
    with pytest.raises(ValueError, match="expected 10 weights"):
        plots.weights_frame([1.0, 2.0], 0.0)


def test_weight_scale_is_symmetric_and_never_clips():
    weights = [0.5, -7.25, 1.0, 0, 0, 0, 0, 0, 0, 3.0]
    spec = plots.weights_heatmap(weights, bias=2.0).to_dict()
    domains = _colour_domain(spec)
    assert domains and all(d == [-7.25, 7.25] for d in domains)
    # A bias larger than every weight widens the scale rather than being clipped.
    spec = plots.weights_heatmap([0.1] * 10, bias=-9.0).to_dict()
    assert all(d == [-9.0, 9.0] for d in _colour_domain(spec))


def test_untrained_head_gets_a_unit_scale_not_a_degenerate_one():
    assert plots.symmetric_extent(np.zeros(11)) == 1.0
    assert plots.symmetric_extent([0.0, -0.3, 0.2]) == pytest.approx(0.3)


def test_evolution_frame_has_a_start_row_and_one_row_per_round(session):
    frame = plots.evolution_frame(session.rounds)
    assert len(frame) == 10 * (len(session.rounds) + 1)
    assert frame[frame["round"] == 0]["value"].tolist() == [0.0] * 10
    last = frame[frame["round"] == 3].sort_values("digit")["value"].to_numpy()
    np.testing.assert_allclose(last, session.rounds[-1].weights)
    # Rounds answered by the ground truth are marked in their labels.
    assert set(frame[frame["round"] > 0]["label"]) == {"1 (auto)", "2 (auto)", "3 (auto)"}
    spec = plots.evolution_heatmap(session.rounds, selected=2).to_dict()
    extent = float(np.max(np.abs(frame["value"])))
    assert _colour_domain(spec)[0] == [-extent, extent]


def test_histogram_counts_every_pool_image_once_by_true_class(session):
    fs = session.features
    frame = plots.histogram_frame(session.p_pool, fs.y_pool, ODD)
    assert len(frame) == 2 * plots.HISTOGRAM_BINS
    odd = np.isin(fs.y_pool, [1, 3, 5, 7, 9])
    by_class = frame.groupby("true_class")["count"].sum()
    assert by_class["truly odd"] == odd.sum()
    assert by_class["truly not odd"] == (~odd).sum()


def test_histogram_bins_known_values():
    p = np.array([0.01, 0.04, 0.51, 0.99, 1.0])
    y = np.array([0, 1, 3, 5, 2])
    frame = plots.histogram_frame(p, y, ODD, bins=2)
    counts = {(r.true_class, r.bin_start): r.count for r in frame.itertuples()}
    assert counts == {
        ("truly odd", 0.0): 1,  # the 1 at p = 0.04
        ("truly odd", 0.5): 2,  # 3 and 5
        ("truly not odd", 0.0): 1,  # the 0
        ("truly not odd", 0.5): 1,  # the 2 at p = 1.0 (the last bin is closed)
    }


def test_p_by_digit_uses_exact_quantiles_per_digit(session):
    fs = session.features
    frame = plots.p_by_digit_frame(session.p_pool, fs.y_pool, ODD)
    assert frame["digit"].tolist() == list(range(10))
    assert frame["positive"].tolist() == [d % 2 == 1 for d in range(10)]
    for d in (0, 7):
        p = session.p_pool[fs.y_pool == d]
        row = frame.iloc[d]
        assert row["median"] == pytest.approx(np.median(p))
        assert row["q05"] == pytest.approx(np.quantile(p, 0.05))
        assert row["mean"] == pytest.approx(p.mean())
        assert row["wrong_side"] == pytest.approx(np.mean((p > 0.5) != (d % 2 == 1)))


def test_curve_starts_at_zero_labels_and_follows_the_rounds(session):
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


def test_class_names_follow_the_target():
    assert plots.class_name(ODD) == "odd"
    assert plots.class_name(frozenset({2, 3, 5, 7})) == "{2,3,5,7}"
    assert plots.p_label(frozenset({0, 2, 4, 6, 8})) == "p(even)"


def test_evolution_gif_has_one_frame_per_round_plus_the_start(session):
    data = plots.evolution_gif(
        session.rounds, ODD, session.features.pool_size, session.start_metrics().accuracy
    )
    gif = Image.open(io.BytesIO(data))
    assert gif.format == "GIF"
    assert gif.n_frames == len(session.rounds) + 1
    assert gif.info["loop"] == 0


def test_figures_png_is_a_real_png(session):
    data = plots.figures_png(
        session.head.weights_,
        session.head.bias_,
        session.p_pool,
        session.features.y_pool,
        ODD,
        session.rounds,
        session.start_metrics().as_dict(),
        session.ceiling().as_dict(),
    )
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (1200, 800)
