"""Re-checks in the oracle runs: `compare --noise R --recheck K` and the sweep's `recheck` key.

On a synthetic pool where the network is right and confident, the oracle's wrong answers stand
out, so the re-checks find them; a run without re-checks keeps exactly the rows it had.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from test_compare import FEATURES, cli_args

from tl_active.cli import compare as compare_command
from tl_active.core.task import ODD, Task
from tl_active.experiments.compare import (
    CURVE_COLUMNS,
    RECHECK_COLUMNS,
    label_rechecks,
    recheck_summary,
    run_comparison,
    simulate_run,
)
from tl_active.experiments.sweep import read_sweep, run_sweep, summarise_sweep, sweep_ceilings
from tl_active.experiments.sweep.grid import Cell, GridError, cell_key, grid_cells, parse_grid


def test_a_run_without_noise_or_rechecks_has_the_rows_it_had():
    rows = simulate_run(FEATURES, "random", seed=1, rounds=5, batch=4, task=ODD)
    assert [list(row) for row in rows] == [CURVE_COLUMNS] * 5
    assert [row["round"] for row in rows] == [1, 2, 3, 4, 5]


def test_rechecks_find_the_oracles_wrong_answers_and_correct_them():
    without = simulate_run(FEATURES, "random", 3, rounds=20, batch=4, task=ODD, noise=0.2)
    with_ = simulate_run(FEATURES, "random", 3, rounds=20, batch=4, task=ODD, noise=0.2, recheck=2)
    last, last_without = with_[-1], without[-1]
    assert last_without["found"] == 0 and last_without["recheck"] == 0
    assert last_without["wrong_left"] == last_without["wrong_given"] > 5
    # Same seed, same first round: the same flips until the re-checks change the batches.
    assert with_[0]["wrong_given"] == without[0]["wrong_given"]
    assert last["found"] >= 0.8 * last["wrong_given"]
    assert last["wrong_left"] == last["wrong_given"] - last["found"]
    # Rows are batch rounds: the corrections do not add rows or labels.
    assert [r["round"] for r in with_] == list(range(1, 21))
    assert (
        [r["n_labels"] for r in with_] == [r["n_labels"] for r in without] == list(range(4, 84, 4))
    )
    assert last["accuracy"] >= last_without["accuracy"]


def test_compare_runs_each_strategy_with_and_without_rechecks():
    curves = run_comparison(
        FEATURES, ["random"], seeds=2, rounds=12, batch=4, task=ODD, noise=0.2, jobs=1, recheck=2
    )
    assert list(curves.columns) == CURVE_COLUMNS + RECHECK_COLUMNS
    assert sorted(set(curves["recheck"])) == [0, 2] and len(curves) == 2 * 2 * 12
    assert list(dict.fromkeys(label_rechecks(curves)["strategy"])) == [
        "random",
        "random + re-check 2",
    ]
    table = recheck_summary(curves).set_index("strategy")
    assert table.loc["random", "found"] == 0
    assert table.loc["random + re-check 2", "found_share"] > 0.7
    plain = run_comparison(FEATURES, ["random"], seeds=1, rounds=3, batch=4, task=ODD, jobs=1)
    assert list(plain.columns) == CURVE_COLUMNS


def test_rechecks_must_be_a_whole_number_of_zero_or_more():
    with pytest.raises(ValueError, match="re-checks per round are a whole number"):
        run_comparison(FEATURES, ["random"], seeds=1, rounds=2, task=ODD, recheck=-1)


def test_the_command_line_prints_what_the_rechecks_found(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("tl_active.data.features.load_features", lambda *args, **kw: FEATURES)
    args = cli_args(tmp_path, jobs=1, noise=0.2, recheck=2, rounds=10)
    args.strategies = "random"
    compare_command.run(args)
    printed = capsys.readouterr().out
    assert "random + re-check 2" in printed
    assert "found by re-checks" in printed
    assert "with and without re-checks" in printed
    summary = (tmp_path / "summary.csv").read_text().splitlines()
    assert summary[0].endswith("wrong_given,found,wrong_left,found_share")
    assert [line.split(",")[0] for line in summary[1:]] == ["random", "random + re-check 2"]


def test_a_grid_names_rechecks_and_a_cell_without_keeps_its_key():
    grid = parse_grid({"strategies": ["random"], "seeds": 1, "recheck": [0, 2]})
    cells = grid_cells(grid, "mnist-cnn", "digits")
    assert [c.recheck for c in cells] == [0, 2]
    assert cells[1].run.recheck == 2
    assert parse_grid({"strategies": ["random"]}).recheck == (0,)
    with pytest.raises(GridError, match="recheck: -1 is not a whole number"):
        parse_grid({"recheck": [-1]})
    # The key a cell had before re-checks existed: features, task, run settings but the task.
    cell = Cell("mnist-cnn", "digits", Task.binary("odd"), "random", 4, 0.1, 30, 3)
    old = json.dumps(["k", "binary", [1, 3, 5, 7, 9], "random", 3, 30, 4, 0.1, "converge"])
    assert cell_key("k", cell) == hashlib.sha256(old.encode()).hexdigest()[:20]
    assert cell_key("k", cell._replace(recheck=2)) != cell_key("k", cell)


def test_rows_with_rechecks_count_wrong_answers_per_round():
    rows = simulate_run(FEATURES, "diversity", 0, rounds=8, batch=4, task=ODD, noise=0.3, recheck=1)
    given = np.array([r["wrong_given"] for r in rows])
    found = np.array([r["found"] for r in rows])
    assert (np.diff(given) >= 0).all() and (np.diff(found) >= 0).all()
    assert (np.diff(found) <= 1).all()  # one re-check a round finds at most one


def test_a_sweep_with_rechecks_writes_their_counts_and_summarises_them(tmp_path):
    grid = parse_grid(
        {"strategies": ["random"], "seeds": 2, "rounds": 8, "noise": 0.25, "recheck": [0, 2]}
    )
    run_sweep(grid, tmp_path, lambda backbone, layer: FEATURES, jobs=1)
    rows = read_sweep(tmp_path)
    assert sorted(set(rows["recheck"])) == [0, 2] and rows["cell"].nunique() == 4
    last = rows[rows["round"] == 8].set_index(["recheck", "seed"])
    assert (last.loc[0, "found"] == 0).all()
    assert (last.loc[2, "found"] > 0).all()
    assert (last["wrong_left"] == last["wrong_given"] - last["found"]).all()
    summary = summarise_sweep(rows, sweep_ceilings(grid, lambda b, layer: FEATURES))
    assert list(summary["recheck"]) == [0, 2]
    assert summary["found"].iloc[0] == 0 and summary["found"].iloc[1] > 0
