"""Strategy sweeps: a grid of oracle runs, on this machine or a Ray cluster, into Parquet.

A grid (a TOML file, `load_grid`) names lists of strategies, questions, backbones and layers,
batch sizes, oracle noise levels, seeds and rounds; every combination is a cell, and every cell
is one oracle run, `compare.oracle_run`, the function `compare` runs too. Cells go to joblib's
workers (`local`) or to Ray tasks (`ray`, imported only then). Each backbone + layer's features
are loaded once, here, with the clusterings the strategies read, and shared with the workers:
Ray keeps one copy in its object store, joblib memory-maps the arrays; cells travel in chunks,
so the sharing is paid per chunk, never per task.

The results are a Parquet data set: a folder of part files, one row per run per round, with the
columns of `curves.csv`, the grid's keys and `cell` (a key naming the run: its features'
checksum and every setting). Finished cells are written every few seconds, each part file
written beside its name and renamed, so a killed sweep loses at most the last seconds' cells;
started again on the same folder it reads which cells are there and runs only the others (a
grid that grows runs only its new cells). Runs are seeded, so the rows do not depend on the
backend or the number of workers; `read_sweep` gives them in one order.

One sweep writes into a folder at a time: it holds an `flock` on the folder's `_sweep.lock`
(`folder_lock`), which the kernel releases when the process ends, killed or not.

When every cell is in, the folder also gets `_summary.csv` (per grid cell, over its seeds:
labels to 99 % of the ceiling, accuracy at the budgets, AUC, where the stopping rule fired, and
their spread), `_ceilings.csv`
and `_sweep.png`. Their names start with `_`, which Parquet readers skip, so pandas, pyarrow or
DuckDB read the folder as the runs alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import secrets
import socket
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from tl_active.core.strategies import BINARY_ONLY, STRATEGIES
from tl_active.core.task import Task
from tl_active.data.backbones import default_layer, resolve_backbone
from tl_active.data.features import FeatureSet
from tl_active.errors import TlActiveError
from tl_active.experiments.compare import (
    BUDGETS,
    CURVE_COLUMNS,
    OracleRun,
    curve_figures,
    oracle_run,
)
from tl_active.paths import check_writable_folder
from tl_active.sessions.session import MAX_BATCH, frozen_head_ceiling

ALL_TARGETS = "all"  # every binary question: each set of classes but none and all
GRID_KEYS = (
    "strategies",
    "targets",
    "classes",
    "backbones",
    "layers",
    "batch_sizes",
    "noise",
    "seeds",
    "rounds",
    "budgets",
)
# A grid cell: what a run is, but for its seed (the summary is over seeds).
GROUP_COLUMNS = ["backbone", "layer", "task", "strategy", "batch_size", "noise", "rounds"]
ROW_COLUMNS = [*CURVE_COLUMNS, "backbone", "layer", "task", "batch_size", "noise", "rounds", "cell"]
ORDER = [*GROUP_COLUMNS, "seed", "round"]
PART_GLOB = "part-*.parquet"
SUMMARY_FILE, CEILINGS_FILE, PLOT_FILE = "_summary.csv", "_ceilings.csv", "_sweep.png"
LOCK_FILE = "_sweep.lock"
FLUSH_SECONDS = 2.0
MAX_CHUNK = 32  # cells per task sent to a worker: a few seconds of work at most

Progress = Callable[[int, int], None]
Loader = Callable[[str, str], FeatureSet]


class GridError(TlActiveError):
    """A sweep's grid file cannot be read, or names something that cannot run."""


class SweepRunningError(TlActiveError):
    """Another sweep is writing into the folder."""


