"""The weather transfer lab: four ways from the wet network to snow, scored for rare days."""

from __future__ import annotations

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
