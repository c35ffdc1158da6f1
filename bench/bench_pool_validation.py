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
    return (
        f"alpha {teacher.alpha:g}, {teacher.confidence:.0%}, {teacher.per_answer} per answer{guard}"
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


def round_time() -> None:
    """Median submit time of a pool-taught round under each rules, in one run."""
    for name, (backbone, layer, make_task, batch, _) in TASKS.items():
        features = load_features(backbone, layer)
        for rules, teacher in pool_teacher.TEACHERS.items():
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
    args = parser.parse_args()
    if args.round_time:
        round_time()
        return
    pd.set_option("display.width", 200)
    pd.set_option("display.max_rows", 200)
    start = time.perf_counter()

    if args.stage == 1:
        teacher = choose_teacher(args.jobs)
    else:
        teacher = pool_teacher.TEACHERS[pool_teacher.POOL_RULES]
        print(f"today's teacher: {describe(teacher)}\n")

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
