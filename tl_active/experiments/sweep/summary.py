"""What a sweep says: per grid cell over its seeds, and the files written when it finishes.

When every cell is in, the folder also gets `_summary.csv` (per grid cell, over its seeds:
labels to 99 % of the ceiling, accuracy at the budgets, AUC, where the stopping rule fired, the
positives found at the budgets of a binary question, and their spread), `_ceilings.csv` and
`_sweep.png` (`finish_sweep`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tl_active.experiments.compare import (
    BUDGETS,
    curve_figures,
    value_at,
)
from tl_active.experiments.sweep.grid import (
    GROUP_COLUMNS,
    Grid,
    Loader,
    cell_key,
    grid_cells,
    task_label,
)
from tl_active.experiments.sweep.results import (
    CEILINGS_FILE,
    ORDER,
    PLOT_FILE,
    SUMMARY_FILE,
    compact_parts,
    folder_lock,
    read_sweep,
)
from tl_active.sessions.figures import frozen_head_ceiling
from tl_active.sessions.records import PLAIN_HEAD


def sweep_ceilings(grid: Grid, load: Loader) -> pd.DataFrame:
    """The frozen-head ceiling of every (backbone, layer, question) of the grid."""
    rows = []
    for backbone, layer in grid.backbone_layers():
        features = load(backbone, layer)
        for task in grid.tasks(len(features.class_names)):
            # On a fork: the ceiling's task view is dropped with it (1,022 targets would keep a
            # copy of the pool's answers each).
            ceiling = frozen_head_ceiling(features.fork(), task).accuracy
            rows.append((backbone, layer, task_label(task, features.class_names), ceiling))
    return pd.DataFrame(rows, columns=["backbone", "layer", "task", "ceiling"])


def summary_columns(budgets: Sequence[int] = BUDGETS) -> list[str]:
    """The grid cell's keys, then its figures over seeds (`_sd`: their standard deviation)."""
    return [
        *GROUP_COLUMNS,
        "seeds",
        "ceiling",
        "labels_to_99pct_of_ceiling",
        "labels_at_stop",
        "labels_at_stop_sd",
        "accuracy_at_stop",
        "accuracy_at_stop_sd",
        "seeds_stopped",
        "auc",
        "auc_sd",
        *itertools.chain.from_iterable(
            (f"accuracy_at_{b}", f"accuracy_at_{b}_sd") for b in budgets
        ),
        "wrong_given",
        "found",
        *itertools.chain.from_iterable(
            (f"positives_at_{b}", f"positives_at_{b}_sd") for b in budgets
        ),
        *itertools.chain.from_iterable((f"pr_auc_at_{b}", f"pr_auc_at_{b}_sd") for b in budgets),
    ]


def summarise_sweep(
    rows: pd.DataFrame, ceilings: pd.DataFrame, budgets: Sequence[int] = BUDGETS
) -> pd.DataFrame:
    """One row per grid cell (its runs over seeds), in `summary_columns(budgets)`.

    `labels_to_99pct_of_ceiling`, `auc` and `accuracy_at_<n>` are those of `compare.summarise`,
    from the cell's mean curve over seeds; `auc_sd` and `accuracy_at_<n>_sd` are the standard
    deviation of each seed's own figure (empty with one seed). `labels_at_stop` and
    `accuracy_at_stop` are compare's too: where the stopping recommendation first fired in each
    seed's run, the mean over seeds, empty unless it fired in every seed; their `_sd` is the
    spread over those seeds, and `seeds_stopped` says in how many seeds it fired at all.
    `wrong_given` and `found` are the wrong answers the oracle gave and those the re-checks
    found, after the last round, means over seeds (empty without noise or re-checks).
    `positives_at_<n>` is compare's `positives.csv` figure: the positives among each seed's
    first n labels (after its last round with at most n), their mean over seeds, and `_sd` their
    spread; empty for a K-class question, and in rows written before positives were counted.
    `pr_auc_at_<n>` is the test PR-AUC of a rare answer after each seed's last round with at
    most n labels (compare's `summary.csv` figure), its mean over seeds and `_sd` its spread;
    empty where the question has no rare answer, and in rows written before PR-AUC was kept.
    """
    ceiling_of = {
        (b, layer, t): c
        for b, layer, t, c in ceilings[["backbone", "layer", "task", "ceiling"]].values
    }
    # Rows from before re-checks: none were made, and no wrong answers were counted; rows from
    # before the pool-taught head were the plain head's.
    missing = {
        "recheck": 0,
        "wrong_given": np.nan,
        "found": np.nan,
        "head": PLAIN_HEAD,
        "pick_share": 1.0,
        "positives": np.nan,
        "pr_auc": np.nan,
    }
    rows = rows.assign(**{k: v for k, v in missing.items() if k not in rows})
    rows = rows.sort_values(ORDER, kind="stable")
    out = []
    for keys, group in rows.groupby(GROUP_COLUMNS, sort=False):
        ceiling = ceiling_of[keys[:3]]
        seed, rnd = group["seed"].to_numpy(), group["round"].to_numpy()
        labels, accuracy = group["n_labels"].to_numpy(float), group["accuracy"].to_numpy(float)
        fired = group["can_stop"].to_numpy(bool)
        # The mean curve over seeds: per round, the mean labels and accuracy.
        rounds, at = np.unique(rnd, return_inverse=True)
        count = np.bincount(at)
        mean = curve_figures(
            np.bincount(at, labels) / count,
            np.bincount(at, accuracy) / count,
            rounds,
            ceiling,
            budgets,
        )
        starts = np.flatnonzero(np.diff(seed)) + 1
        runs = np.split(np.arange(len(seed)), starts)
        per_seed = [curve_figures(labels[i], accuracy[i], rnd[i], ceiling, budgets) for i in runs]
        # Each run's first round that recommended stopping, as `compare.stop_points` finds it.
        stops = [i[fired[i]][:1] for i in runs]
        stopped = [i[0] for i in stops if len(i)]
        every_seed = len(stopped) == len(runs)
        stop = {
            "labels_at_stop": round(float(labels[stopped].mean())) if every_seed else pd.NA,
            "labels_at_stop_sd": spread_of(labels[stopped]) if every_seed else np.nan,
            "accuracy_at_stop": float(accuracy[stopped].mean()) if every_seed else np.nan,
            "accuracy_at_stop_sd": spread_of(accuracy[stopped]) if every_seed else np.nan,
            "seeds_stopped": len(stopped),
        }

        # After each run's last round, means over seeds (empty without noise or re-checks).
        last = np.array([i[-1] for i in runs])
        wrong = {
            name: float(group[name].to_numpy(float)[last].mean())
            for name in ("wrong_given", "found")
        }

        positives = group["positives"].to_numpy(float)
        found_by_seed = [positives_at(labels[i], positives[i], budgets) for i in runs]
        pr_auc = group["pr_auc"].to_numpy(float)
        pr_auc_by_seed = [{b: value_at(labels[i], pr_auc[i], b) for b in budgets} for i in runs]

        def spread(name: str, figures=per_seed) -> float:
            return spread_of(np.array([f[name] for f in figures], float))

        out.append(
            {
                **dict(zip(GROUP_COLUMNS, keys)),
                "seeds": len(per_seed),
                "ceiling": ceiling,
                **mean,
                **stop,
                "auc_sd": spread("auc"),
                **{f"accuracy_at_{b}_sd": spread(f"accuracy_at_{b}") for b in budgets},
                **wrong,
                **{f"positives_at_{b}": mean_of(f[b] for f in found_by_seed) for b in budgets},
                **{
                    f"positives_at_{b}_sd": spread_of(
                        np.array([f[b] for f in found_by_seed if not np.isnan(f[b])])
                    )
                    for b in budgets
                },
                **{f"pr_auc_at_{b}": mean_of(f[b] for f in pr_auc_by_seed) for b in budgets},
                **{
                    f"pr_auc_at_{b}_sd": spread_of(
                        np.array([f[b] for f in pr_auc_by_seed if not np.isnan(f[b])])
                    )
                    for b in budgets
                },
            }
        )
    summary = pd.DataFrame(out, columns=summary_columns(budgets))
    for column in ("labels_to_99pct_of_ceiling", "labels_at_stop"):
        summary[column] = summary[column].astype("Int64")
    return summary


