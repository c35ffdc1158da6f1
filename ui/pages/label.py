"""Label: answer the images the head is least sure of, retrain it, watch its weights evolve.

The page reads top to bottom: the tab's session (from the URL, or new), the sidebar's settings,
the progress line, then the batch beside what the head has learned (its weights and its learning
curve), so that at 1440 x 900 a person sees a round land without scrolling; below, the
evolution, the distribution of p, the history (where any label can be changed) and the
downloads. Each user action is a callback in `ui.labelling`, which makes one call on the
`LabellingSession`; the page draws what the session knows.

The batch is answered in the browser (`labelling_grid`): keys and clicks cost the server
nothing, and the submit is one rerun of the page's main area (`labelling_area`, a fragment: the
sidebar is not redrawn). Each chart's Vega-Lite spec is made once per shape (`plots.live_spec`)
and a round sends its data and a few params; the figures' data and the history are built once
per session revision and kept, so a rerun that changed nothing sends the same things again
cheaply. The label check and the weights' scrubber are fragments too, so they redraw only
themselves.
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from tl_active import paths, plots
from tl_active.core import stopping
from tl_active.core.head import HEAD_MODES
from tl_active.core.strategies import REGISTRY, allowed_strategies, get_strategy
from tl_active.core.task import SKIP, Task
from tl_active.data.backbones import DIGITS_LAYER, SHIPPED, resolve_backbone, unit_names
from tl_active.data.images import MAX_ZIP_BYTES
from tl_active.errors import TlActiveError
from tl_active.experiments import fine_tune
from tl_active.experiments.layer_check import layer_check
from tl_active.sessions.exchange import head_keras_bytes, labels_csv, manifest_json, predictions_csv
from tl_active.sessions.figures import CV_FOLDS
from tl_active.sessions.records import MAX_BATCH, RoundRecord
from tl_active.sessions.session import LabellingSession
from ui import keys
from ui.browser import browser_id, recent_sessions
from ui.components.labelling_grid import labelling_grid
from ui.labelling import (
    answer_options,
    answer_word,
    current_id,
    current_session,
    ensure_session,
    fine_tuned,
    keep_choices_valid,
    on_auto_label,
    on_change_form,
    on_check,
    on_check_fix,
    on_confirm,
    on_fine_tune_cancel,
    on_grid_submit,
    on_import,
    on_reopen,
    on_settings_submit,
    on_undo,
    on_zip_upload,
    open_batch,
    plural,
    settings_into_widgets,
    show_flash,
    task_from_widgets,
)
from ui.look_again import look_again_panel
from ui.pool_map import pool_map_panel
from ui.support import (
    OWN_FILE,
    arrow_ipc,
    backbone_choices,
    escape_markdown,
    image_folder,
    layer_options,
    session_store,
)
from ui.tiles import THUMB_SCALE, image_name, image_uri, tile_png

RECENT_SHOWN = 8
HEAD_HELP = {
    "converge": "fit all labels so far to convergence (small L2), warm-started",
    "demo": "the demo's way: one Adam step at learning rate 0.1 per round (binary questions only)",
}
KINDS = {"odd": "odd", "even": "even", "custom": "custom digits", "classes": "classes"}


def layer_note(backbone: str, layer: str, task: Task | None, ceiling: float | None = None) -> str:
    """A warning for a layer that cannot answer the question well, or ''.

    The 5-9 network's softmax outputs only say which of 5-9 an image looks like, so a head on
    them tells digits it never saw apart badly: about 61 % in the measurement that asked for
    this warning. Once a session runs on that layer, its own frozen-head ceiling is the figure.
    """
    if backbone != "mnist-cnn-5to9" or layer != DIGITS_LAYER or not task or task.is_binary:
        return ""
    peak = (
        f"its frozen-head ceiling for this question is {ceiling:.1%}"
        if ceiling is not None
        else "it peaks near 61 % (the frozen-head ceiling gives the figure once it runs)"
    )
    return (
        "mnist-cnn-5to9's `digits` layer is its 5 softmax outputs, which only say which of 5-9 "
        f"an image looks like: read for digits it never saw, {peak}. Its `embedding` layer "
        "keeps far more of what tells them apart."
    )


# --- the sidebar: settings, the live demo, other sessions ---------------------------------------


def settings_sidebar(session: LabellingSession) -> None:
    state = st.session_state
    if keys.SET_KIND not in state:  # first run, or back from another page
        settings_into_widgets(session.settings)
    st.header("Session")
    st.text_input(
        "Image folder (empty: MNIST)",
        key=keys.SET_IMAGES,
        placeholder="/path/to/images",
        help="A folder of your images (PNG, JPEG, anything Pillow reads) on this server, with "
        "one subfolder per class if you know the classes; also TL_ACTIVE_IMAGES.",
    )
    st.file_uploader(
        f"... or a .zip of them (at most {MAX_ZIP_BYTES // 1024**2} MB)",
        type=["zip"],
        key=keys.SET_ZIP,
        on_change=on_zip_upload,
        help="Unpacked on the server within limits: names that lead out of the folder, links, "
        "non-images, unreadable files and zip bombs are skipped and counted.",
    )
    images = str(state.get(keys.SET_IMAGES) or "").strip()
    folder = None
    if images:
        try:
            folder = image_folder(images)
        except TlActiveError as error:
            st.error(escape_markdown(error))
    if folder is not None:
        st.caption(escape_markdown(folder.describe()))
        if folder.has_truth:
            st.multiselect(
                "Classes to tell apart (none chosen: all)",
                list(folder.class_names),
                key=keys.SET_FOLDER_CLASSES,
            )
        else:
            st.text_input(
                "Your answers, by commas",
                key=keys.SET_ANSWERS,
                help="No class folders, so no truth: name the answers you will give, such as "
                "cat, dog.",
            )
    st.selectbox(
        "Backbone: the frozen network",
        backbone_choices(),
        key=keys.SET_BACKBONE,
        format_func=lambda c: c if c == OWN_FILE else f"{c}: {SHIPPED[c].description}",
    )
    own = state[keys.SET_BACKBONE] == OWN_FILE
    st.text_input(
        "Path of your .keras file",
        key=keys.SET_MODEL_PATH,
        disabled=not own,
        placeholder="/path/to/model.keras",
        help="A .keras file (loaded in Keras' safe mode; its input size and channels are read "
        "from it) or an architecture and the weights file you have, e.g. "
        "mobilenetv2@96:/path/weights.h5 (efficientnetb0, resnet50 too).",
    )
    shipped = None if own else SHIPPED[state[keys.SET_BACKBONE]]
    st.selectbox(
        "Layer the head reads",
        layer_options(shipped, state.get(keys.SET_LAYER)),
        key=keys.SET_LAYER,
        accept_new_options=True,
        help="`digits`: the softmax outputs; `embedding`: the Dense(128) layer before them; "
        "or type the name of any layer of your model (its outputs are flattened).",
    )
    on_mnist = not images
    if on_mnist:
        st.radio(
            "Question",
            list(KINDS),
            key=keys.SET_KIND,
            horizontal=True,
            format_func=KINDS.get,
        )
        kind = state[keys.SET_KIND]
        st.multiselect(
            "Custom positive digits",
            list(range(10)),
            key=keys.SET_DIGITS,
            disabled=kind != "custom",
            help="A binary question: these digits are positive, the others negative.",
        )
        st.multiselect(
            "Classes to tell apart",
            list(range(10)),
            key=keys.SET_CLASSES,
            disabled=kind != "classes",
            help="A multi-class question: the pool and the test set hold only these digits.",
        )
    else:
        # A folder's question is its classes, chosen above: the digits' widgets are not drawn,
        # but what they hold is kept for a return to MNIST (Streamlit drops the state of a
        # widget not drawn in a run, unless it is set again).
        for key in (keys.SET_KIND, keys.SET_DIGITS, keys.SET_CLASSES):
            if key in state:
                state[key] = state[key]
    try:
        # A folder's question is always its classes (or the answers named for it).
        task = task_from_widgets() if on_mnist else Task.multiclass("0-1")
    except ValueError:
        task = None  # said when the session is asked for
    keep_choices_valid(task)
    st.selectbox(
        "Query strategy",
        allowed_strategies(task) if task else list(REGISTRY),
        key=keys.SET_STRATEGY,
        help="\n".join(f"- **{s.name}**: {s.description}" for s in REGISTRY.values()),
    )
    st.slider("Batch size", 1, MAX_BATCH, key=keys.SET_BATCH)
    st.radio(
        "Head training",
        list(HEAD_MODES) if task is None or task.is_binary else ["converge"],
        key=keys.SET_HEAD,
        horizontal=True,
        help="\n".join(f"- **{m}**: {HEAD_HELP.get(m, m)}" for m in HEAD_MODES),
    )
    st.number_input("Seed", min_value=0, step=1, key=keys.SET_SEED)
    note = layer_note(state[keys.SET_BACKBONE], state[keys.SET_LAYER], task)
    if note:
        st.info(note)
    st.button(
        "New session with these settings",
        key="new_session",
        on_click=on_settings_submit,
        type="primary",
    )
    if keys.SETTINGS_ERROR in state:
        st.error(escape_markdown(state[keys.SETTINGS_ERROR]))
    if keys.CONFIRM in state:
        st.warning(
            f"A new session starts from no labels. This one, with your {len(session.labelled)} "
            f"labels in {len(session.rounds)} rounds, stays stored under Recent sessions."
        )
        left, right = st.columns(2)
        left.button("Start it", on_click=on_confirm, args=(True,), type="primary")
        right.button("Stay on this one", on_click=on_confirm, args=(False,))
    st.caption(
        f"Now: {escape_markdown(session.settings.summary(session.features.class_names))}; "
        f"{session.settings.strategy}: "
        f"{get_strategy(session.settings.strategy).description}."
    )
    # An untrained or broken network with the right layer names gives features that look fine;
    # a head fitted on a small labelled sample says whether the layer tells the classes apart.
    check = layer_check(session.features)
    if check.warning:
        st.warning(escape_markdown(check.warning))


def live_demo_sidebar(session: LabellingSession) -> None:
    if not session.has_test:
        return  # no truth to answer with
    st.header("Live demo")
    st.number_input("Rounds to auto-label", 1, 100, 5, key=keys.AUTO_ROUNDS)
    st.button(
        f"Auto-label {st.session_state[keys.AUTO_ROUNDS]} rounds",
        key="auto_label",
        on_click=on_auto_label,
        help=f"Answer with {session.features.kind.truth}, to fast-forward; marked 'auto' "
        "everywhere.",
    )


FINE_TUNE_LAYERS = (1, 2, 3, 4)


def fine_tune_blocked(session: LabellingSession) -> str:
    """Why the session cannot be fine-tuned on now ('' when it can)."""
    why_not = fine_tune.readiness(session)
    if not why_not and current_id() is None:
        why_not = "Fine-tuning needs the session stored: submit a round first."
    return why_not


def fine_tune_sidebar(session: LabellingSession) -> None:
    """Fine-tune on my labels: the backbone's last layers, with a progress bar and a Cancel.

    The training runs in this script run, on the button's click. Any click reruns the page:
    Streamlit starts the new run at once and stops the running one at its next element call,
    here the progress bar's after each epoch and each chunk of 2,000 images, where the core
    removes what it saved (seen in Chromium: a Cancel while the network was being saved left
    nothing once the first chunk of its features was done, 7 s later on a loaded machine).
    """
    st.header("Fine-tune on my labels")
    why_not = fine_tune_blocked(session)
    st.session_state[keys.FT_SHOWN] = why_not
    st.selectbox(
        "Layers to fine-tune",
        FINE_TUNE_LAYERS,
        index=FINE_TUNE_LAYERS.index(fine_tune.DEFAULT_LAYERS),
        key=keys.FT_LAYERS,
        help="The backbone's last N layers with weights, up to the layer the head reads "
        f"({escape_markdown(session.settings.layer)}), trained with the head on your labels at "
        "a tenth of the transfer lab's learning rate; a fifth of the labels pick the best epoch.",
    )
    run = st.button(
        "Fine-tune on my labels",
        key=keys.FT_RUN,
        disabled=bool(why_not),
        help="A new session continues on the fine-tuned backbone with your labels, if it "
        "answers the held-out test set better; this one stays as it is.",
        width="stretch",
    )
    if why_not:
        st.caption(escape_markdown(why_not))
        return
    if not run:
        return
    st.button("Cancel fine-tuning", key=keys.FT_CANCEL, on_click=on_fine_tune_cancel)
    bar = st.progress(0.0, text="fine-tuning: loading the backbone")
    try:
        outcome = fine_tune.fine_tune_session(
            session,
            current_id(),
            int(st.session_state[keys.FT_LAYERS]),
            folder=paths.FINE_TUNED_DIR,
            data_path=paths.MNIST_PATH,
            cache_dir=paths.CACHE_DIR,
            progress=lambda done, what: bar.progress(min(done, 1.0), text=what),
        )
    except (TlActiveError, ValueError) as error:
        bar.empty()
        st.error(f"Fine-tuning failed, nothing changed: {escape_markdown(error)}")
        return
    bar.empty()
    if fine_tuned(outcome):
        st.rerun()  # the whole page, for the session it now shows


def parent_rounds(parent_id: str) -> list[RoundRecord] | None:
    """The live rounds of the session a fine-tuned one continues (read once per tab), or None."""
    kept = st.session_state.get(keys.FT_PARENT)
    if kept and kept[0] == parent_id:
        return kept[1]
    try:
        rounds = [
            RoundRecord.from_dict(r) for r in session_store().session_dict(parent_id)["rounds"]
        ]
    except (TlActiveError, SQLAlchemyError, KeyError, TypeError, ValueError):
        rounds = None  # e.g. a manifest imported from another store
    st.session_state[keys.FT_PARENT] = (parent_id, rounds)
    return rounds


def before_after(session: LabellingSession) -> None:
    """A continued session's curve beside that of the session it continues, before fine-tuning."""
    parent_id = session.settings.continued_from
    if not parent_id:
        return
    before = parent_rounds(parent_id)
    if before is None:
        st.caption(
            f"Continued from session {escape_markdown(parent_id)} after fine-tuning (that "
            "session is not in this store)."
        )
        return
    st.markdown(
        f"**Before and after fine-tuning**: continued from session {escape_markdown(parent_id)}, whose "
        f"{before[-1].n_labels if before else 0} labels this session starts with"
    )
    names = ("before: the backbone it had", "after: fine-tuned on its labels")
    frame = plots.before_after_frame(before, session.rounds, names)
    st.altair_chart(
        plots.before_after_chart(frame, before[-1].n_labels if before else 0),
        width="stretch",
    )


