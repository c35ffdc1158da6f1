"""`python -m tl_active pretrain`: train the shared CNN, or one on some digits, on MNIST."""

from __future__ import annotations

import argparse
from pathlib import Path

from tl_active.cli.common import parse_digits
from tl_active.paths import MODEL_PATH


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--digits", help="train on these digits only, e.g. 5-9 or 0,2,4 (default: all ten)"
    )
    # Also accepted after the command; SUPPRESS keeps the global --model when it is not given.
    parser.add_argument(
        "--model", type=Path, default=argparse.SUPPRESS, help="where to save the network (.keras)"
    )
    parser.add_argument("--note", help="a note recorded in the model's JSON card")


def run(args: argparse.Namespace) -> None:
    digits = parse_digits(args.digits) if args.digits is not None else None
    if digits is not None and len(digits) < 10 and args.model.resolve() == MODEL_PATH.resolve():
        # The app reads the shared CNN's ten outputs, and stored sessions its checksum.
        raise ValueError(
            f"--digits {args.digits} would overwrite the shared CNN ({MODEL_PATH}); "
            "name another file with --model, e.g. models/mnist_cnn_5to9.keras"
        )

    from tl_active.data.mnist import load_mnist
    from tl_active.data.shared_cnn import pretrain

    card = pretrain(
        load_mnist(args.data),
        args.model,
        epochs=args.epochs,
        seed=args.seed,
        digits=digits,
        note=args.note,
    )
    print(
        f"saved {args.model}: digits {','.join(card['classes'])}, "
        f"test accuracy {card['test_accuracy']:.2%}"
    )
