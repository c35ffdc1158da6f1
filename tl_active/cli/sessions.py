"""`python -m tl_active import` and `export`: a session's manifest into the store, and a stored
session's labels (CSV) and manifest (JSON) out of it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tl_active import paths
from tl_active.cli.common import session_features
from tl_active.errors import TlActiveError
from tl_active.paths import check_writable_folder, db_url
from tl_active.safe_writes import write_files

# Where `make run` serves the app: a session's link is this with `/?session=<id>`.
APP_URL = "http://localhost:8501"

DB_HELP = (
    "the session database: an SQLite file or a URL (default: TL_ACTIVE_DB, else data/sessions.db)"
)


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", type=Path, help="a manifest exported by tl-active")
    parser.add_argument("--db", help=DB_HELP)


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session_id", help="the id in the session's link, ?session=<id>")
    parser.add_argument("--out", type=Path, default=Path("."), help="output folder")
    parser.add_argument("--db", help=DB_HELP)


def _open_store(args: argparse.Namespace):
    from tl_active.sessions.store import SessionStore

    return SessionStore(db_url(args.db) if args.db else None)


def _read_manifest_file(path: Path) -> bytes:
    from tl_active.sessions.exchange import read_manifest_file

    return read_manifest_file(path)


def _manifest_settings(raw: bytes) -> object:
    """The settings a manifest names, to choose its features; None if it cannot be read.

    Only a hint: the manifest reader checks everything, and says what is wrong, afterwards.
    """
    try:
        return json.loads(raw).get("settings")
    except (ValueError, RecursionError, AttributeError):
        return None


def _sqlite_file(url: str) -> Path | None:
    """The file an SQLite URL names; None for another database, "" for one held in memory."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # the store says what is wrong with the URL
    if parsed.get_backend_name() != "sqlite":
        return None
    name = parsed.database or ""
    return Path(name) if name and name != ":memory:" else Path("")


def run_import(args: argparse.Namespace) -> None:
    """Replay a manifest and store it as a new session; a refused one writes nothing."""
    url = db_url(args.db) if args.db else paths.DB_URL
    database = _sqlite_file(url)
    if database == Path(""):
        raise TlActiveError(
            f"--db {url}: an SQLite database in memory vanishes when the command ends, so the "
            "session would be lost; give a file or a server's URL"
        )
    raw = _read_manifest_file(args.manifest)
    store = _open_store(args)
    try:
        try:
            features = session_features(args, _manifest_settings(raw))
            session_id = store.import_manifest(raw, features)
        except TlActiveError as error:
            # Replayed in memory and stored in one transaction: a failure anywhere stores nothing.
            raise TlActiveError(
                f"{args.manifest} was not imported, nothing was stored: {error}"
            ) from None
        n = store.round_count(session_id)
    finally:
        store.close()
    if database is not None and not database.exists():
        # SQLite keeps writing to a file deleted under it; nothing would open the session again.
        raise TlActiveError(
            f"the database file {database} vanished during the import: session {session_id} "
            "was not kept; import again"
        )
    print(f"imported {args.manifest}: session {session_id}, {n} round{'s' * (n != 1)} replayed")
    print(f"{APP_URL}/?session={session_id}")


def run_export(args: argparse.Namespace) -> None:
    """Write a stored session's labels (CSV) and manifest (JSON) into a folder."""
    from tl_active.sessions.exchange import labels_csv, manifest_json
    from tl_active.sessions.store import check_session_id

    session_id = check_session_id(args.session_id)
    store = _open_store(args)
    try:
        store.round_count(session_id)  # an unknown id is refused before any work or any file
        check_writable_folder(args.out, "--out")
        features = session_features(args, store.session_dict(session_id)["settings"])
        session = store.load(session_id, features)
        undone = [h.record for h in store.history(session_id) if h.undone]
    finally:
        store.close()
    out = Path(args.out)
    labels, manifest = (
        out / f"tl-active-{session_id}-labels.csv",
        out / f"tl-active-{session_id}.json",
    )
    # Both files or neither: a full disk or a folder in the way leaves no half an export behind.
    write_files({labels: labels_csv(session, undone=undone), manifest: manifest_json(session)})
    print(f"wrote {labels} and {manifest}")
