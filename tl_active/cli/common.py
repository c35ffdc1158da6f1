"""What the commands share: the --backbone/--layer/--images options, the features a command or a
stored session reads, a progress bar, and the digits a person names (`5-9`, `0,2,4`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tl_active.errors import TlActiveError
from tl_active.text import shown


def progress_bar(description: str):
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


def parse_digits(text: str) -> list[int]:
    """Digits from ranges and comma lists: "5-9", "0,2,4", "0-2,7" (sorted, each once)."""
    digits: list[int] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise ValueError(
                f"--digits {text!r}: {part.strip()!r} is not a digit or a range like 5-9"
            ) from None
        if not (0 <= first <= last <= 9):
            raise ValueError(f"--digits {text!r}: {part.strip()!r} is not within 0-9, low to high")
        digits.extend(range(first, last + 1))
    if len(set(digits)) != len(digits):
        raise ValueError(f"--digits {text!r} names a digit twice")
    if len(digits) < 2:
        raise ValueError(f"--digits {text!r}: a classifier needs at least two digits")
    return sorted(digits)


def backbone_options() -> argparse.ArgumentParser:
    """--backbone, --layer and --images, shared by every command that reads frozen features."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--backbone",
        default=None,
        help="mnist-cnn, mnist-cnn-5to9, the path of a .keras file, or an architecture with "
        "its weights file, e.g. mobilenetv2@96:weights.h5 (default: $TL_ACTIVE_BACKBONE or "
        "mnist-cnn)",
    )
    options.add_argument(
        "--layer",
        default=None,
        help="the layer the head reads, e.g. digits or embedding (default: the backbone's own)",
    )
    options.add_argument(
        "--images",
        type=Path,
        default=os.environ.get("TL_ACTIVE_IMAGES") or None,
        help="a folder of your images, one subfolder per class if known "
        "(default: $TL_ACTIVE_IMAGES, else MNIST)",
    )
    return options


def data_option(parser: argparse.ArgumentParser) -> None:
    """--data after the command too (`compare --data weather`), as well as before it."""
    parser.add_argument(
        "--data",
        type=Path,
        default=argparse.SUPPRESS,
        help="MNIST (.npz), or weather for the weather windows (as before the command)",
    )


def is_weather(args: argparse.Namespace) -> bool:
    """Whether --data names the weather windows rather than an MNIST file."""
    return str(getattr(args, "data", "")) == "weather"


def load_weather_question(args: argparse.Namespace, name: str):
    """The frozen features of a weather question's windows (--backbone and --layer if given,
    else the shipped weather network's Dense layer); an image folder is refused."""
    from tl_active.data.weather import question
    from tl_active.data.weather_features import load_weather_features

    if getattr(args, "images", None):
        raise ValueError("--data weather reads the weather windows: leave out --images")
    asked = question(name)
    return load_weather_features(asked.name, args.backbone, args.layer, cache_dir=args.cache)


def load_any_features(args: argparse.Namespace):
    """The features a command reads: of the image folder given (--images or TL_ACTIVE_IMAGES), or
    of MNIST; with a progress bar while they are computed."""
    from tl_active.data.features import load_features

    if not getattr(args, "images", None):
        return load_features(
            args.backbone, args.layer, args.data, args.cache, progress_bar("frozen backbone")
        )
    from tl_active.data.folder_features import load_folder_features
    from tl_active.data.images import describe_skipped, scan_folder

    print(f"reading {shown(args.images)} ...", file=sys.stderr)
    folder = scan_folder(args.images)
    print(f"{shown(folder.root)}: {folder.describe()}", file=sys.stderr)
    features = load_folder_features(
        folder, args.backbone, args.layer, args.cache, progress_bar("frozen backbone")
    )
    skipped = describe_skipped(features.source.skipped)
    if skipped:
        print(skipped, file=sys.stderr)
    return features


def session_features(args: argparse.Namespace, settings: object):
    """The features a session reads: those of --backbone/--layer if given, else its own.

    A session's own backbone is taken only if it is a shipped one: a file path written in a
    manifest is never opened unless the person names it with --backbone.
    """
    from tl_active.data.backbones import SHIPPED

    settings = settings if isinstance(settings, dict) else {}
    backbone, layer = args.backbone, args.layer
    named = settings.get("backbone")
    if backbone is None and isinstance(named, str):
        if named not in SHIPPED:
            raise TlActiveError(
                f"this session reads the backbone {named!r}, which is not one of the shipped "
                f"ones ({', '.join(SHIPPED)}): give its .keras file with --backbone"
            )
        backbone = named
    if layer is None and isinstance(settings.get("layer"), str):
        layer = settings["layer"]
    return load_any_features(
        argparse.Namespace(**{**vars(args), "backbone": backbone, "layer": layer})
    )
