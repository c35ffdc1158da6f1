"""bench-room's protocol client on a real server: a person's page and submits without a browser."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from room_protocol import ProtocolPerson  # noqa: E402

pytestmark = pytest.mark.server


def test_a_protocol_person_opens_the_page_and_labels_rounds_that_are_stored(streamlit_server):
    async def label_two_rounds() -> tuple[ProtocolPerson, list[float], list[int], list[int]]:
        person = ProtocolPerson(streamlit_server.url, timeout=60)
        await person.open()
        rounds, labels, submits = [], [], []
        try:
            for _ in range(2):
                rounds.append(person.page.grid["round"])
                submits.append(await person.submit(person.answers()))
                await person.until_finished()
                labels.append(person.page.labels)
        finally:
            await person.close()
        return person, submits, rounds, labels

    person, submits, rounds, labels = asyncio.run(label_two_rounds())
    assert person.first_page is not None and person.first_page > 0
    # Every sidebar widget's state goes with a submit, as a browser sends it.
    kinds = {state.id.rsplit("-", 1)[-1] for state in person.page.widgets.values()}
    assert {"set_backbone", "set_layer", "set_kind", "set_batch", "set_seed"} <= kinds
    assert person.page.browser_component is not None
    # Two batches of four, learned in order, and the session named in the page's address.
    assert rounds == [1, 2] and labels == [4, 8]
    assert person.page.grid["round"] == 3
    assert person.page.query_string.startswith("session=")
    assert all(0 < s < 30 for s in submits) and person.page.errors == []
