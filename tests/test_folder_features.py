"""Features over an image folder: the shipped CNN, your own .keras model, a Keras Application
with a weights file on disk; batches into a memory-mapped cache that resumes after a stop."""

from __future__ import annotations

import numpy as np
import pytest
from image_folders import digit_images, write_class_folder, write_flat_folder

from tl_active.data.folder_features import load_folder_features
from tl_active.data.images import scan_folder
from tl_active.errors import ModelError

pytestmark = pytest.mark.model

COUNTS = {"one": (1, 12), "seven": (7, 12), "zero": (0, 12)}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_class_folder(tmp_path_factory.mktemp("images") / "digits", COUNTS)


def _shipped_outputs(pixels: np.ndarray, layer: str = "digits") -> np.ndarray:
    from tl_active.data.backbones import SHIPPED
    from tl_active.data.network import extract_layer, load_backbone

    model = load_backbone(SHIPPED["mnist-cnn"].path)
    return extract_layer(model, layer, pixels.astype(np.float32) / 255.0)


def test_the_shipped_cnn_reads_a_folder_as_it_reads_mnist(folder, tmp_path):
    features = load_folder_features(folder, "mnist-cnn", "digits", tmp_path / "cache")
    source = features.source
    assert features.class_names == ("one", "seven", "zero")
    assert features.pool.shape == (30, 10) and features.test.shape == (6, 10)
    assert isinstance(features.pool, np.memmap)  # two slices of the file, not a copy
    assert np.bincount(features.y_test).tolist() == [2, 2, 2]
    assert "grayscale, resized to 28 x 28" in source.preprocessing
    # Row i of the pool is the image source.pool_paths[i]: its outputs are the CNN's on it.
    expected = _shipped_outputs(
        np.stack(
            [digit_images(COUNTS[p.split("/")[0]][0], 12)[int(p[-8:-4])] for p in source.pool_paths]
        )
    )
    np.testing.assert_allclose(features.pool, expected, atol=1e-5)
    # The CNN knows the digits: its argmax names each folder's digit.
    digit_of = np.array([1, 7, 0])
    assert (features.pool.argmax(axis=1) == digit_of[features.y_pool]).mean() > 0.9
    split = (tmp_path / "cache" / f"images-{features.key}" / "split.csv").read_text().splitlines()
    assert split[0] == "path,class,part" and sum(line.endswith(",test") for line in split) == 6


def test_a_stopped_computation_resumes_where_it_stopped(folder, tmp_path):
    calls = []

    def stop_after_two_batches(done, total):
        calls.append((done, total))
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load_folder_features(
            folder, "mnist-cnn", "embedding", tmp_path / "cache", stop_after_two_batches, 8
        )
    assert calls == [(8, 36), (16, 36)]
    resumed = []
    features = load_folder_features(
        folder, "mnist-cnn", "embedding", tmp_path / "cache", lambda d, t: resumed.append(d), 8
    )
    assert resumed == [16, 24, 32, 36]  # the two batches done are not run again
    whole = load_folder_features(folder, "mnist-cnn", "embedding", tmp_path / "other", None, 8)
    np.testing.assert_allclose(features.pool, whole.pool, atol=1e-6)
    np.testing.assert_allclose(features.test, whole.test, atol=1e-6)
    again = []
    load_folder_features(folder, "mnist-cnn", "embedding", tmp_path / "cache", again.append)
    assert again == []  # finished: read from the cache, nothing run


def test_a_changed_folder_is_computed_afresh_and_a_broken_image_is_left_out(tmp_path):
    root = write_class_folder(tmp_path / "d", {"a": (3, 6), "b": (8, 6)})
    first = load_folder_features(root, "mnist-cnn", "digits", tmp_path / "cache")
    (root / "a" / "0002.png").write_bytes((root / "a" / "0002.png").read_bytes()[:80])
    second = load_folder_features(root, "mnist-cnn", "digits", tmp_path / "cache")
    assert second.key != first.key
    assert second.pool_size + len(second.test) == 11
    assert [(s.path, s.reason) for s in second.source.skipped] == [("a/0002.png", "unreadable")]


