"""What every page of the app shares: the frozen features and images, the session store, names.

What is kept here is shared by every user, so only read-only or thread-safe things live here:
each backbone's features at each layer (`SharedFeatures`), the scanned image folders and the
`SessionStore` (its engine pools connections and every write is its own transaction). The trainable head and
the labelling session are per user, in `st.session_state` (see `ui.keys`).

Text a person or a file chooses (a model's path, an uploaded file's name, an error quoting
either) reaches a Markdown element only through `escape_markdown`.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import streamlit as st

from tl_active import paths
from tl_active.data.backbones import (
    SHIPPED,
    SHIPPED_WEATHER,
    Backbone,
    default_layer,
    resolve_backbone,
)
from tl_active.data.features import FeatureSet, load_features
from tl_active.data.folder_features import load_folder_features
from tl_active.data.images import (
    ImageFolder,
    Skipped,
    describe_skipped,
    scan_folder,
    unpack_zip,
)
from tl_active.data.weather_features import load_weather_features
from tl_active.errors import ModelError, TlActiveError
from tl_active.paths import MNIST_PATH, expanded
from tl_active.sessions.store import SessionStore

OWN_FILE = "your own .keras file"  # the backbone choice that reads a path from a text field
MAX_FEATURE_SETS = 8  # backbone and layer pairs kept in memory (the embedding's is 36 MB)

# Every ASCII punctuation character. CommonMark lets a backslash make each one literal, and
# between them they start every link and image, emphasis, heading, list, table, HTML tag, maths
# ($), Streamlit directive (:red[...]) and autolink (https://, www., name@host).
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def escape_markdown(text: object) -> str:
    """`text` for a Markdown element (st.error, st.caption, ...), shown as written: inert.

    Anything a person or a file can choose (the `?session=` id, an uploaded file's name, a
    manifest's contents quoted in an error) goes through this before it reaches the page, so that
    it cannot put a live link or an image that fetches an address into the app's own messages.
    """
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", str(text))


# --- backbones and layers, as the sidebars offer them -----------------------------------------


def run_once_kept(results: dict, settings, run, max_kept: int) -> None:
    """Run `settings` unless their result is already in `results`, keeping the newest
    `max_kept` results (a page's runs over a tab's life). A run the user's settings make fail is
    shown as one message and the page stops, with the results kept as they were."""
    if settings in results:
        return
    try:
        results[settings] = run(settings)
    except (TlActiveError, ValueError) as error:
        st.error(escape_markdown(error))
        st.stop()
    while len(results) > max_kept:
        results.pop(next(iter(results)))


def backbone_choices(weather: bool = False) -> list[str]:
    """The backbones offered for images, or for weather windows (networks that read them)."""
    return [*(SHIPPED_WEATHER if weather else SHIPPED), OWN_FILE]


def backbone_spec(choice: str, path: str) -> str:
    """What `resolve_backbone` reads: a shipped name, or the path typed for one's own file."""
    if choice != OWN_FILE:
        return choice
    path = (path or "").strip()
    if not path:
        raise ValueError("give the path of your .keras file, or choose a shipped backbone")
    return path


def choice_of(backbone: str) -> tuple[str, str]:
    """The sidebar's (choice, path) for a session's backbone name."""
    shipped = backbone in SHIPPED or backbone in SHIPPED_WEATHER
    return (backbone, "") if shipped else (OWN_FILE, backbone)


def layer_options(backbone: Backbone | None, current: str | None = None) -> list[str]:
    """The backbone's named layers first, then the one in use if it is another."""
    names = [name for name, _ in backbone.layers] if backbone else []
    if current and current not in names:
        names.append(current)
    return names


def default_backbone_and_layer() -> tuple[str, str]:
    """`TL_ACTIVE_BACKBONE` and `TL_ACTIVE_LAYER`, or the shipped default."""
    backbone = resolve_backbone()
    return backbone.name, default_layer(backbone)


# --- shared, read-only resources ----------------------------------------------------------------


def _file_stamp(path: Path) -> str:
    """Changes when the file does, so a replaced model is never served from memory."""
    try:
        status = path.stat()
    except OSError:
        return "missing"
    return f"{status.st_mtime_ns}-{status.st_size}"


class SharedFeatures:
    """Each backbone's features at each layer, loaded once per server and shared by every user.

    A feature set missing from memory is loaded by the run that first asks for it, under a
    progress bar, while other runs asking for the same one wait for it; the last
    `MAX_FEATURE_SETS` used are kept. Not `st.cache_resource`: Streamlit replays the elements a
    cached function drew in every run that hits the cache, so the progress bar came back, as an
    empty slot, at the top of each new tab's first run and of no later run; every element
    below it then moved between the two, and the browser rebuilt the whole page, the
    labelling grid included, losing the keys pressed while it did.
    """

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._sets: OrderedDict[tuple[str, str, str], FeatureSet] = OrderedDict()
        self._loading: dict[tuple[str, str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def _kept(self, key: tuple[str, str, str]) -> FeatureSet | None:
        with self._lock:
            features = self._sets.get(key)
            if features is not None:
                self._sets.move_to_end(key)
            return features

    def __call__(self, backbone: str, layer: str, model_stamp: str = "") -> FeatureSet:
        """`model_stamp` is part of the key only: see `features_for`."""
        key = (backbone, layer, model_stamp)
        features = self._kept(key)
        if features is not None:
            return features
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            features = self._kept(key)
            if features is not None:
                return features
            bar = st.progress(
                0.0, text=f"Running {backbone} over MNIST once (cached after this)..."
            )

            def progress(done: int, total: int) -> None:
                text = f"Running {backbone} over MNIST once: {done:,}/{total:,}"
                bar.progress(done / total, text=text)

            try:
                features = load_features(backbone, layer, MNIST_PATH, progress=progress)
            finally:
                bar.empty()
            with self._lock:
                self._sets[key] = features
                while len(self._sets) > self.max_entries:
                    self._sets.popitem(last=False)
                self._loading.pop(key, None)
            return features

    def clear(self) -> None:
        with self._lock:
            self._sets.clear()


shared_features = SharedFeatures(MAX_FEATURE_SETS)


def default_images() -> str:
    """The image folder the app starts on: `TL_ACTIVE_IMAGES`, or '' for MNIST."""
    return os.environ.get("TL_ACTIVE_IMAGES", "").strip()


def _folder_stamp(root: Path) -> str:
    """Changes when any file of the folder is added, removed, replaced or touched (stat only)."""
    digest = hashlib.sha256()
    for current, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            try:
                status = os.stat(os.path.join(current, name))
            except OSError:
                continue
            digest.update(f"{current}/{name}:{status.st_mtime_ns}:{status.st_size};".encode())
    return digest.hexdigest()


@st.cache_resource(show_spinner=False, max_entries=MAX_FEATURE_SETS)
def _scanned(root: str, stamp: str) -> ImageFolder:
    return scan_folder(root)


def image_folder(root: str) -> ImageFolder:
    """The folder scanned (checksummed once per change of its files); `DataError` if unusable."""
    return _scanned(root, _folder_stamp(expanded(root)))


@st.cache_resource(show_spinner=False, max_entries=MAX_FEATURE_SETS)
def shared_folder_features(root: str, checksum: str, backbone: str, layer: str) -> FeatureSet:
    """A backbone's outputs at one layer over an image folder; a progress bar when computed."""
    folder = image_folder(root)
    bar = st.progress(0.0, text=f"Running {backbone} over {len(folder):,} images once...")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Running {backbone} over your images: {done:,}/{total:,}")

    try:
        return load_folder_features(folder, backbone, layer, paths.CACHE_DIR, progress)
    finally:
        bar.empty()


@st.cache_resource(
    show_spinner="Reading the weather windows with their network (once per question)...",
    max_entries=MAX_FEATURE_SETS,
)
def shared_weather_features(question: str, backbone: str, layer: str, stamp: str) -> FeatureSet:
    """A weather backbone's outputs at one layer over a question's windows (`stamp`: the
    model file's, so a replaced model is read again). Nothing is drawn inside: a cached
    function's elements come back in every run that hits the cache (see `SharedFeatures`)."""
    return load_weather_features(question, resolve_backbone(backbone), layer)


def unpack_upload(data: bytes) -> tuple[str, tuple[Skipped, ...]]:
    """An uploaded zip unpacked under the cache (once per content): its folder, and what was
    skipped while unpacking it (its members that the folder's scan never sees)."""
    name = hashlib.sha256(data).hexdigest()[:16]
    unpacked = unpack_zip(data, paths.CACHE_DIR / "uploads" / name)
    return str(unpacked.folder), tuple(unpacked.skipped)


def skipped_note(folder: ImageFolder, unpacked: Sequence[Skipped] = ()) -> str:
    """Every file of a folder (and of the zip it came from) that is not among its images, and
    why: '2 files skipped: 1 not an image (notes.txt), 1 unreadable (cat/cut.png)', or ''."""
    return describe_skipped((*unpacked, *folder.skipped))


def features_for(backbone: str, layer: str, images: str = "", weather: str = "") -> FeatureSet:
    """The shared features of a backbone (name or path) and layer; `TlActiveError` if not to be had.

    A name that is neither shipped nor a file, a missing or broken model, or a layer the model
    does not have, each raise with a message for the person.
    """
    try:
        resolved = resolve_backbone(backbone)
    except ValueError as error:
        raise ModelError(str(error)) from None
    if weather:
        return shared_weather_features(weather, resolved.name, layer, _file_stamp(resolved.path))
    if images:
        folder = image_folder(images)
        return shared_folder_features(images, folder.checksum, resolved.name, layer)
    return shared_features(resolved.name, layer, _file_stamp(resolved.path))


def features_or_stop(backbone: str, layer: str, images: str = "", weather: str = "") -> FeatureSet:
    """The shared features; if they cannot be had, say why and stop the page."""
    try:
        return features_for(backbone, layer, images, weather)
    except TlActiveError as error:
        st.error(escape_markdown(error))
        st.stop()


@st.cache_resource(show_spinner=False)
def _store_at(url: str) -> SessionStore:
    return SessionStore(url)


def session_store() -> SessionStore:
    """The store every user of this server shares, at `TL_ACTIVE_DB` (see `tl_active.paths`)."""
    # Looked up on each call, not imported once, so that tests can point it at a fresh file.
    return _store_at(paths.DB_URL)


def arrow_ipc(rows: pa.Table | pd.DataFrame | list[dict]) -> bytes:
    """A chart's dataset as Arrow IPC bytes, which `st.vega_lite_chart` sends as they are.

    Made once per session revision and kept (see the Label page's `chart`), so a rerun that
    changed nothing converts nothing. The live charts' data come as Arrow tables already
    (`plots.LiveChart`); a frame is converted from its columns' arrays, without pandas' schema
    metadata, which is most of what a conversion of these small frames costs.
    """
    if isinstance(rows, pa.Table):
        table = rows
    elif isinstance(rows, pd.DataFrame):
        # A column's own Arrow array where pandas keeps one (its strings), no copy.
        table = pa.table({str(c): pa.array(rows[c]) for c in rows.columns})
    else:
        table = pa.Table.from_pylist(list(rows))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()
