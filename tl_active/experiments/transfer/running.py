"""Running the transfer lab: which labels each selection takes, and every training in turn.

`run_transfer` trains every method on every (seed, selection, budget) and is pure of files and
printing, so the app's page calls it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tl_active.core.task import Task
from tl_active.data.features import FeatureSet
from tl_active.errors import PoolExhaustedError
from tl_active.experiments.transfer.settings import (
    ALL,
    COLUMNS,
    RANDOM,
    RANDOM_STREAM,
    TransferData,
    TransferSettings,
)
from tl_active.experiments.transfer.trainer import Trainer
from tl_active.sessions.session import oracle_session

Progress = Callable[[int, int, str], None]


def selection_order(
    lab: TransferData, selection: str, n_labels: int, seed: int, query_batch: int = 5
) -> np.ndarray:
    """The first `n_labels` task-pool positions a selection labels, in the order it labels them.

    `random` is a seeded permutation; a strategy's name runs a labelling session on the frozen
    embedding with that strategy, answered by the oracle, as `compare.py` does. Either way a
    smaller budget's labels are the start of a larger one's.
    """
    data = lab.data
    if n_labels > data.size:
        raise ValueError(f"{n_labels} labels asked for, but the task's pool holds {data.size:,}")
    if selection == RANDOM:
        return np.random.default_rng([seed, RANDOM_STREAM]).permutation(data.size)[:n_labels]
    return data.local(
        oracle_labelled(lab.features, lab.task, selection, n_labels, seed, query_batch)
    )


def oracle_labelled(
    features: FeatureSet, task: Task, strategy: str, n_labels: int, seed: int, query_batch: int
) -> np.ndarray:
    """The first `n_labels` whole-pool indices a strategy's session labels, answered by the
    data's truth, in the order it labels them (fewer if the pool runs out)."""
    session = oracle_session(features, strategy, seed, query_batch, task)
    while len(session.labelled) < n_labels:
        try:
            session.answer_by_truth()
        except PoolExhaustedError:
            break
    return np.asarray(session.labelled[:n_labels], np.intp)


@dataclass
class TransferResult:
    """Every training's row (`COLUMNS`), and the one-off passes of the frozen parts."""

    rows: pd.DataFrame
    # method -> (images, seconds): how many images its frozen part ran over, once each, and how long
    frozen_passes: dict[str, tuple[int, float]]
    seconds: float  # the whole run, wall clock


def _jobs(settings: TransferSettings, pool_size: int):
    """(seed, selection, labels) of every training set, in the order they run."""
    for seed in range(settings.seeds):
        for selection in settings.selections:
            for budget in settings.counted_budgets:
                if budget > pool_size:
                    raise ValueError(
                        f"budget {budget} is more labels than the task's pool holds ({pool_size:,})"
                    )
                yield seed, selection, budget
        if ALL in settings.budgets:
            yield seed, ALL, pool_size


def run_transfer(
    lab: TransferData,
    backbone,
    settings: TransferSettings = TransferSettings(),  # noqa: B008 (frozen, so one is safe)
    progress: Progress | None = None,
) -> TransferResult:
    """Train every method on every (seed, selection, budget); one row each, in run order.

    `backbone` is the loaded Keras backbone (`network.load_backbone`). `progress(done, total,
    what)` is called before and after each training.
    """
    started = time.perf_counter()
    data = lab.data
    jobs = list(_jobs(settings, data.size))
    total = len(jobs) * len(settings.methods)
    trainer = Trainer(lab, backbone, settings)
    largest = max(settings.counted_budgets, default=0)
    orders: dict[tuple[int, str], np.ndarray] = {}
    rows, done = [], 0
    for seed, selection, n_labels in jobs:
        if selection == ALL:
            labelled = np.arange(data.size)
        else:
            if (seed, selection) not in orders:
                orders[seed, selection] = selection_order(
                    lab, selection, largest, seed, settings.query_batch
                )
            labelled = orders[seed, selection][:n_labels]
        for method in settings.methods:
            name = settings.method_name(method)
            if progress:
                progress(done, total, f"{name}, {selection}, {n_labels} labels, seed {seed}")
            accuracy, seconds, epochs = trainer.train(method, labelled, seed)
            rows.append(
                {
                    "method": name,
                    "selection": selection,
                    "labels": int(len(labelled)),
                    "seed": seed,
                    "accuracy": accuracy,
                    "train_seconds": seconds,
                    "epochs": epochs,
                }
            )
            done += 1
            if progress:
                progress(done, total, f"{name}, {selection}, {n_labels} labels, seed {seed}")
    frozen = {
        settings.method_name(method): (trainer.frozen_images[cut], trainer.frozen_seconds[cut])
        for method, cut in trainer.cuts.items()
        if cut > 0
    }
    return TransferResult(
        pd.DataFrame(rows, columns=COLUMNS), frozen, time.perf_counter() - started
    )
