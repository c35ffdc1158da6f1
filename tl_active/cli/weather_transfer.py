"""`python -m tl_active --data weather transfer`: from rain or snow today to snow, five ways.

Scored on 2017, or with --folds on 2016's blocked folds (seed k holds out fold k, read by a wet
network trained without its days). Writes
transfer.csv (one row per training), summary.csv and summary.md (means over seeds) to
--out; see `experiments/weather_transfer.py` for the methods and docs/weather.md for results.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from tl_active.experiments.weather_transfer import FOLDS, LAB_BACKBONE
from tl_active.paths import check_writable_folder


def settings_from_args(args: argparse.Namespace, budgets: tuple | None):
    from tl_active.experiments.weather_transfer import QUICK, WeatherTransferSettings

    settings = QUICK if args.quick else WeatherTransferSettings()
    given: dict = {}
    if budgets is not None:
        given["budgets"] = budgets
    if args.selections is not None:
        given["selections"] = tuple(s.strip() for s in args.selections.split(",") if s.strip())
    if args.seeds is not None:
        given["seeds"] = args.seeds
    if args.max_epochs is not None:
        given["epochs"] = given["fine_tune_epochs"] = args.max_epochs
    return replace(settings, **given)


def run_weather(args: argparse.Namespace, budgets: tuple | None = None) -> None:
    """The weather lab for the transfer command's options; `budgets` as it parsed them."""
    from tl_active.core.strategies import get_strategy
    from tl_active.data.weather import question

    settings = settings_from_args(args, budgets)
    folds = getattr(args, "folds", False)
    if folds and settings.seeds > FOLDS:
        raise ValueError(
            f"--folds scores seed k on blocked fold k: at most {FOLDS} seeds, not {settings.seeds}"
        )
    questions = [question(q.strip()) for q in args.question.split(",") if q.strip()]
    for selection in settings.selections:
        if selection != "random":
            get_strategy(selection)  # an unknown name fails now, not after the first training
    out = Path(args.out)
    check_writable_folder(out, "--out")
    backbone_name = LAB_BACKBONE if args.backbone == "mnist-cnn-5to9" else args.backbone

    import numpy as np
    import pandas as pd
    from tqdm import tqdm

    from tl_active.data.backbones import WEATHER_DENSE_LAYER, resolve_backbone
    from tl_active.data.network import load_backbone
    from tl_active.data.weather import make_windows
    from tl_active.data.weather_features import load_weather_features
    from tl_active.experiments.weather_transfer import (
        day_reference,
        fold_features,
        fold_network,
        fold_split,
        format_summary,
        run_weather_transfer,
        summarise,
        window_reference,
    )

    backbone = resolve_backbone(backbone_name)
    model = load_backbone(backbone.path)
    # The windows are as long as the network reads (a wrong shape is a clear error there).
    days = int(model.inputs[0].shape[1])
    started, frames, references = time.perf_counter(), [], []
    for asked in questions:
        windows = make_windows(asked, days)
        features = load_weather_features(
            asked.name, backbone, WEATHER_DENSE_LAYER, days, cache_dir=args.cache
        )
        with tqdm(total=1, desc=asked.name, unit="run") as bar:

            def progress(done: int, total: int, what: str) -> None:
                bar.total = total
                bar.set_postfix_str(what, refresh=False)
                bar.update(done - bar.n)

            if folds:
                splits = []
                for fold in range(settings.seeds):
                    # A wet network per fold, so the held-out days are new to it too.
                    network = fold_network(windows, fold, FOLDS)
                    own = fold_features(features, network, windows, fold)
                    split, held_out = fold_split(windows, own, fold, FOLDS)
                    frames.append(
                        run_weather_transfer(split, held_out, network, settings, progress, [fold])
                    )
                    splits.append(split)
            else:
                frames.append(run_weather_transfer(windows, features, model, settings, progress))
                splits = [windows]
        for what, reference in (
            ("the answer day's own measurements", day_reference),
            (f"the whole {windows.days}-day window", window_reference),
        ):
            measured = [reference(split) for split in splits]
            mean = {k: float(np.mean([m[k] for m in measured])) for k in measured[0]}
            references.append(
                f"{asked.name}: logistic regression on {what}, all labels, no network"
                f"{' (mean over the folds)' if folds else ''}: PR-AUC {mean['pr_auc']:.3f}, "
                f"precision {mean['precision']:.2f}, recall {mean['recall']:.2f}, "
                f"F1 {mean['f1']:.2f} (base rate {mean['base_rate']:.3f})"
            )
    rows = pd.concat(frames, ignore_index=True)
    summary = summarise(rows)
    table = "\n\n".join([format_summary(summary), *references])
    rows.to_csv(out / "transfer.csv", index=False, float_format="%.6f")
    summary.to_csv(out / "summary.csv", index=False, float_format="%.6f")
    (out / "summary.md").write_text(table + "\n")
    print(table)
    print(
        f"{len(rows)} trainings in {time.perf_counter() - started:.0f} s; "
        f"wrote {out}/transfer.csv, summary.csv, summary.md"
    )
