"""A person's own images: a folder (or an uploaded .zip) read as a labelled or unlabelled data set.

A folder whose subfolders hold images has ground truth: each subfolder is a class, named as the
folder is, and a held-out test split is made once (seeded, stratified by class, recorded with
the features), so every figure works as it does on MNIST. A flat folder has no ground truth:
every image is in the pool, and there is no test set.

Whatever is not an image (by its name, or because Pillow cannot decode it) is skipped and
counted, never a failure; so are hidden files, links that lead out of the folder (a class
folder that is such a link too), links that lead to themselves, and whatever is not a regular
file (a FIFO named `two.png` would block the reader): every file is opened through
`safe_files`. A `.zip` is unpacked only within limits: its own size, the total it unpacks to,
how many times each member is compressed (a zip bomb's hallmark), and names that would land
outside the folder or that the file system cannot hold.

Pixels are read as a person sees the image (`upright`): turned by its EXIF orientation, with
16-bit and floating-point images scaled from their own range, and transparency laid over white.

The folder's content checksum (every image's relative path and bytes) identifies it: features
are cached under it, and a session records it, so a folder that changed is noticed.

This module knows Pillow and NumPy only; running a network over the images is `network.py`'s.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import stat
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from tl_active.errors import DataError, FileRefusedError
from tl_active.paths import expanded
from tl_active.safe_files import LINK_OUTSIDE, is_within, open_regular, read_regular
from tl_active.text import shown as shown_text
from tl_active.text import text_problem

# What the app accepts as an upload (its server refuses more, .streamlit/config.toml).
MAX_ZIP_BYTES = 50 * 1024**2
# What a zip may unpack to in all, and how many times a member may be compressed: real images
# compress a few times at most (PNGs hardly at all), a zip bomb thousands of times.
MAX_UNPACKED_BYTES = 1024**3
MAX_RATIO = 100
MAX_MEMBERS = 200_000
# The largest image file read: far above any photograph, far below what would fill the memory.
MAX_IMAGE_BYTES = 256 * 1024**2
# The longest name of one file or folder most file systems hold, in bytes.
MAX_NAME_BYTES = 255
TEST_FRACTION = 0.2
SPLIT_SEED = 0

IMAGE_SUFFIXES = frozenset(
    suffix.lower()
    for suffix, kind in Image.registered_extensions().items()
    if kind in Image.OPEN  # formats Pillow can read, not only write
)

NOT_AN_IMAGE = "not an image"
UNREADABLE = "unreadable"
OUTSIDE_CLASSES = "outside any class folder"
NAME_TOO_LONG = "a name too long for the file system"
# A class is named as its folder, and that name is kept with the features and the sessions.
NOT_A_CLASS_NAME = "a folder name that is not plain text (a control character or not UTF-8)"


@dataclass(frozen=True)
class Skipped:
    """A file left out, and why."""

    path: str  # relative to the folder, or the name in the zip
    reason: str


def describe_skipped(skipped: Sequence[Skipped], shown: int = 3) -> str:
    """'5 files skipped: 3 not an image (a.txt, b.csv, ...), 2 unreadable (x.png, y.png)' or ''."""
    if not skipped:
        return ""
    by_reason: dict[str, list[str]] = {}
    for item in skipped:
        by_reason.setdefault(item.reason, []).append(item.path)
    parts = []
    for reason, paths in by_reason.items():
        names = ", ".join(map(shown_text, paths[:shown])) + (", ..." if len(paths) > shown else "")
        parts.append(f"{len(paths):,} {reason} ({names})")
    n = len(skipped)
    return f"{n:,} file{'s' * (n != 1)} skipped: " + "; ".join(parts)


@dataclass(frozen=True)
class ImageFolder:
    """The images of a folder: their paths, classes (if any) and the folder's checksum."""

    root: Path
    paths: tuple[str, ...]  # relative POSIX paths, sorted by class then name
    labels: np.ndarray  # (n,) class index of each image, -1 for every image of a flat folder
    class_names: tuple[str, ...]  # the class subfolders' names; empty for a flat folder
    checksum: str  # sha256 over every image's relative path and bytes
    skipped: tuple[Skipped, ...] = ()

    @property
    def has_truth(self) -> bool:
        return bool(self.class_names)

    def __len__(self) -> int:
        return len(self.paths)

    def test_split(self, seed: int = SPLIT_SEED, fraction: float = TEST_FRACTION) -> np.ndarray:
        """Which images are held out for testing: `fraction` of each class, drawn with `seed`.

        Stratified, so each class keeps its share in both parts; a class of two or more images
        keeps at least one on each side. A flat folder has no test set (no truth to test on).
        """
        held_out = np.zeros(len(self.paths), bool)
        if not self.has_truth:
            return held_out
        rng = np.random.default_rng(seed)
        for k in range(len(self.class_names)):
            members = np.flatnonzero(self.labels == k)
            if len(members) < 2:
                continue
            n_test = min(max(1, round(fraction * len(members))), len(members) - 1)
            held_out[rng.permutation(members)[:n_test]] = True
        return held_out

    def describe(self) -> str:
        """'1,204 images in 3 classes (cat, dog, fox)' or '812 images, no classes (flat folder)'."""
        n = len(self.paths)
        if self.has_truth:
            counts = np.bincount(self.labels, minlength=len(self.class_names))
            names = ", ".join(f"{shown_text(c)} {m:,}" for c, m in zip(self.class_names, counts))
            return f"{n:,} images in {len(self.class_names)} classes ({names})"
        return f"{n:,} images, no classes (a flat folder: no ground truth, no test set)"


