"""The app with other backbones, layers and questions, driven by AppTest on synthetic features.

The shared features are replaced by synthetic ones per backbone and layer (no TensorFlow, no
feature cache): `mnist-cnn`'s 10 softmax outputs and 128-wide embedding, and the 5-9 network's
5 softmax outputs. A model file that is missing or given by a path goes to the real loader,
which must say what is wrong without computing anything.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from grid_apptest import grid_props_of, submit_grid
from PIL import Image
from streamlit.testing.v1 import AppTest
from synthetic import synthetic_features

from tl_active.core.task import Task
from tl_active.data import features as features_module
from tl_active.data.backbones import SHIPPED, Backbone
from tl_active.errors import ModelError
from ui import keys
from ui import support as ui_support

pytestmark = pytest.mark.usefixtures("app_db")

APP = str(Path(__file__).resolve().parent.parent / "app.py")
FAKE = ("mnist-cnn", "mnist-cnn-5to9")


def fake_features(backbone: str, layer: str):
    """Synthetic features as the named backbone's layer gives them."""
    made = synthetic_features(2_000, 500, model=backbone, layer=layer)
    if backbone == "mnist-cnn-5to9" and layer == "digits":
        # Five softmax outputs for 5-9: what the network says about any digit.
        five = made.pool[:, 5:] / made.pool[:, 5:].sum(axis=1, keepdims=True)
        test = made.test[:, 5:] / made.test[:, 5:].sum(axis=1, keepdims=True)
        made = dataclasses.replace(made, pool=five, test=test)
    return dataclasses.replace(made, backbone=backbone, _tasks={})


@pytest.fixture(autouse=True)
def real_loader_for(monkeypatch) -> set[str]:
    """The app's features are synthetic, except for the backbones named in the returned set
    (and any path), which go to the real loader."""
    real = features_module.load_features
    made: dict = {}
    delegated: set[str] = set()

    def load(backbone=None, layer=None, *args, **kwargs):
        name = backbone.name if isinstance(backbone, Backbone) else str(backbone)
        if name not in FAKE or name in delegated:
            return real(backbone, layer, *args, **kwargs)
        if (name, layer) not in made:
            made[name, layer] = fake_features(name, layer)
        return made[name, layer]

    monkeypatch.setattr(ui_support, "load_features", load)
    ui_support.shared_features.clear()
    yield delegated
    ui_support.shared_features.clear()


def open_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def session(at: AppTest):
    return at.session_state[keys.SESSION]


def settle(changed) -> AppTest:
    """Run the app after a widget changed (or again), as the browser would; no exception."""
    at = changed.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def choose(at: AppTest, backbone: str | None = None, layer: str | None = None, **question):
    """Set the sidebar as a person would, one widget at a time, then start a session."""
    if backbone is not None:
        settle(at.selectbox(key=keys.SET_BACKBONE).set_value(backbone))
    if layer is not None:
        settle(at.selectbox(key=keys.SET_LAYER).set_value(layer))
    if "kind" in question:
        settle(at.radio(key=keys.SET_KIND).set_value(question["kind"]))
    if "classes" in question:
        settle(at.multiselect(key=keys.SET_CLASSES).set_value(question["classes"]))
    settle(at.button(key="new_session").click())


def chart_frames(at: AppTest, name: str) -> list:
    """The data frames of the chart drawn in the container `<name>_chart`."""
    for element in at.get("vega_lite_chart"):
        proto = element.proto
        frames = [pa.ipc.open_stream(d.data.data).read_pandas() for d in proto.datasets]
        spec = json.loads(proto.spec)
        if name == "weights" and any("unit" in f for f in frames):
            return frames
        if name == "evolution" and any("column" in f for f in frames):
            return frames
        if name == "spec" and spec:
            return [spec]
    raise AssertionError(f"no {name} chart on the page")


def weight_cells(at: AppTest) -> dict[tuple[str, str], float]:
    cells = {}
    for frame in chart_frames(at, "weights"):
        if "unit" in frame:
            cells.update(zip(zip(frame["output"], frame["unit"]), frame["value"]))
    return cells


def progress(at: AppTest) -> str:
    return next(m.value for m in at.markdown if " in **" in m.value)


