"""How long Chromium takes to draw the pool map on the Label page, with the map's cache present.

The app is served as `make run` serves it (one BLAS thread, the file watcher off, a temporary
session database) on the default question; Chromium's window is 1440 x 900. Measured:

- panel opened to map drawn: from the click on the map's expander until the chart's marks are
  drawn and stay the same for a while (the server's run of the page, the table sent and
  Vega-Lite's drawing, all in one), over several fresh tabs (the first one also warms the
  server and is left out);
- submit to map recoloured: with the panel open, a keyed round; from the Enter that submits it
  until the map's marks last changed, beside the learning curve's last redraw after the same
  Enter, which is the baseline that says how busy the machine was; and the same tab's rounds
  with the panel still closed, before it is opened, for the curve without the map.

A watcher inside the page samples the chart every few milliseconds (a canvas by its pixels, an
SVG by its marks) and records when it last changed, by the page's own clock, so the driver's
round trips are not counted. The draw is the last change before the chart stays still for
`SETTLED_MS`. Chromium's long tasks (over 50 ms on the page's main thread) are recorded too:
the longest between a round's Enter and the map recoloured is Chromium's own work on the map
(the Arrow table read, Vega's dataflow run and the canvas drawn). The load average before and
after is printed with the figures.

    python bench/bench_pool_map_browser.py [--pages 5] [--rounds 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from browser_support import StreamlitServer, launch_chromium  # noqa: E402

VIEWPORT = {"width": 1440, "height": 900}
KEY_SPACING_MS = 20
SETTLED_MS = 1500  # a chart unchanged this long is drawn
OPEN_MAP = "Pool map: the pool as the frozen network sees it"
UMAP_SHOWN = "drag a box to label every image in it at once"
WEIGHT_TEXTS = ".st-key-weights_chart .vega-embed svg text"
CURVE_SVG = ".st-key-curve_chart .vega-embed svg"
LOG_DIR = ROOT / "tests" / "artifacts"

# In the page: every SAMPLE_MS, a signature of the map's marks and of the learning curve; the
# page's clock at each change. A canvas is hashed from its pixels, an SVG from its marks.
WATCH = """([map, curve, sampleMs, holder]) => {
    const hash = (values, step) => {
        let h = 2166136261;
        for (let i = 0; i < values.length; i += step) h = Math.imul(h ^ values[i], 16777619);
        return h >>> 0;
    };
    const sign = (root) => {
        if (!root) return "";
        const canvas = root.querySelector("canvas");
        if (canvas && canvas.width && canvas.height) {
            const pixels = canvas.getContext("2d")
                .getImageData(0, 0, canvas.width, canvas.height).data;
            return `canvas ${canvas.width}x${canvas.height} ${hash(new Uint32Array(pixels.buffer), 3)}`;
        }
        const svg = root.querySelector("svg");
        if (!svg) return "";
        const marks = svg.querySelectorAll(".mark-symbol path");
        const text = svg.innerHTML;
        let h = 2166136261;
        for (let i = 0; i < text.length; i += 3) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
        return `svg ${marks.length} ${text.length} ${h >>> 0}`;
    };
    const watch = window.__mapWatch = {map: [], curve: [], enter: null, click: null, busy: []};
    // Chromium's long tasks (over 50 ms on the page's main thread): where its own work goes.
    new PerformanceObserver(list => {
        for (const e of list.getEntries()) watch.busy.push([e.startTime, e.duration]);
    }).observe({type: "longtask"});
    let last = {map: null, curve: null};
    const sample = () => {
        const now = performance.now();
        const signs = {map: sign(document.querySelector(map)),
                       curve: sign(document.querySelector(curve)?.parentElement)};
        for (const k of ["map", "curve"]) {
            if (signs[k] !== last[k]) { watch[k].push([now, signs[k]]); last[k] = signs[k]; }
        }
    };
    window.__mapWatchTimer = setInterval(sample, sampleMs);
    // When the chart's element first arrives from the server (before Vega has drawn into it).
    new MutationObserver(() => {
        if (watch.arrived === undefined && document.querySelector(holder)) {
            watch.arrived = performance.now();
        }
    }).observe(document.body, {childList: true, subtree: true});
    window.addEventListener("keydown", e => {
        if (e.key === "Enter") watch.enter = performance.now();
    }, true);
}"""
MAP_HOLDER = ".st-key-pool_map_chart"  # the chart's container, there as the page's run sends it
MAP = f"{MAP_HOLDER} .vega-embed"
CURVE = ".st-key-curve_chart .vega-embed svg"
CLICK = """(text) => {
    const summary = Array.from(document.querySelectorAll("summary"))
        .find(s => s.innerText.includes(text));
    window.__mapWatch.click = performance.now();
    summary.click();
    summary.blur();
}"""
# The last change of a chart after `since`, once it has been still for `settled` ms.
SETTLED = """([what, since, settled]) => {
    const changes = window.__mapWatch[what].filter(c => c[0] >= since && c[1] !== "");
    if (!changes.length) return null;
    const last = changes[changes.length - 1];
    return performance.now() - last[0] >= settled
        ? [last[0] - since, last[1], changes[0][0] - since, changes.length] : null;
}"""
SAMPLE_MS = 25
OPENING: list[tuple[float, float]] = []  # the chart's element arrived (s), longest task (ms)
# The longest task on the page's main thread between two times (0 if none took over 50 ms).
LONGEST = """([start, end]) => Math.max(0, ...window.__mapWatch.busy
    .filter(b => b[0] >= start && b[0] <= end).map(b => b[1]))"""
DRAWS: dict[str, list[tuple[float, int]]] = {}  # chart: (first change, changes), in order


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def settled(page, what: str, since: float) -> tuple[float, str]:
    """The seconds from `since` to a chart's last change, and its signature; the first change
    and how many there were are kept in `DRAWS` by chart."""
    handle = page.wait_for_function(
        SETTLED, arg=[what, since, SETTLED_MS], polling=100, timeout=120_000
    )
    seconds, sign, first, changes = handle.json_value()
    DRAWS.setdefault(what, []).append((first / 1000, changes))
    return seconds / 1000, sign


def new_tab(browser, url: str):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(url, timeout=120_000)
    page.get_by_role("button", name="Submit batch").wait_for(timeout=120_000)
    page.locator(WEIGHT_TEXTS).first.wait_for(timeout=120_000)
    page.locator(CURVE_SVG).wait_for(timeout=120_000)
    page.evaluate(WATCH, [MAP, CURVE, SAMPLE_MS, MAP_HOLDER])
    return context, page


def open_map(page) -> tuple[float, str, int]:
    """Click the panel open; the seconds to the map drawn and still, its renderer and marks.
    When the chart's element arrived and the longest task until the map was drawn go to
    `OPENING`."""
    page.evaluate(CLICK, OPEN_MAP)
    page.get_by_text(UMAP_SHOWN).first.wait_for(timeout=120_000)  # the UMAP map, not the PCA one
    click = page.evaluate("window.__mapWatch.click")
    seconds, sign = settled(page, "map", click)
    arrived = page.evaluate("window.__mapWatch.arrived") - click
    OPENING.append((arrived / 1000, page.evaluate(LONGEST, [click, click + seconds * 1000])))
    return seconds, sign.split()[0], page.locator(f"{MAP} .mark-symbol path").count()


def rounds(page, count: int, map_open: bool) -> tuple[list[float], list[float], list[float]]:
    """Keyed rounds: Enter to the map recoloured (if open) and to the curve redrawn, and the
    longest task on the page's main thread until the later of them."""
    label = page.get_by_role("button", name="Submit batch").inner_text()  # "Submit batch (0/4)"
    size = int(label.split("/")[1].split(")")[0])
    maps, curves, busy = [], [], []
    for _ in range(count):
        page.evaluate("document.activeElement && document.activeElement.blur()")
        for k in range(size):
            page.keyboard.press("o" if k % 2 == 0 else "e")
            page.wait_for_timeout(KEY_SPACING_MS)
        page.get_by_role("button", name=f"Submit batch ({size}/{size})").wait_for(timeout=10_000)
        page.evaluate("window.__mapWatch.enter = null")
        page.keyboard.press("Enter")
        page.get_by_role("button", name=f"Submit batch (0/{size})").wait_for(timeout=120_000)
        enter = page.evaluate("window.__mapWatch.enter")
        curves.append(settled(page, "curve", enter)[0])
        end = curves[-1]
        if map_open:
            maps.append(settled(page, "map", enter)[0])
            end = max(end, maps[-1])
        busy.append(page.evaluate(LONGEST, [enter, enter + end * 1000]))
    return maps, curves, busy