def when(t: float) -> str:
    return time.strftime("%d %b %H:%M", time.localtime(t))


def recent_sessions_sidebar() -> None:
    """Recent sessions with rounds (and this one), to reopen; and the import of a manifest."""
    st.header("Recent sessions")
    session_id = current_id()
    if session_id is None:
        st.caption(
            "This session is stored at its first answer; its link is then this page's address."
        )
    else:
        st.caption(f"This session: `{session_id}`, its link is this page's address.")
    # Read from the store once per revision of this tab's session (and when this browser's id
    # becomes known or claims the session), not on every rerun.
    revision = (
        id(current_session()),
        session_id,
        st.session_state.get(keys.REVISION, 0),
        browser_id(),
        st.session_state.get(keys.BROWSER_CLAIMED),
    )
    kept = st.session_state.get(keys.RECENT)
    if kept and kept[0] == revision:
        recent = kept[1]
    else:
        try:
            recent = recent_sessions(limit=4 * RECENT_SHOWN)  # this browser's own
            st.session_state[keys.RECENT] = (revision, recent)
        except (TlActiveError, SQLAlchemyError) as error:
            st.error(f"The session store cannot be read: {escape_markdown(error)}")
            recent = []
    shown = [s for s in recent if s.n_rounds or s.id == session_id][:RECENT_SHOWN]
    for item in shown:
        here = item.id == session_id
        # The summary may hold a model's path, which a person chose: escaped. This session's
        # own counts are the progress line's (a round reruns the page, not the sidebar).
        counts = (
            "this session"
            if here
            else f"{plural(item.n_rounds, 'round')}, {item.n_labels} labels, "
            f"{when(item.updated_at)}"
        )
        st.button(
            f"{'▶ ' if here else ''}{escape_markdown(item.summary)}: {counts}",
            key=f"reopen_{item.id}",
            on_click=on_reopen,
            args=(item.id,),
            disabled=here,
            help=f"Session {item.id}, started {when(item.created_at)}",
            width="stretch",
        )
    st.file_uploader(
        "Import a session manifest (.json)",
        type=["json"],
        key=keys.IMPORT_FILE,
        on_change=on_import,
        help="A manifest exported by tl-active with the same network: replayed, checked, stored "
        "as a new session and opened.",
    )


