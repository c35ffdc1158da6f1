"""bench-room's protocol client on a real server: a person's page and submits without a browser."""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from room_protocol import ProtocolPerson  # noqa: E402

pytestmark = pytest.mark.server


def test_a_protocol_person_opens_the_page_and_labels_rounds_that_are_stored(streamlit_server):
    async def label_two_rounds() -> tuple[ProtocolPerson, list[float], list[int], list[int], int]:
        # A first visit warms the server (its features loaded under a progress bar, once).
        warm = ProtocolPerson(streamlit_server.url, timeout=60)
        await warm.open()
        await warm.close()
        person = ProtocolPerson(streamlit_server.url, timeout=60)
        await person.open()
        opened_in = len(person.runs)
        await person.rerun()  # the whole page again, as any full run draws it
        await person.until_finished()
        rounds, labels, submits = [], [], []
        try:
            for _ in range(2):
                rounds.append(person.page.grid["round"])
                submits.append(await person.submit(person.answers()))
                await person.until_finished()
                labels.append(person.page.labels)
        finally:
            await person.close()
        return person, submits, rounds, labels, opened_in

    # In a thread of its own: Playwright's sync API may hold this thread's event loop.
    with ThreadPoolExecutor(1) as thread:
        person, submits, rounds, labels, opened_in = thread.submit(
            asyncio.run, label_two_rounds()
        ).result()
    assert person.first_page is not None and person.first_page > 0
    # A first visit is one page run: the server made the browser's id, which it keeps.
    assert opened_in == 1 and person.browser_id == person.page.browser_known
    assert not person.reports_id
    # The page's first run (server warm) and the next full run draw the same elements in the
    # same places: the browser updates them in place, keeping the grid, which lost keys when a
    # replayed progress bar moved everything below it.
    first, second = person.runs[:2]
    assert first and sorted(set(first)) == sorted(set(second))
    # Every sidebar widget's state goes with a submit, as a browser sends it.
    kinds = {state.id.rsplit("-", 1)[-1] for state in person.page.widgets.values()}
    assert {"set_backbone", "set_layer", "set_kind", "set_batch", "set_seed"} <= kinds
    assert person.page.browser_component is not None
    # Two batches of four, learned in order, and the session named in the page's address.
    assert rounds == [1, 2] and labels == [4, 8]
    assert person.page.grid["round"] == 3
    assert person.page.query_string.startswith("session=")
    assert all(0 < s < 30 for s in submits) and person.page.errors == []
