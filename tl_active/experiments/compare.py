"""Which images should a person curate? Every strategy, answered by an oracle, over many seeds.

The oracle is a labeller who answers with the data's ground truth; with `noise` > 0 it gets that
share of its answers wrong (drawn from a generator seeded by the run's seed: the other answer of
a binary task, another class of a K-class one), and the wrong answers are labels like any other.
It never skips. One run is one `LabellingSession` with one strategy and one seed, answered for a
number of rounds; its curve is the test-set figures after each round. Any backbone, layer and
task can be compared; the summary measures each strategy against the frozen-head ceiling of that
configuration (the head fitted on every pool label), and says where the stopping
recommendation (`stopping.py`) first fired and the test accuracy there.

Runs are independent and seeded, so they go to joblib's workers in any order and the results
do not depend on how many there are: they are put back in (strategy, seed, round) order. One
function, `oracle_run`, is what every worker runs, here and in a sweep (`sweep/`).

`run_comparison` and `summarise` are pure (no files, no printing) so that the app's compare page
calls them too, as the command line does (`python -m tl_active compare`, `cli/compare.py`).
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from tl_active.core.metrics import rare_output
from tl_active.core.strategies import REGISTRY, allowed_strategies, get_strategy
from tl_active.core.task import Task
from tl_active.data.features import FeatureSet
from tl_active.errors import PoolExhaustedError
from tl_active.sessions.records import MAX_BATCH, PLAIN_HEAD, SessionSettings
from tl_active.sessions.session import oracle_session
from tl_active.sessions.suspects import find_suspects, session_scores, witnesses_for

FIGURE_COLUMNS = ["strategy", "seed", "round", "n_labels", "accuracy", "precision", "recall", "f1"]
# The stopping signals after each round (NaN where undefined) and the recommendation.
STOPPING_COLUMNS = [
    "kappa",
    "kappa_average",
    "changed_share",
    "uncertainty",
    "progressive_accuracy",
    "can_stop",
]
# Of a binary question, the positives among the labels so far, by the truth (not the oracle's
# word, which noise may flip): how fast a strategy finds a rare class. Empty for K classes.
# The positives are the rare answer's where the question has one (`metrics.rare_output`), and
# `pr_auc` is then the head's PR-AUC for it on the test set, as the Label page reads it; empty
# for any other question, whose accuracy says enough.
CURVE_COLUMNS = FIGURE_COLUMNS + STOPPING_COLUMNS + ["positives", "pr_auc"]
# With noise or re-checks: the re-checks asked for per round, and after each round the wrong
# answers the oracle has given so far, those still standing, and those the re-checks found.
RECHECK_COLUMNS = ["recheck", "wrong_given", "wrong_left", "found"]
SHARE_OF_CEILING = 0.99
BUDGETS = (12, 40)


def summary_columns(budgets: Sequence[int] = BUDGETS, rare: bool = False) -> list[str]:
    """`strategy,labels_to_99pct_of_ceiling,labels_at_stop,accuracy_at_stop,auc` and one
    `accuracy_at_<n>` per budget; for a rare answer one `pr_auc_at_<n>` per budget after them."""
    return [
        "strategy",
        "labels_to_99pct_of_ceiling",
        "labels_at_stop",
        "accuracy_at_stop",
        "auc",
        *(f"accuracy_at_{b}" for b in budgets),
        *(f"pr_auc_at_{b}" for b in (budgets if rare else ())),
    ]


SUMMARY_COLUMNS = summary_columns()
NOISE_STREAM = 7_919  # a fixed second seed word, so the noise never shares a stream with a query
SHARE_STREAM = 7_927  # and another for the share of the pool a seed may pick from

Progress = Callable[[int, int], None]


# --- one run ----------------------------------------------------------------------------------


def simulate_run(
    features: FeatureSet,
    strategy: str,
    seed: int,
    rounds: int,
    batch: int,
    task: Task | str | frozenset[int],
    noise: float = 0.0,
    head_mode: str = "converge",
    recheck: int = 0,
    head: str = PLAIN_HEAD,
    pick_share: float = 1.0,
) -> list[dict]:
    """One labelling session answered by the oracle: a curve row per round.

    `head` is the plain head or the pool-taught one (`records.HEADS`).

    With `pick_share` under 1 the strategy picks only from a share of the pool drawn from the
    run's seed (`pick_pool`); the rest stays in the pool, unlabelled, and is never offered. A
    strategy that draws nothing at random (`diversity`, `phased`, ...) makes the same picks
    with every seed on the whole pool: with a share, its seeds are different runs, as another
    pool of the same kind would give, and their mean and band say how much one run says.

    With `recheck` K > 0, after each round the simulated person looks again at the top K
    suspect answers (`suspects.find_suspects`, no ground truth) and the oracle answers them
    right, as a careful second look would: a wrong one is corrected (a correction round, as
    the app makes it), a right one is kept and no longer suspected. A row then stands for the
    batch round and the corrections after it, with its figures after the last of them. Rows
    of a run with noise or re-checks also count the wrong answers (`RECHECK_COLUMNS`).

    Stops early, without error, when the pool runs out (only a tiny pool can).
    """
    session = oracle_session(features, strategy, seed, batch, task, head_mode, head)
    if pick_share < 1.0:
        offered = pick_pool(session.data.size, pick_share, seed)
        session.hide_from_picks(np.flatnonzero(~offered))
    values = session.answer_values
    rare = session.rare_output
    found_value = values[1 if rare is None else rare]
    noise_rng = np.random.default_rng([seed, NOISE_STREAM])
    witnesses = witnesses_for(session) if recheck else None
    wrong: set[int] = set()  # whole-pool indices whose live answer is wrong
    kept: set[int] = set()  # looked at again and found right
    given = found = 0
    positives = 0.0 if session.task.is_binary else np.nan  # float, as a sweep stores it
    rows = []
    for number in range(1, rounds + 1):
        try:
            picks = session.next_batch()
        except PoolExhaustedError:
            break
        answers = session.truth([p.index for p in picks])
        positives += answers.count(found_value) if session.task.is_binary else 0
        # Drawn every round, even at noise 0, so a run's flips depend on its seed and round only.
        flipped = noise_rng.random(len(answers)) < noise
        answers = [_wrong(a, values, noise_rng) if f else a for a, f in zip(answers, flipped)]
        wrong.update(p.index for p, f in zip(picks, flipped) if f)
        given += int(flipped.sum())
        record = session.submit(answers, simulated=True)
        if witnesses is not None:
            scores = session_scores(session, witnesses)
            for suspect in find_suspects(session, kept, limit=recheck, scores=scores):
                right = session.truth([suspect.index])[0]
                if suspect.answer == right:
                    kept.add(suspect.index)
                    continue
                record = session.correct(suspect.index, right, simulated=True, looked_again=True)
                wrong.discard(suspect.index)
                found += 1
        row = {
            "strategy": strategy,
            "seed": seed,
            "round": number,
            "n_labels": record.n_labels,
            **{name: record.metrics[name] for name in FIGURE_COLUMNS[4:]},
            **{name: record.stopping.get(name, np.nan) for name in STOPPING_COLUMNS[:-1]},
            "can_stop": record.can_stop,
            "positives": positives,
            "pr_auc": np.nan if rare is None else session.pr_auc(),
        }
        if noise or recheck:
            row.update(recheck=recheck, wrong_given=given, wrong_left=len(wrong), found=found)
        rows.append(row)
    return rows


def is_pick_share(value) -> bool:
    """Whether `value` is a share of the pool a seed may pick from: a number above 0 and at
    most 1 (not a boolean; NaN is not one). `compare`, the sweep grids and the peer bench
    all ask this."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and 0.0 < value <= 1.0


