"""Command line: `python -m tl_active {pretrain,features,map,compare,sweep,transfer,bench,import,export}`.

Errors the user can fix (a missing file, a bad option, a refused manifest, an unknown session)
are printed as one line, without a traceback, and the command exits with status 2.

Each command is a module of this package with its options (`add_arguments`) and what it does
(`run`); the options shared by the commands that read features are in `common.py`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Only argparse options at import: the heavy imports happen when a command runs.
from tl_active.cli import bench, compare, features, pretrain, sessions, sweep, transfer
from tl_active.cli import map as pool_map
from tl_active.cli.common import backbone_options
from tl_active.errors import TlActiveError
from tl_active.paths import CACHE_DIR, MNIST_PATH, MODEL_PATH
from tl_active.text import shown


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tl_active", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model", type=Path, default=MODEL_PATH, help="the shared CNN (.keras)")
    parser.add_argument("--data", type=Path, default=MNIST_PATH, help="MNIST (.npz)")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR, help="feature cache folder")
    commands = parser.add_subparsers(dest="command", required=True)
    reads_features = [backbone_options()]

    command = commands.add_parser(
        "pretrain", help="train the shared CNN (or one on some digits) on MNIST's training split"
    )
    pretrain.add_arguments(command)
    command.set_defaults(run=pretrain.run)

    command = commands.add_parser(
        "features",
        parents=reads_features,
        help="compute (or check) the cached outputs of a backbone's layer",
    )
    command.set_defaults(run=features.run)

    command = commands.add_parser(
        "map",
        parents=reads_features,
        help="compute (or read from the cache) the pool map of a backbone's layer, a seeded "
        "UMAP; write its coordinates as CSV or Parquet",
    )
    pool_map.add_arguments(command)
    command.set_defaults(run=pool_map.run)

    command = commands.add_parser(
        "compare", parents=reads_features, help="simulate every strategy with an oracle"
    )
    compare.add_arguments(command)
    command.set_defaults(run=compare.run)

    command = commands.add_parser(
        "sweep",
        help="run a grid of oracle runs (strategies x questions x ... x seeds) into Parquet, "
        "locally or on Ray; resumable",
    )
    sweep.add_arguments(command)
    command.set_defaults(run=sweep.run)

    command = commands.add_parser(
        "transfer",
        help="scratch, frozen-conv, head and fine-tuning on a new question, side by side",
    )
    transfer.add_arguments(command)
    command.set_defaults(run=transfer.run)

    command = commands.add_parser("bench", help="time a labelling round against the demo's way")
    bench.add_arguments(command)
    command.set_defaults(run=bench.run)

    command = commands.add_parser(
        "import",
        parents=reads_features,
        help="replay a session manifest (.json) and store it as a new session "
        "(on the backbone and layer it names, unless given)",
    )
    sessions.add_import_arguments(command)
    command.set_defaults(run=sessions.run_import)

    command = commands.add_parser(
        "export",
        parents=reads_features,
        help="write a stored session's labels (CSV) and manifest (JSON) to a folder",
    )
    sessions.add_export_arguments(command)
    command.set_defaults(run=sessions.run_export)
    return parser


def ids_as_positionals(argv: list[str]) -> list[str]:
    """`export -x1Yz...`: a session id that begins with "-" moved after "--", where argparse
    takes it as the id rather than an unknown option (ids are random, and 1 in 64 once began so).

    Only for `export`, and only a word that is no option of it and has the shape of an id.
    """
    from tl_active.sessions.store import SESSION_ID_PATTERN

    if "export" not in argv or "--" in argv:
        return argv
    start = argv.index("export") + 1
    options = {"-h", "--help", "--out", "--db", "--backbone", "--layer", "--images"}
    takes_value = options - {"-h", "--help"}
    for i in range(start, len(argv)):
        word = argv[i]
        after_option = argv[i - 1] in takes_value
        if (
            word.startswith("-")
            and not after_option
            and word.split("=")[0] not in options
            and SESSION_ID_PATTERN.fullmatch(word)
        ):
            return [*argv[:i], *argv[i + 1 :], "--", word]
    return argv


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(ids_as_positionals(argv))
    try:
        args.run(args)
    except (TlActiveError, ValueError) as error:
        # One line, whatever the message holds (a file name, say, may hold a line break).
        # Control characters and escape sequences in it (a file's name) are shown, not obeyed.
        print(f"error: {shown(' '.join(str(error).split()))}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
