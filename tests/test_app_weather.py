"""Weather windows on the Label page: chosen in the sidebar, answered with their own keys.

The app opens on MNIST under AppTest; the sidebar's Data chooser turns to weather windows and
a question, and a new session starts on the weather network. Its grid offers Snow (S), No snow
(N) and Skip (K, as S is snow's), its tiles are charts named by city and day, a round lands and
two more are auto-labelled by the recorded events; every element of the page and the sidebar is
read for MNIST's and images' words, and the files name windows by city and day. The stored
session reopens from its link as weather, and the chooser goes back to MNIST.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from grid_apptest import grid_props_of, submit_grid
from PIL import Image
from streamlit.testing.v1 import AppTest

from tl_active.data.kinds import WeatherKind
from tl_active.sessions.exchange import (
    labels_csv,
    manifest_json,
    predictions_csv,
    read_manifest,
)
from ui import keys
from ui.labelling.opening import features_of

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("app_db")]

APP = str(Path(__file__).resolve().parent.parent / "app.py")
# The widgets that choose the data and the network may name MNIST and images: they offer them.
CHOOSERS = (keys.SET_DATA, keys.SET_BACKBONE)
WORDS = re.compile(r"MNIST|\bimages?\b|\bdigits?\b|true digit", re.IGNORECASE)
CITY_AND_DAY = re.compile(r"^(Auckland|Beijing|Chicago|Mumbai|San Diego) 2016-\d\d-\d\d$")
PNG = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")
MEDIA = re.compile(r'image/(png|gif)|material/image|type\\*"\s*:\s*\\*"image')


def settle(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def elements(node):
    """Every element under `node`, in the fragments, the sidebar and the toasts too."""
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from elements(child)
    elif hasattr(node, "proto"):
        yield node


def said_of_images(at: AppTest) -> list[str]:
    """What on the page speaks of MNIST, images or digits, but for the data and network
    choosers, the grid's own code and the icons drawn by name (":material/image:")."""
    said = []
    for element in elements(at._tree):
        if getattr(element, "key", None) in CHOOSERS:
            continue
        if element.type == "bidi_component":
            text = json.dumps(json.loads(element.proto.json))  # the props, not the JS and CSS
        else:
            text = str(element.proto)
        # Pictures (data URIs, their MIME types, in the history's Arrow data too), icons, and
        # the history's picture column's type, which no one reads.
        text = MEDIA.sub("", PNG.sub("", text))
        said += [text[max(0, m.start() - 80) : m.end() + 60] for m in WORDS.finditer(text)]
    return said


def choose_weather(at: AppTest, question: str, plain: bool = False) -> AppTest:
    """A new session on weather windows: with the layer's default (`phased`, pool-taught), or
    with `diversity` and the plain head."""
    settle(at.sidebar.radio(key=keys.SET_DATA).set_value("weather").run())
    settle(at.sidebar.radio(key=keys.SET_WEATHER).set_value(question).run())
    if plain:
        settle(at.sidebar.selectbox(key=keys.SET_STRATEGY).set_value("diversity").run())
        settle(at.sidebar.radio(key=keys.SET_HEAD).set_value("converge").run())
    return settle(at.button(key="new_session").click().run())


@pytest.fixture
def weather_app():
    at = settle(AppTest.from_file(APP, default_timeout=180).run())
    assert at.session_state[keys.SESSION].features.kind.name == "MNIST"
    return choose_weather(at, "snow-today")


