"""A folder session says what its data is: class names, paths and keys of its own, never MNIST.

The app opens on a folder of class folders (`eight/`, `three/`) under AppTest, with one answer
given wrong; every element of the page and the sidebar (charts, grid and toasts included), the
label check, the auto-label help, the labels CSV, the predictions and the manifest are read for
MNIST's words.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grid_apptest import grid_props_of, submit_grid
from image_folders import write_class_folder
from streamlit.testing.v1 import AppTest

from tl_active import paths
from tl_active.sessions.exchange import labels_csv, manifest_json, predictions_csv
from ui import keys

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("app_db")]

APP = str(Path(__file__).resolve().parent.parent / "app.py")
# The widgets that choose the data and the network may name MNIST: they offer it.
CHOOSERS = (keys.SET_DATA, keys.SET_IMAGES, keys.SET_BACKBONE)


def settle(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def plain(text: str) -> str:
    """Markdown as read: the page escapes what a person or a folder names."""
    return text.replace("\\", "")


def elements(node):
    """Every element under `node`, in the fragments, the sidebar and the toasts too."""
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from elements(child)
    elif hasattr(node, "proto"):
        yield node


def mnist_words(at: AppTest) -> list[str]:
    """What on the page says MNIST (or MNIST's digits), but for the data and network choosers."""
    said = []
    for element in elements(at._tree):
        if getattr(element, "key", None) in CHOOSERS:
            continue
        text = str(element.proto)
        if "MNIST" in text or "true digit" in text:
            said.append(text[:300])
    return said


@pytest.fixture
def folder_app(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "CACHE_DIR", tmp_path / "cache")
    folder = write_class_folder(tmp_path / "mine", {"eight": (8, 15), "three": (3, 15)})
    monkeypatch.setenv("TL_ACTIVE_IMAGES", str(folder))
    at = AppTest.from_file(APP, default_timeout=180)
    return settle(at.run())


def test_a_folder_session_names_its_classes_paths_and_keys_and_never_says_mnist(folder_app):
    at = folder_app
    session = at.session_state[keys.SESSION]
    assert session.features.kind.name == "image folder"
    # Keys from the classes' first letters, shown on the grid's buttons; tiles named by path.
    props = grid_props_of(at)
    assert [(o["label"], o["key"]) for o in props["options"]] == [
        ("eight", "e"),
        ("three", "t"),
        ("Skip", "s"),
    ]
    names = [t["alt"] for t in props["tiles"]]
    assert all(n.split("/")[0] in ("eight", "three") and n.endswith(".png") for n in names)
    # The sidebar: the folder's classes by name, no digits' question, "Now:" by class names.
    sidebar = at.sidebar
    assert not [m for m in sidebar.multiselect if m.key == keys.SET_CLASSES]
    assert sidebar.multiselect(key=keys.SET_FOLDER_CLASSES).options == ["eight", "three"]
    now = next(plain(c.value) for c in sidebar.caption if c.value.startswith("Now:"))
    assert now.startswith("Now: eight,three, ")
    assert "the class folders" in at.button(key="auto_label").help
    assert "the class folders" in at.button(key="check").help
    assert any(m.value.startswith("#### Label the images") for m in at.markdown)
    assert mnist_words(at) == []
    # ... which reads the sidebar's widgets too: the data chooser offers MNIST.
    chooser = [e for e in elements(at._tree) if getattr(e, "key", None) == keys.SET_IMAGES]
    assert chooser and "MNIST" in str(chooser[0].proto)

    # One answer wrong: the check names the image by its path and its truth by class name.
    truth = [n.split("/")[0] for n in names]
    given = ["three" if truth[0] == "eight" else "eight", *truth[1:]]
    settle(submit_grid(at, 1, given))
    settle(at.button(key="check").click().run())
    assert (
        plain(at.warning[0].value)
        == f"1 of your {len(given)} answers disagree with the class folders:"
    )
    line = next(plain(c.value) for c in at.caption if "round 1" in c.value)
    assert line.startswith(f"{names[0]}, round 1: ")
    assert line.endswith(f"you said {given[0]}, its class folder is {truth[0]}")
    fix = next(b for b in at.button if b.key.startswith("fix_"))
    assert fix.label == f"Make it {truth[0]}"
    assert mnist_words(at) == []

    # Auto-labelled rounds are said to be answered by the class folders, in the toast and
    # in the history.
    settle(at.number_input(key=keys.AUTO_ROUNDS).set_value(2).run())
    settle(at.button(key="auto_label").click().run())
    assert any("answered by the class folders" in plain(t.value) for t in at.toast)
    (history,) = [d.value for d in at.dataframe]
    assert "path" in history.columns and "pool index" not in history.columns
    assert set(history["answered by"]) >= {"class folder (auto)", "person"}
    assert all(str(p).split("/")[0] in ("eight", "three") for p in history["path"])
    assert mnist_words(at) == []

    # The files: paths, class names, no MNIST; the manifest is the format it always was.
    session = at.session_state[keys.SESSION]
    labels = labels_csv(session)
    header, *rows = labels.splitlines()
    assert header.startswith("path,answer,round,") and "true_digit" not in header
    assert rows and all(r.split(",")[0].split("/")[0] in ("eight", "three") for r in rows)
    assert all(r.split(",")[6] in ("eight", "three") for r in rows)  # true_class, by name
    predictions = predictions_csv(session)
    assert all(r.split(",")[0].split("/")[0] in ("eight", "three") for r in predictions.split()[1:])
    manifest = json.loads(manifest_json(session))
    assert manifest["format"] == "tl-active-session" and manifest["settings"]["images"]
    for text in (labels, predictions, json.dumps(manifest)):
        assert "MNIST" not in text


def test_a_rare_class_of_a_folder_is_charted_and_told_by_its_pr_auc(tmp_path, monkeypatch):
    """Decided by the base rate, not by the kind of data: a folder of two classes, one of them
    an eighth of the images, gets snow's curve, progress line and toast, in its class's name."""
    monkeypatch.setattr(paths, "CACHE_DIR", tmp_path / "cache")
    folder = write_class_folder(tmp_path / "mine", {"eight": (8, 56), "three": (3, 8)})
    monkeypatch.setenv("TL_ACTIVE_IMAGES", str(folder))
    at = settle(AppTest.from_file(APP, default_timeout=180).run())
    session = at.session_state[keys.SESSION]
    assert not session.task.is_binary and session.rare_answer == "three"
    settle(at.number_input(key=keys.AUTO_ROUNDS).set_value(2).run())
    settle(at.button(key="auto_label").click().run())
    session = at.session_state[keys.SESSION]
    toast = next(t.value for t in at.toast if "answered by" in t.value)
    assert "2 rounds answered by the class folders" in plain(toast)
    line = plain(next(m.value for m in at.markdown if "labels** in" in m.value))
    n_three = int((session.data.truth_test == session.rare_output).sum())
    assert f"test PR-AUC now **{session.pr_auc():.2f}**" in line
    assert f" of the {n_three} three test images (precision " in line
    heading = next(m for m in at.markdown if m.value.startswith("**Learning curve**"))
    assert "and the three found" in heading.value
    (spec,) = [
        json.loads(e.proto.spec) for e in at.get("vega_lite_chart") if "rare_curve" in e.proto.spec
    ]
    found = spec["layer"][1]["layer"][2]["encoding"]["y"]["title"]
    assert found == "three found"
    assert mnist_words(at) == []
