"""Command line: `python -m tl_active {pretrain,features,compare,bench}`.

Errors the user can fix (a missing file, a bad option) are printed as one line, without a
traceback, and the command exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tl_active.errors import TlActiveError
from tl_active.paths import CACHE_DIR, MNIST_PATH, MODEL_PATH


def _progress_bar(description: str):
    """A tqdm bar that appears with the first update (so an early error prints no empty bar)."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=description, unit="img")
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def _pretrain(args: argparse.Namespace) -> None:
    from tl_active.data import load_mnist
    from tl_active.network import pretrain

    card = pretrain(load_mnist(args.data), args.model, epochs=args.epochs, seed=args.seed)
    print(f"saved {args.model}: test accuracy {card['test_accuracy']:.2%}")


def _features(args: argparse.Namespace) -> None:
    from tl_active.features import load_features

    features = load_features(args.model, args.data, args.cache, _progress_bar("frozen CNN"))
    print(
        f"features {features.key}: pool {features.pool_probs.shape}, test {features.test_probs.shape}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tl_active", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model", type=Path, default=MODEL_PATH, help="the shared CNN (.keras)")
    parser.add_argument("--data", type=Path, default=MNIST_PATH, help="MNIST (.npz)")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR, help="feature cache folder")
    commands = parser.add_subparsers(dest="command", required=True)

    pretrain = commands.add_parser(
        "pretrain", help="train the shared CNN on MNIST's training split"
    )
    pretrain.add_argument("--epochs", type=int, default=15)
    pretrain.add_argument("--seed", type=int, default=0)
    pretrain.set_defaults(run=_pretrain)

    features = commands.add_parser("features", help="compute (or check) the cached CNN outputs")
    features.set_defaults(run=_features)

    # Only argparse options here: the heavy imports happen when a command runs.
    from tl_active import bench, compare

    compare_parser = commands.add_parser("compare", help="simulate every strategy with an oracle")
    compare.add_arguments(compare_parser)
    compare_parser.set_defaults(run=compare.main)

    bench_parser = commands.add_parser(
        "bench", help="time a labelling round against the demo's way"
    )
    bench.add_arguments(bench_parser)
    bench_parser.set_defaults(run=bench.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (TlActiveError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
