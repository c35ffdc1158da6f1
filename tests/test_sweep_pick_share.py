"""The sweep's `pick_share` key: each seed picks from its own share of the pool, as
`compare --pick-share`.

On the whole pool a strategy that draws nothing at random makes the same picks at every seed,
so a sweep's seeds of it are one run; with a share they are different runs. A grid without
the key keeps the cell keys and rows it had before the key existed.
"""

from __future__ import annotations

import hashlib
import json

import pyarrow.parquet as pq
import pytest
from synthetic import synthetic_features

from tl_active.core.task import Task
from tl_active.experiments.compare import simulate_run
from tl_active.experiments.sweep import (
    parse_grid,
    read_sweep,
    run_sweep,
    summarise_sweep,
    sweep_ceilings,
)
from tl_active.experiments.sweep.grid import Cell, GridError, cell_key, grid_cells
from tl_active.experiments.sweep.results import ROW_COLUMNS

FEATURES = synthetic_features(300, 150)
GRID = {"strategies": ["diversity"], "seeds": 2, "rounds": 4, "pick_share": [1.0, 0.8]}


def load(backbone: str, layer: str):
    return FEATURES


def test_a_grid_sweeps_shares_of_the_pool_and_runs_each_as_compare_does(tmp_path):
    grid = parse_grid(GRID)
    assert grid.pick_share == (1.0, 0.8)
    cells = grid_cells(grid, "mnist-cnn", "digits")
    assert [(c.pick_share, c.seed) for c in cells] == [(1.0, 0), (1.0, 1), (0.8, 0), (0.8, 1)]
    assert cells[2].run.pick_share == 0.8 and len({cell_key("k", c) for c in cells}) == 4

    run_sweep(grid, tmp_path, load, jobs=1)
    rows = read_sweep(tmp_path)
    assert list(rows.columns) == ROW_COLUMNS
    assert sorted(set(rows["pick_share"])) == [0.8, 1.0]
    odd = Task.binary("odd")
    for share in (1.0, 0.8):
        for seed in (0, 1):
            run = rows[(rows["pick_share"] == share) & (rows["seed"] == seed)]
            expected = simulate_run(FEATURES, "diversity", seed, 4, 4, odd, pick_share=share)
            assert list(run["accuracy"]) == [r["accuracy"] for r in expected]
    # diversity's two seeds are one run on the whole pool and two on their shares.
    curves = {
        (share, seed): tuple(run["accuracy"])
        for (share, seed), run in rows.groupby(["pick_share", "seed"])
    }
    assert curves[(1.0, 0)] == curves[(1.0, 1)]
    assert curves[(0.8, 0)] != curves[(0.8, 1)]
    summary = summarise_sweep(rows, sweep_ceilings(grid, load))
    assert sorted(summary["pick_share"]) == [0.8, 1.0]
    whole = summary[summary["pick_share"] == 1.0].iloc[0]
    assert whole["auc_sd"] == 0.0  # one run twice
    assert summary[summary["pick_share"] == 0.8].iloc[0]["auc_sd"] > 0.0


def test_a_cell_on_the_whole_pool_keeps_its_key_and_old_folders_read_as_the_whole_pool(tmp_path):
    cell = Cell("mnist-cnn", "digits", Task.binary("odd"), "random", 4, 0.1, 30, 3)
    old = json.dumps(["k", "binary", [1, 3, 5, 7, 9], "random", 3, 30, 4, 0.1, "converge"])
    assert cell_key("k", cell) == hashlib.sha256(old.encode()).hexdigest()[:20]
    assert cell_key("k", cell._replace(pick_share=1.0)) == cell_key("k", cell)
    assert cell_key("k", cell._replace(pick_share=0.9)) != cell_key("k", cell)
    # A folder written before the key: its part files have no pick_share column.
    grid = parse_grid({"strategies": ["random"], "seeds": 2, "rounds": 3})
    run_sweep(grid, tmp_path, load, jobs=1)
    for part in tmp_path.glob("part-*.parquet"):
        table = pq.read_table(part)
        pq.write_table(table.drop(["pick_share"]), part)
    rows = read_sweep(tmp_path)
    assert set(rows["pick_share"]) == {1.0}


@pytest.mark.parametrize("bad", [0, -0.5, 1.5, True, "0.9", [], [0.9, 2]])
def test_a_share_outside_zero_to_one_is_refused(bad):
    with pytest.raises(GridError, match="pick_share"):
        parse_grid({"strategies": ["random"], "pick_share": bad})
