"""The person's labelling session in the app: kept in the store, named by the URL, changed by callbacks.

Every session lives in the store under an id that the URL carries (`?session=<id>`), from its
first answer on: a visit that answers nothing writes nothing. A submitted round (or a corrected
label) is written, in one transaction, inside its callback, before the page moves on; undo marks
the round undone there too. Opening the URL again (a refresh, another tab, after a server
restart) replays the stored session over the features of its own backbone and layer. A tab that
another tab has overtaken notices it on its next run (the stored round count differs) or on its
next write (`StaleSessionError`), and reloads.

Each user action is one callback here, making one call on the `LabellingSession`. The batch is
answered in the browser (`labelling_grid`) and reaches the server once, at its submit. Callbacks
of widgets inside a fragment (the label check) that change the head end with `redraw_page()`, so
that the whole page, charts included, is drawn again rather than only the fragment. Messages
are toasts, so that nothing moves under the person's hands when a round lands.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from tl_active.core.strategies import DEFAULT_STRATEGY, allowed_strategies
from tl_active.core.task import EVEN, MULTICLASS, ODD, SKIP, Task
from tl_active.data.features import FeatureSet
from tl_active.data.kinds import DataKind
from tl_active.errors import SessionFileError, TlActiveError
from tl_active.experiments.fine_tune import FineTuneOutcome
from tl_active.sessions.exchange import read_manifest
from tl_active.sessions.records import SessionSettings, parse_answer_names
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.store import StaleSessionError, UnknownSessionError, check_session_id
from ui import keys
from ui.browser import browser_id
from ui.components.labelling_grid import DEFAULT_COLOURS, SKIP_COLOUR, SKIP_KEY, UNDO_KEY
from ui.support import (
    backbone_spec,
    choice_of,
    default_backbone_and_layer,
    default_images,
    escape_markdown,
    features_for,
    features_or_stop,
    image_folder,
    session_store,
    unpack_upload,
)

# A folder without class folders starts with this question; the sidebar names others.
DEFAULT_ANSWERS = "yes, no"


def redraw_page() -> None:
    """From a callback in a fragment: rerun the whole page, not only the fragment."""
    st.rerun()


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


# --- answers: values, labels and keys -----------------------------------------------------------


@dataclass(frozen=True)
class AnswerOption:
    """One answer as the page offers it: the session's value, a label, a key, a neutral colour."""

    value: str
    label: str
    key: str
    colour: str  # a class, never right or wrong: no green and red

    def for_grid(self) -> dict[str, str]:
        return {"value": self.value, "label": self.label, "key": self.key, "colour": self.colour}


def answer_options(task: Task, kind: DataKind, named: tuple[str, ...] = ()) -> list[AnswerOption]:
    """The answers of a task, then Skip.

    Binary: Odd/Even (keys O, E) for parity, else Positive/Negative (P, N). K classes: one per
    class, its key from the class's name as the data kind gives it (MNIST's digits, a folder's
    first letters, numbers otherwise); `named`: the answers a person named for images without
    classes. S skips.
    """
    if task.is_binary and task.positive in (ODD, EVEN):
        yes, no = ("Odd", "Even") if task.positive == ODD else ("Even", "Odd")
        options = [
            AnswerOption("positive", yes, yes[0].lower(), DEFAULT_COLOURS[0]),
            AnswerOption("negative", no, no[0].lower(), DEFAULT_COLOURS[1]),
        ]
    elif task.is_binary:
        name = "{" + task.name(kind.class_names) + "}"
        options = [
            AnswerOption("positive", f"Positive {name}", "p", DEFAULT_COLOURS[0]),
            AnswerOption("negative", "Negative", "n", DEFAULT_COLOURS[1]),
        ]
    else:
        names = named or task.answers(kind.class_names)
        answer_keys = kind.answer_keys(names, reserved=(SKIP_KEY, UNDO_KEY))
        options = [
            AnswerOption(name, name, key, DEFAULT_COLOURS[k % len(DEFAULT_COLOURS)])
            for k, (name, key) in enumerate(zip(names, answer_keys, strict=True))
        ]
    return [*options, AnswerOption(SKIP, "Skip", SKIP_KEY, SKIP_COLOUR)]


def answer_word(answer: str, options: list[AnswerOption]) -> str:
    return {o.value: o.label for o in options}[answer]


# --- the session, the store and the URL ---------------------------------------------------------


def current_session() -> LabellingSession:
    return st.session_state[keys.SESSION]  # `ensure_session` makes sure there is one


def current_id() -> str | None:
    """The session's id in the store, or None while it has no answer (and is not stored)."""
    return st.session_state.get(keys.SESSION_ID)


# Material icons, not emoji: a browser without an emoji font draws those as boxes.
TOAST_ICONS = {
    "success": ":material/check_circle:",
    "info": ":material/info:",
    "warning": ":material/warning:",
}


