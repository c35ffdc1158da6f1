"""The batch: the images the head is least sure of, answered in the browser and sent once.

The grid (`labelling_grid`) handles every key and click in the page; its submit reaches the
server as one callback (`on_grid_submit`), which reruns the page's main area.
"""

from __future__ import annotations

import streamlit as st

from tl_active import plots
from tl_active.core.task import SKIP
from tl_active.errors import TlActiveError
from tl_active.sessions.session import LabellingSession
from ui import keys
from ui.components.labelling_grid import labelling_grid
from ui.labelling import current_id, on_grid_submit, open_batch
from ui.support import escape_markdown
from ui.tiles import image_name, image_uri


def batch_panel(session: LabellingSession, options: list) -> None:
    """The batch, answered in the browser and sent once, at its submit (`on_grid_submit`)."""
    try:
        picks, answers = open_batch(session)
    except TlActiveError as error:
        st.error(escape_markdown(error))
        return
    p_name = plots.p_label(session.task, session.features.class_names)
    indices = [p.index for p in picks]
    p_shown = session.p_of(indices)
    predicted = session.predicted_of(indices)
    tiles = []
    for position, pick in enumerate(picks):
        says = "" if session.task.is_binary else f", says {predicted[position]}"
        tiles.append(
            {
                "src": image_uri(session, pick.index),
                "alt": image_name(session, pick.index),
                "title": session.features.kind.tile_title(pick.index),
                "caption": f"{p_name} {p_shown[position]:.3f}{says} · rank {pick.rank:,}",
            }
        )
    labelling_grid(
        key=keys.GRID,
        round_number=len(session.rounds) + 1,
        tiles=tiles,
        options=[o.for_grid() for o in options if o.value != SKIP],  # the grid adds Skip
        skip_key=next(o.key for o in options if o.value == SKIP),
        item=session.features.kind.item,
        answers=answers,
        on_submit=on_grid_submit,
        # The answers in progress survive a reload of this session's page (`sessionStorage`).
        scope=current_id() or "",
    )
    reasons = dict.fromkeys(p.reason for p in picks)  # in order, each once
    legend = session.features.kind.tile_legend
    st.caption(
        f"Chosen by {session.settings.strategy} (score and rank in the pool): "
        f"{'; '.join(reasons)}. Undo takes back the last submitted round."
        + (f" {escape_markdown(legend)}" if legend else "")
    )
