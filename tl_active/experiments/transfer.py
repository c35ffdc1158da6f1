"""The transfer lab: what a network trained on other digits buys, measured side by side.

On a backbone of the shared architecture (by default `mnist-cnn-5to9`, which never saw a 0-4)
and a K-class question (by default digits 0-4), for label budgets chosen at random and by an
active-learning strategy answered by the oracle, four ways to learn the question are trained
and scored on the test set:

- `scratch`: the whole network from random weights on those labels;
- `frozen-conv`: the seed's method (`mnist-5to9-transfer.md`): the convolutional layers frozen
  at the backbone's weights, the dense layers retrained (the embedding from the backbone's
  weights, the output layer new);
- `head`: the app's own head (`head.py`) on the frozen embedding: no backpropagation at all;
- `fine-tune-last-N`: `head` first, then the backbone's last N weighted layers unfrozen with
  the head at a tenth of the learning rate (`feature-extraction-and-fine-tuning.md`).

The methods that backpropagate hold out a share of the labels as a validation split (seeded),
stop when its loss has not improved for a number of epochs and restore the best epoch; the
head needs none and fits on every label. A frozen part of the network is run once over the
images, and only the layers above it train (`network.split_chain`), so no epoch runs frozen
layers; `train_seconds` is the training itself, that one pass not included (its time is in
`TransferResult.frozen_passes`). Every step is seeded: the same settings give the same
accuracies on the same machine.

`run_transfer`, `summarise` and `findings` are pure of files and printing, so the app's page
calls them too; `main` is the command line, `python -m tl_active transfer`.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from tl_active.core.head import make_head
from tl_active.core.metrics import task_metrics
from tl_active.core.strategies import BINARY_ONLY, DEFAULT_STRATEGY, get_strategy
from tl_active.core.task import Task
from tl_active.data.features import FeatureSet, TaskData, load_features
from tl_active.errors import PoolExhaustedError
from tl_active.paths import CACHE_DIR, MNIST_PATH, check_writable_folder
from tl_active.sessions.session import MAX_BATCH, LabellingSession, SessionSettings

SCRATCH, FROZEN_CONV, HEAD, FINE_TUNE = "scratch", "frozen-conv", "head", "fine-tune"
METHODS = (SCRATCH, FROZEN_CONV, HEAD, FINE_TUNE)
RANDOM, ALL = "random", "all"
COLUMNS = ["method", "selection", "labels", "seed", "accuracy", "train_seconds", "epochs"]
SUMMARY_COLUMNS = [
    "method",
    "selection",
    "labels",
    "seeds",
    "accuracy",
    "accuracy_min",
    "accuracy_max",
    "train_seconds",
    "epochs",
    "seconds_per_epoch",
]
DEFAULT_BACKBONE, DEFAULT_CLASSES, EMBEDDING = "mnist-cnn-5to9", "0-4", "embedding"
# Fixed second seed words, so that the draws of labels and of validation splits never share a
# stream with each other, with the mini-batches' order, or with a session's queries.
RANDOM_STREAM, VALIDATION_STREAM, SHUFFLE_STREAM = 104_729, 1_299_709, 15_485_863

Progress = Callable[[int, int, str], None]


def fine_tune_name(n_layers: int) -> str:
    return f"fine-tune-last-{n_layers}"


@dataclass(frozen=True)
class TransferSettings:
    """What a transfer run trains: budgets, selections, seeds, and how long each training is.

    A budget is a number of labels or `"all"` (every pool label of the task, once per seed: the
    selection does not matter there). Every method that backpropagates trains until early
    stopping on its validation split decides, within the same cap of `max_epochs` epochs. The
    cap is in epochs, not optimiser steps: a step cap cuts a cheap epoch (frozen layers) as short
    as an expensive one, and on thousands of labels stops every method before it converges. The
    mini-batch is an eighth of the training labels, from 8 to 128.
    """

    budgets: tuple[int | str, ...] = (25, 50, 100, 500, ALL)
    selections: tuple[str, ...] = (RANDOM, DEFAULT_STRATEGY)
    seeds: int = 2
    methods: tuple[str, ...] = METHODS
    fine_tune_layers: int = 2
    learning_rate: float = 1e-3
    max_epochs: int = 60
    patience: int = 8
    min_epochs: int = 15
    validation_share: float = 0.2
    query_batch: int = 5

    def __post_init__(self) -> None:
        budgets = []
        for budget in self.budgets:
            if budget == ALL:
                budgets.append(ALL)
            elif isinstance(budget, int | np.integer) and not isinstance(budget, bool):
                if budget < 2:
                    raise ValueError(f"a budget is 2 labels or more, not {budget}")
                budgets.append(int(budget))
            else:
                raise ValueError(f"a budget is a number of labels or 'all', not {budget!r}")
        if not budgets:
            raise ValueError("give at least one budget, such as 50 or all")
        numbers = sorted({b for b in budgets if b != ALL})
        object.__setattr__(self, "budgets", (*numbers, *([ALL] if ALL in budgets else [])))
        if numbers and not self.selections:
            raise ValueError("choose at least one selection: random or a strategy's name")
        for selection in self.selections:
            if selection != RANDOM:
                get_strategy(selection)
                if selection in BINARY_ONLY:
                    raise ValueError(f"strategy {selection!r} needs a binary task")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ValueError(f"methods are some of {', '.join(METHODS)}, not {unknown or 'none'}")
        checks = [
            (self.seeds >= 1, f"seeds must be 1 or more, not {self.seeds}"),
            (self.fine_tune_layers >= 1, "fine-tuning unfreezes at least 1 layer"),
            (self.learning_rate > 0, "the learning rate must be above 0"),
            (self.max_epochs >= 1, "max epochs must be 1 or more"),
            (self.patience >= 1, "patience must be 1 epoch or more"),
            (self.min_epochs >= 1, "min epochs must be 1 or more"),
            (0 < self.validation_share < 1, "the validation share lies between 0 and 1"),
            (1 <= self.query_batch <= MAX_BATCH, f"the query batch is 1 to {MAX_BATCH}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def counted_budgets(self) -> tuple[int, ...]:
        return tuple(b for b in self.budgets if b != ALL)

    def method_name(self, method: str) -> str:
        return fine_tune_name(self.fine_tune_layers) if method == FINE_TUNE else method


# The command's --quick: one seed, two budgets, short trainings. Not all labels: on them the
# frozen passes over 35,000 images and the head's fit alone take a minute or more here.
QUICK = TransferSettings(budgets=(50, 200), seeds=1, max_epochs=60, patience=5, min_epochs=10)


@dataclass
class TransferData:
    """The question's images and the frozen embedding the head reads, for pool and test."""

    features: FeatureSet  # the backbone's embedding, from the feature cache
    task: Task
    pool_images: np.ndarray  # (n, H, W) the task's pool, in the order of `data.pool`
    test_images: np.ndarray

    @property
    def data(self) -> TaskData:
        return self.features.task_data(self.task)