# --- the progress line and the label check ------------------------------------------------------


def stopping_status(session: LabellingSession) -> tuple[str, str]:
    """The stopping recommendation after the last round, for the progress line, and its help."""
    if not session.rounds:
        return "", ""
    last = session.rounds[-1]
    text = stopping.recommendation(last.stopping, last.can_stop)
    first = session.stop_round()
    fired = (
        f" It first said so after round {first.number}, at {first.n_labels} labels (the green "
        "line on the learning curve)."
        if first is not None
        else ""
    )
    why = (
        f"\n\nWhen to stop, without the test set: after each round the head's answer for every "
        f"pool image is compared with the round before (Cohen's kappa). Once the mean of the "
        f"last {stopping.KAPPA_WINDOW} rounds reaches {stopping.KAPPA_THRESHOLD} and every "
        "answer has been given, more labels seldom change what the head says (Bloodgood & "
        f"Vijay-Shanker 2009).{fired} After round {last.number}: "
        + stopping.signals_note(last.stopping)
    )
    return (f" · **{text}**" if last.can_stop else f" · {text}"), why


def progress_line_without_truth(session: LabellingSession) -> None:
    """What can honestly be said where the images have no classes: no test set, no ceiling."""
    counts = np.bincount(session.labels, minlength=len(session.answer_values))
    given = ", ".join(f"{a} {n}" for a, n in zip(session.answer_values, counts))
    stop_text, stop_help = stopping_status(session)
    st.markdown(
        f"**{len(session.labelled)} labels** in **{plural(len(session.rounds), 'round')}** "
        f"({escape_markdown(given)}) · cross-validated accuracy on your labels "
        f"**{session.metrics().accuracy:.1%}** · no test set{stop_text}",
        help="These images have no class folders, so there is no ground truth and no test set. "
        "The accuracy is the head's on each of your labels when fitted on the others "
        f"({CV_FOLDS}-fold): what can be said without a truth." + stop_help,
    )


