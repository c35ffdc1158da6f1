"""A sweep's grid: its lists, read from a TOML file and checked, and the cells they make.

A grid (`load_grid`) names lists of strategies, questions, backbones and layers, batch sizes,
oracle noise levels, re-checks per round (`recheck`, Look again's second look at the top
suspects), heads (`head`: plain or pool-taught, as `compare --head`), shares of the pool each
seed picks from (`pick_share`, as `compare --pick-share`), seeds and rounds; every
combination is a cell, one oracle run, named by
`cell_key` (its features' checksum and every setting) so that a folder knows which it holds.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from tl_active.core.pool_teacher import POOL_RULES
from tl_active.core.strategies import REGISTRY, allowed_strategies
from tl_active.core.task import BINARY, Task
from tl_active.data.backbones import default_layer, resolve_backbone
from tl_active.data.features import FeatureSet
from tl_active.data.weather import QUESTIONS
from tl_active.errors import FileRefusedError, TlActiveError
from tl_active.experiments.compare import (
    BUDGETS,
    MAX_ROUNDS,
    MAX_SEEDS,
    OracleRun,
    is_pick_share,
)
from tl_active.safe_files import read_regular
from tl_active.sessions.records import HEADS, MAX_BATCH, MAX_SEED, PLAIN_HEAD
from tl_active.text import shown

# The most cells one sweep may hold: the 18,396-run grid of docs/sweep/ is about 1/50 of it.
# A grid over it (seeds = 1000000000, say) is refused in one line before anything is made.
MAX_CELLS = 1_000_000
MAX_GRID_BYTES = 1_000_000  # the 18,396-run grid's file is under 1 KB

ALL_TARGETS = "all"  # every binary question: each set of classes but none and all
GRID_KEYS = (
    "strategies",
    "targets",
    "classes",
    "backbones",
    "layers",
    "batch_sizes",
    "noise",
    "recheck",
    "head",
    "pick_share",
    "seeds",
    "rounds",
    "budgets",
)
# A grid cell: what a run is, but for its seed (the summary is over seeds).
GROUP_COLUMNS = [
    "backbone",
    "layer",
    "task",
    "strategy",
    "batch_size",
    "noise",
    "recheck",
    "head",
    "pick_share",
    "rounds",
]

Loader = Callable[[str, str], FeatureSet]  # (backbone, layer) -> its features, once each


class GridError(TlActiveError):
    """A sweep's grid file cannot be read, or names something that cannot run."""


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
    recheck: tuple[int, ...] = (0,)  # suspects re-checked per round; 0: none
    head: tuple[str, ...] = (PLAIN_HEAD,)  # records.HEADS: the plain head or the pool-taught one
    pick_share: tuple[float, ...] = (1.0,)  # the share of the pool each seed picks from
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    rounds: tuple[int, ...] = (30,)
    budgets: tuple[int, ...] = BUDGETS

    @property
    def weather_questions(self) -> tuple[str, ...]:
        """The weather questions the targets name ("snow-today"): each is its own windows'
        yes-or-no question, swept into a folder of its own (`cli/sweep.py`)."""
        return tuple(t for t in self.targets if t in QUESTIONS)

    def tasks(self, n_classes: int = 10) -> list[Task]:
        """Every question of the grid, each once: binary targets first, then class sets.

        A weather grid has one task, yes (1) or no (0), asked of each question's windows.
        """
        if self.weather_questions:
            if len(self.weather_questions) < len(self.targets) or self.classes:
                raise ValueError(
                    "a grid asks weather questions (such as snow-today) or questions of "
                    "digits or classes, not both: split it into two grids"
                )
            return [Task(BINARY, (1,))]
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
            if name not in REGISTRY:
                raise GridError(
                    f"strategies: unknown strategy {name!r}; choose from {', '.join(REGISTRY)}"
                )
    for key, example in (
        ("targets", '"odd", "even", "0,6,8,9" or a weather question such as "snow-today"'),
        ("classes", '"0-4"'),
    ):
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
            if seeds > MAX_SEEDS:
                raise GridError(f"seeds = {seeds}: a sweep runs at most {MAX_SEEDS:,} seeds")
            values["seeds"] = tuple(range(seeds))  # a count, as compare's --seeds
        else:
            values["seeds"] = _whole_numbers("seeds", seeds, 0)
            if len(values["seeds"]) > MAX_SEEDS or max(values["seeds"]) > MAX_SEED:
                raise GridError(
                    f"seeds: at most {MAX_SEEDS:,} seeds, each at most {MAX_SEED:,} (64 bits)"
                )
    if "recheck" in data:
        values["recheck"] = _whole_numbers("recheck", data["recheck"], 0)
    if "head" in data:
        values["head"] = _texts("head", data["head"], '"plain" or "pool"')
        for name in values["head"]:
            if name not in HEADS:
                raise GridError(f"head: unknown head {name!r}; choose from {', '.join(HEADS)}")
    if "pick_share" in data:
        shares = _items("pick_share", data["pick_share"])
        bad = [v for v in shares if not is_pick_share(v)]
        if bad:
            raise GridError(
                f"pick_share: {bad[0]!r} is not a share of the pool, above 0 and at most 1"
            )
        values["pick_share"] = tuple(dict.fromkeys(float(v) for v in shares))
    for key in ("rounds", "budgets"):
        if key in data:
            values[key] = _whole_numbers(key, data[key], 1)
    if max(values.get("rounds", (1,))) > MAX_ROUNDS:
        raise GridError(f"rounds: a run has at most {MAX_ROUNDS:,} rounds")
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
    n_cells = grid_size(grid, tasks)
    if n_cells > MAX_CELLS:
        raise GridError(
            f"the grid has {n_cells:,} cells, more than the {MAX_CELLS:,} a sweep runs: "
            "split it into several sweeps"
        )
    return grid