def test_a_weather_session_has_its_own_tiles_keys_and_words(weather_app):
    at = weather_app
    session = at.session_state[keys.SESSION]
    kind = session.features.kind
    assert isinstance(kind, WeatherKind) and session.settings.weather == "snow-today"
    assert (session.settings.backbone, session.settings.layer) == ("weather-cnn", "dense")
    assert len(session.data.pool) == 1765 and len(session.data.test) == 1760

    # The answers by their own letters: S snow, N no snow; Skip moves to K.
    props = grid_props_of(at)
    assert [(o["label"], o["key"]) for o in props["options"]] == [
        ("Snow", "s"),
        ("No snow", "n"),
        ("Skip", "k"),
    ]
    assert props["item"] == "window"
    # Each tile a chart 150 px wide (days across), named by city and day in its caption.
    for tile in props["tiles"]:
        assert CITY_AND_DAY.match(tile["title"]), tile["title"]
        assert tile["alt"] == f"{tile['title']} (14 days to it)"
        assert tile["caption"].startswith("p(snow) ")
        chart = Image.open(io.BytesIO(base64.b64decode(tile["src"].split(",", 1)[1])))
        assert chart.size == (150, 105)
    # The sidebar: the question, no digits' widgets, "Now:" in the question's words.
    sidebar = at.sidebar
    assert not [r for r in sidebar.radio if r.key == keys.SET_KIND]
    assert sidebar.radio(key=keys.SET_WEATHER).value == "snow-today"
    now = next(c.value for c in sidebar.caption if c.value.startswith("Now:")).replace("\\", "")
    assert now.startswith("Now: snow today, ") and "on weather windows" in now
    assert any(m.value.startswith("#### Label the windows") for m in at.markdown)
    assert "the recorded events" in at.button(key="auto_label").help
    assert said_of_images(at) == [], said_of_images(at)

    # A round lands: the tiles answered No snow but the first, Snow.
    titles = [t["title"] for t in props["tiles"]]
    given = ["positive", "negative", "negative", "negative"]
    settle(submit_grid(at, 1, given))
    session = at.session_state[keys.SESSION]
    assert len(session.rounds) == 1 and session.rounds[0].answers == given
    assert [kind.short_name(i) for i in session.rounds[0].indices] == titles
    assert any("Round 1 learned" in t.value for t in at.toast)
    # Snow is 2 % of the test windows: the line says how many of them the head finds.
    line = next(m.value for m in at.markdown if "labels** in" in m.value).replace("\\", "")
    assert re.search(r"finds \*\*\d+\*\* of the 37 snow test windows \(precision \d+%\)", line)
    assert said_of_images(at) == []

    # Two auto-labelled rounds, answered by the recorded events; the check and history too.
    settle(at.number_input(key=keys.AUTO_ROUNDS).set_value(2).run())
    settle(at.button(key="auto_label").click().run())
    settle(at.button(key="check").click().run())
    session = at.session_state[keys.SESSION]
    assert len(session.rounds) == 3 and session.rounds[2].simulated
    (history,) = [d.value for d in at.dataframe]
    assert "city and day" in history.columns and "pool index" not in history.columns
    assert set(history["answered by"]) == {"recorded events (auto)", "person"}
    assert all(CITY_AND_DAY.match(name) for name in history["city and day"])
    assert set(history["answer"]) <= {"Snow", "No snow"}
    # Each round's figure is snow's PR-AUC, newest first: the last round's is the head's now.
    assert "test accuracy after" not in history.columns
    assert history["test PR-AUC after"][0] == pytest.approx(session.pr_auc(), abs=1e-5)
    # Its charts at a readable size: rows 73 px high, each chart drawn from the batch's 150 px
    # tile (not the 75 px thumbnail, blurred), in a column wide enough for it.
    (table,) = at.dataframe
    assert table.proto.row_height == 73
    assert json.loads(table.proto.columns)["window"]["width"] == "medium"
    chart = Image.open(io.BytesIO(base64.b64decode(history["window"][0].split(",", 1)[1])))
    assert chart.size == (150, 105)
    assert said_of_images(at) == []

    # The files: windows by city and day, answers in the question's words, no MNIST.
    labels = labels_csv(session)
    header, *rows = labels.splitlines()
    assert header.startswith("city and day,answer,round,") and "true_digit" not in header
    assert len(rows) == 12 and all(CITY_AND_DAY.match(r.split(",")[0]) for r in rows)
    assert rows[0].split(",")[1] == "snow"  # the first round's first answer, as words
    assert {r.split(",")[1] for r in rows} <= {"snow", "no snow"}
    assert {r.split(",")[6] for r in rows} <= {"snow", "no snow"}  # true_class, by name
    predictions = predictions_csv(session).splitlines()
    assert predictions[0] == "city and day,part,predicted,p"
    assert len(predictions) == 1 + 1765 - 12 + 1760
    assert {line.split(",")[2] for line in predictions[1:]} <= {"snow", "no snow"}
    assert re.match(r"^(Auckland|Beijing|Chicago|Mumbai|San Diego) 2017-", predictions[-1])
    manifest = json.loads(manifest_json(session))
    assert manifest["settings"]["weather"] == "snow-today"
    for text in (labels, "\n".join(predictions), json.dumps(manifest)):
        assert not WORDS.search(text)


