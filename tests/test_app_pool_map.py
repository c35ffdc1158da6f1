"""The Label page's pool map, driven by AppTest on synthetic features: drawn only when opened;
the PCA map while UMAP computes, then the UMAP map; after a round only the colours and marks
change, never the points' places."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from grid_apptest import submit_grid
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest
from synthetic import synthetic_features

from tl_active import paths
from tl_active.data import pool_map
from tl_active.data.pool_map import UMAP, map_path
from ui import keys
from ui import support as ui_support

pytestmark = pytest.mark.usefixtures("app_db")

APP = str(Path(__file__).resolve().parent.parent / "app.py")
FEATURES = dataclasses.replace(synthetic_features(2_000, 500, model="mnist-cnn"), _tasks={})


@pytest.fixture(autouse=True)
def synthetic_app(monkeypatch, tmp_path):
    """The app's features are synthetic, its map cache a fresh folder, no map job kept."""
    monkeypatch.setattr(ui_support, "load_features", lambda *a, **k: FEATURES)
    monkeypatch.setattr(paths, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(pool_map, "_jobs", {})
    # UMAP is stood in for here, in this process (its own process is tested in test_pool_map).
    monkeypatch.setattr(pool_map, "SEPARATE_PROCESS", False)
    ui_support.shared_features.clear()
    yield tmp_path
    ui_support.shared_features.clear()


def run(at: AppTest) -> AppTest:
    at = at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def map_chart(at: AppTest):
    """The map chart's spec and its points as a data frame, or None if it is not drawn."""
    for element in at.get("vega_lite_chart"):
        found = [d for d in element.proto.datasets if d.name == "pool_map"]
        if found:
            return json.loads(element.proto.spec), pa.ipc.open_stream(
                found[0].data.data
            ).read_pandas()
    return None


def open_map(at: AppTest) -> AppTest:
    at.session_state[keys.MAP_OPEN] = True
    return run(at)


def cached_umap(features, folder) -> np.ndarray:
    """A UMAP map in the cache, as if computed before (a known layout: a circle)."""
    angle = np.linspace(0, 2 * np.pi, features.pool_size, endpoint=False)
    xy = np.c_[np.cos(angle), np.sin(angle)].astype(np.float32)
    np.savez(map_path(features, UMAP, folder), key=np.array(features.key), xy=xy, seconds=3.0)
    return xy


def test_the_map_is_drawn_only_when_opened_and_keeps_its_points_from_round_to_round(
    synthetic_app,
):
    xy = cached_umap(FEATURES, synthetic_app)
    at = run(AppTest.from_file(APP, default_timeout=60))
    assert map_chart(at) is None  # closed: nothing computed, nothing sent
    pool_map.map_in_background(FEATURES, synthetic_app).wait(10)
    at = open_map(at)
    spec, before = map_chart(at)
    assert spec["title"] == "UMAP map of the pool"
    # A synthetic pool of 2,000 is drawn whole, at the cached places.
    assert len(before) == 2_000
    np.testing.assert_allclose(before[["x", "y"]].to_numpy(), xy, rtol=1e-6)
    session = at.session_state[keys.SESSION]
    batch = [p.index for p in session.next_batch()]
    numbered = before.dropna(subset=["batch"])
    assert sorted(numbered["batch"].astype(int)) == list(range(1, len(batch) + 1))
    assert [int(numbered.index[numbered["batch"] == n + 1][0]) for n in range(len(batch))] == batch
    assert before["you said"].isna().all()

    answers = session.truth(batch)
    submit_grid(at, 1, answers)
    assert not at.exception
    spec_after, after = map_chart(at)
    # The points stay where they were; what the head says and the marks change.
    np.testing.assert_array_equal(after[["x", "y"]].to_numpy(), before[["x", "y"]].to_numpy())
    labelled = after.dropna(subset=["you said"])
    assert sorted(labelled.index.tolist()) == sorted(batch)
    # In the grid's words: the odd/even demo's answers are Odd and Even.
    words = {"positive": "Odd", "negative": "Even"}
    assert list(labelled.loc[batch, "you said"]) == [words[a] for a in answers]
    assert set(after["head says"]) <= {"Odd", "Even"}
    assert all(str(u).startswith("data:image/png;base64,") for u in labelled["image"])
    assert not after["head says"].equals(before["head says"]) or not after["sure"].equals(
        before["sure"]
    )
    new_batch = [p.index for p in at.session_state[keys.SESSION].next_batch()]
    numbered = after.dropna(subset=["batch"])
    assert sorted(numbered.index.tolist()) == sorted(new_batch)
    # The opacity fades with the head's uncertainty: more sure, more opaque.
    proba = at.session_state[keys.SESSION].proba_pool
    top = proba.max(axis=1)
    most, least = int(top.argmax()), int(top.argmin())
    assert after.loc[most, "sure"] > after.loc[least, "sure"]


def test_the_pca_map_is_drawn_while_umap_computes_then_the_umap_map(synthetic_app, monkeypatch):
    release = threading.Event()

    def slow(features, cache_dir, progress=None):
        progress(0.05, "finding each image's nearest neighbours")
        release.wait(30)
        return np.asarray(FEATURES.pool[:, :2], np.float32)  # a stand-in layout, quick

    monkeypatch.setattr(pool_map, "umap_xy", slow)
    at = open_map(run(AppTest.from_file(APP, default_timeout=60)))
    spec, frame = map_chart(at)
    assert spec["title"] == "PCA map of the pool"
    (bar,) = at.get("progress")
    assert "finding each image's nearest neighbours" in bar.proto.text
    release.set()
    job = pool_map.map_in_background(FEATURES, synthetic_app)
    assert job.wait(10) and job.result is not None
    at = run(at)
    spec, frame = map_chart(at)
    assert spec["title"] == "UMAP map of the pool"
    np.testing.assert_allclose(frame["x"].to_numpy(), FEATURES.pool[:, 0], rtol=1e-6)


def drag_box(at: AppTest, x: tuple[float, float], y: tuple[float, float]) -> AppTest:
    """A box dragged on the map, sent as the browser sends the chart's selection."""
    (chart,) = [e for e in at.get("vega_lite_chart") if e.proto.selection_mode]
    states = at._tree.get_widget_states()
    box = WidgetState(id=chart.proto.id)
    box.string_value = json.dumps({"selection": {"box": {"x": list(x), "y": list(y)}}})
    states.widgets.append(box)
    return at._run(states)


def around(xy: np.ndarray, indices) -> tuple[tuple[float, float], tuple[float, float]]:
    """The smallest box around these points, a hair larger."""
    points = xy[list(indices)]
    low, high = points.min(axis=0) - 1e-4, points.max(axis=0) + 1e-4
    return (float(low[0]), float(high[0])), (float(low[1]), float(high[1]))


def confirmation(at: AppTest) -> str:
    """The text of the box's confirmation panel (empty if there is none)."""
    texts = [e.value for e in at.markdown] + [e.value for e in at.info]
    return " ".join(t for t in texts if "box" in t)


def test_a_box_on_the_map_labels_its_images_as_one_bulk_round_and_undo_takes_it_back(
    synthetic_app,
):
    xy = cached_umap(FEATURES, synthetic_app)
    at = run(AppTest.from_file(APP, default_timeout=60))
    pool_map.map_in_background(FEATURES, synthetic_app).wait(10)
    at = open_map(at)
    session = at.session_state[keys.SESSION]
    batch = [p.index for p in session.next_batch()]
    at = submit_grid(at, 1, session.truth(batch))
    assert not at.exception
    before = (session.to_dict(), session.head.coef_.copy(), [p.index for p in session.next_batch()])
    # On the circle, a box around an arc of 81 images, one of them answered in round 1
    # (the batch's others are far away on it).
    labelled = batch[0]
    arc = [(labelled + k) % 2_000 for k in range(-40, 41)]
    at = drag_box(at, *around(xy, arc))
    assert not at.exception
    fresh = sorted(set(arc) - set(batch))
    said = confirmation(at)
    assert f"Label the {len(fresh)} unanswered digits drawn in the box with one answer" in said
    assert "(the one already answered is left as it is)" in said
    # The box's thumbnails: the one element of eight images (the change form has one of its own).
    (thumbnails,) = [i for i in at.get("image") if len(i.proto.imgs) > 1]
    assert len(thumbnails.proto.imgs) == 8
    assert [i.caption for i in thumbnails.proto.imgs] == [
        FEATURES.kind.short_name(i) for i in fresh[:8]
    ]
    button = at.button(key="bulk_label")
    assert button.disabled  # no answer chosen yet
    at.segmented_control(key=keys.BULK_ANSWER).set_value("positive")
    at = run(at)
    assert at.button(key="bulk_label").label == f"Label {len(fresh)} as Odd"
    at = run(at.button(key="bulk_label").click())

    session = at.session_state[keys.SESSION]
    record = session.rounds[-1]
    assert record.is_bulk and record.number == 2 and record.indices == fresh
    assert record.answers == ["positive"] * len(fresh)
    assert at.toast[0].value.startswith(
        f"{len(fresh)} digits from the map labelled Odd (round 2, bulk): {record.n_labels} labels"
    )
    assert confirmation(at) == ""  # the box is cleared with its round
    stored = ui_support.session_store().load(at.session_state[keys.SESSION_ID], FEATURES)
    assert stored.to_dict() == session.to_dict()
    (table,) = at.dataframe  # the history: every answer of every round
    history = table.value
    assert (history[history["round"] == 2]["answered by"] == "person, bulk").all()
    spec, frame = map_chart(at)
    assert frame.loc[fresh, "you said"].eq("Odd").all()  # marked on the map at once

    at = run(at.button(key="undo").click())
    session = at.session_state[keys.SESSION]
    assert [r.number for r in session.rounds] == [1]
    assert session.to_dict() == before[0] and np.array_equal(session.head.coef_, before[1])
    assert [p.index for p in session.next_batch()] == before[2]
    assert at.toast[0].value == (
        f"Round 2 undone: its {len(fresh)} digits from the map are unlabelled again."
    )
    reopened = ui_support.session_store().load(at.session_state[keys.SESSION_ID], FEATURES)
    assert reopened.to_dict() == before[0]


def test_a_box_refuses_sensibly_when_empty_all_answered_or_of_thousands(synthetic_app):
    xy = cached_umap(FEATURES, synthetic_app)
    at = run(AppTest.from_file(APP, default_timeout=60))
    pool_map.map_in_background(FEATURES, synthetic_app).wait(10)
    at = open_map(at)
    session = at.session_state[keys.SESSION]
    batch = [p.index for p in session.next_batch()]
    at = submit_grid(at, 1, session.truth(batch))

    at = drag_box(at, (0.0, 0.1), (-0.1, 0.1))  # the circle's middle: no point
    assert "The box holds no digits: nothing to label" in confirmation(at)
    assert "bulk_label" not in _buttons(at)

    at = drag_box(at, *around(xy, [batch[0]]))  # one answered image alone
    assert "The image in the box is answered already: it is left as it is" in confirmation(at)
    assert "bulk_label" not in _buttons(at)

    at = drag_box(at, (-1.1, 1.1), (-1.1, 1.1))  # the whole pool: thousands
    said = confirmation(at)
    assert "Label the 1,996 unanswered digits drawn in the box with one answer" in said
    at.segmented_control(key=keys.BULK_ANSWER).set_value("negative")
    at = run(at)
    assert at.checkbox(key=keys.BULK_SURE).label == "Yes, label all 1,996 digits at once"
    assert at.button(key="bulk_label").disabled
    at = run(at.checkbox(key=keys.BULK_SURE).check())
    assert not at.button(key="bulk_label").disabled
    at = run(at.button(key="bulk_label").click())
    session = at.session_state[keys.SESSION]
    assert session.rounds[-1].is_bulk and len(session.rounds[-1].indices) == 1_996
    assert len(session.labelled) == 2_000


def _buttons(at: AppTest) -> set[str]:
    return {b.key for b in at.button}