# --- the grid ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """A sweep's lists; an empty one takes `compare`'s default (see `load_grid`)."""

    strategies: tuple[str, ...] = ()  # empty: every strategy each question allows
    targets: tuple[str, ...] = ()  # binary questions; with no classes either: "odd"
    classes: tuple[str, ...] = ()  # K-class questions, such as "0-4"
    backbones: tuple[str, ...] = ()  # empty: the default backbone
    layers: tuple[str, ...] = ()  # empty: each backbone's own layer
    batch_sizes: tuple[int, ...] = (4,)
    noise: tuple[float, ...] = (0.0,)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    rounds: tuple[int, ...] = (30,)
    budgets: tuple[int, ...] = BUDGETS

    def tasks(self, n_classes: int = 10) -> list[Task]:
        """Every question of the grid, each once: binary targets first, then class sets."""
        tasks: list[Task] = []
        for target in self.targets or (() if self.classes else ("odd",)):
            if target == ALL_TARGETS:
                tasks.extend(
                    Task.binary(positive, n_classes)
                    for size in range(1, n_classes)
                    for positive in itertools.combinations(range(n_classes), size)
                )
            else:
                tasks.append(Task.binary(target, n_classes))
        tasks.extend(Task.multiclass(classes, n_classes) for classes in self.classes)
        return list(dict.fromkeys(tasks))

    def backbone_layers(self) -> list[tuple[str, str]]:
        """Each (backbone, layer) pair, backbones as named (the default one resolved)."""
        backbones = [resolve_backbone(name or None) for name in self.backbones or ("",)]
        return list(
            dict.fromkeys(
                (backbone.name if not name else name, layer)
                for name, backbone in zip(self.backbones or ("",), backbones)
                for layer in self.layers or (default_layer(backbone),)
            )
        )


def _items(name: str, value: object) -> list:
    """A key's value as a list: a list as it is, a single value as a list of one."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise GridError(f"{name} is an empty list: name at least one, or leave {name} out")
    return items


def _whole_numbers(name: str, value: object, low: int, high: int | None = None) -> tuple[int, ...]:
    items = _items(name, value)
    bad = [
        v
        for v in items
        if not isinstance(v, int) or isinstance(v, bool) or v < low or (high and v > high)
    ]
    if bad:
        span = f"from {low} to {high}" if high else f"of {low} or more"
        raise GridError(f"{name}: {bad[0]!r} is not a whole number {span}")
    return tuple(dict.fromkeys(items))


def _texts(name: str, value: object, example: str) -> tuple[str, ...]:
    items = _items(name, value)
    bad = [v for v in items if not isinstance(v, str) or not v.strip()]
    if bad:
        raise GridError(f"{name}: {bad[0]!r} is not text such as {example}")
    return tuple(dict.fromkeys(v.strip() for v in items))


def parse_grid(data: dict) -> Grid:
    """A grid from a TOML table's keys, each checked; a `GridError` names the first bad one."""
    unknown = [key for key in data if key not in GRID_KEYS]
    if unknown:
        raise GridError(f"unknown key {unknown[0]!r}: a grid names {', '.join(GRID_KEYS)}")
    values: dict = {}
    if "strategies" in data:
        values["strategies"] = _texts("strategies", data["strategies"], '"diversity"')
        for name in values["strategies"]:
            if name not in STRATEGIES:
                raise GridError(
                    f"strategies: unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}"
                )
    for key, example in (("targets", '"odd", "even" or "0,6,8,9"'), ("classes", '"0-4"')):
        if key in data:
            values[key] = _texts(key, data[key], example)
    for key in ("backbones", "layers"):
        if key in data:
            values[key] = _texts(
                key, data[key], '"mnist-cnn"' if key == "backbones" else '"digits"'
            )
    if "batch_sizes" in data:
        values["batch_sizes"] = _whole_numbers("batch_sizes", data["batch_sizes"], 1, MAX_BATCH)
    if "noise" in data:
        noise = _items("noise", data["noise"])
        bad = [
            v
            for v in noise
            if not isinstance(v, int | float) or isinstance(v, bool) or not 0 <= v <= 1
        ]
        if bad:
            raise GridError(f"noise: {bad[0]!r} is not a share of answers wrong, from 0 to 1")
        values["noise"] = tuple(dict.fromkeys(float(v) for v in noise))
    if "seeds" in data:
        seeds = data["seeds"]
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            if seeds < 1:
                raise GridError(f"seeds = {seeds}: give a count of 1 or more, or a list of seeds")
            values["seeds"] = tuple(range(seeds))  # a count, as compare's --seeds
        else:
            values["seeds"] = _whole_numbers("seeds", seeds, 0)
    for key in ("rounds", "budgets"):
        if key in data:
            values[key] = _whole_numbers(key, data[key], 1)
    grid = Grid(**values)
    try:
        for backbone in grid.backbones:
            resolve_backbone(backbone)
        tasks = grid.tasks()
    except ValueError as error:
        raise GridError(str(error)) from None
    if not any(cell_strategies(grid, task) for task in tasks):
        raise GridError(
            "no cell can run: every strategy named needs a binary question; add targets or "
            "other strategies"
        )
    return grid


