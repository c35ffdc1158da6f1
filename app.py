"""tl-active: label the images the head is least sure of, retrain it, watch its weights evolve.

A thin page over the core package. Each user action is one call on the person's
`LabellingSession` (in `st.session_state`), made from a widget callback; the page then draws
what the session knows. The frozen features, the images and the `SessionStore` are shared by
every user through `ui_support` (`st.cache_resource`).

Every session lives in the store under an id that the URL carries (`?session=<id>`): a submitted
round is written, in one transaction, inside the submit callback, before the page moves on; undo
marks the round undone there too. Opening the URL again (a refresh, another tab, after a server
restart) replays the stored session. A tab that another tab has overtaken notices it on its next
run (the stored round count differs) or on its next write (`StaleSessionError`), and reloads.

Keyboard: the answer keys act on the outlined tile, which then moves on to the next tile that
has no answer. The batch panel is a fragment, so answering a tile redraws only the batch, not the
charts; submitting, undoing and new settings redraw the whole page.
"""

from __future__ import annotations

import io
import time

import pandas as pd
import streamlit as st
from PIL import Image
from sqlalchemy.exc import SQLAlchemyError

from tl_active import plots
from tl_active.errors import SessionFileError, TlActiveError
from tl_active.exchange import head_keras_bytes, labels_csv, manifest_json, read_manifest
from tl_active.head import HEAD_MODES
from tl_active.session import (
    EVEN,
    MAX_BATCH,
    ODD,
    Answer,
    LabellingSession,
    SessionSettings,
    parse_target,
)
from tl_active.store import StaleSessionError, UnknownSessionError, check_session_id
from tl_active.strategies import DESCRIPTIONS, STRATEGIES
from ui_support import (
    SESSION_ID_KEY,
    SESSION_KEY,
    escape_markdown,
    features_or_stop,
    pool_images,
    session_store,
)

st.set_page_config(page_title="tl-active: label, retrain, watch", page_icon="🔢", layout="wide")

DRAFT = "draft"  # the answers given so far to the open batch
FLASH = "flash"  # one message for the next run: (kind, text)
FULL_RERUN = "full_rerun"  # set by callbacks in the batch fragment that change the charts
CONFIRM = "confirm_settings"  # settings waiting for "discard labels?" confirmation
SETTINGS_ERROR = "settings_error"
SHOW_CHECK = "show_check"
REVISION = "revision"  # bumped by every change to the session
SPECS = "chart_specs"  # Vega-Lite specs of the current revision, by chart
URL_PARAM = "session"  # ?session=<id>
IMPORT_KEY = "import_file"
RECENT_SHOWN = 8
TILE_SCALE = 6  # 28 px -> 168 px, nearest neighbour
PER_ROW = 4
HEAD_HELP = {
    "converge": "fit all labels so far to convergence (small L2), warm-started",
    "demo": "the demo's way: one Adam step at learning rate 0.1 per round",
}


# --- the person's session ----------------------------------------------------------------------


def on_session_changed(session: LabellingSession, event: str) -> None:
    """Called after every submitted round, undo, auto-labelling, new, opened or reloaded session.

    By then the change is already in the store (the callbacks write first). The revision
    counter tells the chart cache that the figures must be drawn again.
    """
    st.session_state[REVISION] = st.session_state.get(REVISION, 0) + 1


def current_session() -> LabellingSession:
    return st.session_state[SESSION_KEY]  # `main` makes sure there is one


def current_id() -> str:
    return st.session_state[SESSION_ID_KEY]


def use_session(
    session: LabellingSession, session_id: str, event: str, keep_draft: bool = False
) -> None:
    """Put a stored session on the page, its settings in the sidebar and its id in the URL."""
    st.session_state[SESSION_KEY] = session
    st.session_state[SESSION_ID_KEY] = session_id
    st.query_params[URL_PARAM] = session_id
    # A kept draft survives only if it is for the batch the session offers (see `open_batch`).
    for key in (CONFIRM, SHOW_CHECK) if keep_draft else (DRAFT, CONFIRM, SHOW_CHECK):
        st.session_state.pop(key, None)
    settings_into_widgets(session.settings)
    on_session_changed(session, event)


