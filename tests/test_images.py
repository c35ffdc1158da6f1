"""Image folders and zips: classes from subfolders, what is skipped and why, the split, the limits."""

from __future__ import annotations

import io
import os
import stat
import zipfile

import numpy as np
import pytest
from image_folders import write_class_folder, write_flat_folder
from PIL import Image

from tl_active.data import images
from tl_active.data.images import (
    Preprocessing,
    read_batch,
    scan_folder,
    thumbnail_png,
    unpack_zip,
)
from tl_active.errors import DataError


@pytest.fixture
def three_classes(tmp_path):
    return write_class_folder(
        tmp_path / "digits", {"one": (1, 10), "seven": (7, 15), "zero": (0, 5)}
    )


def test_subfolders_are_classes_named_as_the_folders(three_classes):
    folder = scan_folder(three_classes)
    assert folder.class_names == ("one", "seven", "zero")
    assert folder.has_truth
    assert len(folder) == 30
    assert np.bincount(folder.labels).tolist() == [10, 15, 5]
    assert folder.paths[0] == "one/0000.png" and folder.paths[-1] == "zero/0004.png"
    assert folder.skipped == ()
    assert folder.describe() == "30 images in 3 classes (one 10, seven 15, zero 5)"


def test_a_flat_folder_has_no_truth_and_no_test_set(tmp_path):
    folder = scan_folder(write_flat_folder(tmp_path / "flat", {3: 4, 8: 4}))
    assert folder.class_names == () and not folder.has_truth
    assert (folder.labels == -1).all() and len(folder) == 8
    assert not folder.test_split().any()
    assert "no ground truth" in folder.describe()


def test_non_images_unreadable_files_and_loose_files_are_skipped_with_their_reason(three_classes):
    (three_classes / "one" / "notes.txt").write_text("not a picture")
    (three_classes / "seven" / "broken.png").write_bytes(b"\x89PNG but no more")
    (three_classes / "readme.md").write_text("loose")
    (three_classes / ".DS_Store").write_bytes(b"\0")
    folder = scan_folder(three_classes)
    assert len(folder) == 30
    reasons = {s.path: s.reason for s in folder.skipped}
    assert reasons == {
        "one/notes.txt": images.NOT_AN_IMAGE,
        "seven/broken.png": images.UNREADABLE,
        "readme.md": images.OUTSIDE_CLASSES,
    }
    text = images.describe_skipped(folder.skipped)
    assert text.startswith("3 files skipped: ")
    assert "1 unreadable (seven/broken.png)" in text


def test_a_link_out_of_the_folder_is_skipped(three_classes, tmp_path):
    outside = tmp_path / "secret.png"
    Image.new("L", (28, 28)).save(outside)
    os.symlink(outside, three_classes / "one" / "link.png")
    folder = scan_folder(three_classes)
    assert [(s.path, s.reason) for s in folder.skipped] == [("one/link.png", images.LINK_OUTSIDE)]


def test_a_folder_without_images_or_missing_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("x")
    with pytest.raises(DataError, match="holds no image Pillow can read .1 file skipped"):
        scan_folder(tmp_path / "empty")
    with pytest.raises(DataError, match="not a folder"):
        scan_folder(tmp_path / "nowhere")


def test_the_split_is_seeded_stratified_and_keeps_each_class_on_both_sides(three_classes):
    folder = scan_folder(three_classes)
    held_out = folder.test_split()
    assert np.bincount(folder.labels[held_out]).tolist() == [2, 3, 1]  # 20 % of 10, 15, 5
    assert (held_out == scan_folder(three_classes).test_split()).all()
    assert not (held_out == folder.test_split(seed=1)).all()


def test_the_checksum_follows_the_content(three_classes):
    before = scan_folder(three_classes).checksum
    assert scan_folder(three_classes).checksum == before
    Image.new("L", (28, 28), 255).save(three_classes / "one" / "0003.png")
    changed = scan_folder(three_classes).checksum
    assert changed != before
    (three_classes / "one" / "0003.png").rename(three_classes / "one" / "0003b.png")
    assert scan_folder(three_classes).checksum not in (before, changed)


def _zip(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def _png(value: int = 0) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(value).integers(0, 255, (28, 28), np.uint8)).save(
        out, format="PNG"
    )
    return out.getvalue()


