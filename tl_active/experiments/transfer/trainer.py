"""The transfer lab's trainer: one method trained on given labels, scored on the test set.

The methods that backpropagate hold out a share of the labels as a validation split (seeded),
stop when its loss has not improved for a number of epochs and restore the best epoch; the
head needs none and fits on every label. A frozen part of the network is run once over the
images, and only the layers above it train (`retraining.split_chain`), so no epoch runs frozen
layers; the training seconds are the training itself, that one pass not included (the trainer
keeps its time apart). Every step is seeded: the same settings give the same accuracies on the
same machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from tl_active.core.head import make_head
from tl_active.core.metrics import task_metrics
from tl_active.experiments.transfer.settings import (
    FINE_TUNE,
    FROZEN_CONV,
    HEAD,
    SCRATCH,
    SHUFFLE_STREAM,
    TransferData,
    TransferSettings,
    batch_size_for,
    validation_split,
)


@dataclass
class Trainer:
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
