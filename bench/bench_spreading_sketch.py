"""The issue's sketch of a pool-taught head, run as it was written, over seeds.

Digits 0-4 on the 5-9 network's `embedding`: scikit-activeml's TypiClust picks 5 images a
round from a seeded 8,000-image slice of the pool (standardised features); scikit-learn's
`LabelSpreading` (10 neighbours) spreads the answers over the slice; a logistic regression is
fitted on the answers plus every spread answer of 90 % or more, each at weight 0.1. Test accuracy
at 20 and 50 labels, for each `LabelSpreading` alpha, and the spreading's own accuracy on the
test set beside it.

This is where the pool-taught rules 5 came from: its graph (scikit-learn's k-NN graph is
directed, on standardised features) and its pseudo-labels without the plain head's agreement
(docs/compare-and-sweeps.md, "Rules 5"). Over 3 seeds it gives 95.10 % at 20 labels and 96.02 %
at 50 (alpha 0.2); the issue's 96.3 % at 50 was one seed. It reads MNIST's test set, and chose
nothing: the rules were chosen on validation splits (`bench_pool_validation.py --rules-5`).

    python bench/bench_spreading_sketch.py [--seeds 3]     # about 1 min, the features cached

Needs the bench extra (`pip install --no-deps -r requirements-bench.txt`).
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

from tl_active.core.task import Task  # noqa: E402
from tl_active.data.features import load_features  # noqa: E402

SLICE = 8_000
BATCH = 5
BUDGETS = (20, 50)
ALPHAS = (0.2, 0.5, 0.9)


def sketch_run(seed: int) -> list[dict]:
    """One seed of the sketch: TypiClust's picks, then each alpha's spreading and head."""
    from skactiveml.pool import TypiClust
    from sklearn.linear_model import LogisticRegression
    from sklearn.semi_supervised import LabelSpreading

    data = load_features("mnist-cnn-5to9", "embedding").task_data(Task.multiclass("0-4"))
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(data.size, SLICE, replace=False))
    raw = data.pool[positions]
    mean, spread = raw.mean(axis=0), raw.std(axis=0) + 1e-9
    x, x_test = (raw - mean) / spread, (data.test - mean) / spread
    truth = data.truth_pool[positions]
    answers = np.full(SLICE, np.nan)
    strategy = TypiClust(random_state=seed)
    rows = []
    for _ in range(max(BUDGETS) // BATCH):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            picked = strategy.query(x, answers, batch_size=BATCH)
        answers[picked] = truth[picked]
        labelled = ~np.isnan(answers)
        if labelled.sum() not in BUDGETS:
            continue
        given = np.where(labelled, answers, -1).astype(int)
        for alpha in ALPHAS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                spreading = LabelSpreading(kernel="knn", n_neighbors=10, alpha=alpha, max_iter=30)
                spreading.fit(x, given)
            mass = spreading.label_distributions_
            sure = (mass.max(axis=1) >= 0.9) & ~labelled
            head = LogisticRegression(max_iter=2_000).fit(
                np.concatenate([x[labelled], x[sure]]),
                np.concatenate([given[labelled], mass.argmax(axis=1)[sure]]),
                sample_weight=np.concatenate([np.ones(labelled.sum()), np.full(sure.sum(), 0.1)]),
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a test image no answer reached divides 0 by 0
                spread_answer = spreading.predict(x_test)
            rows.append(
                dict(
                    seed=seed,
                    labels=int(labelled.sum()),
                    alpha=alpha,
                    head=100 * float((head.predict(x_test) == data.truth_test).mean()),
                    spreading=100 * float((spread_answer == data.truth_test).mean()),
                    pseudo_labels=int(sure.sum()),
                    right=100 * float((mass.argmax(axis=1)[sure] == truth[sure]).mean()),
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    from joblib import Parallel, delayed

    runs = Parallel(n_jobs=args.jobs)(delayed(sketch_run)(seed) for seed in range(args.seeds))
    table = pd.DataFrame([row for rows in runs for row in rows])
    means = table.groupby(["alpha", "labels"])[
        ["head", "spreading", "pseudo_labels", "right"]
    ].mean()
    pd.set_option("display.width", 200)
    print(
        f"the sketch on digits 0-4, test accuracy (%), mean of {args.seeds} seeds: the head "
        "(logistic regression on answers and pseudo-labels), the spreading alone, how many "
        "pseudo-labels and how many of them right (%)"
    )
    print(means.round(2).to_string())
    print("\nby seed, the head:")
    print(table.pivot_table(index=["alpha", "labels"], columns="seed", values="head").round(2))


if __name__ == "__main__":
    main()