def start_session(settings: SessionSettings) -> bool:
    """A new session, stored at once so that its URL works from the first moment."""
    session = LabellingSession(features_or_stop(), settings)
    try:
        session_id = session_store().create(session)
    except (TlActiveError, SQLAlchemyError) as error:
        flash(
            "error",
            f"The session store cannot be written, so no session was started: {escape_markdown(error)}",
        )
        return False
    use_session(session, session_id, "new")
    return True


def reload_stored(why: str) -> None:
    """Throw the tab's copy away and replay the stored session, which is the truth."""
    session_id = current_id()
    try:
        session = session_store().load(session_id, features_or_stop())
    except (TlActiveError, SQLAlchemyError) as error:
        flash("error", f"{why}, but it could not be reloaded: {escape_markdown(error)}")
        return
    use_session(session, session_id, "reload", keep_draft=True)
    n = len(session.rounds)
    flash("warning", f"{why}: reloaded, now {n} round{'s' * (n != 1)} as stored.")


def store_rounds(session: LabellingSession, records: list) -> bool:
    """Write rounds just made in memory, oldest first, each in its own transaction.

    On a failure the tab goes back to what is stored: behind another tab, it reloads; if the
    database refuses the write, the unstored rounds are taken back in memory. Either way the
    person is told, and nothing already stored is touched.
    """
    session_id = current_id()
    for k, record in enumerate(records):
        previous = session.rounds[record.number - 2] if record.number > 1 else None
        try:
            session_store().append_round(session_id, record, previous=previous)
        except StaleSessionError:
            reload_stored(
                f"This session changed in another tab or window; round {record.number} "
                "was not stored"
            )
            return False
        except (TlActiveError, SQLAlchemyError) as error:
            for _ in records[k:]:
                session.undo()
            if k:
                on_session_changed(session, "round")
            flash(
                "error",
                f"Round {record.number} could not be stored, so it was taken back (your answers "
                f"are kept; submit again): {escape_markdown(error)}",
            )
            return False
    return True


def open_requested(requested: str) -> bool:
    """Open the session the URL names; on failure say why (the caller starts a fresh one)."""
    try:
        session = session_store().load(check_session_id(requested), features_or_stop())
    except (TlActiveError, SQLAlchemyError) as error:
        flash(
            "error",
            f"That session link cannot be opened: {escape_markdown(error)}. "
            "A fresh session was started.",
        )
        return False
    use_session(session, requested, "open")
    return True


def ensure_session() -> LabellingSession:
    """The tab's session: the one the URL names, or a new one; caught up with the store."""
    requested = st.query_params.get(URL_PARAM)
    have = st.session_state.get(SESSION_ID_KEY)
    if have is not None and requested in (None, have):
        if requested is None:
            st.query_params[URL_PARAM] = have  # e.g. back from another page
        catch_up()
    elif not (requested is not None and open_requested(requested)):
        if not start_session(SessionSettings()):
            show_flash()
            st.stop()
    return current_session()


def catch_up() -> None:
    """Reload if another tab has stored or undone rounds since this tab last looked."""
    session = current_session()
    try:
        stored = session_store().round_count(current_id())
    except UnknownSessionError:
        flash("error", "This session is no longer stored; a fresh session was started.")
        start_session(SessionSettings())
        return
    except (TlActiveError, SQLAlchemyError) as error:
        flash("error", f"The session store cannot be read: {escape_markdown(error)}")
        return
    if stored != len(session.rounds):
        reload_stored("This session changed in another tab or window")


def flash(kind: str, text: str) -> None:
    st.session_state[FLASH] = (kind, text)


def show_flash() -> None:
    kind, text = st.session_state.pop(FLASH, (None, None))
    if kind:
        getattr(st, kind)(text)