def curves(at: AppTest) -> list[tuple[dict, dict]]:
    """The learning curves on the page: each one's spec and its datasets by name."""
    found = []
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        data = {
            d.name: pa.ipc.open_stream(d.data.data).read_pandas() for d in element.proto.datasets
        }
        if "curve" in data or "rare_curve" in data:
            found.append((spec, data))
    return found


def test_snow_is_told_and_charted_by_its_pr_auc_and_the_snow_found(weather_app):
    at = weather_app
    session = at.session_state[keys.SESSION]
    assert session.rare  # snow on 2.1 % of the test windows
    given = ["positive", "negative", "negative", "negative"]
    settle(submit_grid(at, 1, given))
    session = at.session_state[keys.SESSION]
    pr_auc = session.pr_auc()
    # The toast says the rare answer's figure, not the 97.9 % accuracy of a head saying "no".
    (toast,) = [t.value for t in at.toast if "Round 1 learned" in t.value]
    assert toast == f"Round 1 learned: 4 labels, test PR-AUC {pr_auc:.2f}, 1 snow among them."
    line = next(m.value for m in at.markdown if "labels** in" in m.value).replace("\\", "")
    assert line.startswith(f"**4 labels** in **1 round** · test PR-AUC now **{pr_auc:.2f}**")
    assert f"frozen-head ceiling {session.ceiling_pr_auc():.2f} · accuracy " in line

    # Two more rounds by the recorded events: the chart follows every round.
    settle(at.number_input(key=keys.AUTO_ROUNDS).set_value(2).run())
    settle(at.button(key="auto_label").click().run())
    session = at.session_state[keys.SESSION]
    ((spec, data),) = curves(at)
    assert spec["height"] == 200 and spec["resolve"] == {"scale": {"y": "independent"}}
    figures = data["rare_curve"]
    pr = figures[figures["metric"] == "PR-AUC"]
    assert pr["labels"].tolist() == [0, 4, 8, 12]
    base_rate = float(np.mean(session.data.truth_test == 1))
    assert pr["value"].iloc[0] == pytest.approx(base_rate)
    assert pr["value"].iloc[-1] == pytest.approx(session.pr_auc(), abs=1e-5)
    recall = figures[figures["metric"] == "recall"]["value"].tolist()
    assert recall[1:] == [r.metrics["recall"] for r in session.rounds]
    assert "accuracy" not in set(figures["metric"])
    found = data["rare_found"]
    snow = [sum(a == "positive" for a in session.live_answers().values())]
    assert found["found"].iloc[-1] == snow[0] >= 1
    pool_rate = float(np.mean(session.data.truth_pool == 1))
    assert found["at_random"].tolist() == pytest.approx([pool_rate * n for n in (0, 4, 8, 12)])
    assert data["rare_ceiling"]["value"].tolist() == pytest.approx([session.ceiling_pr_auc()])
    heading = next(m for m in at.markdown if m.value.startswith("**Learning curve**"))
    assert "and the snow found" in heading.value and "PR-AUC" in heading.help
    assert said_of_images(at) == []


