"""The Label page's layout: its style sheet (`layout.css`, beside this module), read once.

The page's sections are Streamlit elements; what they cannot say themselves (the top margin,
where toasts float, how the batch and the head's panel share a narrow screen) is said here, and
kept by the browser tests at 1440 x 900, 1280 x 800 and 1024 x 700.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

STYLE = (Path(__file__).resolve().parent / "layout.css").read_text(encoding="utf-8")
# The container of the batch beside the head's panel, which the style sheet lays out.
BATCH_AND_HEAD = "batch_and_head"


def page_style() -> None:
    st.html(f"<style>{STYLE}</style>")