def progress_line(session: LabellingSession, ceiling: float) -> None:
    rounds = session.rounds
    simulated = sum(r.simulated for r in rounds)
    auto = f" ({simulated} auto-labelled)" if simulated else ""
    stop_text, stop_help = stopping_status(session)
    st.markdown(
        f"**{len(session.labelled)} labels** in **{plural(len(rounds), 'round')}**{auto} · "
        f"test accuracy now **{session.metrics().accuracy:.1%}** · "
        f"frozen-head ceiling {ceiling:.1%}{stop_text}",
        help=f"Accuracy on the {len(session.data.test):,} held-out test images of the question, "
        "never offered for labelling. The frozen-head ceiling is the same head fitted on every "
        "pool label of this backbone, layer and question: what a few labels can approach."
        + stop_help,
    )


@st.fragment
def label_check(session: LabellingSession, options: list) -> None:
    """ "Check my labels" and its panel, each disagreement with its fix in one click.

    A fragment, so opening and closing it redraws nothing else; a fix reruns the whole page.
    """
    kind = session.features.kind
    disagrees = "disagree" if kind.truth_is_plural else "disagrees"
    row = st.container(horizontal=True)
    row.button(
        "Undo last batch",
        key="undo",
        on_click=on_undo,
        disabled=not session.rounds,
        help="Take back the last round submitted (a batch, a correction or an auto-labelled "
        "round); a batch comes back with its answers, to change.",
    )
    row.button(
        "Check my labels",
        key="check",
        on_click=on_check,
        disabled=not session.has_test,
        help=f"Which of your answers {kind.truth} {disagrees} with, each with its fix.",
    )
    if not st.session_state.get(keys.SHOW_CHECK):
        return
    wrong = session.disagreements()
    given = sum(a != SKIP for r in session.rounds if not r.simulated for a in r.answers)
    number = len(session.rounds) + 1
    with st.container(border=True, key="check_panel"):
        if not wrong:
            st.success(f"All {given} of your answers agree with {kind.truth}.")
            return
        st.warning(f"{len(wrong)} of your {given} answers disagree with {kind.truth}:")
        for item in wrong:
            picture, text, fix = st.columns([1, 5, 3], vertical_alignment="center")
            picture.image(tile_png(session, item["index"], THUMB_SCALE))
            # An image's path and a class's name are the person's: shown as written.
            name = escape_markdown(kind.short_name(item["index"]))
            text.caption(
                f"{name}, round {item['round']}: you said "
                f"{answer_word(item['answer'], options)}, "
                f"{escape_markdown(kind.says(kind.class_name(item['digit'])))}"
            )
            fix.button(
                f"Make it {answer_word(item['truth'], options)}",
                wrap=True,  # a class's name in full, never cut to "Make it..."
                key=f"fix_{item['index']}",
                on_click=on_check_fix,
                args=(item["index"], item["truth"], number),
            )


