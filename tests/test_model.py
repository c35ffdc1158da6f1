"""The real network: the shipped CNN, its cached features, and the head against Keras itself.

These tests load TensorFlow and run the CNN over MNIST, so they are marked `model`.
"""

import json
import shutil

import numpy as np
import pytest

from tl_active.data import features as features_module
from tl_active.data.features import cache_key, cache_path, load_features
from tl_active.data.mnist import file_checksum
from tl_active.errors import ModelError
from tl_active.paths import MNIST_PATH, MODEL_PATH
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def real_features():
    return load_features()


def test_shipped_cnn_is_at_least_99_percent_on_the_test_set(real_features):
    accuracy = (real_features.test.argmax(axis=1) == real_features.y_test).mean()
    assert accuracy >= 0.99
    card = json.loads(MODEL_PATH.with_suffix(".json").read_text())
    assert card["test_accuracy"] == pytest.approx(accuracy, abs=5e-4)
    assert card["data_sha256"].startswith("06af5dfe73b70e3b")
    assert MODEL_PATH.stat().st_size < 300_000


def test_loaded_network_agrees_with_the_cached_features(real_features):
    from tl_active.data.mnist import load_mnist
    from tl_active.data.network import feature_extractor, load_shared_network

    network = load_shared_network()
    assert all(not layer.trainable for layer in network.layers)
    images = load_mnist().x_test[:64, ..., None]
    embedding, probs = feature_extractor(network)(images, training=False)
    assert np.allclose(np.asarray(probs), real_features.test[:64], atol=1e-5)
    assert np.asarray(embedding).shape == (64, 128)


def test_feature_shapes(real_features):
    assert real_features.pool.shape == (60_000, 10) and real_features.test.shape == (10_000, 10)
    assert np.allclose(real_features.pool.sum(axis=1), 1.0, atol=1e-4)
    assert real_features.simplex and real_features.class_names == tuple("0123456789")
    assert (real_features.backbone, real_features.layer) == ("mnist-cnn", "digits")
    embedding = load_features("mnist-cnn", "embedding")
    assert embedding.pool.shape == (60_000, 128) and embedding.test.shape == (10_000, 128)
    assert np.abs(embedding.pool).max() <= 1.0 and not embedding.simplex  # a tanh layer
    five = load_features("mnist-cnn-5to9", "digits")
    assert five.pool.shape == (60_000, 5) and five.simplex


def test_cache_is_keyed_reused_invalidated_and_repaired(tmp_path, monkeypatch, real_features):
    model = tmp_path / "model.keras"
    shutil.copy(MODEL_PATH, model)
    cache = tmp_path / "cache"
    first = load_features(model, "digits", MNIST_PATH, cache)
    key = cache_key(model, "digits", MNIST_PATH)
    assert cache_path(key, cache).is_file()
    assert np.allclose(first.pool, real_features.pool, atol=1e-5)

    calls = []
    real_compute = features_module.compute_features

    def counting_compute(*args, **kwargs):
        calls.append(args)
        return real_compute(*args, **kwargs)

    monkeypatch.setattr(features_module, "compute_features", counting_compute)
    load_features(model, "digits", MNIST_PATH, cache)
    assert calls == []  # a warm cache is used as it is

    # A corrupt cache file is recomputed, not trusted.
    cache_path(key, cache).write_bytes(cache_path(key, cache).read_bytes()[:5_000])
    repaired = load_features(model, "digits", MNIST_PATH, cache)
    assert len(calls) == 1 and np.allclose(repaired.pool, first.pool)
    # Another layer of the same model is another key.
    assert cache_key(model, "embedding", MNIST_PATH) != key

    # Another model file is another key: the old features are never reused for it.
    from tl_active.data.network import load_shared_network

    network = load_shared_network(model)
    digits = network.get_layer("digits")
    kernel, bias = digits.get_weights()
    digits.set_weights([kernel, bias + np.arange(10, dtype=np.float32)])
    network.save(model)
    new_key = cache_key(model, "digits", MNIST_PATH)
    changed = load_features(model, "digits", MNIST_PATH, cache)
    assert new_key != key and changed.key == new_key and len(calls) == 2
    assert not np.allclose(changed.pool, first.pool, atol=1e-3)


