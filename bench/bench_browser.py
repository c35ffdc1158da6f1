"""How fast the app feels in a real browser (Debian's Chromium via Playwright), as medians.

- submit to updated charts: Enter on a fully answered batch until the weights heatmap shows the
  new round and the learning curve has redrawn;
- a rerun that retrains nothing: a key answering one tile until the page shows it (the batch
  fragment reruns alone); "Check my labels" until its panel shows or goes (its fragment reruns
  alone); and a new number of rounds to auto-label until the button says it (the whole page
  reruns, nothing is retrained);
- first page interactive: from starting `streamlit run` until the batch, its buttons and the
  weights heatmap are on screen, with a cold feature cache (a temporary TL_ACTIVE_CACHE, so the
  frozen CNN runs over MNIST) and with a warm one.

Every server stores its sessions in a temporary database (TL_ACTIVE_DB), never in a user's.

Run with `make bench-browser`; `--rounds`, `--warm-starts`, `--cold-starts` set the sample sizes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from browser_support import StreamlitServer, launch_chromium  # noqa: E402

WEIGHT_TEXTS = ".st-key-weights_chart .vega-embed svg text"
CURVE_SVG = ".st-key-curve_chart .vega-embed svg"
LOG_DIR = ROOT / "tests" / "artifacts"


def wait_interactive(page, url: str, timeout_ms: int = 120_000) -> None:
    page.goto(url, timeout=timeout_ms)
    page.get_by_role("button", name="Submit batch").wait_for(timeout=timeout_ms)
    page.locator(".st-key-tile_0 img").wait_for(timeout=timeout_ms)
    page.locator(WEIGHT_TEXTS).first.wait_for(timeout=timeout_ms)


def time_first_page(browser, runs: int, cold: bool, db_dir: Path) -> list[float]:
    times = []
    for run in range(runs):
        with tempfile.TemporaryDirectory(prefix="tl-active-cache-") as cache:
            kind = "cold" if cold else "warm"
            env = {"TL_ACTIVE_DB": str(db_dir / f"{kind}-{run}.db")}
            if cold:
                env["TL_ACTIVE_CACHE"] = cache
            server = StreamlitServer(LOG_DIR / f"bench-{kind}-{run}.log", env=env)
            context = browser.new_context(viewport={"width": 1500, "height": 1400})
            page = context.new_page()
            start = time.monotonic()
            try:
                server.start(timeout=300)
                wait_interactive(page, server.url, timeout_ms=300_000)
                times.append(time.monotonic() - start)
            finally:
                context.close()
                server.stop()
        print(f"  first page interactive ({kind} cache): {times[-1]:.2f} s", flush=True)
    return times


def answer_batch(page, size: int, tile_times: list[float]) -> None:
    for count in range(1, size + 1):
        start = time.monotonic()
        page.keyboard.press("o" if count % 2 else "e")
        page.get_by_role("button", name=f"Submit batch ({count}/{size})").wait_for(timeout=10_000)
        tile_times.append(time.monotonic() - start)


def time_rounds(browser, url: str, rounds: int) -> tuple[list[float], ...]:
    context = browser.new_context(viewport={"width": 1500, "height": 2300})
    page = context.new_page()
    wait_interactive(page, url)
    label = page.get_by_role("button", name="Submit batch").inner_text()  # "Submit batch (0/4)..."
    size = int(label.split("/")[1].split(")")[0])
    submit_times, tile_times, check_times, page_times = [], [], [], []
    for number in range(1, rounds + 1):
        try:
            answer_batch(page, size, tile_times)
        except Exception:
            page.screenshot(path=str(LOG_DIR / "bench-failure.png"))
            raise
        curve_before = page.inner_html(CURVE_SVG)
        start = time.monotonic()
        page.keyboard.press("Enter")
        page.wait_for_function(
            """([texts, curve, title, before]) => {
                const done = Array.from(document.querySelectorAll(texts))
                    .some(t => t.textContent.startsWith(title));
                const svg = document.querySelector(curve);
                return done && svg && svg.innerHTML !== before;
            }""",
            arg=[WEIGHT_TEXTS, CURVE_SVG, f"Weights after round {number}:", curve_before],
            polling=5,
            timeout=30_000,
        )
        submit_times.append(time.monotonic() - start)
        # A whole-page rerun that retrains nothing: another number of rounds to auto-label.
        rounds_box = page.get_by_label("Rounds to auto-label")
        wanted = 5 + number % 2
        start = time.monotonic()
        rounds_box.fill(str(wanted))
        rounds_box.press("Enter")
        page.get_by_role("button", name=f"Auto-label {wanted} rounds").wait_for(timeout=10_000)
        page_times.append(time.monotonic() - start)
        page.evaluate("document.activeElement && document.activeElement.blur()")
        # The label check, on and off: only its fragment reruns.
        for _ in range(2):
            shown = page.locator(".st-key-check_panel").count() > 0
            start = time.monotonic()
            page.get_by_role("button", name="Check my labels").click()
            page.locator(".st-key-check_panel").wait_for(
                state="detached" if shown else "visible", timeout=10_000
            )
            check_times.append(time.monotonic() - start)
        page.evaluate("document.activeElement && document.activeElement.blur()")
    context.close()
    return submit_times, tile_times, check_times, page_times


def summary(name: str, times: list[float]) -> str:
    if not times:
        return f"{name:<56} (not measured)"
    median_ms = statistics.median(times) * 1000
    return f"{name:<56} median {median_ms:8.0f} ms   (n = {len(times)}, max {max(times) * 1000:.0f} ms)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warm-starts", type=int, default=3)
    parser.add_argument("--cold-starts", type=int, default=1)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="tl-active-bench-db-") as db_dir,
        sync_playwright() as playwright,
    ):
        db_dir = Path(db_dir)
        browser = launch_chromium(playwright)
        try:
            env = {"TL_ACTIVE_DB": str(db_dir / "rounds.db")}
            server = StreamlitServer(LOG_DIR / "bench-rounds.log", env=env).start()
            try:
                submit, tile, check, whole_page = time_rounds(browser, server.url, args.rounds)
            finally:
                server.stop()
            warm = time_first_page(browser, args.warm_starts, cold=False, db_dir=db_dir)
            cold = time_first_page(browser, args.cold_starts, cold=True, db_dir=db_dir)
        finally:
            browser.close()
    print()
    print(summary("submit -> updated charts", submit))
    print(summary("answer a tile (batch fragment rerun, no retraining)", tile))
    print(summary("'Check my labels' (its fragment reruns, no retraining)", check))
    print(summary("whole-page rerun, no retraining (rounds to auto-label)", whole_page))
    print(summary("first page interactive, warm feature cache", warm))
    print(summary("first page interactive, cold feature cache", cold))


if __name__ == "__main__":
    main()
