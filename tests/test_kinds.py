"""Data kinds: MNIST and an image folder each name, draw and key their items, and call their truth.

Every kind is held to one contract (names, thumbnails, keys, truth); then what is each one's own.
"""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
from image_folders import write_class_folder, write_flat_folder
from PIL import Image
from synthetic import synthetic_features

from tl_active import paths
from tl_active.core.task import DIGITS
from tl_active.data.folder_features import load_folder_features
from tl_active.data.images import ImageSource, scan_folder
from tl_active.data.kinds import DataKind, ImageFolderKind, MnistKind, WeatherKind, answer_keys
from tl_active.data.mnist import load_raw
from tl_active.data.weather import make_windows


@pytest.fixture
def folder_source(tmp_path, monkeypatch) -> ImageSource:
    monkeypatch.setattr(paths, "CACHE_DIR", tmp_path / "cache")
    folder = write_class_folder(tmp_path / "mine", {"eight": (8, 3), "three": (3, 3)})
    found = scan_folder(folder)
    return ImageSource(
        str(found.root), found.checksum, found.paths[:4], found.paths[4:], True, "28 x 28 grey"
    )


def kinds(source: ImageSource) -> list[DataKind]:
    return [
        MnistKind(),
        ImageFolderKind(source, ("eight", "three")),
        WeatherKind(make_windows("snow-today")),
    ]


def test_every_kind_keeps_the_contract(folder_source):
    # A new kind is held to the contract by adding one of its own to `kinds`.
    assert {type(k) for k in kinds(folder_source)} == set(DataKind.__subclasses__())
    for kind in kinds(folder_source):
        for word in (kind.name, kind.items, kind.class_word, kind.truth, kind.true_class):
            assert isinstance(word, str) and word
        assert kind.has_truth
        assert kind.item_name(1) and kind.short_name(1) and kind.item_id(1) != ""
        picture = Image.open(io.BytesIO(kind.thumbnail_png(1, 56)))
        assert max(picture.size) == 56
        keys = kind.answer_keys(kind.class_names, reserved=("s", "u"))
        assert len(set(keys)) == len(kind.class_names)
        assert all(len(k) == 1 and k not in "su" for k in keys)
        assert kind.class_name(1) == kind.class_names[1]
        assert kind.test_split(10)


def test_mnist_speaks_of_digits_by_index_as_it_always_did():
    kind = MnistKind()
    assert kind.class_names == DIGITS and kind.name == "MNIST"
    assert kind.truth == "MNIST's ground truth" and kind.auto_answerer == "MNIST (auto)"
    assert kind.item_name(4211) == "pool image 4211" and kind.short_name(4211) == "image 4211"
    assert kind.item_id(6) == 6 and kind.test_item_id(7) == 7 and kind.item_column == "pool index"
    assert kind.says("0") == "MNIST says 0"
    assert kind.answer_keys(DIGITS) == DIGITS and kind.origin == ""
    assert kind.indexed_csv and kind.fine_tunable


def test_an_mnist_thumbnail_is_its_digit_dark_on_white_scaled_without_blur():
    picture = np.asarray(Image.open(io.BytesIO(MnistKind().thumbnail_png(3, 112))))
    digit = load_raw(paths.MNIST_PATH)["x_train"][3]
    assert picture.shape == (112, 112)
    np.testing.assert_array_equal(picture[::4, ::4], 255 - digit)


def test_a_folder_names_its_images_by_path_and_its_truth_by_class_folder(folder_source):
    kind = ImageFolderKind(folder_source, ("eight", "three"))
    assert kind.name == "image folder" and kind.items == "images"
    assert kind.item_id(0) == kind.item_name(0) == kind.short_name(0) == "eight/0000.png"
    assert kind.test_item_id(0) == folder_source.test_paths[0]
    assert kind.says("eight") == "its class folder is eight"
    assert kind.truth == "the class folders" and kind.truth_is_plural
    assert "MNIST" not in kind.truth + kind.true_class + kind.auto_answerer
    assert kind.answer_keys(kind.class_names, reserved=("s", "u")) == ("e", "t")
    assert kind.origin.endswith("(28 x 28 grey)")
    assert not kind.indexed_csv and not kind.fine_tunable
    # A tile is the image itself, scaled up crisp.
    tile = np.asarray(Image.open(io.BytesIO(kind.thumbnail_png(0, 56))))
    pixels = np.asarray(Image.open(folder_source.root + "/eight/0000.png"))
    np.testing.assert_array_equal(tile[::2, ::2], pixels)


def test_a_folder_without_class_folders_has_no_truth_and_no_test_split(tmp_path):
    source = ImageSource(str(tmp_path), "0" * 64, ("a.png", "b.png"), (), False, "28 x 28")
    kind = ImageFolderKind(source)
    assert not kind.has_truth and kind.test_split(0) == "" and kind.class_names == ()


def test_keys_are_digits_then_first_letters_then_numbers():
    assert answer_keys(["0", "1", "2"]) == ("0", "1", "2")
    assert answer_keys(["eight", "three"], reserved="su") == ("e", "t")
    assert answer_keys(["yes", "no"], reserved="su") == ("y", "n")
    assert answer_keys(["Cat", "dog"]) == ("c", "d")
    # Two names that start alike, a reserved first letter, a name that starts with no letter:
    # numbers.
    assert answer_keys(["three", "two"], reserved="su") == ("1", "2")
    assert answer_keys(["sun", "rain"], reserved="su") == ("1", "2")
    assert answer_keys(["10", "20"]) == ("1", "2")
    assert answer_keys(["1", "1"]) == ("1", "2")
    many = answer_keys([f"c{k}" for k in range(12)], reserved="su")
    assert many[:10] == tuple("1234567890") and many[10:] == ("a", "b")
    with pytest.raises(ValueError, match="more than there are keys"):
        answer_keys([f"c{k}" for k in range(40)], reserved="su")


def test_a_feature_set_carries_its_kind():
    features = synthetic_features(20, 10)
    assert isinstance(features.kind, MnistKind) and features.has_truth
    source = ImageSource("/x", "0" * 64, ("a.png",) * 20, ("b.png",) * 10, False, "28 x 28")
    # Given another source, a set made without its loader follows it.
    folder = replace(features, source=source, _tasks={})
    assert isinstance(folder.kind, ImageFolderKind) and not folder.has_truth


@pytest.mark.model
def test_the_loaders_give_their_kind(tmp_path):
    folder = write_flat_folder(tmp_path / "flat", {4: 3, 9: 3})
    features = load_folder_features(scan_folder(folder), "mnist-cnn", "digits", tmp_path)
    assert isinstance(features.kind, ImageFolderKind) and features.kind.source is features.source
    assert features.kind.item_id(0).startswith("d")
