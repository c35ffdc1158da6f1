"""The Label page's pool map: the pool as the frozen network lays it out, under the batch.

An expander below the batch and the head's figures, so it never pushes them out of view; it
is drawn only while open. The UMAP map is computed once per backbone, layer and data, in a
thread of the server (`pool_map.map_in_background`), and cached; until it lands the PCA map is
drawn, and the panel polls every two seconds. A round changes only the points' colours,
opacity and marks: the projection and the sample of points drawn stay, and the chart's spec is
kept per shape (`plots.live_spec`), so a round sends one table.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import streamlit as st

from tl_active import paths, plots
from tl_active.data.pool_map import MAX_DRAWN, PCA, drawn_points, load_map, map_in_background
from tl_active.errors import TlActiveError
from tl_active.sessions.session import LabellingSession
from ui import keys
from ui.labelling import answer_options, current_session, open_batch
from ui.support import arrow_ipc, escape_markdown
from ui.tiles import THUMB_SCALE, image_uri

POLL_SECONDS = 2.0
THUMBNAILS_AT_MOST = 400  # tooltips with a thumbnail: the labelled and the batch, newest first


def pool_map_panel() -> None:
    """The map in an expander, computed and drawn only while it is open."""
    box = st.expander(
        "Pool map: the pool as the frozen network sees it",
        key=keys.MAP_OPEN,
        on_change="rerun",
        icon=":material/scatter_plot:",
    )
    if not box.open:
        return
    session = current_session()
    job = map_in_background(session.features, paths.CACHE_DIR)
    with box:
        # Polled while UMAP computes: the PCA map meanwhile, the UMAP map once it lands.
        st.fragment(map_view, run_every=None if job.done else POLL_SECONDS)()


def map_view() -> None:
    session = current_session()
    job = map_in_background(session.features, paths.CACHE_DIR)
    if job.done and job.result is not None:
        pool_map = job.result
        st.caption(
            f"UMAP of {escape_markdown(session.features.backbone)} / "
            f"{escape_markdown(session.features.layer)} (seeded, computed once in "
            f"{pool_map.seconds:.0f} s and cached): {session.features.kind.items} close on the "
            "map are close where the "
            "head reads them. Colour: the head's answer, faded where it is unsure; squares: "
            "your answers; rings: the open batch, numbered as in the grid. Scroll to zoom."
        )
    else:
        try:
            pool_map = load_map(session.features, PCA, paths.CACHE_DIR)
        except TlActiveError as error:
            st.error(escape_markdown(error))
            return
        if job.error:
            st.warning(escape_markdown(job.error) + " The PCA map is shown instead.")
        else:
            done, what = job.progress
            st.progress(
                min(max(done, 0.0), 1.0),
                text=f"UMAP map: {what} (once per backbone, layer and data; the PCA map meanwhile)",
            )
    if st.session_state.get(keys.MAP_SHOWN) == PCA and pool_map.method != PCA:
        st.session_state[keys.MAP_SHOWN] = pool_map.method
        st.rerun()  # the whole page, which stops polling now that the map is here
    st.session_state[keys.MAP_SHOWN] = pool_map.method
    draw(session, pool_map)


def map_points(session: LabellingSession, pool_map, must: np.ndarray) -> plots.MapPoints:
    """The drawn points: a sample of the task's pool kept for the session, plus `must`."""
    data = session.data
    kept = st.session_state.get(keys.MAP_POINTS)
    tag = (id(session), pool_map.key, pool_map.method)
    if not kept or kept[0] != tag:
        base = drawn_points(data.size, (), MAX_DRAWN)
        kept = (tag, base, _names(session, data.pool_index[base]))
        st.session_state[keys.MAP_POINTS] = kept
    _, base, base_names = kept
    extra = np.setdiff1d(must, base)
    positions = np.concatenate([base, extra])
    names = base_names
    if len(extra):
        names = pa.concat_arrays([base_names, _names(session, data.pool_index[extra])])
    whole = data.pool_index[positions]
    return plots.MapPoints(
        positions=positions,
        pool_index=whole,
        x=pool_map.xy[whole, 0],
        y=pool_map.xy[whole, 1],
        names=names,
    )


def _names(session: LabellingSession, pool_indices: np.ndarray) -> pa.Array:
    kind = session.features.kind
    return pa.array([kind.short_name(int(i)) for i in pool_indices], pa.string())


def draw(session: LabellingSession, pool_map) -> None:
    """The chart, its table made once per session revision and map."""
    revision = (id(session), st.session_state.get(keys.REVISION, 0), pool_map.method)
    kept = st.session_state.get(keys.MAP_SPEC)
    if not kept or kept[0] != revision:
        try:
            picks, _ = open_batch(session)
        except TlActiveError:
            picks = []
        batch = [p.index for p in picks]
        # The answers in the grid's words and colours.
        options = answer_options(session.task, session.features.kind, session.settings.answers)
        words = {o.value: o.label for o in options}
        answers = [words[v] for v in session.answer_values]
        colours = [next(o.colour for o in options if o.value == v) for v in session.answer_values]
        labelled = {int(i): answers[k] for i, k in zip(session.labelled, session.labels)}
        must = session.data.local([*labelled, *batch])
        points = map_points(session, pool_map, must[must >= 0])
        shown = [*batch, *list(labelled)[::-1]][:THUMBNAILS_AT_MOST]
        thumbnails = {i: image_uri(session, i, THUMB_SCALE) for i in shown}
        chart = plots.map_live(
            points,
            session.proba_pool,
            session.p_pool,
            answers,
            labelled,
            batch,
            pool_map.method,
            thumbnails,
            colours,
        )
        spec = plots.live_spec(chart)
        spec["datasets"] = {name: arrow_ipc(rows) for name, rows in spec["datasets"].items()}
        kept = (revision, spec, len(points.positions))
        st.session_state[keys.MAP_SPEC] = kept
    _, spec, n_points = kept
    with st.container(key="pool_map_chart"):
        st.vega_lite_chart(spec, width="stretch")
    total = session.data.size
    items = session.features.kind.items
    sample = f"a sample of {n_points:,} of the {total:,} {items}" if n_points < total else "all"
    st.caption(f"Drawn: {sample} (every labelled one and the open batch among them).")