def chart(name: str, build, *args, **kwargs) -> None:
    """Draw one of `plots`' Altair charts, `build(*args)`, once per session revision and args.

    Turning an Altair chart into Vega-Lite costs tens of milliseconds per chart; a rerun that
    changed nothing (a label check, a download) reuses the spec and sends the browser the same
    chart, which it does not redraw.
    """
    revision = (id(current_session()), st.session_state.get(REVISION, 0))
    specs = st.session_state.get(SPECS)
    if not specs or specs["revision"] != revision:
        specs = st.session_state[SPECS] = {"revision": revision}
    key = (name, args)
    if key not in specs:
        spec = build(*args).to_dict(validate=False)
        spec.pop("config", None)  # Altair's default view size; Streamlit sizes the chart
        specs[key] = spec
    with st.container(key=f"{name}_chart"):
        st.vega_lite_chart(specs[key], **kwargs)


# --- labels and keys that follow the target ----------------------------------------------------


def answer_buttons(target: frozenset[int]) -> list[tuple[Answer, str, str]]:
    """(answer, label, shortcut) for the key bar: 'Odd'/'Even' for parity, else Positive/Negative."""
    if target == ODD:
        return [
            (Answer.POSITIVE, "Odd", "o"),
            (Answer.NEGATIVE, "Even", "e"),
            (Answer.SKIP, "Skip", "s"),
        ]
    if target == EVEN:
        return [
            (Answer.POSITIVE, "Even", "e"),
            (Answer.NEGATIVE, "Odd", "o"),
            (Answer.SKIP, "Skip", "s"),
        ]
    name = plots.class_name(target)
    return [
        (Answer.POSITIVE, f"Positive {name}", "p"),
        (Answer.NEGATIVE, "Negative", "n"),
        (Answer.SKIP, "Skip", "s"),
    ]


def answer_word(answer: str | Answer, target: frozenset[int]) -> str:
    return {a.value: label for a, label, _ in answer_buttons(target)}[Answer(answer).value]


# --- the open batch and its answers ------------------------------------------------------------


def open_batch(session: LabellingSession):
    """The batch on offer and the draft of its answers, kept while it stays the same batch."""
    picks = session.next_batch()
    number = len(session.rounds) + 1
    indices = [p.index for p in picks]
    draft = st.session_state.get(DRAFT)
    if not draft or draft["round"] != number or draft["indices"] != indices:
        draft = {
            "round": number,
            "indices": indices,
            "answers": [None] * len(picks),
            "cursor": 0,
            "version": 0,
        }
        st.session_state[DRAFT] = draft
    return picks, draft


def _live_draft(number: int) -> dict | None:
    """The draft, if it still belongs to the batch the clicked widget was drawn for."""
    draft = st.session_state.get(DRAFT)
    return draft if draft and draft["round"] == number else None


def on_answer(number: int, position: int | None, answer: str, version: int | None = None) -> None:
    """Answer one tile: the clicked tile's own button, or the outlined tile for a key.

    Keys pressed faster than the page redraws reach the server together, merged and in widget
    order rather than the order they were pressed; so a key counts only if the page it was
    pressed on is still current (`version`), and never lands on a tile nobody saw outlined.
    """
    draft = _live_draft(number)
    if draft is None:
        return  # a click on a batch that is gone (double click, stale page)
    if version is not None and version != draft["version"]:
        flash(
            "warning", "A key came before the page had caught up and was ignored: press it again."
        )
        return
    position = draft["cursor"] if position is None else position
    draft["answers"][position] = answer
    draft["version"] += 1
    n = len(draft["answers"])
    following = [(position + k) % n for k in range(1, n + 1)]
    draft["cursor"] = next((i for i in following if draft["answers"][i] is None), position)


def on_move(number: int, step: int, version: int) -> None:
    draft = _live_draft(number)
    if draft is not None and version == draft["version"]:
        draft["cursor"] = (draft["cursor"] + step) % len(draft["answers"])
        draft["version"] += 1


