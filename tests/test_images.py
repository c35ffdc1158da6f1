"""Image folders and zips: classes from subfolders, what is skipped and why, the split, the limits."""

from __future__ import annotations

import io
import os
import stat
import time
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


def test_an_image_damaged_after_a_sound_header_is_skipped_not_counted(three_classes):
    """A PNG cut short and a JPEG whose data was overwritten open (their headers are sound) but
    do not decode: they are not among the folder's images, and the reason says so."""
    whole = (three_classes / "one" / "0000.png").read_bytes()
    (three_classes / "one" / "cut.png").write_bytes(whole[: len(whole) // 2])
    photo = io.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(photo, "JPEG")
    (three_classes / "zero" / "cut.jpg").write_bytes(photo.getvalue()[:-200])
    with Image.open(three_classes / "one" / "cut.png") as opened:
        assert opened.size == (28, 28)  # the header alone would have let it in
    folder = scan_folder(three_classes)
    assert folder.describe() == "30 images in 3 classes (one 10, seven 15, zero 5)"
    assert images.describe_skipped(folder.skipped) == (
        "2 files skipped: 2 unreadable (one/cut.png, zero/cut.jpg)"
    )


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


# --- hostile folders: links out, FIFOs, self-links, names the file system cannot hold ---------


def test_a_class_folder_that_is_a_link_out_of_the_folder_is_skipped_not_read(
    three_classes, tmp_path
):
    elsewhere = write_class_folder(tmp_path / "elsewhere", {"dog": (2, 4)}) / "dog"
    os.symlink(elsewhere, three_classes / "dog")
    folder = scan_folder(three_classes)
    assert folder.class_names == ("one", "seven", "zero") and len(folder) == 30
    assert [(s.path, s.reason) for s in folder.skipped] == [("dog", images.LINK_OUTSIDE)]
    # A flat folder holding such a link says so too.
    flat = write_flat_folder(tmp_path / "flat", {3: 2})
    os.symlink(elsewhere, flat / "more")
    folder = scan_folder(flat)
    assert len(folder) == 2 and [s.path for s in folder.skipped] == ["more"]


def test_a_class_folder_linked_within_the_folder_is_read(three_classes):
    os.symlink(three_classes / "one", three_classes / "uno")
    assert scan_folder(three_classes).class_names == ("one", "seven", "uno", "zero")


def test_a_fifo_named_as_an_image_is_skipped_at_once(three_classes):
    os.mkfifo(three_classes / "one" / "two.png")
    start = time.perf_counter()
    folder = scan_folder(three_classes)
    assert time.perf_counter() - start < 5
    assert [(s.path, s.reason) for s in folder.skipped] == [
        ("one/two.png", "not a regular file (a FIFO)")
    ]
    # An image swapped for a FIFO after the scan costs its own row, and its tile is grey.
    (three_classes / "one" / "0001.png").unlink()
    os.mkfifo(three_classes / "one" / "0001.png")
    batch, readable = read_batch(
        three_classes, ["one/0000.png", "one/0001.png"], Preprocessing(28, 28, 1)
    )
    assert readable.tolist() == [True, False]
    assert thumbnail_png(three_classes, "one/0001.png", three_classes / ".thumbs", "0" * 64)


def test_a_link_to_itself_is_skipped_without_a_traceback(three_classes, tmp_path):
    os.symlink("loop.png", three_classes / "one" / "loop.png")
    os.symlink("self", three_classes / "self")
    flat = write_flat_folder(tmp_path / "flat", {3: 2})
    os.symlink("loop.png", flat / "loop.png")
    assert ("one/loop.png", "a link that leads to itself") in {
        (s.path, s.reason) for s in scan_folder(three_classes).skipped
    }
    assert [(s.path, s.reason) for s in scan_folder(flat).skipped] == [
        ("loop.png", "a link that leads to itself")
    ]


def test_a_zip_member_whose_name_the_file_system_cannot_hold_is_skipped(tmp_path):
    long_name = "cat/" + "x" * 300 + ".png"
    long_folder = "y" * 256 + "/a.png"
    unpacked = unpack_zip(
        _zip({long_name: _png(1), long_folder: _png(2), "cat/a.png": _png(3)}), tmp_path / "up"
    )
    assert unpacked.n_files == 1
    assert sorted((s.path, s.reason) for s in unpacked.skipped) == sorted(
        [(long_name, images.NAME_TOO_LONG), (long_folder, images.NAME_TOO_LONG)]
    )


def test_a_zip_that_is_a_fifo_is_a_clear_error_at_once(tmp_path):
    os.mkfifo(tmp_path / "mine.zip")
    with pytest.raises(DataError, match="mine.zip: not a regular file"):
        unpack_zip(tmp_path / "mine.zip", tmp_path / "up")


def test_names_with_terminal_escapes_are_escaped_where_they_are_said(tmp_path):
    folder = tmp_path / "\x1b[2Jmine"
    folder.mkdir()
    (folder / "\x1b]0;owned\x07.txt").write_text("x")
    with pytest.raises(DataError) as caught:
        scan_folder(folder)
    assert "\x1b" not in str(caught.value) and "\\x1b[2Jmine" in str(caught.value)
    assert "\\x1b]0;owned\\x07.txt" in str(caught.value)


def test_a_class_folder_named_with_control_characters_is_no_class(three_classes):
    # Found by the folder fuzzer: the name reached describe() and, as a class, every session.
    write_class_folder(three_classes / "\x1b[31mred", {"": (4, 2)})
    folder = scan_folder(three_classes)
    assert folder.class_names == ("one", "seven", "zero")
    assert [(s.path, s.reason) for s in folder.skipped] == [
        ("\x1b[31mred", images.NOT_A_CLASS_NAME)
    ]
    assert "\x1b" not in images.describe_skipped(folder.skipped)


# --- pixels as a person sees them: one test per mode -------------------------------------------

GREY = Preprocessing(4, 4, 1, "0-1")
COLOUR = Preprocessing(4, 4, 3, "0-1")


def _read(tmp_path, image: Image.Image, name: str, preprocessing=GREY, **save) -> np.ndarray:
    image.save(tmp_path / name, **save)
    batch, readable = read_batch(tmp_path, [name], preprocessing)
    assert readable.all()
    return batch[0]


def _save(tmp_path, image: Image.Image, name: str, **save):
    image.save(tmp_path / name, **save)
    return tmp_path / name


def test_a_16_bit_grey_png_at_half_reads_as_half_not_white(tmp_path):
    half = Image.fromarray(np.full((4, 4), 32768, np.uint16))
    assert Image.open(_save(tmp_path, half, "half.png")).mode in ("I;16", "I")
    assert _read(tmp_path, half, "half.png") == pytest.approx(np.full((4, 4, 1), 0.5), abs=1e-4)
    ramp = Image.fromarray(np.array([[0, 16384, 49152, 65535]] * 4, np.uint16))
    x = _read(tmp_path, ramp, "ramp.png", COLOUR)
    assert x[0, :, 0] == pytest.approx([0, 0.25, 0.75, 1], abs=1e-4)
    assert (x[..., 0] == x[..., 2]).all()  # grey in all three channels
    thumb = Image.open(io.BytesIO(thumbnail_png(tmp_path, "half.png", tmp_path / "c", "0" * 64)))
    assert thumb.mode == "L" and np.asarray(thumb).max() in (127, 128)  # not 255


def test_a_32_bit_integer_image_is_read_on_the_16_bit_range(tmp_path):
    image = Image.fromarray(np.array([[0, 32768, 65535, 100_000]] * 4, np.int32), "I")
    assert image.mode == "I"
    x = _read(tmp_path, image, "i.tiff")
    assert x[0, :, 0] == pytest.approx([0, 0.5, 1, 1], abs=1e-4)  # beyond 16 bits: clipped


def test_a_floating_point_image_is_read_on_0_to_1(tmp_path):
    image = Image.fromarray(np.array([[0.0, 0.25, 1.0, 3.0]] * 4, np.float32), "F")
    x = _read(tmp_path, image, "f.tiff")
    assert x[0, :, 0] == pytest.approx([0, 0.25, 1, 1], abs=1e-6)


def test_a_bilevel_image_reads_black_and_white(tmp_path):
    image = Image.fromarray(np.array([[0, 255, 0, 255]] * 4, np.uint8)).convert("1")
    assert _read(tmp_path, image, "b.png")[0, :, 0].tolist() == [0, 1, 0, 1]


def test_grey_with_alpha_is_laid_over_white(tmp_path):
    # Black strokes on a transparent ground whose hidden pixels are black too.
    grey = np.zeros((4, 4), np.uint8)
    alpha = np.array([[0, 255, 128, 0]] * 4, np.uint8)
    image = Image.fromarray(np.dstack([grey, alpha]), "LA")
    x = _read(tmp_path, image, "la.png")
    assert x[0, :, 0] == pytest.approx([1, 0, 127 / 255, 1], abs=1 / 255)


def test_a_palette_with_a_transparent_colour_is_laid_over_white(tmp_path):
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((1, 0), 1)
    x = _read(tmp_path, image, "p.png", COLOUR, transparency=0)
    assert x[0, 0].tolist() == [1, 1, 1] and x[0, 1].tolist() == [1, 0, 0]
    opaque = _read(tmp_path, image, "opaque.png", COLOUR)
    assert opaque[0, 0].tolist() == [0, 0, 0]  # no transparency: as it is


def test_rgba_is_laid_over_white_and_an_opaque_one_reads_as_rgb(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :2, 3] = 255
    x = _read(tmp_path, Image.fromarray(rgba, "RGBA"), "rgba.png", COLOUR)
    assert x[0, 0].tolist() == [1, 0, 0] and x[0, 3].tolist() == [1, 1, 1]
    rgba[..., 3] = 255
    opaque = _read(tmp_path, Image.fromarray(rgba, "RGBA"), "opaque.png", COLOUR)
    assert (opaque == _read(tmp_path, Image.fromarray(rgba[..., :3]), "rgb.png", COLOUR)).all()


def test_cmyk_reads_as_its_colours(tmp_path):
    image = Image.new("CMYK", (4, 4), (0, 255, 255, 0))  # no cyan, full magenta and yellow: red
    assert _read(tmp_path, image, "c.jpg", COLOUR, quality=100)[1, 1] == pytest.approx(
        [1, 0, 0], abs=0.02
    )
    assert _read(tmp_path, image, "c.tiff", COLOUR)[1, 1].tolist() == [1, 0, 0]


def test_a_photo_is_turned_upright_by_its_exif_orientation(tmp_path):
    # A phone held upright stores the sensor's landscape pixels and says "turn 90 degrees".
    pixels = np.zeros((2, 4), np.uint8)
    pixels[0, 0] = 255  # top left of the sensor's image
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    image.save(tmp_path / "photo.jpg", exif=exif, quality=100, subsampling=0)
    with Image.open(tmp_path / "photo.jpg") as opened:
        shown = images.upright(opened)
        assert shown.size == (2, 4)  # (width, height): standing up
        assert np.asarray(shown)[0, 1] > 200  # the sensor's top left is now the top right
    assert images.first_image_size(tmp_path, ["photo.jpg"]) == (4, 2)
    thumb = Image.open(io.BytesIO(thumbnail_png(tmp_path, "photo.jpg", tmp_path / "c", "0" * 64)))
    assert thumb.height > thumb.width


def test_ordinary_8_bit_images_read_as_they_always_did(tmp_path):
    # The conversion before images were read upright: Pillow's own, straight to L or RGB.
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (30, 20, 3), np.uint8)
    saved = {
        "l.png": Image.fromarray(rgb[..., 0]),
        "rgb.png": Image.fromarray(rgb),
        "rgb.jpg": Image.fromarray(rgb),
        "p.png": Image.fromarray(rgb).convert("P"),
        "p.gif": Image.fromarray(rgb).convert("P"),
        "cmyk.jpg": Image.fromarray(rgb).convert("CMYK"),
    }
    for name, image in saved.items():
        image.save(tmp_path / name)
    for preprocessing in (Preprocessing(28, 28, 1), Preprocessing(16, 24, 3, "caffe")):
        batch, readable = read_batch(tmp_path, list(saved), preprocessing)
        assert readable.all()
        for row, name in enumerate(saved):
            with Image.open(tmp_path / name) as image:
                old = image.convert("L" if preprocessing.channels == 1 else "RGB").resize(
                    (preprocessing.width, preprocessing.height), Image.BILINEAR
                )
                x = np.asarray(old, np.float32).reshape(batch.shape[1:])
            expected = (
                x / 255.0
                if preprocessing.scale == "0-1"
                else x[..., ::-1] - np.array([103.939, 116.779, 123.68], np.float32)
            )
            assert np.array_equal(batch[row], expected), name