def flash(kind: str, text: str) -> None:
    """A message for the next run (text from people or files must be escaped by the caller)."""
    st.session_state[keys.FLASH] = (kind, text)


def show_flash() -> None:
    """The message as a toast, which floats over the page instead of pushing it down.

    An error also stays on the page, where it cannot be missed: errors come on opening a
    session or when the store fails, not while the person is answering.
    """
    kind, text = st.session_state.pop(keys.FLASH, (None, None))
    if kind == "error":
        st.error(text)
    elif kind:
        st.toast(text, icon=TOAST_ICONS[kind])


def on_session_changed() -> None:
    """After every submitted round, undo, auto-labelling, new, opened or reloaded session.

    By then the change is already in the store (the callbacks write first). The revision
    counter tells the chart cache that the figures must be drawn again.
    """
    st.session_state[keys.REVISION] = st.session_state.get(keys.REVISION, 0) + 1


def features_of(settings: SessionSettings) -> FeatureSet:
    return features_for(settings.backbone, settings.layer, settings.images)


def folder_settings(
    images: str, base: SessionSettings, names: list[str] | None = None, answers: str = ""
) -> SessionSettings:
    """Settings on an image folder: its classes (all, or those named), or for a folder without
    class folders the answers the person names; its checksum recorded."""
    folder = image_folder(images)
    if folder.has_truth:
        chosen = [folder.class_names.index(n) for n in names or [] if n in folder.class_names]
        task = Task(MULTICLASS, tuple(sorted(chosen or range(len(folder.class_names)))))
        if len(task.classes) < 2:
            raise ValueError("choose at least two of the folder's classes")
        named: tuple[str, ...] = ()
    else:
        named = parse_answer_names(answers or DEFAULT_ANSWERS)
        task = Task(MULTICLASS, tuple(range(len(named))))
    return SessionSettings(
        task=task,
        strategy=base.strategy if base.strategy in allowed_strategies(task) else DEFAULT_STRATEGY,
        batch_size=base.batch_size,
        head_mode="converge",
        seed=base.seed,
        backbone=base.backbone,
        layer=base.layer,
        images=images,
        images_checksum=folder.checksum,
        answers=named,
    )


def use_session(
    session: LabellingSession,
    session_id: str | None,
    keep_draft: bool = False,
    widgets_drawn: bool = False,
) -> None:
    """Put a session on the page, its settings in the sidebar and its id (once stored) in the URL.

    `widgets_drawn`: called from the page's body after the sidebar's settings were drawn, so
    they take the session's settings at the next run (Streamlit refuses them in this one).
    """
    st.session_state[keys.SESSION] = session
    st.session_state[keys.SESSION_ID] = session_id
    if session_id is None:
        st.query_params.pop(keys.URL_PARAM, None)
    else:
        st.query_params[keys.URL_PARAM] = session_id
    # A kept draft survives only if it is for the batch the session offers (see `open_batch`).
    dropped = (keys.CONFIRM, keys.SHOW_CHECK, keys.SETTINGS_ERROR)
    for key in dropped if keep_draft else (keys.DRAFT, *dropped):
        st.session_state.pop(key, None)
    if widgets_drawn:
        st.session_state.pop(keys.SET_KIND, None)  # see `settings_sidebar`
    else:
        settings_into_widgets(session.settings)
    on_session_changed()


def start_session(settings: SessionSettings) -> bool:
    """A new session, in memory only: it is stored at its first answer (`store_rounds`), so a
    visit that answers nothing leaves nothing behind.

    Features that cannot be had (a missing model, a layer it does not have) are said in the
    sidebar and nothing changes.
    """
    try:
        session = LabellingSession(features_of(settings), settings)
    except (TlActiveError, ValueError) as error:
        st.session_state[keys.SETTINGS_ERROR] = str(error)
        return False
    use_session(session, None)
    return True


def load_stored(session_id: str) -> LabellingSession:
    """A stored session replayed over the features of its own backbone and layer."""
    data = session_store().session_dict(check_session_id(session_id))
    try:
        settings = SessionSettings.from_dict(data["settings"])
    except (KeyError, TypeError, ValueError) as error:
        raise SessionFileError(f"its settings cannot be read: {error}") from None
    features = features_of(settings)
    if settings.images and features.source.checksum != settings.images_checksum:
        # Its labels name images by their place in the pool: a changed folder may have moved
        # them. Said first; the replay then refuses what no longer fits.
        flash(
            "warning",
            f"The folder {escape_markdown(settings.images)} changed since this session began "
            f"(checksum {settings.images_checksum[:12]}, now {features.source.checksum[:12]}): "
            "its labels may now point at other images.",
        )
    return LabellingSession.from_dict(data, features)


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
    if session_id is None:
        return store_new(session, records)
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