# --- the batch ----------------------------------------------------------------------------------


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
                "caption": f"{p_name} {p_shown[position]:.3f}{says} · rank {pick.rank:,}",
            }
        )
    labelling_grid(
        key=keys.GRID,
        round_number=len(session.rounds) + 1,
        tiles=tiles,
        options=[o.for_grid() for o in options if o.value != SKIP],  # the grid adds Skip
        answers=answers,
        on_submit=on_grid_submit,
    )
    reasons = dict.fromkeys(p.reason for p in picks)  # in order, each once
    st.caption(
        f"Chosen by {session.settings.strategy} (score and rank in the pool): "
        f"{'; '.join(reasons)}. Undo takes back the last submitted round."
    )


# --- what the head has learned ------------------------------------------------------------------


def chart(name: str, build, *args, **kwargs) -> str:
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


@st.fragment
def weights_panel(session: LabellingSession, layout: plots.HeadLayout) -> None:
    """The head's weights after a round, newest first, with a scrubber back through the rounds.

    The scrubber is always there (disabled before the first round), so that the figures under it
    keep their place when the first round lands.
    """
    rounds = session.rounds
    record_at = len(rounds)
    with st.container(key="weights_slot"):
        title_slot = st.empty()
        chart_slot = st.empty()
    # The key follows the number of rounds, so a new round shows the newest weights.
    selected = st.slider(
        "Scrub through the rounds (0 = start)",
        0,
        max(record_at, 1),
        record_at,
        key=f"scrub_{record_at}",
        disabled=not rounds,
    )
    record = rounds[selected - 1] if selected else None
    n_labels = record.n_labels if record else 0
    auto = " (auto-labelled)" if record and record.simulated else ""
    title = f"Weights after round {selected}: {n_labels} labels{auto}"
    with chart_slot.container():
        weights_note = chart(
            "weights",
            lambda at: plots.weights_live(rounds, at, layout, title),
            selected,
            width="stretch",
        )
    if session.task.is_binary:
        what = (
            f"one weight per {layout.unit_title.split(' (')[0]} to the sigmoid: blue pushes "
            f"towards {plots.answer_name(session.task)}, red away"
        )
    else:
        what = "one row per class, one column per unit: blue pushes towards the class, red away"
    note = f"{what[0].upper()}{what[1:]}; the scale is symmetric around 0 and reaches the largest |value|."
    title_slot.markdown("**What the head has learned**", help=f"{note} {weights_note}".strip())