def pick_pool(size: int, share: float, seed: int) -> np.ndarray:
    """Which of a pool's `size` images a run with this seed may pick from: `share` of them
    (rounded, at least one), drawn from the seed alone, so every strategy of a comparison
    picks from the same share at the same seed."""
    count = min(size, max(1, round(share * size)))
    offered = np.zeros(size, bool)
    offered[np.random.default_rng([seed, SHARE_STREAM]).choice(size, count, replace=False)] = True
    return offered


def first_batch(
    features: FeatureSet,
    strategy: str,
    batch: int,
    task: Task,
    head_mode: str,
    head: str = PLAIN_HEAD,
):
    """The first batch a strategy asks for on this task (what it makes from the pool is kept;
    for the pool-taught head, its neighbour graph too, by answering that batch)."""
    session = oracle_session(features, strategy, 0, batch, task, head_mode, head)
    picks = session.next_batch()
    if head != PLAIN_HEAD:
        session.submit(session.truth([p.index for p in picks]))
    return picks


def _wrong(answer: str, values: Sequence[str], rng: np.random.Generator) -> str:
    """Another answer than `answer`: the other one of two, or one of the others drawn at random."""
    others = [v for v in values if v != answer]
    return others[0] if len(others) == 1 else others[int(rng.integers(len(others)))]


