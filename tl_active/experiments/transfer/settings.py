"""The transfer lab's settings and data: what is trained, on which question and images.

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

The methods that backpropagate hold out a seeded share of the labels as a validation split
(`validation_split`) and train in mini-batches of `batch_size_for` labels; the fine-tuning of
a session's own backbone (`fine_tune.py`) trains the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tl_active.core.strategies import DEFAULT_STRATEGY, get_strategy
from tl_active.core.task import MULTICLASS, Task
from tl_active.data.features import FeatureSet, TaskData, load_features
from tl_active.paths import CACHE_DIR, MNIST_PATH
from tl_active.sessions.records import MAX_BATCH

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
                if not get_strategy(selection).serves(MULTICLASS):
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


def validation_split(n: int, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into n labels) to train on and to validate on: a seeded share, at least 1."""
    order = np.random.default_rng([seed, VALIDATION_STREAM, n]).permutation(n)
    n_val = min(n - 1, max(1, round(share * n)))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def batch_size_for(n_fit: int) -> int:
    """An eighth of the training labels, from 8 to 128: a few steps per epoch on a small budget."""
    return int(np.clip(n_fit // 8, 8, 128))
