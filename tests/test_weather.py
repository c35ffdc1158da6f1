"""Weather windows: the shipped table, windows that stay in one city and one year, no answer leaked.

Then the data kind's own words (city and day, the recorded events), and its tile charts.
"""

from __future__ import annotations

import csv
import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from tl_active.data.kinds import WeatherKind
from tl_active.data.weather import (
    CHANNELS,
    MEASUREMENTS,
    PRECIPITATION,
    QUESTIONS,
    TEST_YEAR,
    TRAIN_YEAR,
    WEATHER_PATH,
    blocked_folds,
    make_windows,
    purged,
    question,
    read_table,
)
from tl_active.errors import DataError

SHIPPED_SHA256 = "2244a84bbb6bf2cde900e651f7eed7ab0015ba0ffedcfb58a1200563610e5b2f"


def test_the_shipped_table_is_the_one_its_note_describes():
    assert hashlib.sha256(WEATHER_PATH.read_bytes()).hexdigest() == SHIPPED_SHA256
    assert SHIPPED_SHA256 in (WEATHER_PATH.parent / "weather.md").read_text()
    table = read_table()
    assert len(table.city) == 3655
    assert sorted(set(table.city)) == ["Auckland", "Beijing", "Chicago", "Mumbai", "San Diego"]
    snow = table.has(frozenset({"Snow"}))
    assert int(snow.sum()) == 99
    assert int(snow[table.city == "Chicago"].sum()) == 79
    assert int(table.has(frozenset({"Rain"})).sum()) == 1225
    assert table.values.shape == (3655, 17) and np.isfinite(table.values).all()


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_windows_stay_in_one_city_and_one_year(name):
    windows = make_windows(name, days=14)
    table, ahead = windows.table, windows.question.ahead
    assert windows.x_pool.shape == (len(windows.pool_end), 14, len(CHANNELS))
    assert windows.x_test.shape == (len(windows.test_end), 14, len(CHANNELS))
    # 366 days of 2016 less 13 for the first window (and one for tomorrow), in five cities.
    assert len(windows.pool_end) == 5 * (366 - 13 - ahead)
    assert len(windows.test_end) == 5 * (365 - 13 - ahead)
    for ends, year in ((windows.pool_end, TRAIN_YEAR), (windows.test_end, TEST_YEAR)):
        span = ends[:, None] + np.arange(-13, ahead + 1)[None, :]
        assert (table.city[span] == table.city[ends][:, None]).all()
        assert (table.year[span] == year).all()
    # No day of the test year is in any pool window, nor is its answer.
    assert table.year[windows.pool_end + ahead].max() == TRAIN_YEAR


def test_a_window_is_its_city_days_standardised_over_all_cities():
    windows = make_windows("wet-tomorrow", days=5)
    table = windows.table
    index = [windows.pool_name(i) for i in range(len(windows.pool_end))].index("Chicago 2016-12-18")
    end = windows.pool_end[index]
    assert table.city[end] == "Chicago" and str(table.date[end]) == "2016-12-18"
    temp = CHANNELS.index("avg_temp")
    train = table.year == TRAIN_YEAR
    everyone = table.values[train, MEASUREMENTS.index("avg_temp")]
    expected = table.values[end - 4 : end + 1, MEASUREMENTS.index("avg_temp")] - everyone.mean()
    np.testing.assert_allclose(
        windows.x_pool[index, :, temp], expected / everyone.std(), rtol=1e-4, atol=1e-5
    )
    # One scale for every city: Chicago's December sits well below the all-city mean.
    assert windows.x_pool[index, :, temp].max() < -1.0
    # Tomorrow's question sees today's snow flag; its answer is the next day's events.
    snow = CHANNELS.index("snow")
    assert windows.x_pool[index, -1, snow] == float("Snow" in table.events[end])
    assert windows.y_pool[index] == int(bool(table.events[end + 1] & {"Rain", "Snow"}))


@pytest.mark.parametrize("name", ["wet-today", "snow-today"])
def test_today_questions_never_see_the_days_precipitation_or_events(name, tmp_path):
    # Rewrite every day's precipitation and events: the windows' last days must not change,
    # while the earlier days, which are allowed to show them, do.
    lines = list(csv.DictReader(WEATHER_PATH.read_text().splitlines()))
    for row in lines:
        row["precip"], row["events"] = "3.5", "Rain , Snow"
    forged = tmp_path / "weather.csv"
    with forged.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(lines[0]))
        writer.writeheader()
        writer.writerows(lines)
    real, changed = make_windows(name), make_windows(name, path=forged)
    hidden = [CHANNELS.index(c) for c in PRECIPITATION]
    assert (real.x_pool[:, -1, hidden] == 0).all() and (changed.x_pool[:, -1, hidden] == 0).all()
    np.testing.assert_array_equal(real.x_pool[:, -1], changed.x_pool[:, -1])
    np.testing.assert_array_equal(real.x_test[:, -1], changed.x_test[:, -1])
    assert not np.array_equal(real.x_pool[:, :-1, hidden], changed.x_pool[:, :-1, hidden])
    # The answer is the day's own events.
    assert real.y_pool.sum() > 0 and changed.y_pool.all()