# --- many runs --------------------------------------------------------------------------------


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    """Seeds 0 to N-1 for a count N, or the seeds given."""
    if isinstance(seeds, int):
        if not 1 <= seeds <= MAX_SEEDS:
            raise ValueError(f"the number of seeds must be from 1 to {MAX_SEEDS:,}, not {seeds}")
        return list(range(seeds))
    return [int(s) for s in seeds]


# The most work one comparison may ask for, so that a slip of the keyboard (--seeds 100000000)
# is a one-line refusal rather than a machine out of memory or a run that never ends. A run of
# MAX_ROUNDS rounds of the largest batch labels more images than MNIST's pool holds.
MAX_SEEDS = 10_000
MAX_ROUNDS = 10_000


def check_settings(
    strategies: Sequence[str],
    seeds: Sequence[int],
    rounds: int,
    batch: int,
    noise: float,
    task: Task | None = None,
    recheck: int = 0,
    pick_share: float = 1.0,
) -> None:
    """A ValueError that names the bad setting, before any work starts."""
    if not strategies:
        raise ValueError("choose at least one strategy")
    for name in strategies:
        get_strategy(name)
        if task is not None and name not in allowed_strategies(task):
            raise ValueError(f"strategy {name!r} needs a binary task; leave it out for classes")
    if not seeds:
        raise ValueError("give at least one seed")
    if len(seeds) > MAX_SEEDS:
        raise ValueError(f"{len(seeds):,} seeds are more than the {MAX_SEEDS:,} a comparison runs")
    if min(seeds) < 0:
        raise ValueError(f"seeds are whole numbers 0 or more, not {min(seeds)}")
    if not 1 <= rounds <= MAX_ROUNDS:
        raise ValueError(f"rounds must be a whole number from 1 to {MAX_ROUNDS:,}, not {rounds}")
    if not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"batch size must be a whole number from 1 to {MAX_BATCH}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise is a share of answers flipped, from 0 to 1, not {noise}")
    if not isinstance(recheck, int) or isinstance(recheck, bool) or recheck < 0:
        raise ValueError(f"re-checks per round are a whole number, 0 or more, not {recheck!r}")
    if not is_pick_share(pick_share):
        raise ValueError(
            f"the share of the pool each seed picks from is above 0 and at most 1, not {pick_share}"
        )


