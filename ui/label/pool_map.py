"""The Label page's pool map: the pool as the frozen network lays it out, under the batch.

An expander below the batch and the head's figures, so it never pushes them out of view; it
is drawn only while open. The UMAP map is computed once per backbone, layer and data, in a
thread of the server (`pool_map.map_in_background`), and cached; until it lands the PCA map is
drawn, and the panel polls every two seconds. A round changes only the points' colours,
opacity and marks: the projection and the sample of points drawn stay, and the chart's spec is
kept per shape (`plots.live_spec`), so a round sends one table.

A box dragged on the map offers to label every image drawn in it with one answer (a bulk
round): below the chart, how many, a few of them, the answer to give; images already answered
are left as they are, and a box of thousands asks for a tick beside the count.
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
from ui.labelling import (
    LARGE_REGION,
    clear_box,
    current_session,
    on_bulk_label,
    open_batch,
    session_options,
)
from ui.support import arrow_ipc, escape_markdown
from ui.tiles import THUMB_SCALE, image_uri, thumb_scale, tile_png

POLL_SECONDS = 2.0
THUMBNAILS_AT_MOST = 400  # tooltips with a thumbnail: the labelled and the batch, newest first
SHOWN_FROM_BOX = 8  # thumbnails of a box's images in its confirmation


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
            "your answers; rings: the open batch, numbered as in the grid. Scroll to zoom, "
            "shift and drag to pan; drag a box to label every image in it at once."
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
        options = session_options(session)
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
            item=session.features.kind.item,
        )
        spec = plots.live_spec(chart)
        spec["datasets"] = {name: arrow_ipc(rows) for name, rows in spec["datasets"].items()}
        kept = (revision, spec, points)
        st.session_state[keys.MAP_SPEC] = kept
    _, spec, points = kept
    chart_key = f"{keys.MAP_BOX}_{st.session_state.get(keys.MAP_BOX_GENERATION, 0)}"
    with st.container(key="pool_map_chart"):
        st.vega_lite_chart(
            spec,
            width="stretch",
            key=chart_key,
            on_select=lambda: _keep_box(chart_key, pool_map.method),
            selection_mode=[plots.MAP_BOX],
        )
    n_points, total = len(points.positions), session.data.size
    items = session.features.kind.items
    sample = f"a sample of {n_points:,} of the {total:,} {items}" if n_points < total else "all"
    st.caption(f"Drawn: {sample} (every labelled one and the open batch among them).")
    region = st.session_state.get(keys.MAP_REGION)
    if region and region["method"] == pool_map.method:
        bulk_panel(session, points, region)


def _keep_box(chart_key: str, method: str) -> None:
    """The chart's selection, kept as the box's ranges on this map (none once it is cleared)."""
    box = st.session_state[chart_key].selection.get(plots.MAP_BOX) or {}
    if "x" in box and "y" in box:
        st.session_state[keys.MAP_REGION] = {"method": method, "x": box["x"], "y": box["y"]}
    else:
        st.session_state.pop(keys.MAP_REGION, None)


def in_box(points: plots.MapPoints, region: dict) -> np.ndarray:
    """The whole-pool indices of the drawn points inside the box, in increasing order."""
    (x0, x1), (y0, y1) = sorted(region["x"]), sorted(region["y"])
    inside = (points.x >= x0) & (points.x <= x1) & (points.y >= y0) & (points.y <= y1)
    return np.sort(points.pool_index[inside])


def bulk_panel(session: LabellingSession, points: plots.MapPoints, region: dict) -> None:
    """The box's confirmation: how many images it would label, a few of them, one answer."""
    chosen = in_box(points, region).tolist()
    fresh = session.unanswered(chosen)
    answered = len(chosen) - len(fresh)
    kind = session.features.kind
    item, items = kind.item, kind.items  # "image", "images"; "window", "windows"
    with st.container(border=True, key="bulk_confirm"):
        if not chosen:
            st.info(f"The box holds no {items}: nothing to label. Drag a box around some points.")
            st.button("Clear the box", key="bulk_clear", on_click=clear_box)
            return
        if not fresh:
            st.info(
                f"The {item} in the box is answered already: it is left as it is"
                if len(chosen) == 1
                else f"All {len(chosen):,} {items} in the box are answered already: they are "
                "left as they are"
            )
            st.button("Clear the box", key="bulk_clear", on_click=clear_box)
            return
        left = ""
        if answered:
            left = (
                " (the one already answered is left as it is)"
                if answered == 1
                else f" (the {answered:,} already answered are left as they are)"
            )
        st.markdown(
            f"**Label the {len(fresh):,} unanswered "
            f"{item if len(fresh) == 1 else items} drawn in the box with one answer**{left}"
        )
        shown = fresh[:SHOWN_FROM_BOX]
        # As large as the history shows them: a digit at 56 px, a weather chart at 104.
        st.image(
            [tile_png(session, i, thumb_scale(kind)) for i in shown],
            caption=[kind.short_name(i) for i in shown],
            width=kind.history_px,
        )
        if len(fresh) > len(shown):
            st.caption(f"{len(shown)} of the {len(fresh):,}, in pool order.")
        options = session_options(session)
        st.segmented_control(
            "Answer for every one of them",
            [o.value for o in options],
            format_func={o.value: o.label for o in options}.get,
            key=keys.BULK_ANSWER,
        )
        answer = st.session_state.get(keys.BULK_ANSWER)
        large = len(fresh) >= LARGE_REGION
        if large:
            st.checkbox(f"Yes, label all {len(fresh):,} {items} at once", key=keys.BULK_SURE)
        word = next((o.label for o in options if o.value == answer), None)
        row = st.container(horizontal=True)
        row.button(
            f"Label {len(fresh):,} as {word}" if word else f"Label {len(fresh):,} {items}",
            key="bulk_label",
            type="primary",
            on_click=on_bulk_label,
            args=(fresh, len(session.rounds) + 1),
            disabled=answer is None or (large and not st.session_state.get(keys.BULK_SURE)),
            help="One round of its own, marked bulk in the history, the CSV and the manifest; "
            "Undo last batch takes it back.",
        )
        row.button("Clear the box", key="bulk_clear", on_click=clear_box)
