"""How long "Fine-tune on my labels" takes here, and what it does to the held-out accuracy.

A session on the 5-9 network's embedding asks digits 0-4 (batch 8, the default strategy, seed
0) and is answered by MNIST's ground truth for 5 rounds: 40 labels, as the labelling page's
"Auto-label" would. Its backbone's last N layers are then fine-tuned on them as the page's
button does (`fine_tune.fine_tune_session`), into a fresh folder and feature cache each repeat,
so each pays the features of the new network over all 70,000 images as the app does the first
time. Prints the medians of the training and of the whole (features and the continued session
included) and the test accuracy before and after; the fine-tune is seeded, so the accuracies
are the same in every repeat.

    python bench/bench_fine_tune.py [--rounds 5] [--layers 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]


def main() -> None:
    from tl_active.core.task import Task
    from tl_active.data.features import load_features
    from tl_active.experiments.fine_tune import fine_tune_session
    from tl_active.sessions.records import SessionSettings
    from tl_active.sessions.session import LabellingSession

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of 8 labels before it")
    parser.add_argument("--layers", type=int, default=2, help="N: the last N layers fine-tuned")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    features = load_features("mnist-cnn-5to9", "embedding")
    session = LabellingSession(
        features,
        SessionSettings(
            task=Task.multiclass("0-4"),
            batch_size=8,
            backbone="mnist-cnn-5to9",
            layer="embedding",
        ),
    )
    session.auto_label(args.rounds)
    wholes, trainings, outcomes = [], [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            outcome = fine_tune_session(
                session, "bench", args.layers, folder=Path(scratch), cache_dir=Path(scratch)
            )
            wholes.append(time.perf_counter() - started)
        trainings.append(outcome.result.seconds)
        outcomes.append(outcome)
    outcome = outcomes[-1]
    after = "-" if outcome.after is None else f"{outcome.after.accuracy:.2%}"
    print(
        f"{len(session.labelled)} labels, last {args.layers} layers "
        f"({', '.join(outcome.result.layers)}), {args.repeats} repeats: training median "
        f"{statistics.median(trainings):.1f} s ({outcome.result.epochs} epochs, best "
        f"{outcome.result.best_epoch}); in all, features of 70,000 images included, median "
        f"{statistics.median(wholes):.1f} s"
    )
    print(
        f"test accuracy of the head on the same labels: {outcome.before.accuracy:.2%} before, "
        f"{after} after; {'kept the old backbone' if outcome.kept_old else 'continued on it'}"
    )
    same = {(o.result.checksum, o.after.accuracy if o.after else None) for o in outcomes}
    print(f"the same network and accuracy in every repeat: {len(same) == 1}")


if __name__ == "__main__":
    main()
