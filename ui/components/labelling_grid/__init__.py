"""The labelling grid: a batch of images answered in the browser, sent to Python once.

A Streamlit custom component (v2: HTML, CSS and JavaScript put inline in the page, no iframe, no
build step, nothing fetched); they live beside this module in `grid.html`, `grid.css` and
`grid.js`, read once at import. Every key and click is handled synchronously in the page, so keys pressed
as fast as a person can type are never lost and the outline moves in the same frame; the whole
batch goes to the server once, when the person submits it.

How a page uses it:

    from ui.components.labelling_grid import labelling_grid, png_data_uri

    submitted = labelling_grid(
        key="batch",
        round_number=number,
        tiles=[
            {"src": png_data_uri(tile_png(session, pick.index)), "alt": "MNIST image 4,211",
             "caption": "p(odd) 0.48 · uncertainty, rank 3"}
            for pick in picks
        ],
        options=[
            {"value": "positive", "label": "Odd", "key": "o", "colour": "#0072B2"},
            {"value": "negative", "label": "Even", "key": "e", "colour": "#E69F00"},
        ],
        answers=None,  # or the answers to show again, e.g. those of an undone round
        on_submit=None,  # or a callback taking the submission, run before the page reruns
    )
    if submitted is not None:  # once, in the run that the submit started
        session.submit(submitted["answers"], round_number=submitted["round"])

`submitted` is `{"round": <the round the person saw>, "answers": [<option value> per tile]}`;
Skip (value `"skip"`, key S, or `skip_key` where an answer's own letter is S) is always offered. It is a trigger value: a later rerun returns
None, so nothing is submitted twice. Keep `key` the same across rounds: a new `round_number`
(or other tiles, or other `answers`) starts the grid afresh; the same batch drawn again (a rerun)
keeps the answers in progress, which live in the page until the person submits. They are also
kept in the tab's `sessionStorage` under `scope` (the session they belong to), so a reload that
offers the same batch of the same session finds them again, and the grid says it did.

Keys: an option's key answers the outlined tile and outlines the next unanswered one; S skips;
←/→ (Home/End) move; U or Backspace takes back the last answer given in this batch; Enter
submits once every tile is answered. The grid takes the keyboard focus when a new batch appears
(without scrolling); with nothing focused every key works, and from another control that is not
a text field the letter and digit keys still do. The grid keeps the keys it handles from the
page's other shortcuts (so the page must not give `st.button(shortcut=...)` the same letters,
U included) and from scrolling the page. Each tile also has a button per option. Key-to-outline
times (keydown to the next animation frame, in ms) are kept in the page, the last 500, as
`window.__tlGrid.latencies`.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from tl_active.core.task import SKIP

SKIP_KEY = "s"
UNDO_KEY = "u"  # Backspace undoes as well
SKIP_COLOUR = "#6B7280"  # grey: "no answer" is not a class
# Neutral colours for options that bring none (Okabe-Ito without its green and vermilion, then
# purples, cyan and tan): an answer is a class, never right (green) or wrong (red).
DEFAULT_COLOURS = (
    "#0072B2",
    "#E69F00",
    "#56B4E9",
    "#CC79A7",
    "#6A51A3",
    "#F0E442",
    "#393B79",
    "#17BECF",
    "#A6761D",
    "#BC80BD",
)
DEFAULT_SUBMIT_LABEL = "Submit batch ({answered}/{size})"

_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_OPTION_KEY = re.compile(r"[a-z0-9]")
_LOG = logging.getLogger(__name__)


def png_data_uri(png: bytes) -> str:
    """A PNG as a `data:` URI, so that the page never fetches an image."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def text_colour(background: str) -> str:
    """Near-black or white, whichever reads better on `background` (#rrggbb), by WCAG contrast."""

    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(background[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    dark, white = "#111111", "#FFFFFF"
    contrast_dark = (luminance + 0.05) / (0.0056 + 0.05)  # #111111 has luminance 0.0056
    contrast_white = 1.05 / (luminance + 0.05)
    return dark if contrast_dark >= contrast_white else white


def _checked_options(
    options: Sequence[dict[str, Any]], skip_key: str = SKIP_KEY
) -> list[dict[str, str]]:
    if not options:
        raise ValueError("labelling_grid needs at least one answer option besides Skip")
    checked = []
    for n, option in enumerate(options):
        value, label = str(option["value"]), str(option["label"])
        key = str(option["key"]).lower()
        colour = str(option.get("colour") or DEFAULT_COLOURS[n % len(DEFAULT_COLOURS)])
        if value == SKIP:
            raise ValueError(f"{SKIP!r} is always offered; do not pass it as an option")
        if not _OPTION_KEY.fullmatch(key) or key in (skip_key, UNDO_KEY):
            raise ValueError(
                f"option {label!r}: its key must be one letter or digit other than "
                f"{skip_key!r} (skip) and {UNDO_KEY!r} (undo), not {option['key']!r}"
            )
        if not _HEX_COLOUR.fullmatch(colour):
            raise ValueError(f"option {label!r}: colour must be #rrggbb, not {colour!r}")
        checked.append(
            {"value": value, "label": label, "key": key, "colour": colour.upper()}
            | {"text": text_colour(colour)}
        )
    if not _OPTION_KEY.fullmatch(skip_key) or skip_key == UNDO_KEY:
        raise ValueError(f"skip's key must be one letter or digit other than {UNDO_KEY!r}")
    skip = {"value": SKIP, "label": "Skip", "key": skip_key, "colour": SKIP_COLOUR}
    checked.append(skip | {"text": text_colour(SKIP_COLOUR)})
    for field in ("value", "key"):
        seen = [o[field] for o in checked]
        if len(set(seen)) != len(seen):
            raise ValueError(f"two options share a {field}: {seen}")
    return checked


def grid_props(
    *,
    key: str,
    round_number: int,
    tiles: Sequence[dict[str, str]],
    options: Sequence[dict[str, Any]],
    answers: Sequence[str | None] | None = None,
    submit_label_format: str = DEFAULT_SUBMIT_LABEL,
    scope: str = "",
    skip_key: str = SKIP_KEY,
    item: str = "image",
) -> dict[str, Any]:
    """What the page is given: checked tiles and options (Skip last), answers, the batch's id.

    The batch id (a digest of the round and the images) tells the page whether it is still the
    batch whose answers it holds.
    """
    if not tiles:
        raise ValueError("labelling_grid needs at least one tile")
    checked_tiles = []
    for n, tile in enumerate(tiles, start=1):
        src = str(tile["src"])
        if not src.startswith("data:image/"):
            raise ValueError(f"tile {n}: src must be a data:image/ URI (nothing is fetched)")
        title = str(tile.get("title") or "")
        checked_tiles.append(
            {"src": src, "alt": str(tile.get("alt", "")), "caption": str(tile.get("caption", ""))}
            | ({"title": title} if title else {})
        )
    checked_options = _checked_options(options, skip_key)
    values = {o["value"] for o in checked_options}
    answers = [None] * len(tiles) if answers is None else list(answers)
    if len(answers) != len(tiles):
        raise ValueError(f"{len(answers)} answers for {len(tiles)} tiles")
    unknown = [a for a in answers if a is not None and a not in values]
    if unknown:
        raise ValueError(f"answers {unknown} are none of the options {sorted(values)}")
    try:
        submit_label_format.format(answered=0, size=len(tiles))
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"submit_label_format may use only {{answered}} and {{size}}: {error}"
        ) from error
    digest = hashlib.sha256(str(int(round_number)).encode())
    for tile in checked_tiles:
        digest.update(b"\0" + tile["src"].encode())
    return {
        "key": str(key),
        "round": int(round_number),
        "batch": digest.hexdigest()[:16],
        "tiles": checked_tiles,
        "options": checked_options,
        "answers": answers,
        "submitLabel": submit_label_format,
        "scope": str(scope),
        "item": str(item),
    }


def read_submission(value: Any, props: dict[str, Any]) -> dict[str, Any] | None:
    """The page's submission as `{"round", "answers"}`, or None if it is malformed.

    The round is returned as the page sent it (the caller's protocol refuses a stale one); the
    answers must be one option value per tile of the batch on offer.
    """
    if not isinstance(value, dict):
        return None
    round_number, answers = value.get("round"), value.get("answers")
    values = {o["value"] for o in props["options"]}
    if (
        not isinstance(round_number, int)
        or isinstance(round_number, bool)
        or not isinstance(answers, list)
        or len(answers) != len(props["tiles"])
        or any(not isinstance(a, str) or a not in values for a in answers)
    ):
        _LOG.warning("labelling grid: ignored a malformed submission %r", value)
        return None
    return {"round": round_number, "answers": list(answers)}


def labelling_grid(
    *,
    key: str,
    round_number: int,
    tiles: Sequence[dict[str, str]],
    options: Sequence[dict[str, Any]],
    answers: Sequence[str | None] | None = None,
    submit_label_format: str = DEFAULT_SUBMIT_LABEL,
    on_submit: Callable[[dict[str, Any]], None] | None = None,
    scope: str = "",
    skip_key: str = SKIP_KEY,
    item: str = "image",
) -> dict[str, Any] | None:
    """Draw the batch; return `{"round", "answers"}` in the run its submit started, else None.

    `tiles`: `{"src": PNG data URI, "alt": text for a screen reader, "caption": short text}`,
    and a `"title"` (the caption's first line) where the picture does not name itself.
    `options`: `{"value", "label", "key" (one letter or digit), "colour" (#rrggbb, optional)}`,
    without Skip, which is always added (on `skip_key`). `item` is what a tile shows, for the
    words a screen reader hears ("image", "window"). `answers`: one option value or None per tile, shown
    when this batch is new to the page. `submit_label_format` may use `{answered}` and `{size}`.
    `on_submit`, if given, is called with the submission before the script reruns (as a
    widget callback), and the submission is returned as well. `scope` names whose answers these
    are (a session's id): a reload finds its batch's answers in progress only in the same scope.
    """
    props = grid_props(
        key=key,
        round_number=round_number,
        tiles=tiles,
        options=options,
        answers=answers,
        submit_label_format=submit_label_format,
        scope=scope,
        skip_key=skip_key,
        item=item,
    )

    def submitted() -> None:
        submission = read_submission(st.session_state[key].get("submit"), props)
        if submission is not None and on_submit is not None:
            on_submit(submission)

    result = _GRID(key=key, data=props, on_submit_change=submitted)
    return read_submission(result.get("submit"), props)


# The component's page side lives in files beside this module, read once at import.
_HERE = Path(__file__).resolve().parent
_HTML = (_HERE / "grid.html").read_text(encoding="utf-8")
_CSS = (_HERE / "grid.css").read_text(encoding="utf-8")
_JS = (_HERE / "grid.js").read_text(encoding="utf-8")

_GRID = st.components.v2.component("labelling_grid", html=_HTML, css=_CSS, js=_JS)
