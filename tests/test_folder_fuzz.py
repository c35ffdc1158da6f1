"""The image-folder scanner under fuzzing: random trees of files, links, FIFOs and odd names.

Each tree is built afresh beside a folder of "outside" images: class folders or a flat
folder, holding real PNGs, broken ones, text, hidden files, FIFOs named as images, links to
files and folders inside and outside, links to themselves and links to nothing, under names
with spaces, accents, emoji, control characters, terminal escapes, bytes that are not UTF-8
and the longest a file system takes. The scanner must answer every tree with an
`ImageFolder` or one `DataError` of one line, within 5 s, never read a file outside the
folder, and never put a control character in what it says; the images it lists must read.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tl_active.data.images import (
    Preprocessing,
    describe_skipped,
    read_batch,
    scan_folder,
)
from tl_active.errors import DataError
from tl_active.safe_files import is_within
from tl_active.text import text_problem

MAX_SECONDS = 5.0
NAMES = [
    "a.png",
    "b c.png",
    "ünï.png",
    "🙂.png",
    "x" * 251 + ".png",  # 255 bytes: the longest name
    "\x1b[2J.png",
    "\u202egnp.png",
    "tab\there.png",
    os.fsdecode(b"caf\xe9.png"),  # not UTF-8
    "notes.txt",
    ".hidden.png",
    "two.png",
    "photo.JPG",
]
DIRS = ["cat", "dog", "ünï", "\x1b[31mred", ".git", "__MACOSX", "deep"]
KINDS = [
    "image",
    "image",
    "image",
    "broken image",
    "text",
    "fifo",
    "link to an image inside",
    "link to an image outside",
    "link to a folder inside",
    "link to a folder outside",
    "link to itself",
    "link to nothing",
]


def _png(path: Path, shade: int, size: int = 6) -> None:
    Image.fromarray(np.full((size, size), shade, np.uint8)).save(path, format="PNG")


def _outside(root: Path) -> Path:
    """Images outside the folder, 9 x 9 (every image inside is 6 x 6), so a leak shows."""
    outside = root / "outside"
    (outside / "cls").mkdir(parents=True)
    for i in range(3):
        _png(outside / "cls" / f"{i}.png", 200 + i, size=9)
    return outside


def _build(folder: Path, outside: Path, entries: list[tuple[str, str, str]]) -> None:
    folder.mkdir()
    for directory, name, kind in entries:
        parent = folder / directory if directory else folder
        parent.mkdir(parents=True, exist_ok=True)
        path = parent / name
        if os.path.lexists(path):
            continue
        if kind == "image":
            _png(path, len(name) % 250)
        elif kind == "broken image":
            path.write_bytes(b"\x89PNG\r\n\x1a\n broken")
        elif kind == "text":
            path.write_text("not an image")
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "link to an image inside":
            target = folder / "kept.png"
            if not target.exists():
                _png(target, 17)
            os.symlink(target, path)
        elif kind == "link to an image outside":
            os.symlink(outside / "cls" / "0.png", path)
        elif kind == "link to a folder inside":
            os.symlink(folder, path)
        elif kind == "link to a folder outside":
            os.symlink(outside / "cls", path)
        elif kind == "link to itself":
            os.symlink(name, path)
        else:
            os.symlink(folder / "nothing-here", path)


entries = st.lists(
    st.tuples(
        st.sampled_from(["", *DIRS, "deep/deeper"]),
        st.sampled_from(NAMES),
        st.sampled_from(KINDS),
    ),
    min_size=1,
    max_size=14,
)


def _scan_within_seconds(folder: Path):
    """`scan_folder(folder)`, run so that a hang fails the test instead of stopping the run."""
    outcome: list = []

    def scan():
        try:
            outcome.append(scan_folder(folder))
        except BaseException as error:  # reported below, whatever it is
            outcome.append(error)

    thread = threading.Thread(target=scan, daemon=True)
    start = time.perf_counter()
    thread.start()
    thread.join(MAX_SECONDS)
    assert not thread.is_alive(), f"the scan of {folder} hung"
    return outcome[0], time.perf_counter() - start


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(entries)
def test_a_random_tree_is_scanned_or_refused_in_one_line_and_nothing_outside_is_read(tree):
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        outside = _outside(scratch)
        folder = scratch / "mine"
        _build(folder, outside, tree)
        result, seconds = _scan_within_seconds(folder)
        assert seconds < MAX_SECONDS
        if isinstance(result, DataError):
            message = str(result)
            assert "\n" not in message and text_problem(message, 10**6) is None, message
            return
        assert not isinstance(result, BaseException), repr(result)
        said = describe_skipped(result.skipped) + result.describe()
        assert text_problem(said, 10**6) is None, said
        for relative in result.paths:
            assert is_within(folder / relative, folder), relative
        batch, readable = read_batch(folder, result.paths, Preprocessing(6, 6, 1, "0-255"))
        assert readable.all()
        # Every image inside is of a shade under 200; those outside are of 200 and more.
        assert (batch < 200).all()
