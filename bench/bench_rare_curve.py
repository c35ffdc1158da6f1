"""What a rare answer's curve costs a round on the Label page, beside the round itself.

A session on mnist-cnn's embedding asks "is it a 0?" (a tenth of the 10,000 test images, so its
curve is PR-AUC's, `sessions.figures.rare_curve`), answered by MNIST's truth in rounds of 4.
At 10, 30 and 50 rounds it times, 7 times each, a round (auto-labelled, then undone: the
baseline) and the curve read after it, which computes the new round's figures and reads the
others' kept ones. Prints the medians; run it with one BLAS thread for steady figures.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python bench/bench_rare_curve.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]


def main() -> None:
    from tl_active.core.task import BINARY, Task
    from tl_active.data.features import load_features
    from tl_active.sessions.figures import rare_curve
    from tl_active.sessions.records import SessionSettings
    from tl_active.sessions.session import LabellingSession

    features = load_features("mnist-cnn", "embedding")
    settings = SessionSettings(task=Task(BINARY, (0,)), layer="embedding", batch_size=4)
    session = LabellingSession(features, settings)
    assert session.rare, "a tenth of the test set is rare"
    for rounds in (10, 30, 50):
        session.auto_label(rounds - len(session.rounds))
        round_ms, curve_ms = [], []
        for _ in range(7):
            started = time.perf_counter()
            session.auto_label(1)
            round_ms.append((time.perf_counter() - started) * 1e3)
            started = time.perf_counter()
            rare_curve(session)
            curve_ms.append((time.perf_counter() - started) * 1e3)
            session.undo()
        print(
            f"{rounds} rounds: a round median {statistics.median(round_ms):.1f} ms; the rare "
            f"curve after it median {statistics.median(curve_ms):.1f} ms"
        )


if __name__ == "__main__":
    main()