def grid_keys(at: AppTest) -> dict[str, str]:
    """The grid's answers, label to key, in the order it shows them (Skip last)."""
    return {o["label"]: o["key"] for o in grid_props_of(at)["options"]}


def submit(at: AppTest, answers: list[str]) -> AppTest:
    """Send the batch's answers as the browser grid does at Enter."""
    submit_grid(at, len(session(at).rounds) + 1, answers)
    assert not at.exception, [e.value for e in at.exception]
    return at


def answer_truthfully(at: AppTest) -> list[str]:
    """Submit MNIST's ground truth for the open batch, as the grid does."""
    s = session(at)
    answers = s.truth([p.index for p in s.next_batch()])
    submit(at, answers)
    return answers


def test_a_multiclass_session_is_answered_with_the_class_keys_and_draws_a_k_by_d_head():
    at = open_app()
    choose(at, layer="embedding", kind="classes")  # 0-4, the default classes
    s = session(at)
    assert s.task == Task.multiclass("0-4") and s.settings.layer == "embedding"
    assert set(np.unique(s.data.y_pool)) == {0, 1, 2, 3, 4}  # the pool holds only those
    # One answer per class, its key the class's digit, then Skip.
    assert grid_keys(at) == {"0": "0", "1": "1", "2": "2", "3": "3", "4": "4", "Skip": "s"}
    # A K-class question has no binary-only strategy and no demo head (the pool-taught head
    # converges, so it stays).
    assert "band" not in at.selectbox(key=keys.SET_STRATEGY).options
    assert at.radio(key=keys.SET_HEAD).options == ["converge", "pool"]
    assert "frozen-head ceiling" in progress(at)
    # Before any label: a 5 x (16 + bias) heatmap of zeros.
    cells = weight_cells(at)
    assert len(cells) == 5 * 17 and all(v == 0.0 for v in cells.values())

    given = answer_truthfully(at)
    assert set(given) <= {"0", "1", "2", "3", "4"}
    s = session(at)
    assert len(s.rounds) == 1 and s.rounds[0].answers == given
    assert progress(at).startswith("**4 labels** in **1 round**")
    assert at.toast[0].value.startswith("Round 1 learned: 4 labels")

    # The weights heatmap is K x D: the 5 classes by the 16 most varying of 128 units, and
    # the bias the head fits on an embedding.
    cells = weight_cells(at)
    outputs = sorted({o for o, _ in cells})
    units = {u for _, u in cells} - {"bias"}
    assert outputs == ["0", "1", "2", "3", "4"] and len(units) == 16
    assert len(cells) == 5 * 17
    coef, intercept = s.head.coef_, s.head.intercept_
    assert coef.shape == (5, 128)
    for k in range(5):
        for u in units:
            assert cells[(str(k), u)] == pytest.approx(coef[k, int(u)])
        assert cells[(str(k), "bias")] == pytest.approx(intercept[k])
    # Said in the help of the figure's title.
    assert any(
        (m.help or "").endswith("varied most over the outputs and rounds so far.")
        for m in at.markdown
    )
    # The evolution: the length of each class's weights per round.
    evolution = next(f for f in chart_frames(at, "evolution") if "column" in f)
    last = evolution[evolution["round"] == 1]
    np.testing.assert_allclose(last["value"], np.linalg.norm(coef, axis=1), rtol=1e-6)
    # The history lists every answer by its class.
    history = at.dataframe[0].value
    assert history["answer"].tolist() == given
    assert history["pool index"].tolist() == list(s.rounds[0].indices)
    # A digit's thumbnail: 56 px, in the table's own rows and its narrow picture column.
    assert at.dataframe[0].proto.row_height == 0
    assert json.loads(at.dataframe[0].proto.columns)["image"]["width"] == "small"
    picture = history["image"][0].split(",", 1)[1]
    assert Image.open(io.BytesIO(base64.b64decode(picture))).size == (56, 56)


