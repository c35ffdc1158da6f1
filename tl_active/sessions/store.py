"""Where labelling sessions live between requests: a database, through SQLAlchemy.

Each submitted round is written in one transaction before the app moves on, so a refresh, a
closed tab or a killed server loses nothing already submitted. The database is an SQLite file by
default (`paths.DB_URL`, from `TL_ACTIVE_DB`); a `postgresql+psycopg://` URL works with the same
code for a shared deployment. SQLite runs in WAL mode with a busy timeout, so several server
processes can write one file.

Two tables:

- `sessions`: `id` (a random URL-safe token, the `?session=` of the app), `settings` (JSON:
  backbone, layer, task, strategy, batch size, head mode, seed), `model_checksum` (the CNN the labels were
  given under), `format_version`, `created_at`, `updated_at` (unix seconds), and `n_rounds` and
  `n_labels` of the live rounds, and `browser_id` (the browser that made it, or null).
  `n_rounds` is also the session's version: every write first
  moves it from the value the writer expects to the next one, in a single guarded `UPDATE`, so
  of two writers who saw the same state exactly one wins and the other gets
  `StaleSessionError` (its tab is behind and must reload).
- `round_records`: one row per submitted round, `(session_id, number, generation)` unique. Its
  `record` is the session's `RoundRecord` as JSON (batch, answers, the strategy's scores, the
  head's weights, figures); `n_labels` and `answered_at` are columns too, for queries, with
  `stored_at` and `undone_at`. Undo never deletes: it stamps `undone_at`, so exports can still
  show what was taken back. A round submitted again after an undo gets the next `generation` of
  its number; live rounds are those with `undone_at` null. A database of the first version
  (a `rounds` table, one column per field of a binary round) is upgraded on first open, and one
  without `browser_id` gets the column (null: made by no browser in particular).

The store keeps settings and answers; `load` rebuilds the live session by replaying them over the
frozen features, which also checks the recorded head weights.

Whatever goes wrong with the database itself (unreachable, silent, a missing driver, a folder
that is a file, a failed query) comes out as one `StoreError` in plain words: the database's own
short reason and what to do, never the SQL statement or its parameters, which may hold a
person's labels and mean nothing to them. A PostgreSQL server that accepts the connection and
then never answers is given up on after `CONNECT_TIMEOUT_S`, rather than hanging the page.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import orjson
from sqlalchemy import (
    JSON,
    Column,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, SQLAlchemyError

from tl_active.data.features import FeatureSet
from tl_active.errors import TlActiveError
from tl_active.paths import file_in_the_way
from tl_active.sessions.exchange import read_manifest
from tl_active.sessions.session import (
    FORMAT,
    FORMAT_VERSION,
    LabellingSession,
    RoundRecord,
    SessionSettings,
    upgrade_round,
)

SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
BUSY_TIMEOUT_S = 15.0
# PostgreSQL: how long to wait for a server to answer a new connection (psycopg's own minimum is
# 2 s), and for one statement, a wait for another writer's row lock included.
CONNECT_TIMEOUT_S = 3
STATEMENT_TIMEOUT_S = BUSY_TIMEOUT_S
_FIX = "point TL_ACTIVE_DB at a database this app can reach and write"
# The package that provides each database driver SQLAlchemy may ask for, by its module's name.
_DRIVER_PACKAGES = {
    "MySQLdb": "mysqlclient",
    "pymysql": "PyMySQL",
    "mysql": "mysql-connector-python",
    "mariadb": "mariadb",
    "psycopg": "'psycopg[binary]'",
    "psycopg2": "psycopg2-binary",
    "pg8000": "pg8000",
    "asyncpg": "asyncpg",
    "oracledb": "oracledb",
    "cx_Oracle": "cx_Oracle",
    "pyodbc": "pyodbc",
    "pymssql": "pymssql",
}

metadata = MetaData()

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("settings", JSON, nullable=False),
    Column("model_checksum", String(64), nullable=False),
    Column("format_version", Integer, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("n_rounds", Integer, nullable=False, default=0),
    Column("n_labels", Integer, nullable=False, default=0),
    # The browser that made the session (an id it keeps in localStorage), so that its recent
    # list shows only its own; null for sessions stored before browsers were told apart.
    Column("browser_id", String(64), nullable=True),
)

# Version 2 of the rounds: the whole `RoundRecord` as one JSON value, so that the store never
# spells out its fields (the session defines them). Version-1 rows, one column per field of a
# binary head's round, are moved here once by `_upgrade_v1_rounds` (see `SessionStore`).
rounds = Table(
    "round_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("generation", Integer, nullable=False, default=0),
    Column("record", JSON, nullable=False),
    Column("n_labels", Integer, nullable=False),
    Column("answered_at", Double, nullable=False),
    Column("stored_at", Double, nullable=False),
    Column("undone_at", Double, nullable=True),
    UniqueConstraint("session_id", "number", "generation", name="one_round_record_per_generation"),
)
V1_ROUNDS = "rounds"
_ROW_ONLY = ("id", "session_id", "generation", "stored_at", "undone_at")


class StaleSessionError(TlActiveError):
    """Another tab or process changed this session first: reload it before going on."""


class UnknownSessionError(TlActiveError):
    """No stored session has this id, or the id is not one this app makes."""


class StoreError(TlActiveError):
    """The session database cannot be reached, opened, read or written; the message says why."""


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


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def shown_url(url: str | URL) -> str:
    """The database URL as it may be shown to a person: with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(str(url))


