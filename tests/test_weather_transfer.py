"""The weather transfer lab: four ways from the wet network to snow, scored for rare days."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tl_active.cli.main import main
from tl_active.experiments.weather_transfer import (
    METHODS,
    WeatherTransferSettings,
    format_summary,
    summarise,
)


def test_bad_weather_transfer_options_fail_before_any_training(capsys, tmp_path):
    out = ["--out", str(tmp_path / "out")]
    assert main(["--data", "weather", "transfer", "--question", "hail", *out]) == 2
    assert "unknown weather question 'hail'" in capsys.readouterr().err
    assert main(["--data", "weather", "transfer", "--selections", "psychic", *out]) == 2
    assert "psychic" in capsys.readouterr().err
    with pytest.raises(ValueError, match="methods are some of"):
        WeatherTransferSettings(methods=("magic",))
    with pytest.raises(ValueError, match="learning rates must be above 0"):
        WeatherTransferSettings(fine_tune_learning_rate=0)
    with pytest.raises(ValueError, match="seeds and epochs are 1 or more"):
        WeatherTransferSettings(fine_tune_epochs=0)
    with pytest.raises(ValueError, match="positive weight is one of balanced, sqrt, none"):
        WeatherTransferSettings(positive_weight="heavy")


def test_the_positive_weight_is_balanced_its_root_or_none():
    from tl_active.experiments.weather_transfer import _class_weight

    y = np.array([1] * 2 + [0] * 98)
    assert _class_weight(y) == {0: pytest.approx(100 / 196), 1: 25.0}
    assert _class_weight(y, "sqrt") == {0: pytest.approx((100 / 196) ** 0.5), 1: 5.0}
    assert _class_weight(y, "none") == {0: 1.0, 1: 1.0}


def test_the_window_references_read_what_the_networks_read():
    from tl_active.data.weather import make_windows
    from tl_active.experiments.weather_transfer import day_reference, window_reference

    windows = make_windows("snow-today")
    day = day_reference(windows)
    # The last day alone is the day's reference: its hidden channels are zeros there.
    assert window_reference(windows, 1)["pr_auc"] == pytest.approx(day["pr_auc"], abs=0.002)
    # The whole window, 280 numbers for 48 snow days, fits the thirteen days before as noise.
    whole = window_reference(windows)
    assert 3 * whole["base_rate"] < whole["pr_auc"] < day["pr_auc"] - 0.1
    with pytest.raises(ValueError, match="reads 1 to 14 days, not 15"):
        window_reference(windows, 15)


@pytest.mark.model
def test_every_method_learns_snow_from_labels_that_hold_some(tmp_path):
    from tl_active.data.backbones import SHIPPED_WEATHER
    from tl_active.data.network import load_backbone
    from tl_active.data.weather import make_windows
    from tl_active.data.weather_features import load_weather_features
    from tl_active.experiments.weather_transfer import run_weather_transfer, selection_order

    windows = make_windows("snow-today")
    features = load_weather_features("snow-today", cache_dir=tmp_path)
    model = load_backbone(SHIPPED_WEATHER["weather-cnn"].path)
    settings = WeatherTransferSettings(budgets=(5, 400), selections=("random",), seeds=1, epochs=3)
    order = selection_order(features, "random", 400, 0)
    assert windows.y_pool[order[:5]].sum() == 0 and windows.y_pool[order].sum() > 3
    rows = run_weather_transfer(windows, features, model, settings)
    assert len(rows) == 2 * len(METHODS) and set(rows.method) == set(METHODS)
    base = windows.y_test.mean()
    # Five labels without a snow day: nothing to learn, every method scores the base rate.
    few = rows[rows.labels == 5]
    assert (few.positives == 0).all() and np.allclose(few.pr_auc, base)
    # Four hundred random labels hold some snow days: every method ranks well above chance.
    many = rows[rows.labels == 400]
    assert (many.pr_auc > 3 * base).all(), many[["method", "pr_auc"]]
    assert ((many.precision >= 0) & (many.recall <= 1)).all()
    table = format_summary(summarise(rows))
    assert "| snow-today | random | 400 | head |" in table


@pytest.mark.model
def test_scratch_and_fine_tune_all_take_the_backbones_own_shape(tmp_path):
    import keras

    from tl_active.data.backbones import WEATHER_DENSE_LAYER, WEATHER_OUTPUT_LAYER
    from tl_active.data.weather import make_windows
    from tl_active.data.weather_features import load_weather_features, window_outputs
    from tl_active.experiments.weather_transfer import (
        FINE_TUNE,
        FINE_TUNE_ALL,
        HEAD,
        SCRATCH,
        WeatherTrainer,
        run_weather_transfer,
    )

    windows = make_windows("snow-today")
    # A wet network of another width than the shipped one's Dense(32).
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=windows.x_pool.shape[1:])
    x = keras.layers.Conv1D(8, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten(name="flatten")(keras.layers.MaxPooling1D(2, name="pool")(x))
    x = keras.layers.Dense(12, activation="relu", name=WEATHER_DENSE_LAYER)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name=WEATHER_OUTPUT_LAYER)(x)
    narrow = keras.Model(inputs, outputs)
    narrow.trainable = False  # as a loaded backbone comes
    features = load_weather_features("snow-today", cache_dir=tmp_path)
    features = replace(
        features,
        pool=window_outputs(narrow, WEATHER_DENSE_LAYER, windows.x_pool),
        test=window_outputs(narrow, WEATHER_DENSE_LAYER, windows.x_test),
        key="narrow",
        _tasks={},
        _derived={},
    )
    settings = WeatherTransferSettings(
        budgets=(400,),
        selections=("random",),
        seeds=1,
        methods=(SCRATCH, FINE_TUNE, FINE_TUNE_ALL),
        epochs=2,
        fine_tune_epochs=2,
    )
    rows = run_weather_transfer(windows, features, narrow, settings)
    assert list(rows.method) == [SCRATCH, FINE_TUNE, FINE_TUNE_ALL]
    assert (rows.pr_auc > rows.base_rate).all(), rows[["method", "pr_auc"]]
    # Every layer trains, though the backbone came frozen: fine-tune-all moves away from the
    # head it starts from.
    trainer = WeatherTrainer(windows, features, narrow, settings)
    labelled = np.arange(400)
    head = trainer.predict(HEAD, labelled, 0)
    tuned = trainer.predict(FINE_TUNE_ALL, labelled, 0)
    assert np.abs(tuned - head).max() > 0.01
    # Seeded: the same settings give the same scores.
    again = run_weather_transfer(windows, features, narrow, settings)
    assert np.allclose(rows.pr_auc, again.pr_auc)


def test_a_blocked_fold_holds_out_its_windows_and_every_day_they_share():
    from dataclasses import replace

    from synthetic import synthetic_features

    from tl_active.data.weather import blocked_folds, make_windows
    from tl_active.experiments.weather_transfer import FOLDS, fold_split

    windows = make_windows("snow-today")
    n = len(windows.y_pool)
    features = replace(
        synthetic_features(n, 10),
        y_pool=windows.y_pool,
        pool=windows.x_pool[:, -1, :].copy(),
    )
    folds = blocked_folds(windows)
    for fold in range(FOLDS):
        split, held_out = fold_split(windows, features, fold)
        assert len(split.y_test) == (folds == fold).sum() and split.y_test.sum() >= 5
        assert held_out.pool.shape == (len(split.y_pool), features.pool.shape[1])
        assert np.array_equal(held_out.test, features.pool[folds == fold])
        assert np.array_equal(split.x_test, windows.x_pool[folds == fold])

        # No training window shares a day (of a city) with a held-out one.
        def days(ends):
            return {int(e - k) for e in ends for k in range(windows.days)}

        assert not days(split.pool_end) & days(split.test_end)
        assert len(split.y_pool) + len(split.y_test) < n  # the purge dropped some


@pytest.mark.parametrize("question", ["snow-today", "snow-tomorrow"])
def test_a_folds_own_wet_network_trains_on_no_day_the_fold_holds_out(question):
    from tl_active.data.weather import blocked_folds, make_windows
    from tl_active.experiments.weather_transfer import wet_windows_without

    windows = make_windows(question)
    folds = blocked_folds(windows)
    for fold in (0, 3):
        wet, train = wet_windows_without(windows, fold)
        held_days = {
            int(e + k)
            for e in windows.pool_end[folds == fold]
            for k in range(-(windows.days - 1), windows.question.ahead + 1)
        }
        trained_days = {int(e - k) for e in wet.pool_end[train] for k in range(wet.days)}
        assert not held_days & trained_days
        # Most of the year still trains it: the fold is a fifth, its purge a little more.
        assert 0.4 * len(train) < train.sum() < 0.8 * len(train)


@pytest.mark.model
def test_the_transfer_lab_page_offers_snow_from_the_wet_network(app_db):
    from streamlit.testing.v1 import AppTest

    from tl_active.paths import PROJECT_ROOT
    from ui import keys

    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=240)
    at.run()
    at.switch_page("ui/pages/transfer.py").run()
    at.radio(key=keys.TR_DATA).set_value("Snow from the wet network").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [h.value for h in at.subheader] == ["The measured run"]
    text = " ".join(m.value for m in at.markdown).lower()
    assert "pr-auc" in text and "digit" not in text and "mnist" not in text
    measured = at.dataframe[0].value
    assert {"pr_auc", "precision", "recall", "f1"} <= set(measured.columns)
    assert set(measured["method"]) == set(METHODS)
    seed = at.dataframe[1].value
    assert list(seed["precision"]) == [0.78, 0.62, 0.47]

    at.multiselect(key=keys.TR_WEATHER_BUDGETS).set_value([100])
    at.multiselect(key=keys.TR_WEATHER_SELECTIONS).set_value(["random"])
    at.button(key=keys.TR_RUN).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [h.value for h in at.subheader] == ["Your run", "The measured run"]
    yours = at.dataframe[0].value
    assert list(yours["method"]) == list(METHODS) and set(yours["labels"]) == {100}
    # The first 100 random windows of the lab's 4-day ones hold 2 snow days.
    assert (yours["positives"] == 2).all()
    assert any("logistic regression" in c.value for c in at.caption)
