"""Fine-tuning the wet network for snow with every label: its settings, chosen on 2016's folds.

For each of 2016's five blocked folds, a wet network of its own (`fold_network`: the shipped
recipe without the fold's days) is read by the head, then fine-tuned (`fine-tune`: Dense and
output layers; `fine-tune-all`: every layer) on every pool label under each learning rate,
number of epochs and weight of the positive answer asked for. Beside them: scratch at the lab's
settings, and logistic regressions without a network on the answer day's 17 measurements, on
the last three days and on the whole window. Each line gives the mean PR-AUC over the folds
(each fold's after it) and the share of the gap between the head and the day-level logistic
regression that it closes. 2017 is never read: this is where the lab's settings come from.
`--days` sets the windows' length, for the fold networks as for everything else.

    python bench/weather_fine_tune.py --rates 1e-4,3e-4,1e-3,3e-3 --epochs 10,20,40
    python bench/weather_fine_tune.py --days 4 --rates 3e-4 --epochs 20
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tl_active.data.backbones import WEATHER_DENSE_LAYER  # noqa: E402
from tl_active.data.kinds import WeatherKind  # noqa: E402
from tl_active.data.weather import DEFAULT_DAYS, make_windows  # noqa: E402
from tl_active.data.weather_features import load_weather_features, window_outputs  # noqa: E402
from tl_active.data.weather_network import scores  # noqa: E402
from tl_active.experiments import weather_transfer as wt  # noqa: E402


def numbers(text: str, kind=float) -> list:
    return [kind(t) for t in text.split(",") if t.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--question", default="snow-today")
    parser.add_argument("--rates", default="1e-4,3e-4,1e-3", help="fine-tuning learning rates")
    parser.add_argument("--epochs", default="10,20,40", help="fine-tuning epochs")
    parser.add_argument(
        "--weights", default="balanced", help=f"of {', '.join(wt.POSITIVE_WEIGHTS)}"
    )
    parser.add_argument("--methods", default=f"{wt.FINE_TUNE},{wt.FINE_TUNE_ALL}")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="the windows' length")
    parser.add_argument("--csv", type=Path, help="write one row per fold and setting here")
    args = parser.parse_args(argv)

    base = wt.WeatherTransferSettings()
    grid = [
        replace(base, fine_tune_learning_rate=rate, fine_tune_epochs=epochs, positive_weight=w)
        for rate, epochs, w in itertools.product(
            numbers(args.rates), numbers(args.epochs, int), args.weights.split(",")
        )
    ]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    windows = make_windows(args.question, args.days)
    # The shipped network's features give the set's form; each fold's own network fills it.
    form = load_weather_features(args.question)
    rows, started = [], time.perf_counter()
    for fold in range(wt.FOLDS):
        network = wt.fold_network(windows, fold, wt.FOLDS)
        own = replace(
            form,
            pool=window_outputs(network, WEATHER_DENSE_LAYER, windows.x_pool),
            test=window_outputs(network, WEATHER_DENSE_LAYER, windows.x_test),
            y_pool=windows.y_pool,
            y_test=windows.y_test,
            data_kind=WeatherKind(windows),
            key=f"{form.key}-{args.days}d-net{fold}",
            _tasks={},
            _derived={},
        )
        split, held_out = wt.fold_split(windows, own, fold, wt.FOLDS)
        trainer = wt.WeatherTrainer(split, held_out, network, base)
        every = np.arange(len(split.y_pool))

        def score(p: np.ndarray, y: np.ndarray = split.y_test) -> float:
            return scores(y, p)["pr_auc"]

        fixed = {
            "day's measurements (logistic regression)": wt.day_reference(split)["pr_auc"],
            "last 3 days (logistic regression)": wt.window_reference(split, min(3, args.days))[
                "pr_auc"
            ],
            f"whole {args.days}-day window (logistic regression)": wt.window_reference(split)[
                "pr_auc"
            ],
            "scratch, the lab's settings": score(trainer.predict(wt.SCRATCH, every, fold)),
            "head": score(trainer.predict(wt.HEAD, every, fold)),
        }
        rows += [(fold, name, value) for name, value in fixed.items()]
        for settings, method in itertools.product(grid, methods):
            trainer.settings = settings
            name = (
                f"{method}, rate {settings.fine_tune_learning_rate:g}, "
                f"{settings.fine_tune_epochs} epochs, {settings.positive_weight}"
            )
            rows.append((fold, name, score(trainer.predict(method, every, fold))))
        print(f"fold {fold} done at {time.perf_counter() - started:.0f} s", flush=True)

    by_name: dict[str, list[float]] = {}
    for _, name, value in rows:
        by_name.setdefault(name, []).append(value)
    head = np.mean(by_name["head"])
    best = np.mean(by_name["day's measurements (logistic regression)"])
    print(
        f"\n{args.question}, {args.days}-day windows, every pool label of each fold, PR-AUC on its held-out days "
        f"(mean, then folds 0-4); gap = the head {head:.3f} to the day's logistic "
        f"regression {best:.3f}"
    )
    for name, values in sorted(by_name.items(), key=lambda item: -np.mean(item[1])):
        closes = (np.mean(values) - head) / (best - head)
        print(
            f"{np.mean(values):.3f}  closes {closes:6.0%}  {name:48s} "
            + " ".join(f"{v:.3f}" for v in values)
        )
    if args.csv:
        import pandas as pd

        pd.DataFrame(rows, columns=["fold", "method", "pr_auc"]).to_csv(args.csv, index=False)
    print(f"{len(rows)} scores in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