def store_new(session: LabellingSession, records: list) -> bool:
    """The first answers of a session: store it, rounds and all, in one transaction; name it in
    the URL. On a failure the rounds are taken back in memory and the person is told."""
    try:
        session_id = session_store().create(session, browser_id=browser_id())
    except (TlActiveError, SQLAlchemyError) as error:
        for _ in records:
            session.undo()
        flash(
            "error",
            "The session store cannot be written, so this round was taken back (your answers "
            f"are kept; submit again): {escape_markdown(error)}",
        )
        return False
    st.session_state[keys.SESSION_ID] = session_id
    st.query_params[keys.URL_PARAM] = session_id
    return True


def default_settings() -> SessionSettings:
    backbone, layer = default_backbone_and_layer()
    base = SessionSettings(backbone=backbone, layer=layer)
    images = default_images()
    return folder_settings(images, base) if images else base


def ensure_session() -> LabellingSession:
    """The tab's session: the one the URL names, or a new one; caught up with the store."""
    requested = st.query_params.get(keys.URL_PARAM)
    have = st.session_state.get(keys.SESSION_ID)
    if keys.SESSION in st.session_state and requested in (None, have):
        if have is not None:
            if requested is None:
                st.query_params[keys.URL_PARAM] = have  # e.g. back from another page
            catch_up()
    elif not (requested is not None and open_requested(requested)):
        try:
            settings = default_settings()
        except (TlActiveError, ValueError) as error:
            st.error(escape_markdown(error))
            st.stop()
        features_or_stop(settings.backbone, settings.layer, settings.images)  # says why not
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
    if current_id() is None:
        return  # not stored yet: no other tab can have it
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


# --- the open batch, its answers, and corrections -----------------------------------------------


def open_batch(session: LabellingSession):
    """The batch on offer, and the answers to show on it: none, or those of an undone round.

    The answers in progress live in the browser (`labelling_grid`) until the batch is submitted;
    only an undone round's answers come from here, so that they can be changed and sent again.
    """
    picks = session.next_batch()
    indices = [p.index for p in picks]
    draft = st.session_state.get(keys.DRAFT)
    if draft and draft["round"] == len(session.rounds) + 1 and draft["indices"] == indices:
        return picks, list(draft["answers"])
    return picks, None


def after_change(record, message: str) -> None:
    """A round (a batch or a correction) is learned and stored: tell the person, redraw charts."""
    st.session_state.pop(keys.DRAFT, None)
    on_session_changed()
    flash(
        "success",
        f"{message}: {record.n_labels} labels, test accuracy {record.metrics['accuracy']:.1%}.",
    )


def on_grid_submit(submission: dict) -> None:
    """The batch's answers, sent once by the grid: retrain, store the round, then the page draws.

    The grid sends the round it showed; the session refuses answers for any other (a second
    tab, a double submit), and the person is told rather than a batch being answered unseen.
    """
    session = current_session()
    try:
        record = session.submit(submission["answers"], round_number=submission["round"])
    except TlActiveError as error:
        flash("warning", f"Nothing submitted: {escape_markdown(error)}.")
        return
    if store_rounds(session, [record]):
        after_change(record, f"Round {record.number} learned")
    elif len(session.rounds) < record.number:  # taken back: offer the batch with its answers
        st.session_state[keys.DRAFT] = {
            "round": record.number,
            "indices": list(record.indices),
            "answers": list(record.answers),
        }
    # The grid is in the page's fragment, which a round reruns alone. A session reloaded from
    # the store changes the sidebar too. One stored for the first time does not need it: its
    # link is in the address at once, and the sidebar lists it from its next full run (a whole
    # page run per person's first round is what a room's first minute cannot afford).
    if current_session() is not session:
        redraw_page()


def on_correct(index: int, answer: str, number: int, looked_again: bool = False) -> None:
    """Change the answer to an image answered earlier: a correction round, stored like a batch.

    `number` is the round the correction was offered for, so a stale page changes nothing;
    `looked_again` marks a correction made from the Look again panel.
    """
    session, session_id = current_session(), current_id()
    try:
        record = session.correct(index, answer, round_number=number, looked_again=looked_again)
    except TlActiveError as error:
        flash("warning", f"Nothing changed: {escape_markdown(error)}.")
        return
    if store_rounds(session, [record]):
        after_change(record, f"Image {index} is now {answer} (round {record.number})")
    if (current_session(), current_id()) != (session, session_id):  # reloaded from the store
        redraw_page()


def on_check_fix(index: int, answer: str, number: int) -> None:
    """ "Check my labels"' one-click fix: from its fragment, so the whole page is drawn again."""
    on_correct(index, answer, number)
    redraw_page()