def test_missing_and_corrupt_model_files_give_clear_errors(tmp_path):
    from tl_active.data.network import load_shared_network

    with pytest.raises(ModelError, match="not found.*git checkout -- models/"):
        load_shared_network(tmp_path / "absent.keras")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(MODEL_PATH.read_bytes()[:20_000])
    with pytest.raises(ModelError, match="corrupt or not a Keras model"):
        load_shared_network(corrupt)
    with pytest.raises(ModelError, match="not found"):
        load_features(tmp_path / "absent.keras", "digits", MNIST_PATH, tmp_path)


def test_a_foreign_keras_model_is_refused(tmp_path):
    import keras

    from tl_active.data.network import load_shared_network

    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    other.save(tmp_path / "other.keras")
    with pytest.raises(ModelError, match="not the shared CNN"):
        load_shared_network(tmp_path / "other.keras")


def test_twelve_representative_labels_teach_the_head(real_features):
    accuracies = []
    for seed in range(5):
        session = LabellingSession(
            real_features, SessionSettings(strategy="representative", seed=seed)
        )
        session.auto_label(3)
        assert session.rounds[-1].n_labels == 12
        accuracies.append(session.metrics().accuracy)
    assert min(accuracies) >= 0.985
    assert np.mean(accuracies) >= session.ceiling().accuracy - 0.002


def test_demo_mode_matches_a_real_keras_head_step_for_step(real_features):
    import keras

    session = LabellingSession(real_features, SessionSettings(head_mode="demo", strategy="random"))
    keras_head = keras.Sequential([keras.Input((10,)), keras.layers.Dense(1, activation="sigmoid")])
    keras_head.layers[0].set_weights([np.zeros((10, 1), np.float32), np.zeros(1, np.float32)])
    keras_head.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.1), loss="binary_crossentropy"
    )
    for _ in range(6):
        session.answer_by_truth()
        x = real_features.pool[session.labelled]
        keras_head.train_on_batch(x, session.labels[:, None].astype(np.float32))
        kernel, bias = keras_head.layers[0].get_weights()
        assert np.allclose(session.head.coef_[0], kernel[:, 0], atol=1e-4)
        assert session.head.intercept_[0] == pytest.approx(float(bias[0]), abs=1e-4)


def test_to_keras_predicts_what_the_head_predicts(real_features):
    session = LabellingSession(real_features, SessionSettings(strategy="representative"))
    session.auto_label(3)
    model = session.head.to_keras()
    keras_p = model.predict(real_features.test[:500], verbose=0)[:, 0]
    assert np.allclose(keras_p, session.head.positive_proba(real_features.test[:500]), atol=1e-5)


def test_pretrain_command_writes_a_model_and_its_card(tmp_path):
    from tl_active.cli.main import main

    model = tmp_path / "cnn.keras"
    assert main(["--model", str(model), "pretrain", "--epochs", "1", "--seed", "3"]) == 0
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["epochs"] == 1 and card["seed"] == 3 and card["train_images"] == 55_000
    assert card["test_accuracy"] > 0.9
    assert card["data_sha256"].startswith("06af5dfe73b70e3b")


SHIPPED_5TO9 = MODEL_PATH.parent / "mnist_cnn_5to9.keras"


@pytest.fixture(scope="module")
def mnist():
    from tl_active.data.mnist import load_mnist

    return load_mnist()


def test_pretrain_on_some_digits_writes_a_five_way_model_and_its_card(tmp_path, mnist):
    from tl_active.data.mnist import Mnist
    from tl_active.data.network import layer_names, load_backbone
    from tl_active.data.shared_cnn import pretrain

    # A few hundred images keep this fast; the digits 5-9 are about half of them.
    small = Mnist(
        mnist.x_pool[:600], mnist.y_pool[:600], mnist.x_test[:200], mnist.y_test[:200], "s"
    )
    n_chosen = int(np.isin(small.y_pool, [5, 6, 7, 8, 9]).sum())
    model = tmp_path / "cnn_5to9.keras"
    card = pretrain(small, model, epochs=1, verbose=0, digits=[9, 5, 6, 8, 7], note="why")

    assert card == json.loads(model.with_suffix(".json").read_text())
    assert card["digits"] == [5, 6, 7, 8, 9] and card["classes"] == ["5", "6", "7", "8", "9"]
    assert card["outputs"] == 5 and "Dense(5, softmax)" in card["architecture"]
    assert card["validation_images"] == n_chosen // 10
    assert card["train_images"] + card["validation_images"] == n_chosen
    assert card["test_images"] == int(np.isin(small.y_test, card["digits"]).sum())
    assert card["note"] == "why" and card["data_sha256"] == "s"
    network = load_backbone(model)
    assert tuple(network.output.shape) == (None, 5)
    assert layer_names(network)[-2:] == ["embedding", "digits"]


