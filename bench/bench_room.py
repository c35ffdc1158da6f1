"""A room on one server: N people label at once, each with their own session.

One server is started as `make run` starts it (`streamlit run app.py` with the repository's
`.streamlit/config.toml`, the file watcher off, one BLAS thread), on 127.0.0.1 only, with a
temporary session database. For each N in `--people`, N people open the app together; once
every page shows its batch, each person labels `--rounds` rounds: answer the batch with keys
pressed `KEY_GAP_S` apart, press Enter, wait for the progress line, then think for `THINK_S`.

`--browsers` of the N people (1 unless told) are Chromium contexts, which measure key to
outline in the page; the others speak Streamlit's protocol over the page's websocket
(`room_protocol.py`: the same widget states and grid submit a browser sends, nothing drawn),
because Chromium contexts, each drawing every chart, cannot carry thirty people on the two
cores the server also runs on. It prints, per N:

- submit to progress, median and p95: from Enter (or the protocol's submit) until the progress
  line ("N labels in R rounds") shows the new count;
- key to outline, median: from `window.__tlGrid.latencies`, measured in the page by the
  browser-side grid (no server round-trip);
- server CPU per labelled round: the server process's utime + stime (/proc/<pid>/stat) over the
  labelling phase, divided by the rounds labelled (the first pages are not in it);
- first page, median and max: from opening the address until the batch and the progress line
  are there, with all N people arriving at once (a protocol person fetches index.html and the
  scripts and styles it names, as a browser with an empty cache does, then runs the page);
- rounds labelled of those asked for, and errors in the server log (tracebacks, "Error",
  "Exception") and on the pages while that N ran.

`--quick` is a smoke test (N = 1, 2; one round).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import async_playwright
from room_protocol import ProtocolPerson

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]
from browser_support import CHROMIUM, CHROMIUM_ARGS, free_port  # noqa: E402

LOG_DIR = ROOT / "tests" / "artifacts"
MAX_PEOPLE = 60  # bounded, whatever is asked: each is a session on the server
KEY_GAP_S = 0.3
THINK_S = 2.0
TIMEOUT_MS = 120_000
PROGRESS = re.compile(r"(\d+) labels in (\d+) rounds?")
ERRORS = re.compile(r"Traceback|Error|Exception")
# The labels the progress line shows now, or -1 while it is not on the page.
READ_PROGRESS = r"""() => {
    const m = document.body.innerText.match(/(\d+) labels in (\d+) rounds?/);
    return m ? Number(m[1]) : -1;
}"""


def serve(port: int, db: Path, log_path: Path) -> subprocess.Popen:
    """The app as `make run` serves it (its config.toml read from the repository), on loopback."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.fileWatcherType",
                "none",
            ],
            cwd=ROOT,
            # As `make run`: one BLAS thread, since every session's round shares this process.
            env={**os.environ, "TL_ACTIVE_DB": str(db), "OPENBLAS_NUM_THREADS": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited early; see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                if r.read().strip() == b"ok":
                    return server
        except OSError:
            pass
        time.sleep(0.1)
    server.terminate()
    raise RuntimeError(f"the server did not become healthy; see {log_path}")


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Person:
    first_page: float | None = None
    submits: list[float] = field(default_factory=list)
    keys: list[float] = field(default_factory=list)  # key to answer shown, server round-trip
    grid_keys: list[float] = field(default_factory=list)  # from window.__tlGrid, in the page
    rounds: int = 0
    failure: str | None = None
    page_errors: list[str] = field(default_factory=list)


async def answer_key(page, key: str, count: int, size: int, person: Person) -> None:
    """Press one key; unless the page answers keys itself, time it until the count moves."""
    start = time.monotonic()
    await page.keyboard.press(key)
    if await page.evaluate("() => Boolean(window.__tlGrid)"):
        return
    label = f"Submit batch ({count}/{size})"
    await page.get_by_role("button", name=label).wait_for(timeout=TIMEOUT_MS)
    person.keys.append(time.monotonic() - start)


async def label_round(page, person: Person) -> None:
    text = await page.get_by_role("button", name="Submit batch").first.inner_text()
    size = int(re.search(r"\((\d+)/(\d+)\)", text).group(2))
    before = await page.evaluate(READ_PROGRESS)
    for count in range(1, size + 1):
        start = time.monotonic()
        await answer_key(page, "o" if count % 2 else "e", count, size, person)
        await asyncio.sleep(max(0.0, KEY_GAP_S - (time.monotonic() - start)))
    start = time.monotonic()
    await page.keyboard.press("Enter")
    try:
        await page.wait_for_function(
            f"() => ({READ_PROGRESS})() >= {before + size}", polling=20, timeout=TIMEOUT_MS
        )
    except Exception as error:
        label = await page.get_by_role("button", name="Submit batch").first.inner_text()
        said = await page.locator(".tl-status").first.inner_text()
        raise RuntimeError(
            f"no progress after Enter; the grid shows {label!r}, says {said!r}"
        ) from error
    person.submits.append(time.monotonic() - start)
    person.rounds += 1


async def one_person(browser, url: str, rounds: int, ready: asyncio.Barrier) -> Person:
    person = Person()
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = await context.new_page()
        start = time.monotonic()
        try:
            await page.goto(url, timeout=TIMEOUT_MS)
            await page.get_by_role("button", name="Submit batch").first.wait_for(timeout=TIMEOUT_MS)
            await page.wait_for_function(f"() => ({READ_PROGRESS})() >= 0", timeout=TIMEOUT_MS)
            person.first_page = time.monotonic() - start
        except Exception as error:  # noqa: BLE001 (said in the table, not raised)
            person.failure = f"first page: {str(error).splitlines()[0][:160]}"
        await ready.wait()  # the CPU count starts when everyone has a page
        if person.failure:
            return person
        for _ in range(rounds):
            try:
                await label_round(page, person)
            except Exception as error:  # noqa: BLE001
                person.failure = f"round {person.rounds + 1}: {str(error).splitlines()[0][:160]}"
                break
            await asyncio.sleep(THINK_S)
        person.grid_keys = list(
            await page.evaluate("() => window.__tlGrid ? window.__tlGrid.latencies : []")
        )
    finally:
        await context.close()
    return person


async def protocol_person(url: str, rounds: int, ready: asyncio.Barrier) -> Person:
    """One person speaking Streamlit's protocol: the same page, the same submits, no drawing."""
    person = Person()
    client = ProtocolPerson(url, timeout=TIMEOUT_MS / 1000)
    try:
        try:
            await client.open()
            person.first_page = client.first_page
        except Exception as error:  # noqa: BLE001 (said in the table, not raised)
            person.failure = f"first page: {type(error).__name__}: {str(error)[:160]}"
        await ready.wait()  # the CPU count starts when everyone has a page
        if person.failure:
            return person
        for _ in range(rounds):
            try:
                await asyncio.sleep(KEY_GAP_S * len(client.page.grid["tiles"]))  # the keys
                person.submits.append(await client.submit(client.answers()))
                person.rounds += 1
                await client.until_finished()
            except Exception as error:  # noqa: BLE001
                person.failure = (
                    f"round {person.rounds + 1}: {type(error).__name__}: {str(error)[:160]}"
                )
                break
            await asyncio.sleep(THINK_S)
        person.page_errors = list(client.page.errors)
    finally:
        await client.close()
    return person


@dataclass
class Level:
    people: int
    submits: list[float]
    keys: list[float]
    key_source: str
    cpu_per_round: float
    first_pages: list[float]
    rounds: int
    asked: int
    failures: list[str]
    log_errors: int
    page_errors: int


def read_from(path: Path, offset: int) -> tuple[str, int]:
    with open(path, errors="replace") as log:
        log.seek(offset)
        text = log.read()
        return text, log.tell()


async def run_level(
    browser, server, url: str, n: int, rounds: int, log_path: Path, browsers: int
) -> Level:
    _, offset = read_from(log_path, 0)
    cpu = {}

    async def everyone_ready() -> None:
        cpu["start"] = cpu_seconds(server.pid)

    ready = asyncio.Barrier(n + 1)
    tasks = [
        asyncio.create_task(
            one_person(browser, url, rounds, ready)
            if k < browsers
            else protocol_person(url, rounds, ready)
        )
        for k in range(n)
    ]
    await ready.wait()
    await everyone_ready()
    people = await asyncio.gather(*tasks)
    used = cpu_seconds(server.pid) - cpu["start"]
    text, _ = read_from(log_path, offset)
    done = sum(p.rounds for p in people)
    grid = [ms / 1000 for p in people for ms in p.grid_keys]
    return Level(
        people=n,
        submits=[s for p in people for s in p.submits],
        keys=grid or [k for p in people for k in p.keys],
        key_source="grid, in the page" if grid else "no browser",
        cpu_per_round=used / done if done else float("nan"),
        first_pages=[p.first_page for p in people if p.first_page is not None],
        rounds=done,
        asked=n * rounds,
        failures=[p.failure for p in people if p.failure],
        log_errors=sum(1 for line in text.splitlines() if ERRORS.search(line)),
        page_errors=sum(len(p.page_errors) for p in people),
    )


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(levels: list[Level]) -> str:
    rows = [
        "| people | submit → progress median / p95 | key → outline median | server CPU per "
        "round | first page median / max | rounds | errors in log / on pages | failures |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in levels:
        keys = f"{median(level.keys) * 1000:.0f} ms ({level.key_source})" if level.keys else "-"
        rows.append(
            f"| {level.people} | {median(level.submits):.2f} / {p95(level.submits):.2f} s "
            f"| {keys} | {level.cpu_per_round * 1000:.0f} ms "
            f"| {median(level.first_pages):.1f} / "
            f"{max(level.first_pages, default=float('nan')):.1f} s "
            f"| {level.rounds} of {level.asked} | {level.log_errors} / {level.page_errors} "
            f"| {len(level.failures)} |"
        )
    return "\n".join(rows)


async def main_async(people: list[int], rounds: int, browsers: int) -> list[Level]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log_path = LOG_DIR / "bench-room-server.log"
    with tempfile.TemporaryDirectory(prefix="tl-active-room-db-") as db_dir:
        server = serve(port, Path(db_dir) / "room.db", log_path)
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                try:
                    # A warm server, as a presenter's own first visit leaves it: features loaded.
                    await run_level(browser, server, url, 1, 0, log_path, browsers)
                    levels = []
                    for n in people:
                        level = await run_level(browser, server, url, n, rounds, log_path, browsers)
                        levels.append(level)
                        print(table([level]).splitlines()[-1], flush=True)
                        for failure in sorted(set(level.failures)):
                            print(f"    failure: {failure}", flush=True)
                finally:
                    await browser.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    return levels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", default="1,8,16,30", help="comma-separated N, each a run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds each person labels")
    parser.add_argument(
        "--browsers", type=int, default=1, help="how many of the N people are Chromium contexts"
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: N = 1, 2; one round")
    args = parser.parse_args()
    people = [1, 2] if args.quick else [int(n) for n in args.people.split(",")]
    rounds = 1 if args.quick else args.rounds
    if not all(1 <= n <= MAX_PEOPLE for n in people) or rounds < 1:
        parser.error(f"each N must be from 1 to {MAX_PEOPLE}, and rounds at least 1")
    print(
        f"{rounds} rounds each; keys {KEY_GAP_S} s apart, {THINK_S} s of thought; "
        f"{args.browsers} of each N in Chromium, the others over Streamlit's protocol",
        flush=True,
    )
    levels = asyncio.run(main_async(people, rounds, max(0, args.browsers)))
    print()
    print(table(levels))


if __name__ == "__main__":
    main()
