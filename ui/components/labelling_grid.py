"""The labelling grid: a batch of images answered in the browser, sent to Python once.

A Streamlit custom component (v2: inline HTML, CSS and JavaScript in the page, no iframe, no build
step, nothing fetched). Every key and click is handled synchronously in the page, so keys pressed
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
Skip (value `"skip"`, key S) is always offered. It is a trigger value: a later rerun returns
None, so nothing is submitted twice. Keep `key` the same across rounds: a new `round_number`
(or other tiles, or other `answers`) starts the grid afresh; the same batch drawn again (a rerun)
keeps the answers in progress, which live in the page until the person submits.

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


def _checked_options(options: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    if not options:
        raise ValueError("labelling_grid needs at least one answer option besides Skip")
    checked = []
    for n, option in enumerate(options):
        value, label = str(option["value"]), str(option["label"])
        key = str(option["key"]).lower()
        colour = str(option.get("colour") or DEFAULT_COLOURS[n % len(DEFAULT_COLOURS)])
        if value == SKIP:
            raise ValueError(f"{SKIP!r} is always offered; do not pass it as an option")
        if not _OPTION_KEY.fullmatch(key) or key in (SKIP_KEY, UNDO_KEY):
            raise ValueError(
                f"option {label!r}: its key must be one letter or digit other than "
                f"{SKIP_KEY!r} (skip) and {UNDO_KEY!r} (undo), not {option['key']!r}"
            )
        if not _HEX_COLOUR.fullmatch(colour):
            raise ValueError(f"option {label!r}: colour must be #rrggbb, not {colour!r}")
        checked.append(
            {"value": value, "label": label, "key": key, "colour": colour.upper()}
            | {"text": text_colour(colour)}
        )
    skip = {"value": SKIP, "label": "Skip", "key": SKIP_KEY, "colour": SKIP_COLOUR}
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
        checked_tiles.append(
            {"src": src, "alt": str(tile.get("alt", "")), "caption": str(tile.get("caption", ""))}
        )
    checked_options = _checked_options(options)
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
) -> dict[str, Any] | None:
    """Draw the batch; return `{"round", "answers"}` in the run its submit started, else None.

    `tiles`: `{"src": PNG data URI, "alt": text for a screen reader, "caption": short text}`.
    `options`: `{"value", "label", "key" (one letter or digit), "colour" (#rrggbb, optional)}`,
    without Skip, which is always added. `answers`: one option value or None per tile, shown
    when this batch is new to the page. `submit_label_format` may use `{answered}` and `{size}`.
    `on_submit`, if given, is called with the submission before the script reruns (as a
    widget callback), and the submission is returned as well.
    """
    props = grid_props(
        key=key,
        round_number=round_number,
        tiles=tiles,
        options=options,
        answers=answers,
        submit_label_format=submit_label_format,
    )

    def submitted() -> None:
        submission = read_submission(st.session_state[key].get("submit"), props)
        if submission is not None and on_submit is not None:
            on_submit(submission)

    result = _GRID(key=key, data=props, on_submit_change=submitted)
    return read_submission(result.get("submit"), props)


_HTML = """
<div class="tl-grid">
  <div class="tl-tiles" role="grid" aria-roledescription="labelling grid">
    <div class="tl-row" role="row"></div>
  </div>
  <div class="tl-bar">
    <button type="button" class="tl-submit" aria-keyshortcuts="Enter"></button>
    <span class="tl-keys"></span>
  </div>
  <p class="tl-status" role="status" aria-live="polite"></p>