def row(what: str, times: list[float]) -> str:
    median = statistics.median(times)
    return (
        f"| {what} | {median * 1000:.0f} ms | {min(times) * 1000:.0f}-{max(times) * 1000:.0f} ms "
        f"| {len(times)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5, help="tabs that open the panel")
    parser.add_argument("--rounds", type=int, default=8, help="keyed rounds with the map open")
    args = parser.parse_args()
    loads = [load()]
    with (
        tempfile.TemporaryDirectory(prefix="tl-active-bench-db-") as db_dir,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        env = {"TL_ACTIVE_DB": str(Path(db_dir) / "sessions.db"), "OPENBLAS_NUM_THREADS": "1"}
        server = StreamlitServer(LOG_DIR / "bench-pool-map-browser.log", env=env).start()
        try:
            opened, renderer, marks = [], "", 0
            for _ in range(args.pages + 1):  # the first tab also warms the server
                context, page = new_tab(browser, server.url)
                seconds, renderer, marks = open_map(page)
                opened.append(seconds)
                context.close()
            loads.append(load())
            context, page = new_tab(browser, server.url)
            _, closed_curves, closed_busy = rounds(page, args.rounds, map_open=False)
            open_map(page)
            maps, curves, busy = rounds(page, args.rounds, map_open=True)
            context.close()
            loads.append(load())
        finally:
            server.stop()
            browser.close()
    print(
        f"Chromium {VIEWPORT['width']} x {VIEWPORT['height']}, the map drawn as {renderer}"
        + (f" ({marks:,} SVG symbols)" if renderer == "svg" else "")
        + f"; still for {SETTLED_MS} ms counts as drawn; load average {' / '.join(loads)} "
        f"(1, 5, 15 min: start / after opening / end) on {os.cpu_count()} cores"
    )
    print()
    print("| what | median | range | n |")
    print("|---|---:|---:|---:|")
    print(row("panel opened to map drawn (UMAP, cached)", opened[1:]))
    print(row("submit to map recoloured", maps))
    print(row("baseline: submit to learning curve redrawn, the map open", curves))
    print(row("baseline: submit to learning curve redrawn, the map closed", closed_curves))
    opening = DRAWS["map"][1 : args.pages + 1]
    after_rounds = DRAWS["map"][-args.rounds :]
    print()
    for what, draws in (("opened", opening), ("after a round", after_rounds)):
        print(
            f"map {what}: first marks after a median {statistics.median(d[0] for d in draws) * 1000:.0f} ms; "
            f"the chart changed {', '.join(str(d[1]) for d in draws)} times"
        )
    arrived = [a for a, _ in OPENING[1 : args.pages + 1]]
    longest = [t for _, t in OPENING[1 : args.pages + 1]]
    print(
        f"map opened: the chart's element arrived after a median {statistics.median(arrived) * 1000:.0f} ms "
        f"({', '.join(f'{a * 1000:.0f}' for a in arrived)}); the longest task on the page's main "
        f"thread until drawn {statistics.median(longest):.0f} ms ({', '.join(f'{t:.0f}' for t in longest)})"
    )
    for what, times in (("closed", closed_busy), ("open", busy)):
        print(
            f"the map {what}: the longest task on the page's main thread after Enter, median "
            f"{statistics.median(times):.0f} ms ({', '.join(f'{t:.0f}' for t in times)})"
        )


if __name__ == "__main__":
    main()
