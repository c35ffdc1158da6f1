"""Sweeps: the grid file, the runs into Parquet, resuming, the summary, the command line, Ray.

The fast tests run small grids on a synthetic feature set (no TensorFlow). The `cluster` tests
start Ray on 127.0.0.1: a local Ray of the sweep's own, and a head and a worker node started
here, each stopped by its process group when the test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synthetic import synthetic_features

from tl_active.cli.main import main
from tl_active.core.strategies import REGISTRY
from tl_active.core.task import Task
from tl_active.errors import TlActiveError
from tl_active.experiments import sweep
from tl_active.experiments.compare import CURVE_COLUMNS, run_comparison, summarise
from tl_active.experiments.sweep import (
    Grid,
    GridError,
    load_grid,
    parse_grid,
    read_sweep,
    run_sweep,
)

ROOT = Path(__file__).resolve().parents[1]
FEATURES = synthetic_features(600, 300)
SMALL = {
    "strategies": ["random", "diversity", "band"],
    "targets": ["odd", "2,3,5,7"],
    "classes": ["0-4"],
    "seeds": 2,
    "rounds": 3,
}
SMALL_CELLS = (2 * 3 + 1 * 2) * 2  # band is left out for classes 0-4


def load(backbone: str, layer: str):
    return FEATURES


def write_grid(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- the grid ---------------------------------------------------------------------------------


def test_a_grid_file_left_empty_takes_compares_defaults(tmp_path):
    grid = load_grid(write_grid(tmp_path / "grid.toml", ""))
    assert grid == Grid()
    assert [t.name() for t in grid.tasks()] == ["odd"]
    assert grid.seeds == (0, 1, 2, 3, 4) and grid.rounds == (30,) and grid.batch_sizes == (4,)
    assert grid.noise == (0.0,) and grid.budgets == (12, 40)
    assert grid.backbone_layers() == [("mnist-cnn", "digits")]
    cells = sweep.grid_cells(grid, "mnist-cnn", "digits")
    assert len(cells) == len(REGISTRY) * 5  # every strategy, 5 seeds


def test_a_grid_file_names_every_key(tmp_path):
    grid = load_grid(
        write_grid(
            tmp_path / "grid.toml",
            """
            strategies = ["diversity", "random", "band"]
            targets = ["odd", "0,6,8,9", "all"]
            classes = ["0-4"]
            backbones = ["mnist-cnn", "mnist-cnn-5to9"]
            layers = ["embedding"]
            batch_sizes = [4, 8]
            noise = [0, 0.1]
            seeds = [3, 7]
            rounds = 20
            budgets = [12, 100]
            """,
        )
    )
    tasks = grid.tasks()
    # "all" is every set of digits but none and all ten: 2^10 - 2, odd and 0,6,8,9 among them.
    assert len(tasks) == 1_022 + 1
    assert tasks[0].name() == "odd" and tasks[1].name() == "0,6,8,9"
    assert tasks[-1].describe() == "classes 0-4"
    assert grid.noise == (0.0, 0.1) and grid.seeds == (3, 7) and grid.rounds == (20,)
    assert grid.backbone_layers() == [("mnist-cnn", "embedding"), ("mnist-cnn-5to9", "embedding")]
    cells = sweep.grid_cells(grid, "mnist-cnn", "embedding")
    # 3 strategies for 1,022 binary questions, 2 for the classes (band is binary only).
    assert len(cells) == (1_022 * 3 + 2) * 2 * 2 * 2
    assert len({sweep.cell_key("k", c) for c in cells}) == len(cells)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("strategies = [", "is not valid TOML"),
        ("strategy = ['random']", "unknown key 'strategy': a grid names strategies, targets"),
        ("strategies = ['nope']", "unknown strategy 'nope'; choose from diversity"),
        ("strategies = []", "strategies is an empty list"),
        ("targets = ['0-9']", "must leave some classes negative"),
        ("targets = [7]", "targets: 7 is not text such as"),
        ("targets = ['sevens']", "is neither 'odd', 'even' nor digits"),
        ("classes = ['3']", "at least two classes"),
        ("classes = ['0-4']\nstrategies = ['band']", "no cell can run"),
        ("batch_sizes = [4, 17]", "batch_sizes: 17 is not a whole number from 1 to 16"),
        ("batch_sizes = [true]", "batch_sizes: True is not a whole number"),
        ("noise = [1.5]", "noise: 1.5 is not a share of answers wrong, from 0 to 1"),
        ("seeds = 0", "seeds = 0: give a count of 1 or more"),
        ("seeds = [-1]", "seeds: -1 is not a whole number of 0 or more"),
        ("rounds = [0]", "rounds: 0 is not a whole number of 1 or more"),
        ("backbones = ['resnet']", "unknown backbone 'resnet'"),
        # Work without bounds: refused before a cell is made, not a MemoryError a minute later.
        ("seeds = 1000000000", "seeds = 1000000000: a sweep runs at most 10,000 seeds"),
        ("seeds = [0, 9223372036854775808]", "seeds: at most 10,000 seeds, each at most"),
        ("rounds = [1000000000]", "rounds: a run has at most 10,000 rounds"),
        (
            "targets = ['all']\nstrategies = ['random', 'margin']\nseeds = 10000\n"
            "batch_sizes = [1, 2, 3, 4]",
            "the grid has 81,760,000 cells, more than the 1,000,000 a sweep runs",
        ),
    ],
)
def test_a_bad_grid_is_refused_with_a_message_naming_the_file_and_the_fault(
    tmp_path, text, message
):
    path = write_grid(tmp_path / "grid.toml", text)
    with pytest.raises(GridError) as error:
        load_grid(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_the_command_line_refuses_a_bad_grid_in_one_line_before_any_work(tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["sweep", str(write_grid(tmp_path / "g.toml", "noise = 2")), "--out", str(out)])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "noise: 2" in err[0]
    assert not out.exists()
    assert main(["sweep", str(tmp_path / "missing.toml"), "--out", str(out)]) == 2
    assert "grid file not found" in capsys.readouterr().err


def test_a_grid_file_that_is_a_fifo_or_huge_is_refused_at_once(tmp_path):
    import os

    fifo = tmp_path / "grid.toml"
    os.mkfifo(fifo)  # no writer: a plain read would block for good
    with pytest.raises(GridError, match="not a regular file"):
        load_grid(fifo)
    huge = write_grid(tmp_path / "huge.toml", "# " + "x" * 2_000_000)
    with pytest.raises(GridError, match="2,000,002 bytes; at most 1,000,000 are taken"):
        load_grid(huge)


# --- the runs ---------------------------------------------------------------------------------


def test_a_sweep_writes_one_row_per_run_per_round_the_same_as_compares(tmp_path):
    grid = parse_grid(SMALL)
    report = run_sweep(grid, tmp_path, load, jobs=1)
    assert (report.cells, report.already_done, report.computed) == (SMALL_CELLS, 0, SMALL_CELLS)

    rows = read_sweep(tmp_path)
    assert list(rows.columns) == sweep.ROW_COLUMNS
    assert list(rows.columns[: len(CURVE_COLUMNS)]) == CURVE_COLUMNS
    assert len(rows) == SMALL_CELLS * 3 and rows["cell"].nunique() == SMALL_CELLS
    assert set(rows["task"]) == {"odd", "2,3,5,7", "classes 0-4"}
    assert set(rows[rows["task"] == "classes 0-4"]["strategy"]) == {"random", "diversity"}
    assert (rows["backbone"] == "mnist-cnn").all() and (rows["layer"] == "digits").all()
    # A cell is the run `compare` makes for the same settings, to the last bit.
    for task in ("2,3,5,7", "classes 0-4"):
        mine = rows[rows["task"] == task]
        theirs = run_comparison(
            FEATURES,
            ["diversity", "random"],
            seeds=2,
            rounds=3,
            task=Task.binary(task) if task[0].isdigit() else Task.multiclass("0-4"),
            jobs=1,
        )
        mine = mine[mine["strategy"] != "band"].sort_values(["strategy", "seed", "round"])
        theirs = theirs.sort_values(["strategy", "seed", "round"])
        pd.testing.assert_frame_equal(
            mine[CURVE_COLUMNS].reset_index(drop=True), theirs.reset_index(drop=True)
        )


def test_the_rows_do_not_depend_on_the_number_of_workers(tmp_path):
    grid = parse_grid(SMALL)
    run_sweep(grid, tmp_path / "one", load, jobs=1)
    run_sweep(grid, tmp_path / "two", load, jobs=2)
    pd.testing.assert_frame_equal(read_sweep(tmp_path / "one"), read_sweep(tmp_path / "two"))


class Stop(Exception):
    pass


def test_an_interrupted_sweep_resumes_computing_only_the_missing_cells(tmp_path, monkeypatch):
    # Both sweeps within one second of one process: their part files must not share a name.
    monkeypatch.setattr(sweep.results.time, "strftime", lambda *args: "20260101T000000")
    grid = parse_grid(SMALL)
    finished: list = []

    def stop_after_five(cell) -> None:
        finished.append(cell)
        if len(finished) == 5:
            raise Stop

    with pytest.raises(Stop):
        run_sweep(grid, tmp_path / "cut", load, jobs=1, on_cell=stop_after_five)
    # What finished before the stop was written down, and only that.
    assert read_sweep(tmp_path / "cut")["cell"].nunique() == 5

    again: list = []
    calls: list = []
    report = run_sweep(
        grid,
        tmp_path / "cut",
        load,
        jobs=1,
        on_cell=again.append,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert (report.already_done, report.computed) == (5, SMALL_CELLS - 5)
    assert calls[0] == (0, SMALL_CELLS - 5) and calls[-1] == (SMALL_CELLS - 5,) * 2
    assert not set(finished) & set(again)  # no cell computed twice
    assert set(finished) | set(again) == set(sweep.grid_cells(grid, "mnist-cnn", "digits"))

    run_sweep(grid, tmp_path / "whole", load, jobs=1)
    pd.testing.assert_frame_equal(read_sweep(tmp_path / "cut"), read_sweep(tmp_path / "whole"))
    assert run_sweep(grid, tmp_path / "cut", load, jobs=1).computed == 0


KILLED_SWEEP = """
import sys, time
sys.path[:0] = [{root!r}, {tests!r}]
from synthetic import synthetic_features
from tl_active.experiments import sweep
features = synthetic_features(600, 300)
sweep.run_sweep(
    sweep.parse_grid({grid!r}), {out!r}, lambda b, l: features, jobs=1, flush_seconds=0,
    on_cell=lambda cell: time.sleep(0.3),
)
"""


def test_a_sweep_killed_with_sigkill_resumes_with_no_finished_cell_computed_again(tmp_path):
    out = tmp_path / "out"
    script = KILLED_SWEEP.format(
        root=str(ROOT), tests=str(ROOT / "tests"), grid=SMALL, out=str(out)
    )
    process = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob(sweep.PART_GLOB))) < 3:
            assert process.poll() is None, "the sweep ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    landed = sweep.landed_cells(out)
    assert 3 <= len(landed) < SMALL_CELLS
    again: list = []
    report = run_sweep(parse_grid(SMALL), out, load, jobs=1, on_cell=again.append)
    assert report.computed == SMALL_CELLS - len(landed) == len(again)
    assert not {sweep.cell_key(FEATURES.key, c) for c in again} & landed
    run_sweep(parse_grid(SMALL), tmp_path / "whole", load, jobs=1)
    pd.testing.assert_frame_equal(read_sweep(out), read_sweep(tmp_path / "whole"))


HOLD_LOCK = """
import sys, time
sys.path[:0] = [{root!r}]
from tl_active.experiments import sweep
with sweep.folder_lock({out!r}):
    print("holding", flush=True)
    time.sleep(120)
