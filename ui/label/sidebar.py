"""The Label page's sidebar: the session's settings, the live demo, and other sessions.

The settings widgets hold the current session's settings until the person changes them and asks
for a new session (confirmed first when this one has rounds). The live demo auto-labels rounds
with the data's truth. Recent sessions are this browser's own, read once per revision; a
manifest can be imported there.
"""

from __future__ import annotations

import time

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from tl_active.core.head import HEAD_MODES
from tl_active.core.strategies import (
    DEFAULT_STRATEGY,
    FEATURES_DEFAULT_STRATEGY,
    REGISTRY,
    allowed_strategies,
    get_strategy,
)
from tl_active.core.task import Task
from tl_active.data.backbones import resolve_backbone
from tl_active.data.images import MAX_ZIP_BYTES
from tl_active.data.weather import QUESTIONS
from tl_active.errors import TlActiveError
from tl_active.experiments.layer_check import layer_check
from tl_active.sessions.records import MAX_BATCH, POOL_HEAD, WEATHER_TASK
from tl_active.sessions.session import LabellingSession
from ui import keys
from ui.browser import browser_id, recent_sessions
from ui.label.progress import layer_note
from ui.labelling import (
    IMAGES,
    WEATHER,
    current_id,
    current_session,
    keep_choices_valid,
    on_auto_label,
    on_confirm,
    on_data_choice,
    on_import,
    on_layer_choice,
    on_reopen,
    on_settings_submit,
    on_zip_upload,
    plural,
    settings_into_widgets,
    task_from_widgets,
)
from ui.support import (
    OWN_FILE,
    backbone_choices,
    escape_markdown,
    image_folder,
    layer_options,
    skipped_note,
)

RECENT_SHOWN = 8


HEAD_HELP = {
    "converge": "fit all labels so far to convergence (small L2), warm-started",
    "demo": "the demo's way: one Adam step at learning rate 0.1 per round (binary questions only)",
    POOL_HEAD: "pool-taught: fit to convergence on your answers plus pseudo-labels spread over "
    "a neighbour graph of the pool, each weighing a tenth of an answer (label spreading: Zhou "
    "et al., NeurIPS 2003)",
}


DATA_CHOICES = {IMAGES: "MNIST or images", WEATHER: "weather"}
MODEL_HELP = (
    "A .keras file (loaded in Keras' safe mode; its input size and channels are read from it) "
    "or an architecture and the weights file you have, e.g. mobilenetv2@96:/path/weights.h5 "
    "(efficientnetb0, resnet50 too)."
)
WEATHER_MODEL_HELP = (
    "A .keras file (loaded in Keras' safe mode) whose input is a window of days by the weather "
    "table's channels, as weather-cnn's is."
)
LAYER_HELP = (
    "`digits`: the softmax outputs; `embedding`: the Dense(128) layer before them; or type the "
    "name of any layer of your model (its outputs are flattened)."
)
WEATHER_LAYER_HELP = (
    "`dense`: the Dense(32) layer under the wet-today output; `wet`: that output itself; or "
    "type the name of any layer of your model (its outputs are flattened)."
)

DEFAULT_NOTE = (
    f"The default follows the layer: **{DEFAULT_STRATEGY}** with the plain head on class "
    f"probabilities (a softmax layer's outputs), **{FEATURES_DEFAULT_STRATEGY}** with the "
    "pool-taught head on a layer of features (an embedding, a Dense layer). A strategy or head "
    "you choose stays when the layer changes."
)

# The sticky container of "New session with these settings" and its confirmation.
NEW_SESSION_BAR = "new_session_bar"
KINDS = {"odd": "odd", "even": "even", "custom": "custom digits", "classes": "classes"}


