"""Submit the labelling grid in AppTest, as the browser does.

AppTest sees a custom component as an unknown element and sends no state for it; the browser
sends a submit as the component's trigger widget (`json_trigger_value`). This sends the same
message, with every other widget's state, so the page's callback runs as in a real submit.
"""

from __future__ import annotations

import json

from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest


def grid_id(at: AppTest) -> str:
    """The widget id of the one labelling grid on the page."""
    ids = [e.proto.id for e in at.get("bidi_component") if e.proto.component_name.endswith("grid")]
    assert len(ids) == 1, f"expected one labelling grid on the page, found {len(ids)}"
    return ids[0]


def grid_props_of(at: AppTest) -> dict:
    """What the page handed the grid: tiles, options (Skip last), answers, round."""
    (grid,) = [e for e in at.get("bidi_component") if e.proto.component_name.endswith("grid")]
    return json.loads(grid.proto.json)


def submit_grid(at: AppTest, round_number: int, answers: list[str]) -> AppTest:
    states = at._tree.get_widget_states()
    trigger = WidgetState(id=_make_trigger_id(grid_id(at), "events"))
    payload = {"event": "submit", "value": {"round": round_number, "answers": answers}}
    trigger.json_trigger_value = json.dumps([payload])
    states.widgets.append(trigger)
    return at._run(states)
