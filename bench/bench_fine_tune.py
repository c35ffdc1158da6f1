"""How long "Fine-tune on my labels" takes here, and what it does to the held-out accuracy.

A session on the 5-9 network's embedding asks digits 0-4 (batch 8, the default strategy, seed
0) and is answered by MNIST's ground truth for 5 rounds: 40 labels, as the labelling page's
"Auto-label" would. Its backbone's last N layers are then fine-tuned on them as the page's
button does (`fine_tune.fine_tune_session`), into a fresh folder and feature cache each repeat,
so each pays the features of the new network over all 70,000 images as the app does the first
time. Prints the medians of the training and of the whole (features and the continued session
included) and the test accuracy before and after; the fine-tune is seeded, so the accuracies
are the same in every repeat.

With `--data weather`, a snow-today session on the weather network's `dense` layer (batch 4,
the default strategy, seed 0) answered by the recorded events for 13 rounds (52 labels, 6 of
them snow); its features are 3,525 windows, and snow is judged by PR-AUC on 2017's windows.

    python bench/bench_fine_tune.py [--data weather] [--rounds 5] [--layers 2] [--repeats 3]
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
    parser.add_argument("--data", choices=("mnist", "weather"), default="mnist")
    parser.add_argument(
        "--rounds", type=int, help="rounds before it (of 8 digits: 5; of 4 windows: 13)"
    )
    parser.add_argument("--layers", type=int, default=2, help="N: the last N layers fine-tuned")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    if args.data == "weather":
        from tl_active.data.weather_features import load_weather_features
        from tl_active.sessions.records import WEATHER_TASK

        features = load_weather_features("snow-today", "weather-cnn", "dense")
        settings = SessionSettings(
            task=WEATHER_TASK, backbone="weather-cnn", layer="dense", weather="snow-today"
        )
        rounds, items = args.rounds or 13, "3,525 windows"
    else:
        features = load_features("mnist-cnn-5to9", "embedding")
        settings = SessionSettings(
            task=Task.multiclass("0-4"),
            batch_size=8,
            backbone="mnist-cnn-5to9",
            layer="embedding",
        )
        rounds, items = args.rounds or 5, "70,000 images"
    session = LabellingSession(features, settings)
    session.auto_label(rounds)
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
    print(
        f"{len(session.labelled)} labels, last {args.layers} layers "
        f"({', '.join(outcome.result.layers)}), {args.repeats} repeats: training median "
        f"{statistics.median(trainings):.1f} s ({outcome.result.epochs} epochs, best "
        f"{outcome.result.best_epoch}); in all, features of {items} included, median "
        f"{statistics.median(wholes):.1f} s"
    )
    # The message gives the figure the page judges by: accuracy, or a rare answer's PR-AUC.
    print(f"{outcome.message} ({'kept the old backbone' if outcome.kept_old else 'continued'})")
    same = {(o.result.checksum, o.after.accuracy if o.after else None) for o in outcomes}
    print(f"the same network and figures in every repeat: {len(same) == 1}")


if __name__ == "__main__":
    main()