def load_grid(path: Path | str) -> Grid:
    """The grid of a TOML file; any fault is a `GridError` that names the file and the key.

    Keys: `strategies`, `targets` (each "odd", "even", digits such as "0,6,8,9", or "all" for
    every binary question), `classes` (such as "0-4"), `backbones`, `layers`, `batch_sizes`,
    `noise`, `seeds` (a count N for seeds 0 to N-1, or a list), `rounds` and `budgets` (the
    summary's label counts). A key left out takes `compare`'s default.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GridError(f"grid file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise GridError(f"cannot read the grid file {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise GridError(f"{path} is not valid TOML: {error}") from None
    try:
        return parse_grid(data)
    except GridError as error:
        raise GridError(f"{path}: {error}") from None


def cell_strategies(grid: Grid, task: Task) -> list[str]:
    """The grid's strategies that can ask this question (binary-only ones skip K classes)."""
    names = grid.strategies or tuple(STRATEGIES)
    return [s for s in names if task.is_binary or s not in BINARY_ONLY]


class Cell(NamedTuple):
    """One oracle run of the grid."""

    backbone: str
    layer: str
    task: Task
    strategy: str
    batch_size: int
    noise: float
    rounds: int
    seed: int

    @property
    def run(self) -> OracleRun:
        return OracleRun(
            self.strategy, self.seed, self.rounds, self.batch_size, self.task, self.noise
        )


def grid_cells(grid: Grid, backbone: str, layer: str, n_classes: int = 10) -> list[Cell]:
    """The cells of one backbone + layer, in the grid's order."""
    return [
        Cell(backbone, layer, task, strategy, batch, noise, rounds, seed)
        for task in grid.tasks(n_classes)
        for strategy in cell_strategies(grid, task)
        for batch in grid.batch_sizes
        for noise in grid.noise
        for rounds in grid.rounds
        for seed in grid.seeds
    ]