</div>
"""

_CSS = """
.tl-grid {
  font-family: var(--st-font, sans-serif);
  font-size: var(--st-base-font-size, 1rem);
  color: var(--st-text-color, #31333f);
  --tl-bg: var(--st-background-color, #ffffff);
  --tl-line: var(--st-border-color, #d5dae5);
}
.tl-row { display: flex; flex-wrap: wrap; gap: 14px; padding: 8px 8px 4px; }
.tl-tile {
  box-sizing: border-box;
  width: min-content;
  display: flex;
  flex-direction: column;
  gap: 6px;
  padding: 8px;
  border: 3px solid var(--tl-line);
  border-radius: var(--st-base-radius, 0.5rem);
  background: var(--tl-bg);
  cursor: pointer;
  outline: none;
}
.tl-tile.tl-answered {
  border-color: var(--tl-answer);
  background: color-mix(in srgb, var(--tl-answer) 14%, var(--tl-bg));
}
.tl-tile.tl-active {
  outline: 5px solid var(--st-text-color, #31333f);
  outline-offset: 3px;
}
.tl-head {
  display: flex;
  align-items: center;
  justify-content: space-between;
  gap: 6px;
  min-height: 1.75rem;
  font-weight: 600;
}
.tl-answer {
  padding: 1px 10px;
  border-radius: 999px;
  background: var(--tl-answer);
  color: var(--tl-answer-text);
  font-weight: 700;
  white-space: nowrap;
}
.tl-answer:empty { display: none; }
.tl-tile img { display: block; image-rendering: pixelated; }
.tl-caption { font-size: 0.8rem; line-height: 1.3; opacity: 0.85; }
.tl-choices { display: flex; flex-wrap: wrap; gap: 4px; }
.tl-choices button, .tl-submit {
  font: inherit;
  color: inherit;
  cursor: pointer;
  border: 1px solid var(--tl-line);
  border-radius: var(--st-button-radius, 0.5rem);
  background: var(--st-secondary-background-color, #f0f2f6);
}
.tl-choices button { flex: 1 1 auto; padding: 2px 6px; font-size: 0.8rem; }
.tl-choices button[aria-pressed="true"] {
  background: var(--tl-option);
  border-color: var(--tl-option);
  color: var(--tl-option-text);
  font-weight: 700;
}
kbd { font-family: var(--st-code-font, monospace); font-size: 0.75em; opacity: 0.8; }
.tl-bar {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 8px 16px;
  padding: 6px 8px 0;
}
.tl-submit {
  padding: 6px 14px;
  background: var(--st-primary-color, #ff4b4b);
  border-color: var(--st-primary-color, #ff4b4b);
  color: #ffffff;
  font-weight: 600;
}
.tl-submit:disabled { opacity: 0.45; cursor: not-allowed; }
.tl-submit:focus-visible, .tl-choices button:focus-visible {
  outline: 3px solid var(--st-text-color, #31333f);
  outline-offset: 2px;
}
.tl-keys { font-size: 0.85rem; opacity: 0.85; }
.tl-status { min-height: 1.4em; margin: 4px 8px 0; font-size: 0.9rem; }
"""

_JS = r"""
// After a submit, the batch is the server's until the next one arrives: keys and clicks in that
// moment are for images not shown yet, and a second Enter is the same submit. If no new batch
// comes (the server refused this one), the grid is the person's again after this long.
const SUBMIT_LOCK_MS = 2000;
const KEPT_LATENCIES = 500;

function shared() {
  if (!window.__tlGrid) {
    window.__tlGrid = { latencies: [], submissions: 0, grids: {} };
  }
  return window.__tlGrid;
}

function nextUnanswered(answers, from) {
  const n = answers.length;
  for (let step = 1; step <= n; step++) {
    const i = (from + step + n) % n;
    if (answers[i] === null) return i;
  }
  return null;
}

const NOT_TYPED_IN = ["button", "checkbox", "color", "file", "radio", "range", "reset", "submit"];

function isEditable(element) {
  if (!element) return false;
  if (element.isContentEditable || ["TEXTAREA", "SELECT"].includes(element.tagName)) return true;
  return element.tagName === "INPUT" && !NOT_TYPED_IN.includes(element.type);
}

function focusedElement() {
  let element = document.activeElement;
  while (element?.shadowRoot?.activeElement) element = element.shadowRoot.activeElement;
  return element;
}

export default function ({ data, parentElement, setTriggerValue }) {
  const tl = shared();
  const root = parentElement.querySelector(".tl-grid");
  const grid = root.querySelector(".tl-tiles");
  const row = root.querySelector(".tl-row");
  const submitButton = root.querySelector(".tl-submit");
  const status = root.querySelector(".tl-status");
  const n = data.tiles.length;
  const byValue = new Map(data.options.map((o) => [o.value, o]));
  const byKey = new Map(data.options.map((o) => [o.key, o]));

  // The answers live here, in the page, for as long as this batch is on offer: a rerun that
  // draws the same batch finds them again; a new round or other images start afresh.
  const initial = JSON.stringify(data.answers);
  const focusWasHere = root.contains(focusedElement());
  let state = tl.grids[data.key];
  const fresh = !state || state.batch !== data.batch || state.initial !== initial;
  if (fresh) {
    const answers = data.answers.slice();
    state = {
      batch: data.batch, initial, answers,
      active: nextUnanswered(answers, -1) ?? 0, history: [], submittedAt: null,
    };
    tl.grids[data.key] = state;
  }

  grid.setAttribute("aria-label", `Round ${data.round}: ${n} images to answer`);
  const tiles = data.tiles.map((tile, i) => {
    const cell = document.createElement("div");
    cell.className = "tl-tile";
    cell.setAttribute("role", "gridcell");
    cell.dataset.index = String(i);
    const head = document.createElement("div");
    head.className = "tl-head";
    const number = document.createElement("span");
    number.textContent = `${i + 1}.`;
    const answer = document.createElement("span");
    answer.className = "tl-answer";
    head.append(number, answer);
    const image = document.createElement("img");
    image.src = tile.src;
    image.alt = tile.alt;
    image.draggable = false;
    const caption = document.createElement("div");
    caption.className = "tl-caption";
    caption.textContent = tile.caption;
    caption.id = `tl-caption-${i}`; // ids are scoped to the component's shadow root
    cell.setAttribute("aria-describedby", caption.id);
    const choices = document.createElement("div");
    choices.className = "tl-choices";
    const buttons = data.options.map((option) => {
      const button = document.createElement("button");
      button.type = "button";
      button.tabIndex = -1; // the keys reach every answer; Tab stays on the grid
      button.dataset.value = option.value;
      button.setAttribute("aria-label", `${option.label}: image ${i + 1}`);
      button.style.setProperty("--tl-option", option.colour);
      button.style.setProperty("--tl-option-text", option.text);
      button.append(option.label);
      if (option.label.toLowerCase() !== option.key) {
        const kbd = document.createElement("kbd");
        kbd.textContent = ` ${option.key.toUpperCase()}`;
        button.append(kbd);
      }
      choices.append(button);
      return button;
    });
    cell.append(head, image, caption, choices);
    return { cell, answer, buttons, alt: tile.alt };
  });
  row.replaceChildren(...tiles.map((t) => t.cell));

  const keyNames = data.options.map((o) => `${o.key.toUpperCase()} ${o.label.toLowerCase()}`);
  root.querySelector(".tl-keys").textContent =
    `Keys: ${keyNames.join(", ")}; ←/→ move; U or Backspace takes back an answer; ` +
    "Enter submits.";

  function answered() {
    return state.answers.filter((a) => a !== null).length;
  }

  function say(text) {
    status.textContent = text;
  }

  function render() {
    tiles.forEach((t, i) => {
      const value = state.answers[i];
      const option = value === null ? null : byValue.get(value);
      const active = i === state.active;
      t.cell.classList.toggle("tl-active", active);
      t.cell.classList.toggle("tl-answered", option !== null);
      if (active) t.cell.setAttribute("aria-current", "true");
      else t.cell.removeAttribute("aria-current");
      t.cell.tabIndex = active ? 0 : -1;
      t.cell.dataset.answer = value ?? "";
      if (option) {
        t.cell.style.setProperty("--tl-answer", option.colour);
        t.cell.style.setProperty("--tl-answer-text", option.text);
      }
      t.answer.textContent = option ? option.label : "";
      const said = option ? option.label : "no answer yet";
      t.cell.setAttribute("aria-label", `Image ${i + 1} of ${n}, ${said}. ${t.alt}`);
      t.buttons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.value === value)));
    });
    const done = answered();
    submitButton.textContent = data.submitLabel
      .replaceAll("{answered}", String(done))
      .replaceAll("{size}", String(n));
    submitButton.disabled = done < n;
  }

  function focusActive() {
    tiles[state.active].cell.focus({ preventScroll: true });
  }

  function answer(i, value) {
    state.history.push({ position: i, previous: state.answers[i] });
    state.answers[i] = value;
    state.active = nextUnanswered(state.answers, i) ?? i;
    state.submittedAt = null;
    say(answered() === n ? `All ${n} answered: Enter submits the batch.` : "");
  }

  function undo() {
    const last = state.history.pop();
    if (!last) {
      say("No answer of this batch to take back.");
      return;
    }
    state.answers[last.position] = last.previous;
    state.active = last.position;
    state.submittedAt = null;
    say(`Image ${last.position + 1}: answer taken back.`);
  }

  function submitted() {
    return state.submittedAt !== null && performance.now() - state.submittedAt < SUBMIT_LOCK_MS;
  }

  function submit() {
    const done = answered();
    if (submitted()) {
      say(`Round ${data.round} submitted: waiting for the next batch.`);
      return;
    }
    if (done < n) {
      say(`Answer every image before submitting: ${done} of ${n} answered.`);
      return;
    }
    state.submittedAt = performance.now();
    tl.submissions += 1;
    setTriggerValue("submit", { round: data.round, answers: state.answers.slice() });
    say(`Round ${data.round} submitted.`);
  }

  function keyOf(event) {
    return event.key.length === 1 ? event.key.toLowerCase() : event.key;
  }

  // The action a key stands for, or null if the key is not the grid's.
  function actionFor(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return null;
    const key = keyOf(event);
    if (key === "ArrowRight") return () => { state.active = (state.active + 1) % n; };
    if (key === "ArrowLeft") return () => { state.active = (state.active + n - 1) % n; };
    if (key === "Home") return () => { state.active = 0; };
    if (key === "End") return () => { state.active = n - 1; };
    // Held keys repeat; an answer, an undo or a submit happens once per press.
    const once = (act) => () => { if (!event.repeat) act(); };
    if (key === "Enter") return once(submit);
    if (key === "u" || key === "Backspace") return once(undo);
    const option = byKey.get(key);
    if (option) return once(() => answer(state.active, option.value));
    // A focused button presses itself with Space; anywhere else Space would scroll the page.
    if (key === " " && event.composedPath()[0]?.tagName !== "BUTTON") return () => {};
    return null;
  }

  function onKeyDown(event) {
    if (event.defaultPrevented) return;
    const start = performance.now();
    const action = actionFor(event);
    if (action === null) return; // not ours: Tab, the page's own shortcuts, ...
    event.preventDefault();
    event.stopPropagation();
    if (submitted()) {
      say(`Round ${data.round} submitted: waiting for the next batch.`);
      return;
    }
    action();
    render();
    focusActive();
    // Key to outline: from the keydown to the frame that shows the tile outlined next.
    if (!["Enter", " "].includes(keyOf(event))) {
      requestAnimationFrame(() => {
        tl.latencies.push(performance.now() - start);
        if (tl.latencies.length > KEPT_LATENCIES) tl.latencies.shift();
      });
    }
  }

  // Keys pressed elsewhere on the page: with nothing focused (after a click on the background)
  // every key of the grid works; from another control (a button just clicked), the letter and
  // digit keys do, as Streamlit's own shortcuts would, and bring the focus back to the grid.
  // Enter, Space, the arrows and Backspace keep their meaning there, and typing in a field is
  // never taken.
  function onPageKeyDown(event) {
    const target = event.composedPath()[0];
    if (!root.isConnected || root.getClientRects().length === 0 || root.contains(target)) return;
    const nothingFocused = target === document.body || target === document.documentElement;
    const key = keyOf(event);
    const typed = key.length === 1 && key !== " ";
    if (nothingFocused || (typed && !isEditable(target))) onKeyDown(event);
  }

  function onClick(event) {
    const cell = event.target.closest(".tl-tile");
    if (!cell || submitted()) return;
    const i = Number(cell.dataset.index);
    const button = event.target.closest("button[data-value]");
    if (button) answer(i, button.dataset.value);
    else state.active = i;
    render();
    focusActive();
  }

  // Streamlit 1.67 calls the returned cleanup only when the element goes away, not before it
  // runs this function again with new data for the same element: end the previous run's
  // listeners here, or two runs would answer each key.
  root.__tlListening?.abort();
  const listening = new AbortController();
  root.__tlListening = listening;
  const signal = listening.signal;
  root.addEventListener("keydown", onKeyDown, { signal });
  window.addEventListener("keydown", onPageKeyDown, { capture: true, signal });
  row.addEventListener("click", onClick, { signal });
  submitButton.addEventListener("click", submit, { signal });

  say("");
  render();
  // Take the keys when a new batch appears, unless the person is typing somewhere else; when
  // the same batch is drawn again, keep them if the grid had them (the old tiles took the focus
  // with them) and leave them where the person put them otherwise.
  const focused = focusedElement();
  const nothingFocused = !focused || focused === document.body;
  if (fresh ? !isEditable(focused) : focusWasHere || nothingFocused) focusActive();

  return () => listening.abort();
}
"""

_GRID = st.components.v2.component("labelling_grid", html=_HTML, css=_CSS, js=_JS)