"""


def test_a_second_sweep_on_a_folder_is_refused_until_the_first_is_killed(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr("tl_active.data.features.load_features", lambda *args, **kw: FEATURES)
    grid = write_grid(tmp_path / "grid.toml", 'strategies = ["random"]\nseeds = 1\nrounds = 2')
    out = tmp_path / "out"
    out.mkdir()
    script = HOLD_LOCK.format(root=str(ROOT), out=str(out))
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert holder.stdout.readline() == b"holding\n"
        assert main(["sweep", str(grid), "--out", str(out), "--jobs", "1"]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert line == (
            f"error: a sweep is already running in {out.resolve()} (pid {holder.pid} on "
            f"{socket.gethostname()}): wait for it to finish, or give another --out"
        )
        with pytest.raises(sweep.SweepRunningError):
            run_sweep(parse_grid(SMALL), out, load, jobs=1)
        assert not list(out.glob(sweep.PART_GLOB))  # nothing was run
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(10)
    # Killed, its lock went with it: the file is still there, and the sweep goes on.
    assert (out / sweep.LOCK_FILE).exists()
    assert main(["sweep", str(grid), "--out", str(out), "--jobs", "1"]) == 0
    assert "1 cells: 0 already in" in capsys.readouterr().out
    assert (out / sweep.LOCK_FILE).read_text().startswith(f"pid {os.getpid()} on ")


def test_a_grid_that_grows_runs_only_its_new_cells(tmp_path):
    run_sweep(parse_grid(SMALL), tmp_path, load, jobs=1)
    bigger = parse_grid(SMALL | {"seeds": 3, "noise": [0, 0.2]})
    report = run_sweep(bigger, tmp_path, load, jobs=1)
    assert report.cells == SMALL_CELLS // 2 * 3 * 2
    assert report.computed == report.cells - SMALL_CELLS


def test_a_local_sweep_never_imports_ray(tmp_path):
    script = f"""