def on_submit(number: int) -> None:
    session = current_session()
    draft = st.session_state.get(DRAFT) or {"answers": []}
    if None in draft["answers"]:
        flash("warning", "Answer every image of the batch before submitting it.")
        return
    try:
        record = session.submit(draft["answers"], round_number=number)
    except TlActiveError as error:
        flash("warning", f"Nothing submitted: {escape_markdown(error)}.")
        return
    st.session_state[FULL_RERUN] = True
    if not store_rounds(session, [record]):
        return  # the draft stays, so the answers are still on the tiles
    st.session_state.pop(DRAFT, None)
    st.session_state[FULL_RERUN] = True
    on_session_changed(session, "round")
    flash(
        "success",
        f"Round {record.number} learned: {record.n_labels} labels, "
        f"test accuracy {record.metrics['accuracy']:.1%}.",
    )


def on_undo() -> None:
    session = current_session()
    if not session.rounds:
        flash("warning", "There is no round to undo.")
        return
    try:
        session_store().undo_round(current_id(), session.rounds[-1])
    except StaleSessionError:
        st.session_state[FULL_RERUN] = True
        reload_stored("This session changed in another tab or window; nothing was undone")
        return
    except (TlActiveError, SQLAlchemyError) as error:
        flash(
            "error",
            f"The undo could not be stored, so nothing was taken back: {escape_markdown(error)}",
        )
        return
    record = session.undo()
    # The same batch comes back (its query is seeded by the round); offer it with its answers.
    st.session_state[DRAFT] = {
        "round": record.number,
        "indices": list(record.indices),
        "answers": list(record.answers),
        "cursor": 0,
        "version": 0,
    }
    st.session_state[FULL_RERUN] = True
    on_session_changed(session, "undo")
    flash("info", f"Round {record.number} undone: its answers are back on the tiles to change.")


