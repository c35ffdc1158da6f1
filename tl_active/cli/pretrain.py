"""`python -m tl_active pretrain`: train the shared CNN, or one on some digits, on MNIST.

`python -m tl_active --data weather pretrain` trains the weather network instead (on 2016's
14-day windows, for rain or snow today) and saves it as models/weather_cnn.keras; with `--days 4
--model models/weather_cnn_4d.keras` it trains the snow lab's network on 4-day windows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tl_active.cli.common import parse_digits
from tl_active.paths import MODEL_PATH


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--epochs", type=int, help="default: 15 for the MNIST CNN, the card's own for weather"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--digits", help="train on these digits only, e.g. 5-9 or 0,2,4 (default: all ten)"
    )
    # Also accepted after the command; SUPPRESS keeps the global --model when it is not given.
    parser.add_argument(
        "--model", type=Path, default=argparse.SUPPRESS, help="where to save the network (.keras)"
    )
    parser.add_argument("--note", help="a note recorded in the model's JSON card")
    parser.add_argument(
        "--days",
        type=int,
        help="with --data weather: the window's length in days (default 14; the snow lab's "
        "network reads 4)",
    )


def run(args: argparse.Namespace) -> None:
    if str(args.data) == "weather":
        run_weather(args)
        return
    if args.days is not None:
        raise ValueError("--days is the length of a weather window: use it with --data weather")
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
        epochs=15 if args.epochs is None else args.epochs,
        seed=args.seed,
        digits=digits,
        note=args.note,
    )
    print(
        f"saved {args.model}: digits {','.join(card['classes'])}, "
        f"test accuracy {card['test_accuracy']:.2%}"
    )


def run_weather(args: argparse.Namespace) -> None:
    if args.digits is not None:
        raise ValueError("--digits is for MNIST; the weather network learns rain or snow today")
    from tl_active.data.weather import DEFAULT_DAYS
    from tl_active.data.weather_network import (
        WEATHER_EPOCHS,
        WEATHER_MODEL_PATH,
        pretrain_weather,
    )

    # The global --model names the shared CNN unless given: the weather network has its own file.
    model = WEATHER_MODEL_PATH if args.model.resolve() == MODEL_PATH.resolve() else args.model
    epochs = WEATHER_EPOCHS if args.epochs is None else args.epochs
    days = DEFAULT_DAYS if args.days is None else args.days
    card = pretrain_weather(model, days=days, epochs=epochs, seed=args.seed, note=args.note)
    print(
        f"saved {model}: {card['question']} on {card['test_year']}, "
        f"PR-AUC {card['test']['pr_auc']:.3f} (base rate {card['test']['base_rate']:.3f}); "
        f"blocked folds of {card['train_years'][0]}: {card['cv_pr_auc_mean']:.3f}"
    )
