"""The sidebar's settings widgets, to and from `SessionSettings`.

A session's settings are put into the widgets when it is opened; the widgets are read into
settings when a new one is asked for. A folder's question is its classes (or the answers a person
names for a folder without classes); an uploaded zip becomes such a folder. Weather windows
are the other data: their question is one of `data.weather.QUESTIONS`, read on the weather
network. The strategy and head start as the default of the layer the head reads, and follow
it to another layer for as long as the person has not chosen their own
(`records.layer_default`).
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from tl_active.core.strategies import DEFAULT_STRATEGY, allowed_strategies
from tl_active.core.task import EVEN, MULTICLASS, ODD, Task
from tl_active.data.backbones import SHIPPED_WEATHER, default_layer, resolve_backbone
from tl_active.errors import TlActiveError
from tl_active.sessions.records import (
    PLAIN_HEAD,
    POOL_HEAD,
    WEATHER_TASK,
    SessionSettings,
    layer_default,
    parse_answer_names,
)
from ui import keys
from ui.labelling.state import flash
from ui.support import (
    backbone_spec,
    choice_of,
    escape_markdown,
    image_folder,
    skipped_note,
    unpack_upload,
)

# A folder without class folders starts with this question; the sidebar names others.
DEFAULT_ANSWERS = "yes, no"
IMAGES, WEATHER = "images", "weather"  # the sidebar's choice of data
DEFAULT_QUESTION = "snow-today"
WEATHER_BACKBONE = next(iter(SHIPPED_WEATHER))


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
        head=base.head,
        images=images,
        images_checksum=folder.checksum,
        answers=named,
    )


def weather_settings(question: str, base: SessionSettings) -> SessionSettings:
    """Settings on weather windows: the question asked of them, read on `base`'s network."""
    allowed = base.strategy in allowed_strategies(WEATHER_TASK)
    return SessionSettings(
        task=WEATHER_TASK,
        strategy=base.strategy if allowed else DEFAULT_STRATEGY,
        batch_size=base.batch_size,
        head_mode=base.head_mode,
        seed=base.seed,
        backbone=base.backbone,
        layer=base.layer,
        weather=question,
        head=base.head,
    )


def with_layer_default(settings: SessionSettings) -> SessionSettings:
    """`settings` with the default strategy and head of its layer (`records.layer_default`),
    where the backbone says what the layer is; as they are for a person's own model."""
    try:
        reads = resolve_backbone(settings.backbone).reads_probabilities(settings.layer)
    except ValueError:
        return settings  # said when the session is asked for
    if reads is None:
        return settings
    strategy, head = layer_default(reads)
    return replace(settings, strategy=strategy, head=head, head_mode="converge")


def _head_choice(head: str) -> str:
    # The sidebar's one head widget: a training mode, or the pool-taught head (which converges).
    return POOL_HEAD if head == POOL_HEAD else "converge"


def on_layer_choice() -> None:
    """Another layer (or backbone, or data): the strategy and head follow the layer's kind, as
    long as they are one kind's default; a strategy or head the person chose stays."""
    state = st.session_state
    try:
        backbone = resolve_backbone(
            backbone_spec(state[keys.SET_BACKBONE], state[keys.SET_MODEL_PATH])
        )
    except ValueError:
        return  # said when the session is asked for
    reads = backbone.reads_probabilities(str(state.get(keys.SET_LAYER) or "").strip())
    defaults = {
        (strategy, _head_choice(head)) for strategy, head in map(layer_default, (True, False))
    }
    if reads is None or (state.get(keys.SET_STRATEGY), state.get(keys.SET_HEAD)) not in defaults:
        return
    strategy, head = layer_default(reads)
    state[keys.SET_STRATEGY], state[keys.SET_HEAD] = strategy, _head_choice(head)


