"""Starting, opening and reloading sessions: which session the tab shows, named by the URL.

Every session lives in the store under an id that the URL carries (`?session=<id>`), from its
first answer on: a visit that answers nothing writes nothing. Opening the URL again (a refresh,
another tab, after a server restart) replays the stored session over the features of its own
backbone and layer. A tab that another tab has overtaken notices it on its next run (the stored
round count differs) and reloads. New sessions come from the sidebar's settings (asking first
when the current one has rounds), old ones from the recent list or an imported manifest.
"""

from __future__ import annotations

import json
import os

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from tl_active.data.backbones import SHIPPED_WEATHER
from tl_active.data.features import FeatureSet
from tl_active.errors import SessionFileError, TlActiveError
from tl_active.sessions.exchange import read_manifest
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.store import UnknownSessionError, check_session_id
from ui import keys
from ui.browser import browser_id
from ui.labelling.state import (
    current_id,
    current_session,
    flash,
    on_session_changed,
    plural,
    show_flash,
)
from ui.labelling.widgets import (
    WEATHER_BACKBONE,
    folder_settings,
    settings_from_widgets,
    settings_into_widgets,
    weather_settings,
    with_layer_default,
)
from ui.support import (
    default_backbone_and_layer,
    default_images,
    escape_markdown,
    features_for,
    features_or_stop,
    session_store,
)


def features_of(settings: SessionSettings) -> FeatureSet:
    return features_for(settings.backbone, settings.layer, settings.images, settings.weather)


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


def default_settings() -> SessionSettings:
    """MNIST on the default backbone; or `TL_ACTIVE_IMAGES`' folder; or, with
    `TL_ACTIVE_WEATHER` naming a question, weather windows on the weather network. The
    strategy and head are the layer's default."""
    question = os.environ.get("TL_ACTIVE_WEATHER", "").strip()
    if question:
        backbone = SHIPPED_WEATHER[WEATHER_BACKBONE]
        base = SessionSettings(backbone=backbone.name, layer=backbone.default_layer)
        return weather_settings(question, with_layer_default(base))
    backbone, layer = default_backbone_and_layer()
    base = with_layer_default(SessionSettings(backbone=backbone, layer=layer))
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
        # Says why not, if the features cannot be had.
        features_or_stop(settings.backbone, settings.layer, settings.images, settings.weather)
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
