"""`python -m tl_active map`: compute (or read from the cache) the pool map of a backbone's layer
and write every pool image's point: index, x, y, the image's path for a folder, and its class
where the data knows it, as CSV or Parquet."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tl_active.cli.common import load_any_features
from tl_active.errors import TlActiveError

FORMATS = (".csv", ".parquet")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--method",
        choices=("umap", "pca"),
        default="umap",
        help="umap (seeded, cached; about a minute on MNIST's 60,000 images the first time) "
        "or pca (at once)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the coordinates' file, .csv or .parquet (default: no file, only the map's cache)",
    )


def _check_out(out: Path | None) -> None:
    if out is None:
        return
    if out.suffix.lower() not in FORMATS:
        raise TlActiveError(f"--out {out}: write the map as .csv or .parquet, not {out.suffix!r}")
    if out.is_dir():
        raise TlActiveError(f"--out {out} is a folder: give a file name ending .csv or .parquet")
    if not out.parent.is_dir():
        raise TlActiveError(f"--out {out}: the folder {out.parent} does not exist")


def map_table(features, pool_map):
    """The map as a table: one row per pool image."""
    import pyarrow as pa

    kind = features.kind
    columns = {"index": pa.array(range(pool_map.size), pa.int64())}
    if not kind.indexed_csv:  # a folder's images are named by their paths
        columns[kind.item_column] = pa.array([kind.item_id(i) for i in range(pool_map.size)])
    columns["x"] = pa.array(pool_map.xy[:, 0])
    columns["y"] = pa.array(pool_map.xy[:, 1])
    if kind.has_truth:
        columns["class"] = pa.array([features.class_names[c] for c in features.y_pool])
    return pa.table(columns)


def write_table(table, out: Path) -> None:
    """`table` as CSV or Parquet by `out`'s suffix, written beside it and renamed."""
    import os

    import pyarrow.csv
    import pyarrow.parquet

    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if out.suffix.lower() == ".parquet":
            pyarrow.parquet.write_table(table, tmp)
        else:
            pyarrow.csv.write_csv(table, tmp)
        os.replace(tmp, out)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise TlActiveError(f"cannot write {out}: {error.strerror or error}") from None


def run(args: argparse.Namespace) -> None:
    from tl_active.data.pool_map import cached_map, load_map, map_path, neighbour_accuracy

    _check_out(args.out)
    features = load_any_features(args)
    cached = cached_map(features, args.method, args.cache) is not None
    last = [""]

    def progress(done: float, what: str) -> None:
        if what != last[0]:
            last[0] = what
            print(f"map: {done:4.0%} {what}", file=sys.stderr)

    start = time.perf_counter()
    pool_map = load_map(features, args.method, args.cache, progress)
    took = time.perf_counter() - start
    where = map_path(features, args.method, args.cache)
    how = "read from the cache" if cached else "computed and cached"
    print(
        f"{args.method} map of {features.backbone} / {features.layer}, {pool_map.size:,} pool "
        f"images: {how} in {took:.2f} s ({where})"
    )
    if features.has_truth and features.pool_size >= 10:
        accuracy = neighbour_accuracy(pool_map.xy, features.y_pool)
        print(
            f"keeps neighbours: a 5-nearest-neighbour classifier on the map's points gives "
            f"{features.kind.true_class} of {accuracy:.1%} of them (5-fold cross-validation)"
        )
    if args.out is not None:
        write_table(map_table(features, pool_map), args.out)
        print(f"wrote {pool_map.size:,} points to {args.out}")