def lab_for(features: FeatureSet, task: Task, data_path: Path = MNIST_PATH) -> TransferData:
    """The question's images beside the embedding features the head reads (loaded already)."""
    from tl_active.data.mnist import load_mnist

    mnist = load_mnist(data_path)
    data = features.task_data(task)
    return TransferData(
        features,
        task,
        mnist.x_pool[data.pool_index],
        mnist.x_test[task.in_task(mnist.y_test)],
    )


def load_transfer_data(
    backbone: str = DEFAULT_BACKBONE,
    classes: str | Sequence[int] = DEFAULT_CLASSES,
    data_path: Path = MNIST_PATH,
    cache_dir: Path = CACHE_DIR,
    progress: Callable[[int, int], None] | None = None,
) -> TransferData:
    """The images of a K-class question and the backbone's embedding of them (cached)."""
    features = load_features(backbone, EMBEDDING, data_path, cache_dir, progress)
    return lab_for(features, Task.multiclass(classes), data_path)


# --- which labels ------------------------------------------------------------------------------


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
    session = LabellingSession(
        lab.features,
        SessionSettings(
            task=lab.task,
            strategy=selection,
            batch_size=query_batch,
            seed=seed,
            backbone=lab.features.backbone,
            layer=lab.features.layer,
        ),
    )
    while len(session.labelled) < n_labels:
        try:
            session.answer_by_truth()
        except PoolExhaustedError:
            break
    return data.local(session.labelled[:n_labels])


