"""The weather network: shipped with its card, loaded safely, read at its Dense layer, retrainable.

Everything here but the naming runs TensorFlow (marked `model`).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tl_active.cli.main import main
from tl_active.data.backbones import SHIPPED, SHIPPED_WEATHER, SNOW_LAB, resolve_backbone
from tl_active.data.mnist import file_checksum
from tl_active.data.weather import make_windows
from tl_active.errors import ModelError

WEATHER_CNN = SHIPPED_WEATHER["weather-cnn"]
SNOW_LAB_CNN = SNOW_LAB["weather-cnn-4d"]


def test_the_weather_network_is_shipped_but_never_offered_for_images():
    assert resolve_backbone("weather-cnn") is WEATHER_CNN and WEATHER_CNN.shipped
    assert "weather-cnn" not in SHIPPED
    assert WEATHER_CNN.default_layer == "dense" and WEATHER_CNN.path.name == "weather_cnn.keras"
    # The snow lab's 4-day network is shipped too, but the Label page's 14-day windows never
    # offer it.
    assert resolve_backbone("weather-cnn-4d") is SNOW_LAB_CNN and SNOW_LAB_CNN.shipped
    assert "weather-cnn-4d" not in SHIPPED_WEATHER and "weather-cnn-4d" not in SHIPPED


def test_days_are_for_weather_windows_only(capsys):
    assert main(["pretrain", "--days", "4"]) == 2
    assert "--days is the length of a weather window" in capsys.readouterr().err


def test_pretraining_the_weather_network_refuses_digits(capsys):
    assert main(["--data", "weather", "pretrain", "--digits", "5-9"]) == 2
    assert "--digits is for MNIST" in capsys.readouterr().err


@pytest.mark.model
@pytest.mark.parametrize(("shipped", "days"), [(WEATHER_CNN, 14), (SNOW_LAB_CNN, 4)])
def test_the_shipped_network_loads_safely_and_scores_as_its_card_says(shipped, days):
    from tl_active.data.network import layer_names, load_backbone
    from tl_active.data.weather_network import scores

    card = json.loads(shipped.path.with_suffix(".json").read_text())
    assert card["model_sha256"] == file_checksum(shipped.path)
    assert card["question"] == "wet-today" and card["train_years"] == [2016]
    assert card["window_days"] == days
    network = load_backbone(shipped.path)  # safe mode
    assert {"conv", "pool", "flatten", "dense", "wet"} <= set(layer_names(network))
    assert tuple(network.inputs[0].shape[1:]) == (card["window_days"], len(card["channels"]))
    windows = make_windows("wet-today", card["window_days"])
    p = np.asarray(network(windows.x_test, training=False)).ravel()
    measured = scores(windows.y_test, p)
    for name, value in card["test"].items():
        assert measured[name] == pytest.approx(value, abs=2e-4), name
    # Well above the base rate of wet days in 2017.
    assert card["test"]["pr_auc"] > 0.75 and card["test"]["base_rate"] < 0.36


@pytest.mark.model
def test_its_dense_layer_gives_cached_features_of_weather_windows(tmp_path):
    from tl_active.data.kinds import WeatherKind
    from tl_active.data.weather_features import load_weather_features

    features = load_weather_features("snow-today", cache_dir=tmp_path)
    windows = make_windows("snow-today")
    assert isinstance(features.kind, WeatherKind) and features.backbone == "weather-cnn"
    assert features.layer == "dense" and features.pool.shape == (len(windows.y_pool), 32)
    assert features.test.shape == (len(windows.y_test), 32)
    np.testing.assert_array_equal(features.y_pool, windows.y_pool)
    assert features.class_names == ("no snow", "snow")
    assert features.kind.short_name(0) == "Auckland 2016-01-14"
    assert len(list(tmp_path.glob("features-*snow-today-14d*.npz"))) == 1
    again = load_weather_features("snow-today", cache_dir=tmp_path)
    np.testing.assert_array_equal(again.pool, features.pool)
    assert isinstance(again.kind, WeatherKind)
    # Another question is another cache file, over the same layer.
    other = load_weather_features("snow-tomorrow", cache_dir=tmp_path)
    assert len(other.y_pool) == len(windows.y_pool) - 5


@pytest.mark.model
def test_an_image_backbone_on_weather_windows_is_a_clear_error(tmp_path):
    from tl_active.data.weather_features import load_weather_features

    with pytest.raises(ModelError, match=r"expects input of shape .* the weather windows are"):
        load_weather_features("snow-today", backbone="mnist-cnn", cache_dir=tmp_path)


@pytest.mark.model
def test_the_recipe_is_seeded_and_writes_its_card(tmp_path):
    import keras

    from tl_active.data.weather_network import pretrain_weather

    paths = [tmp_path / "a.keras", tmp_path / "b.keras"]
    cards = [pretrain_weather(path, epochs=1, seed=3) for path in paths]
    assert cards[0]["cv_pr_auc"] == cards[1]["cv_pr_auc"]
    assert cards[0]["test"] == cards[1]["test"]
    weights = [keras.saving.load_model(p, safe_mode=True).get_weights() for p in paths]
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)
    written = json.loads((tmp_path / "a.json").read_text())
    assert written["epochs"] == 1 and written["seed"] == 3 and len(written["cv_pr_auc"]) == 5
    assert written["model_sha256"] == file_checksum(paths[0])