def test_pretrain_refuses_bad_digits_before_training(tmp_path, mnist):
    from tl_active.data.shared_cnn import pretrain

    for digits, message in [([5], "at least two"), ([5, 5, 6], "repeat"), ([8, 10], "0-9")]:
        with pytest.raises(ValueError, match=message):
            pretrain(mnist, tmp_path / "m.keras", digits=digits)
    with pytest.raises(ValueError, match=".keras file"):
        pretrain(mnist, tmp_path / "m.h5", digits=[5, 6])
    assert list(tmp_path.iterdir()) == []


def test_pretrain_command_reads_digit_ranges_and_lists(tmp_path, monkeypatch):
    from tl_active.cli.common import parse_digits
    from tl_active.cli.main import main
    from tl_active.data import shared_cnn

    assert parse_digits("5-9") == [5, 6, 7, 8, 9]
    assert parse_digits("0,2,4") == [0, 2, 4]
    assert parse_digits(" 7, 0-2 ") == [0, 1, 2, 7]
    calls = []

    def fake_pretrain(mnist, model_path, **kwargs):
        calls.append((model_path, kwargs))
        return {"classes": [str(d) for d in kwargs["digits"]], "test_accuracy": 0.5}

    monkeypatch.setattr(shared_cnn, "pretrain", fake_pretrain)
    model = tmp_path / "cnn.keras"
    assert main(["pretrain", "--digits", "5-9", "--model", str(model), "--epochs", "2"]) == 0
    assert calls == [(model, {"epochs": 2, "seed": 0, "digits": [5, 6, 7, 8, 9], "note": None})]


@pytest.mark.parametrize(
    ("value", "message"),
    [("9-5", "low to high"), ("5-x", "not a digit"), ("5", "two digits"), ("3,1-4", "twice")],
)
def test_pretrain_command_gives_one_line_for_bad_digits(value, message, capsys):
    from tl_active.cli.main import main

    assert main(["pretrain", "--digits", value, "--model", "unused.keras"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --digits") and message in err


def test_pretrain_command_never_writes_some_digits_over_the_shared_cnn(capsys, monkeypatch):
    from tl_active.cli.main import main
    from tl_active.data import shared_cnn

    # Should the guard ever fail, fail here rather than train over the shipped file.
    monkeypatch.setattr(shared_cnn, "pretrain", lambda *a, **k: pytest.fail("pretrain was called"))
    checksum = file_checksum(MODEL_PATH)
    assert main(["pretrain", "--digits", "5-9"]) == 2
    assert "would overwrite the shared CNN" in capsys.readouterr().err
    assert file_checksum(MODEL_PATH) == checksum


def test_load_backbone_gives_clear_errors_for_bad_files(tmp_path):
    from tl_active.data.network import load_backbone

    with pytest.raises(ModelError, match="not found"):
        load_backbone(tmp_path / "absent.keras")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(MODEL_PATH.read_bytes()[:20_000])
    with pytest.raises(ModelError, match="corrupt or not a Keras model"):
        load_backbone(corrupt)
    card = tmp_path / "card.keras"
    card.write_text(MODEL_PATH.with_suffix(".json").read_text())
    with pytest.raises(ModelError, match="card.keras is corrupt or not a Keras model"):
        load_backbone(card)
    legacy = tmp_path / "legacy.h5"
    legacy.write_bytes(b"\x89HDF\r\n")
    with pytest.raises(ModelError, match="only Keras' own format"):
        load_backbone(legacy)


def test_load_backbone_loads_any_keras_model_frozen(tmp_path):
    import keras

    from tl_active.data.network import layer_names, load_backbone

    other = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, name="hidden"), keras.layers.Dense(2, name="out")]
    )
    other.save(tmp_path / "other.keras")
    model = load_backbone(tmp_path / "other.keras")
    assert not model.trainable and all(not w.trainable for w in model.weights)
    assert layer_names(model) == ["hidden", "out"]