def test_snow_is_rare_and_in_both_years():
    windows = make_windows("snow-today")
    assert 0.02 < windows.y_pool.mean() < 0.03 and 0.015 < windows.y_test.mean() < 0.025
    assert make_windows("wet-today").y_test.mean() == pytest.approx(0.351, abs=0.001)


def test_blocked_folds_each_hold_snow_and_purging_shares_no_day():
    windows = make_windows("snow-tomorrow")
    folds = blocked_folds(windows, n_folds=5, block_days=14)
    assert set(folds.tolist()) == set(range(5))
    assert all(windows.y_pool[folds == k].sum() >= 5 for k in range(5))
    for k in range(5):
        train = purged(windows, folds, k)
        assert not (train & (folds == k)).any()
        span = lambda ends: {  # noqa: E731
            (windows.table.city[e], d) for e in ends for d in range(e - 13, e + 2)
        }
        assert not span(windows.pool_end[train]) & span(windows.pool_end[folds == k])


def test_bad_tables_and_questions_fail_with_one_clear_line(tmp_path):
    with pytest.raises(ValueError, match="unknown weather question 'hail'"):
        question("hail")
    with pytest.raises(ValueError, match="2 to 90 days"):
        make_windows("wet-today", days=1)
    with pytest.raises(DataError, match="not found"):
        read_table(str(tmp_path / "none.csv"))
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="is not the weather table: it lacks city"):
        read_table(str(tmp_path / "other.csv"))
    text = WEATHER_PATH.read_text().splitlines()
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join([text[0], text[1].replace(",68,", ",warm,", 1), *text[2:]]))
    with pytest.raises(DataError, match="line 2: high_temp is 'warm', not a number"):
        read_table(str(broken))
    gap = tmp_path / "gap.csv"
    gap.write_text("\n".join([text[0], text[1], *text[3:]]))
    with pytest.raises(DataError, match="Auckland skips or repeats a day"):
        read_table(str(gap))


def test_the_kind_names_windows_by_city_and_day_and_its_truth_by_the_events():
    windows = make_windows("snow-today")
    kind = WeatherKind(windows)
    assert kind.class_names == ("no snow", "snow") and kind.has_truth
    chicago = [windows.pool_name(i) for i in range(len(windows.pool_end))].index(
        "Chicago 2016-12-18"
    )
    assert kind.item_id(chicago) == kind.short_name(chicago) == "Chicago 2016-12-18"
    assert kind.item_name(chicago) == "Chicago 2016-12-18 (14 days to it)"
    assert kind.test_item_id(0) == "Auckland 2017-01-14"
    assert kind.says("snow") == "the recorded events of that day say snow"
    assert WeatherKind(make_windows("snow-tomorrow")).says("snow") == (
        "the recorded events of the next day say snow"
    )
    assert kind.test_split(1760) == (
        "held-out test split: the 1,760 windows of 2017 (every pool window lies wholly in 2016)"
    )
    words = " ".join(
        [kind.name, kind.items, kind.truth, kind.true_class, kind.auto_answerer, kind.origin]
    )
    assert "MNIST" not in words and "digit" not in words and "image" not in words
    assert kind.answer_keys(WeatherKind(make_windows("wet-today")).class_names) == ("d", "w")


def test_a_tile_is_a_chart_whose_temperature_sits_by_its_level():
    windows = make_windows("snow-today")
    kind = WeatherKind(windows)
    names = [windows.pool_name(i) for i in range(len(windows.pool_end))]
    cold, warm = names.index("Chicago 2016-12-18"), names.index("Mumbai 2016-06-01")

    def red_rows(index: int) -> float:
        picture = np.asarray(Image.open(io.BytesIO(kind.thumbnail_png(index, 160))).convert("RGB"))
        assert picture.shape == (112, 160, 3)  # wider than high: the days run across
        red = (picture[..., 0] > 170) & (picture[..., 1] < 110) & (picture[..., 2] < 110)
        return float(np.flatnonzero(red.any(axis=1)).mean())

    # Chicago in December is drawn lower in its tile than Mumbai in June.
    assert red_rows(cold) > red_rows(warm) + 28
