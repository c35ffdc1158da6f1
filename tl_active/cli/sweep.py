"""`python -m tl_active sweep GRID.toml --out DIR`: a grid of oracle runs into a Parquet folder,
on this machine (joblib) or on Ray; started again on the same folder it runs only the cells
not there yet, then writes the summary. A grid whose targets are weather questions
(`targets = ["snow-today"]`) sweeps each question's windows into a folder of its own,
DIR/snow-today, answered from the recorded events."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from tl_active.cli.common import data_option, is_weather
from tl_active.data.features import FeatureSet
from tl_active.errors import TlActiveError
from tl_active.experiments.sweep.grid import load_grid
from tl_active.experiments.sweep.results import (
    CEILINGS_FILE,
    PLOT_FILE,
    SUMMARY_FILE,
    folder_lock,
)
from tl_active.experiments.sweep.running import run_sweep
from tl_active.experiments.sweep.summary import finish_sweep, format_overview
from tl_active.paths import check_writable_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("grid", type=Path, help="the grid, a TOML file (see README: Sweeps)")
    parser.add_argument("--out", type=Path, required=True, help="the results' Parquet folder")
    parser.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local: joblib on this machine; ray: Ray tasks (pip install .[cluster])",
    )
    parser.add_argument(
        "--address",
        default=None,
        help="join the Ray cluster at this address (HOST:PORT); without it, --backend ray "
        "starts a Ray of its own on this machine",
    )
    parser.add_argument(
        "--jobs", type=int, default=-1, help="workers on this machine (-1: every core)"
    )
    data_option(parser)


def run(args: argparse.Namespace) -> None:
    from tl_active.data.features import load_features

    grid = load_grid(args.grid)
    if args.address and args.backend != "ray":
        raise ValueError("--address names a Ray cluster: give --backend ray with it")
    if is_weather(args) and not grid.weather_questions:
        raise ValueError(
            f"{args.grid}: with --data weather the targets are weather questions, such as "
            'targets = ["snow-today", "wet-today"]'
        )
    out = Path(args.out)
    check_writable_folder(out, "--out")
    if grid.weather_questions:
        # Each question's windows are their own data: a folder each, as compare would make.
        from tl_active.data.weather_features import load_weather_features

        grid = replace(grid, backbones=grid.backbones or ("weather-cnn",))
        for question in grid.weather_questions:
            print(f"{question}: {out / question}")

            def load(backbone: str, layer: str, question=question) -> FeatureSet:
                return load_weather_features(question, backbone, layer, cache_dir=args.cache)

            sweep_into(args, replace(grid, targets=(question,)), out / question, cached(load))
        return
    sweep_into(
        args, grid, out, cached(lambda b, layer: load_features(b, layer, args.data, args.cache))
    )


def cached(load):
    """The loader, once per backbone and layer."""
    loaded: dict[tuple[str, str], FeatureSet] = {}

    def once(backbone: str, layer: str) -> FeatureSet:
        if (backbone, layer) not in loaded:
            loaded[backbone, layer] = load(backbone, layer)
        return loaded[backbone, layer]

    return once


def sweep_into(args: argparse.Namespace, grid, out: Path, load) -> None:
    """The grid's cells not yet in `out`, then its summary, printed."""
    from tqdm import tqdm

    check_writable_folder(out, "--out")

    # Held from the first cell to the summary: a second sweep on the folder is refused at once.
    with folder_lock(out):
        bar = tqdm(desc="cells", unit="run")

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            report = run_sweep(grid, out, load, args.backend, args.address, args.jobs, progress)
        except KeyboardInterrupt:
            raise TlActiveError(
                f"stopped: the cells finished so far are in {out}; the same command goes on "
                "from there"
            ) from None
        finally:
            bar.close()
        print(
            f"{report.cells:,} cells: {report.already_done:,} already in {out}, "
            f"{report.computed:,} run now in {report.seconds:.1f} s "
            f"({report.runs_per_second:.2f} runs/s, backend {report.backend})"
        )
        summary = finish_sweep(out, grid, load)
    print(format_overview(summary))
    print(f"wrote {out}/part-*.parquet, {SUMMARY_FILE}, {CEILINGS_FILE}, {PLOT_FILE}")