def test_answers_given_with_the_digit_keys_and_skip_are_stored_as_given():
    """The grid answers the outlined tile in the browser (tests/test_grid_browser.py); what it
    sends at Enter is each tile's class or a skip, in the order of the tiles."""
    at = open_app()
    choose(at, layer="embedding", kind="classes")
    grid = grid_props_of(at)
    assert grid["round"] == 1 and grid["answers"] == [None] * 4
    submit(at, ["3", "skip", "0", "4"])
    s = session(at)
    assert s.rounds[0].answers == ["3", "skip", "0", "4"]
    assert len(s.labelled) == 3  # a skip is no label
    assert progress(at).startswith("**3 labels** in **1 round**")
    assert at.dataframe[0].value["answer"].tolist() == ["3", "Skip", "0", "4"]


def test_switching_backbone_layer_and_question_starts_the_matching_session():
    at = open_app()
    s = session(at)
    assert (s.settings.backbone, s.settings.layer, s.task.name()) == ("mnist-cnn", "digits", "odd")
    assert {u for _, u in weight_cells(at)} == {str(d) for d in range(10)}

    # The 5-9 network's softmax outputs read as digits 0-4: warned, then a 5 x 5 map.
    settle(at.selectbox(key=keys.SET_BACKBONE).set_value("mnist-cnn-5to9"))
    settle(at.selectbox(key=keys.SET_LAYER).set_value("digits"))
    settle(at.radio(key=keys.SET_KIND).set_value("classes"))
    assert any("peaks near 61 %" in i.value for i in at.sidebar.info)
    settle(at.button(key="new_session").click())
    s = session(at)
    assert (s.settings.backbone, s.settings.layer) == ("mnist-cnn-5to9", "digits")
    assert s.features.width == 5
    ceiling = session(at).ceiling().accuracy
    assert any(
        f"frozen-head ceiling for this question is {ceiling:.1%}" in i.value for i in at.main.info
    )
    cells = weight_cells(at)
    assert sorted({o for o, _ in cells}) == ["0", "1", "2", "3", "4"]
    assert sorted({u for _, u in cells}) == ["5", "6", "7", "8", "9"]  # old class -> new class
    assert len(cells) == 25  # no bias: the outputs sum to 1
    answer_truthfully(at)
    assert f"{session(at).ceiling().accuracy:.1%}" in progress(at)

    # The same network's embedding: no warning; the session has rounds, so it asks first.
    settle(at.selectbox(key=keys.SET_LAYER).set_value("embedding"))
    assert not any("61 %" in i.value for i in at.sidebar.info)
    settle(at.button(key="new_session").click())
    assert "stays stored under Recent sessions" in at.sidebar.warning[0].value
    settle(at.button[[b.label for b in at.button].index("Start it")].click())
    s = session(at)
    assert (s.settings.backbone, s.settings.layer) == ("mnist-cnn-5to9", "embedding")
    assert s.rounds == [] and s.task == Task.multiclass("0-4")

    # Back to a binary question on the first network: P/N keys, every strategy again.
    choose(at, backbone="mnist-cnn", layer="digits", kind="custom")
    settle(at.multiselect(key=keys.SET_DIGITS).set_value([2, 3, 5, 7]))
    settle(at.button(key="new_session").click())
    s = session(at)
    assert s.task == Task.binary("2,3,5,7") and s.settings.backbone == "mnist-cnn"
    assert grid_keys(at) == {"Positive {2,3,5,7}": "p", "Negative": "n", "Skip": "s"}
    assert "band" in at.selectbox(key=keys.SET_STRATEGY).options


def test_a_strategy_the_new_question_cannot_use_falls_back_to_the_default():
    at = open_app()
    settle(at.selectbox(key=keys.SET_STRATEGY).set_value("band"))
    settle(at.radio(key=keys.SET_KIND).set_value("classes"))
    assert at.selectbox(key=keys.SET_STRATEGY).value == "diversity"
    settle(at.button(key="new_session").click())
    assert session(at).settings.strategy == "diversity"