def run_comparison(
    features: FeatureSet,
    strategies: Sequence[str] = tuple(REGISTRY),
    seeds: int | Sequence[int] = 5,
    rounds: int = 30,
    batch: int = 4,
    task: Task | str | frozenset[int] = "odd",
    noise: float = 0.0,
    jobs: int = -1,
    progress: Progress | None = None,
    head_mode: str = "converge",
    recheck: int = 0,
    head: str = PLAIN_HEAD,
    pick_share: float = 1.0,
) -> pd.DataFrame:
    """The curves of every (strategy, seed) run, one row per round, in `CURVE_COLUMNS`.

    `head` is the head every run fits: the plain one or the pool-taught one (`records.HEADS`).
    `pick_share` under 1 lets each seed pick from its own share of the pool (`simulate_run`).

    With `recheck` K > 0 every (strategy, seed) runs twice, without re-checks and with K per
    round, and the rows carry `RECHECK_COLUMNS` too. `progress(done, total)` is called in this
    process as runs finish. The rows come back sorted by strategy (in the order given),
    re-checks, seed and round, whatever `jobs` is.
    """
    from joblib import Parallel, delayed

    strategies = list(strategies)
    seed_list = _seed_list(seeds)
    task = SessionSettings(task=task).task if not isinstance(task, Task) else task
    check_settings(strategies, seed_list, rounds, batch, noise, task, recheck, pick_share)
    SessionSettings(task=task, head_mode=head_mode, head=head)  # refuses a bad head here
    # The task's clusters are made once here and travel to the workers with the features; so
    # are the tables strategies make from the pool (neighbours, balls), by one first batch each.
    features.task_data(task).clusters  # noqa: B018
    for name in dict.fromkeys(strategies):
        first_batch(features, name, batch, task, head_mode, head)
    runs = [
        OracleRun(name, seed, rounds, batch, task, noise, head_mode, rechecks, head, pick_share)
        for name in strategies
        for rechecks in ((0, recheck) if recheck else (0,))
        for seed in seed_list
    ]
    if progress:
        progress(0, len(runs))
    results: dict[OracleRun, list[dict]] = {}
    parallel = Parallel(n_jobs=jobs, return_as="generator_unordered", inner_max_num_threads=1)
    for run, rows in parallel(delayed(oracle_run)(features, run) for run in runs):
        results[run] = rows
        if progress:
            progress(len(results), len(runs))
    if not recheck:
        return pd.DataFrame([row for run in runs for row in results[run]], columns=CURVE_COLUMNS)
    rows = [{**row, "recheck": run.recheck} for run in runs for row in results[run]]
    return pd.DataFrame(rows, columns=CURVE_COLUMNS + RECHECK_COLUMNS)


class OracleRun(NamedTuple):
    """One oracle run's settings: what `compare` and a sweep's cells hand to a worker."""

    strategy: str
    seed: int
    rounds: int
    batch: int
    task: Task
    noise: float = 0.0
    head_mode: str = "converge"
    recheck: int = 0
    head: str = PLAIN_HEAD
    pick_share: float = 1.0


def oracle_run(features: FeatureSet, run: OracleRun) -> tuple[OracleRun, list[dict]]:
    """`simulate_run` for one run's settings, on one BLAS thread, returned with its settings.

    The one function every worker runs, whichever engine sends the work: a run is a short numpy
    loop, so one thread each rather than oversubscribed cores; and the same thread count
    everywhere keeps a run's figures the same to the last bit on any backend.
    """
    with _thread_pools().limit(limits=1):
        return run, simulate_run(features, *run)


@functools.cache
def _thread_pools():
    """This process's BLAS and OpenMP pools, found once: finding them costs a twentieth of a run.

    SciPy (the K-class head's optimiser) is imported first, so its own BLAS is among them.
    """
    import scipy.optimize  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


# --- what the curves say ----------------------------------------------------------------------


def mean_curves(curves: pd.DataFrame, figure: str = "accuracy") -> pd.DataFrame:
    """Per strategy and round: labels, and the mean, lowest and highest `figure` over seeds
    (accuracy, or `pr_auc` for a rare answer)."""
    order = list(dict.fromkeys(curves["strategy"]))
    grouped = curves.groupby(["strategy", "round"], sort=False)
    bands = grouped.agg(
        n_labels=("n_labels", "mean"),
        mean=(figure, "mean"),
        low=(figure, "min"),
        high=(figure, "max"),
        seeds=("seed", "nunique"),
    ).reset_index()
    bands["strategy"] = pd.Categorical(bands["strategy"], categories=order, ordered=True)
    bands = bands.sort_values(["strategy", "round"]).reset_index(drop=True)
    bands["strategy"] = bands["strategy"].astype(str)
    return bands


