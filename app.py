"""tl-active: label the images a head on a frozen network is least sure of, retrain it, compare.

The entry script only routes: `streamlit run app.py` serves the named pages below, each a module
under `ui/pages/` that reads top to bottom. What the pages share (features, images, the session
store) is in `ui.support`; the person's labelling session and its callbacks in `ui.labelling`;
every `st.session_state` key in `ui.keys`.
"""

from __future__ import annotations

import streamlit as st

from ui.browser import remember_browser

st.set_page_config(page_title="tl-active", page_icon="🔢", layout="wide")

# Material icons, not emoji: where no emoji font is installed, emoji are drawn as empty boxes.
# The default page is served at `/`, yet its own path stays reserved and is never served: so
# it gets a path nobody types, and `/label` is a hidden page that opens it (below).
LABEL = st.Page(
    "ui/pages/label.py", title="Label", icon=":material/edit:", url_path="labelling", default=True
)


def label_address() -> None:
    """`/label` and `/label?session=...`: the Label page, and the session the address names."""
    st.switch_page(LABEL, query_params=st.query_params.to_dict())


LABEL_ADDRESS = st.Page(label_address, title="Label", url_path="label", visibility="hidden")
COMPARE = st.Page(
    "ui/pages/compare.py",
    title="Compare strategies",
    icon=":material/show_chart:",
    url_path="compare",
)
TRANSFER = st.Page(
    "ui/pages/transfer.py", title="Transfer lab", icon=":material/science:", url_path="transfer"
)
ROOM = st.Page("ui/pages/room.py", title="Room", icon=":material/groups:", url_path="room")

st.navigation([LABEL, COMPARE, TRANSFER, ROOM, LABEL_ADDRESS]).run()
# Which browser this is, so that its recent list shows its own sessions only (see ui.browser).
remember_browser()
