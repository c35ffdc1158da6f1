"""A page with the labelling grid alone, for the browser tests: four MNIST digits to answer.

Query parameters choose the task and the page: `?task=digits` offers five classes (digits 0 to 4,
keys 0-4) instead of odd/even (keys O/E); `?tall=1` puts space above and below the grid, so that
the page is taller than the window and anything that scrolls it shows. Each submission moves to
the next round and is written on the page, as returned and as the callback saw it; the captions
carry the number of the run that drew them, and "Rerun" runs the page again.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

# `streamlit run tests/grid_harness.py` puts tests/ on the path; the project root comes first.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402
from PIL import Image  # noqa: E402

from tl_active.data.mnist import load_raw  # noqa: E402
from ui.components.labelling_grid import labelling_grid, png_data_uri  # noqa: E402

SCALE = 6  # 28 px -> 168 px, as the app draws them
TASKS = {
    "odd": [
        {"value": "positive", "label": "Odd", "key": "o", "colour": "#0072B2"},
        {"value": "negative", "label": "Even", "key": "e", "colour": "#E69F00"},
    ],
    "digits": [{"value": str(d), "label": f"Digit {d}", "key": str(d)} for d in range(5)],
}


@st.cache_resource
def digits() -> tuple[np.ndarray, np.ndarray]:
    raw = load_raw()
    return raw["x_train"], raw["y_train"]


def tiles(task: str, run: int) -> list[dict[str, str]]:
    images, labels = digits()
    # The first four training images, or for the five-class task the first four of digits 0-4.
    wanted = np.arange(len(labels)) if task == "odd" else np.flatnonzero(labels < 5)
    made = []
    for index in wanted[:4]:
        image = Image.fromarray(255 - images[index]).resize((28 * SCALE,) * 2, Image.NEAREST)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        made.append(
            {
                "src": png_data_uri(buffer.getvalue()),
                "alt": f"MNIST training image {index}",
                # Changes on every run, so every run hands the page new data for the same batch.
                "caption": f"pool index {index} · page run {run}",
            }
        )
    return made


def remember(submission: dict) -> None:
    st.session_state.heard.append(submission)
    st.session_state.round += 1


st.set_page_config(page_title="labelling grid harness", layout="wide")
task = st.query_params.get("task", "odd")
tall = st.query_params.get("tall") == "1"
st.session_state.setdefault("round", 1)
st.session_state.setdefault("heard", [])
st.session_state.setdefault("returned", [])
st.session_state.runs = st.session_state.get("runs", 0) + 1

if tall:
    st.html('<div style="height: 420px">space above the grid</div>')
returned = labelling_grid(
    key="grid",
    round_number=st.session_state.round,
    tiles=tiles(task, st.session_state.runs),
    options=TASKS[task],
    on_submit=remember,
)
if returned is not None:
    st.session_state.returned.append(returned)

with st.container(key="result"):
    for name, submissions in (
        ("returned", st.session_state.returned),
        ("callback", st.session_state.heard),
    ):
        lines = [f"round {s['round']}: {', '.join(s['answers'])}" for s in submissions]
        st.text(f"{name}: {' | '.join(lines) if lines else 'nothing yet'}")
    st.text(f"runs: {st.session_state.runs}")
st.button("Rerun")
if tall:
    st.html('<div style="height: 3000px">space below the grid</div>')
