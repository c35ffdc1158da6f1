"""A frozen weather network's layer over every window of a question, computed once and cached.

The weather counterpart of `features.load_features`: the windows of a question (`weather.py`)
run once through a backbone that reads windows (the shipped `weather-cnn`, or a `.keras` file
whose input is (days, channels)), and the outputs of one layer become a `FeatureSet` whose kind
is `WeatherKind`, so that the head, the strategies and the pages work on it as on images. The
cache key holds the model's checksum, the layer, the table's checksum, the question and the
window's length.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tl_active.data.backbones import SHIPPED_WEATHER, Backbone, default_layer, resolve_backbone
from tl_active.data.features import FeatureSet, _layer_tag, _read_cache, _write_cache, cache_path
from tl_active.data.kinds import WeatherKind
from tl_active.data.mnist import file_checksum
from tl_active.data.weather import CHANNELS, DEFAULT_DAYS, WEATHER_PATH, make_windows
from tl_active.errors import ModelError
from tl_active.paths import CACHE_DIR

DEFAULT_WEATHER_BACKBONE = "weather-cnn"


def weather_cache_key(
    backbone: Backbone, layer: str, checksum: str, question: str, days: int
) -> str:
    return (
        f"{file_checksum(backbone.path)[:16]}-{_layer_tag(layer)}-{checksum[:16]}-"
        f"{question}-{days}d"
    )


def window_outputs(model, layer: str, windows: np.ndarray) -> np.ndarray:
    """(n, width) float32: the outputs of `layer` for each window, flattened."""
    from tl_active.data.network import layer_extractor

    expected = tuple(model.inputs[0].shape[1:]) if len(model.inputs) == 1 else ()
    if expected != tuple(windows.shape[1:]):
        raise ModelError(
            f"The model '{model.name}' expects input of shape {expected}, but the weather "
            f"windows are {tuple(windows.shape[1:])} (days, channels: {len(CHANNELS)}); choose "
            "a backbone made for weather windows, such as weather-cnn, and its window length"
        )
    outputs = np.asarray(layer_extractor(model, layer)(windows, training=False), np.float32)
    return outputs.reshape(len(windows), -1)


def load_weather_features(
    question: str = "snow-today",
    backbone: Backbone | str | None = None,
    layer: str | None = None,
    days: int = DEFAULT_DAYS,
    data_path: Path = WEATHER_PATH,
    cache_dir: Path = CACHE_DIR,
) -> FeatureSet:
    """The frozen features of a weather backbone's layer over a question's windows (cached)."""
    if not isinstance(backbone, Backbone):
        backbone = resolve_backbone(backbone or SHIPPED_WEATHER[DEFAULT_WEATHER_BACKBONE].name)
    layer = layer or default_layer(backbone)
    if not backbone.path.is_file():
        raise ModelError(
            f"Model file not found: {backbone.path}. Restore the shipped one with "
            "`git checkout -- models/` or retrain it with `python -m tl_active --data weather "
            "pretrain`."
        )
    windows = make_windows(question, days, data_path)
    kind = WeatherKind(windows)
    key = weather_cache_key(backbone, layer, windows.table.checksum, windows.question.name, days)
    path = cache_path(key, cache_dir)
    cached = _read_cache(path, key, kind)
    if cached is not None:
        return cached
    from tl_active.data.network import load_backbone

    model = load_backbone(backbone.path)
    outputs = window_outputs(model, layer, np.concatenate([windows.x_pool, windows.x_test]))
    n_pool = len(windows.x_pool)
    features = FeatureSet(
        pool=outputs[:n_pool],
        test=outputs[n_pool:],
        y_pool=windows.y_pool,
        y_test=windows.y_test,
        class_names=kind.class_names,
        backbone=backbone.name,
        layer=layer,
        key=key,
        data_kind=kind,
    )
    _write_cache(path, features)
    return features
