"""The pool-taught head's rules and the default strategy, chosen on validation splits.

Nothing here reads MNIST's test set. Each split holds out a seeded fifth of MNIST's 60,000
training images as the validation set; the simulated sessions label from the other four
fifths and are scored on the held-out fifth. Three splits (seeds 0, 1, 2), two tasks:

- digits 0-4 on the 5-9 network's 128-wide `embedding` (batch 5; 10, 20 and 50 labels), the
  task the pool-taught head is for;
- odd/even on the shipped CNN's 10 `digits` outputs (batch 4; 12 and 40 labels), the demo,
  where the plain head is near its ceiling after 12 labels and must stay there.

Stage 1, the teacher's settings: on MaxHerding's picks (which do not depend on the head, so
one run of picks serves every setting), the guarded pool-taught head is fitted on the answers
at 10, 20 and 50 labels and scored. Of the settings within `WORTH` points of the best mean
over the three budgets and splits, the one with the fewest pseudo-labels per answer (the
smaller fit, so the faster round) and then the best mean wins.

Stage 2, the strategy and the safeguard: whole simulated sessions (the picks follow the head)
with the chosen teacher, for `diversity`, `maxherding` and `phased` at each switch share in
`SWITCHES`, and the teacher without its safeguard on `diversity`. The reference is today's
default, `diversity` with the plain head. A candidate qualifies when, on the mean over splits,
it stays within 0.1 point of the reference on odd/even at 12 labels and within 0.5 point at
every budget of both tasks; the qualifier with the best mean on 0-4 wins.

    python bench/bench_pool_validation.py [--jobs 2]
    python bench/bench_pool_validation.py --stage 2      # stage 2 alone, today's teacher
    python bench/bench_pool_validation.py --round-time   # what the rules cost a round
    python bench/bench_pool_validation.py --rules-5      # the graph and safeguard by layer

`--rules-5` chooses what rules 5 change on a layer of features, on 9 splits of digits 0-4 (the
differences are tenths of a point): every graph (symmetric or directed, on the features or on
them standardised) with and without the plain head's agreement, fitted on the picks of a
pool-taught `phased` session under rules 4; then whole sessions of `phased`, `diversity` and
`maxherding` under rules 4 and 5, each with its own switch; then, for two-answer questions,
whole `phased` sessions on weather's windows of 2016 and before (5 blocked folds, 2017 never
read) under rules 4, rules 5, and rules 5 without the agreement.

`--round-time` times a pool-taught round (the oracle's submit: the fit and the rescoring) under
the first rules and today's, in the same run, on the whole training pool of both tasks: the
median of rounds 3 to 8 of `diversity`, batch 5 (0-4) and 4 (odd/even).

It prints both grids and the chosen settings; the choice is recorded in
docs/compare-and-sweeps.md and in the defaults of `core/pool_teacher.py` and
`core/strategies/phased.py`.
"""

from __future__ import annotations

import os

# One BLAS thread per process: on a shared machine, two threads per fit made a small head's
# fit a hundred times slower (8 s instead of 0.08 s) while the other cores were busy.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import itertools  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from tl_active.core import pool_teacher  # noqa: E402
from tl_active.core.pool_teacher import PoolTeacher, safeguard, spreading_operator  # noqa: E402
from tl_active.core.strategies import phased  # noqa: E402
from tl_active.core.task import Task  # noqa: E402
from tl_active.data.features import FeatureSet, load_features  # noqa: E402
from tl_active.data.neighbour_graph import task_neighbours  # noqa: E402
from tl_active.sessions.records import PLAIN_HEAD, POOL_HEAD, SessionSettings  # noqa: E402
from tl_active.sessions.session import LabellingSession, oracle_session  # noqa: E402

