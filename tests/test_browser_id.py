"""Each browser lists its own sessions: two Chromium contexts (two browsers) on one real server."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

pytestmark = [pytest.mark.server, pytest.mark.browser]

ID = re.compile(r"^[A-Za-z0-9_-]{16}$")
# A line of the recent list: "<settings>: 1 round, 4 labels, <when>"
RECENT = re.compile(r"\d+ rounds?, \d+ labels, ")


def open_browser(chromium, url: str):
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(url)
    page.get_by_role("button", name="Submit batch").first.wait_for(timeout=60_000)
    return context, page


def own_id(page) -> str:
    page.wait_for_function("() => localStorage.getItem('tl-active-browser')", timeout=10_000)
    return page.evaluate("() => localStorage.getItem('tl-active-browser')")


def auto_label_one_round(page) -> str:
    page.get_by_label("Rounds to auto-label").fill("1")
    page.get_by_label("Rounds to auto-label").press("Enter")
    page.get_by_role("button", name="Auto-label 1 rounds").click()
    expect(page.get_by_text(re.compile(r"\b4 labels in 1 round\b")).first).to_be_visible()
    return re.search(r"session=([A-Za-z0-9_-]+)", page.url).group(1)


def recent_lines(page) -> list[str]:
    sidebar = page.locator('[data-testid="stSidebar"]')
    return [t for t in sidebar.get_by_role("button").all_inner_texts() if RECENT.search(t)]


def test_each_browser_keeps_an_id_and_lists_only_its_own_sessions(streamlit_server, chromium):
    alice, alice_page = open_browser(chromium, streamlit_server.url)
    bob, bob_page = open_browser(chromium, streamlit_server.url)
    try:
        alice_id, bob_id = own_id(alice_page), own_id(bob_page)
        assert ID.match(alice_id) and ID.match(bob_id) and alice_id != bob_id
        auto_label_one_round(alice_page)
        auto_label_one_round(bob_page)

        # A new visit from the same browser: the same id, its cookie sent, its own list.
        alice_page.goto(streamlit_server.url)
        alice_page.get_by_role("button", name="Submit batch").first.wait_for(timeout=60_000)
        assert own_id(alice_page) == alice_id
        assert {c["name"]: c["value"] for c in alice.cookies()}["tl_active_browser"] == alice_id
        expect(alice_page.get_by_text("Recent sessions")).to_be_visible()
        alice_page.wait_for_timeout(500)  # the id's rerun, if any, has landed
        # Her labelled session (the new visit stores nothing until answered): not bob's, nor
        # other tests' sessions.
        lines = recent_lines(alice_page)
        assert [": 1 round, 4 labels, " in line for line in lines] == [True], lines
        # Bob is still on his: it is marked as this session (its counts are the progress
        # line's), and the list holds nothing else.
        assert recent_lines(bob_page) == []
        bob_sidebar = bob_page.locator('[data-testid="stSidebar"]')
        mine = [t for t in bob_sidebar.get_by_role("button").all_inner_texts() if "▶" in t]
        assert len(mine) == 1 and mine[0].endswith(": this session"), mine
    finally:
        alice.close()
        bob.close()


def count_page_runs(page) -> list[int]:
    """A counter of the page's whole-script runs, read from the server's messages as they come."""
    runs = [0]

    def on_frame(payload) -> None:
        if isinstance(payload, str):
            return
        message = ForwardMsg()
        message.ParseFromString(payload)
        # A fragment's run ends with FINISHED_FRAGMENT_RUN_SUCCESSFULLY, not counted.
        if message.WhichOneof("type") == "script_finished" and (
            message.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY
        ):
            runs[0] += 1

    page.on("websocket", lambda socket: socket.on("framereceived", on_frame))
    return runs


def test_a_first_visit_takes_one_page_run_with_an_id_made_by_the_server(streamlit_server, chromium):
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        runs = count_page_runs(page)
        page.goto(streamlit_server.url)
        page.get_by_role("button", name="Submit batch").first.wait_for(timeout=60_000)
        stored = own_id(page)
        page.wait_for_timeout(1_500)  # a rerun asked for by the component would land by now
        assert runs[0] == 1
        assert ID.match(stored)
        assert {c["name"]: c["value"] for c in context.cookies()}["tl_active_browser"] == stored

        # A browser that kept its id but lost its cookie: the page learns the kept one, in one
        # more run, and the browser keeps it.
        kept = "kept-id-0123456789"
        context.clear_cookies()
        page.evaluate(f"() => localStorage.setItem('tl-active-browser', '{kept}')")
        runs[0] = 0
        page.goto(streamlit_server.url)
        page.get_by_role("button", name="Submit batch").first.wait_for(timeout=60_000)
        page.wait_for_function(
            f"() => document.cookie.includes('tl_active_browser={kept}')", timeout=10_000
        )
        page.wait_for_timeout(1_500)
        assert runs[0] == 2
        assert own_id(page) == kept
    finally:
        context.close()
