"""What a person gets in a real browser (Debian's Chromium via Playwright), as medians.

The app is served as `make run` serves it: `streamlit run app.py` from the repository, so with
its `.streamlit/config.toml`, the file watcher off and one BLAS thread (on 127.0.0.1, a free
port, and a temporary session database, TL_ACTIVE_DB). Chromium's window is 1440 x 900. Each round presses the batch's
keys 20 ms apart without waiting for anything, then Enter. Measured:

- key to outline: from a key press to the grid drawing its answer and outline, as the grid
  itself records it (`window.__tlGrid.latencies`; no server round-trip);
- submit to all charts updated: from Enter until the progress line says "N labels in R rounds"
  for the new round, the weights heatmap shows the new round and the learning curve has redrawn;
- server CPU per round: the server process's utime + stime (/proc/<pid>/stat) over all rounds,
  divided by their number (the page's own reruns and the browser's messages included);
- first page: from opening the address in a new tab until the grid, the weights and the
  learning curve are drawn (the server already up, the features cached).

Run with `make bench-browser`; `--rounds` and `--pages` set the sample sizes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from browser_support import StreamlitServer, launch_chromium  # noqa: E402

VIEWPORT = {"width": 1440, "height": 900}
KEY_SPACING_MS = 20
WEIGHT_TEXTS = ".st-key-weights_chart .vega-embed svg text"
CURVE_SVG = ".st-key-curve_chart .vega-embed svg"
LOG_DIR = ROOT / "tests" / "artifacts"
ROUND_LANDED = """([texts, curve, title, progress, before]) => {
    const weights = Array.from(document.querySelectorAll(texts))
        .some(t => t.textContent.startsWith(title));
    const said = Array.from(document.querySelectorAll("[data-testid='stMarkdownContainer']"))
        .some(m => m.innerText.startsWith(progress));
    const svg = document.querySelector(curve);
    return weights && said && svg !== null && svg.innerHTML !== before;
}"""


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_page(browser, url: str):
    """A new tab on the app, returned with the seconds until the grid, weights and curve show."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    start = time.monotonic()
    page.goto(url, timeout=120_000)
    page.get_by_role("button", name="Submit batch").wait_for(timeout=120_000)
    page.locator(".st-key-batch_grid img").first.wait_for(timeout=120_000)
    page.locator(WEIGHT_TEXTS).first.wait_for(timeout=120_000)
    page.locator(CURVE_SVG).wait_for(timeout=120_000)
    return context, page, time.monotonic() - start


def time_rounds(browser, url: str, rounds: int, pid: int) -> dict[str, list[float]]:
    context, page, _ = open_page(browser, url)
    label = page.get_by_role("button", name="Submit batch").inner_text()  # "Submit batch (0/4)"
    size = int(label.split("/")[1].split(")")[0])
    keys, submits, labels = [], [], 0
    cpu_before = cpu_seconds(pid)
    for number in range(1, rounds + 1):
        page.evaluate("window.__tlGrid.latencies.length = 0")
        for k in range(size):
            page.keyboard.press("o" if k % 2 == 0 else "e")
            page.wait_for_timeout(KEY_SPACING_MS)
        page.get_by_role("button", name=f"Submit batch ({size}/{size})").wait_for(timeout=10_000)
        keys += page.evaluate("window.__tlGrid.latencies")
        labels += size
        curve_before = page.inner_html(CURVE_SVG)
        progress = f"{labels} labels in {number} round{'s' if number != 1 else ''}"
        start = time.monotonic()
        page.keyboard.press("Enter")
        page.wait_for_function(
            ROUND_LANDED,
            arg=[WEIGHT_TEXTS, CURVE_SVG, f"Weights after round {number}:", progress, curve_before],
            polling=5,
            timeout=30_000,
        )
        submits.append(time.monotonic() - start)
        page.get_by_role("button", name=f"Submit batch (0/{size})").wait_for(timeout=10_000)
    cpu = (cpu_seconds(pid) - cpu_before) / rounds
    context.close()
    return {"keys": [k / 1000 for k in keys], "submits": submits, "cpu": [cpu]}


def row(what: str, times: list[float], target: str) -> str:
    median = statistics.median(times)
    shown = f"{median * 1000:.0f} ms" if median < 1 else f"{median:.2f} s"
    return f"| {what} | {shown} | {target} | {len(times)} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--pages", type=int, default=3, help="first pages to time")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="tl-active-bench-db-") as db_dir,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        # As `make run` serves it: one BLAS thread, the sessions sharing one process.
        env = {"TL_ACTIVE_DB": str(Path(db_dir) / "sessions.db"), "OPENBLAS_NUM_THREADS": "1"}
        server = StreamlitServer(LOG_DIR / "bench-browser.log", env=env).start()
        try:
            first = []
            for _ in range(args.pages + 1):  # the first tab also warms the server's caches
                context, _, seconds = open_page(browser, server.url)
                first.append(seconds)
                context.close()
            measured = time_rounds(browser, server.url, args.rounds, server.process.pid)
        finally:
            server.stop()
            browser.close()
    print(f"Chromium {VIEWPORT['width']} x {VIEWPORT['height']}, keys {KEY_SPACING_MS} ms apart")
    print()
    print("| what | median | target | n |")
    print("|---|---:|---:|---:|")
    print(row("key to outline (in the browser)", measured["keys"], "under 30 ms"))
    print(row("submit to all charts updated", measured["submits"], "at most 300 ms"))
    print(row("server CPU per labelled round", measured["cpu"], "at most 100 ms"))
    print(row("first page (server up, features cached)", first[1:], ""))


if __name__ == "__main__":
    main()
