"""The app driven headless with Streamlit's AppTest: whole rounds, undo, settings, live demo.

AppTest runs the real entry script (which routes to the Label page) on the real cached
features of `mnist-cnn` (hence `model`), without a browser: it cannot press keys, so it clicks
the buttons the keys are bound to. Multi-class questions and other backbones and layers are in
`test_app_tasks.py`, on synthetic features.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from grid_apptest import grid_props_of, submit_grid
from streamlit.testing.v1 import AppTest

from ui import keys

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("app_db")]

CURVE, EVOLUTION = 1, 2  # the order of the charts on the page: weights, curve, evolution, ...
APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def session(at: AppTest):
    return at.session_state[keys.SESSION]


def truth(at: AppTest) -> list[str]:
    """MNIST's ground truth for the open batch."""
    s = session(at)
    return s.truth([p.index for p in s.next_batch()])


def submit(at: AppTest, answers: list[str]) -> AppTest:
    """Send the batch's answers as the browser grid does at Enter."""
    submit_grid(at, len(session(at).rounds) + 1, answers)
    assert not at.exception, [e.value for e in at.exception]
    return at


def answer_all_truthfully(at: AppTest) -> None:
    submit(at, truth(at))


def chart(at: AppTest, n: int) -> tuple[dict, list]:
    """The n-th Vega-Lite chart on the page: its spec and its datasets as data frames."""
    proto = at.get("vega_lite_chart")[n].proto
    frames = [pa.ipc.open_stream(d.data.data).read_pandas() for d in proto.datasets]
    return json.loads(proto.spec), frames


def weight_cells(at: AppTest) -> dict[tuple[str, str], float]:
    """The values written in the weights heatmap (the first chart), by (output, unit)."""
    _, frames = chart(at, 0)
    cells = {}
    for frame in frames:
        if "unit" in frame:
            cells.update(zip(zip(frame["output"], frame["unit"]), frame["value"]))
    return cells


def new_session(at: AppTest) -> None:
    at.button(key="new_session").click().run()


def progress(at: AppTest) -> str:
    return next(m.value for m in at.markdown if " in **" in m.value)


def test_first_page_offers_a_batch_of_four_in_the_grid(app):
    assert progress(app).startswith("**0 labels** in **0 rounds**")
    assert "frozen-head ceiling 99." in progress(app)
    grid = grid_props_of(app)
    assert [(o["label"], o["key"]) for o in grid["options"]] == [
        ("Odd", "o"),
        ("Even", "e"),
        ("Skip", "s"),
    ]
    assert grid["round"] == 1 and len(grid["tiles"]) == 4
    assert all(t["src"].startswith("data:image/png;base64,") for t in grid["tiles"])
    assert all(t["caption"].startswith("p(odd) 0.500") for t in grid["tiles"])
    assert grid["submitLabel"] == "Submit batch ({answered}/{size})"
    assert app.button(key="undo").disabled
    cells = weight_cells(app)
    assert len(cells) == 10 and all(v == 0.0 for v in cells.values())  # 1 x 10, no bias


def test_a_whole_round_trains_the_head_and_shows_in_the_history(app):
    answer_all_truthfully(app)
    s = session(app)
    assert len(s.rounds) == 1 and len(s.labelled) == 4
    assert progress(app).startswith("**4 labels** in **1 round**")
    assert app.toast[0].value.startswith("Round 1 learned: 4 labels")
    # The heatmap shows the new weights, the history lists every answer of the round.
    cells = weight_cells(app)
    np.testing.assert_allclose([cells[("p(odd)", str(d))] for d in range(10)], s.head.coef_[0])
    assert ("p(odd)", "bias") not in cells  # held at 0 on the softmax outputs, so not drawn
    assert any(abs(v) > 0.1 for v in cells.values())
    history = app.dataframe[0].value
    assert history["round"].tolist() == [1] * 4
    assert history["pool index"].tolist() == list(s.rounds[0].indices)
    assert history["answered by"].tolist() == ["person"] * 4
    # The learning curve has gained a point at 4 labels.
    _, frames = chart(app, CURVE)
    curve = next(f for f in frames if "metric" in f)
    assert sorted(set(curve["labels"])) == [0, 4]
    # A new batch is on offer, none of it answered.
    assert grid_props_of(app)["round"] == 2
    assert grid_props_of(app)["answers"] == [None] * 4


def test_a_stale_or_repeated_submit_answers_nothing(app):
    answer_all_truthfully(app)
    submit_grid(app, 1, ["positive"] * 4)  # the same Enter again, or another tab's page
    assert len(session(app).rounds) == 1
    assert "round 2 is the one open" in app.toast[0].value


def test_undo_takes_the_round_back_and_offers_its_answers_again(app):
    given = truth(app)
    submit(app, given)
    app.button(key="undo").click().run()
    assert not app.exception
    s = session(app)
    assert s.rounds == [] and len(s.labelled) == 0
    assert progress(app).startswith("**0 labels** in **0 rounds**")
    assert grid_props_of(app)["answers"] == given
    assert app.toast[0].value.startswith("Round 1 undone")
    assert all(v == 0.0 for v in weight_cells(app).values())
    # Submitting the restored answers gives the same round again.
    submit(app, given)
    assert len(session(app).rounds) == 1