def test_a_weather_session_fine_tunes_its_network_from_the_sidebar(
    weather_app, tmp_path, monkeypatch
):
    from tl_active import paths

    monkeypatch.setattr(paths, "FINE_TUNED_DIR", tmp_path / "fine-tuned")
    monkeypatch.setattr(paths, "CACHE_DIR", tmp_path / "cache")
    # The plain head: its run is the one whose fine-tuned network answers better here (the
    # layer's default, pool-taught, finds no snow in these 24 answers either way, 0.015 PR-AUC
    # against 0.014, and the backbone stays, as `test_fine_tune` checks).
    at = choose_weather(weather_app, "snow-today", plain=True)
    assert at.session_state[keys.SESSION].settings.head == "plain"
    assert at.button(key=keys.FT_RUN).disabled
    # The weather network has two layers with weights up to `dense` (conv, dense): only 1 or 2
    # are offered, so the choice a deeper network allowed cannot be refused after the click.
    layers = at.selectbox(key=keys.FT_LAYERS)
    assert (layers.options, layers.value) == (["1", "2"], 2)
    assert any("at least 20 labels" in c.value for c in at.sidebar.caption)
    settle(submit_grid(at, 1, ["positive", "negative", "negative", "negative"]))
    settle(at.number_input(key=keys.AUTO_ROUNDS).set_value(5).run())
    settle(at.button(key="auto_label").click().run())
    old = at.session_state[keys.SESSION]
    old_id = at.session_state[keys.SESSION_ID]
    assert len(old.labelled) == 24 and not at.button(key=keys.FT_RUN).disabled
    settle(at.button(key=keys.FT_RUN).click().run())

    new = at.session_state[keys.SESSION]
    assert new is not old and new.settings.continued_from == old_id, [t.value for t in at.toast]
    assert new.settings.weather == "snow-today" and isinstance(new.features.kind, WeatherKind)
    tuned = Path(new.settings.backbone)
    assert tuned.parent == tmp_path / "fine-tuned" and tuned.suffix == ".keras"
    assert [r.indices for r in new.rounds] == [r.indices for r in old.rounds]
    assert new.pr_auc() >= old.pr_auc()
    assert at.selectbox(key=keys.FT_LAYERS).options == ["1", "2"]  # read from the tuned file
    # Told by snow's figure, PR-AUC, in the toast and under the button.
    toasts = [t.value.replace("\\", "") for t in at.toast]
    figures = f"held-out PR-AUC {old.pr_auc():.3f} on weather-cnn, {new.pr_auc():.3f} fine-tuned"
    assert any(t.startswith("Fine-tuned conv, dense on 19 labels") and figures in t for t in toasts)
    assert any(figures in m.value.replace("\\", "") for m in at.sidebar.success)
    # The curve before and after fine-tuning is drawn by PR-AUC too, each side on its own
    # network's features: it ends at the old session's figure and at the new one's.
    assert any("Before and after fine-tuning" in m.value for m in at.main.markdown)
    (spec, frame) = next(
        (json.loads(e.proto.spec), pa.ipc.open_stream(e.proto.datasets[0].data.data).read_pandas())
        for e in at.get("vega_lite_chart")
        if "test PR-AUC" in e.proto.spec
    )
    assert spec["layer"][0]["encoding"]["y"]["field"] == "pr_auc"
    ends = frame.groupby("backbone", sort=False)["pr_auc"].last()
    assert ends.tolist() == pytest.approx([old.pr_auc(), new.pr_auc()], abs=1e-5)
    assert said_of_images(at) == []


def test_a_weather_session_reopens_from_its_link_as_weather(weather_app):
    at = weather_app
    settle(at.number_input(key=keys.AUTO_ROUNDS).set_value(2).run())
    settle(at.button(key="auto_label").click().run())
    session = at.session_state[keys.SESSION]
    session_id = at.session_state[keys.SESSION_ID]

    # Another tab opens the link: the same question's windows, replayed to the same head.
    other = AppTest.from_file(APP, default_timeout=180)
    other.query_params["session"] = session_id
    settle(other.run())
    again = other.session_state[keys.SESSION]
    assert isinstance(again.features.kind, WeatherKind)
    assert again.settings == session.settings and again.settings.weather == "snow-today"
    assert [r.indices for r in again.rounds] == [r.indices for r in session.rounds]
    assert again.rounds[-1].weights == session.rounds[-1].weights
    assert other.sidebar.radio(key=keys.SET_DATA).value == "weather"
    assert other.sidebar.radio(key=keys.SET_WEATHER).value == "snow-today"
    assert said_of_images(other) == []
    # Its manifest imports as any other: the question's windows, replayed to the same head.
    imported = read_manifest(manifest_json(session), features_of(session.settings))
    assert imported.settings == session.settings
    assert imported.rounds[-1].weights == session.rounds[-1].weights

    # Back to MNIST in the sidebar: its network returns, and a new session is on digits.
    settle(other.sidebar.radio(key=keys.SET_DATA).set_value("images").run())
    assert other.sidebar.selectbox(key=keys.SET_BACKBONE).value == "mnist-cnn"
    assert other.sidebar.radio(key=keys.SET_KIND).value == "odd"
    settle(other.button(key="new_session").click().run())  # asked first: it has rounds
    settle(next(b for b in other.button if b.label == "Start it").click().run())
    assert other.session_state[keys.SESSION].features.kind.name == "MNIST"