def cell_key(features_key: str, cell: Cell) -> str:
    """A short key for a run: its features' checksum and every setting (not the names given)."""
    text = json.dumps(
        [features_key, cell.task.kind, list(cell.task.classes), *cell.run[:4], *cell.run[5:]]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def task_label(task: Task, class_names: Sequence[str] | None = None) -> str:
    """The `task` column: "odd", "even", "0,6,8,9" for binary; "classes 0-4" for K classes."""
    return task.name(class_names) if task.is_binary else task.describe(class_names)


# --- the runs ---------------------------------------------------------------------------------


def _run_cells(features: FeatureSet, cells: list[Cell]) -> list[tuple[Cell, list[dict]]]:
    """What a worker does with a chunk: each cell's oracle run, on a fork of the features."""
    return [(cell, oracle_run(features.fork(), cell.run)[1]) for cell in cells]


def _shareable(features: FeatureSet, tasks: Sequence[Task]) -> FeatureSet:
    """A fresh copy with the clusterings of these tasks made, to send to every worker once.

    Every binary task shares one clustering of the whole pool; each class set has its own.
    """
    shared = replace(features)  # no task views of this process travel with it
    binary = [t for t in tasks if t.is_binary][:1]
    for task in [*binary, *(t for t in tasks if not t.is_binary)]:
        shared.task_data(task).clusters  # noqa: B018
    return shared


def _chunks(work: list[tuple[str, Cell]], workers: int) -> list[tuple[str, list[Cell]]]:
    """Cells in chunks of one feature set: about 8 per worker, at most `MAX_CHUNK` cells each."""
    size = max(1, min(MAX_CHUNK, len(work) // max(1, 8 * workers)))
    chunks = []
    for key, group in itertools.groupby(work, key=lambda item: item[0]):
        cells = [cell for _, cell in group]
        chunks.extend((key, cells[i : i + size]) for i in range(0, len(cells), size))
    return chunks


def _cores(jobs: int) -> int:
    return max(1, os.cpu_count() or 1) if jobs < 1 else jobs


def _local_results(shared, work, jobs) -> Iterator[list[tuple[Cell, list[dict]]]]:
    from joblib import Parallel, delayed

    chunks = _chunks(work, _cores(jobs))
    parallel = Parallel(n_jobs=jobs, return_as="generator_unordered", inner_max_num_threads=1)
    yield from parallel(delayed(_run_cells)(shared[key], cells) for key, cells in chunks)


def _ray_results(shared, work, jobs, address) -> Iterator[list[tuple[Cell, list[dict]]]]:
    # Nothing of this process's goes to Ray's usage statistics, whatever the environment says.
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if not address:
        # A Ray of its own serves this machine only: on 127.0.0.1, rather than the address other
        # machines would reach it at (which Ray finds by opening a socket towards the internet).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise TlActiveError(
            "--backend ray needs Ray: pip install .[cluster] (or -r requirements-cluster.txt)"
        ) from None
    try:
        if address:
            ray.init(address=address, logging_level="ERROR")
        else:
            # "local": a Ray of its own on this machine, never one found running here.
            ray.init(
                address="local",
                num_cpus=_cores(jobs),
                include_dashboard=False,
                logging_level="ERROR",
            )
    except (ConnectionError, ValueError, RuntimeError) as error:
        ray.shutdown()
        where = f"join the Ray cluster at {address}" if address else "start a local Ray"
        raise TlActiveError(f"cannot {where}: {error}") from None
    try:
        workers = int(ray.cluster_resources().get("CPU", 1))
        refs = {key: ray.put(features) for key, features in shared.items()}
        task = ray.remote(num_cpus=1)(_run_cells)
        pending = [task.remote(refs[key], cells) for key, cells in _chunks(work, workers)]
        while pending:
            # A wait on every pending task at once, taking what is ready: cheap for many tasks.
            done, pending = ray.wait(pending, num_returns=len(pending), timeout=0.5)
            for ref in done:
                try:
                    chunk = ray.get(ref)
                except ray.exceptions.RayTaskError as error:
                    # Most often a node without this project installed: say so in one line.
                    cause = str(error).strip().splitlines()[-1]
                    raise TlActiveError(
                        f"a sweep task failed on Ray ({cause}): is tl-active installed, the same "
                        "version, on every node?"
                    ) from None
                yield chunk
    finally:
        ray.shutdown()


def cell_rows(cell: Cell, rows: list[dict], features: FeatureSet) -> list[dict]:
    """A run's curve rows with the grid's keys and the cell's key: the rows of the data set."""
    keys = {
        "backbone": cell.backbone,
        "layer": cell.layer,
        "task": task_label(cell.task, features.class_names),
        "batch_size": cell.batch_size,
        "noise": cell.noise,
        "rounds": cell.rounds,
        "cell": cell_key(features.key, cell),
    }
    return [{**row, **keys} for row in rows]


# --- the Parquet data set ---------------------------------------------------------------------


def _schema():
    import pyarrow as pa

    text, whole, real = pa.string(), pa.int64(), pa.float64()
    types = {
        "strategy": text,
        "seed": whole,
        "round": whole,
        "n_labels": whole,
        "accuracy": real,
        "precision": real,
        "recall": real,
        "f1": real,
        # The stopping signals (compare.STOPPING_COLUMNS), NaN where undefined.
        "kappa": real,
        "kappa_average": real,
        "changed_share": real,
        "uncertainty": real,
        "progressive_accuracy": real,
        "can_stop": pa.bool_(),
        "backbone": text,
        "layer": text,
        "task": text,
        "batch_size": whole,
        "noise": real,
        "rounds": whole,
        "cell": text,
    }
    return pa.schema([(name, types[name]) for name in ROW_COLUMNS])


def _parts(out: Path) -> list[Path]:
    return sorted(Path(out).glob(PART_GLOB))


def _read_parts(out: Path, columns: list[str] | None = None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for part in _parts(out):
        try:
            tables.append(pq.read_table(part, columns=columns, schema=_schema()))
        except (OSError, pa.ArrowException) as error:
            raise TlActiveError(
                f"{part} is not a part file of a sweep ({error}): remove it, and its cells are "
                "run again"
            ) from None
    if not tables:
        schema = _schema()
        return schema.empty_table().select(columns or schema.names).to_pandas()
    return pa.concat_tables(tables).to_pandas()


def landed_cells(out: Path | str) -> set[str]:
    """The keys of the cells whose rows are in the folder."""
    out = Path(out)
    if not out.is_dir():
        return set()
    return set(_read_parts(out, ["cell"])["cell"])


def read_sweep(out: Path | str) -> pd.DataFrame:
    """Every row of a sweep's folder, each run once, sorted by the grid's keys, seed and round."""
    out = Path(out)
    if not out.is_dir() or not _parts(out):
        raise TlActiveError(
            f"no sweep results in {out}: run `python -m tl_active sweep GRID.toml --out {out}`"
        )
    rows = _read_parts(out).drop_duplicates(["cell", "round"])
    return rows.sort_values(ORDER, kind="stable").reset_index(drop=True)[ROW_COLUMNS]


def folder_state(out: Path | str) -> tuple:
    """The part files' names, sizes and times: changes whenever cells land (for caches)."""
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in _parts(Path(out)))


@dataclass(frozen=True)
class SweepResults:
    """A sweep's folder as read: its rows, and the summary and ceilings once it finished."""

    rows: pd.DataFrame
    summary: pd.DataFrame | None
    ceilings: pd.DataFrame | None

    def slice(self, chosen: dict[str, Sequence]) -> pd.DataFrame:
        """The rows whose value of each named key is one of those chosen."""
        keep = np.ones(len(self.rows), bool)
        for column, values in chosen.items():
            keep &= self.rows[column].isin(list(values)).to_numpy()
        return self.rows[keep]

    def ceiling(self, rows: pd.DataFrame) -> float | None:
        """The mean frozen-head ceiling of the questions in `rows`; None if not yet written."""
        if self.ceilings is None or rows.empty:
            return None
        asked = rows[["backbone", "layer", "task"]].drop_duplicates()
        known = asked.merge(self.ceilings, on=["backbone", "layer", "task"])
        return float(known["ceiling"].mean()) if len(known) == len(asked) else None


def read_results(out: Path | str) -> SweepResults:
    """`read_sweep`, with `_summary.csv` and `_ceilings.csv` if the sweep got that far."""
    out = Path(out)
    rows = read_sweep(out)

    def optional(name: str) -> pd.DataFrame | None:
        try:
            # "1" or "0,1" is a question's name, not a number.
            text = {"backbone": str, "layer": str, "task": str}
            return pd.read_csv(out / name, dtype=text, keep_default_na=False, na_values=[""])
        except (OSError, ValueError):
            return None

    ceilings = optional(CEILINGS_FILE)
    if ceilings is not None and not {"backbone", "layer", "task", "ceiling"} <= set(ceilings):
        ceilings = None
    return SweepResults(rows, optional(SUMMARY_FILE), ceilings)


def _part_prefix() -> str:
    """A name no other writer uses: two sweeps of one process within a second differ too."""
    return f"part-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{secrets.token_hex(4)}"


class _PartWriter:
    """Finished cells to part files: all a cell's rows in one file, a file every few seconds."""

    def __init__(self, out: Path, flush_seconds: float):
        self.out, self.flush_seconds = out, flush_seconds
        self.prefix = _part_prefix()
        self.rows: list[dict] = []
        self.written = 0
        self.last = time.monotonic()

    def add(self, rows: list[dict]) -> None:
        self.rows.extend(rows)
        if time.monotonic() - self.last >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.last = time.monotonic()
        if not self.rows:
            return
        name = f"{self.prefix}-{self.written:05d}.parquet"
        # Written beside and renamed: a killed sweep leaves whole part files or none.
        tmp = self.out / f".{name}.tmp"
        pq.write_table(pa.Table.from_pylist(self.rows, schema=_schema()), tmp)
        os.replace(tmp, self.out / name)
        self.rows, self.written = [], self.written + 1


def _compact(out: Path) -> None:
    """Many part files into one; a kill half-way leaves both, which `read_sweep` reads once."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = _parts(out)
    if len(parts) < 2:
        return
    rows = read_sweep(out)
    name = f"{_part_prefix()}-all.parquet"
    tmp = out / f".{name}.tmp"
    pq.write_table(pa.Table.from_pandas(rows, schema=_schema(), preserve_index=False), tmp)
    os.replace(tmp, out / name)
    for part in parts:
        part.unlink()


# --- one sweep per folder ---------------------------------------------------------------------

_held: dict[Path, tuple[int, int]] = {}  # folder -> (lock file descriptor, depth) of this process


@contextlib.contextmanager
def folder_lock(out: Path | str) -> Iterator[None]:
    """Hold the folder's `_sweep.lock` while a sweep writes there; a second sweep is refused.

    An exclusive `flock` on the file, which the kernel releases when its process ends, however
    it ends: a sweep killed with SIGKILL leaves the file but not the lock, and the next sweep
    on the folder goes on. The file says which process holds it, for the refusal's message.
    Taken again in the same process (the command line holds it over the run and the summary),
    it is the same lock.
    """
    out = Path(out).resolve()
    if out in _held:
        fd, depth = _held[out]
        _held[out] = fd, depth + 1
        try:
            yield
        finally:
            fd, depth = _held[out]
            _held[out] = fd, depth - 1
        return
    check_writable_folder(out, "--out")
    fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 200).decode("utf-8", "replace").strip()
        os.close(fd)
        raise SweepRunningError(
            f"a sweep is already running in {out}"
            + (f" ({holder})" if holder else "")
            + ": wait for it to finish, or give another --out"
        ) from None
    except OSError as error:
        os.close(fd)
        raise TlActiveError(f"cannot lock {out / LOCK_FILE}: {error.strerror or error}") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        _held[out] = fd, 1
        yield
    finally:
        _held.pop(out, None)
        os.close(fd)  # closing the last descriptor releases the lock


# --- the sweep --------------------------------------------------------------------------------


@dataclass
class SweepReport:
    """What a sweep did: its cells, those found already done, those run now, and the time."""

    cells: int
    already_done: int
    computed: int
    seconds: float
    backend: str

    @property
    def runs_per_second(self) -> float:
        return self.computed / self.seconds if self.seconds else float("nan")


def run_sweep(
    grid: Grid,
    out: Path | str,
    load: Loader,
    backend: str = "local",
    address: str | None = None,
    jobs: int = -1,
    progress: Progress | None = None,
    on_cell: Callable[[Cell], None] | None = None,
    flush_seconds: float = FLUSH_SECONDS,
) -> SweepReport:
    """Run every cell of `grid` not yet in `out` and write its rows there, as cells finish.

    `load(backbone, layer)` gives a backbone's features (once per backbone + layer). `backend`
    is "local" (joblib, `jobs` workers) or "ray" (a local Ray of `jobs` cores, or the cluster
    at `address`). `progress(done, total)` counts the cells to run; `on_cell(cell)` is called
    as each one is written down (an exception there stops the sweep, keeping what finished).
    """
    if backend not in ("local", "ray"):
        raise ValueError(f"backend is 'local' or 'ray', not {backend!r}")
    out = Path(out)
    with folder_lock(out):
        return _run_sweep(grid, out, load, backend, address, jobs, progress, on_cell, flush_seconds)


def _run_sweep(
    grid, out, load, backend, address, jobs, progress, on_cell, flush_seconds
) -> SweepReport:
    for stale in out.glob(".part-*.tmp"):  # a part file a killed sweep did not finish
        stale.unlink()
    done = landed_cells(out)
    shared: dict[str, FeatureSet] = {}
    named: dict[tuple[str, str], FeatureSet] = {}
    work: list[tuple[str, Cell]] = []
    total = 0
    for backbone, layer in grid.backbone_layers():
        features = named[backbone, layer] = load(backbone, layer)
        cells = grid_cells(grid, backbone, layer, len(features.class_names))
        total += len(cells)
        todo = [c for c in cells if cell_key(features.key, c) not in done]
        if todo:
            shared[features.key] = _shareable(features, list(dict.fromkeys(c.task for c in todo)))
            work.extend((features.key, cell) for cell in todo)
    start = time.perf_counter()
    if progress:
        progress(0, len(work))
    writer = _PartWriter(out, flush_seconds)
    computed = 0
    if work:
        results = (
            _ray_results(shared, work, jobs, address)
            if backend == "ray"
            else _local_results(shared, work, jobs)
        )
        try:
            for chunk in results:
                for cell, rows in chunk:
                    computed += 1
                    writer.add(cell_rows(cell, rows, named[cell.backbone, cell.layer]))
                    if progress:
                        progress(computed, len(work))
                    if on_cell:
                        on_cell(cell)
        finally:
            writer.flush()
            close = getattr(results, "close", None)
            if close:
                close()
    return SweepReport(
        cells=total,
        already_done=total - len(work),
        computed=computed,
        seconds=time.perf_counter() - start,
        backend=backend,
    )


# --- what a sweep says ------------------------------------------------------------------------


def sweep_ceilings(grid: Grid, load: Loader) -> pd.DataFrame:
    """The frozen-head ceiling of every (backbone, layer, question) of the grid."""
    rows = []
    for backbone, layer in grid.backbone_layers():
        features = load(backbone, layer)
        for task in grid.tasks(len(features.class_names)):
            # On a fork: the ceiling's task view is dropped with it (1,022 targets would keep a
            # copy of the pool's answers each).
            ceiling = frozen_head_ceiling(features.fork(), task).accuracy
            rows.append((backbone, layer, task_label(task, features.class_names), ceiling))
    return pd.DataFrame(rows, columns=["backbone", "layer", "task", "ceiling"])


def summary_columns(budgets: Sequence[int] = BUDGETS) -> list[str]:
    """The grid cell's keys, then its figures over seeds (`_sd`: their standard deviation)."""
    return [
        *GROUP_COLUMNS,
        "seeds",
        "ceiling",
        "labels_to_99pct_of_ceiling",
        "labels_at_stop",
        "labels_at_stop_sd",
        "accuracy_at_stop",
        "accuracy_at_stop_sd",
        "seeds_stopped",
        "auc",
        "auc_sd",
        *itertools.chain.from_iterable(
            (f"accuracy_at_{b}", f"accuracy_at_{b}_sd") for b in budgets
        ),
    ]


def summarise_sweep(
    rows: pd.DataFrame, ceilings: pd.DataFrame, budgets: Sequence[int] = BUDGETS
) -> pd.DataFrame:
    """One row per grid cell (its runs over seeds), in `summary_columns(budgets)`.

    `labels_to_99pct_of_ceiling`, `auc` and `accuracy_at_<n>` are those of `compare.summarise`,
    from the cell's mean curve over seeds; `auc_sd` and `accuracy_at_<n>_sd` are the standard
    deviation of each seed's own figure (empty with one seed). `labels_at_stop` and
    `accuracy_at_stop` are compare's too: where the stopping recommendation first fired in each
    seed's run, the mean over seeds, empty unless it fired in every seed; their `_sd` is the
    spread over those seeds, and `seeds_stopped` says in how many seeds it fired at all.
    """
    ceiling_of = {
        (b, layer, t): c
        for b, layer, t, c in ceilings[["backbone", "layer", "task", "ceiling"]].values
    }
    rows = rows.sort_values(ORDER, kind="stable")
    out = []
    for keys, group in rows.groupby(GROUP_COLUMNS, sort=False):
        ceiling = ceiling_of[keys[:3]]
        seed, rnd = group["seed"].to_numpy(), group["round"].to_numpy()
        labels, accuracy = group["n_labels"].to_numpy(float), group["accuracy"].to_numpy(float)
        fired = group["can_stop"].to_numpy(bool)
        # The mean curve over seeds: per round, the mean labels and accuracy.
        rounds, at = np.unique(rnd, return_inverse=True)
        count = np.bincount(at)
        mean = curve_figures(
            np.bincount(at, labels) / count,
            np.bincount(at, accuracy) / count,
            rounds,
            ceiling,
            budgets,
        )
        starts = np.flatnonzero(np.diff(seed)) + 1
        runs = np.split(np.arange(len(seed)), starts)
        per_seed = [curve_figures(labels[i], accuracy[i], rnd[i], ceiling, budgets) for i in runs]
        # Each run's first round that recommended stopping, as `compare.stop_points` finds it.
        stops = [i[fired[i]][:1] for i in runs]
        stopped = [i[0] for i in stops if len(i)]
        every_seed = len(stopped) == len(runs)
        stop = {
            "labels_at_stop": round(float(labels[stopped].mean())) if every_seed else pd.NA,
            "labels_at_stop_sd": spread_of(labels[stopped]) if every_seed else np.nan,
            "accuracy_at_stop": float(accuracy[stopped].mean()) if every_seed else np.nan,
            "accuracy_at_stop_sd": spread_of(accuracy[stopped]) if every_seed else np.nan,
            "seeds_stopped": len(stopped),
        }

        def spread(name: str, figures=per_seed) -> float:
            return spread_of(np.array([f[name] for f in figures], float))

        out.append(
            {
                **dict(zip(GROUP_COLUMNS, keys)),
                "seeds": len(per_seed),
                "ceiling": ceiling,
                **mean,
                **stop,
                "auc_sd": spread("auc"),
                **{f"accuracy_at_{b}_sd": spread(f"accuracy_at_{b}") for b in budgets},
            }
        )
    summary = pd.DataFrame(out, columns=summary_columns(budgets))
    for column in ("labels_to_99pct_of_ceiling", "labels_at_stop"):
        summary[column] = summary[column].astype("Int64")
    return summary


def spread_of(values: np.ndarray) -> float:
    """The standard deviation over seeds (n - 1); NaN with one seed."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def grid_rows(out: Path | str, grid: Grid, load: Loader) -> pd.DataFrame:
    """The rows of this grid's cells in the folder (which may hold other grids' cells too)."""
    keys = set()
    for backbone, layer in grid.backbone_layers():
        features = load(backbone, layer)
        n = len(features.class_names)
        keys.update(cell_key(features.key, c) for c in grid_cells(grid, backbone, layer, n))
    rows = read_sweep(out)
    return rows[rows["cell"].isin(keys)].reset_index(drop=True)


def finish_sweep(out: Path | str, grid: Grid, load: Loader) -> pd.DataFrame:
    """The part files made one, then `_summary.csv`, `_ceilings.csv` and `_sweep.png`."""
    from tl_active import plots

    out = Path(out)
    with folder_lock(out):
        _compact(out)
        ceilings = sweep_ceilings(grid, load)
        summary = summarise_sweep(grid_rows(out, grid, load), ceilings, grid.budgets)
        ceilings.to_csv(out / CEILINGS_FILE, index=False, float_format="%.6f")
        summary.to_csv(out / SUMMARY_FILE, index=False, float_format="%.6f")
        (out / PLOT_FILE).write_bytes(plots.to_png(plots.sweep_chart(summary), scale=1.5))
    return summary


def format_overview(summary: pd.DataFrame) -> str:
    """Per strategy over the grid's cells: how many, mean AUC, and how often 99 % is reached."""
    grouped = summary.groupby("strategy", sort=False)
    table = pd.DataFrame(
        {
            "cells": grouped.size(),
            "mean auc": grouped["auc"].mean().map("{:.4f}".format),
            "reach 99% of ceiling": grouped["labels_to_99pct_of_ceiling"].count(),
            "median labels to 99%": grouped["labels_to_99pct_of_ceiling"].median(),
        }
    ).reset_index()
    return table.to_string(index=False)