def positives_at(
    n_labels: np.ndarray, positives: np.ndarray, budgets: Sequence[int]
) -> dict[int, float]:
    """One run's positives among its first n labels, per budget n, as `compare.positives_found`
    counts them: after its last round with at most n labels; NaN where the run stops short of
    n, or where no positives were counted (a K-class question, rows from before them)."""
    found = {}
    for budget in budgets:
        within = np.flatnonzero(n_labels <= budget)
        short = not len(within) or n_labels.max() < budget
        found[budget] = float("nan") if short else float(positives[within[-1]])
    return found


def mean_of(values) -> float:
    """The mean of the figures that are not NaN; NaN when none is."""
    known = [v for v in values if not np.isnan(v)]
    return float(np.mean(known)) if known else float("nan")


def spread_of(values: np.ndarray) -> float:
    """The standard deviation over seeds (n - 1); NaN with one seed."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def grid_rows(out: Path | str, grid: Grid, load: Loader) -> pd.DataFrame:
    """The rows of this grid's cells in the folder (which may hold other grids' cells too)."""
    keys = set()
    for backbone, layer in grid.backbone_layers():
        features = load(backbone, layer)
        n = len(features.class_names)
        keys.update(cell_key(features.key, c) for c in grid_cells(grid, backbone, layer, n))
    rows = read_sweep(out)
    return rows[rows["cell"].isin(keys)].reset_index(drop=True)


def finish_sweep(out: Path | str, grid: Grid, load: Loader) -> pd.DataFrame:
    """The part files made one, then `_summary.csv`, `_ceilings.csv` and `_sweep.png`."""
    from tl_active import plots

    out = Path(out)
    with folder_lock(out):
        compact_parts(out)
        ceilings = sweep_ceilings(grid, load)
        summary = summarise_sweep(grid_rows(out, grid, load), ceilings, grid.budgets)
        ceilings.to_csv(out / CEILINGS_FILE, index=False, float_format="%.6f")
        summary.to_csv(out / SUMMARY_FILE, index=False, float_format="%.6f")
        (out / PLOT_FILE).write_bytes(plots.to_png(plots.sweep_chart(summary), scale=1.5))
    return summary


def format_overview(summary: pd.DataFrame) -> str:
    """Per strategy over the grid's cells: how many, mean AUC, and how often 99 % is reached."""
    grouped = summary.groupby("strategy", sort=False)
    table = pd.DataFrame(
        {
            "cells": grouped.size(),
            "mean auc": grouped["auc"].mean().map("{:.4f}".format),
            "reach 99% of ceiling": grouped["labels_to_99pct_of_ceiling"].count(),
            "median labels to 99%": grouped["labels_to_99pct_of_ceiling"].median(),
        }
    ).reset_index()
    return table.to_string(index=False)
