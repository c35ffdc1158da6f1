"""Look again's targets: how many of the oracle's wrong answers the suspects hold, what two
re-checks a round are worth, and what finding the suspects adds to a round.

Two questions, 10 % of the oracle's answers wrong (compare's noise), on the real cached
features: odd/even on the shipped CNN's `digits` after 100 labels, and digits 0-4 on the 5-9
network's `embedding` after 200 labels (batches of 4, seeds 0, 1, 2).

1. Caught: after the last round, the share of the wrong answers among the top 2 x (the
   expected number of wrong answers) suspects, per seed and strategy.
2. Re-checks: the final test accuracy of the same runs without noise, with noise, and with
   noise and 2 re-checks a round (`compare.simulate_run`), means over seeds.
3. Cost: in one session of digits 0-4, the rounds from 200 labels on, each timed as the round
   itself (submit: store, refit, rescore, next batch) and then the suspects of that round
   (`find_suspects` with the session's kept fold heads); medians, one process, one BLAS thread.

It also counts, per run, the labelled images that the head fitted on every pool label (the
ceiling's) gets wrong, and how many of the wrong answers missed lie on such images: there the
frozen features themselves say the wrong answer, and no witness can tell.

    python bench/bench_look_again.py [--seeds 3] [--strategies diversity,random] [--timed 15]
                                     [--parts caught,accuracy,cost]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from tl_active.core.head import make_head
from tl_active.core.task import Task
from tl_active.data.features import load_features
from tl_active.experiments.compare import NOISE_STREAM, _wrong, simulate_run
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.suspects import find_suspects, session_scores, witnesses_for

QUESTIONS = (
    ("mnist-cnn", "digits", Task.binary("odd"), 100),
    ("mnist-cnn-5to9", "embedding", Task.multiclass("0-4"), 200),
)
NOISE, BATCH = 0.1, 4


def noisy_session(features, task, strategy, seed, labels):
    """A session answered by compare's oracle at 10 % noise up to `labels` labels, and the
    whole-pool indices it answered wrongly."""
    settings = SessionSettings(
        task=task,
        strategy=strategy,
        batch_size=BATCH,
        seed=seed,
        backbone=features.backbone,
        layer=features.layer,
    )
    session = LabellingSession(features, settings, charts=False)
    rng = np.random.default_rng([seed, NOISE_STREAM])
    wrong = set()
    while len(session.ledger.labelled) < labels:
        picks = session.next_batch()
        answers = session.truth([p.index for p in picks])
        flipped = rng.random(len(answers)) < NOISE
        answers = [
            _wrong(a, session.answer_values, rng) if f else a for a, f in zip(answers, flipped)
        ]
        wrong.update(p.index for p, f in zip(picks, flipped) if f)
        session.submit(answers, simulated=True)
    return session, wrong


def ceiling_misses(features, task) -> set[int]:
    """Whole-pool indices the head fitted on every pool label (the ceiling's) gets wrong: images
    whose frozen features say another answer than the truth, where no witness can tell a
    wrong answer from a right one."""
    data = features.task_data(task)
    truth = task.truth(features.y_pool[data.pool_index])
    head = make_head(task.n_outputs, "converge", not features.simplex).fit(data.pool, truth)
    wrong = head.predict_proba(data.pool).argmax(axis=1) != truth
    return {int(i) for i in data.pool_index[wrong]}


def caught(features, task, strategy, seed, labels, hard) -> tuple[int, int, int, int, int]:
    """(wrong answers, of them in the top 2 x expected suspects, that top's size, labelled
    images the ceiling's head gets wrong, wrong answers missed on such images)."""
    session, wrong = noisy_session(features, task, strategy, seed, labels)
    scores = session_scores(session)
    top = 2 * round(NOISE * labels)
    ranked = {int(i) for i in session.labelled[scores.ranking()[:top]]}
    missed = wrong - ranked
    labelled_hard = len(hard & {int(i) for i in session.labelled})
    return len(wrong), len(wrong & ranked), top, labelled_hard, len(missed & hard)


def cost(features, task, strategy, timed: int) -> tuple[list[float], list[float]]:
    """Seconds per round and per suspects' finding, for `timed` rounds from 200 labels on."""
    settings = SessionSettings(
        task=task, strategy=strategy, batch_size=BATCH, seed=0, layer=features.layer
    )
    session = LabellingSession(features, settings, charts=False)
    witnesses = witnesses_for(session)
    rounds, suspects = [], []
    while len(session.ledger.labelled) < 200 + BATCH * timed:
        picks = session.next_batch()
        start = time.perf_counter()
        session.submit(session.truth([p.index for p in picks]))
        session.next_batch()
        middle = time.perf_counter()
        find_suspects(session, scores=session_scores(session, witnesses), limit=5)
        end = time.perf_counter()
        if len(session.ledger.labelled) > 200:
            rounds.append(middle - start)
            suspects.append(end - middle)
    return rounds, suspects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--strategies", default="diversity,random")
    parser.add_argument("--timed", type=int, default=15, help="rounds timed from 200 labels on")
    parser.add_argument("--parts", default="caught,accuracy,cost", help="what to measure")
    args = parser.parse_args()
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    seeds = list(range(args.seeds))
    parts = set(args.parts.split(","))

    with threadpool_limits(1):
        for backbone, layer, task, labels in QUESTIONS:
            features = load_features(backbone, layer)
            name = f"{backbone} / {layer}, {task.describe()}, {labels} labels, noise {NOISE:g}"
            print(f"\n{name}")
            hard = ceiling_misses(features, task) if "caught" in parts else set()
            for strategy in strategies:
                if "caught" in parts:
                    found = [caught(features, task, strategy, seed, labels, hard) for seed in seeds]
                    share = sum(f[1] for f in found) / max(1, sum(f[0] for f in found))
                    each = ", ".join(f"{f[1]}/{f[0]}" for f in found)
                    print(
                        f"  {strategy}: wrong answers in the top {found[0][2]} suspects: {each} "
                        f"(seeds {seeds[0]}-{seeds[-1]}); {share:.0%} of all"
                    )
                    print(
                        "    labelled images the ceiling's head gets wrong: "
                        + ", ".join(str(f[3]) for f in found)
                        + f" of {labels}; wrong answers missed: "
                        + ", ".join(f"{f[0] - f[1]} ({f[4]} on such images)" for f in found)
                    )
                if "accuracy" not in parts:
                    continue
                rounds = labels // BATCH
                final = {}
                for label, noise, recheck in (
                    ("no noise", 0.0, 0),
                    ("noise", NOISE, 0),
                    ("noise + re-check 2", NOISE, 2),
                ):
                    runs = [
                        simulate_run(
                            features, strategy, s, rounds, BATCH, task, noise, recheck=recheck
                        )
                        for s in seeds
                    ]
                    final[label] = float(np.mean([run[-1]["accuracy"] for run in runs]))
                    extra = ""
                    if recheck:
                        given = sum(run[-1]["wrong_given"] for run in runs)
                        hit = sum(run[-1]["found"] for run in runs)
                        extra = f"; re-checks found {hit} of {given} wrong answers"
                    print(f"    final accuracy, {label}: {100 * final[label]:.2f} %{extra}")
                gap = 100 * (final["no noise"] - final["noise + re-check 2"])
                print(f"    re-check 2 against no noise: {gap:+.2f} points below")
            if "cost" not in parts:
                continue
            round_s, suspects_s = cost(features, task, strategies[0], args.timed)
            print(
                f"  cost from 200 labels ({strategies[0]}, {len(round_s)} rounds): round median "
                f"{1000 * statistics.median(round_s):.1f} ms, suspects median "
                f"{1000 * statistics.median(suspects_s):.1f} ms "
                f"({statistics.median(suspects_s) / statistics.median(round_s):.2f} x the round)"
            )


if __name__ == "__main__":
    main()