def accuracy_column(session: LabellingSession) -> str:
    return "test accuracy after" if session.has_test else "cross-validated accuracy after"


def history_rows(session: LabellingSession, options: list) -> pa.Table:
    """Every answer of every round, newest first, with its image: built once per revision."""
    revision = (id(session), st.session_state.get(keys.REVISION, 0))
    kept = st.session_state.get(keys.HISTORY)
    if kept and kept[0] == revision:
        return kept[1]
    columns: dict[str, list] = {
        "round": [],
        "image": [],
        session.features.kind.item_column: [],
        "answer": [],
        "answered by": [],
        accuracy_column(session): [],
    }
    kind = session.features.kind
    words = {o.value: o.label for o in options}
    for r in reversed(session.rounds):
        who = kind.auto_answerer if r.simulated else "person"
        who = f"{who}, correction" if r.is_correction else who
        n = len(r.indices)
        columns["round"] += [r.number] * n
        columns["image"] += [image_uri(session, i, THUMB_SCALE) for i in r.indices]
        columns[kind.item_column] += [kind.item_id(i) for i in r.indices]
        columns["answer"] += [words[a] for a in r.answers]
        columns["answered by"] += [who] * n
        columns[accuracy_column(session)] += [r.metrics["accuracy"]] * n
    # An Arrow table straight from the columns, made once per revision: `st.dataframe` sends it
    # without converting, and no pandas frame is built on the way.
    frame = pa.table(columns)
    st.session_state[keys.HISTORY] = (revision, frame)
    return frame