def test_a_flat_folder_has_a_pool_and_no_test_set(tmp_path):
    root = write_flat_folder(tmp_path / "flat", {2: 5, 5: 5})
    features = load_folder_features(root, "mnist-cnn", "digits", tmp_path / "cache")
    assert features.pool.shape == (10, 10) and features.test.shape == (0, 10)
    assert not features.has_truth and features.class_names == ()
    assert (features.y_pool == -1).all()


def test_your_own_keras_model_reads_its_input_size_and_channels(folder, tmp_path):
    import keras

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(x))
    path = tmp_path / "mine.keras"
    model.save(path)
    features = load_folder_features(folder, str(path), "pool", tmp_path / "cache")
    assert "RGB, resized to 16 x 16" in features.source.preprocessing
    from PIL import Image

    image = (
        Image.open(folder / features.source.pool_paths[0])
        .convert("RGB")
        .resize((16, 16), Image.BILINEAR)
    )
    x = np.asarray(image, np.float32)[None] / 255.0
    expected = keras.Model(model.input, model.get_layer("pool").output)(x)
    np.testing.assert_allclose(features.pool[0], np.asarray(expected)[0], atol=1e-5)


def test_a_keras_application_loads_a_weights_file_on_disk(folder, tmp_path):
    import keras

    network = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None
    )
    weights = tmp_path / "mobilenet.weights.h5"
    network.save_weights(weights)
    features = load_folder_features(folder, f"mobilenetv2@32:{weights}", None, tmp_path / "c")
    assert features.layer == "pooled" and features.width == 1280
    assert "[-1, 1]" in features.source.preprocessing
    from PIL import Image

    image = (
        Image.open(folder / features.source.pool_paths[3])
        .convert("RGB")
        .resize((32, 32), Image.BILINEAR)
    )
    x = np.asarray(image, np.float32)[None] / 127.5 - 1
    expected = np.asarray(network(x, training=False)).mean(axis=(1, 2))
    np.testing.assert_allclose(features.pool[3], expected[0], atol=1e-4)
    resnet_weights = tmp_path / "wrong.weights.h5"
    resnet_weights.write_bytes(weights.read_bytes())
    with pytest.raises(ModelError, match="does not hold EfficientNetB0 weights"):
        load_folder_features(folder, f"efficientnetb0@32:{resnet_weights}", None, tmp_path / "c")


def test_a_missing_weights_file_or_a_bad_size_is_a_clear_error(folder, tmp_path):
    with pytest.raises(ModelError, match="Model file not found"):
        load_folder_features(folder, f"resnet50:{tmp_path}/none.h5", None, tmp_path / "c")
    with pytest.raises(ValueError, match="from 32 to 1024"):
        load_folder_features(folder, f"resnet50@9:{tmp_path}/none.h5", None, tmp_path / "c")
    assert scan_folder(folder).checksum  # the folder itself is untouched


def test_a_flat_folder_session_exports_its_head_as_keras(tmp_path):
    import io
    import zipfile

    import keras

    from tl_active.core.task import Task
    from tl_active.sessions.exchange import head_keras_bytes
    from tl_active.sessions.records import SessionSettings
    from tl_active.sessions.session import LabellingSession

    root = write_flat_folder(tmp_path / "flat", {0: 6, 1: 6, 7: 6})
    features = load_folder_features(root, "mnist-cnn", "embedding", tmp_path / "cache")
    settings = SessionSettings(
        task=Task.multiclass("0-2"), layer="embedding", answers=("zero", "one", "seven")
    )
    session = LabellingSession(features, settings)
    word = {"0": "zero", "1": "one", "7": "seven"}
    for _ in range(3):
        picks = session.next_batch()
        session.submit([word[features.source.pool_paths[p.index][1]] for p in picks])
    data = head_keras_bytes(session)
    assert zipfile.is_zipfile(io.BytesIO(data))
    path = tmp_path / "head.keras"
    path.write_bytes(data)
    head = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.asarray(head(features.pool)), session.proba_pool, atol=1e-5)
