"""The weather transfer lab: from rain or snow today to snow, as in the seed, scored for rare days.

The lab's wet network (`LAB_BACKBONE`: the shipped recipe on 4-day windows) learned "wet
today" (`weather_network.py`). On a snow question, for label budgets chosen at random and by an
active-learning strategy answered by the recorded events, five ways to learn snow are trained on
2016's windows and scored on 2017's:

- `scratch`: the whole network from random weights on those labels;
- `frozen-conv`: the seed's method: the convolution and pooling frozen at the wet network's
  weights, new Dense and output layers trained on top;
- `head`: the app's logistic head on the frozen Dense layer, no backpropagation;
- `fine-tune`: `head` first, set as the output layer, then the Dense and output layers trained
  on at a lower learning rate;
- `fine-tune-all`: the same, with the convolution trained too (every layer of the wet network).

Fine-tuning's learning rate and epochs (3e-4 for 20) were chosen on 2016's blocked folds with
every label, among 1e-4 to 3e-3 and 10 to 40 epochs, never on 2017
(`bench/weather_fine_tune.py`; docs/weather.md has the table).

Scored on 2017 by default; `fold_split` scores on the blocked folds of 2016 instead (fold k's
windows held out, the pool the windows that share no day with them), one fold per seed, each
through a wet network of its own that never saw the fold's days (`fold_network`).

Snow is rare (about 2 % of 2017's days), so each is scored by PR-AUC, with precision, recall and
F1 at 0.5 beside it, never by accuracy alone. Labels with no snow day in them teach no method
anything about snow: every method then scores the base rate. Every training is seeded and
weighs the two answers equally (balanced class weights); a fixed number of epochs stands in for
early stopping, which a handful of labels cannot support.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tl_active.core.head import make_head
from tl_active.core.task import BINARY, Task
from tl_active.data.features import FeatureSet
from tl_active.data.kinds import WeatherKind
from tl_active.data.weather import WeatherWindows, blocked_folds, purged
from tl_active.experiments.transfer.running import oracle_labelled
from tl_active.experiments.transfer.settings import RANDOM_STREAM

SCRATCH, FROZEN_CONV, HEAD, FINE_TUNE = "scratch", "frozen-conv", "head", "fine-tune"
FINE_TUNE_ALL = "fine-tune-all"
METHODS = (SCRATCH, FROZEN_CONV, HEAD, FINE_TUNE, FINE_TUNE_ALL)
RANDOM, ALL = "random", "all"
SNOW = Task(BINARY, (1,))
# The lab's wet network (`backbones.SNOW_LAB`): the shipped recipe on 4-day windows. On 2016's
# blocked folds with every label, fine-tuning it closes 69 % of the gap between its head and
# the day-level logistic regression, the 14-day one's 43 % (docs/weather.md); the windows are
# as long as the network reads.
LAB_BACKBONE = "weather-cnn-4d"
COLUMNS = [
    "question",
    "method",
    "selection",
    "labels",
    "seed",
    "positives",
    "pr_auc",
    "precision",
    "recall",
    "f1",
    "base_rate",
    "train_seconds",
]
# The seed's own table (hourly data, snow 6 / 12 / 18 hours ahead, frozen conv + new dense).
SEED_TABLE = ((6, 0.78, 0.6), (12, 0.62, 0.43), (18, 0.47, 0.35))
FOLDS = 5  # 2016's blocked folds (`weather.blocked_folds`); with them seed k holds out fold k
SHUFFLE_STREAM = 4_271  # a second seed word: the batches' order never shares a stream
POSITIVE_WEIGHTS = ("balanced", "sqrt", "none")  # a snow day's weight (`_class_weight`)

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class WeatherTransferSettings:
    """Budgets, selections, seeds and the length of each training."""

    budgets: tuple[int | str, ...] = (25, 50, 100, ALL)
    selections: tuple[str, ...] = (RANDOM, "diversity")
    seeds: int = 5
    methods: tuple[str, ...] = METHODS
    epochs: int = 20
    learning_rate: float = 1e-3
    # Chosen on 2016's blocked folds with every label (bench/weather_fine_tune.py): the best of
    # 1e-4, 3e-4, 1e-3 and 3e-3 for 10, 20 and 40 epochs, for fine-tune and fine-tune-all both.
    fine_tune_epochs: int = 20
    fine_tune_learning_rate: float = 3e-4
    # How much a snow day weighs against a dry one: "balanced" (the class's share, the best on
    # the folds), its square root, or "none".
    positive_weight: str = "balanced"
    query_batch: int = 5

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ValueError(f"methods are some of {', '.join(METHODS)}, not {unknown or 'none'}")
        if self.seeds < 1 or self.epochs < 1 or self.fine_tune_epochs < 1:
            raise ValueError("seeds and epochs are 1 or more")
        if not (self.learning_rate > 0 and self.fine_tune_learning_rate > 0):
            raise ValueError("the learning rates must be above 0")
        if self.positive_weight not in POSITIVE_WEIGHTS:
            raise ValueError(
                f"the positive weight is one of {', '.join(POSITIVE_WEIGHTS)}, "
                f"not {self.positive_weight!r}"
            )
        if not self.budgets:
            raise ValueError("give at least one budget, such as 50 or all")


QUICK = WeatherTransferSettings(budgets=(50, ALL), seeds=1)


def selection_order(
    features: FeatureSet, selection: str, n_labels: int, seed: int, query_batch: int = 5
) -> np.ndarray:
    """The first `n_labels` pool windows a selection labels, in order (see transfer/running)."""
    if selection == RANDOM:
        rng = np.random.default_rng([seed, RANDOM_STREAM])
        return rng.permutation(features.pool_size)[:n_labels]
    return oracle_labelled(features, SNOW, selection, n_labels, seed, query_batch)


def _class_weight(y: np.ndarray, positive_weight: str = "balanced") -> dict[int, float]:
    counts = np.bincount(y, minlength=2)
    balanced = {k: float(len(y) / (2 * counts[k])) for k in (0, 1)}
    if positive_weight == "balanced":
        return balanced
    if positive_weight == "sqrt":
        return {k: float(np.sqrt(v)) for k, v in balanced.items()}
    return {0: 1.0, 1: 1.0}


class _Learner:
    """One method's network, its Adam and its traced training step, made once per run.

    Each training starts the same network afresh (the weights a newly built one gets from the
    seed, or those given, and a new optimiser's state), so that TensorFlow traces a method's
    training once per run rather than once per training, and runs every epoch in one call: on a
    few hundred windows, tracing and `model.fit`'s per-epoch and per-step machinery cost ten
    times the arithmetic.
    """

    def __init__(self, build: Callable):
        import keras
        import tensorflow as tf

        self.build, self.model = build, build()
        self.optimizer = keras.optimizers.Adam()
        weights = self.model.trainable_variables
        self.optimizer.build(weights)
        self.fresh_optimizer = [v.numpy() for v in self.optimizer.variables]
        loss = keras.losses.BinaryCrossentropy()
        spec = tf.TensorSpec((None, *self.model.input_shape[1:]), tf.float32)
        vector = tf.TensorSpec((None,), tf.float32)

        @tf.function(
            input_signature=[
                spec,
                vector,
                vector,
                tf.TensorSpec((None, None), tf.int32),
                tf.TensorSpec((), tf.int32),
            ]
        )
        def train(x, y, sample_weight, orders, batch):
            # Every epoch's shuffled batches in one call: no Python between the steps.
            n = tf.shape(x)[0]
            for order in orders:
                for begin in tf.range(0, n, batch):
                    rows = order[begin : tf.minimum(begin + batch, n)]
                    with tf.GradientTape() as tape:
                        p = self.model(tf.gather(x, rows), training=True)
                        value = loss(
                            tf.gather(y, rows)[:, None],
                            p,
                            sample_weight=tf.gather(sample_weight, rows),
                        )
                    self.optimizer.apply(tape.gradient(value, weights), weights)

        self.train = train

    def fit(
        self,
        x,
        y,
        seed: int,
        epochs: int,
        learning_rate: float,
        start=None,
        positive_weight: str = "balanced",
    ):
        """Adam on the class-weighted binary cross-entropy, `epochs` passes of shuffled batches
        (what `model.fit` does with these settings); from `start`'s weights, else new ones."""
        import keras

        keras.utils.set_random_seed(seed)
        self.model.set_weights(start if start is not None else self.build().get_weights())
        for variable, value in zip(self.optimizer.variables, self.fresh_optimizer, strict=True):
            variable.assign(value)
        self.optimizer.learning_rate = learning_rate
        class_weight = _class_weight(y, positive_weight)
        sample_weight = np.where(y == 1, class_weight[1], class_weight[0]).astype(np.float32)
        rng = np.random.default_rng([seed, SHUFFLE_STREAM])
        orders = np.stack([rng.permutation(len(y)) for _ in range(epochs)]).astype(np.int32)
        batch = int(np.clip(len(y) // 8, 8, 64))
        self.train(np.asarray(x, np.float32), y.astype(np.float32), sample_weight, orders, batch)
        return self.model


class WeatherTrainer:
    """Trains each method on given windows; the frozen parts' outputs are computed once."""

    def __init__(self, windows: WeatherWindows, features: FeatureSet, backbone, settings):
        import keras

        self.windows, self.features, self.backbone = windows, features, backbone
        self.settings = settings
        flatten = keras.Model(backbone.input, backbone.get_layer("flatten").output)
        self.flat_pool = np.asarray(flatten(windows.x_pool, training=False))
        self.flat_test = np.asarray(flatten(windows.x_test, training=False))
        self._learners: dict[str, _Learner] = {}

    def _learner(self, method: str) -> _Learner:
        if method not in self._learners:
            self._learners[method] = _Learner(self._builder(method))
        return self._learners[method]

    def _builder(self, method: str) -> Callable:
        import keras

        if method in (SCRATCH, FINE_TUNE_ALL):

            def whole_network():
                # The backbone's own architecture, with weights a new network gets from the
                # seed; every layer trains, though a loaded backbone comes frozen.
                network = keras.models.clone_model(self.backbone)
                for layer in network.layers:  # the model's own flag leaves its layers' be
                    layer.trainable = True
                return network

            return whole_network
        units = self.backbone.get_layer("dense").units

        def dense_layers():
            inputs = keras.Input(shape=self.flat_pool.shape[1:])
            dense = keras.layers.Dense(units, activation="relu")(inputs)
            return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(dense))

        return dense_layers

    def predict(self, method: str, labelled: np.ndarray, seed: int) -> np.ndarray:
        """The probability of snow for each test window after training `method` on `labelled`."""
        y = self.windows.y_pool[labelled]
        features = self.features
        if method in (HEAD, FINE_TUNE, FINE_TUNE_ALL):
            head = make_head(2, "converge", True).fit(features.pool[labelled], y)
            if method == HEAD:
                return head.predict_proba(features.test)[:, 1]
        settings = self.settings
        learner, lr, epochs = self._learner(method), settings.learning_rate, settings.epochs
        start = None
        if method in (FINE_TUNE, FINE_TUNE_ALL):  # the wet network's layers, the head as output
            conv = self.backbone.get_layer("conv").get_weights() if method == FINE_TUNE_ALL else []
            start = [
                *conv,
                *self.backbone.get_layer("dense").get_weights(),
                head.coef_.reshape(-1, 1).astype(np.float32),
                head.intercept_.astype(np.float32),
            ]
            lr, epochs = settings.fine_tune_learning_rate, settings.fine_tune_epochs
        weight = settings.positive_weight
        if method in (SCRATCH, FINE_TUNE_ALL):
            x = self.windows.x_pool[labelled]
            model = learner.fit(x, y, seed, epochs, lr, start, weight)
            return np.asarray(model(self.windows.x_test, training=False)).ravel()
        model = learner.fit(self.flat_pool[labelled], y, seed, epochs, lr, start, weight)
        return np.asarray(model(self.flat_test, training=False)).ravel()


def fold_network(windows: WeatherWindows, fold: int, n_folds: int = FOLDS, seed: int = 0):
    """A wet network that never saw fold `fold`'s days: the shipped recipe (`wet-today`, its
    epochs) trained on the windows of `wet_windows_without`.

    The shipped network learned wet from every 2016 window, so a fold of 2016 is new to the
    snow labels but not to it; this one makes the fold as unseen as 2017 is.
    """
    from tl_active.data.weather_network import WEATHER_EPOCHS, train_network

    wet, train = wet_windows_without(windows, fold, n_folds)
    return train_network(wet.x_pool[train], wet.y_pool[train], wet.days, WEATHER_EPOCHS, seed)


def wet_windows_without(
    windows: WeatherWindows, fold: int, n_folds: int = FOLDS
) -> tuple[WeatherWindows, np.ndarray]:
    """2016's `wet-today` windows, and which of them share no day (of a city) with fold
    `fold`'s held-out windows of `windows`' question, or with the day those answer about."""
    from tl_active.data.weather import make_windows

    held = np.zeros(len(windows.table.city), bool)
    for end in windows.pool_end[blocked_folds(windows, n_folds) == fold]:
        held[end - windows.days + 1 : end + windows.question.ahead + 1] = True
    wet = make_windows("wet-today", windows.days, windows.table.path)
    span = wet.pool_end[:, None] + np.arange(-(wet.days - 1), 1)[None, :]
    return wet, ~held[span].any(axis=1)


def fold_features(features: FeatureSet, network, windows: WeatherWindows, fold: int) -> FeatureSet:
    """`features` with the pool read by `network` (a fold's own) at the same layer."""
    from dataclasses import replace

    from tl_active.data.weather_features import window_outputs

    return replace(
        features,
        pool=window_outputs(network, features.layer, windows.x_pool),
        key=f"{features.key}-net{fold}",
        _tasks={},
        _derived={},
    )


def fold_split(
    windows: WeatherWindows, features: FeatureSet, fold: int, n_folds: int = 5
) -> tuple[WeatherWindows, FeatureSet]:
    """2016's windows as a pool and a held-out set for one blocked fold (see `weather.py`).

    The held-out windows are fold `fold`'s; the pool is every other 2016 window that shares no
    day with them (`purged`). Both come back as the pool and test of a question's windows and
    features, so that the selections and trainings run on them as on the 2016/2017 split.
    """
    from dataclasses import replace

    folds = blocked_folds(windows, n_folds)
    train, held = purged(windows, folds, fold), folds == fold
    split = replace(
        windows,
        pool_end=windows.pool_end[train],
        test_end=windows.pool_end[held],
        x_pool=windows.x_pool[train],
        x_test=windows.x_pool[held],
        y_pool=windows.y_pool[train],
        y_test=windows.y_pool[held],
    )
    kind = WeatherKind(split)
    return split, replace(
        features,
        pool=features.pool[train],
        test=features.pool[held],
        y_pool=features.y_pool[train],
        y_test=features.y_pool[held],
        key=f"{features.key}-fold{fold}of{n_folds}",
        data_kind=kind,
        _tasks={},
        _derived={},
    )


def run_weather_transfer(
    windows: WeatherWindows,
    features: FeatureSet,
    backbone,
    settings: WeatherTransferSettings,
    progress: Progress | None = None,
    seeds: Sequence[int] | None = None,
) -> pd.DataFrame:
    """One row (`COLUMNS`) per method, selection, budget and seed (`seeds`, else 0 to N-1)."""
    from tl_active.data.weather_network import scores

    trainer = WeatherTrainer(windows, features, backbone, settings)
    n_pool = len(windows.y_pool)
    jobs = []
    for seed in range(settings.seeds) if seeds is None else seeds:
        for selection in settings.selections:
            numbers = sorted(b for b in settings.budgets if b != ALL)
            if numbers:
                order = selection_order(
                    features, selection, max(numbers), seed, settings.query_batch
                )
                jobs += [(seed, selection, n, order[:n]) for n in numbers]
        if ALL in settings.budgets:
            jobs.append((seed, ALL, n_pool, np.arange(n_pool)))
    rows, total = [], len(jobs) * len(settings.methods)
    for seed, selection, n, labelled in jobs:
        positives = int(windows.y_pool[labelled].sum())
        for method in settings.methods:
            started = time.perf_counter()
            if 0 < positives < len(labelled):
                p = trainer.predict(method, labelled, seed)
            else:  # one answer only: nothing to tell snow by
                p = np.full(len(windows.y_test), float(positives > 0))
            seconds = time.perf_counter() - started
            measured = scores(windows.y_test, p)
            rows.append(
                [windows.question.name, method, selection, n, seed, positives]
                + [measured[k] for k in ("pr_auc", "precision", "recall", "f1", "base_rate")]
                + [seconds]
            )
            if progress:
                progress(len(rows), total, f"{method} {selection} {n}")
    return pd.DataFrame(rows, columns=COLUMNS)


def day_reference(windows: WeatherWindows) -> dict[str, float]:
    """A reference without any network: logistic regression on the answer day's measurements.

    For the today questions that is the last day's 17 measurements, for tomorrow's the last
    known day's (with its precipitation and events), on every pool label; its PR-AUC is what the
    frozen wet network's layers have to approach.
    """
    from sklearn.linear_model import LogisticRegression

    from tl_active.data.weather import MEASUREMENTS
    from tl_active.data.weather_network import scores

    width = len(MEASUREMENTS) if windows.question.ahead == 0 else windows.x_pool.shape[2]
    model = LogisticRegression(max_iter=2000).fit(windows.x_pool[:, -1, :width], windows.y_pool)
    return scores(windows.y_test, model.predict_proba(windows.x_test[:, -1, :width])[:, 1])


def window_reference(windows: WeatherWindows, days: int | None = None) -> dict[str, float]:
    """The same logistic regression on the window's last `days` days (all of it by default).

    Every channel of those days, on every pool label; the today questions' hidden channels of
    the last day are zeros. It reads what the networks read, so it tells whether a method's
    shortfall against `day_reference` lies in the network or in the window: with a few dozen
    snow days, the days before the answer's are mostly noise to fit.
    """
    from sklearn.linear_model import LogisticRegression

    from tl_active.data.weather_network import scores

    days = windows.days if days is None else int(days)
    if not 1 <= days <= windows.days:
        raise ValueError(f"a window reference reads 1 to {windows.days} days, not {days}")
    x_pool = windows.x_pool[:, -days:].reshape(len(windows.x_pool), -1)
    x_test = windows.x_test[:, -days:].reshape(len(windows.x_test), -1)
    model = LogisticRegression(max_iter=5000).fit(x_pool, windows.y_pool)
    return scores(windows.y_test, model.predict_proba(x_test)[:, 1])


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean (and spread of PR-AUC) over seeds, per question, method, selection and budget."""
    # "all" is one budget even where the pool's size differs by seed (one blocked fold each).
    rows = rows.assign(budget=rows["labels"].where(rows["selection"] != ALL, -1))
    keys = ["question", "selection", "budget", "method"]
    grouped = rows.groupby(keys, sort=False)
    figures = ["labels", "positives", "pr_auc", "precision", "recall", "f1", "base_rate"]
    summary = grouped[figures].mean()
    summary["labels"] = summary["labels"].round().astype(int)
    summary["pr_auc_sd"] = grouped["pr_auc"].std(ddof=0)
    summary["seeds"] = grouped.size()
    summary = summary.reset_index().drop(columns="budget")
    return summary[
        ["question", "selection", "labels", "method", *figures[1:], "pr_auc_sd", "seeds"]
    ]


def format_summary(summary: pd.DataFrame) -> str:
    """A Markdown table of the summary, one row per question, selection, budget and method."""
    lines = [
        "| question | selection | labels | method | snow days in labels | PR-AUC (sd) | "
        "precision | recall | F1 |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in summary.itertuples():
        lines.append(
            f"| {r.question} | {r.selection} | {r.labels} | {r.method} | {r.positives:.1f} | "
            f"{r.pr_auc:.3f} ({r.pr_auc_sd:.3f}) | {r.precision:.2f} | {r.recall:.2f} | "
            f"{r.f1:.2f} |"
        )
    return "\n".join(lines)