import sys
sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "tests")!r}]
from synthetic import synthetic_features
from tl_active.experiments import sweep
from tl_active.cli.main import build_parser
build_parser()
features = synthetic_features(300, 100)
grid = sweep.parse_grid({{"strategies": ["random"], "seeds": 1, "rounds": 1}})
assert sweep.run_sweep(grid, {str(tmp_path)!r}, lambda b, l: features, jobs=1).computed == 1
assert "ray" not in sys.modules, "ray was imported"
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


# --- what a sweep says ------------------------------------------------------------------------


def test_the_summary_of_a_grid_cell_is_compares_from_its_mean_curve_with_the_seeds_spread():
    curves = pd.DataFrame(
        [
            ("a", seed, r, 4 * r, acc, 0.0, 0.0, 0.0, *[np.nan] * 5, False, np.nan, np.nan)
            for seed, accs in enumerate([(0.5, 0.9, 1.0), (0.5, 0.7, 1.0)])
            for r, acc in enumerate(accs, start=1)
        ],
        columns=CURVE_COLUMNS,
    )
    keys = dict(backbone="b", layer="l", task="odd", batch_size=4, noise=0.0, rounds=3, cell="x")
    rows = curves.assign(**keys)
    ceilings = pd.DataFrame(
        [("b", "l", "odd", 1.0)], columns=["backbone", "layer", "task", "ceiling"]
    )
    summary = sweep.summarise_sweep(rows, ceilings, budgets=(8, 40))
    theirs = summarise(curves, 1.0, budgets=(8, 40)).iloc[0]

    assert list(summary.columns) == sweep.summary_columns((8, 40))
    row = summary.iloc[0]
    assert row["seeds"] == 2 and row["ceiling"] == 1.0 and row["strategy"] == "a"
    assert row["labels_to_99pct_of_ceiling"] == theirs["labels_to_99pct_of_ceiling"] == 12
    assert row["auc"] == pytest.approx(theirs["auc"]) == pytest.approx((0.65 + 0.9) / 2)
    assert row["accuracy_at_8"] == pytest.approx(0.8) == theirs["accuracy_at_8"]
    assert pd.isna(row["accuracy_at_40"])
    # Each seed's own: accuracy at 8 labels 0.9 and 0.7; AUC (0.7 + 0.95) / 2 and (0.6 + 0.85) / 2.
    assert row["accuracy_at_8_sd"] == pytest.approx(np.std([0.9, 0.7], ddof=1))
    assert row["auc_sd"] == pytest.approx(np.std([0.825, 0.725], ddof=1))