def test_a_zip_of_a_folder_unpacks_its_classes_and_skips_what_it_must(tmp_path):
    data = _zip(
        {
            "mine/cat/a.png": _png(1),
            "mine/cat/b.png": _png(2),
            "mine/dog/c.png": _png(3),
            "mine/dog/notes.txt": b"text",
            "../../evil.png": _png(4),
            "/etc/evil.png": _png(5),
            "mine/dog/bomb.png": b"\0" * 5_000_000,
            "__MACOSX/mine/cat/._a.png": b"fork",
        }
    )
    unpacked = unpack_zip(data, tmp_path / "up")
    assert unpacked.folder == tmp_path / "up" / "mine"
    assert unpacked.n_files == 3
    reasons = sorted(s.reason for s in unpacked.skipped)
    assert reasons == sorted(
        [
            images.NOT_AN_IMAGE,
            "a name that leads out of the folder",
            "a name that leads out of the folder",
            f"compressed over {images.MAX_RATIO} times (a zip bomb?)",
        ]
    )
    assert not (tmp_path / "evil.png").exists() and not (tmp_path.parent / "evil.png").exists()
    folder = scan_folder(unpacked.folder)
    assert folder.class_names == ("cat", "dog") and len(folder) == 3


def test_a_zip_link_is_skipped_and_a_damaged_member_is_counted(tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        link = zipfile.ZipInfo("cat/link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("cat/a.png", _png(1))
        archive.writestr("cat/b.png", _png(2))
    data = bytearray(out.getvalue())
    # Damage b.png's stored bytes: its CRC no longer matches.
    start = data.find(_png(2)[40:60])
    data[start : start + 8] = b"\xff" * 8
    unpacked = unpack_zip(bytes(data), tmp_path / "up")
    assert sorted((s.path, s.reason) for s in unpacked.skipped) == [
        ("cat/b.png", images.UNREADABLE),
        ("cat/link.png", "a link"),
    ]
    assert unpacked.n_files == 1 and not (tmp_path / "up" / "cat" / "link.png").exists()


def test_a_zip_over_the_total_limit_skips_the_rest(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_UNPACKED_BYTES", 3 * len(_png(1)))
    data = _zip({f"x/{i}.png": _png(i) for i in range(5)}, zipfile.ZIP_STORED)
    unpacked = unpack_zip(data, tmp_path / "up")
    assert unpacked.n_files == 3
    assert [s.reason for s in unpacked.skipped] == ["over the 0 MB unpacked limit"] * 2


def test_not_a_zip_or_too_large_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="not a readable zip archive"):
        unpack_zip(b"hello", tmp_path / "up")
    monkeypatch.setattr(images, "MAX_ZIP_BYTES", 10)
    with pytest.raises(DataError, match="at most 0 MB is taken"):
        unpack_zip(_zip({"a.png": _png()}), tmp_path / "up")


def test_pixels_are_converted_resized_and_scaled_as_stated(tmp_path):
    Image.new("RGB", (40, 20), (255, 0, 0)).save(tmp_path / "red.png")
    (tmp_path / "bad.png").write_bytes(_png()[:60])  # a header, then nothing
    gray = Preprocessing(28, 28, 1, "0-1")
    batch, readable = read_batch(tmp_path, ["red.png", "bad.png"], gray)
    assert batch.shape == (2, 28, 28, 1) and readable.tolist() == [True, False]
    assert batch[0, 5, 5, 0] == pytest.approx(76 / 255)  # Pillow's luma of pure red
    rgb = Preprocessing(8, 8, 3, "-1-1")
    assert rgb.pixels(Image.open(tmp_path / "red.png"))[0, 0].tolist() == [1.0, -1.0, -1.0]
    caffe = Preprocessing(8, 8, 3, "caffe").pixels(Image.open(tmp_path / "red.png"))
    assert caffe[0, 0].tolist() == pytest.approx([-103.939, -116.779, 255 - 123.68])
    assert "grayscale, resized to 28 x 28" in gray.describe()
    with pytest.raises(DataError, match="4 channels"):
        Preprocessing(8, 8, 4)


def test_a_thumbnail_is_made_once_and_then_read_from_the_cache(three_classes, tmp_path):
    folder = scan_folder(three_classes)
    png = thumbnail_png(folder.root, folder.paths[0], tmp_path / "cache", folder.checksum)
    with Image.open(io.BytesIO(png)) as thumb:
        assert thumb.size == (112, 112)
        # Nearest neighbour: each source pixel becomes a 4 x 4 block.
        assert len(np.unique(np.asarray(thumb)[:4, :4])) == 1
    (three_classes / folder.paths[0]).unlink()
    assert thumbnail_png(folder.root, folder.paths[0], tmp_path / "cache", folder.checksum) == png
