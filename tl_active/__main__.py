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

    features = load_features(
        args.backbone, args.layer, args.data, args.cache, _progress_bar("frozen backbone")
    )
    print(
        f"features {features.key} ({features.backbone} / {features.layer}): "
        f"pool {features.pool.shape}, test {features.test.shape}"
    )


def _backbone_options() -> argparse.ArgumentParser:
    """--backbone and --layer, shared by every command that reads frozen features."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--backbone",
        default=None,
        help="mnist-cnn, mnist-cnn-5to9 or the path of a .keras file "
        "(default: $TL_ACTIVE_BACKBONE or mnist-cnn)",
    )
    options.add_argument(
        "--layer",
        default=None,
        help="the layer the head reads, e.g. digits or embedding (default: the backbone's own)",
    )
    return options


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

    backbone_options = _backbone_options()
    features = commands.add_parser(
        "features",
        parents=[backbone_options],
        help="compute (or check) the cached outputs of a backbone's layer",
    )
    features.set_defaults(run=_features)

    # Only argparse options here: the heavy imports happen when a command runs.
    from tl_active import bench, compare

    compare_parser = commands.add_parser(
        "compare", parents=[backbone_options], help="simulate every strategy with an oracle"
    )
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
