"""The weather network: a small Conv1D that reads a window and says whether the day is wet.

As in the seed `precipitation-to-snow.md`: Conv1D -> MaxPooling1D -> Flatten -> Dense ->
Dense(sigmoid), trained on "wet today" (rain or snow, read without the day's own precipitation
and events, see `weather.py`) over the 2016 windows of all five cities, then frozen so that
its `dense` layer can serve the rarer question, snow. It is trained once by
`python -m tl_active --data weather pretrain` and committed under `models/` with a JSON card:
the blocked-fold cross-validation on 2016 (every fold holds snow days; a fold never trains on a
day it validates on) and the scores on 2017, which it never saw. The same recipe on 4-day windows
(`--days 4`) is the snow lab's network, `models/weather_cnn_4d.keras` (`backbones.SNOW_LAB`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tl_active import quiet_tensorflow  # noqa: F401  before Keras: see its docstring

# isort: split

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tl_active.data.backbones import WEATHER_DENSE_LAYER, WEATHER_OUTPUT_LAYER  # noqa: E402
from tl_active.data.mnist import file_checksum  # noqa: E402
from tl_active.data.weather import (  # noqa: E402
    CHANNELS,
    DEFAULT_DAYS,
    WEATHER_PATH,
    WeatherWindows,
    blocked_folds,
    make_windows,
    purged,
)
from tl_active.paths import MODELS_DIR  # noqa: E402

WEATHER_MODEL_PATH = MODELS_DIR / "weather_cnn.keras"
FILTERS, KERNEL, POOL, DENSE = 64, 3, 2, 32
# Chosen by the blocked folds' mean PR-AUC among 10, 20 and 40 epochs (0.770, 0.776, 0.772),
# never by the test year.
WEATHER_EPOCHS = 20
ARCHITECTURE = (
    f"Conv1D({FILTERS}, {KERNEL}, relu) -> MaxPooling1D({POOL}) -> Flatten -> "
    f"Dense({DENSE}, relu) -> Dense(1, sigmoid)"
)


def build_weather_network(days: int = DEFAULT_DAYS, channels: int = len(CHANNELS)) -> keras.Model:
    """The seed's architecture, small enough for 1,765 training windows (see ARCHITECTURE)."""
    inputs = keras.Input(shape=(days, channels), name="window")
    x = keras.layers.Conv1D(FILTERS, KERNEL, activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling1D(POOL, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(DENSE, activation="relu", name=WEATHER_DENSE_LAYER)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name=WEATHER_OUTPUT_LAYER)(x)
    return keras.Model(inputs, outputs, name="weather_cnn")


def scores(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """PR-AUC, and precision, recall and F1 at `threshold`, with the base rate beside them."""
    from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score

    y, said = np.asarray(y).astype(int), (np.asarray(p).ravel() >= threshold).astype(int)
    return {
        "pr_auc": float(average_precision_score(y, np.asarray(p).ravel())),
        "precision": float(precision_score(y, said, zero_division=0)),
        "recall": float(recall_score(y, said, zero_division=0)),
        "f1": float(f1_score(y, said, zero_division=0)),
        "base_rate": float(y.mean()),
    }


def train_network(x: np.ndarray, y: np.ndarray, days: int, epochs: int, seed: int) -> keras.Model:
    """The network trained on windows `x` and answers `y` (the recipe of the shipped one)."""
    keras.utils.set_random_seed(seed)
    network = build_weather_network(days, x.shape[2])
    network.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    network.fit(x, y, batch_size=32, epochs=epochs, verbose=0, shuffle=True)
    return network


def _predict(network: keras.Model, x: np.ndarray) -> np.ndarray:
    return np.asarray(network(x, training=False), np.float32).ravel()


def cross_validate(
    windows: WeatherWindows, epochs: int, seed: int = 0, n_folds: int = 5
) -> list[dict[str, float]]:
    """The network's scores on each blocked fold of the pool, trained on the purged rest."""
    folds = blocked_folds(windows, n_folds)
    results = []
    for fold in range(n_folds):
        train = purged(windows, folds, fold)
        network = train_network(
            windows.x_pool[train], windows.y_pool[train], windows.days, epochs, seed
        )
        held = folds == fold
        results.append(scores(windows.y_pool[held], _predict(network, windows.x_pool[held])))
    return results


def pretrain_weather(
    model_path: Path = WEATHER_MODEL_PATH,
    question: str = "wet-today",
    days: int = DEFAULT_DAYS,
    epochs: int = WEATHER_EPOCHS,
    seed: int = 0,
    data_path: Path = WEATHER_PATH,
    note: str | None = None,
) -> dict:
    """Train the weather network on the pool's windows, save it and its card (see the module).

    The blocked folds estimate what the recipe gives on unseen days of the training year; the
    network that ships is then trained on every 2016 window and scored once on 2017.
    """
    model_path = Path(model_path)
    if model_path.suffix != ".keras":  # found out before training, not after
        raise ValueError(f"{model_path}: a network is saved as a .keras file")
    windows = make_windows(question, days, data_path)
    started = time.perf_counter()
    folds = cross_validate(windows, epochs, seed)
    network = train_network(windows.x_pool, windows.y_pool, days, epochs, seed)
    seconds = time.perf_counter() - started
    test = scores(windows.y_test, _predict(network, windows.x_test))
    model_path.parent.mkdir(parents=True, exist_ok=True)
    network.save(model_path)
    card = {
        "architecture": ARCHITECTURE,
        "question": question,
        "window_days": days,
        "channels": list(CHANNELS),
        "inputs": "standardised over all cities with 2016's mean and spread; for the today "
        "questions the window's last day has no precipitation, rain or snow (zeros)",
        "parameters": int(network.count_params()),
        "epochs": epochs,
        "batch_size": 32,
        "seed": seed,
        "optimizer": "Adam 1e-3, binary cross-entropy",
        "train_windows": int(len(windows.y_pool)),
        "train_years": [2016],
        "cross_validation": "5 blocked folds of 2016 (14-day blocks dealt in turn; a fold's "
        "training windows share no day with its own)",
        "cv_pr_auc": [round(f["pr_auc"], 4) for f in folds],
        "cv_pr_auc_mean": round(float(np.mean([f["pr_auc"] for f in folds])), 4),
        "test_windows": int(len(windows.y_test)),
        "test_year": 2017,
        "test": {name: round(value, 4) for name, value in test.items()},
        "training_seconds": round(seconds, 1),
        "data_sha256": windows.table.checksum,
        "model_sha256": file_checksum(model_path),
        "keras_version": keras.__version__,
    }
    if note:
        card["note"] = note
    model_path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return card
