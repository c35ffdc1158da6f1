"""The default strategy and head follow the layer the head reads.

On class probabilities (the demo's softmax outputs) the default is `diversity` with the plain
head; on a layer of features, `phased` with the pool-taught head. The backbone says which a
shipped layer is; a person's own model is not guessed at. On the Label page the sidebar's
strategy and head follow a change of layer, backbone or data while they are one kind's default,
and a choice of the person's own stays; a weather session, whose layer is features, starts
pool-taught.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tl_active.data.backbones import resolve_backbone
from tl_active.sessions.records import POOL_HEAD, SessionSettings, layer_default
from ui import keys
from ui.labelling.opening import default_settings
from ui.labelling.widgets import with_layer_default

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_the_default_is_diversity_plain_on_probabilities_and_phased_pool_taught_on_features():
    assert layer_default(True) == ("diversity", "plain")
    assert layer_default(False) == ("phased", "pool")
    # The dataclass's own default is the demo's: its layer is class probabilities.
    plain = SessionSettings()
    assert (plain.layer, plain.strategy, plain.head) == ("digits", "diversity", "plain")


@pytest.mark.parametrize(
    ("backbone", "layer", "reads"),
    [
        ("mnist-cnn", "digits", True),
        ("mnist-cnn", "embedding", False),
        ("mnist-cnn-5to9", "digits", True),
        ("mnist-cnn-5to9", "embedding", False),
        ("weather-cnn", "dense", False),
        # One sigmoid output is a probability but not a distribution over answers: its rows
        # do not sum to 1, and `FeatureSet.simplex` says False of it too.
        ("weather-cnn", "wet", False),
        ("weather-cnn-4d", "dense", False),
        ("mobilenetv2@96:/nowhere/weights.h5", "pooled", False),
        # Any other layer a person types on a shipped network is read as features.
        ("mnist-cnn", "conv2d", False),
        # A person's own model: not known before its outputs are read.
        ("/nowhere/model.keras", "digits", None),
        ("/nowhere/model.keras", "embedding", None),
    ],
)
def test_a_backbone_says_which_of_its_layers_are_class_probabilities(backbone, layer, reads):
    assert resolve_backbone(backbone).reads_probabilities(layer) is reads


@pytest.mark.model
def test_the_shipped_probability_layers_are_what_the_features_say():
    from tl_active.data.features import load_features
    from tl_active.data.weather_features import load_weather_features

    for backbone, layer in [("mnist-cnn", "digits"), ("mnist-cnn-5to9", "embedding")]:
        features = load_features(backbone=backbone, layer=layer)
        assert features.simplex is resolve_backbone(backbone).reads_probabilities(layer)
    weather = load_weather_features("snow-today")
    assert weather.simplex is False
    assert resolve_backbone("weather-cnn").reads_probabilities("dense") is False


def test_settings_take_their_layers_default_and_an_own_model_keeps_what_it_has():
    on_features = with_layer_default(SessionSettings(backbone="mnist-cnn-5to9", layer="embedding"))
    assert (on_features.strategy, on_features.head, on_features.head_mode) == (
        "phased",
        "pool",
        "converge",
    )
    chosen = SessionSettings(strategy="margin", head_mode="demo", layer="digits")
    on_digits = with_layer_default(chosen)
    assert (on_digits.strategy, on_digits.head, on_digits.head_mode) == (
        "diversity",
        "plain",
        "converge",
    )
    own = SessionSettings(backbone="/nowhere/model.keras", layer="embedding", strategy="margin")
    assert with_layer_default(own) == own


@pytest.fixture
def no_app_env(monkeypatch):
    """The app as `make run` starts it: no folder, weather, backbone or layer named."""
    for name in ("TL_ACTIVE_IMAGES", "TL_ACTIVE_WEATHER", "TL_ACTIVE_LAYER", "TL_ACTIVE_BACKBONE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def chosen(settings: SessionSettings) -> tuple[str, ...]:
    return settings.weather, settings.backbone, settings.layer, settings.strategy, settings.head


def test_the_app_opens_on_its_layers_default(no_app_env):
    assert chosen(default_settings()) == ("", "mnist-cnn", "digits", "diversity", "plain")
    no_app_env.setenv("TL_ACTIVE_BACKBONE", "mnist-cnn-5to9")
    assert chosen(default_settings()) == ("", "mnist-cnn-5to9", "embedding", "phased", "pool")
    no_app_env.setenv("TL_ACTIVE_WEATHER", "wet-today")
    assert chosen(default_settings()) == ("wet-today", "weather-cnn", "dense", "phased", "pool")


def settle(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def choices(at: AppTest) -> tuple[str, str]:
    return (
        at.sidebar.selectbox(key=keys.SET_STRATEGY).value,
        at.sidebar.radio(key=keys.SET_HEAD).value,
    )


@pytest.mark.model
@pytest.mark.usefixtures("app_db")
@pytest.mark.usefixtures("no_app_env")
def test_the_sidebar_follows_the_layer_until_the_person_chooses():
    at = settle(AppTest.from_file(APP, default_timeout=180).run())
    assert choices(at) == ("diversity", "converge")
    help_text = at.sidebar.selectbox(key=keys.SET_STRATEGY).help
    assert help_text.startswith("The default follows the layer: **diversity** with the plain")

    layer = at.sidebar.selectbox(key=keys.SET_LAYER)
    settle(layer.set_value("embedding").run())
    assert choices(at) == ("phased", "pool")
    settle(at.sidebar.selectbox(key=keys.SET_LAYER).set_value("digits").run())
    assert choices(at) == ("diversity", "converge")

    # The person's own choice stays through a change of layer, either way.
    settle(at.sidebar.selectbox(key=keys.SET_STRATEGY).set_value("margin").run())
    settle(at.sidebar.selectbox(key=keys.SET_LAYER).set_value("embedding").run())
    assert choices(at) == ("margin", "converge")
    settle(at.sidebar.selectbox(key=keys.SET_STRATEGY).set_value("diversity").run())
    settle(at.sidebar.radio(key=keys.SET_HEAD).set_value("demo").run())
    settle(at.sidebar.selectbox(key=keys.SET_LAYER).set_value("digits").run())
    assert choices(at) == ("diversity", "demo")

    # A new session on the features' default is pool-taught and phased.
    settle(at.sidebar.radio(key=keys.SET_HEAD).set_value("converge").run())
    settle(at.sidebar.selectbox(key=keys.SET_BACKBONE).set_value("mnist-cnn-5to9").run())
    settle(at.sidebar.selectbox(key=keys.SET_LAYER).set_value("embedding").run())
    assert choices(at) == ("phased", "pool")
    settle(at.sidebar.radio(key=keys.SET_KIND).set_value("classes").run())
    settle(at.button(key="new_session").click().run())
    session = at.session_state[keys.SESSION]
    settings = session.settings
    assert (settings.backbone, settings.layer) == ("mnist-cnn-5to9", "embedding")
    assert (settings.strategy, settings.head) == ("phased", POOL_HEAD)
    assert not session.features.simplex

    # Weather windows are read on a layer of features: their session starts pool-taught.
    settle(at.sidebar.radio(key=keys.SET_DATA).set_value("weather").run())
    assert choices(at) == ("phased", "pool")
    settle(at.button(key="new_session").click().run())
    assert keys.SETTINGS_ERROR not in at.session_state
    weather = at.session_state[keys.SESSION].settings
    assert (weather.weather, weather.strategy, weather.head) == ("snow-today", "phased", "pool")
    assert weather.head_mode == "converge"

    # Back to MNIST: the demo's layer, and its default.
    settle(at.sidebar.radio(key=keys.SET_DATA).set_value("images").run())
    assert at.sidebar.selectbox(key=keys.SET_LAYER).value == "digits"
    assert choices(at) == ("diversity", "converge")