def validation_split(n: int, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into n labels) to train on and to validate on: a seeded share, at least 1."""
    order = np.random.default_rng([seed, VALIDATION_STREAM, n]).permutation(n)
    n_val = min(n - 1, max(1, round(share * n)))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def batch_size_for(n_fit: int) -> int:
    """An eighth of the training labels, from 8 to 128: a few steps per epoch on a small budget."""
    return int(np.clip(n_fit // 8, 8, 128))


# --- one training ------------------------------------------------------------------------------


@dataclass
class _Trainer:
    """Trains each method on given labels; keeps the frozen parts' outputs between trainings.

    The frozen part of a cut is the backbone's own weights, the same for every seed, so its
    outputs over the task's pool and test images are computed once per cut.
    """

    lab: TransferData
    backbone: object  # the keras.Model of the backbone
    settings: TransferSettings
    frozen_outputs: dict = field(default_factory=dict)
    frozen_seconds: dict = field(default_factory=dict)
    frozen_images: dict = field(default_factory=dict)
    cuts: dict = field(default_factory=dict)  # method -> where its trained layers start

    def __post_init__(self) -> None:
        self.n_classes = len(self.lab.task.classes)

    def _cut(self, method: str, network) -> int:
        """Where the trained layers start in the network's chain of layers."""
        from tl_active.data.backbones import DIGITS_LAYER
        from tl_active.experiments.retraining import weighted_layers

        chain = [layer.name for layer in network.layers[1:]]
        if method == SCRATCH:
            return 0
        below = [layer.name for layer in weighted_layers(network) if layer.name != DIGITS_LAYER]
        if method == FROZEN_CONV:
            # The first weighted layer that is not a convolution: the dense layers train.
            dense = [n for n in below if not n.startswith("conv")]
            return chain.index(dense[0])
        n = min(self.settings.fine_tune_layers, len(below))
        return chain.index(below[-n])

    def _frozen(self, cut: int, frozen, positions: np.ndarray):
        """The frozen part's outputs for these pool positions and for the whole test set.

        Each image goes through a frozen part at most once per run: the outputs are kept, and
        only the pool images not seen yet are run (a small budget never pays for the whole pool).
        """
        from tl_active.experiments.retraining import run_frozen

        started = time.perf_counter()
        if cut not in self.frozen_outputs:
            test = run_frozen(frozen, self.lab.test_images)
            # Pages of an np.empty are only taken when written: a budget of 50 costs 50 rows.
            pool = np.empty((self.lab.data.size, *test.shape[1:]), np.float32)
            self.frozen_outputs[cut] = (pool, test, np.zeros(self.lab.data.size, bool))
            self.frozen_images[cut] = len(test)
        pool, test, done = self.frozen_outputs[cut]
        missing = positions[~done[positions]]
        if len(missing):
            pool[missing] = run_frozen(frozen, self.lab.pool_images[missing])
            done[missing] = True
            self.frozen_images[cut] += len(missing)
        self.frozen_seconds[cut] = self.frozen_seconds.get(cut, 0.0) + (
            time.perf_counter() - started
        )
        return pool, test

    def head(self, labelled: np.ndarray):
        data = self.lab.data
        head = make_head(len(self.lab.task.classes), "converge", not self.lab.features.simplex)
        started = time.perf_counter()
        head.fit(data.pool[labelled], data.truth_pool[labelled])
        return head, time.perf_counter() - started

    def train(self, method: str, labelled: np.ndarray, seed: int) -> tuple[float, float, int]:
        """Test accuracy, training seconds and epochs of one method on these labels."""
        data = self.lab.data
        if method == HEAD:
            head, seconds = self.head(labelled)
            accuracy = task_metrics(data.truth_test, head.predict_proba(data.test)).accuracy
            return accuracy, seconds, 0

        from tl_active.experiments.retraining import (
            make_deterministic,
            predict_classes,
            split_chain,
            train_top,
            transfer_network,
        )

        make_deterministic(seed)
        network = transfer_network(self.backbone, self.n_classes, pretrained=method != SCRATCH)
        cut = self.cuts.setdefault(method, self._cut(method, network))
        frozen, trained = split_chain(network, cut)
        pool, test = self._frozen(cut, frozen, labelled)
        fit, val = validation_split(len(labelled), self.settings.validation_share, seed)
        fit, val = labelled[fit], labelled[val]
        y = data.truth_pool
        learning_rate, head_seconds = self.settings.learning_rate, 0.0
        if method == FINE_TUNE:
            # The head first, fitted on the training labels only, so the validation split
            # judges the fine-tuning honestly; then everything above the cut at a tenth.
            head, head_seconds = self.head(fit)
            network.get_layer("digits").set_weights(
                [head.coef_.T.astype(np.float32), head.intercept_.astype(np.float32)]
            )
            learning_rate /= 10
        epochs, _, seconds = train_top(
            trained,
            pool[fit],
            y[fit],
            pool[val],
            y[val],
            learning_rate,
            batch_size_for(len(fit)),
            self.settings.max_epochs,
            self.settings.patience,
            np.random.default_rng([seed, SHUFFLE_STREAM, len(labelled)]),
            keep_start=method == FINE_TUNE,
            min_epochs=self.settings.min_epochs,
        )
        accuracy = float(np.mean(predict_classes(trained, test) == data.truth_test))
        return accuracy, seconds + head_seconds, epochs