def history(session: LabellingSession, options: list) -> None:
    """Every answer, and a form to change any one of them (or skip it): a correction round."""
    st.markdown("**History**: every answer; change any one below")
    if not session.rounds:
        st.caption("No rounds yet.")
        return
    st.dataframe(
        history_rows(session, options),
        hide_index=True,
        height=300,
        key="history_table",
        column_config={
            "image": st.column_config.ImageColumn("image", width="small"),
            accuracy_column(session): st.column_config.NumberColumn(format="percent"),
        },
    )
    answered = [i for r in reversed(session.rounds) for i in r.indices]
    answered = list(dict.fromkeys(answered))  # each image once, most recent first
    words = {o.value: o.label for o in options}
    now = session.live_answers()  # one pass, not a search per image listed
    with st.form("change_label", border=True):
        image, answer = st.columns([3, 2])
        image.selectbox(
            "Image to change",
            answered,
            key=keys.FIX_IMAGE,
            format_func=lambda i: f"{image_name(session, i)}: now {words[now[i]]}",
        )
        answer.segmented_control(
            "New answer", list(words), key=keys.FIX_ANSWER, format_func=words.get
        )
        st.form_submit_button(
            "Change this label",
            on_click=on_change_form,
            args=(len(session.rounds) + 1,),
            help="The head is retrained on the corrected labels; the change is a round of its "
            "own (stored, exported, replayed; undo takes it back).",
        )


def figures(session: LabellingSession, layout: plots.HeadLayout, options: list) -> None:
    """What lies below the fold: the evolution, the distribution of p, the history."""
    task, names, data = session.task, session.features.class_names, session.data
    rounds = session.rounds

    left, right = st.columns(2)
    with left:
        st.markdown("**Evolution of the weights over the rounds**")
        evolution_note = chart(
            "evolution",
            lambda: plots.evolution_live(rounds, layout, len(rounds)),
            width="stretch",
        )
        if evolution_note:
            st.caption(evolution_note)
    with right:
        history(session, options)

    if not session.has_test:
        st.markdown("**p of the head's answer over the pool**, by the answer it would give")
        chart(
            "hist",
            lambda: plots.answer_histogram_live(session.answer_values, session.proba_pool),
        )
        return
    left, right = st.columns(2)
    with left:
        if task.is_binary:
            st.markdown(
                f"**{plots.p_label(task, names)} over the pool**, by "
                f"{session.features.kind.true_class}"
            )
        else:
            st.markdown("**p of the head's top answer over the pool**, right or wrong")
        chart("hist", lambda: plots.histogram_live(task, names, data.y_pool, session.proba_pool))
    with right:
        if task.is_binary:
            st.markdown(
                f"**{plots.p_label(task, names)} per true {session.features.kind.class_word}**: "
                "which are confused"
            )
        else:
            st.markdown("**p of the true class per class**: which classes are still confused")
        chart("digit", lambda: plots.by_class_live(task, names, data.y_pool, session.proba_pool))


def learning_curve(session: LabellingSession) -> None:
    start = session.start_metrics().as_dict()
    if not session.has_test:
        st.markdown(
            "**Learning curve**, cross-validated on your labels (there is no test set; green: "
            "you can stop)"
        )
        chart("curve", lambda: plots.curve_live(session.rounds, start, None))
        return
    ceiling = session.ceiling().as_dict()
    truth = session.features.kind.truth
    st.markdown(f"**Learning curve** (triangles: answered by {truth}; green: you can stop)")
    chart("curve", lambda: plots.curve_live(session.rounds, start, ceiling))


