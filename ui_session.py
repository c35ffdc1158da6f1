"""The person's labelling session in the app: kept in the store, named by the URL, changed by callbacks.

Every session lives in the store under an id that the URL carries (`?session=<id>`): a submitted
round is written, in one transaction, inside the submit callback, before the page moves on; undo
marks the round undone there too. Opening the URL again (a refresh, another tab, after a server
restart) replays the stored session over the features of its own backbone and layer. A tab that
another tab has overtaken notices it on its next run (the stored round count differs) or on its
next write (`StaleSessionError`), and reloads.

Each user action is one callback here, making one call on the `LabellingSession`. Callbacks of
widgets inside a fragment (the batch) that change the head end with `redraw_page()`, so that the
whole page, charts included, is drawn again rather than only the fragment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

import ui_keys as keys
from tl_active.errors import SessionFileError, TlActiveError
from tl_active.exchange import read_manifest
from tl_active.features import FeatureSet
from tl_active.session import LabellingSession, SessionSettings
from tl_active.store import StaleSessionError, UnknownSessionError, check_session_id
from tl_active.strategies import BINARY_ONLY, DEFAULT_STRATEGY, STRATEGIES
from tl_active.task import EVEN, ODD, SKIP, Task
from ui_support import (
    backbone_spec,
    choice_of,
    default_backbone_and_layer,
    escape_markdown,
    features_for,
    features_or_stop,
    session_store,
)


def redraw_page() -> None:
    """From a callback in a fragment: rerun the whole page, not only the fragment."""
    st.rerun()


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


# --- answers: values, labels and keys -----------------------------------------------------------


@dataclass(frozen=True)
class AnswerOption:
    """One answer as the page offers it: the session's value, a button label, a key."""

    value: str
    label: str
    key: str
    badge: str  # the colour of its badge on a tile


def answer_options(task: Task, class_names: tuple[str, ...]) -> list[AnswerOption]:
    """The answers of a task, then Skip.

    Binary: Odd/Even (keys O, E) for parity, else Positive/Negative (P, N). K classes: one per
    class, its key the class's digit (or 1..K for classes not named by one digit). S skips.
    """
    if task.is_binary and task.positive in (ODD, EVEN):
        yes, no = ("Odd", "Even") if task.positive == ODD else ("Even", "Odd")
        options = [
            AnswerOption("positive", yes, yes[0].lower(), "green"),
            AnswerOption("negative", no, no[0].lower(), "red"),
        ]
    elif task.is_binary:
        name = "{" + task.name(class_names) + "}"
        options = [
            AnswerOption("positive", f"Positive {name}", "p", "green"),
            AnswerOption("negative", "Negative", "n", "red"),
        ]
    else:
        names = task.answers(class_names)
        by_digit = all(len(n) == 1 and n.isdigit() for n in names)
        options = [
            AnswerOption(name, name, name if by_digit else str(k + 1), "blue")
            for k, name in enumerate(names)
        ]
    return [*options, AnswerOption(SKIP, "Skip", "s", "gray")]


def answer_word(answer: str, options: list[AnswerOption]) -> str:
    return {o.value: o.label for o in options}[answer]


# --- the session, the store and the URL ---------------------------------------------------------


def current_session() -> LabellingSession:
    return st.session_state[keys.SESSION]  # `ensure_session` makes sure there is one


def current_id() -> str:
    return st.session_state[keys.SESSION_ID]


def flash(kind: str, text: str) -> None:
    """A message for the next run (text from people or files must be escaped by the caller)."""
    st.session_state[keys.FLASH] = (kind, text)


def show_flash() -> None:
    kind, text = st.session_state.pop(keys.FLASH, (None, None))
    if kind:
        getattr(st, kind)(text)


def on_session_changed() -> None:
    """After every submitted round, undo, auto-labelling, new, opened or reloaded session.

    By then the change is already in the store (the callbacks write first). The revision
    counter tells the chart cache that the figures must be drawn again.
    """
    st.session_state[keys.REVISION] = st.session_state.get(keys.REVISION, 0) + 1


def features_of(settings: SessionSettings) -> FeatureSet:
    return features_for(settings.backbone, settings.layer)