# --- many trainings ----------------------------------------------------------------------------


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
    settings: TransferSettings = TransferSettings(),
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
    trainer = _Trainer(lab, backbone, settings)
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


# --- what the rows say -------------------------------------------------------------------------


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Per method, selection and labels: the mean over seeds (and the lowest and highest)."""
    frame = rows.assign(
        seconds_per_epoch=rows["train_seconds"] / rows["epochs"].where(rows["epochs"] > 0)
    )
    grouped = frame.groupby(["method", "selection", "labels"], sort=False)
    summary = grouped.agg(
        seeds=("seed", "nunique"),
        accuracy=("accuracy", "mean"),
        accuracy_min=("accuracy", "min"),
        accuracy_max=("accuracy", "max"),
        train_seconds=("train_seconds", "mean"),
        epochs=("epochs", "mean"),
        seconds_per_epoch=("seconds_per_epoch", "mean"),
    ).reset_index()
    return summary[SUMMARY_COLUMNS]


def read_rows(path: Path | str) -> pd.DataFrame:
    """A `transfer.csv` written by a run, checked; `TlActiveError` saying what is wrong if not."""
    from tl_active.errors import TlActiveError

    path = Path(path)
    try:
        rows = pd.read_csv(path)
    except FileNotFoundError:
        raise TlActiveError(
            f"{path} is missing: `python -m tl_active transfer --out {path.parent}` makes it"
        ) from None
    except (OSError, ValueError) as error:
        raise TlActiveError(f"{path} cannot be read as a CSV file ({error})") from None
    missing = [c for c in COLUMNS if c not in rows.columns]
    if missing:
        raise TlActiveError(f"{path} is not a transfer.csv: it lacks {', '.join(missing)}")
    rows = rows[COLUMNS].copy()
    for column in COLUMNS[2:]:
        rows[column] = pd.to_numeric(rows[column], errors="coerce")
    numeric = rows[COLUMNS[2:]]
    if rows.empty or numeric.isna().any().any() or not rows["accuracy"].between(0, 1).all():
        raise TlActiveError(f"{path} holds no rows or damaged ones")
    return rows


def _value(summary: pd.DataFrame, method: str, selection: str, labels: int, column: str):
    found = summary[
        (summary["method"] == method)
        & (summary["selection"] == selection)
        & (summary["labels"] == labels)
    ]
    return float(found[column].iloc[0]) if len(found) else float("nan")


@dataclass(frozen=True)
class Findings:
    """The issue's questions, answered from a summary (NaN where the run did not measure it)."""

    epoch_speedup: float  # scratch's seconds per epoch over frozen-conv's, on the most labels
    all_labels_gap: float  # frozen-conv's accuracy minus scratch's, with all labels
    at_50: dict[str, float]  # selection -> best of head / fine-tune minus scratch, at 50 labels
    # selection -> the fewest labels from which fine-tuning beats the head at every budget
    fine_tune_pays_from: dict[str, int | None]
    lines: tuple[str, ...]


