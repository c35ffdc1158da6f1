"""Reaching the session database: the engine for a URL, and one `StoreError` in plain words.

The database is an SQLite file by default (`paths.DB_URL`, from `TL_ACTIVE_DB`); a
`postgresql+psycopg://` URL works with the same code for a shared deployment. SQLite runs in WAL
mode with a busy timeout, so several server processes can write one file.

Whatever goes wrong with the database itself (unreachable, silent, a missing driver, a folder
that is a file, a failed query) comes out as one `StoreError` in plain words: the database's own
short reason and what to do, never the SQL statement or its parameters, which may hold a
person's labels and mean nothing to them. A PostgreSQL server that accepts the connection and
then never answers is given up on after `CONNECT_TIMEOUT_S`, rather than hanging the page.
"""

from __future__ import annotations

import functools
from pathlib import Path

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from tl_active.errors import TlActiveError
from tl_active.paths import file_in_the_way

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


class StoreError(TlActiveError):
    """The session database cannot be reached, opened, read or written; the message says why."""


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


def check_connection(engine: Engine, url: str) -> None:
    """Connect once, or `StoreError` saying plainly that the database cannot be reached."""
    # Once on its own, so that a database that cannot be reached is said so at once, and not
    # retried like the harmless race of two processes creating the tables.
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as error:
        engine.dispose()
        if engine.url.get_backend_name() == "sqlite":
            check = "Check that it is an SQLite file this app can open and write"
        else:
            check = (
                "Check that the server is running and answers at that address (one silent "
                f"for {CONNECT_TIMEOUT_S} s is given up on)"
            )
        raise StoreError(
            f"cannot connect to the session database {shown_url(url)}: "
            f"{short_reason(error)}. {check}, or {_FIX}"
        ) from error


def reports(doing: str):
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


__all__ = [
    "BUSY_TIMEOUT_S",
    "CONNECT_TIMEOUT_S",
    "StoreError",
    "check_connection",
    "make_engine",
    "reports",
    "short_reason",
    "shown_url",
]
