"""Command line: `python -m tl_active {pretrain,features,compare,sweep,transfer,bench,import,export}`.

Errors the user can fix (a missing file, a bad option, a refused manifest, an unknown session)
are printed as one line, without a traceback, and the command exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tl_active.errors import TlActiveError
from tl_active.paths import CACHE_DIR, MNIST_PATH, MODEL_PATH, check_writable_folder, db_url

# Where `make run` serves the app: a session's link is this with `/?session=<id>`.
APP_URL = "http://localhost:8501"


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


def _pretrain(args: argparse.Namespace) -> None:
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


def load_any_features(args: argparse.Namespace):
    """The features a command reads: of the image folder given (--images or TL_ACTIVE_IMAGES), or
    of MNIST; with a progress bar while they are computed."""
    from tl_active.data.features import load_features

    if not getattr(args, "images", None):
        return load_features(
            args.backbone, args.layer, args.data, args.cache, _progress_bar("frozen backbone")
        )
    from tl_active.data.folder_features import load_folder_features
    from tl_active.data.images import describe_skipped, scan_folder

    print(f"reading {args.images} ...", file=sys.stderr)
    folder = scan_folder(args.images)
    print(f"{folder.root}: {folder.describe()}", file=sys.stderr)
    features = load_folder_features(
        folder, args.backbone, args.layer, args.cache, _progress_bar("frozen backbone")
    )
    skipped = describe_skipped(features.source.skipped)
    if skipped:
        print(skipped, file=sys.stderr)
    return features


def _features(args: argparse.Namespace) -> None:
    from tl_active.experiments.layer_check import layer_check

    features = load_any_features(args)
    print(
        f"features {features.key} ({features.backbone} / {features.layer}): "
        f"pool {features.pool.shape}, test {features.test.shape}"
    )
    if features.source is not None:
        print(f"preprocessing: {features.source.preprocessing}")
        if features.has_truth:
            print(
                f"held-out test split: {len(features.test):,} images (a fifth of each class, "
                f"seed 0), recorded in {features.source.split_file}"
            )
        else:
            print("no class folders, so no ground truth: no test set and no layer check")
            return
    check = layer_check(features)
    print(
        f"layer check: a head on {check.n_labelled:,} labelled pool images answers "
        f"{check.accuracy:.1%} of {check.n_scored:,} test images right (chance {check.chance:.1%})"
    )
    if check.warning:
        print(f"warning: {check.warning}", file=sys.stderr)


def _backbone_options() -> argparse.ArgumentParser:
    """--backbone and --layer, shared by every command that reads frozen features."""
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


def _session_features(args: argparse.Namespace, settings: object):
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


def _open_store(args: argparse.Namespace):
    from tl_active.sessions.store import SessionStore

    return SessionStore(db_url(args.db) if args.db else None)


def _read_manifest_file(path: Path) -> bytes:
    from tl_active.sessions.exchange import MAX_MANIFEST_BYTES

    try:
        with open(path, "rb") as handle:
            # One byte over the limit is enough for the reader to refuse it as too large.
            return handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError as error:
        raise TlActiveError(f"cannot read {path}: {error.strerror or error}") from None


def _manifest_settings(raw: bytes) -> object:
    """The settings a manifest names, to choose its features; None if it cannot be read.

    Only a hint: the manifest reader checks everything, and says what is wrong, afterwards.
    """
    try:
        return json.loads(raw).get("settings")
    except (ValueError, RecursionError, AttributeError):
        return None


def _import(args: argparse.Namespace) -> None:
    """Replay a manifest and store it as a new session; a refused one writes nothing."""
    raw = _read_manifest_file(args.manifest)
    store = _open_store(args)
    try:
        try:
            features = _session_features(args, _manifest_settings(raw))
            session_id = store.import_manifest(raw, features)
        except TlActiveError as error:
            # Replayed in memory and stored in one transaction: a failure anywhere stores nothing.
            raise TlActiveError(
                f"{args.manifest} was not imported, nothing was stored: {error}"
            ) from None
        n = store.round_count(session_id)
    finally:
        store.close()
    print(f"imported {args.manifest}: session {session_id}, {n} round{'s' * (n != 1)} replayed")
    print(f"{APP_URL}/?session={session_id}")


def _export(args: argparse.Namespace) -> None:
    """Write a stored session's labels (CSV) and manifest (JSON) into a folder."""
    from tl_active.sessions.exchange import labels_csv, manifest_json
    from tl_active.sessions.store import check_session_id

    session_id = check_session_id(args.session_id)
    store = _open_store(args)
    try:
        store.round_count(session_id)  # an unknown id is refused before any work or any file
        check_writable_folder(args.out, "--out")
        features = _session_features(args, store.session_dict(session_id)["settings"])
        session = store.load(session_id, features)
        undone = [h.record for h in store.history(session_id) if h.undone]
    finally:
        store.close()
    out = Path(args.out)
    labels, manifest = (
        out / f"tl-active-{session_id}-labels.csv",
        out / f"tl-active-{session_id}.json",
    )
    labels.write_text(labels_csv(session, undone=undone), encoding="utf-8")
    manifest.write_text(manifest_json(session), encoding="utf-8")
    print(f"wrote {labels} and {manifest}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tl_active", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model", type=Path, default=MODEL_PATH, help="the shared CNN (.keras)")
    parser.add_argument("--data", type=Path, default=MNIST_PATH, help="MNIST (.npz)")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR, help="feature cache folder")
    commands = parser.add_subparsers(dest="command", required=True)

    pretrain = commands.add_parser(
        "pretrain", help="train the shared CNN (or one on some digits) on MNIST's training split"
    )
    pretrain.add_argument("--epochs", type=int, default=15)
    pretrain.add_argument("--seed", type=int, default=0)
    pretrain.add_argument(
        "--digits", help="train on these digits only, e.g. 5-9 or 0,2,4 (default: all ten)"
    )
    # Also accepted after the command; SUPPRESS keeps the global --model when it is not given.
    pretrain.add_argument(
        "--model", type=Path, default=argparse.SUPPRESS, help="where to save the network (.keras)"
    )
    pretrain.add_argument("--note", help="a note recorded in the model's JSON card")
    pretrain.set_defaults(run=_pretrain)

    backbone_options = _backbone_options()
    features = commands.add_parser(
        "features",
        parents=[backbone_options],
        help="compute (or check) the cached outputs of a backbone's layer",
    )
    features.set_defaults(run=_features)

    # Only argparse options here: the heavy imports happen when a command runs.
    from tl_active.cli import bench
    from tl_active.experiments import compare, sweep, transfer

    compare_parser = commands.add_parser(
        "compare", parents=[backbone_options], help="simulate every strategy with an oracle"
    )
    compare.add_arguments(compare_parser)
    compare_parser.set_defaults(run=compare.main)

    sweep_parser = commands.add_parser(
        "sweep",
        help="run a grid of oracle runs (strategies x questions x ... x seeds) into Parquet, "
        "locally or on Ray; resumable",
    )
    sweep.add_arguments(sweep_parser)
    sweep_parser.set_defaults(run=sweep.main)

    transfer_parser = commands.add_parser(
        "transfer",
        help="scratch, frozen-conv, head and fine-tuning on a new question, side by side",
    )
    transfer.add_arguments(transfer_parser)
    transfer_parser.set_defaults(run=transfer.main)

    bench_parser = commands.add_parser(
        "bench", help="time a labelling round against the demo's way"
    )
    bench.add_arguments(bench_parser)
    bench_parser.set_defaults(run=bench.main)

    db_help = (
        "the session database: an SQLite file or a URL (default: TL_ACTIVE_DB, else "
        "data/sessions.db)"
    )
    import_parser = commands.add_parser(
        "import",
        parents=[backbone_options],
        help="replay a session manifest (.json) and store it as a new session "
        "(on the backbone and layer it names, unless given)",
    )
    import_parser.add_argument("manifest", type=Path, help="a manifest exported by tl-active")
    import_parser.add_argument("--db", help=db_help)
    import_parser.set_defaults(run=_import)

    export_parser = commands.add_parser(
        "export",
        parents=[backbone_options],
        help="write a stored session's labels (CSV) and manifest (JSON) to a folder",
    )
    export_parser.add_argument("session_id", help="the id in the session's link, ?session=<id>")
    export_parser.add_argument("--out", type=Path, default=Path("."), help="output folder")
    export_parser.add_argument("--db", help=db_help)
    export_parser.set_defaults(run=_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (TlActiveError, ValueError) as error:
        # One line, whatever the message holds (a file name, say, may hold a line break).
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
