"""The real server killed with SIGKILL in the middle of a session, started again: nothing is lost.

Chromium labels a batch with the keys and fast-forwards with auto-labelling; the Streamlit
process is then killed outright, and a new one on the same database and port serves the
session's link with every round, and its labels CSV.
"""

from __future__ import annotations

import csv
import io
import os
import signal
from urllib.parse import parse_qs, urlparse

import pytest
from browser_support import StreamlitServer
from conftest import ARTIFACTS

pytestmark = [pytest.mark.server, pytest.mark.browser]

PROGRESS = "[data-testid='stMarkdownContainer'] p:has-text('labels in')"


def progress_text(page) -> str:
    return page.locator(PROGRESS).first.inner_text()


def test_a_killed_server_loses_no_round_and_the_link_resumes_the_session(tmp_path, chromium):
    env = {"TL_ACTIVE_DB": str(tmp_path / "sessions.db")}
    server = StreamlitServer(ARTIFACTS / "restart-server-1.log", env=env).start()
    context = chromium.new_context(viewport={"width": 1500, "height": 2300})
    try:
        page = context.new_page()
        page.goto(server.url)
        page.get_by_role("button", name="Submit batch").wait_for(timeout=60_000)
        for count, key in enumerate("oeoe", start=1):
            page.keyboard.press(key)
            page.get_by_role("button", name=f"Submit batch ({count}/4)").wait_for(timeout=10_000)
        page.keyboard.press("Enter")
        page.get_by_text("Round 1 learned: 4 labels").wait_for(timeout=15_000)
        page.get_by_role("button", name="Auto-label 5 rounds").click()
        page.get_by_text("5 rounds answered by MNIST's ground truth").wait_for(timeout=30_000)
        before = progress_text(page)
        assert before.startswith("24 labels in 6 rounds (5 auto-labelled)")
        session_id = parse_qs(urlparse(page.url).query)["session"][0]

        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(10)
        assert server.process.returncode == -signal.SIGKILL

        server = StreamlitServer(
            ARTIFACTS / "restart-server-2.log", env=env, port=server.port
        ).start()
        fresh = context.new_page()
        fresh.goto(f"{server.url}?session={session_id}")
        fresh.locator(PROGRESS).first.wait_for(timeout=60_000)
        assert progress_text(fresh) == before
        fresh.get_by_text("Weights after round 6: 24 labels (auto-labelled)").first.wait_for(
            timeout=30_000
        )
        assert parse_qs(urlparse(fresh.url).query)["session"] == [session_id]

        with fresh.expect_download(timeout=30_000) as download:
            fresh.get_by_role("button", name="Labels as CSV").click()
        rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
        assert len(rows) == 24
        assert sorted({int(r["round"]) for r in rows}) == [1, 2, 3, 4, 5, 6]
        assert [r["answer"] for r in rows[:4]] == ["positive", "negative", "positive", "negative"]
        assert {r["simulated"] for r in rows[4:]} == {"True"}
    finally:
        context.close()
        server.stop()