def _is_hidden(part: str) -> bool:
    return part.startswith(".") or part == "__MACOSX"


def _image_files(folder: Path, root: Path, skipped: list[Skipped]) -> list[Path]:
    """Every file under `folder` that may be an image, in sorted order; the others skipped.

    The walk does not follow links to folders below `folder`, so only a file can be a link
    here: it is checked for where it leads, and any file is read (`open_regular`) only if it
    lies within `root`.
    """
    found = []
    real_root = os.path.realpath(root)
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _is_hidden(d))
        for name in sorted(files):
            path = Path(current) / name
            relative = path.relative_to(root).as_posix()
            if _is_hidden(name):
                continue  # .DS_Store and the like: not a person's file
            if path.is_symlink() and not is_within(path, real_root):
                skipped.append(Skipped(relative, LINK_OUTSIDE))
            elif path.suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append(Skipped(relative, NOT_AN_IMAGE))
            else:
                found.append(path)
    return found


def _has_images(folder: Path) -> bool:
    return any(
        Path(name).suffix.lower() in IMAGE_SUFFIXES and not _is_hidden(name)
        for _, _, files in os.walk(folder)
        for name in files
    )


def scan_folder(root: Path | str) -> ImageFolder:
    """The images of a folder, with classes from its subfolders when they hold images.

    Each candidate is read once: its bytes go into the checksum and Pillow decodes it, so a file
    with an image's name but not an image's content, or an image damaged after its header, is
    skipped as unreadable. A folder with no readable image is a `DataError`.
    """
    root = expanded(root)
    if not root.is_dir():
        raise DataError(
            f"image folder not found: {shown_text(root)} is not a folder. Give a folder of "
            "images, with one subfolder per class if you know the classes."
        )
    skipped: list[Skipped] = []
    entries = sorted((e for e in root.iterdir() if not _is_hidden(e.name)), key=lambda e: e.name)
    # A class folder that is a link out of the folder would bring in another folder's images.
    leading_out = [e for e in entries if e.is_symlink() and not is_within(e, root)]
    entries = [e for e in entries if e not in leading_out]
    class_dirs = [d for d in entries if d.is_dir() and _has_images(d)]
    unnamed = [d for d in class_dirs if text_problem(d.name, MAX_NAME_BYTES) is not None]
    class_dirs = [d for d in class_dirs if d not in unnamed]
    if class_dirs or unnamed:
        groups = [(k, _image_files(d, root, skipped)) for k, d in enumerate(class_dirs)]
        skipped += [Skipped(e.name, LINK_OUTSIDE) for e in leading_out]
        skipped += [Skipped(d.name, NOT_A_CLASS_NAME) for d in unnamed]
        skipped += [Skipped(e.name, OUTSIDE_CLASSES) for e in entries if e.is_file()]
    else:
        groups = [(-1, _image_files(root, root, skipped))]
        # The walk lists a link to a file (and says where it leads), never one to a folder.
        skipped += [Skipped(e.name, LINK_OUTSIDE) for e in leading_out if e.is_dir()]

    digest = hashlib.sha256()
    paths: list[str] = []
    labels: list[int] = []
    for label, files in groups:
        for path in files:
            relative = path.relative_to(root).as_posix()
            try:
                data = read_regular(path, within=root, max_bytes=MAX_IMAGE_BYTES, what="image")
                with Image.open(io.BytesIO(data)) as image:
                    # Decoded, not only its header read: a PNG cut short or damaged after a
                    # sound header must not be counted among the folder's images. A JPEG is
                    # decoded at an eighth of its size (`draft`), which finds the same faults.
                    image.draft(image.mode, (1, 1))
                    image.load()
            except FileRefusedError as refused:
                skipped.append(Skipped(relative, refused.reason))
                continue
            except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
                skipped.append(Skipped(relative, UNREADABLE))
                continue
            digest.update(relative.encode("utf-8", "surrogateescape") + b"\0")
            digest.update(hashlib.sha256(data).digest())
            paths.append(relative)
            labels.append(label)
    if not paths:
        detail = describe_skipped(skipped)
        raise DataError(
            f"{shown_text(root)} holds no image Pillow can read"
            + (f" ({detail})" if detail else "")
            + ". Give a folder of PNG or JPEG files, with one subfolder per class if known."
        )
    class_names = tuple(d.name for d in class_dirs)
    if class_names:
        # A class folder whose every file was unreadable has no images: it is no class.
        present = sorted(set(labels))
        renumber = {old: new for new, old in enumerate(present)}
        labels = [renumber[k] for k in labels]
        class_names = tuple(class_names[k] for k in present)
    return ImageFolder(
        root=root,
        paths=tuple(paths),
        labels=np.array(labels, np.intp),
        class_names=class_names,
        checksum=digest.hexdigest(),
        skipped=tuple(skipped),
    )


