"""Where labelling sessions live between requests: a database, through SQLAlchemy.

Each submitted round is written in one transaction before the app moves on, so a refresh, a
closed tab or a killed server loses nothing already submitted. The database and its errors are
`database.py`'s; its tables, and how a round is a row, are `schema.py`'s.

A session's `n_rounds` (its count of live rounds) is also its version: every write first moves
it from the value the writer expects to the next one, in a single guarded `UPDATE`, so of two
writers who saw the same state exactly one wins and the other gets `StaleSessionError` (its tab
is behind and must reload). Undo never deletes a round: it marks it undone, so exports can still
show what was taken back.

The store keeps settings and answers (and the answers kept on looking again); `load` rebuilds the live session by replaying them over the
frozen features, which also checks the recorded head weights.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from tl_active.data.features import FeatureSet
from tl_active.errors import TlActiveError
from tl_active.sessions.database import check_connection, make_engine, reports
from tl_active.sessions.exchange import read_manifest
from tl_active.sessions.records import FORMAT, FORMAT_VERSION, RoundRecord, SessionSettings
from tl_active.sessions.schema import (
    create_or_upgrade,
    kept_answers,
    record_from_row,
    round_values,
    rounds,
    same_round,
    sessions,
)
from tl_active.sessions.session import LabellingSession

SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")


class StaleSessionError(TlActiveError):
    """Another tab or process changed this session first: reload it before going on."""


class UnknownSessionError(TlActiveError):
    """No stored session has this id, or the id is not one this app makes."""


@dataclass(frozen=True)
class SessionSummary:
    """One line of the recent-sessions list."""

    id: str
    summary: str  # e.g. "odd, uncertainty, batch 4, converge, seed 0"
    n_rounds: int
    n_labels: int
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class RoomPoint:
    """One live round of a session, as the room page draws it: a point of a learning curve."""

    session_id: str
    settings: dict  # the session's stored settings (grouped into configurations by the page)
    number: int
    n_labels: int
    accuracy: float | None  # test accuracy after the round; None if the record has none
    answered_at: float


@dataclass(frozen=True)
class StoredRound:
    """A round as stored, live or taken back."""

    record: RoundRecord
    generation: int
    stored_at: float
    undone_at: float | None

    @property
    def undone(self) -> bool:
        return self.undone_at is not None


def new_session_id() -> str:
    """A random URL-safe token of 16 characters (96 bits), never beginning with "-".

    One in 64 tokens would, and a command line reads such an id as an option (`export -x...`);
    a token drawn again is as random as the first. Ids made before stay valid.
    """
    while (token := secrets.token_urlsafe(12)).startswith("-"):
        pass
    return token


def check_session_id(session_id: object) -> str:
    """The id itself if it has the shape of one this app makes, else `UnknownSessionError`."""
    if not isinstance(session_id, str) or not SESSION_ID_PATTERN.fullmatch(session_id):
        shown = repr(session_id) if len(repr(session_id)) <= 80 else repr(session_id)[:77] + "..."
        raise UnknownSessionError(
            f"{shown} is not a session id (expected 8 to 64 letters, digits, '-' or '_')"
        )
    return session_id


def settings_summary(settings: dict) -> str:
    """A short human line for stored settings, tolerant of what it cannot read."""
    try:
        return SessionSettings.from_dict(settings).summary()
    except (KeyError, TypeError, ValueError, OverflowError):
        return "unreadable settings"


class SessionStore:
    """Sessions and their rounds in one database; safe to share between threads and processes."""

    def __init__(self, url: str | None = None):
        if url is None:
            from tl_active.paths import DB_URL

            url = DB_URL
        self.url = url
        self.engine = make_engine(url)
        check_connection(self.engine, url)
        self._create_tables()

    @reports("be set up")
    def _create_tables(self) -> None:
        # Two processes starting at once may both try to create the tables; one of them loses
        # the race harmlessly and finds them made.
        for attempt in range(3):
            try:
                create_or_upgrade(self.engine)
                return
            except SQLAlchemyError:
                if attempt == 2:
                    raise
                time.sleep(0.2)

    def close(self) -> None:
        self.engine.dispose()

    # --- writing ------------------------------------------------------------------------------

    @reports("be written")
    def create(
        self,
        session: LabellingSession,
        session_id: str | None = None,
        *,
        browser_id: str | None = None,
    ) -> str:
        """Store a session, with any rounds it already has, in one transaction; return its id.

        `browser_id` names the browser that made it, for that browser's recent list.
        """
        session_id = check_session_id(session_id) if session_id else new_session_id()
        now = time.time()
        n_labels = session.rounds[-1].n_labels if session.rounds else 0
        with self.engine.begin() as conn:
            try:
                conn.execute(
                    insert(sessions).values(
                        id=session_id,
                        settings=session.settings.as_dict(),
                        model_checksum=session.features.model_checksum,
                        format_version=FORMAT_VERSION,
                        created_at=now,
                        updated_at=now,
                        n_rounds=len(session.rounds),
                        n_labels=n_labels,
                        browser_id=_checked_browser(browser_id),
                    )
                )
            except IntegrityError:
                raise StaleSessionError(
                    f"a session with id {session_id!r} already exists"
                ) from None
            if session.rounds:
                conn.execute(
                    insert(rounds),
                    [
                        {
                            **round_values(r),
                            "session_id": session_id,
                            "generation": 0,
                            "stored_at": now,
                        }
                        for r in session.rounds
                    ],
                )
            if session.kept:
                conn.execute(
                    insert(kept_answers),
                    [
                        {"session_id": session_id, "pool_index": i, "answer": a, "kept_at": now}
                        for i, a in sorted(session.kept)
                    ],
                )
        return session_id

    def import_manifest(self, raw: bytes | str, features: FeatureSet) -> str:
        """Check and replay a manifest in memory, then store it in one transaction; its new id.

        A refused manifest raises `SessionFileError` and writes nothing.
        """
        return self.create(read_manifest(raw, features))

    def _advance(self, conn: Connection, session_id: str, expected: int, new: int) -> None:
        """Move the session from `expected` to `new` live rounds, or raise: the write guard.

        This `UPDATE` is the first statement of every write, so it takes the write lock (SQLite)
        or the row lock (PostgreSQL) before anything is read; a second writer waits for it and
        then finds the count moved on.
        """
        moved = conn.execute(
            update(sessions)
            .where(sessions.c.id == session_id, sessions.c.n_rounds == expected)
            .values(n_rounds=new, updated_at=time.time())
        ).rowcount
        if moved == 1:
            return
        current = conn.execute(
            select(sessions.c.n_rounds).where(sessions.c.id == session_id)
        ).scalar_one_or_none()
        if current is None:
            raise UnknownSessionError(f"there is no stored session {session_id!r}")
        raise StaleSessionError(
            f"session {session_id} has {current} rounds stored, not {expected}: it was changed "
            "in another tab or window; reload it to go on from there"
        )

    def _live_round(self, conn: Connection, session_id: str, number: int):
        return conn.execute(
            select(rounds).where(
                rounds.c.session_id == session_id,
                rounds.c.number == number,
                rounds.c.undone_at.is_(None),
            )
        ).one_or_none()

    def _check_same(self, row, record: RoundRecord, session_id: str) -> None:
        if row is None or not same_round(row, record):
            raise StaleSessionError(
                f"round {record.number} of session {session_id} was taken back and answered "
                "again in another tab or window; reload the session to go on from there"
            )

    @reports("be written")
    def append_round(
        self, session_id: str, record: RoundRecord, *, previous: RoundRecord | None = None
    ) -> None:
        """Store round `record.number` in one transaction, if it is the next one for this session.

        Raises `StaleSessionError` when another writer stored that round first (nothing is
        written). Pass `previous` (the writer's own round `number - 1`) to be told also when
        another tab undid that round and answered it again in the meantime.
        """
        check_session_id(session_id)
        number = int(record.number)
        with self.engine.begin() as conn:
            self._advance(conn, session_id, number - 1, number)
            # Under the guard no other writer touches this session: reading is safe from here.
            if previous is not None:
                self._check_same(
                    self._live_round(conn, session_id, number - 1), previous, session_id
                )
            generation = conn.execute(
                select(func.count())
                .select_from(rounds)
                .where(rounds.c.session_id == session_id, rounds.c.number == number)
            ).scalar_one()
            try:
                conn.execute(
                    insert(rounds).values(
                        **round_values(record),
                        session_id=session_id,
                        generation=generation,
                        stored_at=time.time(),
                    )
                )
            except IntegrityError:
                raise StaleSessionError(
                    f"round {number} of session {session_id} was stored by another writer; "
                    "reload the session"
                ) from None
            conn.execute(
                update(sessions)
                .where(sessions.c.id == session_id)
                .values(n_labels=int(record.n_labels))
            )

    @reports("be written")
    def undo_round(self, session_id: str, round_: int | RoundRecord) -> None:
        """Take back the last live round; it stays stored, marked undone, for exports.

        `round_` is its number, or better the writer's own record of it, which also catches
        another tab having undone and answered that round again. Raises `StaleSessionError`
        when it is not the last live round (nothing is written).
        """
        check_session_id(session_id)
        record = round_ if isinstance(round_, RoundRecord) else None
        number = int(record.number if record else round_)
        if number < 1:
            raise StaleSessionError(f"there is no round {number} to undo")
        with self.engine.begin() as conn:
            self._advance(conn, session_id, number, number - 1)
            if record is not None:
                self._check_same(self._live_round(conn, session_id, number), record, session_id)
            before = self._live_round(conn, session_id, number - 1) if number > 1 else None
            conn.execute(
                update(rounds)
                .where(
                    rounds.c.session_id == session_id,
                    rounds.c.number == number,
                    rounds.c.undone_at.is_(None),
                )
                .values(undone_at=time.time())
            )
            conn.execute(
                update(sessions)
                .where(sessions.c.id == session_id)
                .values(n_labels=before.n_labels if before is not None else 0)
            )

    @reports("be written")
    def keep_answer(self, session_id: str, index: int, answer: str) -> None:
        """Store that the person looked again at image `index`'s answer and kept it.

        No round and no version move: the pair only counts while `answer` is the image's live
        one, so a tab behind another cannot clear a suspicion it did not see. Keeping the same
        pair again writes nothing.
        """
        check_session_id(session_id)
        pair = (
            kept_answers.c.session_id == session_id,
            kept_answers.c.pool_index == int(index),
            kept_answers.c.answer == str(answer),
        )
        with self.engine.begin() as conn:
            self._session_row(conn, session_id)
            if conn.execute(select(kept_answers.c.kept_at).where(*pair)).first() is None:
                conn.execute(
                    insert(kept_answers).values(
                        session_id=session_id,
                        pool_index=int(index),
                        answer=str(answer),
                        kept_at=time.time(),
                    )
                )

    @reports("be written")
    def claim(self, session_id: str, browser_id: str) -> str | None:
        """Record `browser_id` as the maker of a session no browser has yet; its maker after.

        A browser's id may be known only after its first page has run (it comes from the
        browser), so the session that page started is claimed then. A session another browser
        made stays that browser's. None if there is no such session (not stored yet).
        """
        check_session_id(session_id)
        with self.engine.begin() as conn:
            conn.execute(
                update(sessions)
                .where(sessions.c.id == session_id, sessions.c.browser_id.is_(None))
                .values(browser_id=_checked_browser(browser_id))
            )
            return conn.execute(
                select(sessions.c.browser_id).where(sessions.c.id == session_id)
            ).scalar_one_or_none()

    @reports("be written")
    def delete(self, session_id: str) -> None:
        """Forget a session and all its rounds."""
        check_session_id(session_id)
        with self.engine.begin() as conn:
            conn.execute(rounds.delete().where(rounds.c.session_id == session_id))
            conn.execute(kept_answers.delete().where(kept_answers.c.session_id == session_id))
            conn.execute(sessions.delete().where(sessions.c.id == session_id))

    # --- reading ------------------------------------------------------------------------------

    def _session_row(self, conn: Connection, session_id: str):
        row = conn.execute(select(sessions).where(sessions.c.id == session_id)).one_or_none()
        if row is None:
            raise UnknownSessionError(
                f"there is no stored session {session_id!r}; it may have been made on another "
                "server or deleted"
            )
        return row

    def exists(self, session_id: str) -> bool:
        try:
            self.round_count(session_id)
        except UnknownSessionError:
            return False
        return True

    @reports("be read")
    def round_count(self, session_id: str) -> int:
        """Live rounds stored: compare with the tab's own count to know whether it is behind."""
        check_session_id(session_id)
        with self.engine.connect() as conn:
            return int(self._session_row(conn, session_id).n_rounds)

    @reports("be read")
    def session_dict(self, session_id: str) -> dict:
        """The stored session in `LabellingSession.to_dict()` form (live rounds only)."""
        check_session_id(session_id)
        with self.engine.connect() as conn:
            row = self._session_row(conn, session_id)
            live = conn.execute(
                select(rounds)
                .where(rounds.c.session_id == session_id, rounds.c.undone_at.is_(None))
                .order_by(rounds.c.number)
            ).all()
            kept = conn.execute(
                select(kept_answers.c.pool_index, kept_answers.c.answer)
                .where(kept_answers.c.session_id == session_id)
                .order_by(kept_answers.c.pool_index, kept_answers.c.answer)
            ).all()
        data = {
            "format": FORMAT,
            "version": FORMAT_VERSION,  # rounds are upgraded when stored
            "model_checksum": row.model_checksum,
            "settings": row.settings,
            "rounds": [r.record for r in live],
        }
        if kept:
            data["kept"] = [[int(i), a] for i, a in kept]
        return data

    def load(self, session_id: str, features: FeatureSet) -> LabellingSession:
        """The stored session rebuilt from its live rounds over `features`.

        The store is the app's own: its rounds were checked when made or imported, so their
        recorded heads are taken with a check of the last round only. A session stored under
        another CNN raises `SessionFileError`, as an imported file would.
        """
        return LabellingSession.from_dict(self.session_dict(session_id), features, check="last")

    @reports("be read")
    def history(self, session_id: str) -> list[StoredRound]:
        """Every round stored for the session, taken-back ones included, in the order stored."""
        check_session_id(session_id)
        with self.engine.connect() as conn:
            self._session_row(conn, session_id)
            rows = conn.execute(
                select(rounds).where(rounds.c.session_id == session_id).order_by(rounds.c.id)
            ).all()
        return [
            StoredRound(record_from_row(r), r.generation, r.stored_at, r.undone_at) for r in rows
        ]

    @reports("be read")
    def recent(self, limit: int = 10, browser_id: str | None = None) -> list[SessionSummary]:
        """The most recently changed sessions first; only those `browser_id` made, if given."""
        query = select(sessions).order_by(sessions.c.updated_at.desc()).limit(int(limit))
        if browser_id is not None:
            query = query.where(sessions.c.browser_id == browser_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            SessionSummary(
                id=r.id,
                summary=settings_summary(r.settings),
                n_rounds=r.n_rounds,
                n_labels=r.n_labels,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
            for r in rows
        ]

    @reports("be read")
    def room_curves(self, since: float) -> list[RoomPoint]:
        """Every live round of the sessions changed since `since` (unix seconds), in one query.

        Only the test accuracy is read out of each record (in the database, not in Python), so
        a room page can poll this every few seconds without replaying or parsing sessions.
        Ordered by session, then round.
        """
        accuracy = rounds.c.record[("metrics", "accuracy")].as_float()
        query = (
            select(
                sessions.c.id,
                sessions.c.settings,
                rounds.c.number,
                rounds.c.n_labels,
                accuracy,
                rounds.c.answered_at,
            )
            .join(rounds, rounds.c.session_id == sessions.c.id)
            .where(sessions.c.updated_at >= float(since), rounds.c.undone_at.is_(None))
            .order_by(sessions.c.id, rounds.c.number)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [RoomPoint(*row) for row in rows]


def _checked_browser(browser_id: str | None) -> str | None:
    # Made by the browser, so shaped like a session id or refused (never stored as given).
    return None if browser_id is None else check_session_id(browser_id)


__all__ = [
    "RoomPoint",
    "SessionStore",
    "SessionSummary",
    "StaleSessionError",
    "StoredRound",
    "UnknownSessionError",
    "check_session_id",
    "new_session_id",
]