def curve_figures(
    n_labels: np.ndarray,
    accuracy: np.ndarray,
    rounds: np.ndarray,
    ceiling: float,
    budgets: Sequence[int] = BUDGETS,
) -> dict:
    """What one curve says, round by round in order: the summary's figures (see `summarise`).

    The one definition both `summarise` (a strategy's mean curve) and a sweep's summary (each
    grid cell's mean curve, and each seed's own) use.
    """
    n_labels, accuracy, rounds = (np.asarray(a, float) for a in (n_labels, accuracy, rounds))
    reached = np.flatnonzero(accuracy >= SHARE_OF_CEILING * ceiling)
    span = rounds[-1] - rounds[0]
    auc = float(np.trapezoid(accuracy, rounds) / span) if span else float(accuracy[0])

    return {
        "labels_to_99pct_of_ceiling": (int(round(n_labels[reached[0]])) if len(reached) else pd.NA),
        "auc": auc,
        **{f"accuracy_at_{b}": value_at(n_labels, accuracy, b) for b in budgets},
    }


def value_at(n_labels: Sequence[float], values: Sequence[float], budget: int) -> float:
    """A curve's figure after its last round with at most `budget` labels; NaN if the curve
    stops short of the budget."""
    n_labels, values = np.asarray(n_labels, float), np.asarray(values, float)
    within = np.flatnonzero(n_labels <= budget)
    if n_labels.max() < budget or not len(within):
        return float("nan")
    return float(values[within[-1]])


def is_rare(curves: pd.DataFrame) -> bool:
    """Whether the runs' question has a rare answer, read by its PR-AUC (`metrics.rare_output`):
    their curves then carry it. Curves written before there was a `pr_auc` column have none."""
    return "pr_auc" in curves and bool(curves["pr_auc"].notna().any())


class FoundRates(NamedTuple):
    """Of a binary question: which answer the positives found count (`output`), its share of
    the pool and of the test set, and whether it is rare (read by PR-AUC, not accuracy)."""

    output: int
    pool: float
    test: float
    rare: bool


def found_rates(features: FeatureSet, task: Task) -> FoundRates | None:
    """The page's and the command line's one rule (`metrics.rare_output`, by the test set's
    base rate) for which answer the positives found count and whether the question is read by
    its PR-AUC rather than accuracy; None for a question with no positives to count."""
    if not features.has_truth or not task.is_binary:
        return None
    data = features.task_data(task)
    rare = rare_output(data.truth_test, task.n_outputs)
    output = 1 if rare is None else rare
    return FoundRates(
        output,
        float(np.mean(data.truth_pool == output)),
        float(np.mean(data.truth_test == output)),
        rare is not None,
    )


def stop_points(curves: pd.DataFrame) -> pd.DataFrame:
    """Per (strategy, seed) run: the labels and test accuracy of the first round whose signals
    recommended stopping; NaN for a run where it never fired."""
    runs = curves.groupby(["strategy", "seed"], sort=False)
    fired = curves[curves["can_stop"].astype(bool)].groupby(["strategy", "seed"], sort=False)
    first = fired[["n_labels", "accuracy"]].first()
    return first.reindex(list(runs.groups)).rename_axis(["strategy", "seed"]).reset_index()


def summarise(
    curves: pd.DataFrame, ceiling: float, budgets: Sequence[int] = BUDGETS
) -> pd.DataFrame:
    """One row per strategy, in `summary_columns(budgets)`, from the mean curve over seeds.

    - `labels_to_99pct_of_ceiling`: the fewest labels at which the mean accuracy reaches 99 % of
      `ceiling` (the frozen-head ceiling); empty where it never does.
    - `labels_at_stop`, `accuracy_at_stop`: the labels at which the stopping recommendation
      first fired and the test accuracy there, means over seeds; empty unless it fired in every
      seed (a run that never stopped has no point to average).
    - `accuracy_at_<n>`: mean accuracy with at most n labels, per budget.
    - `auc`: the area under the mean accuracy curve over the rounds (trapezoids), divided by
      the number of rounds spanned, so 1 is a perfect head from the first round on.
    """
    rows = []
    stops = stop_points(curves).groupby("strategy", sort=False)
    rare = is_rare(curves)
    pr_aucs = mean_curves(curves, "pr_auc").groupby("strategy", sort=False) if rare else None
    for name, curve in mean_curves(curves).groupby("strategy", sort=False):
        stop = stops.get_group(name)
        every_seed = bool(stop["n_labels"].notna().all())
        figures = curve_figures(curve["n_labels"], curve["mean"], curve["round"], ceiling, budgets)
        if pr_aucs is not None:
            pr_auc = pr_aucs.get_group(name)
            figures |= {
                f"pr_auc_at_{b}": value_at(pr_auc["n_labels"], pr_auc["mean"], b) for b in budgets
            }
        rows.append(
            {
                "strategy": name,
                **figures,
                "labels_at_stop": (int(round(stop["n_labels"].mean())) if every_seed else pd.NA),
                "accuracy_at_stop": float(stop["accuracy"].mean()) if every_seed else np.nan,
            }
        )
    summary = pd.DataFrame(rows, columns=summary_columns(budgets, rare))
    for column in ("labels_to_99pct_of_ceiling", "labels_at_stop"):
        summary[column] = summary[column].astype("Int64")
    return summary