def test_each_question_answers_in_its_own_words():
    at = settle(AppTest.from_file(APP, default_timeout=180).run())
    choose_weather(at, "wet-tomorrow")
    session = at.session_state[keys.SESSION]
    assert session.settings.weather == "wet-tomorrow"
    props = grid_props_of(at)
    assert [(o["label"], o["key"]) for o in props["options"]] == [
        ("Wet", "w"),
        ("Dry", "d"),
        ("Skip", "s"),  # no answer takes S here
    ]
    assert all(t["caption"].startswith("p(wet) ") for t in props["tiles"])
    assert said_of_images(at) == []
    # Wet days are a third of the test windows: not rare, so the curve is accuracy's.
    assert not session.rare
    ((spec, data),) = curves(at)
    assert "resolve" not in spec and set(data["curve"]["metric"]) == {
        "accuracy",
        "precision",
        "recall",
    }


def test_look_again_names_a_doubtful_window_by_city_and_day_in_the_answers_words(weather_app):
    at = weather_app
    session = at.session_state[keys.SESSION]
    picks = session.next_batch()
    given = session.truth([p.index for p in picks])
    given[0] = {"positive": "negative", "negative": "positive"}[given[0]]  # one answer wrong
    settle(submit_grid(at, 1, given))
    settle(at.number_input(key=keys.AUTO_ROUNDS).set_value(8).run())
    settle(at.button(key="auto_label").click().run())
    settle(at.button(key=keys.LOOK_TOGGLE).click().run())
    name = at.session_state[keys.SESSION].features.kind.short_name(picks[0].index)
    words = {"positive": "Snow", "negative": "No snow"}
    line = next(c.value for c in at.caption if c.value.replace("\\", "").startswith(name))
    assert f"you said {words[given[0]]}" in line
    fix = next(b for b in at.button if b.key == f"look_fix_{picks[0].index}")
    assert fix.label == f"Make it {words[session.truth([picks[0].index])[0]]}"
    assert said_of_images(at) == []


def test_a_box_on_the_pool_map_shows_its_windows_as_large_as_the_history_does(
    weather_app, monkeypatch
):
    from types import SimpleNamespace

    from test_app_pool_map import drag_box, map_chart

    from ui.label import pool_map as map_panel

    # The PCA map, held still: no UMAP computed in the background to replace it mid-test.
    waiting = SimpleNamespace(done=True, result=None, error=None, progress=(0.0, "waiting"))
    monkeypatch.setattr(map_panel, "map_in_background", lambda *a, **k: waiting)
    # The width and pictures the panel asks for (the element's tree keeps neither as given).
    widths, image = [], map_panel.st.image

    def drawn(pictures, *args, **kwargs):
        if isinstance(pictures, list) and len(pictures) > 1:
            widths.append((kwargs.get("width"), pictures))
        return image(pictures, *args, **kwargs)

    monkeypatch.setattr(map_panel.st, "image", drawn)
    at = weather_app
    at.session_state[keys.MAP_OPEN] = True
    at = settle(at.run())
    spec, points = map_chart(at)
    # Hovering a point names a window, not an image (the picture's key stays Vega's "image").
    titles = {
        t.get("title", t.get("field"))
        for layer in spec["layer"]
        for t in layer.get("encoding", {}).get("tooltip", [])
    }
    assert "window name" in titles and "image name" not in titles
    box = [(float(points[c].min()) - 1e-4, float(points[c].max()) + 1e-4) for c in ("x", "y")]
    at = settle(drag_box(at, *box))
    (thumbnails,) = [i for i in at.get("image") if len(i.proto.imgs) > 1]
    # Eight windows' charts at the history's 104 px (a digit stays at 56), named by city and
    # day, each drawn sharp: a PNG at least as large as it is shown.
    kind = at.session_state[keys.SESSION].features.kind
    width, pictures = widths[-1]
    assert width == kind.history_px == 104
    assert len(thumbnails.proto.imgs) == len(pictures) == 8
    assert all(CITY_AND_DAY.match(i.caption) for i in thumbnails.proto.imgs)
    assert {Image.open(io.BytesIO(png)).size for png in pictures} == {(150, 105)}
    said = [m.value for m in at.markdown if "drawn in the box" in m.value]
    assert len(said) == 1 and "unanswered windows drawn in the box" in said[0]