def use_session(session: LabellingSession, session_id: str, keep_draft: bool = False) -> None:
    """Put a stored session on the page, its settings in the sidebar and its id in the URL."""
    st.session_state[keys.SESSION] = session
    st.session_state[keys.SESSION_ID] = session_id
    st.query_params[keys.URL_PARAM] = session_id
    # A kept draft survives only if it is for the batch the session offers (see `open_batch`).
    dropped = (keys.CONFIRM, keys.SHOW_CHECK, keys.SETTINGS_ERROR)
    for key in dropped if keep_draft else (keys.DRAFT, *dropped):
        st.session_state.pop(key, None)
    settings_into_widgets(session.settings)
    on_session_changed()


def start_session(settings: SessionSettings) -> bool:
    """A new session, stored at once so that its URL works from the first moment.

    Features that cannot be had (a missing model, a layer it does not have) are said in the
    sidebar and nothing changes.
    """
    try:
        session = LabellingSession(features_of(settings), settings)
    except (TlActiveError, ValueError) as error:
        st.session_state[keys.SETTINGS_ERROR] = str(error)
        return False
    try:
        session_id = session_store().create(session)
    except (TlActiveError, SQLAlchemyError) as error:
        flash(
            "error",
            "The session store cannot be written, so no session was started: "
            f"{escape_markdown(error)}",
        )
        return False
    use_session(session, session_id)
    return True


def load_stored(session_id: str) -> LabellingSession:
    """A stored session replayed over the features of its own backbone and layer."""
    data = session_store().session_dict(check_session_id(session_id))
    try:
        settings = SessionSettings.from_dict(data["settings"])
    except (KeyError, TypeError, ValueError) as error:
        raise SessionFileError(f"its settings cannot be read: {error}") from None
    return LabellingSession.from_dict(data, features_of(settings))


def reload_stored(why: str) -> None:
    """Throw the tab's copy away and replay the stored session, which is the truth."""
    session_id = current_id()
    try:
        session = load_stored(session_id)
    except (TlActiveError, SQLAlchemyError) as error:
        flash("error", f"{why}, but it could not be reloaded: {escape_markdown(error)}")
        return
    use_session(session, session_id, keep_draft=True)
    flash("warning", f"{why}: reloaded, now {plural(len(session.rounds), 'round')} as stored.")


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
                on_session_changed()
            flash(
                "error",
                f"Round {record.number} could not be stored, so it was taken back (your answers "
                f"are kept; submit again): {escape_markdown(error)}",
            )
            return False
    return True


def default_settings() -> SessionSettings:
    backbone, layer = default_backbone_and_layer()
    return SessionSettings(backbone=backbone, layer=layer)


def ensure_session() -> LabellingSession:
    """The tab's session: the one the URL names, or a new one; caught up with the store."""
    requested = st.query_params.get(keys.URL_PARAM)
    have = st.session_state.get(keys.SESSION_ID)
    if have is not None and requested in (None, have):
        if requested is None:
            st.query_params[keys.URL_PARAM] = have  # e.g. back from another page
        catch_up()
    elif not (requested is not None and open_requested(requested)):
        settings = default_settings()
        features_or_stop(settings.backbone, settings.layer)  # says why it cannot start
        if not start_session(settings):
            show_flash()
            if keys.SETTINGS_ERROR in st.session_state:
                st.error(escape_markdown(st.session_state.pop(keys.SETTINGS_ERROR)))
            st.stop()
    return current_session()


def open_requested(requested: str) -> bool:
    """Open the session the URL names; on failure say why (the caller starts a fresh one)."""
    try:
        session = load_stored(requested)
    except (TlActiveError, SQLAlchemyError) as error:
        flash(
            "error",
            f"That session link cannot be opened: {escape_markdown(error)}. "
            "A fresh session was started.",
        )
        return False
    use_session(session, requested)
    return True


def catch_up() -> None:
    """Reload if another tab has stored or undone rounds since this tab last looked."""
    session = current_session()
    try:
        stored = session_store().round_count(current_id())
    except UnknownSessionError:
        flash("error", "This session is no longer stored; a fresh session was started.")
        start_session(default_settings())
        return
    except (TlActiveError, SQLAlchemyError) as error:
        flash("error", f"The session store cannot be read: {escape_markdown(error)}")
        return
    if stored != len(session.rounds):
        reload_stored("This session changed in another tab or window")


# --- the open batch and its answers ------------------------------------------------------------


