"""Whether a backbone's layer is any use: a quick check on a small labelled sample, once per layer.

Any `.keras` file with the right layer names is accepted as a backbone, including one that was
never trained, and a layer can carry little about the classes (the 5-9 network's five softmax
outputs say little about a 0). Served without a word, such a layer has people label for a head
that cannot learn. So the head is fitted on a small, seeded, stratified sample of the pool's
labels (50 per class of the data) and scored on a seeded sample of the test set, by the share
of each class it finds (balanced accuracy: on a rare class, such as snow on 2 % of days, plain
accuracy is high for any head). A layer whose head finds less than one in two, or with two or
three classes less than a quarter of the way from chance to all (62.5 % of two), gets a warning
that says what it means and what to do.

It costs milliseconds: a few hundred labels, a head fitted with one BLAS thread (on such small
matrices more threads only wait on each other, and on a busy machine for a long time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from tl_active.core.head import make_head
from tl_active.data.features import FeatureSet

PER_CLASS = 50
N_SCORED = 1_000


@dataclass(frozen=True)
class LayerCheck:
    """How well a head learns the data's classes from one layer, on a small labelled sample."""

    accuracy: float  # the fitted head's, on the scored test images
    chance: float  # always answering the commonest class of those images
    balanced: float  # the share of each class's scored images it finds, on average
    n_labelled: int  # pool images the head was fitted on
    n_scored: int  # test images it was scored on
    warning: str  # empty when the layer looks fine

    @property
    def ok(self) -> bool:
        return not self.warning


def _stratified(y: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Up to `per_class` positions of each class present in `y`, drawn without replacement."""
    picks = [
        rng.choice(where, min(per_class, len(where)), replace=False)
        for where in (np.flatnonzero(y == c) for c in np.unique(y))
    ]
    return np.concatenate(picks)


def check_layer(
    features: FeatureSet, per_class: int = PER_CLASS, n_scored: int = N_SCORED, seed: int = 0
) -> LayerCheck:
    """Fit the head on `per_class` labelled pool images per class, score it on test images.

    Every call computes; `layer_check` keeps one result per feature set.
    """
    rng = np.random.default_rng(seed)
    classes = np.unique(features.y_pool)
    if len(classes) < 2:
        return LayerCheck(float("nan"), float("nan"), float("nan"), 0, 0, "")
    labelled = _stratified(features.y_pool, per_class, rng)
    scored = rng.choice(len(features.test), min(n_scored, len(features.test)), replace=False)
    # Classes as answers 0..K-1; a test image of a class the pool lacks is one the head misses.
    answer = np.full(int(max(classes.max(), features.y_test.max(initial=0))) + 1, -1, np.intp)
    answer[classes] = np.arange(len(classes))
    truth = answer[features.y_test[scored]]
    head = make_head(len(classes), "converge", fit_intercept=not features.simplex, tol=1e-5)
    with threadpool_limits(limits=1, user_api="blas"):
        head.fit(features.pool[labelled], answer[features.y_pool[labelled]])
        predicted = head.predict_proba(features.test[scored]).argmax(axis=1)
    accuracy = float(np.mean(predicted == truth))
    chance = float(np.bincount(truth[truth >= 0]).max(initial=0) / len(truth))
    found = [np.mean(predicted[truth == k] == k) for k in range(len(classes)) if any(truth == k)]
    balanced = float(np.mean(found)) if found else float("nan")
    k = len(classes)
    warning = ""
    # Twice chance is all there is with two classes: a quarter of the way from chance to all.
    if balanced < (0.5 if k >= 4 else 1 / k + (1 - 1 / k) / 4):
        measured = (
            f"answers {accuracy:.0%} of {len(scored):,} test images right, where always giving "
            f"the commonest answer scores {chance:.0%}"
            if chance < 0.5
            else f"finds {balanced:.0%} of each class's test images on average (of "
            f"{len(scored):,} scored), where one answer for every image finds {1 / k:.0%}"
        )
        warning = (
            f"Layer {features.layer!r} of {features.backbone} looks untrained or of little use "
            f"for these images: a head fitted on {len(labelled):,} labelled images (up to "
            f"{per_class} per class) {measured}. Labels given on it will teach the head little. "
            "Check the model file (is it the trained network?) or choose another layer."
        )
    return LayerCheck(accuracy, chance, balanced, len(labelled), len(scored), warning)


def layer_check(features: FeatureSet) -> LayerCheck:
    """The check of this feature set's layer: made at the first call, then shared."""
    return features.derived("layer_check", check_layer)


__all__ = ["LayerCheck", "check_layer", "layer_check"]
