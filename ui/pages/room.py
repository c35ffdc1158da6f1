"""The Room page, for the presenter: everyone's learning curve, live, and who got there first.

It shows the sessions changed in the last few hours, or since the moment the presenter said the
room started (kept in the URL, `?since=<unix seconds>`, so a reload keeps it). Every few seconds
a fragment asks the store for the live rounds' (session, labels, accuracy) in one query and
draws one chart per configuration (backbone, layer and question: only those are compared) with
its leader board: the labels each session needed to reach 99 % of the frozen-head ceiling.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from tl_active.errors import TlActiveError
from tl_active.experiments.room import (
    REACHED,
    Configuration,
    curves_by_configuration,
    leader_board,
    room_chart,
)
from tl_active.sessions.figures import frozen_head_ceiling
from ui import keys
from ui.support import escape_markdown, features_for, session_store

REFRESH_S = 3.0
DEFAULT_HOURS = 3


def room_since() -> float:
    """Unix seconds from which sessions count: the room's start if set, else the last hours."""
    started = st.query_params.get(keys.ROOM_SINCE_PARAM)
    try:
        return float(started)
    except (TypeError, ValueError):
        return time.time() - 3600 * float(st.session_state.get(keys.ROOM_HOURS, DEFAULT_HOURS))


def on_room_starts() -> None:
    # To the millisecond: whole seconds would count a session changed earlier in the same second.
    st.query_params[keys.ROOM_SINCE_PARAM] = f"{time.time():.3f}"


def on_room_forgotten() -> None:
    st.query_params.pop(keys.ROOM_SINCE_PARAM, None)


def ceiling_of(configuration: Configuration) -> float | None:
    """The configuration's frozen-head ceiling (test accuracy); None if its features cannot be had."""
    try:
        features = features_for(configuration.backbone, configuration.layer)
        return frozen_head_ceiling(features, configuration.task).accuracy
    except (TlActiveError, ValueError):
        return None


def standings_table(standings) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "session": s.name,
                "strategy": s.strategy,
                # Words, not a blank or None, for a session still on its way.
                f"labels to {REACHED:.0%} of the ceiling": (
                    "not yet" if s.labels_to_reach is None else str(s.labels_to_reach)
                ),
                "best accuracy": f"{s.best_accuracy:.2%}",
                "labels so far": s.n_labels,
            }
            for s in standings
        ],
        index=pd.RangeIndex(1, len(standings) + 1, name="rank"),
    )


@st.fragment(run_every=REFRESH_S)
def live_room(since: float) -> None:
    try:
        points = session_store().room_curves(since)
    except (TlActiveError, SQLAlchemyError) as error:
        st.error(f"The session store cannot be read: {escape_markdown(error)}")
        return
    grouped = curves_by_configuration(points)
    if not grouped:
        st.info("No session has a round yet. Curves appear here as people submit batches.")
        return
    for k, (configuration, curves) in enumerate(
        sorted(grouped.items(), key=lambda item: -len(item[1]))
    ):
        ceiling = ceiling_of(configuration)
        people = f"{len(curves)} session{'s' * (len(curves) != 1)}"
        said = f", ceiling {ceiling:.2%}" if ceiling is not None else ", no ceiling (no features)"
        # A backbone may be a path a person typed: escaped.
        st.subheader(f"{escape_markdown(configuration.name())}: {people}{said}")
        # The board under its chart, the page's whole width: beside it, in two fifths of a
        # 1280 px page, its right-hand columns were cut off.
        st.altair_chart(room_chart(curves, ceiling), key=f"room_chart_{k}")
        st.dataframe(
            standings_table(leader_board(curves, ceiling)),
            key=f"room_board_{k}",
            width="content",
        )


st.title("The room")
since = room_since()
left, middle, right = st.columns([2, 1, 1], vertical_alignment="bottom")
if keys.ROOM_SINCE_PARAM in st.query_params:
    left.caption(
        f"Sessions changed since the room started, {time.strftime('%H:%M', time.localtime(since))}."
    )
    right.button("Show the last hours instead", on_click=on_room_forgotten)
else:
    left.number_input(
        "Sessions changed in the last hours",
        min_value=1,
        max_value=24 * 14,
        value=DEFAULT_HOURS,
        key=keys.ROOM_HOURS,
    )
middle.button(
    "The room starts now", on_click=on_room_starts, help="Count only sessions changed from now on."
)
st.caption(
    f"Refreshed every {REFRESH_S:.0f} s. A session is named by the start of its id (its link's "
    f"?session=). Sessions are compared only with the same backbone, layer and question."
)
live_room(since)
