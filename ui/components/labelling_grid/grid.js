
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

// The keys in one short line, so that it sits beside Submit: an answer whose key is its own
// name ("3") is not said twice ("3 3"), and a run of digits is one range ("0–4").
function keysHint(options) {
  const own = options.filter((o) => o.label.toLowerCase() === o.key).map((o) => o.key);
  const named = options
    .filter((o) => o.label.toLowerCase() !== o.key)
    .map((o) => `${o.key.toUpperCase()} ${o.label.toLowerCase()}`);
  const digits = own.every((k, i) => /^[0-9]$/.test(k) && (i === 0 || +k === +own[i - 1] + 1));
  const range = own.length > 2 && digits ? [`${own[0]}–${own.at(-1)}`] : own;
  const answers = own.length ? [`${range.join(" ")} answer`, ...named] : named;
  return `${answers.join(", ")}; ←/→ move; U undo; Enter submits.`;
}

// One entry per grid in the tab's storage; a browser that refuses storage keeps answers in the
// page only, as before.
function readSaved(key) {
  try {
    return JSON.parse(window.sessionStorage.getItem(`tl-grid:${key}`) ?? "null");
  } catch {
    return null;
  }
}

function writeSaved(key, value) {
  try {
    if (value === null) window.sessionStorage.removeItem(`tl-grid:${key}`);
    else window.sessionStorage.setItem(`tl-grid:${key}`, JSON.stringify(value));
  } catch {
    // Storage full or refused: the answers stay in the page.
  }
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
  let kept = 0;
  if (fresh) {
    const answers = data.answers.slice();
    // A reload loses the page's state: the answers in progress come back from the tab's
    // storage when it offers the same batch of the same session.
    if (answers.every((a) => a === null)) {
      const saved = readSaved(data.key);
      if (saved && saved.scope === data.scope && saved.batch === data.batch
          && Array.isArray(saved.answers) && saved.answers.length === n
          && saved.answers.every((a) => a === null || byValue.has(a))) {
        saved.answers.forEach((a, i) => { answers[i] = a; });
        kept = answers.filter((a) => a !== null).length;
      }
    }
    state = {
      batch: data.batch, initial, answers,
      active: nextUnanswered(answers, -1) ?? 0, history: [], submittedAt: null,
    };
    tl.grids[data.key] = state;
  }

  function save() {
    writeSaved(data.key, { scope: data.scope, batch: data.batch, answers: state.answers });
  }

  // What a tile shows, as the data names it ("image", "window").
  const item = data.item;
  const Item = item.charAt(0).toUpperCase() + item.slice(1);
  grid.setAttribute("aria-label", `Round ${data.round}: ${n} ${item}s to answer`);
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
    caption.title = tile.title ? `${tile.title} ${tile.caption}` : tile.caption; // whole, where two lines cut it short
    if (tile.title) {
      // The caption's first line names what the picture cannot ("Chicago 2016-12-18").
      const title = document.createElement("div");
      title.className = "tl-title";
      title.textContent = tile.title;
      caption.prepend(title);
    }
    caption.id = `tl-caption-${i}`; // ids are scoped to the component's shadow root
    cell.setAttribute("aria-describedby", caption.id);
    const choices = document.createElement("div");
    choices.className = "tl-choices";
    const buttons = data.options.map((option) => {
      const button = document.createElement("button");
      button.type = "button";
      button.tabIndex = -1; // the keys reach every answer; Tab stays on the grid
      button.dataset.value = option.value;
      button.setAttribute("aria-label", `${option.label}: ${item} ${i + 1}`);
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

  root.querySelector(".tl-keys").textContent = `Keys: ${keysHint(data.options)}`;

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
      t.cell.setAttribute("aria-label", `${Item} ${i + 1} of ${n}, ${said}. ${t.alt}`);
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
    save();
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
    save();
    say(`${Item} ${last.position + 1}: answer taken back.`);
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
      say(`Answer every ${item} before submitting: ${done} of ${n} answered.`);
      return;
    }
    state.submittedAt = performance.now();
    tl.submissions += 1;
    setTriggerValue("submit", { round: data.round, answers: state.answers.slice() });
    writeSaved(data.key, null);
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

  say(kept ? `${kept} of ${n} answers kept from before the page was reloaded.` : "");
  render();
  // Take the keys when a new batch appears, unless the person is typing somewhere else; when
  // the same batch is drawn again, keep them if the grid had them (the old tiles took the focus
  // with them) and leave them where the person put them otherwise.
  const focused = focusedElement();
  const nothingFocused = !focused || focused === document.body;
  if (fresh ? !isEditable(focused) : focusWasHere || nothingFocused) focusActive();

  return () => listening.abort();
}
