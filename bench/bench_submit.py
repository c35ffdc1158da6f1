"""Server CPU of one labelled round: the app's submit rerun under AppTest, without a browser.

Runs the real entry script on the real cached features of `mnist-cnn`, submits N batches as the
browser grid does (MNIST's truth), and prints the median process CPU time of one submit rerun
(`time.process_time()` around it), and of a rerun that changed nothing. AppTest adds its own
overhead, so the numbers are for comparing versions of the page; `make bench-browser` measures
the real server. `--profile` prints where the submit reruns spend it.

    python bench/bench_submit.py [--rounds 8] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


PROFILING = [False]


def profile_script_runs(profile: cProfile.Profile) -> None:
    """Profile the script's own thread (AppTest runs the page there) while PROFILING is set."""
    from streamlit.runtime.scriptrunner import script_runner

    run = script_runner.ScriptRunner._run_script

    def profiled(self, *args, **kwargs):
        if not PROFILING[0]:
            return run(self, *args, **kwargs)
        profile.enable()
        try:
            return run(self, *args, **kwargs)
        finally:
            profile.disable()

    script_runner.ScriptRunner._run_script = profiled


def share_script_cache() -> None:
    """Compile the scripts once, as a server does: AppTest makes a new `ScriptCache` per run, so
    each of its reruns parses and compiles app.py and the page again (tens of ms a rerun that a
    server never spends)."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    shared = ScriptCache()
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: shared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    os.environ["TL_ACTIVE_DB"] = str(Path(tempfile.mkdtemp()) / "sessions.db")
    share_script_cache()
    from grid_apptest import submit_grid
    from streamlit.testing.v1 import AppTest

    from ui import keys

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    profile = cProfile.Profile() if args.profile else None
    if profile:
        profile_script_runs(profile)
    submits, idle = [], []
    for _ in range(args.rounds):
        session = at.session_state[keys.SESSION]
        answers = session.truth([p.index for p in session.next_batch()])
        number = len(session.rounds) + 1
        PROFILING[0] = profile is not None
        start = time.process_time()
        submit_grid(at, number, answers)
        submits.append(time.process_time() - start)
        PROFILING[0] = False
        assert not at.exception and len(at.session_state[keys.SESSION].rounds) == number
        start = time.process_time()
        at.run()
        idle.append(time.process_time() - start)
    # The first submit stores the session and warms caches; the rest are the steady state.
    print(
        f"submit rerun CPU, median of {len(submits) - 1}: {statistics.median(submits[1:]) * 1e3:.0f} ms"
    )
    print(f"idle rerun CPU, median of {len(idle) - 1}: {statistics.median(idle[1:]) * 1e3:.0f} ms")
    print("each submit (ms):", " ".join(f"{t * 1e3:.0f}" for t in submits))
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(
            rf"{ROOT.name}/(ui|tl_active)", 40
        )


if __name__ == "__main__":
    main()