def format_summary(
    summary: pd.DataFrame, ceiling: float, ceiling_pr_auc: float | None = None
) -> str:
    """The summary as a plain-text table, accuracies in percent; a rare answer's PR-AUC at each
    budget after them, with the frozen-head ceiling's PR-AUC (`ceiling_pr_auc`) above."""

    def percent(value: float) -> str:
        return "-" if pd.isna(value) else f"{100 * value:.2f} %"

    budgets = [c for c in summary.columns if c.startswith("accuracy_at_") and c[12:].isdigit()]
    table = pd.DataFrame(
        {
            "strategy": summary["strategy"],
            "labels to 99% of ceiling": [
                "never" if pd.isna(v) else str(int(v))
                for v in summary["labels_to_99pct_of_ceiling"]
            ],
            "labels at stop": [
                "never" if pd.isna(v) else str(int(v)) for v in summary["labels_at_stop"]
            ],
            "accuracy at stop": [percent(v) for v in summary["accuracy_at_stop"]],
            **{
                c.replace("accuracy_at_", "accuracy at "): [percent(v) for v in summary[c]]
                for c in budgets
            },
            "auc": [f"{v:.4f}" for v in summary["auc"]],
            **{
                c.replace("pr_auc_at_", "PR-AUC at "): [
                    "-" if pd.isna(v) else f"{v:.3f}" for v in summary[c]
                ]
                for c in summary.columns
                if c.startswith("pr_auc_at_")
            },
        }
    )
    pr_auc = "" if ceiling_pr_auc is None else f", PR-AUC {ceiling_pr_auc:.3f}"
    return (
        f"frozen-head ceiling (the head on every pool label): {100 * ceiling:.2f} %{pr_auc}\n"
        + table.to_string(index=False)
    )


def plot_curves(
    curves: pd.DataFrame,
    ceiling: float,
    path: Path | str,
    title: str = "",
    ceiling_pr_auc: float | None = None,
) -> None:
    """The compare page's chart as a PNG, beside the same zoomed in near the ceiling.

    Mean test accuracy per strategy against labels, the seeds' range as a band, the ceiling
    dashed: `plots.compare_chart`, rendered by vl-convert, so the file and the page are one
    drawing. For a rare answer (`is_rare`) the left chart is of its PR-AUC (against the
    ceiling's, `ceiling_pr_auc`) and the right one of accuracy, as the page draws them.
    """
    import altair as alt

    from tl_active import plots

    bands = mean_curves(curves)
    title = title or "mean over seeds; band = lowest to highest seed"
    if is_rare(curves):
        full = plots.compare_chart(
            mean_curves(curves, "pr_auc"), ceiling_pr_auc, title=title, figure="pr_auc"
        )
        near = plots.compare_chart(bands, ceiling, title="accuracy (little to read here)")
    else:
        full = plots.compare_chart(bands, ceiling, title=title)
        near = plots.compare_chart(
            bands,
            ceiling,
            title="near the ceiling",
            y_domain=(ceiling - 0.03, min(1.0, ceiling + 0.005)),
        )
    chart = alt.hconcat(full.properties(width=520), near.properties(width=520))
    Path(path).write_bytes(plots.to_png(chart, scale=1.5))


# --- re-checks ---------------------------------------------------------------------------------