def test_the_summary_says_where_the_stopping_rule_fired_as_compares_does():
    # Strategy a: seed 0 stops at round 2 (8 labels), seed 1 at round 3; b: only seed 0 stops.
    fires = {("a", 0): 2, ("a", 1): 3, ("b", 0): 1, ("b", 1): 99}
    curves = pd.DataFrame(
        [
            (
                name,
                seed,
                r,
                4 * r,
                acc,
                0.0,
                0.0,
                0.0,
                *[np.nan] * 5,
                r >= fires[name, seed],
                np.nan,
                np.nan,
            )
            for name in ("a", "b")
            for seed, accs in enumerate([(0.5, 0.9, 1.0), (0.5, 0.7, 1.0)])
            for r, acc in enumerate(accs, start=1)
        ],
        columns=CURVE_COLUMNS,
    )
    keys = dict(backbone="b", layer="l", task="odd", batch_size=4, noise=0.0, rounds=3, cell="x")
    ceilings = pd.DataFrame(
        [("b", "l", "odd", 1.0)], columns=["backbone", "layer", "task", "ceiling"]
    )
    summary = sweep.summarise_sweep(curves.assign(**keys), ceilings).set_index("strategy")
    theirs = summarise(curves, 1.0).set_index("strategy")

    a, b = summary.loc["a"], summary.loc["b"]
    assert a["labels_at_stop"] == theirs.loc["a", "labels_at_stop"] == 10  # (8 + 12) / 2
    assert a["accuracy_at_stop"] == pytest.approx(theirs.loc["a", "accuracy_at_stop"])
    assert a["accuracy_at_stop"] == pytest.approx(0.95)  # (0.9 + 1.0) / 2
    assert a["labels_at_stop_sd"] == pytest.approx(np.std([8, 12], ddof=1))
    assert a["accuracy_at_stop_sd"] == pytest.approx(np.std([0.9, 1.0], ddof=1))
    assert a["seeds_stopped"] == 2 and b["seeds_stopped"] == 1
    # Not in every seed: no mean to give, as compare's summary says.
    assert pd.isna(b["labels_at_stop"]) and pd.isna(theirs.loc["b", "labels_at_stop"])
    assert pd.isna(b["accuracy_at_stop"]) and pd.isna(b["accuracy_at_stop_sd"])


