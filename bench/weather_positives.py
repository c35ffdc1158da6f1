"""Which strategy finds the rare snow days first: snow days among the first labels, per strategy.

On the frozen `dense` layer of `weather-cnn`, every binary strategy labels the 2016 windows of a
weather question a batch at a time, answered by the recorded events, and the snow (or wet) days
among its first 25, 50 and 100 labels are counted, as a mean over seeds. Random labelling finds
about 2.7 per 100 on the snow questions. Results: docs/weather.md.

    python bench/weather_positives.py [--question snow-today] [--seeds 5] [--batch 5]
"""

from __future__ import annotations

import argparse

import numpy as np

from tl_active.core.strategies import REGISTRY
from tl_active.core.task import BINARY, Task
from tl_active.data.weather_features import load_weather_features
from tl_active.errors import PoolExhaustedError
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession

BUDGETS = (25, 50, 100)


def found(features, strategy: str, seed: int, batch: int) -> list[int]:
    """Positives among the first 25, 50 and 100 labels of one oracle session."""
    session = LabellingSession(
        features,
        SessionSettings(
            task=Task(BINARY, (1,)),
            strategy=strategy,
            batch_size=batch,
            seed=seed,
            backbone=features.backbone,
            layer=features.layer,
        ),
    )
    while len(session.labelled) < max(BUDGETS):
        try:
            session.answer_by_truth()
        except PoolExhaustedError:
            break
    labelled = np.asarray(session.labelled, np.intp)
    return [int(features.y_pool[labelled[:n]].sum()) for n in BUDGETS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--question", default="snow-today")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=5)
    args = parser.parse_args()
    features = load_weather_features(args.question)
    rate = features.y_pool.mean()
    print(f"{args.question}: {features.pool_size:,} pool windows, {rate:.3f} positive")
    print("| strategy | " + " | ".join(f"in the first {n}" for n in BUDGETS) + " |")
    print("| --- |" + " ---: |" * len(BUDGETS))
    print("| (expected at random) | " + " | ".join(f"{n * rate:.1f}" for n in BUDGETS) + " |")
    for name, record in REGISTRY.items():
        if not record.serves(BINARY):
            continue
        counts = np.array([found(features, name, seed, args.batch) for seed in range(args.seeds)])
        cells = [
            f"{m:.1f} ({lo}-{hi})"
            for m, lo, hi in zip(counts.mean(0), counts.min(0), counts.max(0))
        ]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