@dataclass(frozen=True)
class ImageSource:
    """Where a feature set's images come from: it travels with the features (`FeatureSet.source`).

    The pool's and the test set's images are named by their path relative to the folder, in
    the order of the feature rows, so that the i-th pool image of a session is a file.
    """

    root: str
    checksum: str  # the folder's content checksum when the features were computed
    pool_paths: tuple[str, ...]
    test_paths: tuple[str, ...]
    has_truth: bool
    preprocessing: str  # how the images were turned into the network's input, for people
    skipped: tuple[Skipped, ...] = ()
    split_file: str = ""  # where the held-out split is recorded

    def path_of(self, pool_index: int) -> Path:
        return Path(self.root) / self.pool_paths[pool_index]


# --- a .zip, unpacked within limits -------------------------------------------------------------


@dataclass(frozen=True)
class Unpacked:
    """Where a zip was unpacked, and what of it was left out."""

    folder: Path  # the images' folder: the zip's single top folder if it has one
    n_files: int
    skipped: tuple[Skipped, ...] = field(default=())


def _safe_name(name: str) -> str | None:
    """The member's name as a relative POSIX path inside the folder, or None if it would leave it."""
    name = name.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and ":" in path.parts[0]) or ".." in path.parts:
        return None
    parts = [p for p in path.parts if p not in ("", ".")]
    return "/".join(parts) if parts else None