def short_reason(error: BaseException) -> str:
    """The database's own first line on what went wrong, without SQL, parameters or links.

    SQLAlchemy's message appends the statement and its parameters; the driver's own error
    (`orig`) does not, and its first line is the reason (later lines may quote row values).
    """
    source = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(source).splitlines() if line.strip()]
    reason = (
        lines[0].split("[SQL:")[0].split("(Background on this error")[0].strip() if lines else ""
    )
    return reason or type(source).__name__


def _make_folder(database: str) -> None:
    """Create the folder of an SQLite file, or say plainly why it cannot be."""
    folder = Path(database).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = file_in_the_way(folder) or folder
        raise StoreError(
            f"the session database {database} cannot be made: {blocker} is a file, not a "
            f"folder; move that file away or {_FIX}"
        ) from None
    except OSError as error:
        raise StoreError(
            f"the folder {folder} of the session database cannot be made ({error.strerror}); {_FIX}"
        ) from None


def make_engine(url: str) -> Engine:
    """An engine for `url`; for a SQLite file, its folder is created and WAL mode is set.

    Raises `StoreError` for a URL that is not one, a kind of database SQLAlchemy does not know,
    a driver that is not installed (naming the package to install), or a folder that cannot be.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"{shown_url(url)} is not a database URL (an SQLite file's path, or a URL such as "
            f"postgresql+psycopg://user@host/db); {_FIX}"
        ) from None
    # Stored rounds are read back with orjson: reopening a 10,000-round session decodes 11 MB
    # of them, half a second with the json module and a fifth of that with orjson.
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                _make_folder(parsed.database)
            engine = create_engine(
                url, connect_args={"timeout": BUSY_TIMEOUT_S}, json_deserializer=orjson.loads
            )
            _configure_sqlite(engine)
            return engine
        connect_args = {}
        if parsed.get_driver_name() in ("psycopg", "psycopg2"):
            # A server that accepts the connection and never answers would hang every page.
            # Both drivers pass these to libpq; settings given in the URL itself win.
            defaults = {
                "connect_timeout": CONNECT_TIMEOUT_S,
                "options": f"-c statement_timeout={int(STATEMENT_TIMEOUT_S * 1000)}",
            }
            connect_args = {k: v for k, v in defaults.items() if k not in parsed.query}
        return create_engine(
            url, pool_pre_ping=True, connect_args=connect_args, json_deserializer=orjson.loads
        )
    except NoSuchModuleError:
        raise StoreError(
            f"{shown_url(url)}: there is no database kind {parsed.drivername.split('+')[0]!r} "
            f"(use sqlite or postgresql+psycopg); {_FIX}"
        ) from None
    except ImportError as error:
        module = (error.name or "").split(".")[0]
        package = _DRIVER_PACKAGES.get(module)
        install = f"`pip install {package}`" if package else "install the package that provides it"
        raise StoreError(
            f"{shown_url(url)} needs the database driver {module!r}, which is not installed: "
            f"{install}, or {_FIX}"
        ) from None


def _reports(doing: str):
    """Turn a database error inside a store method into a `StoreError` saying what failed."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except SQLAlchemyError as error:
                raise StoreError(
                    f"the session database {shown_url(self.url)} could not {doing}: "
                    f"{short_reason(error)}; check that it is up and writable, or {_FIX}"
                ) from error

        return wrapper

    return decorate


def _plain(value):
    # JSON columns and the database driver refuse numpy scalars and arrays.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} cannot be stored")


def _round_values(record: RoundRecord) -> dict:
    return {
        "number": int(record.number),
        "record": json.loads(json.dumps(asdict(record), default=_plain)),
        "n_labels": int(record.n_labels),
        "answered_at": float(record.answered_at),
    }


def _record_from_row(row) -> RoundRecord:
    return RoundRecord.from_dict(row.record)


def _same_round(row, record: RoundRecord) -> bool:
    """Whether a stored row is this very submission (not a later answer to the same number)."""
    return (
        list(row.record["indices"]) == [int(i) for i in record.indices]
        and list(row.record["answers"]) == [str(a) for a in record.answers]
        and row.answered_at == float(record.answered_at)
    )