def settings_sidebar(session: LabellingSession) -> None:
    state = st.session_state
    if keys.SET_KIND not in state:  # first run, or back from another page
        settings_into_widgets(session.settings)
    st.header("Session")
    st.radio(
        "Data",
        [IMAGES, WEATHER],
        key=keys.SET_DATA,
        horizontal=True,
        format_func=DATA_CHOICES.get,
        on_change=on_data_choice,
        help="MNIST's digits or a folder of your images; or 14-day windows of five cities' "
        "daily weather (2016 to label, 2017 held out to test).",
    )
    weather = state[keys.SET_DATA] == WEATHER
    if weather:
        weather_question()
    else:
        images_sidebar()
    images = "" if weather else str(state.get(keys.SET_IMAGES) or "").strip()
    choices = backbone_choices(weather)
    if state.get(keys.SET_BACKBONE) not in choices:
        on_data_choice()  # a network of the other data: its counterpart for this data
    st.selectbox(
        "Backbone: the frozen network",
        choices,
        key=keys.SET_BACKBONE,
        format_func=lambda c: c if c == OWN_FILE else f"{c}: {resolve_backbone(c).description}",
        on_change=on_layer_choice,
    )
    own = state[keys.SET_BACKBONE] == OWN_FILE
    st.text_input(
        "Path of your .keras file",
        key=keys.SET_MODEL_PATH,
        on_change=on_layer_choice,
        disabled=not own,
        placeholder="/path/to/model.keras",
        help=WEATHER_MODEL_HELP if weather else MODEL_HELP,
    )
    shipped = None if own else resolve_backbone(state[keys.SET_BACKBONE])
    st.selectbox(
        "Layer the head reads",
        layer_options(shipped, state.get(keys.SET_LAYER)),
        key=keys.SET_LAYER,
        on_change=on_layer_choice,
        accept_new_options=True,
        help=WEATHER_LAYER_HELP if weather else LAYER_HELP,
    )
    on_mnist = not images and not weather
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
        # A folder's or weather's question was chosen above: the digits' widgets are not
        # drawn, but what they hold is kept for a return to MNIST.
        keep_undrawn(keys.SET_KIND, keys.SET_DIGITS, keys.SET_CLASSES)
    try:
        # A folder's question is always its classes (or the answers named for it); weather's
        # is binary.
        task = (
            task_from_widgets() if on_mnist else WEATHER_TASK if weather else Task.multiclass("0-1")
        )
    except ValueError:
        task = None  # said when the session is asked for
    keep_choices_valid(task)
    st.selectbox(
        "Query strategy",
        allowed_strategies(task) if task else list(REGISTRY),
        key=keys.SET_STRATEGY,
        help=f"{DEFAULT_NOTE}\n\n"
        + "\n".join(
            f"- **{s.name}**: {session.features.kind.in_own_words(s.description)}"
            for s in REGISTRY.values()
        ),
    )
    st.slider("Batch size", 1, MAX_BATCH, key=keys.SET_BATCH)
    st.radio(
        "Head training",
        [*HEAD_MODES, POOL_HEAD] if task is None or task.is_binary else ["converge", POOL_HEAD],
        key=keys.SET_HEAD,
        horizontal=True,
        help="\n".join(f"- **{m}**: {HEAD_HELP.get(m, m)}" for m in HEAD_HELP),
    )
    st.number_input("Seed", min_value=0, step=1, key=keys.SET_SEED)
    note = layer_note(state[keys.SET_BACKBONE], state[keys.SET_LAYER], task)
    if note:
        st.info(note)
    # The button, and what it answers, stick to the sidebar's bottom edge: the settings above
    # are long, and a confirmation drawn below the fold looked like a button that did nothing.
    with st.container(key=NEW_SESSION_BAR):
        st.button(
            "New session with these settings",
            key="new_session",
            on_click=on_settings_submit,
            type="primary",
            width="stretch",
        )
        if keys.SETTINGS_ERROR in state:
            st.error(escape_markdown(state[keys.SETTINGS_ERROR]))
        if keys.CONFIRM in state:
            st.warning(
                f"A new session starts from no labels. This one, with your "
                f"{len(session.labelled)} labels in {len(session.rounds)} rounds, stays stored "
                "under Recent sessions."
            )
            row = st.container(horizontal=True)
            row.button("Start it", on_click=on_confirm, args=(True,), type="primary")
            row.button("Stay on this one", on_click=on_confirm, args=(False,))
    st.caption(
        f"Now: {escape_markdown(session.settings.summary(session.features.class_names))}; "
        f"{session.settings.strategy}: "
        f"{session.features.kind.in_own_words(get_strategy(session.settings.strategy).description)}."
    )
    # An untrained or broken network with the right layer names gives features that look fine;
    # a head fitted on a small labelled sample says whether the layer tells the classes apart.
    check = layer_check(session.features)
    if check.warning:
        st.warning(escape_markdown(session.features.kind.in_own_words(check.warning)))


def images_sidebar() -> None:
    """MNIST, or a folder of images (a path on the server, or an uploaded zip) and its classes."""
    state = st.session_state
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
        # What was left out and why, the zip's members included, for as long as it is chosen.
        unpacked, unpacking = state.get(keys.FOLDER_NOTE) or ("", ())
        skipped = skipped_note(folder, unpacking if unpacked == images else ())
        if skipped:
            st.warning(escape_markdown(skipped))
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
    # Weather's question is not drawn, but what it holds is kept for a return to the weather.
    keep_undrawn(keys.SET_WEATHER)


def weather_question() -> None:
    """The question asked of weather windows; the image folder's widgets are kept, not drawn."""
    st.radio(
        "Question",
        list(QUESTIONS),
        key=keys.SET_WEATHER,
        format_func=lambda name: QUESTIONS[name].text,
        help="Answered for a window's last day (today) or the day after it (tomorrow); the "
        "recorded events are the truth. The today questions hide that day's precipitation "
        "from the network.",
    )
    keep_undrawn(keys.SET_IMAGES, keys.SET_FOLDER_CLASSES, keys.SET_ANSWERS)


def keep_undrawn(*names: str) -> None:
    """Keep what widgets not drawn in this run hold (Streamlit drops the state of a widget not
    drawn in a run, unless it is set again)."""
    for key in names:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


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