def unpack_zip(source: Path | str | bytes, destination: Path | str) -> Unpacked:
    """Unpack the images of a zip into `destination` (made afresh), within the limits above.

    Members that would land outside the folder, links, non-images, members compressed more than
    `MAX_RATIO` times and members past `MAX_UNPACKED_BYTES` in all are skipped with their
    reason; a member that cannot be read (damaged, encrypted) or whose name the file system
    cannot hold too. A file that is no zip, not a regular file, or larger than `MAX_ZIP_BYTES`
    is a `DataError`.
    """
    if isinstance(source, bytes):
        handle = io.BytesIO(source)
    else:
        try:
            handle = open_regular(source, what="zip")
        except FileRefusedError as refused:
            raise DataError(str(refused)) from None
    size = len(source) if isinstance(source, bytes) else os.fstat(handle.fileno()).st_size
    if size > MAX_ZIP_BYTES:
        handle.close()
        raise DataError(
            f"the zip is {size / 1024**2:.1f} MB; at most {MAX_ZIP_BYTES // 1024**2} MB is taken. "
            "Give a larger folder by its path instead (TL_ACTIVE_IMAGES or --images)."
        )
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        handle.close()
        raise DataError(f"this file is not a readable zip archive ({error}).") from None
    destination = Path(destination)
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    skipped: list[Skipped] = []
    unpacked_bytes, n_files = 0, 0
    with handle, archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise DataError(
                f"the zip holds {len(members):,} entries; at most {MAX_MEMBERS:,} are taken. "
                "Give the folder by its path instead."
            )
        for info in members:
            if info.is_dir():
                continue
            label = info.filename
            name = _safe_name(info.filename)
            mode = info.external_attr >> 16
            if name is None:
                skipped.append(Skipped(label, "a name that leads out of the folder"))
            elif stat.S_ISLNK(mode):
                skipped.append(Skipped(label, "a link"))
            elif any(_is_hidden(p) for p in name.split("/")):
                continue  # __MACOSX/ resource forks, .DS_Store
            elif any(
                len(p.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for p in name.split("/")
            ):
                skipped.append(Skipped(label, NAME_TOO_LONG))
            elif PurePosixPath(name).suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append(Skipped(label, NOT_AN_IMAGE))
            elif info.file_size > MAX_RATIO * max(info.compress_size, 1):
                skipped.append(Skipped(label, f"compressed over {MAX_RATIO} times (a zip bomb?)"))
            elif unpacked_bytes + info.file_size > MAX_UNPACKED_BYTES:
                skipped.append(
                    Skipped(label, f"over the {MAX_UNPACKED_BYTES // 1024**2:,} MB unpacked limit")
                )
            else:
                target = destination / name
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    # zipfile stops at the declared size and checks the CRC, so a member that
                    # lies about its size cannot write more than was counted.
                    with archive.open(info) as member, open(target, "wb") as out:
                        shutil.copyfileobj(member, out, 1 << 20)
                except (OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError):
                    with contextlib.suppress(OSError):  # the name may be what failed
                        target.unlink(missing_ok=True)
                    skipped.append(Skipped(label, UNREADABLE))
                    continue
                unpacked_bytes += info.file_size
                n_files += 1
    folder = destination
    entries = [e for e in folder.iterdir() if not _is_hidden(e.name)]
    while len(entries) == 1 and entries[0].is_dir():
        # A zip of a folder holds that folder: its classes are one level down.
        folder = entries[0]
        entries = [e for e in folder.iterdir() if not _is_hidden(e.name)]
    return Unpacked(folder, n_files, tuple(skipped))


# --- pixels for a network and for people --------------------------------------------------------

# How each network family wants its pixels (what keras.applications' preprocess_input does).
SCALES = {
    "0-1": "pixels scaled to [0, 1]",
    "0-255": "pixels as 0-255 (the network rescales them itself)",
    "-1-1": "pixels scaled to [-1, 1]",
    "caffe": "RGB to BGR, ImageNet's mean pixel subtracted (0-255)",
}
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)
_ORIENTATION = ExifTags.Base.Orientation
_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})


def upright(image: Image.Image) -> Image.Image:
    """An image as a viewer shows it, in a mode `Preprocessing` converts exactly.

    - turned and mirrored by its EXIF orientation, as a phone's photo is shown;
    - 16-bit and 32-bit integer greyscale (`I;16`, `I`) scaled from 0-65535, and floating-point
      greyscale (`F`) from 0-1, to 0-255 as mode `F` (converting them to 8 bits directly
      would clip every value over 255 to white); values outside the range are clipped;
    - transparency (`LA`, `RGBA`, a palette with a transparent colour) laid over white, as a
      page shows it, instead of dropped (which shows whatever colour the hidden pixels hold);
    - every other mode (`L`, `RGB`, `1`, `P`, `CMYK`, `YCbCr`) as it is: Pillow's own
      conversion to `L` or `RGB` is the right one, and an ordinary 8-bit image reads as it
      always did.
    """
    if image.getexif().get(_ORIENTATION, 1) not in (1, None):
        image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode.startswith("I"):
        x = np.asarray(image).astype(np.float32) / 257.0
        return Image.fromarray(np.clip(x, 0.0, 255.0), "F")
    if mode == "F":
        x = np.asarray(image, np.float32) * 255.0
        return Image.fromarray(np.clip(np.nan_to_num(x), 0.0, 255.0), "F")
    if mode in _ALPHA_MODES or (mode in ("P", "L", "RGB") and "transparency" in image.info):
        grey = mode in ("LA", "La") or (mode == "L")
        over = Image.alpha_composite(
            Image.new("RGBA", image.size, (255, 255, 255, 255)), image.convert("RGBA")
        )
        return over.convert("L" if grey else "RGB")
    return image


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes a network's input: its size, its channels, its pixel scale."""

    height: int
    width: int
    channels: int  # 1 (grayscale) or 3 (RGB)
    scale: str = "0-1"

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise DataError(
                f"a backbone that takes {self.channels} channels cannot read images: it must take "
                "1 (grayscale) or 3 (RGB)"
            )
        if self.scale not in SCALES:
            raise ValueError(f"unknown pixel scale {self.scale!r}; one of {', '.join(SCALES)}")

    def describe(self) -> str:
        colour = "grayscale" if self.channels == 1 else "RGB"
        return (
            f"converted to {colour}, resized to {self.width} x {self.height} (bilinear, "
            f"stretched to fit), {SCALES[self.scale]}"
        )

    @property
    def tag(self) -> str:
        return f"{self.height}x{self.width}x{self.channels}-{self.scale}"

    def pixels(self, image: Image.Image) -> np.ndarray:
        """One image as the network reads it (`upright`): (height, width, channels) float32."""
        image = upright(image)
        if image.mode != "F":
            image = image.convert("L" if self.channels == 1 else "RGB")
        if image.size != (self.width, self.height):
            image = image.resize((self.width, self.height), Image.BILINEAR)
        x = np.asarray(image, np.float32)
        if x.ndim == 2 and self.channels == 3:
            # Greyscale kept at its depth: the three channels of its RGB are the same value.
            x = np.repeat(x[..., None], 3, axis=2)
        x = x.reshape(self.height, self.width, self.channels)
        if self.scale == "0-1":
            return x / 255.0
        if self.scale == "-1-1":
            return x / 127.5 - 1.0
        if self.scale == "caffe":
            return x[..., ::-1] - _CAFFE_MEAN_BGR
        return x


