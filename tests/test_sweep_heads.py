"""The sweep's `head` key: plain and pool-taught heads swept side by side, as `compare --head`.

A grid without the key runs the plain head with the cell keys and rows it had before the key
existed, so a folder of earlier results still resumes without running a cell again.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from synthetic import synthetic_features

from tl_active.cli.main import main
from tl_active.core.pool_teacher import POOL_RULES
from tl_active.core.task import Task
from tl_active.experiments.compare import simulate_run
from tl_active.experiments.sweep import (
    landed_cells,
    parse_grid,
    read_sweep,
    run_sweep,
    summarise_sweep,
    sweep_ceilings,
)
from tl_active.experiments.sweep.grid import Cell, GridError, cell_key, grid_cells
from tl_active.experiments.sweep.results import ROW_COLUMNS, SUMMARY_FILE

FEATURES = synthetic_features(300, 150)
GRID = {"strategies": ["margin"], "seeds": 2, "rounds": 4, "head": ["plain", "pool"]}


def load(backbone: str, layer: str):
    return FEATURES


def test_a_grid_names_heads_and_runs_each_as_compare_does(tmp_path):
    grid = parse_grid(GRID)
    assert grid.head == ("plain", "pool")
    cells = grid_cells(grid, "mnist-cnn", "digits")
    assert [(c.head, c.seed) for c in cells] == [
        ("plain", 0),
        ("plain", 1),
        ("pool", 0),
        ("pool", 1),
    ]
    assert cells[2].run.head == "pool" and cells[2].run.head_mode == "converge"
    assert len({cell_key("k", c) for c in cells}) == 4

    run_sweep(grid, tmp_path, load, jobs=1)
    rows = read_sweep(tmp_path)
    assert list(rows.columns) == ROW_COLUMNS
    assert sorted(set(rows["head"])) == ["plain", "pool"] and rows["cell"].nunique() == 4
    for head in ("plain", "pool"):
        run = rows[(rows["head"] == head) & (rows["seed"] == 1)]
        expected = simulate_run(FEATURES, "margin", 1, 4, 4, Task.binary("odd"), head=head)
        assert list(run["accuracy"]) == [r["accuracy"] for r in expected]
        assert list(run["n_labels"]) == [4, 8, 12, 16]
    # The two heads pick differently from the second round on: the pool-taught head is taught.
    plain, pool = (rows[(rows["head"] == h) & (rows["seed"] == 0)] for h in ("plain", "pool"))
    assert list(plain["accuracy"]) != list(pool["accuracy"])

    summary = summarise_sweep(rows, sweep_ceilings(grid, load))
    assert list(summary["head"]) == ["plain", "pool"] and list(summary["seeds"]) == [2, 2]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("converge", "head: unknown head 'converge'; choose from plain, pool"),
        (["plain", "Pool"], "head: unknown head 'Pool'; choose from plain, pool"),
        ([1], 'head: 1 is not text such as "plain" or "pool"'),
        ([], "head is an empty list"),
    ],
)
def test_a_bad_head_is_one_line_naming_the_choices(value, message):
    with pytest.raises(GridError) as error:
        parse_grid({"head": value})
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_a_grid_without_heads_keeps_its_cell_keys_and_rows(tmp_path):
    assert parse_grid({}).head == ("plain",)
    # The key a cell had before heads could be swept: no head named for the plain one.
    cell = Cell("mnist-cnn", "digits", Task.binary("odd"), "random", 4, 0.1, 30, 3)
    old = json.dumps(["k", "binary", [1, 3, 5, 7, 9], "random", 3, 30, 4, 0.1, "converge"])
    assert cell_key("k", cell) == hashlib.sha256(old.encode()).hexdigest()[:20]
    assert cell_key("k", cell._replace(head="plain")) == cell_key("k", cell)
    assert cell_key("k", cell._replace(head="pool")) != cell_key("k", cell)
    # A pool-taught cell names its rules: one computed under the first rules (its key named
    # the head alone) is not taken for one of today's, and is run again.
    first_rules = json.dumps(
        ["k", "binary", [1, 3, 5, 7, 9], "random", 3, 30, 4, 0.1, "converge", "pool"]
    )
    rules = json.dumps(
        ["k", "binary", [1, 3, 5, 7, 9], "random", 3, 30, 4, 0.1, "converge", "pool", POOL_RULES]
    )
    assert POOL_RULES == 5
    pooled = cell_key("k", cell._replace(head="pool"))
    assert pooled == hashlib.sha256(rules.encode()).hexdigest()[:20]
    assert pooled != hashlib.sha256(first_rules.encode()).hexdigest()[:20]
    rechecked = json.dumps(["k", "binary", [1, 3, 5, 7, 9], "random", 3, 30, 4, 0.1, "converge", 2])
    assert (
        cell_key("k", cell._replace(recheck=2))
        == hashlib.sha256(rechecked.encode()).hexdigest()[:20]
    )

    # A folder written before the key: its part files have no head column. It reads as the
    # plain head's, and the same grid finds every cell there.
    grid = parse_grid({"strategies": ["random"], "seeds": 2, "rounds": 3})
    run_sweep(grid, tmp_path, load, jobs=1)
    for part in tmp_path.glob("part-*.parquet"):
        table = pq.read_table(part)
        pq.write_table(table.drop_columns(["head"]), part)
    rows = read_sweep(tmp_path)
    assert set(rows["head"]) == {"plain"} and len(rows) == 2 * 3
    assert landed_cells(tmp_path) == {cell_key(FEATURES.key, c) for c in grid_cells(grid, "a", "b")}
    assert run_sweep(grid, tmp_path, load, jobs=1).computed == 0
    summary = summarise_sweep(rows.drop(columns="head"), sweep_ceilings(grid, load))
    assert list(summary["head"]) == ["plain"]


def test_the_command_line_writes_the_head_into_the_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("tl_active.data.features.load_features", lambda *args, **kw: FEATURES)
    grid = tmp_path / "grid.toml"
    grid.write_text('strategies = ["margin"]\nseeds = 2\nrounds = 4\nhead = ["plain", "pool"]\n')
    out = tmp_path / "out"
    assert main(["sweep", str(grid), "--out", str(out), "--jobs", "1"]) == 0
    assert "4 cells: 0 already in" in capsys.readouterr().out
    summary = pd.read_csv(out / SUMMARY_FILE)
    assert list(summary["head"]) == ["plain", "pool"]
    assert sorted(set(pd.read_parquet(out)["head"])) == ["plain", "pool"]