def on_data_choice() -> None:
    """MNIST or images, or weather windows: the backbone and layer follow, as networks read
    one or the other."""
    state = st.session_state
    weather = state[keys.SET_DATA] == WEATHER
    backbone = resolve_backbone(WEATHER_BACKBONE if weather else None)
    state[keys.SET_BACKBONE], state[keys.SET_MODEL_PATH] = backbone.name, ""
    state[keys.SET_LAYER] = backbone.default_layer if weather else default_layer(backbone)
    on_layer_choice()


def settings_into_widgets(settings: SessionSettings) -> None:
    """Show a session's settings in the sidebar's widgets."""
    state = st.session_state
    state[keys.SET_DATA] = WEATHER if settings.weather else IMAGES
    state[keys.SET_WEATHER] = settings.weather or DEFAULT_QUESTION
    state[keys.SET_BACKBONE], state[keys.SET_MODEL_PATH] = choice_of(settings.backbone)
    state[keys.SET_LAYER] = settings.layer
    # Weather's question is its own widget: the digits' widgets keep MNIST's first question.
    task = Task.binary(ODD) if settings.weather else settings.task
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
    # One choice in the sidebar: a training mode, or the pool-taught head (which converges).
    state[keys.SET_HEAD] = POOL_HEAD if settings.head == POOL_HEAD else settings.head_mode
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
    if task is not None and not task.is_binary and state.get(keys.SET_HEAD) != POOL_HEAD:
        state[keys.SET_HEAD] = "converge"


def settings_from_widgets() -> SessionSettings:
    state = st.session_state
    pool_taught = state[keys.SET_HEAD] == POOL_HEAD
    head = POOL_HEAD if pool_taught else PLAIN_HEAD
    head_mode = "converge" if pool_taught else state[keys.SET_HEAD]
    if state.get(keys.SET_DATA) == WEATHER:
        base = SessionSettings(
            strategy=state[keys.SET_STRATEGY],
            batch_size=int(state[keys.SET_BATCH]),
            head_mode=head_mode,
            seed=int(state[keys.SET_SEED]),
            backbone=backbone_spec(state[keys.SET_BACKBONE], state[keys.SET_MODEL_PATH]),
            layer=str(state[keys.SET_LAYER] or "").strip()
            or SHIPPED_WEATHER[WEATHER_BACKBONE].default_layer,
            head=head,
        )
        return weather_settings(state[keys.SET_WEATHER], base)
    images = str(state.get(keys.SET_IMAGES) or "").strip()
    if images:
        base = SessionSettings(
            strategy=state[keys.SET_STRATEGY],
            batch_size=int(state[keys.SET_BATCH]),
            seed=int(state[keys.SET_SEED]),
            head=head,
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
        head_mode=head_mode,
        seed=int(state[keys.SET_SEED]),
        backbone=backbone_spec(state[keys.SET_BACKBONE], state[keys.SET_MODEL_PATH]),
        layer=str(state[keys.SET_LAYER] or "").strip(),
        head=head,
    )


def on_zip_upload() -> None:
    """An uploaded zip of images: unpacked within limits, its folder put in the sidebar."""
    upload = st.session_state.get(keys.SET_ZIP)
    if upload is None:
        return
    try:
        folder, unpacking = unpack_upload(upload.getvalue())
        # Refuses a zip with no image in it, with the reason; counts only images that decode.
        skipped = skipped_note(image_folder(folder), unpacking)
    except TlActiveError as error:
        flash("error", f"{escape_markdown(upload.name)}: {escape_markdown(error)}")
        return
    st.session_state[keys.SET_IMAGES] = folder
    st.session_state[keys.SET_FOLDER_CLASSES] = []
    # Said in the sidebar under the folder for as long as it is chosen, not only in a toast.
    st.session_state[keys.FOLDER_NOTE] = (folder, unpacking)
    note = f"{escape_markdown(upload.name)} unpacked"
    flash("warning" if skipped else "success", f"{note}. {escape_markdown(skipped)}".strip())