def _upgrade_v1_rounds(engine: Engine) -> None:
    """Move the rounds of a version-1 database into today's table, once, in one transaction.

    The old table is renamed `rounds_v1` afterwards, which is also what marks the move as done.
    """
    if V1_ROUNDS not in inspect(engine).get_table_names():
        return
    with engine.begin() as conn:
        old = Table(V1_ROUNDS, MetaData(), autoload_with=conn)
        rows = conn.execute(select(old)).mappings().all()
        if rows:
            conn.execute(
                insert(rounds),
                [
                    {
                        "session_id": r["session_id"],
                        "number": r["number"],
                        "generation": r["generation"],
                        "record": upgrade_round(
                            {k: v for k, v in r.items() if k not in _ROW_ONLY}, 1
                        ),
                        "n_labels": r["n_labels"],
                        "answered_at": r["answered_at"],
                        "stored_at": r["stored_at"],
                        "undone_at": r["undone_at"],
                    }
                    for r in rows
                ],
            )
        conn.execute(text(f"ALTER TABLE {V1_ROUNDS} RENAME TO {V1_ROUNDS}_v1"))


def _add_browser_column(engine: Engine) -> None:
    """Give a database made before browsers were told apart its `browser_id` column, once."""
    if "browser_id" in {c["name"] for c in inspect(engine).get_columns("sessions")}:
        return
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE sessions ADD COLUMN browser_id VARCHAR(64)"))


class SessionStore:
    """Sessions and their rounds in one database; safe to share between threads and processes."""

    def __init__(self, url: str | None = None):
        if url is None:
            from tl_active.paths import DB_URL

            url = DB_URL
        self.url = url
        self.engine = make_engine(url)
        self._connect()
        self._create_tables()

    def _connect(self) -> None:
        # Once on its own, so that a database that cannot be reached is said so at once, and
        # not retried like the harmless race below.
        try:
            with self.engine.connect():
                pass
        except SQLAlchemyError as error:
            self.engine.dispose()
            if self.engine.url.get_backend_name() == "sqlite":
                check = "Check that it is an SQLite file this app can open and write"
            else:
                check = (
                    "Check that the server is running and answers at that address (one silent "
                    f"for {CONNECT_TIMEOUT_S} s is given up on)"
                )
            raise StoreError(
                f"cannot connect to the session database {shown_url(self.url)}: "
                f"{short_reason(error)}. {check}, or {_FIX}"
            ) from error

    @_reports("be set up")
    def _create_tables(self) -> None:
        # Two processes starting at once may both try to create the tables; one of them loses
        # the race harmlessly and finds them made.
        for attempt in range(3):
            try:
                metadata.create_all(self.engine)
                _upgrade_v1_rounds(self.engine)
                _add_browser_column(self.engine)
                return
            except SQLAlchemyError:
                if attempt == 2:
                    raise
                time.sleep(0.2)

    def close(self) -> None:
        self.engine.dispose()

    # --- writing ------------------------------------------------------------------------------

    @_reports("be written")
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
                            **_round_values(r),
                            "session_id": session_id,
                            "generation": 0,
                            "stored_at": now,
                        }
                        for r in session.rounds
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
        if row is None or not _same_round(row, record):
            raise StaleSessionError(
                f"round {record.number} of session {session_id} was taken back and answered "
                "again in another tab or window; reload the session to go on from there"
            )

    @_reports("be written")
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
                        **_round_values(record),
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

    @_reports("be written")
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

    @_reports("be written")
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

    @_reports("be written")
    def delete(self, session_id: str) -> None:
        """Forget a session and all its rounds."""
        check_session_id(session_id)
        with self.engine.begin() as conn:
            conn.execute(rounds.delete().where(rounds.c.session_id == session_id))
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

    @_reports("be read")
    def round_count(self, session_id: str) -> int:
        """Live rounds stored: compare with the tab's own count to know whether it is behind."""
        check_session_id(session_id)
        with self.engine.connect() as conn:
            return int(self._session_row(conn, session_id).n_rounds)

    @_reports("be read")
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
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,  # rounds are upgraded when stored
            "model_checksum": row.model_checksum,
            "settings": row.settings,
            "rounds": [r.record for r in live],
        }

    def load(self, session_id: str, features: FeatureSet) -> LabellingSession:
        """The stored session rebuilt from its live rounds over `features`.

        The store is the app's own: its rounds were checked when made or imported, so their
        recorded heads are taken with a check of the last round only. A session stored under
        another CNN raises `SessionFileError`, as an imported file would.
        """
        return LabellingSession.from_dict(self.session_dict(session_id), features, check="last")

    @_reports("be read")
    def history(self, session_id: str) -> list[StoredRound]:
        """Every round stored for the session, taken-back ones included, in the order stored."""
        check_session_id(session_id)
        with self.engine.connect() as conn:
            self._session_row(conn, session_id)
            rows = conn.execute(
                select(rounds).where(rounds.c.session_id == session_id).order_by(rounds.c.id)
            ).all()
        return [
            StoredRound(_record_from_row(r), r.generation, r.stored_at, r.undone_at) for r in rows
        ]

    @_reports("be read")
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

    @_reports("be read")
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
    "StoreError",
    "StoredRound",
    "UnknownSessionError",
    "check_session_id",
    "new_session_id",
]