def open_batch(session: LabellingSession):
    """The batch on offer and the draft of its answers, kept while it stays the same batch."""
    picks = session.next_batch()
    number = len(session.rounds) + 1
    indices = [p.index for p in picks]
    draft = st.session_state.get(keys.DRAFT)
    if not draft or draft["round"] != number or draft["indices"] != indices:
        draft = {
            "round": number,
            "indices": indices,
            "answers": [None] * len(picks),
            "cursor": 0,
            "version": 0,
        }
        st.session_state[keys.DRAFT] = draft
    return picks, draft


def _live_draft(number: int) -> dict | None:
    """The draft, if it still belongs to the batch the clicked widget was drawn for."""
    draft = st.session_state.get(keys.DRAFT)
    return draft if draft and draft["round"] == number else None


def on_answer(number: int, position: int | None, answer: str, version: int | None = None) -> None:
    """Answer one tile: the clicked tile's own button, or the outlined tile for a key.

    Keys pressed faster than the page redraws reach the server together, merged and in widget
    order rather than the order they were pressed; so a key counts only if the page it was
    pressed on is still current (`version`), and never lands on a tile nobody saw outlined.
    Only the batch is redrawn.
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
    """Submit the batch: retrain, store the round, redraw the whole page."""
    session = current_session()
    draft = st.session_state.get(keys.DRAFT) or {"answers": []}
    if None in draft["answers"]:
        flash("warning", "Answer every image of the batch before submitting it.")
        return
    try:
        record = session.submit(draft["answers"], round_number=number)
    except TlActiveError as error:
        flash("warning", f"Nothing submitted: {escape_markdown(error)}.")
        return
    if store_rounds(session, [record]):
        st.session_state.pop(keys.DRAFT, None)  # else the answers stay on the tiles
        on_session_changed()
        flash(
            "success",
            f"Round {record.number} learned: {record.n_labels} labels, "
            f"test accuracy {record.metrics['accuracy']:.1%}.",
        )
    redraw_page()


def on_undo() -> None:
    session = current_session()
    if not session.rounds:
        flash("warning", "There is no round to undo.")
        return
    try:
        session_store().undo_round(current_id(), session.rounds[-1])
    except StaleSessionError:
        reload_stored("This session changed in another tab or window; nothing was undone")
        redraw_page()
    except (TlActiveError, SQLAlchemyError) as error:
        flash(
            "error",
            f"The undo could not be stored, so nothing was taken back: {escape_markdown(error)}",
        )
        return
    record = session.undo()
    # The same batch comes back (its query is seeded by the round); offer it with its answers.
    st.session_state[keys.DRAFT] = {
        "round": record.number,
        "indices": list(record.indices),
        "answers": list(record.answers),
        "cursor": 0,
        "version": 0,
    }
    on_session_changed()
    flash("info", f"Round {record.number} undone: its answers are back on the tiles to change.")
    redraw_page()


# --- the sidebar's settings -----------------------------------------------------------------------


def settings_into_widgets(settings: SessionSettings) -> None:
    """Show a session's settings in the sidebar's widgets."""
    state = st.session_state
    state[keys.SET_BACKBONE], state[keys.SET_MODEL_PATH] = choice_of(settings.backbone)
    state[keys.SET_LAYER] = settings.layer
    task = settings.task
    if task.is_binary:
        kind = "odd" if task.positive == ODD else "even" if task.positive == EVEN else "custom"
    else:
        kind = "classes"
    state[keys.SET_KIND] = kind
    state[keys.SET_DIGITS] = list(task.classes) if kind == "custom" else [2, 3, 5, 7]
    state[keys.SET_CLASSES] = list(task.classes) if kind == "classes" else [0, 1, 2, 3, 4]
    state[keys.SET_STRATEGY] = settings.strategy
    state[keys.SET_BATCH] = settings.batch_size
    state[keys.SET_HEAD] = settings.head_mode
    state[keys.SET_SEED] = settings.seed


def task_from_widgets() -> Task:
    kind = st.session_state[keys.SET_KIND]
    if kind == "classes":
        return Task.multiclass(list(st.session_state[keys.SET_CLASSES]))
    try:
        return Task.binary(kind if kind != "custom" else list(st.session_state[keys.SET_DIGITS]))
    except ValueError as error:
        raise ValueError(
            f"a custom target must name some but not all of the digits 0-9 as positive ({error})"
        ) from None


def allowed_strategies(task: Task) -> list[str]:
    return [name for name in STRATEGIES if task.is_binary or name not in BINARY_ONLY]


def keep_choices_valid(task: Task | None) -> None:
    """Before the widgets are drawn: a strategy or head mode the task cannot use is replaced."""
    state = st.session_state
    if task is not None and state.get(keys.SET_STRATEGY) not in allowed_strategies(task):
        state[keys.SET_STRATEGY] = DEFAULT_STRATEGY
    if task is not None and not task.is_binary:
        state[keys.SET_HEAD] = "converge"


def settings_from_widgets() -> SessionSettings:
    state = st.session_state
    return SessionSettings(
        task=task_from_widgets(),
        strategy=state[keys.SET_STRATEGY],
        batch_size=int(state[keys.SET_BATCH]),
        head_mode=state[keys.SET_HEAD],
        seed=int(state[keys.SET_SEED]),
        backbone=backbone_spec(state[keys.SET_BACKBONE], state[keys.SET_MODEL_PATH]),
        layer=str(state[keys.SET_LAYER] or "").strip(),
    )


def on_settings_submit() -> None:
    """Start a session with the sidebar's settings, asking first if this one has rounds."""
    st.session_state.pop(keys.SETTINGS_ERROR, None)
    try:
        settings = settings_from_widgets()
        if not settings.layer:
            raise ValueError("name the layer whose outputs the head reads")
    except ValueError as error:
        st.session_state[keys.SETTINGS_ERROR] = str(error)
        return
    if current_session().rounds:
        st.session_state[keys.CONFIRM] = settings
    else:
        start_session(settings)