def recheck_label(strategy: str, recheck: int) -> str:
    """How a run with re-checks is named in a summary and a chart: "diversity + re-check 2"."""
    return f"{strategy} + re-check {recheck}" if recheck else strategy


def label_rechecks(curves: pd.DataFrame) -> pd.DataFrame:
    """The curves with each run with re-checks named as its own line (`recheck_label`), so
    that `summarise` and the charts show it beside the same strategy without them."""
    if "recheck" not in curves:
        return curves
    named = curves.copy()
    named["strategy"] = [
        recheck_label(s, int(k)) for s, k in zip(curves["strategy"], curves["recheck"])
    ]
    return named


def recheck_summary(curves: pd.DataFrame) -> pd.DataFrame:
    """Per line of `label_rechecks`: after the last round, means over seeds of the wrong answers
    given, those the re-checks found, and those left; `found_share` is found / given."""
    named = label_rechecks(curves)
    last = named[named["round"] == named.groupby(["strategy", "seed"])["round"].transform("max")]
    table = last.groupby("strategy", sort=False)[["wrong_given", "found", "wrong_left"]].mean()
    table["found_share"] = table["found"] / table["wrong_given"].where(table["wrong_given"] > 0)
    return table.reset_index()


# --- rare positives --------------------------------------------------------------------------


def positives_found(curves: pd.DataFrame, budgets: Sequence[int] = BUDGETS) -> pd.DataFrame:
    """Per strategy and budget: the positives among the first n labels, with precision, recall
    and F1 there; means over seeds, with the fewest and most positives any seed found.

    For a rare positive answer (snow on 2 % of days) accuracy says little: the head that always
    says "no" scores 98 %. What tells the strategies apart is how soon their labels hold
    positives to learn from. Each seed counts after its last round with at most n labels; a
    budget beyond the runs is left out. Only binary questions have positives to count.
    """
    rows = []
    for (name, _seed), run in curves.groupby(["strategy", "seed"], sort=False):
        for budget in budgets:
            within = run[run["n_labels"] <= budget]
            if run["n_labels"].max() < budget or within.empty:
                continue
            last = within.iloc[-1]
            rows.append(
                {"strategy": name, "labels": budget}
                | {k: float(last[k]) for k in ("positives", "precision", "recall", "f1")}
            )
    table = pd.DataFrame(
        rows, columns=["strategy", "labels", "positives", "precision", "recall", "f1"]
    )
    grouped = table.groupby(["strategy", "labels"], sort=False)
    summary = grouped[["positives", "precision", "recall", "f1"]].mean()
    summary["fewest"] = grouped["positives"].min()
    summary["most"] = grouped["positives"].max()
    return summary.reset_index()


def format_positives(found: pd.DataFrame, rate: float) -> str:
    """`positives_found` as a plain-text table: found per label, beside random's expectation."""
    if found.empty:
        return "no budget within the runs' labels: no positives counted"
    lines = [
        f"positives among the first labels (mean over seeds, fewest-most; {rate:.1%} of the pool is positive):"
    ]
    budgets = sorted(found["labels"].unique())
    head = f"{'strategy':<16}" + "".join(f"{f'first {b}':>16}{'F1':>7}" for b in budgets)
    lines += [head, f"{'(at random)':<16}" + "".join(f"{b * rate:>16.1f}{'':>7}" for b in budgets)]
    for name, rows in found.groupby("strategy", sort=False):
        cells = rows.set_index("labels")
        line = f"{name:<16}"
        for b in budgets:
            if b not in cells.index:
                line += f"{'-':>16}{'':>7}"
                continue
            r = cells.loc[b]
            line += f"{f'{r.positives:.1f} ({r.fewest:.0f}-{r.most:.0f})':>16}{r.f1:>7.2f}"
        lines.append(line)
    return "\n".join(lines)


# --- the budgets a person names ---------------------------------------------------------------


def parse_budgets(text: str) -> tuple[int, ...]:
    try:
        budgets = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise ValueError(f"budgets are label counts such as 12,40,100, not {text!r}") from None
    if not budgets or min(budgets) < 1:
        raise ValueError(f"budgets are label counts of 1 or more, such as 12,40,100, not {text!r}")
    return budgets
