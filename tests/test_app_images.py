"""The app on a person's own image folder (AppTest, the shipped CNN over PNGs the test writes):
class folders, a flat folder with the person's own answers, a zip uploaded, a changed folder."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from grid_apptest import grid_props_of, submit_grid
from image_folders import write_class_folder, write_flat_folder
from PIL import Image
from streamlit.testing.v1 import AppTest

from tl_active import paths
from ui import keys

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("app_db")]

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "CACHE_DIR", tmp_path / "cache")
    return tmp_path / "cache"


def run_app(monkeypatch, folder: Path | None) -> AppTest:
    if folder is not None:
        monkeypatch.setenv("TL_ACTIVE_IMAGES", str(folder))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def session(at: AppTest):
    return at.session_state[keys.SESSION]


def progress(at: AppTest) -> str:
    return next(m.value for m in at.markdown if " in **" in m.value)


def tile_image(tile: dict) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(tile["src"].split(",", 1)[1])))


def test_a_class_folder_is_labelled_with_its_class_names_and_thumbnails(
    tmp_path, cache, monkeypatch
):
    folder = write_class_folder(tmp_path / "mine", {"one": (1, 15), "zero": (0, 15)})
    at = run_app(monkeypatch, folder)
    s = session(at)
    assert s.settings.images == str(folder) and s.answer_values == ("one", "zero")
    assert s.settings.images_checksum == s.features.source.checksum
    props = grid_props_of(at)
    names = [t["alt"] for t in props["tiles"]]
    assert all(n.split("/")[0] in ("one", "zero") for n in names)
    assert tile_image(props["tiles"][0]).size == (112, 112)
    assert [o["label"] for o in props["options"]] == ["one", "zero", "Skip"]
    answers = [n.split("/")[0] for n in names]
    submit_grid(at, 1, answers)
    assert not at.exception
    assert session(at).rounds[0].answers == answers
    assert "test accuracy now" in progress(at)
    assert any("Label the images" in m.value for m in at.markdown)


def test_a_flat_folder_takes_named_answers_and_says_there_is_no_test_set(
    tmp_path, cache, monkeypatch
):
    folder = write_flat_folder(tmp_path / "flat", {4: 10, 9: 10})
    at = run_app(monkeypatch, folder)
    assert session(at).answer_values == ("yes", "no")
    at.text_input(key=keys.SET_ANSWERS).set_value("four, nine").run()
    at.button(key="new_session").click().run()
    s = session(at)
    assert s.answer_values == ("four", "nine")
    names = [t["alt"] for t in grid_props_of(at)["tiles"]]
    submit_grid(at, 1, ["four" if n.startswith("d4") else "nine" for n in names])
    assert not at.exception, [e.value for e in at.exception]
    line = progress(at)
    assert "cross-validated accuracy on your labels" in line and "no test set" in line
    # The toast says the same figure, not a test accuracy there is no test set for.
    figure = s.rounds[0].metrics["accuracy"]
    assert at.toast[0].value == f"Round 1 learned: 4 labels, cross-validated accuracy {figure:.1%}."
    assert not any(b.key == "auto_label" for b in at.button)
    assert at.button(key="check").disabled


def test_a_zip_is_unpacked_and_its_skipped_files_are_said(tmp_path, cache, monkeypatch):
    import zipfile

    folder = write_class_folder(tmp_path / "z", {"a": (2, 4), "b": (5, 4)})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(folder.rglob("*.png")):
            out.write(path, f"z/{path.relative_to(folder)}")
        out.writestr("../escape.png", b"x")
        out.writestr("z/a/notes.txt", b"not a picture")
        whole = (folder / "a" / "0000.png").read_bytes()
        out.writestr("z/b/cut.png", whole[: len(whole) // 2])  # a sound header, then nothing
    from ui.labelling import on_zip_upload
    from ui.support import image_folder

    class Upload:
        name = "mine.zip"

        def getvalue(self):
            return archive.getvalue()

    import streamlit as st

    state = {keys.SET_ZIP: Upload()}
    app_state = st.session_state
    monkeypatch.setattr(st, "session_state", state)
    on_zip_upload()
    unpacked = state[keys.SET_IMAGES]
    # The damaged PNG is not counted among the images: only those that decode are.
    assert image_folder(unpacked).describe() == "8 images in 2 classes (a 4, b 4)"
    kind, text = state[keys.FLASH]
    said = (
        "3 files skipped: 1 a name that leads out of the folder (../escape.png); "
        "1 not an image (z/a/notes.txt); 1 unreadable (b/cut.png)"
    )
    assert kind == "warning" and text.replace("\\", "") == f"mine.zip unpacked. {said}"
    # ... and said in the sidebar, under the folder, for as long as it is chosen.
    assert state[keys.FOLDER_NOTE][0] == unpacked
    monkeypatch.setattr(st, "session_state", app_state)
    at = run_app(monkeypatch, Path(unpacked))
    at.session_state[keys.FOLDER_NOTE] = state[keys.FOLDER_NOTE]
    at.run()
    assert "8 images in 2 classes (a 4, b 4)" in [
        c.value.replace("\\", "") for c in at.sidebar.caption
    ]
    assert [w.value.replace("\\", "") for w in at.sidebar.warning] == [said]


def test_opening_a_session_whose_folder_changed_says_so(tmp_path, cache, monkeypatch):
    folder = write_class_folder(tmp_path / "mine", {"one": (1, 10), "zero": (0, 10)})
    at = run_app(monkeypatch, folder)
    names = [t["alt"] for t in grid_props_of(at)["tiles"]]
    submit_grid(at, 1, [n.split("/")[0] for n in names])
    session_id = at.session_state[keys.SESSION_ID]
    assert session_id
    Image.new("L", (28, 28), 255).save(folder / "one" / "0003.png")  # one image replaced
    again = AppTest.from_file(APP, default_timeout=120)
    again.query_params[keys.URL_PARAM] = session_id
    again.run()
    said = " ".join(str(e.value) for e in [*again.toast, *again.warning, *again.error])
    assert "changed since this session began" in said
