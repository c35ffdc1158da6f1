"""The layer check: a head fitted on a small labelled sample tells a useful layer from a useless one.

The fast tests use the synthetic features and outputs that carry nothing about the image (what
an untrained network's layer looks like to a head); the marked ones run a real, untrained Keras
network with the shipped CNN's layer names over a slice of MNIST, and the shipped CNN itself.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
from synthetic import synthetic_features

from tl_active.data.features import FeatureSet
from tl_active.experiments import layer_check as quality
from tl_active.experiments.layer_check import check_layer, layer_check

WORDING = "Check the model file (is it the trained network?) or choose another layer."


def uninformed(like: FeatureSet, seed: int = 0) -> FeatureSet:
    """Outputs as wide as `like`'s that say nothing about the image they came from."""
    rng = np.random.default_rng(seed)
    if like.simplex:  # a softmax over small random logits, as an untrained last layer gives
        logits = rng.normal(0, 0.01, (len(like.pool) + len(like.test), like.width))
        outputs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    else:
        outputs = rng.normal(0, 0.005, (len(like.pool) + len(like.test), like.width))
    outputs = outputs.astype(np.float32)
    return replace(like, pool=outputs[: len(like.pool)], test=outputs[len(like.pool) :])


@pytest.mark.parametrize("layer", ["digits", "embedding"])
def test_the_synthetic_features_pass(layer):
    check = check_layer(synthetic_features(2_000, 1_000, layer=layer))
    assert check.ok and check.warning == ""
    assert check.accuracy > 0.8 and check.chance < 0.15
    assert (check.n_labelled, check.n_scored) == (500, 1_000)


@pytest.mark.parametrize("layer", ["digits", "embedding"])
def test_outputs_that_say_nothing_of_the_image_are_served_with_a_warning(layer):
    features = uninformed(synthetic_features(2_000, 1_000, layer=layer, model="untrained"))
    check = check_layer(features)
    assert not check.ok
    assert check.accuracy < 0.25
    assert check.warning.startswith(f"Layer {layer!r} of mnist-cnn looks untrained")
    assert f"answers {check.accuracy:.0%} of 1,000 test images right" in check.warning
    assert check.warning.endswith(WORDING)


def rare(informative: bool, seed: int = 0) -> FeatureSet:
    """Two classes, the second on 2 % of items (snow's share of days), in 8 columns that tell
    them apart or carry nothing."""
    rng = np.random.default_rng(seed)
    y = (rng.random(4_000) < 0.02).astype(np.intp)
    x = rng.normal(0, 1, (4_000, 8)) + (1.5 * y[:, None] if informative else 0)
    x = x.astype(np.float32)
    return FeatureSet(
        pool=x[:2_000],
        test=x[2_000:],
        y_pool=y[:2_000],
        y_test=y[2_000:],
        class_names=("no snow", "snow"),
        backbone="weather-cnn",
        layer="dense",
    )


def test_a_rare_class_is_judged_by_the_share_of_each_class_found_not_by_accuracy():
    # Always answering "no snow" scores 98 %; a useful layer's head, fitted on balanced labels,
    # answers fewer right but finds most of each class.
    useful = check_layer(rare(informative=True))
    assert useful.chance > 0.95 and useful.accuracy < useful.chance
    assert useful.balanced > 0.8 and useful.ok
    useless = check_layer(rare(informative=False))
    assert useless.balanced < 0.625 and not useless.ok
    assert f"finds {useless.balanced:.0%} of each class's test images on average" in (
        useless.warning
    )
    assert "where one answer for every image finds 50%" in useless.warning


def test_the_check_is_made_once_per_feature_set(monkeypatch):
    made = []
    real = quality.check_layer

    def counting(features):
        made.append(features)
        return real(features)

    monkeypatch.setattr(quality, "check_layer", counting)
    features, other = synthetic_features(600, 300), synthetic_features(600, 300, seed=1)
    first = layer_check(features)
    assert layer_check(features) is first
    layer_check(other)
    assert len(made) == 2 and made[0] is features and made[1] is other


def test_the_check_takes_milliseconds_on_a_pool_the_size_of_mnist():
    check_layer(synthetic_features(600, 300, layer="embedding"))  # SciPy's optimiser, imported once
    features = synthetic_features(60_000, 10_000, layer="embedding")
    features.simplex  # noqa: B018 - known before the check on a real feature set too
    seconds = []
    for seed in range(3):
        start = time.perf_counter()
        check_layer(features, seed=seed)
        seconds.append(time.perf_counter() - start)
    print(
        f"layer check on {features.pool.shape}: {1000 * min(seconds):.1f} to "
        f"{1000 * max(seconds):.1f} ms"
    )
    assert max(seconds) < 0.5


# --- a real network ---------------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.parametrize("layer", ["digits", "embedding"])
def test_an_untrained_network_with_the_shipped_layer_names_is_flagged(tmp_path, layer):
    import keras

    from tl_active.data.mnist import load_mnist
    from tl_active.data.network import extract_layer, load_backbone
    from tl_active.data.shared_cnn import build_shared_network

    keras.utils.set_random_seed(0)
    path = tmp_path / "untrained.keras"
    build_shared_network().save(path)  # the architecture, its layer names, random weights
    network = load_backbone(path)
    mnist = load_mnist()
    pool, test = slice(0, 6_000), slice(0, 2_000)
    features = FeatureSet(
        pool=extract_layer(network, layer, mnist.x_pool[pool]),
        test=extract_layer(network, layer, mnist.x_test[test]),
        y_pool=mnist.y_pool[pool],
        y_test=mnist.y_test[test],
        backbone=str(path),
        layer=layer,
    )
    check = layer_check(features)
    print(f"untrained {layer}: {check.accuracy:.1%} (chance {check.chance:.1%})")
    assert not check.ok and check.accuracy < 0.5
    assert WORDING in check.warning


@pytest.mark.model
def test_the_shipped_network_passes():
    from tl_active.data.features import load_features

    check = layer_check(load_features("mnist-cnn", "digits"))
    assert check.ok and check.accuracy > 0.97