def test_the_command_line_sweeps_resumes_and_writes_the_summary_and_plot(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr("tl_active.data.features.load_features", lambda *args, **kw: FEATURES)
    grid = write_grid(
        tmp_path / "grid.toml",
        """
        strategies = ["random", "representative"]
        targets = ["odd", "even"]
        seeds = 2
        rounds = 4
        budgets = [8, 16]
        """,
    )
    out = tmp_path / "out"
    assert main(["sweep", str(grid), "--out", str(out), "--jobs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "8 cells: 0 already in" in printed and "8 run now" in printed
    assert "representative" in printed

    assert len(list(out.glob(sweep.PART_GLOB))) == 1  # made one at the end
    assert pd.read_parquet(out).shape == (8 * 4, len(sweep.ROW_COLUMNS))  # the folder is the data
    summary = pd.read_csv(out / sweep.SUMMARY_FILE)
    assert len(summary) == 4 and set(summary["task"]) == {"odd", "even"}
    assert summary["accuracy_at_16"].between(0.5, 1).all()
    ceilings = pd.read_csv(out / sweep.CEILINGS_FILE)
    assert list(ceilings["task"]) == ["odd", "even"] and ceilings["ceiling"].between(0.8, 1).all()
    assert (out / sweep.PLOT_FILE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert main(["sweep", str(grid), "--out", str(out), "--jobs", "1"]) == 0
    assert "8 cells: 8 already in" in capsys.readouterr().out


def test_an_address_without_the_ray_backend_is_refused(tmp_path, capsys):
    grid = write_grid(tmp_path / "grid.toml", "seeds = 1")
    status = main(["sweep", str(grid), "--out", str(tmp_path), "--address", "127.0.0.1:6379"])
    assert status == 2
    assert "--backend ray" in capsys.readouterr().err


def test_a_damaged_part_file_is_named(tmp_path):
    (tmp_path / "part-0.parquet").write_bytes(b"not parquet")
    with pytest.raises(TlActiveError, match="part-0.parquet is not a part file"):
        read_sweep(tmp_path)


# --- on Ray -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_env(monkeypatch):
    """Ray's files in a short temporary folder (its socket paths must stay short), no usage
    statistics, no token, and this checkout importable by every worker."""
    folder = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    env = {
        "RAY_TMPDIR": folder,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "disabled",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield folder
    subprocess.run(["rm", "-rf", folder], check=False)


def start_node(args: list[str], log: Path) -> subprocess.Popen:
    """`ray start --block ...` in a process group of its own, which ends every process it starts."""
    ray = Path(sys.executable).with_name("ray")
    with open(log, "w") as handle:
        return subprocess.Popen(
            [str(ray), "start", "--block", "--disable-usage-stats", *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_node(process: subprocess.Popen) -> None:
    """The node's whole process group (its GCS, raylet and workers), by the group's id."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)


@pytest.mark.cluster
def test_local_and_a_ray_cluster_of_a_head_and_a_worker_write_the_same_rows(tmp_path, ray_env):
    import ray

    grid = parse_grid(SMALL)
    run_sweep(grid, tmp_path / "local", load, jobs=2)

    port = free_port()
    address = f"127.0.0.1:{port}"
    head = start_node(
        [
            "--head",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=1",
            "--include-dashboard=false",
            f"--temp-dir={ray_env}",
        ],
        tmp_path / "head.log",
    )
    nodes = [head]
    try:
        deadline = time.monotonic() + 240
        while "Ray runtime started" not in (tmp_path / "head.log").read_text():
            assert head.poll() is None, (tmp_path / "head.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        nodes.append(
            start_node(
                [f"--address={address}", "--node-ip-address=127.0.0.1", "--num-cpus=1"],
                tmp_path / "worker.log",
            )
        )
        ray.init(address=address, logging_level="ERROR")
        try:
            while len([n for n in ray.nodes() if n["Alive"]]) < 2:
                assert time.monotonic() < deadline, ray.nodes()
                time.sleep(0.2)
            # Ray advertises a node by the machine's own address even when told 127.0.0.1 (a
            # cluster of loopback nodes is refused); it is one machine either way.
            assert len({n["NodeManagerAddress"] for n in ray.nodes()}) == 1
        finally:
            ray.shutdown()

        report = run_sweep(grid, tmp_path / "ray", load, backend="ray", address=address)
        assert report.computed == SMALL_CELLS
    finally:
        for node in reversed(nodes):
            stop_node(node)
    pd.testing.assert_frame_equal(read_sweep(tmp_path / "local"), read_sweep(tmp_path / "ray"))
    assert not ray.is_initialized()


@pytest.mark.cluster
def test_the_ray_backend_without_an_address_starts_and_stops_a_ray_of_its_own(tmp_path, ray_env):
    import ray

    grid = parse_grid({"strategies": ["random", "diversity"], "seeds": 2, "rounds": 3})
    run_sweep(grid, tmp_path / "local", load, jobs=1)
    report = run_sweep(grid, tmp_path / "ray", load, backend="ray", jobs=2)
    assert report.computed == 4
    assert not ray.is_initialized()
    pd.testing.assert_frame_equal(read_sweep(tmp_path / "local"), read_sweep(tmp_path / "ray"))


# --- the compare page -------------------------------------------------------------------------


def slice_caption(at) -> str:
    (caption,) = [c.value for c in at.caption if "in this slice" in c.value]
    return caption


def test_the_compare_page_opens_a_sweep_and_draws_a_slice(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.syspath_prepend(str(ROOT))  # ui.support sits beside app.py
    out = tmp_path / "sweep"
    grid = parse_grid(SMALL | {"noise": [0, 0.5]})
    run_sweep(grid, out, load, jobs=1)
    sweep.finish_sweep(out, grid, load)

    at = AppTest.from_file(str(ROOT / "ui" / "pages" / "compare.py"), default_timeout=60)
    at.run()
    at.radio(key="cmp_source").set_value("Open a sweep's results").run()
    assert not at.exception and "Give the folder" in at.info[0].value

    # A folder that is not there is said, escaped: its name cannot become a link.
    at.text_input(key="sweep_path").set_value("[x](http://example.com) missing").run()
    message = at.error[0].value
    assert message.startswith("no sweep results in \\[x\\]\\(http") and "](" not in message

    at.text_input(key="sweep_path").set_value(str(out)).run()
    assert not at.exception and not at.error
    # At first: every strategy, the first question and noise level.
    tasks, strategies = at.multiselect[0], at.multiselect[1]
    assert strategies.value == ["band", "diversity", "random"]
    assert tasks.value == ["2,3,5,7"] and at.multiselect[2].value == [0.0]
    assert "6 runs of 32 in this slice" in slice_caption(at)
    ceilings = pd.read_csv(out / sweep.CEILINGS_FILE, dtype={"task": str}).set_index("task")
    assert f"Frozen-head ceiling: {ceilings.loc['2,3,5,7', 'ceiling']:.2%}." in slice_caption(at)
    # The band, the lines, the ceiling's rule and its label.
    assert len(json.loads(at.get("vega_lite_chart")[0].proto.spec)["layer"]) == 4
    summary = at.dataframe[0].value
    assert len(summary) == 3  # the slice's grid cells in the summary
    written = pd.read_csv(out / sweep.SUMMARY_FILE, dtype={"task": str})
    written = written[(written["task"] == "2,3,5,7") & (written["noise"] == 0)]
    # The stopping rule's columns are there, accuracies in percent.
    assert {"labels_at_stop", "accuracy_at_stop_sd", "seeds_stopped"} <= set(summary.columns)
    assert summary["seeds_stopped"].tolist() == written["seeds_stopped"].tolist()
    assert np.allclose(
        summary["accuracy_at_stop"], 100 * written["accuracy_at_stop"], equal_nan=True
    )

    # Lines by noise: both levels, averaged over the strategies and the two questions chosen.
    at.multiselect[0].set_value(["2,3,5,7", "odd"]).run()
    at.multiselect[2].set_value([0.0, 0.5]).run()
    at.selectbox[0].set_value("noise").run()
    assert not at.exception
    assert "24 runs of 32" in slice_caption(at) and "mean of 2 questions" in slice_caption(at)
    assert "lines: noise" in slice_caption(at)


@pytest.mark.parametrize(
    ("name", "cells"), [("issue-grid.toml", 18_396), ("example-grid.toml", 1_536)]
)
def test_the_shipped_grid_files_parse_to_their_cells(name, cells):
    grid = load_grid(ROOT / "docs" / "sweep" / name)
    assert (
        sum(len(sweep.grid_cells(grid, b, layer)) for b, layer in grid.backbone_layers()) == cells
    )


def test_the_example_grid_uses_every_key():
    """docs/sweep/example-grid.toml is the grid the docs point to as using every key."""
    import tomllib

    with open(ROOT / "docs" / "sweep" / "example-grid.toml", "rb") as handle:
        keys = set(tomllib.load(handle))
    assert keys == set(sweep.GRID_KEYS)
    grid = load_grid(ROOT / "docs" / "sweep" / "example-grid.toml")
    assert grid.recheck == (0, 2) and grid.head == ("plain", "pool")
    assert grid.pick_share == (1.0, 0.9)


# --- on the real features ---------------------------------------------------------------------


@pytest.mark.model
def test_a_small_sweep_on_the_shipped_cnn(tmp_path):
    from tl_active.data.features import load_features

    grid = parse_grid(
        {"strategies": ["diversity", "random"], "targets": ["odd", "0,6,8,9"], "seeds": 2,
         "rounds": 5}
    )  # fmt: skip
    features = load_features("mnist-cnn", "digits")
    report = run_sweep(grid, tmp_path, lambda b, layer: features, jobs=2)
    assert report.computed == 8
    summary = sweep.finish_sweep(tmp_path, grid, lambda b, layer: features).set_index(
        ["task", "strategy"]
    )
    # The README's odd/even figure: the default strategy at the ceiling by 12 labels.
    assert summary.loc[("odd", "diversity"), "accuracy_at_12"] >= 0.99
    assert summary.loc[("odd", "diversity"), "ceiling"] == pytest.approx(0.9975, abs=0.002)
    assert (summary["auc"] > 0.8).all()


def test_binary_questions_share_one_clustering_and_a_fork_keeps_its_task_views():
    features = synthetic_features(300, 100)
    odd = features.task_data(Task.binary("odd"))
    clusters = odd.clusters
    fork = features.fork()
    primes = fork.task_data(Task.binary("2,3,5,7"))
    assert primes.clusters is clusters  # made once, for every binary question
    classes = fork.task_data(Task.multiclass("0-4"))
    assert len(classes.clusters) == classes.size != len(clusters)
    # The fork's new views are its own; the set it came from keeps only its one.
    assert list(features._tasks) == [Task.binary("odd")]
    assert fork.pool is features.pool


def test_the_ray_backend_without_ray_installed_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an import of a missing package meets
    with pytest.raises(TlActiveError, match=r"needs Ray: pip install \.\[cluster\]"):
        run_sweep(parse_grid({"strategies": ["random"], "seeds": 1, "rounds": 1}), tmp_path,
                  load, backend="ray")  # fmt: skip
    assert not list(tmp_path.glob(sweep.PART_GLOB))