def grid_size(grid: Grid, tasks: list[Task]) -> int:
    """How many cells (oracle runs) a grid holds, counted without making them."""
    per_task = sum(len(cell_strategies(grid, task)) for task in tasks)
    return (
        per_task
        * max(1, len(grid.backbones))
        * max(1, len(grid.layers))
        * len(grid.batch_sizes)
        * len(grid.noise)
        * len(grid.seeds)
        * len(grid.rounds)
        * len(grid.recheck)
        * len(grid.head)
        * len(grid.pick_share)
    )


def load_grid(path: Path | str) -> Grid:
    """The grid of a TOML file; any fault is a `GridError` that names the file and the key.

    Keys: `strategies`, `targets` (each "odd", "even", digits such as "0,6,8,9", or "all" for
    every binary question; or weather questions such as "snow-today"), `classes` (such as "0-4"), `backbones`, `layers`, `batch_sizes`,
    `noise`, `recheck` (suspects re-checked per round, 0 for none), `head` ("plain" or "pool",
    the pool-taught head), `pick_share` (the share of the pool each seed picks from, 1 for all
    of it), `seeds` (a count N for seeds 0 to N-1, or a list), `rounds` and `budgets` (the
    summary's label counts). A key left out takes `compare`'s default.
    """
    path = Path(path)
    if not os.path.lexists(path):
        raise GridError(f"grid file not found: {shown(path)}")
    try:
        # A regular file only (a FIFO would block for good), and no larger than a grid can be.
        raw = read_regular(path, max_bytes=MAX_GRID_BYTES, what="grid file")
        data = tomllib.loads(raw.decode("utf-8"))
    except FileRefusedError as refused:
        raise GridError(str(refused)) from None
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
    allowed = allowed_strategies(task)
    return [s for s in grid.strategies or allowed if s in allowed]


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
    recheck: int = 0
    head: str = PLAIN_HEAD
    pick_share: float = 1.0

    @property
    def run(self) -> OracleRun:
        return OracleRun(
            self.strategy,
            self.seed,
            self.rounds,
            self.batch_size,
            self.task,
            self.noise,
            recheck=self.recheck,
            head=self.head,
            pick_share=self.pick_share,
        )


def grid_cells(grid: Grid, backbone: str, layer: str, n_classes: int = 10) -> list[Cell]:
    """The cells of one backbone + layer, in the grid's order."""
    return [
        Cell(backbone, layer, task, strategy, batch, noise, rounds, seed, recheck, head, share)
        for task in grid.tasks(n_classes)
        for strategy in cell_strategies(grid, task)
        for batch in grid.batch_sizes
        for noise in grid.noise
        for recheck in grid.recheck
        for head in grid.head
        for share in grid.pick_share
        for rounds in grid.rounds
        for seed in grid.seeds
    ]


def cell_key(features_key: str, cell: Cell) -> str:
    """A short key for a run: its features' checksum and every setting (not the names given).

    Re-checks are named only when there are some, the head only when it is not the plain
    one, and the share of the pool a seed picks from only when it is not all of it, so a run
    without keeps the key it had before the setting existed, and a folder of earlier results
    is still known cell by cell. A pool-taught run also names the rules its
    head learns under (`pool_teacher.POOL_RULES`) from rules 2 on: a cell computed under
    earlier rules is not taken for one of today's, and is run again.
    """
    run = cell.run
    settings = [*run[:4], run.noise, run.head_mode] + ([run.recheck] if run.recheck else [])
    if run.head != PLAIN_HEAD:
        settings += [run.head] + ([POOL_RULES] if POOL_RULES > 1 else [])
    if run.pick_share != 1.0:
        settings += ["pick_share", run.pick_share]
    text = json.dumps([features_key, cell.task.kind, list(cell.task.classes), *settings])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def task_label(task: Task, class_names: Sequence[str] | None = None) -> str:
    """The `task` column: "odd", "even", "0,6,8,9" for binary; "classes 0-4" for K classes."""
    return task.name(class_names) if task.is_binary else task.describe(class_names)
