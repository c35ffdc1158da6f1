"""`python -m tl_active compare`: every strategy answered by the oracle over many seeds, on
MNIST, an image folder with class folders or a weather question (`--data weather --target
snow-today`, answered from the recorded events); writes curves.csv, summary.csv, curves.png
and, for a binary question, positives.csv (the positives found per label spent)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tl_active.cli.common import data_option, is_weather, load_any_features, load_weather_question
from tl_active.core.head import HEAD_MODES
from tl_active.core.strategies import allowed_strategies
from tl_active.core.task import BINARY, DIGITS, MULTICLASS, Task, classes_by_name
from tl_active.experiments.compare import (
    MAX_SEEDS,
    check_settings,
    format_positives,
    format_summary,
    found_rates,
    label_rechecks,
    parse_budgets,
    plot_curves,
    positives_found,
    recheck_summary,
    run_comparison,
    summarise,
)
from tl_active.experiments.compare_notes import one_run_each, one_run_note
from tl_active.paths import check_writable_folder
from tl_active.sessions.figures import frozen_head_ceiling, frozen_head_ceiling_pr_auc
from tl_active.sessions.records import PLAIN_HEAD, POOL_HEAD


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strategies",
        default=None,
        help="comma-separated strategy names (default: every one the task allows)",
    )
    parser.add_argument("--seeds", type=int, default=5, help="runs per strategy, seeds 0..N-1")
    parser.add_argument("--rounds", type=int, default=30, help="labelling rounds per run")
    parser.add_argument("--batch", type=int, default=4, help="images per round")
    question = parser.add_mutually_exclusive_group()
    question.add_argument(
        "--target",
        default=None,
        help="binary: 'odd', 'even' or positive digits such as 2,3,5,7 (for --images: class "
        "names; for --data weather: snow-today, wet-today, snow-tomorrow or wet-tomorrow)",
    )
    question.add_argument(
        "--classes",
        default=None,
        help="multi-class: the classes to tell apart, e.g. 0-4 (for --images: names, e.g. cat,dog; default: all)",
    )
    parser.add_argument(
        "--budgets", default="12,40", help="label counts to report accuracy at (default 12,40)"
    )
    parser.add_argument(
        "--noise", type=float, default=0.0, help="share of the oracle's answers wrong (0 to 1)"
    )
    parser.add_argument(
        "--recheck",
        type=int,
        default=0,
        help="after each round, look again at the top K suspect answers (the oracle answers "
        "them right); each strategy then runs with and without (default 0: never)",
    )
    parser.add_argument(
        "--head",
        choices=(*HEAD_MODES, POOL_HEAD),
        default="converge",
        help="head training mode; pool: fitted to convergence on the answers and the "
        "pseudo-labels spread over the pool (the pool-taught head)",
    )
    parser.add_argument(
        "--pick-share",
        type=float,
        default=1.0,
        help="each seed picks from its own seeded share of the pool, e.g. 0.9 (the rest is never "
        "offered): strategies that draw nothing at random then give a different run per seed "
        "(default 1: the whole pool)",
    )
    parser.add_argument("--jobs", type=int, default=-1, help="parallel workers (-1: every core)")
    parser.add_argument("--out", type=Path, default=Path("results/compare"), help="output folder")
    data_option(parser)


def task_from_args(args: argparse.Namespace, class_names: tuple[str, ...] | None = None) -> Task:
    """The question --target or --classes asks; classes by name for an image folder's classes.

    An image folder with neither tells all its classes apart.
    """
    if is_weather(args):
        return Task(BINARY, (1,))  # the question's windows answer yes (1) or no (0)
    if class_names is None or tuple(class_names) == DIGITS:
        if args.classes:
            return Task.multiclass(args.classes)
        return Task.binary(args.target or "odd")
    if args.target:
        return Task(BINARY, classes_by_name(args.target, class_names))
    if args.classes:
        return Task(MULTICLASS, classes_by_name(args.classes, class_names))
    return Task(MULTICLASS, tuple(range(len(class_names))))


def run(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    images = getattr(args, "images", None)
    features = load_any_features(args) if images else None
    if is_weather(args):
        if args.classes:
            raise ValueError(
                "--data weather asks yes-or-no questions: give --target snow-today (or "
                "wet-today, snow-tomorrow, wet-tomorrow), not --classes"
            )
        features = load_weather_question(args, args.target or "snow-today")
    if features is not None and not features.has_truth:
        raise ValueError(
            f"{images} has no class folders, so there is no ground truth to answer with: the "
            "comparison needs one subfolder per class"
        )
    task = task_from_args(args, features.class_names if features is not None else None)
    if args.strategies:
        strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    else:
        strategies = allowed_strategies(task)
    budgets = parse_budgets(args.budgets)
    if args.seeds < 1:
        raise ValueError(
            f"--seeds must be at least 1, not {args.seeds}: it is the number of runs per "
            "strategy, which use seeds 0 to N-1"
        )
    if args.seeds > MAX_SEEDS:
        raise ValueError(f"--seeds {args.seeds}: a comparison runs at most {MAX_SEEDS:,} seeds")
    check_settings(
        strategies,
        list(range(args.seeds)),
        args.rounds,
        args.batch,
        args.noise,
        task,
        args.recheck,
        args.pick_share,
    )
    out = Path(args.out)
    check_writable_folder(out, "--out")
    if features is None:
        features = load_any_features(args)
    ceiling = frozen_head_ceiling(features, task).accuracy
    rates = found_rates(features, task)
    ceiling_pr_auc = (
        frozen_head_ceiling_pr_auc(features, task, rates.output) if rates and rates.rare else None
    )

    start = time.perf_counter()
    runs = len(strategies) * args.seeds * (2 if args.recheck else 1)
    with tqdm(total=runs, desc="runs", unit="run") as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        curves = run_comparison(
            features,
            strategies,
            args.seeds,
            args.rounds,
            args.batch,
            task,
            args.noise,
            args.jobs,
            progress,
            "converge" if args.head == POOL_HEAD else args.head,
            args.recheck,
            POOL_HEAD if args.head == POOL_HEAD else PLAIN_HEAD,
            args.pick_share,
        )
    elapsed = time.perf_counter() - start
    summary = summarise(label_rechecks(curves), ceiling, budgets)
    if args.recheck:
        summary = summary.merge(recheck_summary(curves), on="strategy", how="left")

    curves.to_csv(out / "curves.csv", index=False, float_format="%.6f")
    summary.to_csv(out / "summary.csv", index=False, float_format="%.6f")
    found = positives_found(label_rechecks(curves), budgets) if task.is_binary else None
    if found is not None:
        found.to_csv(out / "positives.csv", index=False, float_format="%.6f")
    plot_curves(
        label_rechecks(curves),
        ceiling,
        out / "curves.png",
        title=(
            f"{features.backbone} / {features.layer}: {question_text(args, features, task)}, "
            f"batch {args.batch}, {args.seeds} seeds"
            + (", pool-taught head" if args.head == POOL_HEAD else "")
            + (f", noise {args.noise:g}" if args.noise else "")
            + (f", re-check {args.recheck}" if args.recheck else "")
            + (
                f", each seed picking from {args.pick_share:.0%} of the pool"
                if args.pick_share < 1
                else ""
            )
        ),
        ceiling_pr_auc=ceiling_pr_auc,
    )
    print(f"{features.backbone} / {features.layer}, {question_text(args, features, task)}")
    print(format_summary(summary, ceiling, ceiling_pr_auc))
    if found is not None:
        if rates.rare:
            print(
                f"accuracy says little here: {rates.test:.1%} of the test set gives the rare "
                f"answer, so never giving it scores {1 - rates.test:.1%}; read the PR-AUC, the "
                "positives found and F1"
            )
        print(format_positives(found, rates.pool))
    if args.recheck:
        print(format_rechecks(summary))
    one_run = one_run_note(
        one_run_each(curves), args.seeds, "--pick-share 0.9 gives each seed a share of its own."
    )
    if one_run:
        print(one_run)
    print(
        f"{runs} runs ({len(strategies)} strategies x {args.seeds} seeds"
        + (
            f", each picking from its own {args.pick_share:.0%} of the pool"
            if args.pick_share < 1
            else ""
        )
        + (", with and without re-checks" if args.recheck else "")
        + f") x {args.rounds} rounds of "
        f"{args.batch} in {elapsed:.1f} s; wrote {out}/curves.csv, summary.csv, curves.png"
        + (", positives.csv" if found is not None else "")
    )


def format_rechecks(summary) -> str:
    """The wrong answers given, found by the re-checks and left after the last round."""
    lines = ["wrong answers after the last round (means over seeds):"]
    for row in summary.itertuples():
        found = "" if row.found_share != row.found_share else f" ({row.found_share:.0%} of them)"
        lines.append(
            f"  {row.strategy}: {row.wrong_given:.1f} given, {row.found:.1f} found by "
            f"re-checks{found}, {row.wrong_left:.1f} left"
        )
    return "\n".join(lines)


def question_text(args: argparse.Namespace, features, task: Task) -> str:
    """The question as a person reads it: "snow today (binary, ...)" for weather, else the task's."""
    if is_weather(args):
        from tl_active.data.weather import question

        asked = question(args.target or "snow-today")
        return f"{asked.text} (binary, answered by {features.kind.truth})"
    return task.describe(features.class_names)
