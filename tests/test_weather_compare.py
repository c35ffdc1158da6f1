"""Active learning on a rare answer: the positives each strategy finds per label spent, and the
comparison on a weather question answered from the recorded events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic import synthetic_features

from tl_active.cli.main import main
from tl_active.core.task import BINARY, Task
from tl_active.experiments.compare import (
    CURVE_COLUMNS,
    format_positives,
    positives_found,
    run_comparison,
    simulate_run,
)
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession

FEATURES = synthetic_features(600, 300)
ZERO = Task(BINARY, (0,))  # "is it a 0?": a tenth of the pool


def test_positives_count_the_truth_among_the_labels_whatever_the_oracle_says():
    rows = simulate_run(FEATURES, "random", seed=3, rounds=6, batch=5, task=ZERO)
    flipped = simulate_run(FEATURES, "random", seed=3, rounds=6, batch=5, task=ZERO, noise=1.0)
    # The same labels as a session asking the same strategy and seed would choose.
    session = LabellingSession(
        FEATURES, SessionSettings(task=ZERO, strategy="random", batch_size=5, seed=3)
    )
    expected = []
    for _ in range(6):
        session.submit(session.truth([p.index for p in session.next_batch()]), simulated=True)
        expected.append(int((FEATURES.y_pool[np.asarray(session.labelled)] == 0).sum()))
    assert [r["positives"] for r in rows] == expected
    assert expected[-1] > 0
    # Random's picks do not depend on the answers: wrong answers, the same positives.
    assert [r["positives"] for r in flipped] == expected


def test_k_class_questions_have_no_positives():
    curves = run_comparison(
        FEATURES, ["random"], seeds=1, rounds=2, batch=3, task=Task.multiclass("0-4"), jobs=1
    )
    assert list(curves.columns) == CURVE_COLUMNS
    assert curves["positives"].isna().all()


def test_positives_found_at_each_budget_with_the_fewest_and_most_seeds():
    curves = pd.DataFrame(
        {
            "strategy": ["a"] * 6 + ["b"] * 3,
            "seed": [0, 0, 0, 1, 1, 1, 0, 0, 0],
            "round": [1, 2, 3] * 3,
            "n_labels": [5, 10, 15] * 3,
            "positives": [0, 1, 4, 2, 2, 2, 0, 0, 0],
            "precision": [0, 0.5, 1, 1, 1, 1, 0, 0, 0],
            "recall": [0, 0.2, 0.6, 0.4, 0.4, 0.4, 0, 0, 0],
            "f1": [0, 0.3, 0.75, 0.5, 0.5, 0.5, 0, 0, 0],
        }
    )
    found = positives_found(curves, budgets=(12, 15, 40)).set_index(["strategy", "labels"])
    # Up to 12 labels is after round 2 (10 labels); 40 is beyond the runs, so left out.
    assert found.loc[("a", 12), "positives"] == 1.5
    assert (found.loc[("a", 12), "fewest"], found.loc[("a", 12), "most"]) == (1, 2)
    assert found.loc[("a", 15), "positives"] == 3.0
    assert found.loc[("a", 15), "f1"] == pytest.approx(0.625)
    assert found.loc[("b", 15), "positives"] == 0
    assert ("a", 40) not in found.index
    text = format_positives(found.reset_index(), rate=0.1)
    assert "first 12" in text and "1.5 (1-2)" in text and "(at random)" in text


def test_a_sweeps_summary_gives_the_positives_found_at_each_budget_as_compare_does():
    from tl_active.experiments.sweep.summary import summarise_sweep, summary_columns

    curves = run_comparison(
        FEATURES, ["random", "uncertainty"], seeds=3, rounds=6, batch=5, task=ZERO, jobs=1
    )
    keys = dict(backbone="b", layer="l", task="0", batch_size=5, noise=0.0, rounds=6, cell="x")
    ceilings = pd.DataFrame(
        [("b", "l", "0", 1.0)], columns=["backbone", "layer", "task", "ceiling"]
    )
    summary = summarise_sweep(curves.assign(**keys), ceilings, budgets=(12, 30, 40))
    assert list(summary.columns) == summary_columns((12, 30, 40))
    found = positives_found(curves, budgets=(12, 30, 40)).set_index(["strategy", "labels"])
    for _, row in summary.iterrows():
        for budget in (12, 30):
            theirs = found.loc[(row["strategy"], budget)]
            assert row[f"positives_at_{budget}"] == pytest.approx(theirs["positives"])
            # The spread over the seeds of each seed's own count.
            run = curves[(curves["strategy"] == row["strategy"]) & (curves["n_labels"] <= budget)]
            each = run.groupby("seed")["positives"].last().to_numpy()
            assert row[f"positives_at_{budget}_sd"] == pytest.approx(np.std(each, ddof=1))
        assert np.isnan(row["positives_at_40"])  # beyond the runs' 30 labels
    # A rare answer's PR-AUC at each budget, as compare's summary gives it, with its spread.
    from tl_active.experiments.compare import summarise

    theirs = summarise(curves, 1.0, budgets=(12, 30, 40)).set_index("strategy")
    for _, row in summary.iterrows():
        for budget in (12, 30):
            assert row[f"pr_auc_at_{budget}"] == pytest.approx(
                theirs.loc[row["strategy"], f"pr_auc_at_{budget}"]
            )
            run = curves[(curves["strategy"] == row["strategy"]) & (curves["n_labels"] <= budget)]
            each = run.groupby("seed")["pr_auc"].last().to_numpy()
            assert 0 < row[f"pr_auc_at_{budget}"] <= 1
            assert row[f"pr_auc_at_{budget}_sd"] == pytest.approx(np.std(each, ddof=1))
        assert np.isnan(row["pr_auc_at_40"])
    # Random's 30 windows of a pool a tenth positive hold some: a count, not a share.
    assert summary.set_index("strategy").loc["random", "positives_at_30"] >= 1
    assert float(summary["positives_at_30"].max()) == float(
        found.xs(30, level="labels")["positives"].max()
    )


def test_a_sweep_folder_written_before_positives_were_counted_still_summarises():
    from tl_active.experiments.sweep.summary import summarise_sweep

    curves = run_comparison(FEATURES, ["random"], seeds=2, rounds=3, batch=5, task=ZERO, jobs=1)
    keys = dict(backbone="b", layer="l", task="0", batch_size=5, noise=0.0, rounds=3, cell="x")
    ceilings = pd.DataFrame(
        [("b", "l", "0", 1.0)], columns=["backbone", "layer", "task", "ceiling"]
    )
    old = curves.drop(columns=["positives", "pr_auc"]).assign(**keys)
    summary = summarise_sweep(old, ceilings, budgets=(10,))
    now = summarise_sweep(curves.assign(**keys), ceilings, budgets=(10,))
    assert np.isnan(summary.loc[0, "positives_at_10"]) and np.isnan(
        summary.loc[0, "positives_at_10_sd"]
    )
    assert np.isnan(summary.loc[0, "pr_auc_at_10"]) and now.loc[0, "pr_auc_at_10"] > 0
    # Every other figure as before.
    assert summary.loc[0, "accuracy_at_10"] == now.loc[0, "accuracy_at_10"]
    assert summary.loc[0, "auc"] == now.loc[0, "auc"]


def test_weather_compare_refuses_classes_before_any_work(tmp_path, capsys):
    out = ["--out", str(tmp_path / "out")]
    assert main(["compare", "--data", "weather", "--classes", "0-4", *out]) == 2
    assert "yes-or-no questions" in capsys.readouterr().err
    assert main(["--data", "weather", "compare", "--target", "hail", *out]) == 2
    assert "unknown weather question 'hail'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.model
def test_compare_on_snow_today_counts_the_snow_days_each_strategy_finds(tmp_path, capsys):
    out = tmp_path / "snow"
    argv = ["compare", "--data", "weather", "--target", "snow-today", "--seeds", "1"]
    argv += ["--rounds", "10", "--batch", "5", "--budgets", "25,50"]
    argv += ["--strategies", "random,diversity", "--jobs", "1", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "weather-cnn / dense, snow today (binary, answered by the recorded events)" in printed
    assert "digit" not in printed.lower() and "image" not in printed.lower()
    found = pd.read_csv(out / "positives.csv").set_index(["strategy", "labels"])
    # Diversity's first 50 windows on the frozen wet network hold 3 snow days, whatever the
    # seed (docs/weather.md); its first 25 none.
    assert found.loc[("diversity", 25), "positives"] == 0
    assert found.loc[("diversity", 50), "positives"] == 3
    curves = pd.read_csv(out / "curves.csv")
    assert (
        curves["positives"].is_monotonic_increasing
        or curves.groupby("strategy")["positives"].apply(lambda p: p.is_monotonic_increasing).all()
    )
    assert (curves["positives"] <= curves["n_labels"]).all()
    # Read by its PR-AUC: each round's in curves.csv, at each budget in summary.csv and printed.
    summary = pd.read_csv(out / "summary.csv").set_index("strategy")
    at_50 = curves[(curves["strategy"] == "diversity") & (curves["n_labels"] <= 50)]["pr_auc"]
    assert summary.loc["diversity", "pr_auc_at_50"] == pytest.approx(at_50.iloc[-1], abs=1e-6)
    assert "PR-AUC at 25" in printed and "PR-AUC at 50" in printed
    assert "frozen-head ceiling (the head on every pool label): 97.73 %, PR-AUC 0.369" in printed


@pytest.mark.model
def test_compare_page_asks_a_weather_question_and_counts_its_snow_days(monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[1]
    monkeypatch.syspath_prepend(str(root))  # ui.support sits beside app.py
    from streamlit.elements.lib import policies

    # Streamlit logs (rather than shows) a widget given a value and a state the page set.
    logged = []
    monkeypatch.setattr(policies._LOGGER, "warning", lambda *a, **kw: logged.append(a[0]))
    at = AppTest.from_file(str(root / "ui" / "pages" / "compare.py"), default_timeout=180)
    at.run()
    at.radio(key="cmp_data").set_value("Weather windows").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not logged, logged
    assert at.selectbox(key="cmp_weather_question").value == "snow-today"
    # Weather's own starting settings: snow days are rare, so more labels, counted at 25-100.
    assert (at.number_input(key="cmp_rounds").value, at.number_input(key="cmp_batch").value) == (
        20,
        5,
    )
    assert at.text_input(key="cmp_budgets").value == "25,50,100"
    # Back to the digits and again to the weather: each data's own start, and no warning.
    at.radio(key="cmp_data").set_value("MNIST digits").run()
    assert (at.number_input(key="cmp_rounds").value, at.number_input(key="cmp_batch").value) == (
        30,
        4,
    )
    at.radio(key="cmp_data").set_value("Weather windows").run()
    assert at.number_input(key="cmp_rounds").value == 20 and not logged, logged
    sidebar = " ".join(w.label for w in at.sidebar.get("selectbox") + at.sidebar.get("text_input"))
    assert "digit" not in sidebar.lower() and "Target" not in sidebar
    at.multiselect(key="cmp_strategies").set_value(["random", "diversity"])
    at.number_input(key="cmp_seeds").set_value(1)
    at.number_input(key="cmp_rounds").set_value(10)
    at.number_input(key="cmp_batch").set_value(5)
    at.text_input(key="cmp_budgets").set_value("25,50")
    at.button(key="cmp_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    captions = [c.value.replace("\\", "") for c in at.caption]
    assert any(
        c.startswith("weather-cnn / dense, snow today: 1 seeds x 10 rounds of 5") for c in captions
    )
    # Snow is rare: its PR-AUC and the positives found come first, accuracy after them.
    assert [h.value for h in at.subheader] == [
        "PR-AUC of the rare answer (means over seeds)",
        "Positives found per label spent (means over seeds)",
        "Accuracy (means over seeds)",
        "Summary (means over seeds)",
    ]
    # The PR-AUC chart's lines are each strategy's mean over seeds, from 0.02 (the base rate)
    # up, against the ceiling's; the summary gives it at each budget, as the command line does.
    result = next(iter(at.session_state["compare_results"].values()))
    assert 0.3 < result["ceiling_pr_auc"] < 0.45
    summary = at.dataframe[1].value.set_index("strategy")
    curves = result["curves"]
    for name in ("random", "diversity"):
        run = curves[(curves["strategy"] == name) & (curves["n_labels"] <= 50)]
        assert summary.loc[name, "pr_auc_at_50"] == pytest.approx(run["pr_auc"].iloc[-1])
    assert summary["pr_auc_at_25"].between(0.0, 1.0).all()
    # Accuracy settles at once on snow: its chart is not cut there, as the PR-AUC goes on.
    assert not any("Drawn up to" in i.value for i in at.info)
    found = at.dataframe[0].value.set_index(["strategy", "labels"])
    assert found.loc[("diversity", 50), "positives"] == 3  # as on the command line
    assert found.loc[("diversity", 25), "positives"] == 0
    assert "f1" in found.columns and "precision" in found.columns
    assert any("answering no to everything" in c for c in captions)
    chart = at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    assert chart, "the positives found are drawn against the labels"


def test_a_grid_asks_weather_questions_or_digits_not_both(tmp_path, capsys):
    from tl_active.experiments.sweep.grid import GridError, parse_grid

    grid = parse_grid({"targets": ["snow-today", "wet-today"], "strategies": ["random"]})
    assert grid.weather_questions == ("snow-today", "wet-today")
    assert grid.tasks() == [Task(BINARY, (1,))]
    with pytest.raises(GridError, match="weather questions .* or questions of digits"):
        parse_grid({"targets": ["snow-today", "odd"]})
    digits = tmp_path / "digits.toml"
    digits.write_text('targets = ["odd"]\n')
    assert main(["--data", "weather", "sweep", str(digits), "--out", str(tmp_path / "o")]) == 2
    assert "the targets are weather questions" in capsys.readouterr().err


@pytest.mark.model
def test_a_sweep_of_weather_questions_writes_a_folder_per_question(tmp_path):
    from tl_active.experiments.sweep.results import read_sweep

    grid = tmp_path / "weather.toml"
    grid.write_text(
        'targets = ["snow-today", "wet-today"]\nstrategies = ["random", "diversity"]\n'
        "batch_sizes = [5]\nseeds = 1\nrounds = 5\nbudgets = [25]\n"
    )
    out = tmp_path / "sweep"
    assert main(["sweep", str(grid), "--out", str(out), "--jobs", "1"]) == 0
    for question in ("snow-today", "wet-today"):
        assert (out / question / "_summary.csv").is_file()
    snow = read_sweep(out / "snow-today")
    assert set(snow["backbone"]) == {"weather-cnn"} and set(snow["layer"]) == {"dense"}
    last = snow[snow["round"] == 5].set_index("strategy")
    assert last.loc["diversity", "positives"] == 0  # no snow day in diversity's first 25
    wet = read_sweep(out / "wet-today")
    # Wet days are a third of the pool: random's 25 windows hold several.
    wet_random = wet[(wet["round"] == 5) & (wet["strategy"] == "random")]["positives"].iloc[0]
    assert wet_random >= 3
    # The summary counts them per budget, as compare's positives.csv does.
    summary = pd.read_csv(out / "wet-today" / "_summary.csv").set_index("strategy")
    assert summary.loc["random", "positives_at_25"] == wet_random
    snow_summary = pd.read_csv(out / "snow-today" / "_summary.csv").set_index("strategy")
    assert snow_summary.loc["diversity", "positives_at_25"] == 0
