"""Shared fixtures: the app's database, a silent database, a real Streamlit server and Chromium.

The server and the browser are started once per test session and only when a test asks for them.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture
def app_db(tmp_path, monkeypatch) -> str:
    """The app's session store on a fresh database file, for AppTest (which runs in-process).

    The app's store is cached per database URL, which it reads from `paths.DB_URL` on each run.
    """
    from tl_active import paths

    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    monkeypatch.setattr(paths, "DB_URL", url)
    return url


@pytest.fixture
def store(tmp_path):
    """A session store on a fresh database (see store_db), closed after the test."""
    from store_db import fresh_store

    store = fresh_store(tmp_path)
    yield store
    store.close()


@pytest.fixture
def silent_server():
    """The port of a TCP server on 127.0.0.1 that accepts every connection and never says a word."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            accepted.append(connection)  # held open, never read from or written to

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.fixture(scope="session")
def streamlit_server(tmp_path_factory):
    from browser_support import StreamlitServer

    # Its own session database, so that tests never write into data/sessions.db.
    db = tmp_path_factory.mktemp("server-db") / "sessions.db"
    server = StreamlitServer(ARTIFACTS / "streamlit-server.log", env={"TL_ACTIVE_DB": str(db)})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    # A plain import: a missing Playwright must fail the browser tests, not skip them.
    from browser_support import CHROMIUM, launch_chromium
    from playwright import sync_api

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's Chromium")
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()