@st.cache_data(max_entries=1024, show_spinner=False)
def tile_png(index: int, scale: int = TILE_SCALE) -> bytes:
    """A pool image drawn large and crisp: ink dark on white, upscaled without blur."""
    image = Image.fromarray(255 - pool_images()[index])
    image = image.resize((28 * scale, 28 * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@st.fragment
def batch_panel() -> None:
    if st.session_state.pop(FULL_RERUN, False):
        st.rerun()  # the round changed the head: redraw the charts too
    session = current_session()
    target = session.settings.target
    show_flash()
    try:
        picks, draft = open_batch(session)
    except TlActiveError as error:
        st.error(escape_markdown(error))
        st.button("Undo last batch", shortcut="u", on_click=on_undo, disabled=not session.rounds)
        return
    number = draft["round"]
    buttons = answer_buttons(target)
    name = plots.class_name(target)

    keys = st.container(horizontal=True, key="key_bar")
    for answer, label, key in buttons:
        keys.button(
            label,
            shortcut=key,
            key=f"key_{answer.value}",
            on_click=on_answer,
            args=(number, None, answer.value, draft["version"]),
        )
    keys.button(
        "Previous tile",
        shortcut="left",
        key="key_prev",
        icon=":material/arrow_back:",
        on_click=on_move,
        args=(number, -1, draft["version"]),
    )
    keys.button(
        "Next tile",
        shortcut="right",
        key="key_next",
        icon=":material/arrow_forward:",
        on_click=on_move,
        args=(number, 1, draft["version"]),
    )
    answered = sum(a is not None for a in draft["answers"])
    keys.button(
        f"Submit batch ({answered}/{len(picks)})",
        shortcut="enter",
        type="primary",
        key="submit",
        on_click=on_submit,
        args=(number,),
        disabled=answered < len(picks),
    )
    keys.button(
        "Undo last batch", shortcut="u", key="undo", on_click=on_undo, disabled=not session.rounds
    )
    keys_text = ", ".join(f"**{k.upper()}** {label.lower()}" for _, label, k in buttons)
    st.caption(
        f"Keys: {keys_text} answer the outlined tile, then the next unanswered tile is outlined; "
        "**←/→** move between tiles; **Enter** submits once every tile is answered; "
        "**U** undoes the last batch. Or click the buttons under each image. One key at a time: "
        "a key pressed before the page has redrawn is ignored, with a warning."
    )

    for row_start in range(0, len(picks), PER_ROW):
        columns = st.columns(PER_ROW)
        for position in range(row_start, min(row_start + PER_ROW, len(picks))):
            pick = picks[position]
            chosen = draft["answers"][position]
            is_cursor = position == draft["cursor"]
            with columns[position - row_start]:
                tile = st.container(border=True, key=f"tile_{position}")
                marker = " :blue-badge[keys ▶ here]" if is_cursor else ""
                badge = ""
                if chosen is not None:
                    colour = {"positive": "green", "negative": "red", "skip": "gray"}[chosen]
                    badge = f" :{colour}-badge[{answer_word(chosen, target)}]"
                tile.markdown(f"**{position + 1}.**{badge}{marker}")
                tile.image(tile_png(pick.index), width=28 * TILE_SCALE)
                tile.caption(
                    f"p({name}) = **{session.p_pool[pick.index]:.3f}**  \n"
                    f"{session.settings.strategy}: score {pick.score:.3f}, "
                    f"rank {pick.rank:,} of the pool. {pick.reason}"
                )
                row = tile.container(horizontal=True, gap="small")
                for answer, label, _ in buttons:
                    row.button(
                        label.split(" ")[0] if answer != Answer.SKIP else "Skip",
                        key=f"tile_{number}_{position}_{answer.value}",
                        type="primary" if chosen == answer.value else "secondary",
                        on_click=on_answer,
                        args=(number, position, answer.value),
                    )


# --- the sidebar: settings and the live-demo controls -------------------------------------------


def settings_into_widgets(settings: SessionSettings) -> None:
    kind = "odd" if settings.target == ODD else "even" if settings.target == EVEN else "custom"
    st.session_state["set_kind"] = kind
    st.session_state["set_digits"] = sorted(settings.target) if kind == "custom" else [2, 3, 5, 7]
    st.session_state["set_strategy"] = settings.strategy
    st.session_state["set_batch"] = settings.batch_size
    st.session_state["set_head"] = settings.head_mode
    st.session_state["set_seed"] = settings.seed


def settings_from_widgets() -> SessionSettings:
    kind = st.session_state["set_kind"]
    target = parse_target(kind if kind != "custom" else list(st.session_state["set_digits"]))
    return SessionSettings(
        target=target,
        strategy=st.session_state["set_strategy"],
        batch_size=int(st.session_state["set_batch"]),
        head_mode=st.session_state["set_head"],
        seed=int(st.session_state["set_seed"]),
    )


def on_settings_submit() -> None:
    st.session_state.pop(SETTINGS_ERROR, None)
    try:
        settings = settings_from_widgets()
    except ValueError as error:
        st.session_state[SETTINGS_ERROR] = str(error)
        return
    if current_session().rounds:
        st.session_state[CONFIRM] = settings
    else:
        start_session(settings)


def on_confirm(start: bool) -> None:
    settings = st.session_state.pop(CONFIRM, None)
    if start and settings is not None:
        start_session(settings)
    else:
        settings_into_widgets(current_session().settings)


def on_auto_label() -> None:
    session = current_session()
    done = session.auto_label(int(st.session_state["auto_rounds"]))
    if not store_rounds(session, done):
        return
    st.session_state.pop(DRAFT, None)
    on_session_changed(session, "auto")
    if done:
        flash("success", f"{len(done)} rounds answered by MNIST's ground truth (marked 'auto').")
    else:
        flash("warning", "The pool has no unlabelled images left for another round.")


def on_check() -> None:
    st.session_state[SHOW_CHECK] = not st.session_state.get(SHOW_CHECK, False)


def on_reopen(session_id: str) -> None:
    try:
        session = session_store().load(session_id, features_or_stop())
    except (TlActiveError, SQLAlchemyError) as error:
        flash("error", f"Session {session_id} cannot be reopened: {escape_markdown(error)}")
        return
    use_session(session, session_id, "open")
    n = len(session.rounds)
    flash("info", f"Reopened session {session_id}: {n} round{'s' * (n != 1)}.")


def on_import() -> None:
    upload = st.session_state.get(IMPORT_KEY)
    if upload is None:
        return
    # Replayed once, in memory, then stored in one transaction: what `import_manifest` does,
    # keeping the replayed session instead of replaying it a second time to open it.
    name = escape_markdown(upload.name)  # the person's own file name: shown, never acted on
    try:
        session = read_manifest(upload.getvalue(), features_or_stop())
        session_id = session_store().create(session)
    except SessionFileError as error:
        flash("error", f"{name} was not imported, nothing was stored: {escape_markdown(error)}.")
        return
    except (TlActiveError, SQLAlchemyError) as error:
        flash(
            "error", f"{name} could not be stored, nothing was imported: {escape_markdown(error)}"
        )
        return
    use_session(session, session_id, "import")
    n = len(session.rounds)
    flash(
        "success",
        f"Imported {name}: {n} round{'s' * (n != 1)} replayed to the recorded head "
        f"weights, stored as session {session_id}.",
    )


def when(t: float) -> str:
    return time.strftime("%d %b %H:%M", time.localtime(t))


def recent_sessions() -> None:
    """Recent sessions with rounds (and this one), to reopen; and the import of a manifest."""
    st.sidebar.header("Recent sessions")
    session_id = current_id()
    st.sidebar.caption(f"This session: `{session_id}`, its link is this page's address.")
    try:
        recent = session_store().recent(limit=4 * RECENT_SHOWN)
    except (TlActiveError, SQLAlchemyError) as error:
        st.sidebar.error(f"The session store cannot be read: {escape_markdown(error)}")
        recent = []
    shown = [s for s in recent if s.n_rounds or s.id == session_id][:RECENT_SHOWN]
    for item in shown:
        here = item.id == session_id
        st.sidebar.button(
            # The summary names the session's backbone and layer, which a manifest may choose.
            f"{'▶ ' if here else ''}{escape_markdown(item.summary)}: {item.n_rounds} round"
            f"{'s' * (item.n_rounds != 1)}, {item.n_labels} labels, {when(item.updated_at)}",
            key=f"reopen_{item.id}",
            on_click=on_reopen,
            args=(item.id,),
            disabled=here,
            help=f"Session {item.id}, started {when(item.created_at)}",
            width="stretch",
        )
    st.sidebar.file_uploader(
        "Import a session manifest (.json)",
        type=["json"],
        key=IMPORT_KEY,
        on_change=on_import,
        help="A manifest exported by tl-active with the same CNN: replayed, checked, stored as "
        "a new session and opened.",
    )


def sidebar(session: LabellingSession) -> None:
    if "set_kind" not in st.session_state:
        settings_into_widgets(session.settings)
    st.sidebar.header("Session")
    with st.sidebar.form("settings", border=False):
        st.radio(
            "Target: the positive class",
            ["odd", "even", "custom"],
            key="set_kind",
            horizontal=True,
            format_func={"odd": "odd", "even": "even", "custom": "custom digits"}.get,
        )
        st.multiselect(
            "Custom positive digits",
            list(range(10)),
            key="set_digits",
            help="Used when the target is 'custom digits': some, not all, of 0-9.",
        )
        st.selectbox(
            "Query strategy",
            list(STRATEGIES),
            key="set_strategy",
            help="\n".join(f"- **{name}**: {text}" for name, text in DESCRIPTIONS.items()),
        )
        st.slider("Batch size", 1, MAX_BATCH, key="set_batch")
        st.radio(
            "Head training",
            list(HEAD_MODES),
            key="set_head",
            horizontal=True,
            help="\n".join(f"- **{m}**: {HEAD_HELP.get(m, m)}" for m in HEAD_MODES),
        )
        st.number_input("Seed", min_value=0, step=1, key="set_seed")
        st.form_submit_button(
            "New session with these settings", on_click=on_settings_submit, type="primary"
        )
    if SETTINGS_ERROR in st.session_state:
        st.sidebar.error(escape_markdown(st.session_state[SETTINGS_ERROR]))
    if CONFIRM in st.session_state:
        n_labels = len(session.labelled)
        st.sidebar.warning(
            f"A new session starts from no labels. This one, with your {n_labels} labels in "
            f"{len(session.rounds)} rounds, stays stored under Recent sessions."
        )
        left, right = st.sidebar.columns(2)
        left.button("Start it", on_click=on_confirm, args=(True,), type="primary")
        right.button("Stay on this one", on_click=on_confirm, args=(False,))
    s = session.settings
    st.sidebar.caption(
        f"Now: target **{plots.class_name(s.target)}**, **{s.strategy}** "
        f"({DESCRIPTIONS[s.strategy]}), batch {s.batch_size}, head {s.head_mode}, seed {s.seed}."
    )

    st.sidebar.header("Live demo")
    st.sidebar.number_input("Rounds to auto-label", 1, 100, 5, key="auto_rounds")
    st.sidebar.button(
        f"Auto-label {st.session_state['auto_rounds']} rounds",
        key="auto_label",
        on_click=on_auto_label,
        help="Answer with MNIST's ground truth, to fast-forward; marked 'auto' everywhere.",
    )


# --- the main page -------------------------------------------------------------------------------


def progress_line(session: LabellingSession) -> None:
    rounds = session.rounds
    simulated = sum(r.simulated for r in rounds)
    auto = f" ({simulated} auto-labelled)" if simulated else ""
    accuracy = session.metrics().accuracy
    st.markdown(
        f"**{len(session.labelled)} labels** in **{len(rounds)} round{'s' * (len(rounds) != 1)}**"
        f"{auto} · "
        f"test accuracy now **{accuracy:.1%}** · ceiling {session.ceiling().accuracy:.1%} "
        f"(the frozen CNN's own argmax)",
        help="Accuracy on MNIST's 10,000 held-out test images, never offered for labelling.",
    )


@st.fragment
def label_check(session: LabellingSession) -> None:
    """The "Check my labels" toggle and its panel: a fragment, so checking redraws nothing else."""
    st.button(
        "Check my labels",
        key="check",
        on_click=on_check,
        help="Which of your answers MNIST's ground truth disagrees with.",
    )
    if st.session_state.get(SHOW_CHECK):
        check_panel(session)


def check_panel(session: LabellingSession) -> None:
    target = session.settings.target
    wrong = session.disagreements()
    given = sum(a != Answer.SKIP for r in session.rounds if not r.simulated for a in r.answers)
    with st.container(border=True, key="check_panel"):
        if not wrong:
            st.success(f"All {given} of your answers agree with MNIST's ground truth.")
            return
        st.warning(f"{len(wrong)} of your {given} answers disagree with MNIST's ground truth:")
        columns = st.columns(min(len(wrong), 8))
        for k, item in enumerate(wrong):
            with columns[k % len(columns)]:
                st.image(tile_png(item["index"], 3))
                st.caption(
                    f"round {item['round']}: you said {answer_word(item['answer'], target)}, "
                    f"MNIST says {item['digit']}"
                )


@st.fragment
def weights_panel(session: LabellingSession) -> None:
    rounds = session.rounds
    selected = len(rounds)
    left, right = st.columns([3, 2])
    with left:
        if rounds:
            # The key follows the number of rounds, so a new round shows the newest weights.
            selected = st.slider(
                "Scrub through the rounds (0 = start)",
                0,
                len(rounds),
                len(rounds),
                key=f"scrub_{len(rounds)}",
            )
        record = rounds[selected - 1] if selected else None
        weights = record.weights if record else [0.0] * 10
        bias = record.bias if record else 0.0
        n_labels = record.n_labels if record else 0
        auto = " (auto-labelled)" if record and record.simulated else ""
        title = f"Weights after round {selected}: {n_labels} labels{auto}"
        chart(
            "weights",
            lambda _: plots.weights_heatmap(weights, bias, title),
            selected,
            width="stretch",
        )
        bias_note = (
            " The bias is held at 0 in converge mode: the softmax outputs sum to 1, so a bias "
            "would only shift all ten weights."
            if session.settings.head_mode == "converge"
            else ""
        )
        st.caption(
            "One weight per digit from the CNN's softmax to the sigmoid: blue pushes towards "
            f"{plots.class_name(session.settings.target)}, red away; the scale is symmetric "
            f"around 0 and reaches the largest |value|.{bias_note}"
        )
    with right:
        chart(
            "evolution",
            lambda picked: plots.evolution_heatmap(rounds, picked),
            selected,
            width="stretch",
        )


def history_table(session: LabellingSession) -> pd.DataFrame:
    rows = []
    for r in session.rounds:
        rows.append(
            {
                "round": r.number,
                "answered by": "MNIST (auto)" if r.simulated else "person",
                "positive": r.answers.count("positive"),
                "negative": r.answers.count("negative"),
                "skipped": r.answers.count("skip"),
                "labels so far": r.n_labels,
                "test accuracy": r.metrics["accuracy"],
                "seconds to answer": round(r.answered_at - r.asked_at, 1),
            }
        )
    return pd.DataFrame(rows)


def figures(session: LabellingSession) -> None:
    fs = features_or_stop()
    target = session.settings.target
    start = session.start_metrics().as_dict()
    ceiling = session.ceiling().as_dict()

    st.subheader("What the head has learned")
    weights_panel(session)

    left, right = st.columns(2)
    with left:
        st.markdown(f"**{plots.p_label(target)} over the pool**, by MNIST's true class")
        chart("hist", lambda: plots.p_histogram(session.p_pool, fs.y_pool, target))
    with right:
        st.markdown(f"**{plots.p_label(target)} per true digit**: which digits are still confused")
        chart("digit", lambda: plots.p_by_digit_chart(session.p_pool, fs.y_pool, target))

    left, right = st.columns(2)
    with left:
        st.markdown("**Learning curve** (triangles: rounds answered by MNIST's ground truth)")
        chart("curve", lambda: plots.learning_curve(session.rounds, start, ceiling))
    with right:
        st.markdown("**History**")
        if session.rounds:
            st.dataframe(
                history_table(session),
                hide_index=True,
                height=260,
                column_config={"test accuracy": st.column_config.NumberColumn(format="percent")},
            )
        else:
            st.caption("No rounds yet.")

    rounds = list(session.rounds)
    weights, bias, p_pool = session.head.weights_.copy(), session.head.bias_, session.p_pool
    downloads = st.container(horizontal=True)
    downloads.download_button(
        "Evolution as GIF",
        data=lambda: plots.evolution_gif(rounds, target, fs.pool_size, start["accuracy"]),
        file_name="tl-active-evolution.gif",
        mime="image/gif",
        on_click="ignore",
        icon=":material/movie:",
    )
    downloads.download_button(
        "Figures as PNG",
        data=lambda: plots.figures_png(
            weights, bias, p_pool, fs.y_pool, target, rounds, start, ceiling
        ),
        file_name="tl-active-figures.png",
        mime="image/png",
        on_click="ignore",
        icon=":material/image:",
    )
    # Built when clicked, not on every run: the CSV reads the taken-back rounds from the store,
    # and the .keras file needs TensorFlow, which takes seconds to load.
    session_id, store = current_id(), session_store()

    def labels_with_undone() -> str:
        undone = [h.record for h in store.history(session_id) if h.undone]
        return labels_csv(session, undone=undone)

    downloads.download_button(
        "Labels as CSV",
        data=labels_with_undone,
        file_name=f"tl-active-{session_id}-labels.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/table:",
        help="One row per answered image: pool index, answer, round, time, MNIST's digit; "
        "rounds taken back with undo are included, marked undone.",
    )
    downloads.download_button(
        "Session as JSON manifest",
        data=lambda: manifest_json(session),
        file_name=f"tl-active-{session_id}.json",
        mime="application/json",
        on_click="ignore",
        icon=":material/data_object:",
        help="Settings, seed, model checksum and every round: import it to replay the session.",
    )
    downloads.download_button(
        "Head as .keras",
        data=lambda: head_keras_bytes(session),
        file_name=f"tl-active-{session_id}-head.keras",
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/download:",
        help="The sigmoid head's weights and bias as a Keras model (takes a few seconds).",
    )


def main() -> None:
    session = ensure_session()
    sidebar(session)
    recent_sessions()
    st.title("Label the digits the head is least sure of")
    progress_line(session)
    label_check(session)
    batch_panel()
    figures(session)


main()