def on_confirm(start: bool) -> None:
    settings = st.session_state.pop(keys.CONFIRM, None)
    if start and settings is not None:
        start_session(settings)
    else:
        settings_into_widgets(current_session().settings)


# --- the live demo, checks, other sessions ------------------------------------------------------


def on_auto_label() -> None:
    session = current_session()
    done = session.auto_label(int(st.session_state[keys.AUTO_ROUNDS]))
    if not store_rounds(session, done):
        return
    st.session_state.pop(keys.DRAFT, None)
    on_session_changed()
    if done:
        flash("success", f"{len(done)} rounds answered by MNIST's ground truth (marked 'auto').")
    else:
        flash("warning", "The pool has no unlabelled images left for another round.")


def on_check() -> None:
    st.session_state[keys.SHOW_CHECK] = not st.session_state.get(keys.SHOW_CHECK, False)


def on_reopen(session_id: str) -> None:
    try:
        session = load_stored(session_id)
    except (TlActiveError, SQLAlchemyError) as error:
        flash("error", f"Session {session_id} cannot be reopened: {escape_markdown(error)}")
        return
    use_session(session, session_id)
    flash("info", f"Reopened session {session_id}: {plural(len(session.rounds), 'round')}.")


def manifest_features(raw: bytes) -> FeatureSet:
    """The features a manifest's settings name; the current session's if it names none.

    A file that is not a manifest at all gets the current features, and `read_manifest` says
    what is wrong with it.
    """
    try:
        settings = SessionSettings.from_dict(json.loads(raw)["settings"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
        return current_session().features
    try:
        return features_of(settings)
    except TlActiveError as error:
        raise SessionFileError(
            f"it was made on layer {settings.layer!r} of {settings.backbone}, which cannot be "
            f"loaded here ({error})"
        ) from None


def on_import() -> None:
    upload = st.session_state.get(keys.IMPORT_FILE)
    if upload is None:
        return
    # Replayed once, in memory, then stored in one transaction: what `import_manifest` does,
    # keeping the replayed session instead of replaying it a second time to open it.
    name = escape_markdown(upload.name)  # the person's own file name: shown, never acted on
    try:
        raw = upload.getvalue()
        session = read_manifest(raw, manifest_features(raw))
        session_id = session_store().create(session)
    except SessionFileError as error:
        flash("error", f"{name} was not imported, nothing was stored: {escape_markdown(error)}.")
        return
    except (TlActiveError, SQLAlchemyError) as error:
        flash(
            "error", f"{name} could not be stored, nothing was imported: {escape_markdown(error)}"
        )
        return
    use_session(session, session_id)
    flash(
        "success",
        f"Imported {name}: {plural(len(session.rounds), 'round')} replayed to the recorded head "
        f"weights, stored as session {session_id}.",
    )
