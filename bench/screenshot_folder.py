"""The README's screenshot of labelling a folder: `python bench/screenshot_folder.py [OUT.png]`.

Writes a folder of MNIST digits as PNG files in four class folders (one, seven, three, zero),
serves the app on it as `TL_ACTIVE_IMAGES=<folder> make run` would (a temporary database and
feature cache), answers three batches in Chromium at 1440 x 900 with the class keys, as a
person would, and takes the screenshot after the third round.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser_support import StreamlitServer, launch_chromium  # noqa: E402
from image_throughput import write_digit_pngs  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tl_active.data.kinds.base import answer_keys  # noqa: E402
from ui.components.labelling_grid import UNDO_KEY  # noqa: E402

CLASSES = {"one": 1, "seven": 7, "three": 3, "zero": 0}
ROUNDS = 3


def write_folder(root: Path) -> Path:
    """2,000 MNIST digits as PNGs; four of the digits' folders renamed as classes."""
    digits = write_digit_pngs(root / "digits", 2_000)
    folder = root / "my-digits"
    folder.mkdir()
    for name, digit in CLASSES.items():
        (digits / str(digit)).rename(folder / name)
    return folder


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot-folder.png"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = write_folder(tmp)
        server = StreamlitServer(
            tmp / "server.log",
            env={
                "TL_ACTIVE_IMAGES": str(folder),
                "TL_ACTIVE_DB": str(tmp / "sessions.db"),
                "TL_ACTIVE_CACHE": str(tmp / "cache"),
                "OPENBLAS_NUM_THREADS": "1",
            },
        ).start()
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
                page.goto(server.url)
                for number in range(1, ROUNDS + 1):
                    page.get_by_role("button", name="Submit batch").wait_for(timeout=180_000)
                    page.wait_for_timeout(500)
                    # The grid's tiles say their image's path (an aria label, for screen readers).
                    names = [
                        label.split(". ", 1)[1]
                        for label in page.locator(
                            ".st-key-batch_grid [aria-label^='Image ']"
                        ).evaluate_all("cells => cells.map(c => c.getAttribute('aria-label'))")
                    ]
                    print(f"round {number}: {names}", flush=True)
                    # The class keys as the page makes them (here their first letters).
                    order = sorted(CLASSES)
                    keys = dict(zip(order, answer_keys(order, reserved=(UNDO_KEY,)), strict=True))
                    for name in names:
                        page.keyboard.press(keys[name.split("/")[0]])
                        page.wait_for_timeout(150)
                    page.keyboard.press("Enter")
                    page.get_by_text(f"Round {number} learned").wait_for(timeout=60_000)
                page.wait_for_timeout(3_000)
                page.screenshot(path=str(out))
                browser.close()
        finally:
            server.stop()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