def test_layer_names_of_the_shipped_cnn():
    from tl_active.data.network import layer_names, load_backbone

    assert layer_names(load_backbone(MODEL_PATH)) == [
        "conv11", "conv12", "conv13", "maxpool", "conv21", "conv22", "conv23",
        "global_maxpool", "embedding", "digits",
    ]  # fmt: skip


def test_an_unknown_layer_names_the_layers_there_are():
    from tl_active.data.network import layer_extractor, load_backbone

    with pytest.raises(ModelError, match="no layer 'image'.*conv11, conv12.*embedding, digits"):
        layer_extractor(load_backbone(MODEL_PATH), "image")


def test_check_fits_says_what_the_model_expects_and_what_the_images_are():
    import keras

    from tl_active.data.network import check_fits, extract_layer, load_backbone

    inputs = keras.Input((32, 32, 3))
    rgb = keras.Model(inputs, keras.layers.Conv2D(4, 3, name="conv")(inputs), name="rgb32")
    expected = r"'rgb32' expects input of shape \(32, 32, 3\).* images are \(28, 28, 1\)"
    with pytest.raises(ModelError, match=expected):
        check_fits(rgb)
    with pytest.raises(ModelError, match=expected):
        extract_layer(rgb, "conv", np.zeros((2, 28, 28), np.float32))
    check_fits(rgb, (32, 32, 3))

    shared = load_backbone(MODEL_PATH)
    check_fits(shared)
    check_fits(shared, (40, 36, 1))  # open height and width take any size
    with pytest.raises(ModelError, match=r"\(any, any, 1\).* images are \(28, 28, 3\)"):
        check_fits(shared, (28, 28, 3))


def test_extract_layer_matches_the_feature_extractor(mnist):
    from tl_active.data.network import extract_layer, feature_extractor, load_backbone

    network = load_backbone(MODEL_PATH)
    images = mnist.x_test[:150]
    calls = []
    embedding = extract_layer(
        network, "embedding", images, progress=lambda *a: calls.append(a), chunk=64
    )
    digits = extract_layer(network, "digits", images[..., None])
    assert calls == [(64, 150), (128, 150), (150, 150)]
    assert embedding.shape == (150, 128) and embedding.dtype == np.float32
    assert digits.shape == (150, 10) and digits.dtype == np.float32
    old_embedding, old_digits = feature_extractor(network)(images[..., None], training=False)
    assert np.allclose(embedding, np.asarray(old_embedding), atol=1e-6)
    assert np.allclose(digits, np.asarray(old_digits), atol=1e-6)
    conv = extract_layer(network, "conv23", images[:3])
    assert conv.shape == (3, 5 * 5 * 32)  # a conv layer's 5 x 5 x 32 outputs, flattened


def test_shipped_5to9_cnn_knows_only_the_digits_5_to_9(mnist):
    from tl_active.data.network import extract_layer, load_backbone
    from tl_active.data.shared_cnn import card_path

    card = json.loads(card_path(SHIPPED_5TO9).read_text())
    assert card["digits"] == [5, 6, 7, 8, 9] and card["outputs"] == 5
    assert card["model_sha256"] == file_checksum(SHIPPED_5TO9)
    assert card["data_sha256"] == mnist.checksum
    network = load_backbone(SHIPPED_5TO9)
    in_test = mnist.y_test >= 5
    probs = extract_layer(network, "digits", mnist.x_test[in_test])
    assert probs.shape == (int(in_test.sum()), 5)
    # Output k is the k-th digit in sorted order: the card's accuracy is reproduced.
    accuracy = float(np.mean(probs.argmax(axis=1) + 5 == mnist.y_test[in_test]))
    assert accuracy >= 0.99 and accuracy == pytest.approx(card["test_accuracy"], abs=5e-4)
    assert extract_layer(network, "embedding", mnist.x_test[:10]).shape == (10, 128)
