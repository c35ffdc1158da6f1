"""Drawing the page's live charts cheaply, and how to read this session's head.

A chart's Vega-Lite spec is made once per shape (`plots.live_spec`) and a round sends its data
and a few params; what is drawn is kept per session revision, so a rerun that changed nothing
sends the same chart again without building it.
"""

from __future__ import annotations

import streamlit as st

from tl_active import plots
from tl_active.data.backbones import resolve_backbone, unit_names
from tl_active.sessions.session import LabellingSession
from ui import keys
from ui.labelling import current_session
from ui.support import arrow_ipc


def chart(name: str, build, *args, spec_height: int | None = None, **kwargs) -> str:
    """Draw one of `plots`' live charts, `build(*args)`, once per session revision and args.

    `build` returns a `plots.LiveChart`: its Vega-Lite spec is made once per shape and kept by
    `plots.live_spec` (for every session of the server), so a round costs its data and a few
    params, not an Altair chart. A rerun that changed nothing (a label check, a download) builds
    nothing and sends the browser the same chart. The figure's note is returned.
    """
    revision = (id(current_session()), st.session_state.get(keys.REVISION, 0))
    specs = st.session_state.get(keys.SPECS)
    if not specs or specs["revision"] != revision:
        specs = st.session_state[keys.SPECS] = {"revision": revision}
    key = (name, args)
    if key not in specs:
        live = build(*args)
        spec = plots.live_spec(live)
        spec["datasets"] = {name: arrow_ipc(rows) for name, rows in spec["datasets"].items()}
        if spec_height is not None:  # the page's own height, where its screen is short of room
            spec["height"] = spec_height
        specs[key] = (spec, live.note)
    spec, note = specs[key]
    with st.container(key=f"{name}_chart"):
        st.vega_lite_chart(spec, **kwargs)
    return note


def head_layout(session: LabellingSession) -> plots.HeadLayout:
    """How to read this session's head: its outputs, and the units of its backbone's layer."""
    settings, features = session.settings, session.features
    backbone = resolve_backbone(settings.backbone)
    units = unit_names(backbone, settings.layer, features.width)
    if units == backbone.output_classes:
        # A network trained on other classes than the data's reads them as its old classes.
        old = "class" if units == features.class_names else "old class"
        unit_title = f"{old} ({backbone.name}'s softmax output)"
    else:
        unit_title = f"unit of layer {settings.layer}"
    return plots.head_layout(
        session.task,
        features.class_names,
        units,
        unit_title,
        session.head.bias_trained,
        session.settings.answers,
    )
