"""How well one layer of a frozen backbone transfers to digits it was never trained on.

The layer's outputs for the MNIST images of the target digits (pool = training split, test =
test split) feed a multinomial logistic regression (scikit-learn, C=1; a tanh layer needs no
standardising), trained on:
- every pool label: the ceiling a head on this layer can reach;
- `budget` labels drawn at random (one draw per seed);
- `budget` typical images: k-means with k = budget on the pool's layer outputs, and the pool
  image nearest each centre (one clustering per seed).
It prints test accuracy for each, as the mean over seeds with the lowest and highest.

    python bench/transfer.py models/mnist_cnn_5to9.keras --layer embedding --digits 0-4
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tl_active.cli.common import parse_digits  # noqa: E402
from tl_active.data.mnist import load_mnist  # noqa: E402
from tl_active.data.network import extract_layer, load_backbone  # noqa: E402
from tl_active.paths import MNIST_PATH  # noqa: E402


def accuracy(x_fit, y_fit, x_test, y_test, c: float) -> float:
    head = LogisticRegression(C=c, max_iter=5_000).fit(x_fit, y_fit)
    return float(np.mean(head.predict(x_test) == y_test))


def typical(x_pool: np.ndarray, budget: int, seed: int) -> np.ndarray:
    """The pool image nearest each of `budget` k-means centres."""
    kmeans = KMeans(n_clusters=budget, n_init=1, random_state=seed).fit(x_pool)
    nearest = [
        int(np.argmin(((x_pool - centre) ** 2).sum(axis=1))) for centre in kmeans.cluster_centers_
    ]
    return np.unique(nearest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--layer", default="embedding")
    parser.add_argument("--digits", default="0-4", help="the new task's digits")
    parser.add_argument("--budgets", default="50,200")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--C", type=float, default=1.0, dest="c")
    parser.add_argument("--data", type=Path, default=MNIST_PATH)
    args = parser.parse_args(argv)

    digits = parse_digits(args.digits)
    mnist = load_mnist(args.data)
    model = load_backbone(args.model)
    in_pool, in_test = np.isin(mnist.y_pool, digits), np.isin(mnist.y_test, digits)
    started = time.perf_counter()
    x_pool = extract_layer(model, args.layer, mnist.x_pool[in_pool])
    x_test = extract_layer(model, args.layer, mnist.x_test[in_test])
    y_pool, y_test = mnist.y_pool[in_pool], mnist.y_test[in_test]
    print(
        f"{args.model} layer {args.layer!r} ({x_pool.shape[1]} wide), digits {args.digits}: "
        f"pool {len(x_pool)}, test {len(x_test)}, extracted in {time.perf_counter() - started:.1f} s"
    )

    def report(name: str, values: list[float]) -> None:
        spread = f" (min {min(values):.2%}, max {max(values):.2%})" if len(values) > 1 else ""
        print(f"  {name:<14} {np.mean(values):.2%}{spread}")

    report("ceiling", [accuracy(x_pool, y_pool, x_test, y_test, args.c)])
    for budget in (int(b) for b in args.budgets.split(",")):
        chosen = {
            "random": [
                np.random.default_rng(seed).choice(len(x_pool), budget, replace=False)
                for seed in range(args.seeds)
            ],
            "typical": [typical(x_pool, budget, seed) for seed in range(args.seeds)],
        }
        for how, picks in chosen.items():
            values = [accuracy(x_pool[i], y_pool[i], x_test, y_test, args.c) for i in picks]
            report(f"{budget} {how}", values)
    return 0


if __name__ == "__main__":
    sys.exit(main())