def test_changing_settings_mid_session_asks_before_discarding(app):
    answer_all_truthfully(app)
    app.selectbox(key="set_strategy").set_value("random")
    app.slider(key="set_batch").set_value(6)
    new_session(app)
    assert "your 4 labels in 1 rounds, stays stored" in app.sidebar.warning[0].value
    assert len(session(app).rounds) == 1  # nothing thrown away yet
    # Stay: the widgets go back to what the session uses.
    app.button[[b.label for b in app.button].index("Stay on this one")].click().run()
    assert session(app).settings.strategy == "diversity"
    assert app.selectbox(key="set_strategy").value == "diversity"
    assert len(session(app).rounds) == 1
    # Start: a fresh session with the new settings.
    app.selectbox(key="set_strategy").set_value("random")
    app.slider(key="set_batch").set_value(6)
    new_session(app)
    app.button[[b.label for b in app.button].index("Start it")].click().run()
    s = session(app)
    assert s.rounds == [] and s.settings.strategy == "random" and s.settings.batch_size == 6
    assert len(grid_props_of(app)["tiles"]) == 6


def test_a_custom_target_renames_the_answers(app):
    app.radio(key="set_kind").set_value("custom").run()
    app.multiselect(key="set_digits").set_value([2, 3, 5, 7])
    new_session(app)
    assert session(app).settings.target == frozenset({2, 3, 5, 7})
    grid = grid_props_of(app)
    assert [(o["label"], o["key"]) for o in grid["options"][:2]] == [
        ("Positive {2,3,5,7}", "p"),
        ("Negative", "n"),
    ]
    assert all(t["caption"].startswith("p({2,3,5,7}) ") for t in grid["tiles"])


def test_the_bias_column_shows_only_where_the_head_trains_it_and_says_why_otherwise(app):
    def bias_notes() -> list[str]:
        helps = [m.help for m in app.markdown if m.help]
        return [h for h in helps if "held at 0" in h]

    assert len(bias_notes()) == 1 and "sum to 1" in bias_notes()[0]
    assert ("p(odd)", "bias") not in weight_cells(app)
    app.radio(key="set_head").set_value("demo")
    new_session(app)
    assert session(app).settings.head_mode == "demo"
    assert bias_notes() == []
    # The demo's Adam steps train the bias, so it has its column.
    assert weight_cells(app)[("p(odd)", "bias")] == 0.0


def test_a_bad_setting_is_refused_with_its_reason(app):
    app.radio(key="set_kind").set_value("custom").run()
    app.multiselect(key="set_digits").set_value(list(range(10)))
    new_session(app)
    assert not app.exception
    assert "some but not all of the digits" in app.sidebar.error[0].value
    assert session(app).settings.target == frozenset({1, 3, 5, 7, 9})


def test_auto_label_marks_simulated_rounds_and_check_finds_wrong_answers(app):
    # One deliberately wrong answer, three right ones.
    answers = truth(app)
    answers[0] = {"positive": "negative", "negative": "positive"}[answers[0]]
    submit(app, answers)
    app.number_input(key="auto_rounds").set_value(2)
    app.button(key="auto_label").click().run()
    s = session(app)
    assert [r.simulated for r in s.rounds] == [False, True, True]
    assert "(2 auto-labelled)" in progress(app)
    history = app.dataframe[0].value
    assert history["answered by"].tolist() == ["MNIST (auto)"] * 8 + ["person"] * 4
    evolution, frames = chart(app, EVOLUTION)
    labels = set().union(*(set(f["label"]) for f in frames if "label" in f))
    assert {"start", "1", "2 (auto)", "3 (auto)"} <= labels
    app.button(key="check").click().run()
    assert app.warning[0].value.startswith("1 of your 4 answers disagree")
    assert len(s.disagreements()) == 1


def test_the_progress_line_says_when_to_stop_and_the_curve_marks_it(app):
    app.number_input(key="auto_rounds").set_value(5)
    app.button(key="auto_label").click().run()
    line = progress(app)
    assert line.startswith("**20 labels** in **5 rounds** (5 auto-labelled)")
    assert "· keep labelling: pool kappa " in line and "stop at 0.99" in line
    answer_all_truthfully(app)
    # Odd/even on the digit outputs settles after round 3; three steady rounds later it fires.
    line = progress(app)
    assert line.startswith("**24 labels** in **6 rounds**")
    assert line.endswith(
        " · **you can stop: predictions on the pool have barely changed for 3 rounds**"
    )
    help_text = next(m.help for m in app.markdown if m.value == line)
    assert "first said so after round 6, at 24 labels" in help_text
    _, frames = chart(app, CURVE)
    marker = next(f for f in frames if "text" in f and "you can stop" in f["text"][0])
    assert marker["labels"][0] == 24
