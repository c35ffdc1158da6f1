"""The database the store tests run on: a fresh SQLite file, or the one `TL_ACTIVE_TEST_DB` names.

With `TL_ACTIVE_TEST_DB=postgresql+psycopg://...` the same tests run against PostgreSQL; its
tables are dropped and made afresh for each test, so point it at a throwaway database.
"""

from __future__ import annotations

import os

from tl_active.sessions.schema import metadata
from tl_active.sessions.store import SessionStore

TEST_DB = os.environ.get("TL_ACTIVE_TEST_DB", "")


def db_url(tmp_path) -> str:
    return TEST_DB or f"sqlite:///{tmp_path / 'sessions.db'}"


def fresh_store(tmp_path) -> SessionStore:
    store = SessionStore(db_url(tmp_path))
    if TEST_DB:
        metadata.drop_all(store.engine)
        metadata.create_all(store.engine)
    return store
