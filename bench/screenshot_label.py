"""The README's screenshot of the odd/even demo: `python bench/screenshot_label.py [OUT.png]`.

Serves the app as `make run` does (a temporary database; the project's feature cache), lets
MNIST's truth answer five rounds with the page's own Auto-label button, then answers two tiles
of the next batch by key, as a person would, and takes the screenshot at 1440 x 900 with the
third tile outlined.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser_support import StreamlitServer, launch_chromium  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {"TL_ACTIVE_DB": str(tmp / "sessions.db"), "OPENBLAS_NUM_THREADS": "1"}
        if "TL_ACTIVE_CACHE" in os.environ:
            env["TL_ACTIVE_CACHE"] = os.environ["TL_ACTIVE_CACHE"]
        server = StreamlitServer(tmp / "server.log", env=env).start()
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
                page.goto(server.url)
                page.get_by_role("button", name="Submit batch").wait_for(timeout=180_000)
                page.get_by_role("button", name="Auto-label 5 rounds").click()
                page.get_by_text("20 labels").first.wait_for(timeout=120_000)
                # The toast fades after a few seconds; the sidebar shows its top, as on arrival.
                page.wait_for_timeout(7_000)
                page.locator("[data-testid='stSidebarContent']").evaluate("e => e.scrollTop = 0")
                for key in "oe":  # two answers; the third tile is left outlined
                    page.keyboard.press(key)
                    page.wait_for_timeout(300)
                page.wait_for_timeout(1_500)
                page.screenshot(path=str(out))
                browser.close()
        finally:
            server.stop()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