SPLITS = (0, 1, 2)
HELD_OUT = 0.2
TASKS = {
    "0-4": ("mnist-cnn-5to9", "embedding", lambda: Task.multiclass("0-4"), 5, (10, 20, 50)),
    "odd/even": ("mnist-cnn", "digits", lambda: Task.binary("odd"), 4, (12, 40)),
}
# Stage 1: the teacher's settings. The first rules (alpha 0.2, 90 %, 400 per answer) are a row.
ALPHAS = (0.5, 0.8, 0.9)
CONFIDENCES = (0.7, 0.8, 0.9)
PER_ANSWER = (400, 2_000)
# A fit on 2,000 pseudo-labels per answer takes about four times as long as on 400: a setting
# within this many points of the best mean, with fewer pseudo-labels, is preferred.
WORTH = 0.1
FIRST_RULES = PoolTeacher(alpha=0.2, confidence=0.9, per_answer=400, fit_cells=None)
# Stage 2: phased's switch, the share of the pool its answers settle.
SWITCHES = (0.7, 0.8, 0.9, 0.95, 0.98)
REFERENCE = ("diversity", "plain")


def validation_split(features: FeatureSet, seed: int) -> FeatureSet:
    """The training pool without a seeded fifth, which becomes the 'test' set."""
    n = len(features.pool)
    held = np.zeros(n, bool)
    held[np.random.default_rng([seed, 7]).choice(n, int(n * HELD_OUT), replace=False)] = True
    return FeatureSet(
        pool=features.pool[~held],
        test=features.pool[held],
        y_pool=features.y_pool[~held],
        y_test=features.y_pool[held],
        class_names=features.class_names,
        backbone=features.backbone,
        layer=features.layer,
        key=f"{features.key}-validation{seed}" if features.key else "",
    )


def teachers() -> list[PoolTeacher]:
    grid = [
        PoolTeacher(alpha=a, confidence=c, per_answer=p, fit_cells=None)
        for a, c, p in itertools.product(ALPHAS, CONFIDENCES, PER_ANSWER)
    ]
    return [FIRST_RULES, *grid]


def describe(teacher: PoolTeacher) -> str:
    guard = "" if teacher.guarded else ", unguarded"
    if teacher.guarded and teacher.agreement_up_to is not None:
        guard += f", agreement up to {teacher.agreement_up_to} answers"
    graph = "" if teacher.graph == pool_teacher.SYMMETRIC else f", {teacher.graph}"
    graph += ", standardised" if teacher.standardised else ""
    return (
        f"alpha {teacher.alpha:g}, {teacher.confidence:.0%}, {teacher.per_answer} per answer"
        f"{guard}{graph}"
    )