def read_batch(
    root: Path, paths: Sequence[str], preprocessing: Preprocessing
) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of some images, (n, H, W, C), and which of them could be decoded.

    An image that fails to decode (a truncated file whose header was fine) gets zeros and
    `False`, so that one bad file costs its own row, not the batch.
    """
    shape = (preprocessing.height, preprocessing.width, preprocessing.channels)
    batch = np.zeros((len(paths), *shape), np.float32)
    readable = np.ones(len(paths), bool)
    for i, relative in enumerate(paths):
        try:
            with _open_image(root, relative) as image:
                batch[i] = preprocessing.pixels(image)
        except (
            FileRefusedError,
            OSError,
            UnidentifiedImageError,
            ValueError,
            Image.DecompressionBombError,
        ):
            readable[i] = False
    return batch, readable


@contextlib.contextmanager
def _open_image(root: Path | str, relative: str) -> Iterator[Image.Image]:
    """One image of a folder, opened through `open_regular` (within the folder, bounded)."""
    path = Path(root) / relative
    with open_regular(path, within=root, max_bytes=MAX_IMAGE_BYTES, what="image") as handle:
        with Image.open(handle) as image:
            yield image


def first_image_size(root: Path, paths: Sequence[str]) -> tuple[int, int]:
    """(height, width) of the first image that opens: the size for a network that takes any."""
    for relative in paths:
        try:
            with _open_image(root, relative) as image:
                turned = upright(image)
                return turned.height, turned.width
        except (FileRefusedError, OSError, UnidentifiedImageError, ValueError):
            continue
    raise DataError(f"no image under {shown_text(root)} could be opened")


def thumbnail_png(
    root: Path, relative: str, cache_dir: Path, checksum: str, size: int = 112
) -> bytes:
    """A tile's PNG of one image, at most `size` px on its longer side, made once and cached.

    Small images (MNIST's 28 px) are scaled up with nearest neighbour, so they stay crisp;
    larger ones are scaled down. The cache is keyed by the folder's checksum and the image's
    path, so a changed folder never shows an old thumbnail.
    """
    name = hashlib.sha256(relative.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    cached = Path(cache_dir) / f"thumbs-{checksum[:16]}" / str(size) / f"{name}.png"
    try:
        return cached.read_bytes()
    except OSError:
        pass
    try:
        with _open_image(root, relative) as image:
            image = upright(image)
            image = image.convert("L" if image.mode in ("L", "F") else "RGB")
            factor = size / max(image.size)
            new_size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
            resample = Image.NEAREST if factor >= 1 else Image.LANCZOS
            image = image.resize(new_size, resample)
            out = io.BytesIO()
            image.save(out, format="PNG")
    except (FileRefusedError, OSError, UnidentifiedImageError, ValueError):
        # The file changed or broke since it was read: a grey tile says "no image".
        out = io.BytesIO()
        Image.new("L", (size, size), 128).save(out, format="PNG")
        return out.getvalue()
    data = out.getvalue()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, cached)
    except OSError:
        pass  # a cache that cannot be written costs the next draw its time, nothing else
    return data
