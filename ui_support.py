"""What every page of the app shares: the frozen features and images, and the session store.

`st.cache_resource` objects are shared by every user, so only read-only or thread-safe things
live here: the frozen CNN's features, the raw MNIST images and the `SessionStore` (its engine
pools connections and every write is its own transaction). The trainable head and the labelling
session are per user, in `st.session_state[SESSION_KEY]`, with their stored id in
`st.session_state[SESSION_ID_KEY]`.
"""

from __future__ import annotations

import re

import numpy as np
import streamlit as st

from tl_active import paths
from tl_active.data import load_raw
from tl_active.errors import TlActiveError
from tl_active.features import FeatureSet, load_features
from tl_active.paths import MNIST_PATH, MODEL_PATH
from tl_active.store import SessionStore

SESSION_KEY = "session"  # the user's LabellingSession
SESSION_ID_KEY = "session_id"  # its id in the store and in the URL (?session=...)

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


@st.cache_resource(show_spinner=False)
def shared_features() -> FeatureSet:
    """The frozen CNN's outputs for all of MNIST; computed with a progress bar on a cold cache."""
    bar = st.progress(0.0, text="Running the frozen CNN over MNIST once (cached after this)...")

    def progress(done: int, total: int) -> None:
        bar.progress(
            done / total, text=f"Running the frozen CNN over MNIST once: {done:,}/{total:,}"
        )

    features = load_features(MODEL_PATH, MNIST_PATH, progress=progress)
    bar.empty()
    return features


def features_or_stop() -> FeatureSet:
    """The shared features; if they cannot be had (no model, no MNIST), say why and stop the page."""
    try:
        return shared_features()
    except TlActiveError as error:
        st.error(escape_markdown(error))
        st.stop()


@st.cache_resource(show_spinner=False)
def pool_images() -> np.ndarray:
    """The 60,000 pool images as uint8 (0 = background), for drawing tiles."""
    images = load_raw(MNIST_PATH)["x_train"]
    images.setflags(write=False)
    return images


@st.cache_resource(show_spinner=False)
def _store_at(url: str) -> SessionStore:
    return SessionStore(url)


def session_store() -> SessionStore:
    """The store every user of this server shares, at `TL_ACTIVE_DB` (see `tl_active.paths`)."""
    # Looked up on each call, not imported once, so that tests can point it at a fresh file.
    return _store_at(paths.DB_URL)
