"""`python -m tl_active transfer`: scratch, frozen-conv, the head and fine-tuning on a new
question, side by side; writes transfer.csv, summary.csv and transfer.png."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from tl_active.cli.common import data_option, is_weather
from tl_active.core.strategies import DEFAULT_STRATEGY
from tl_active.core.task import Task
from tl_active.experiments.transfer.running import run_transfer
from tl_active.experiments.transfer.settings import (
    ALL,
    DEFAULT_BACKBONE,
    DEFAULT_CLASSES,
    FINE_TUNE,
    QUICK,
    TransferSettings,
    load_transfer_data,
)
from tl_active.experiments.transfer.summary import (
    findings,
    format_summary,
    summarise,
    transfer_chart,
)
from tl_active.paths import check_writable_folder


def parse_budgets(text: str) -> tuple[int | str, ...]:
    budgets: list[int | str] = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        if part == ALL:
            budgets.append(ALL)
            continue
        try:
            budgets.append(int(part))
        except ValueError:
            raise ValueError(
                f"--budgets are label counts or 'all', such as 25,50,all, not {text!r}"
            ) from None
    return tuple(budgets)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backbone",
        default=DEFAULT_BACKBONE,
        help="a backbone of the shared architecture: a shipped name or a .keras path "
        f"(default {DEFAULT_BACKBONE})",
    )
    parser.add_argument(
        "--classes", default=DEFAULT_CLASSES, help=f"the question (default {DEFAULT_CLASSES})"
    )
    parser.add_argument(
        "--budgets", default=None, help="label counts and/or all (default 25,50,100,500,all)"
    )
    parser.add_argument(
        "--selections",
        default=None,
        help=f"random and/or a strategy's name (default random,{DEFAULT_STRATEGY})",
    )
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 2)")
    parser.add_argument(
        "--fine-tune-layers",
        type=int,
        default=None,
        help="N of fine-tune-last-N: the backbone's last N weighted layers unfrozen (default 2)",
    )
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="epochs at most per training, the same for every method; early stopping on the "
        "validation split usually ends it sooner (default 60)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one seed, budgets 50 and 200, short trainings; other options still apply on top",
    )
    parser.add_argument(
        "--question",
        default="snow-today,snow-tomorrow",
        help="with --data weather: the weather questions (default snow-today,snow-tomorrow)",
    )
    parser.add_argument(
        "--folds",
        action="store_true",
        help="with --data weather: score on 2016's five blocked folds (seed k holds out fold k, "
        "read by a wet network trained without its days) rather than on 2017",
    )
    parser.add_argument("--out", type=Path, default=Path("results/transfer"), help="output folder")
    data_option(parser)


def settings_from_args(args: argparse.Namespace) -> TransferSettings:
    settings = QUICK if args.quick else TransferSettings()
    given = {}
    if args.budgets is not None:
        given["budgets"] = parse_budgets(args.budgets)
    if args.selections is not None:
        given["selections"] = tuple(s.strip() for s in args.selections.split(",") if s.strip())
    for name in ("seeds", "fine_tune_layers", "max_epochs"):
        if getattr(args, name) is not None:
            given[name] = getattr(args, name)
    return replace(settings, **given)


def run(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from tl_active.data.backbones import resolve_backbone

    if is_weather(args):
        from tl_active.cli.weather_transfer import run_weather

        run_weather(args, None if args.budgets is None else parse_budgets(args.budgets))
        return
    # Every setting is checked before TensorFlow is loaded (which takes seconds).
    settings = settings_from_args(args)
    task = Task.multiclass(args.classes)
    out = Path(args.out)
    check_writable_folder(out, "--out")
    backbone = resolve_backbone(args.backbone)

    from tl_active import plots
    from tl_active.data.network import load_backbone

    lab = load_transfer_data(
        backbone.name if backbone.shipped else str(backbone.path),
        task.classes,
        args.data,
        args.cache,
    )
    model = load_backbone(backbone.path)
    with tqdm(total=1, desc="trainings", unit="run") as bar:

        def progress(done: int, total: int, what: str) -> None:
            bar.total = total
            bar.set_postfix_str(what, refresh=False)
            bar.update(done - bar.n)

        result = run_transfer(lab, model, settings, progress)
    summary = summarise(result.rows)
    fine_tune = settings.method_name(FINE_TUNE)
    found = findings(summary, fine_tune)
    result.rows.to_csv(out / "transfer.csv", index=False, float_format="%.6f")
    summary.to_csv(out / "summary.csv", index=False, float_format="%.6f")
    title = (
        f"{backbone.name} -> {lab.task.describe(lab.features.class_names)}: "
        f"{settings.seeds} seed{'s' * (settings.seeds != 1)}"
    )
    (out / "transfer.png").write_bytes(plots.to_png(transfer_chart(result.rows, title), scale=1.5))
    print(title)
    print(format_summary(summary))
    for line in found.lines:
        print(line)
    for name, (images, seconds) in result.frozen_passes.items():
        print(f"{name}: its frozen layers ran once over {images:,} images, in {seconds:.1f} s")
    print(
        f"{len(result.rows)} trainings in {result.seconds:.0f} s; "
        f"wrote {out}/transfer.csv, summary.csv, transfer.png"
    )
