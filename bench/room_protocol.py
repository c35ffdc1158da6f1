"""A person in a room without a browser: Streamlit's own protocol over its websocket.

Chromium contexts cannot carry thirty people on two cores (each draws every chart the server
sends), so `bench_room.py` labels with this client instead: it opens the page as a browser does
(index.html and the scripts and styles it names, then `/_stcore/stream`), sends the same
`BackMsg` protobufs (`rerun_script` with the page's widget states: every widget's value as the
page shows it, the browser-id component's value where it reports one, and at a submit the labelling grid's trigger
`{"event": "submit", "value": {"round", "answers"}}`, naming the fragment the grid is drawn
in, as the browser does), and reads the `ForwardMsg`s the server
sends: the progress line ("**N labels** in **R rounds**"), the grid's props (its round and
tiles), the widgets and the query string the page now has. Keys cost the server nothing (the
grid answers them in the page), so a person's keys here are only the time they take.

Nothing here is drawn, so the client's own CPU stays small; it runs in the benchmark's process.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
import urllib.request
from dataclasses import dataclass, field

import websockets
from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

PROGRESS = re.compile(r"\*\*(\d+) labels\*\* in \*\*(\d+) rounds?\*\*")
ASSETS = re.compile(r"""(?:src|href)="\.?/?(static/[^"]+\.(?:js|css))\"""")
GRID = "labelling_grid"
BROWSER_COMPONENT = "tl_active_browser"
WIDGETS = {
    "selectbox",
    "radio",
    "multiselect",
    "slider",
    "number_input",
    "text_input",
    "file_uploader",
}


def widget_state(kind: str, element) -> WidgetState | None:
    """The state a browser sends for a widget as drawn (its value, or its default), or None
    for a widget that sends nothing until used (buttons, downloads)."""
    if kind not in WIDGETS:
        return None
    state = WidgetState(id=element.id)
    if kind in ("selectbox", "radio"):
        if element.set_value or element.HasField("raw_value"):
            state.string_value = element.raw_value
        elif element.options and element.HasField("default"):
            state.string_value = element.options[element.default]
        else:
            return None
    elif kind == "multiselect":
        values = (
            element.raw_values
            if element.set_value
            else [element.options[i] for i in element.default]
        )
        state.string_array_value.data.extend(values)
    elif kind == "slider":
        state.double_array_value.data.extend(
            element.value if element.set_value else element.default
        )
    elif kind == "number_input":
        value = element.value if element.set_value else element.default
        if element.data_type == element.INT:
            state.int_value = int(value)
        else:
            state.double_value = value
    elif kind == "text_input":
        state.string_value = element.value if element.set_value else element.default
    else:  # a file uploader with no file
        state.file_uploader_state_value.SetInParent()
    return state


@dataclass
class Page:
    """What one person's page holds after the server's messages so far."""

    widgets: dict[str, WidgetState] = field(default_factory=dict)
    grid: dict | None = None  # the grid's props: round, tiles, options
    grid_id: str | None = None
    grid_fragment: str = ""  # the fragment the grid is drawn in: a submit reruns that alone
    widget_fragments: dict[str, str] = field(default_factory=dict)
    browser_component: str | None = None
    browser_known: str | None = None  # the id the server hands the browser-id component
    labels: int = -1  # the progress line's count, -1 before it is drawn
    query_string: str = ""
    page_script_hash: str = ""
    errors: list[str] = field(default_factory=list)
    finished: bool = False


class ProtocolPerson:
    """One person's tab: a websocket to the server, and the page as the messages build it."""

    def __init__(self, base_url: str, timeout: float = 120.0):
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.page = Page()
        # A browser seen for the first time: it keeps the id the server hands it (the component's
        # `known`) and reports nothing; `kept_id` plays one that kept its own from an earlier
        # visit but lost the cookie, which reports it and so reruns the page once.
        self.browser_id: str | None = None
        self.kept_id: str | None = None
        self.reports_id = False  # whether the component sends the browser's id with each run
        self._cache: dict[str, ForwardMsg] = {}  # messages the server may send as a ref_hash
        self._ws = None
        self.first_page: float | None = None
        self.runs: list[list[tuple[int, ...]]] = []  # each run's element paths, in order

    # --- opening the page ---

    def _fetch_page_files(self) -> None:
        """index.html and the scripts and styles it names, as a browser with an empty cache."""
        headers = {"Accept-Encoding": "gzip, deflate, br"}
        with urllib.request.urlopen(
            urllib.request.Request(self.base_url, headers=headers), timeout=self.timeout
        ) as answer:
            html = answer.read().decode("utf-8", "replace")
        for path in dict.fromkeys(ASSETS.findall(html)):
            request = urllib.request.Request(self.base_url + path, headers=headers)
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                answer.read()

    async def open(self) -> None:
        """Load the page as a browser does; `first_page` is the seconds until its first run
        has drawn everything (the batch and the progress line among it)."""
        started = time.monotonic()
        await asyncio.to_thread(self._fetch_page_files)
        url = self.base_url.replace("http", "ws", 1) + "_stcore/stream"
        self._ws = await websockets.connect(
            url, subprotocols=["streamlit"], max_size=None, open_timeout=self.timeout
        )
        await self.rerun(first=True)
        await self.until_finished()
        self.first_page = time.monotonic() - started
        known = self.page.browser_known
        self.browser_id = self.kept_id or known or secrets.token_urlsafe(12)
        self.reports_id = self.browser_id != known
        if self.reports_id:  # the component reports the browser's own: the page runs again
            await self.rerun()
            await self.until_finished()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    # --- talking to the server ---

    async def rerun(
        self, trigger: WidgetState | None = None, first: bool = False, fragment: str = ""
    ) -> None:
        message = BackMsg()
        client = message.rerun_script
        client.query_string = self.page.query_string
        client.fragment_id = fragment
        client.widget_states.SetInParent()
        if not first:
            client.page_script_hash = self.page.page_script_hash
            client.widget_states.widgets.extend(self.page.widgets.values())
            if self.page.browser_component and self.reports_id:
                browser = WidgetState(id=self.page.browser_component)
                browser.json_value = json.dumps({"id": self.browser_id})
                client.widget_states.widgets.append(browser)
            if trigger is not None:
                client.widget_states.widgets.append(trigger)
            client.cached_message_hashes.extend(self._cache)
        info = client.context_info
        info.timezone, info.timezone_offset, info.locale = "UTC", 0, "en-US"
        info.url, info.color_scheme = self.base_url, "light"
        self.page.finished = False
        self._fragment_run = fragment
        self._seen_widgets: dict[str, WidgetState] = {}
        self._paths: list[tuple[int, ...]] = []
        await self._ws.send(message.SerializeToString())

    async def receive(self) -> None:
        """Read one message from the server and update the page."""
        raw = await asyncio.wait_for(self._ws.recv(), timeout=self.timeout)
        message = ForwardMsg()
        message.ParseFromString(raw)
        kind = message.WhichOneof("type")
        if kind == "ref_hash":
            message = self._cache[message.ref_hash]
            kind = message.WhichOneof("type")
        elif message.metadata.cacheable and message.hash:
            self._cache[message.hash] = message
        if kind == "delta":
            if message.delta.WhichOneof("type") in ("new_element", "add_block"):
                self._paths.append(tuple(message.metadata.delta_path))
            self._read_delta(message.delta)
        elif kind == "page_info_changed":
            self.page.query_string = message.page_info_changed.query_string
        elif kind == "navigation":
            self.page.page_script_hash = message.navigation.page_script_hash
        elif kind == "new_session":
            if message.new_session.page_script_hash:
                self.page.page_script_hash = message.new_session.page_script_hash
        elif kind == "script_finished":
            if message.script_finished == message.FINISHED_EARLY_FOR_RERUN:
                # A callback asked for the whole page (e.g. a session stored for the first
                # time): the server runs it at once, as a full run.
                self._fragment_run = ""
                self._seen_widgets, self._paths = {}, []
                return
            if self._fragment_run:
                # The widgets outside the fragment are still on the page, as they were.
                kept = {
                    k: v
                    for k, v in self.page.widgets.items()
                    if self.page.widget_fragments.get(k) != self._fragment_run
                }
                self.page.widgets = {**kept, **self._seen_widgets}
            else:
                self.page.widgets = self._seen_widgets
            self.runs.append(self._paths)
            self.page.finished = True

    def _read_delta(self, delta) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        fragment = delta.fragment_id
        element = delta.new_element
        kind = element.WhichOneof("type")
        inner = getattr(element, kind)
        if kind == "markdown":
            match = PROGRESS.search(inner.body)
            if match:
                self.page.labels = int(match.group(1))
        elif kind == "exception":
            self.page.errors.append(inner.message[:160])
        elif kind == "bidi_component":
            if inner.component_name.endswith(GRID):
                self.page.grid, self.page.grid_id = json.loads(inner.json), inner.id
                self.page.grid_fragment = fragment
            elif inner.component_name.endswith(BROWSER_COMPONENT):
                self.page.browser_component = inner.id
                self.page.browser_known = json.loads(inner.json or "{}").get("known")
        else:
            state = widget_state(kind, inner)
            if state is not None:
                self._seen_widgets[state.id] = state
                self.page.widget_fragments[state.id] = fragment

    async def until_finished(self) -> None:
        while not self.page.finished:
            await self.receive()

    # --- a person's actions ---

    async def submit(self, answers: list[str]) -> float:
        """Send the batch's answers as the grid does at Enter; seconds until the progress line
        counts them. The rest of the run is read afterwards (`until_finished`)."""
        before = self.page.labels
        trigger = WidgetState(id=_make_trigger_id(self.page.grid_id, "events"))
        payload = {
            "event": "submit",
            "value": {"round": self.page.grid["round"], "answers": answers},
        }
        trigger.json_trigger_value = json.dumps([payload])
        start = time.monotonic()
        await self.rerun(trigger, fragment=self.page.grid_fragment)
        while self.page.labels < before + len(answers):
            if self.page.finished:
                raise RuntimeError(f"the run ended with {self.page.labels} labels, not more")
            await self.receive()
        return time.monotonic() - start

    def answers(self) -> list[str]:
        """Alternate answers, as the bench's keys alternate (O, E, ...)."""
        values = [o["value"] for o in self.page.grid["options"] if o["value"] != "skip"]
        return [values[k % 2] for k in range(len(self.page.grid["tiles"]))]