def downloads(session: LabellingSession, layout: plots.HeadLayout) -> None:
    """Files built when their button is clicked, from a snapshot of the session taken now."""
    task, names, data = session.task, session.features.class_names, session.data
    rounds, proba = list(session.rounds), session.proba_pool
    start = session.start_metrics().as_dict()
    ceiling = session.ceiling().as_dict() if session.has_test else None
    session_id = current_id()
    name = session_id or "new"

    def figures_png() -> bytes:
        weights = plots.weights_figure(
            rounds, len(rounds), layout, f"Weights after round {len(rounds)}"
        )
        if not session.has_test:
            return plots.figures_png(
                weights,
                plots.p_by_answer_histogram(session.answer_values, proba),
                plots.learning_curve(rounds, start, None),
                title=session.settings.summary(names),
            )
        return plots.figures_png(
            weights,
            plots.p_histogram(task, names, data.y_pool, proba),
            plots.p_by_class_chart(task, names, data.y_pool, proba),
            plots.learning_curve(rounds, start, ceiling),
            title=session.settings.summary(names),
        )

    def labels_with_undone() -> str:
        # The store is reached only when the file is asked for: a page whose database is down
        # still draws (the sidebar says why nothing can be stored).
        history = session_store().history(session_id) if session_id else []
        undone = [h.record for h in history if h.undone]
        return labels_csv(session, undone=undone)

    row = st.container(horizontal=True)
    row.download_button(
        "Evolution as GIF",
        data=lambda: plots.evolution_gif(
            rounds, layout, plots.p_label(task, names), data.size, start["accuracy"]
        ),
        file_name="tl-active-evolution.gif",
        mime="image/gif",
        on_click="ignore",
        icon=":material/movie:",
        help="One frame per round (about a fifth of a second each to draw).",
    )
    row.download_button(
        "Figures as PNG",
        data=figures_png,
        file_name="tl-active-figures.png",
        mime="image/png",
        on_click="ignore",
        icon=":material/image:",
    )
    # Built when clicked, not on every run: the CSV reads the taken-back rounds from the store,
    # and the .keras file needs TensorFlow, which takes seconds to load.
    row.download_button(
        "Labels as CSV",
        data=labels_with_undone,
        file_name=f"tl-active-{name}-labels.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/table:",
        help="One row per answered image: pool index (a folder's: the image's path), answer, "
        "round, time, who answered, the true class where known; rounds taken back with undo "
        "are included, marked undone.",
    )
    row.download_button(
        "Predict the rest as CSV",
        data=lambda: predictions_csv(session),
        file_name=f"tl-active-{name}-predictions.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/table:",
        help="Every image nobody labelled (and the held-out test images), with the head's "
        "answer and its p: the rest of the data set, labelled by the head.",
    )
    row.download_button(
        "Session as JSON manifest",
        data=lambda: manifest_json(session),
        file_name=f"tl-active-{name}.json",
        mime="application/json",
        on_click="ignore",
        icon=":material/data_object:",
        help="Settings, seed, model checksum and every round: import it to replay the session.",
    )
    row.download_button(
        "Head as .keras",
        data=lambda: head_keras_bytes(session),
        file_name=f"tl-active-{name}-head.keras",
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/download:",
        help="The head's weights and biases as a Keras Dense model (takes a few seconds).",
    )


# --- the page -----------------------------------------------------------------------------------


@st.fragment
def labelling_area() -> None:
    """Everything but the sidebar: the progress line, the batch beside the head, the figures.

    A fragment, so a batch submitted from the grid (or a label changed in the history) reruns
    this and not the sidebar, whose settings and list of sessions a round does not change; the
    callbacks rerun the whole page when it does (a session stored for the first time, another
    one opened). It reads the session from the tab's state on each run, never from arguments
    kept from the last full run.
    """
    session = current_session()
    if st.session_state.get(keys.FT_SHOWN) != fine_tune_blocked(session):
        # A round made the session ready to fine-tune on (or an undo made it not): the sidebar,
        # which a round does not redraw, must show it.
        st.rerun()
    options = answer_options(session.task, session.features.kind, session.settings.answers)
    layout = head_layout(session)
    show_flash()
    kind = session.features.kind
    st.markdown(f"#### Label the {kind.items} the head is least sure of")
    st.caption(
        f"{escape_markdown(session.settings.backbone)} / {escape_markdown(session.settings.layer)}"
        + (f" · {escape_markdown(kind.origin)}" if kind.origin else "")
        + " · "
        + (
            f"answers {escape_markdown(', '.join(session.settings.answers))}"
            if session.settings.answers
            else session.task.describe(session.features.class_names)
        )
        + ": "
        + (
            "answer the question for each image."
            if session.task.is_binary
            else "say which class each image shows."
        )
    )
    if session.has_test:
        with st.spinner(
            "Fitting the frozen-head ceiling (once per backbone, layer and question)..."
        ):
            ceiling = session.ceiling().accuracy
        note = layer_note(session.settings.backbone, session.settings.layer, session.task, ceiling)
        if note:
            st.info(note)
        progress_line(session, ceiling)
    else:
        progress_line_without_truth(session)

    # The batch beside the head: answer on the left, watch the weights and the curve move on
    # the right.
    batch_side, head_side = st.columns([1, 2], gap="medium")
    with batch_side:
        batch_panel(session, options)
        label_check(session, options)
        look_again_panel(session, options)
    with head_side:
        weights_panel(session, layout)
        learning_curve(session)
        before_after(session)

    pool_map_panel()
    figures(session, layout, options)
    downloads(session, layout)


session = ensure_session()
with st.sidebar:
    settings_sidebar(session)
    live_demo_sidebar(session)
    fine_tune_sidebar(session)
    recent_sessions_sidebar()

# Streamlit's default top margin (6rem) would push the learning curve below a 900 px screen.
st.html("<style>.stMainBlockContainer { padding-top: 2.5rem; }</style>")
labelling_area()