def on_change_form(number: int) -> None:
    """The history's change form: the chosen image gets the chosen answer."""
    index = st.session_state.get(keys.FIX_IMAGE)
    answer = st.session_state.get(keys.FIX_ANSWER)
    if index is None or answer is None:
        flash("warning", "Choose an image and its new answer first.")
        return
    on_correct(int(index), answer, number)


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
    if record.is_correction:
        st.session_state.pop(keys.DRAFT, None)
        on_session_changed()
        flash(
            "info", f"Round {record.number} undone: image {record.indices[0]} has its answer back."
        )
        redraw_page()  # from the label check's fragment: the batch and every chart change
    # The same batch comes back (its query is seeded by the round); offer it with its answers.
    st.session_state[keys.DRAFT] = {
        "round": record.number,
        "indices": list(record.indices),
        "answers": list(record.answers),
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
    state[keys.SET_IMAGES] = settings.images
    state[keys.SET_FOLDER_CLASSES] = []
    state[keys.SET_ANSWERS] = ", ".join(settings.answers) or DEFAULT_ANSWERS
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


def keep_choices_valid(task: Task | None) -> None:
    """Before the widgets are drawn: a strategy or head mode the task cannot use is replaced."""
    state = st.session_state
    if task is not None and state.get(keys.SET_STRATEGY) not in allowed_strategies(task):
        state[keys.SET_STRATEGY] = DEFAULT_STRATEGY
    if task is not None and not task.is_binary:
        state[keys.SET_HEAD] = "converge"


def settings_from_widgets() -> SessionSettings:
    state = st.session_state
    images = str(state.get(keys.SET_IMAGES) or "").strip()
    if images:
        base = SessionSettings(
            strategy=state[keys.SET_STRATEGY],
            batch_size=int(state[keys.SET_BATCH]),
            seed=int(state[keys.SET_SEED]),
            backbone=backbone_spec(state[keys.SET_BACKBONE], state[keys.SET_MODEL_PATH]),
            layer=str(state[keys.SET_LAYER] or "").strip() or "digits",
        )
        return folder_settings(
            images, base, list(state.get(keys.SET_FOLDER_CLASSES) or []), state[keys.SET_ANSWERS]
        )
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
    except (ValueError, TlActiveError) as error:
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


def on_zip_upload() -> None:
    """An uploaded zip of images: unpacked within limits, its folder put in the sidebar."""
    upload = st.session_state.get(keys.SET_ZIP)
    if upload is None:
        return
    try:
        folder, skipped = unpack_upload(upload.getvalue())
        image_folder(folder)  # refuses a zip with no image in it, with the reason
    except TlActiveError as error:
        flash("error", f"{escape_markdown(upload.name)}: {escape_markdown(error)}")
        return
    st.session_state[keys.SET_IMAGES] = folder
    st.session_state[keys.SET_FOLDER_CLASSES] = []
    note = f"{escape_markdown(upload.name)} unpacked"
    flash("warning" if skipped else "success", f"{note}. {escape_markdown(skipped)}".strip())


def on_auto_label() -> None:
    session = current_session()
    if not session.has_test:
        flash("warning", "These images have no class folders: there is no truth to answer with.")
        return
    done = session.auto_label(int(st.session_state[keys.AUTO_ROUNDS]))
    if not store_rounds(session, done):
        return
    st.session_state.pop(keys.DRAFT, None)
    on_session_changed()
    if done:
        truth = session.features.kind.truth
        flash("success", f"{len(done)} rounds answered by {truth} (marked 'auto').")
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
        session_id = session_store().create(session, browser_id=browser_id())
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


# --- fine-tuning on the session's labels ----------------------------------------------------------


def on_fine_tune_cancel() -> None:
    """Its click reruns the page, which stops the fine-tuning at its next progress step."""
    # Said by the new run while the old one is still stopping: what it saved goes within an
    # epoch or a chunk of images.
    flash("info", "Fine-tuning stopped: nothing changed, the session goes on as it was.")


def fine_tuned(outcome: FineTuneOutcome) -> bool:
    """A fine-tune's outcome: the continued session stored and opened, or why the old one stays.

    Returns whether the page now shows another session (and must be drawn again).
    """
    message = escape_markdown(outcome.message)
    if outcome.continued is None:
        flash("warning", message)
        return False
    parent = current_id()
    try:
        session_id = session_store().create(outcome.continued, browser_id=browser_id())
    except (TlActiveError, SQLAlchemyError) as error:
        flash(
            "error",
            f"{message} The new session could not be stored, so this one goes on as it was: "
            f"{escape_markdown(error)}",
        )
        return False
    use_session(outcome.continued, session_id, widgets_drawn=True)
    flash("success", f"{message} Session {session_id} continues session {parent} on it.")
    return True
