"""Shared fixtures: a real Streamlit server and a real Chromium, for the tests marked `browser`.

Both are started once per test session and only when a browser test asks for them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="session")
def streamlit_server():
    from browser_support import StreamlitServer

    server = StreamlitServer(ARTIFACTS / "streamlit-server.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    sync_api = pytest.importorskip("playwright.sync_api")
    from browser_support import CHROMIUM, launch_chromium

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's Chromium")
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()