def oracle_run(
    split: FeatureSet, task: Task, strategy: str, head: str, teacher, seed: int, batch: int, budgets
) -> dict[int, float]:
    """Validation accuracy at each budget of one simulated session."""
    session = oracle_session(split, strategy, seed, batch, task, head=head)
    session.teacher = teacher
    accuracy = {}
    for _ in range(max(budgets) // batch):
        picks = session.next_batch()
        record = session.submit(session.truth([p.index for p in picks]), simulated=True)
        accuracy[record.n_labels] = record.metrics["accuracy"]
    return {b: 100 * accuracy[b] for b in budgets}


def stage_one(name: str, seed: int) -> list[dict]:
    """Every teacher of the grid on MaxHerding's picks of one split."""
    backbone, layer, make_task, batch, budgets = TASKS[name]
    task = make_task()
    split = validation_split(load_features(backbone, layer), seed)
    data = split.task_data(task)
    operator = spreading_operator(task_neighbours(split, data, pool_teacher.NEIGHBOURS))
    session = oracle_session(split, "maxherding", seed, batch, task)
    for _ in range(max(budgets) // batch):
        picks = session.next_batch()
        session.submit(session.truth([p.index for p in picks]), simulated=True)
    positions = data.local(session.labelled)
    labels = session.labels
    rows = []
    for budget in budgets:
        labelled, answers = positions[:budget], labels[:budget]
        plain = session.fresh_head().fit(data.pool[labelled], answers)
        rows.append(
            dict(
                task=name,
                split=seed,
                labels=budget,
                teacher="plain head",
                accuracy=100 * _accuracy(plain, data),
            )
        )
        keep = safeguard(
            data.clusters,
            labelled,
            lambda where, plain=plain: plain.predict_proba(data.pool[where]).argmax(1),
        )
        for teacher in teachers():
            x, y, weights, count = pool_teacher.training_set(
                data.pool, operator, labelled, answers, task.n_outputs, teacher, keep
            )
            head = session.fresh_head().fit(x, y, weights)
            rows.append(
                dict(
                    task=name,
                    split=seed,
                    labels=budget,
                    teacher=describe(teacher),
                    accuracy=100 * _accuracy(head, data),
                    pseudo=count,
                )
            )
    return rows


def _accuracy(head, data) -> float:
    return float((head.predict_proba(data.test).argmax(axis=1) == data.truth_test).mean())


def stage_two(name: str, seed: int, teacher: PoolTeacher) -> list[dict]:
    """Whole sessions of each candidate (strategy, head) on one split."""
    backbone, layer, make_task, batch, budgets = TASKS[name]
    task = make_task()
    split = validation_split(load_features(backbone, layer), seed)
    if isinstance(teacher, pool_teacher.ByLayer):
        teacher = teacher.on(split.simplex)
    # phased's signal spreads the answers as today's rules do: here, as the chosen teacher does.
    pool_teacher.TEACHERS[pool_teacher.POOL_RULES] = teacher
    candidates = [
        (REFERENCE[0], PLAIN_HEAD, None, teacher),
        ("diversity", POOL_HEAD, None, teacher),
        ("diversity", POOL_HEAD, None, dataclasses.replace(teacher, guarded=False)),
        ("maxherding", POOL_HEAD, None, teacher),
        *(("phased", POOL_HEAD, share, teacher) for share in SWITCHES),
    ]
    rows = []
    for strategy, head, share, rules in candidates:
        if share is not None:
            phased.COVERED = share
        accuracy = oracle_run(split, task, strategy, head, rules, seed, batch, budgets)
        label = strategy + (f" (switch at {share:.0%})" if share is not None else "")
        label += "" if head == PLAIN_HEAD else (", pool" if rules.guarded else ", pool unguarded")
        rows += [
            dict(task=name, split=seed, candidate=label, labels=b, accuracy=a)
            for b, a in accuracy.items()
        ]
    return rows


# Rules 5, on a layer of features: the graph the answers spread over, and whether a
# pseudo-label needs the plain head's agreement. Nine splits: the differences are tenths of a
# point, and three splits could not tell them apart.
GRAPH_KINDS = {
    "symmetric": (pool_teacher.SYMMETRIC, False),
    "symmetric, standardised": (pool_teacher.SYMMETRIC, True),
    "directed": (pool_teacher.DIRECTED, False),
    "directed, standardised": (pool_teacher.DIRECTED, True),
}
RULES_SPLITS = tuple(range(9))
# The rules as shipped: the runs below put the rules under test in today's place (phased's
# signal reads it there), and a worker process runs many of them.
SHIPPED = dict(pool_teacher.TEACHERS)
# phased's switch as each rules had it: rules 2 to 4 chose 95 %, rules 5 90 % (stage 2).
SWITCH_UNDER = {4: 0.95, 5: phased.COVERED}


def graph_grid(seed: int) -> list[dict]:
    """Every graph, with and without the agreement, fitted on the picks of a pool-taught
    `phased` session under rules 4 (digits 0-4, one split)."""
    backbone, layer, make_task, batch, budgets = TASKS["0-4"]
    task = make_task()
    split = validation_split(load_features(backbone, layer), seed)
    data = split.task_data(task)
    before = SHIPPED[4]
    pool_teacher.TEACHERS[pool_teacher.POOL_RULES] = before  # phased's signal too
    phased.COVERED = SWITCH_UNDER[4]
    session = oracle_session(split, "phased", seed, batch, task, head=POOL_HEAD)
    session.teacher = before
    for _ in range(max(budgets) // batch):
        picks = session.next_batch()
        session.submit(session.truth([p.index for p in picks]), simulated=True)
    positions, labels = data.local(session.labelled), session.labels
    rows = []
    for name, (graph, standardised) in GRAPH_KINDS.items():
        table = task_neighbours(split, data, pool_teacher.NEIGHBOURS, standardised=standardised)
        operator = spreading_operator(table, directed=graph == pool_teacher.DIRECTED)
        for agreement in (True, False):
            teacher = dataclasses.replace(
                before,
                graph=graph,
                standardised=standardised,
                agreement_up_to=None if agreement else 1,
            )
            for budget in budgets:
                labelled, answers = positions[:budget], labels[:budget]
                plain = session.fresh_head().fit(data.pool[labelled], answers)
                keep = safeguard(
                    data.clusters,
                    labelled,
                    (lambda where, p=plain: p.predict_proba(data.pool[where]).argmax(1))
                    if agreement
                    else None,
                )
                x, y, weights, _ = pool_teacher.training_set(
                    data.pool, operator, labelled, answers, task.n_outputs, teacher, keep
                )
                head = session.fresh_head(teacher.fit_memory).fit(x, y, weights)
                guard = "agreement" if agreement else "answered clusters only"
                rows.append(
                    dict(
                        split=seed,
                        candidate=f"{name}; {guard}",
                        labels=budget,
                        accuracy=100 * _accuracy(head, data),
                    )
                )
    return rows


def rules_sessions(seed: int, rules: int) -> list[dict]:
    """Whole pool-taught sessions of `phased`, `diversity` and `maxherding` under `rules`
    (digits 0-4, one split): the picks follow the head and `phased`'s signal."""
    backbone, layer, make_task, batch, budgets = TASKS["0-4"]
    task = make_task()
    split = validation_split(load_features(backbone, layer), seed)
    rule = SHIPPED[rules]
    teacher = rule.on(split.simplex) if isinstance(rule, pool_teacher.ByLayer) else rule
    pool_teacher.TEACHERS[pool_teacher.POOL_RULES] = teacher
    phased.COVERED = SWITCH_UNDER[rules]
    rows = []
    for strategy in ("phased", "diversity", "maxherding"):
        accuracy = oracle_run(split, task, strategy, POOL_HEAD, teacher, seed, batch, budgets)
        rows += [
            dict(split=seed, candidate=f"{strategy}, rules {rules}", labels=b, accuracy=a)
            for b, a in accuracy.items()
        ]
    return rows


WEATHER_QUESTIONS = ("wet-today", "wet-tomorrow", "snow-today")
WEATHER_SHARES = 4  # runs per fold, each on its own seeded 90 % of the fold's training windows


def weather_split(question: str, fold: int, share: int) -> FeatureSet:
    """A weather question's windows of 2016: one of 5 blocked folds held out as the validation
    set, the pool the windows that share no day with it (`weather_transfer.fold_split`), a
    seeded 90 % of them. 2017's windows, the question's test set, are never read."""
    from tl_active.data.weather import make_windows
    from tl_active.data.weather_features import load_weather_features
    from tl_active.experiments.weather_transfer import fold_split

    features = fold_split(make_windows(question), load_weather_features(question), fold)[1]
    kept = np.random.default_rng([share, fold]).random(len(features.pool)) < 0.9
    return dataclasses.replace(
        features,
        pool=features.pool[kept],
        y_pool=features.y_pool[kept],
        key=f"{features.key}-share{share}",
    )


def weather_sessions(question: str, fold: int, share: int) -> list[dict]:
    """Pool-taught `phased` sessions on one weather fold under rules 4, rules 5, and rules 5
    without the plain head's agreement on two answers; accuracy, and PR-AUC for snow."""
    from tl_active.core.metrics import average_precision
    from tl_active.core.task import BINARY

    split = weather_split(question, fold, share)
    features_rules = SHIPPED[5].on(False)
    candidates = {
        "rules 4": (SHIPPED[4], SWITCH_UNDER[4]),
        "rules 5": (features_rules, SWITCH_UNDER[5]),
        "rules 5 without the agreement": (
            dataclasses.replace(features_rules, agreement_up_to=1),
            SWITCH_UNDER[5],
        ),
    }
    rows = []
    for name, (teacher, covered) in candidates.items():
        pool_teacher.TEACHERS[pool_teacher.POOL_RULES] = teacher
        phased.COVERED = covered
        session = oracle_session(split, "phased", share, 4, Task(BINARY, (1,)), head=POOL_HEAD)
        session.teacher = teacher
        for _ in range(10):
            picks = session.next_batch()
            record = session.submit(session.truth([p.index for p in picks]), simulated=True)
            if record.n_labels in (12, 40):
                truth = session.data.truth_test == 1
                score = session.head.predict_proba(session.data.test)[:, 1]
                rows.append(
                    dict(
                        question=question,
                        split=(fold, share),
                        candidate=name,
                        labels=record.n_labels,
                        accuracy=100 * record.metrics["accuracy"],
                        pr_auc=average_precision(truth, score),
                    )
                )
    return rows


def against(runs: pd.DataFrame, reference: str, value: str = "accuracy") -> pd.DataFrame:
    """Each candidate's mean accuracy per budget over the splits, its mean over the budgets,
    and its paired difference from `reference` (mean over the splits, and its standard error)."""
    table = runs.pivot_table(index="candidate", columns="labels", values=value, sort=False)
    table["mean"] = table.mean(axis=1)
    per_split = runs.groupby(["candidate", "split"])[value].mean().unstack("split")
    gap = per_split - per_split.loc[reference]
    table["gain"] = gap.mean(axis=1)
    table["error"] = gap.std(axis=1, ddof=1) / np.sqrt(gap.shape[1])
    return table.sort_values("mean", ascending=False)


def rules_five(jobs: int) -> None:
    """Rules 5: the graph grid on fixed picks, then whole sessions under rules 4 and 5."""
    runs = Parallel(n_jobs=jobs)(delayed(graph_grid)(seed) for seed in RULES_SPLITS)
    runs = pd.DataFrame([row for rows in runs for row in rows])
    print(
        "Rules 5, the graph and the safeguard: the pool-taught head on pool-taught phased's "
        f"picks (rules 4), digits 0-4, validation accuracy (%), mean of {len(RULES_SPLITS)} "
        "splits; gain: against rules 4 (symmetric; agreement), paired by split"
    )
    print(against(runs, "symmetric; agreement").round(2).to_string())
    jobs_list = [(seed, rules) for seed in RULES_SPLITS for rules in (4, 5)]
    runs = Parallel(n_jobs=jobs)(delayed(rules_sessions)(s, r) for s, r in jobs_list)
    runs = pd.DataFrame([row for rows in runs for row in rows])
    print(f"\nWhole sessions, pool-taught, digits 0-4, mean of {len(RULES_SPLITS)} splits")
    for strategy in ("phased", "diversity", "maxherding"):
        mine = runs[runs.candidate.str.startswith(strategy + ",")]
        print(against(mine, f"{strategy}, rules 4").round(2).to_string(), "\n")
    jobs_list = [
        (question, fold, share)
        for question in WEATHER_QUESTIONS
        for fold in range(5)
        for share in range(WEATHER_SHARES)
    ]
    runs = Parallel(n_jobs=jobs)(delayed(weather_sessions)(*job) for job in jobs_list)
    runs = pd.DataFrame([row for rows in runs for row in rows])
    print(
        "Two answers: pool-taught phased (batch 4) on weather's windows of 2016 and before, 5 "
        f"blocked folds x {WEATHER_SHARES} shares; gain against rules 4, paired by run"
    )
    for question in WEATHER_QUESTIONS:
        value = "pr_auc" if question.startswith("snow") else "accuracy"
        mine = runs[runs.question == question]
        print(f"{question} ({value})")
        print(against(mine, "rules 4", value).round(3).to_string(), "\n")


def round_time() -> None:
    """Median submit time of a pool-taught round under each rules, in one run."""
    for name, (backbone, layer, make_task, batch, _) in TASKS.items():
        features = load_features(backbone, layer)
        for rules in pool_teacher.TEACHERS:
            teacher = pool_teacher.teacher_for(rules, features.simplex)
            settings = SessionSettings(
                task=make_task(),
                strategy="diversity",
                batch_size=batch,
                backbone=backbone,
                layer=layer,
                head=POOL_HEAD,
                pool_rules=rules,
            )
            session = LabellingSession(features, settings, charts=False)
            times = []
            for _ in range(8):
                picks = session.next_batch()
                answers = session.truth([p.index for p in picks])
                began = time.perf_counter()
                session.submit(answers, simulated=True)
                times.append(time.perf_counter() - began)
            print(
                f"{name}: rules {rules} ({describe(teacher)}): a round takes "
                f"{1000 * np.median(times[2:]):.0f} ms (median of rounds 3-8)"
            )


def choose_teacher(jobs: int) -> PoolTeacher:
    """Stage 1: print the teacher grid and return the chosen teacher."""
    runs = Parallel(n_jobs=jobs)(delayed(stage_one)("0-4", seed) for seed in SPLITS)
    grid = pd.DataFrame([row for rows in runs for row in rows])
    table = grid.pivot_table(index="teacher", columns="labels", values="accuracy", sort=False)
    table["mean"] = table.mean(axis=1)
    print(
        "Stage 1: the guarded pool-taught head on MaxHerding's picks, digits 0-4, "
        f"validation accuracy (%), mean of {len(SPLITS)} splits"
    )
    print(table.sort_values("mean", ascending=False).round(2).to_string())
    means = table.drop(index="plain head")["mean"]
    candidates = [t for t in teachers() if means[describe(t)] >= means.max() - WORTH]
    fewest = min(t.per_answer for t in candidates)
    teacher = max(
        (t for t in candidates if t.per_answer == fewest), key=lambda t: means[describe(t)]
    )
    best = describe(teacher)
    print(f"chosen teacher: {best}\n")
    return teacher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="parallel workers")
    parser.add_argument(
        "--stage",
        type=int,
        choices=(1, 2),
        default=1,
        help="the stage to start from (2: the whole sessions, with today's teacher)",
    )
    parser.add_argument(
        "--round-time", action="store_true", help="time a round under each rules, and stop"
    )
    parser.add_argument(
        "--rules-5",
        action="store_true",
        help="the graph and safeguard of rules 5 on a layer of features, on 9 splits, and stop",
    )
    args = parser.parse_args()
    if args.round_time:
        round_time()
        return
    if args.rules_5:
        pd.set_option("display.width", 200)
        rules_five(args.jobs)
        return
    pd.set_option("display.width", 200)
    pd.set_option("display.max_rows", 200)
    start = time.perf_counter()

    if args.stage == 1:
        teacher = choose_teacher(args.jobs)
    else:
        teacher = pool_teacher.TEACHERS[pool_teacher.POOL_RULES]
        print(f"today's teacher: {teacher}\n")

    jobs = [(name, seed) for name in TASKS for seed in SPLITS]
    runs = Parallel(n_jobs=args.jobs)(delayed(stage_two)(n, s, teacher) for n, s in jobs)
    runs = pd.DataFrame([row for rows in runs for row in rows])
    table = runs.pivot_table(
        index="candidate", columns=["task", "labels"], values="accuracy", sort=False
    )
    print(f"Stage 2: whole sessions, validation accuracy (%), mean of {len(SPLITS)} splits")
    print(table.round(2).to_string())
    reference = table.loc[f"{REFERENCE[0]}"]
    margin = table - reference
    odd_even_12 = margin[("odd/even", 12)] >= -0.1
    nowhere_worse = (margin >= -0.5).all(axis=1)
    score = table["0-4"].mean(axis=1)
    qualified = score[odd_even_12 & nowhere_worse]
    print("\nagainst the reference (diversity, plain head), points:")
    print(margin.round(2).to_string())
    if qualified.drop(index=REFERENCE[0], errors="ignore").empty:
        print("\nno candidate qualifies: the default stays diversity with the plain head")
    else:
        winner = qualified.drop(index=REFERENCE[0], errors="ignore").idxmax()
        print(f"\nchosen default: {winner} (mean on 0-4 {qualified[winner]:.2f} %)")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
