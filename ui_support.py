"""What every page of the app shares: the frozen features and images, loaded once per server.

`st.cache_resource` objects are shared by every user, so only read-only things live here: the
frozen CNN's features and the raw MNIST images. The trainable head and the labelling session are
per user, in `st.session_state[SESSION_KEY]`.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from tl_active.data import load_raw
from tl_active.features import FeatureSet, load_features
from tl_active.paths import MNIST_PATH, MODEL_PATH

SESSION_KEY = "session"  # the user's LabellingSession


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


@st.cache_resource(show_spinner=False)
def pool_images() -> np.ndarray:
    """The 60,000 pool images as uint8 (0 = background), for drawing tiles."""
    images = load_raw(MNIST_PATH)["x_train"]
    images.setflags(write=False)
    return images