def test_a_missing_model_file_is_said_in_the_sidebar_escaped_and_the_session_stays(
    tmp_path, monkeypatch, real_loader_for
):
    at = open_app()
    before = at.session_state[keys.SESSION_ID]
    path = tmp_path / "[log in](https://evil.example)" / "model.keras"
    settle(at.selectbox(key=keys.SET_BACKBONE).set_value(ui_support.OWN_FILE))
    settle(at.text_input(key=keys.SET_MODEL_PATH).set_value(str(path)))
    settle(at.button(key="new_session").click())
    [error] = at.sidebar.error
    assert error.value.startswith("Model file not found")
    assert "](" not in error.value and "://" not in error.value  # shown as text, not a link
    assert at.session_state[keys.SESSION_ID] == before

    # A shipped network whose file is not there yet says so, too.
    real_loader_for.add("mnist-cnn-5to9")
    monkeypatch.setitem(
        SHIPPED,
        "mnist-cnn-5to9",
        dataclasses.replace(SHIPPED["mnist-cnn-5to9"], path=tmp_path / "absent.keras"),
    )
    settle(at.selectbox(key=keys.SET_BACKBONE).set_value("mnist-cnn-5to9"))
    settle(at.button(key="new_session").click())
    [error] = at.sidebar.error
    assert error.value.startswith("Model file not found") and "absent" in error.value
    assert at.session_state[keys.SESSION_ID] == before


def test_the_compare_page_runs_classes_with_budgets_and_draws_the_persons_session():
    at = open_app()
    choose(at, layer="embedding", kind="classes")
    answer_truthfully(at)

    at.switch_page("ui/pages/compare.py")
    settle(at)
    # The sidebar starts from the person's session.
    assert at.selectbox(key=keys.CMP_LAYER).value == "embedding"
    assert at.radio(key=keys.CMP_KIND).value == "classes"
    assert "band" not in at.multiselect(key=keys.CMP_STRATEGIES).options
    at.multiselect(key=keys.CMP_STRATEGIES).set_value(["diversity", "random"])
    at.number_input(key=keys.CMP_SEEDS).set_value(2)
    at.number_input(key=keys.CMP_ROUNDS).set_value(3)
    at.number_input(key=keys.CMP_BATCH).set_value(5)
    at.text_input(key=keys.CMP_BUDGETS).set_value("5,15")
    settle(at.button(key=keys.CMP_RUN).click())

    table = at.dataframe[0].value
    assert list(table.columns) == [
        "strategy",
        "labels_to_99pct_of_ceiling",
        "labels_at_stop",
        "accuracy_at_stop",
        "auc",
        "accuracy_at_5",
        "accuracy_at_15",
    ]
    assert list(table["strategy"]) == ["diversity", "random"]
    assert table["accuracy_at_15"].between(20, 100).all()  # percent
    caption = at.caption[0].value
    assert "classes 0\\-4" in caption and "Frozen-head ceiling: " in caption
    assert any("Your session" in m.value and "4 labels" in m.value for m in at.markdown)
    proto = at.get("vega_lite_chart")[0].proto
    frames = [pa.ipc.open_stream(d.data.data).read_pandas() for d in proto.datasets]
    assert "your session" in json.dumps(json.loads(proto.spec))
    ceiling = next(f for f in frames if "ceiling" in f)
    assert ceiling["text"][0].startswith("frozen-head ceiling ")


@pytest.mark.model
def test_a_file_that_is_no_model_is_said_in_the_sidebar_and_a_missing_layer_is_named(
    tmp_path, real_loader_for
):
    """The real loader (TensorFlow) on a junk .keras file, then on a layer name nobody has."""
    at = open_app()
    before = at.session_state[keys.SESSION_ID]
    junk = tmp_path / "notes.keras"
    junk.write_text("these are my notes, not a model")
    settle(at.selectbox(key=keys.SET_BACKBONE).set_value(ui_support.OWN_FILE))
    settle(at.text_input(key=keys.SET_MODEL_PATH).set_value(str(junk)))
    settle(at.button(key="new_session").click())
    [error] = at.sidebar.error
    assert "corrupt or not a Keras model" in error.value
    assert at.session_state[keys.SESSION_ID] == before

    # A layer the model lacks (typed into the layer box, which AppTest cannot type into):
    # the message the sidebar shows lists the layers there are.
    real_loader_for.add("mnist-cnn")
    with pytest.raises(ModelError, match="has no layer 'no_such_layer'.*embedding"):
        ui_support.features_for("mnist-cnn", "no_such_layer")