def findings(summary: pd.DataFrame, fine_tune: str) -> Findings:
    """What the table says about the targets: speed per epoch, all labels, 50 labels, fine-tuning."""
    lines = []
    every = summary[summary["selection"] == ALL]
    n_all = int(every["labels"].iloc[0]) if len(every) else -1
    # Speed per epoch on the most labels trained on: all of them, or else the largest budget.
    if n_all > 0:
        where, n_most, what = ALL, n_all, f"all {n_all:,} labels"
    elif len(summary):
        largest = summary.sort_values("labels", kind="stable").iloc[-1]
        where, n_most = str(largest["selection"]), int(largest["labels"])
        what = f"{n_most:,} labels ({where})"
    else:
        where, n_most, what = ALL, -1, ""
    scratch_epoch = _value(summary, SCRATCH, where, n_most, "seconds_per_epoch")
    frozen_epoch = _value(summary, FROZEN_CONV, where, n_most, "seconds_per_epoch")
    speedup = scratch_epoch / frozen_epoch
    gap = _value(summary, FROZEN_CONV, ALL, n_all, "accuracy") - _value(
        summary, SCRATCH, ALL, n_all, "accuracy"
    )
    if not math.isnan(speedup):
        lines.append(
            f"{what}: an epoch of frozen-conv takes {frozen_epoch:.3f} s, of scratch "
            f"{scratch_epoch:.3f} s ({speedup:.1f} x faster)"
            + ("" if math.isnan(gap) else f"; frozen-conv is {100 * gap:+.2f} points from scratch")
        )
    at_50, pays = {}, {}
    for selection in (s for s in dict.fromkeys(summary["selection"]) if s != ALL):
        measured = [
            value
            for value in (
                _value(summary, HEAD, selection, 50, "accuracy"),
                _value(summary, fine_tune, selection, 50, "accuracy"),
            )
            if not math.isnan(value)
        ]
        best = max(measured, default=float("nan"))
        margin = best - _value(summary, SCRATCH, selection, 50, "accuracy")
        if not math.isnan(margin):
            at_50[selection] = float(margin)
            lines.append(
                f"50 labels, {selection}: the best of head and {fine_tune} is "
                f"{100 * margin:+.2f} points from scratch"
            )
        # Each budget of this selection, then all labels; the first where fine-tuning wins.
        steps = [(selection, int(n)) for n in summary[summary["selection"] == selection]["labels"]]
        steps += [(ALL, n_all)] if n_all > 0 else []
        compared = [
            (
                n,
                _value(summary, fine_tune, source, n, "accuracy"),
                _value(summary, HEAD, source, n, "accuracy"),
            )
            for source, n in sorted(set(steps), key=lambda step: step[1])
        ]
        compared = [
            (n, tuned, frozen) for n, tuned, frozen in compared if not math.isnan(tuned + frozen)
        ]
        if compared:
            # From the smallest budget at which it wins there and at every larger budget.
            pays[selection] = None
            for n, tuned, frozen in reversed(compared):
                if tuned <= frozen:
                    break
                pays[selection] = n
            lines.append(
                f"{fine_tune} against the head, {selection}: "
                + ", ".join(
                    f"{n:,} labels {100 * (tuned - frozen):+.2f}" for n, tuned, frozen in compared
                )
                + " points; "
                + (
                    f"it pays from {pays[selection]:,} labels"
                    if pays[selection]
                    else "it pays at no budget measured"
                )
            )
    return Findings(float(speedup), float(gap), at_50, pays, tuple(lines))


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as a plain-text table: accuracy in percent, seconds, epochs."""
    table = pd.DataFrame(
        {
            "method": summary["method"],
            "selection": summary["selection"],
            "labels": [f"{int(v):,}" for v in summary["labels"]],
            "accuracy": [f"{100 * v:.2f} %" for v in summary["accuracy"]],
            "lowest-highest seed": [
                f"{100 * lo:.2f}-{100 * hi:.2f}"
                for lo, hi in zip(summary["accuracy_min"], summary["accuracy_max"])
            ],
            "train s": [f"{v:.2f}" for v in summary["train_seconds"]],
            "epochs": [f"{v:.1f}" for v in summary["epochs"]],
            "s/epoch": ["-" if pd.isna(v) else f"{v:.3f}" for v in summary["seconds_per_epoch"]],
        }
    )
    return table.to_string(index=False)


def transfer_chart(rows: pd.DataFrame, title: str = ""):
    """Mean test accuracy per method and selection against labels, and against seconds."""
    import altair as alt

    from tl_active import plots

    summary = summarise(rows)
    methods = list(dict.fromkeys(summary["method"]))
    colour = alt.Color(
        "method:N",
        sort=methods,
        scale=alt.Scale(domain=methods, range=plots.TABLEAU[: len(methods)]),
        title="method",
    )
    dash = alt.StrokeDash(
        "selection:N",
        title="line: selection",
        legend=alt.Legend(symbolType="stroke", symbolStrokeColor="gray"),
    )
    shape = alt.Shape("selection:N", title="point: selection")
    tooltip = [
        "method:N",
        "selection:N",
        alt.Tooltip("labels:Q", format=","),
        alt.Tooltip("accuracy:Q", format=".2%", title="mean accuracy"),
        alt.Tooltip("train_seconds:Q", format=".2f", title="seconds"),
        alt.Tooltip("epochs:Q", format=".1f"),
    ]
    y = alt.Y("accuracy:Q", title="test accuracy (mean over seeds)", scale=alt.Scale(zero=False))
    base = alt.Chart(summary).encode(y=y, color=colour, tooltip=tooltip)
    # The budget "all" has no selection of its own: it is drawn as points at the end.
    counted = summary[summary["selection"] != ALL]
    every = summary[summary["selection"] == ALL]
    labels = alt.X(
        "labels:Q",
        title="labels (log)",
        scale=alt.Scale(
            type="log",
            domain=[0.8 * summary["labels"].min(), 1.25 * summary["labels"].max()],
            nice=False,
        ),
    )
    by_labels = alt.layer(
        base.properties(data=counted).mark_line(point=True).encode(x=labels, strokeDash=dash),
        base.properties(data=every)
        .mark_point(filled=True, size=90, shape="diamond")
        .encode(x=labels),
    ).properties(width=460, height=360, title="accuracy against labels (diamonds: all labels)")
    by_seconds = (
        base.mark_point(filled=True, size=70)
        .encode(
            x=alt.X("train_seconds:Q", scale=alt.Scale(type="log"), title="training seconds (log)"),
            shape=shape,
        )
        .properties(width=460, height=360, title="accuracy against training time")
    )
    return alt.hconcat(by_labels, by_seconds).properties(title=title)


# --- command line ------------------------------------------------------------------------------


def parse_budgets(text: str) -> tuple[int | str, ...]:
    budgets: list[int | str] = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        if part == ALL:
            budgets.append(ALL)
            continue
        try:
            budgets.append(int(part))
        except ValueError:
            raise ValueError(
                f"--budgets are label counts or 'all', such as 25,50,all, not {text!r}"
            ) from None
    return tuple(budgets)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backbone",
        default=DEFAULT_BACKBONE,
        help="a backbone of the shared architecture: a shipped name or a .keras path "
        f"(default {DEFAULT_BACKBONE})",
    )
    parser.add_argument(
        "--classes", default=DEFAULT_CLASSES, help=f"the question (default {DEFAULT_CLASSES})"
    )
    parser.add_argument(
        "--budgets", default=None, help="label counts and/or all (default 25,50,100,500,all)"
    )
    parser.add_argument(
        "--selections",
        default=None,
        help=f"random and/or a strategy's name (default random,{DEFAULT_STRATEGY})",
    )
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 2)")
    parser.add_argument(
        "--fine-tune-layers",
        type=int,
        default=None,
        help="N of fine-tune-last-N: the backbone's last N weighted layers unfrozen (default 2)",
    )
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="epochs at most per training, the same for every method; early stopping on the "
        "validation split usually ends it sooner (default 60)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one seed, budgets 50 and 200, short trainings; other options still apply on top",
    )
    parser.add_argument("--out", type=Path, default=Path("results/transfer"), help="output folder")


def settings_from_args(args: argparse.Namespace) -> TransferSettings:
    settings = QUICK if args.quick else TransferSettings()
    given = {}
    if args.budgets is not None:
        given["budgets"] = parse_budgets(args.budgets)
    if args.selections is not None:
        given["selections"] = tuple(s.strip() for s in args.selections.split(",") if s.strip())
    for name in ("seeds", "fine_tune_layers", "max_epochs"):
        if getattr(args, name) is not None:
            given[name] = getattr(args, name)
    return replace(settings, **given)


def main(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from tl_active.data.backbones import resolve_backbone

    # Every setting is checked before TensorFlow is loaded (which takes seconds).
    settings = settings_from_args(args)
    task = Task.multiclass(args.classes)
    out = Path(args.out)
    check_writable_folder(out, "--out")
    backbone = resolve_backbone(args.backbone)

    from tl_active import plots
    from tl_active.data.network import load_backbone

    lab = load_transfer_data(
        backbone.name if backbone.shipped else str(backbone.path),
        task.classes,
        args.data,
        args.cache,
    )
    model = load_backbone(backbone.path)
    with tqdm(total=1, desc="trainings", unit="run") as bar:

        def progress(done: int, total: int, what: str) -> None:
            bar.total = total
            bar.set_postfix_str(what, refresh=False)
            bar.update(done - bar.n)

        result = run_transfer(lab, model, settings, progress)
    summary = summarise(result.rows)
    fine_tune = settings.method_name(FINE_TUNE)
    found = findings(summary, fine_tune)
    result.rows.to_csv(out / "transfer.csv", index=False, float_format="%.6f")
    summary.to_csv(out / "summary.csv", index=False, float_format="%.6f")
    title = (
        f"{backbone.name} -> {lab.task.describe(lab.features.class_names)}: "
        f"{settings.seeds} seed{'s' * (settings.seeds != 1)}"
    )
    (out / "transfer.png").write_bytes(plots.to_png(transfer_chart(result.rows, title), scale=1.5))
    print(title)
    print(format_summary(summary))
    for line in found.lines:
        print(line)
    for name, (images, seconds) in result.frozen_passes.items():
        print(f"{name}: its frozen layers ran once over {images:,} images, in {seconds:.1f} s")
    print(
        f"{len(result.rows)} trainings in {result.seconds:.0f} s; "
        f"wrote {out}/transfer.csv, summary.csv, transfer.png"
    )
