"""Look again's targets: how many of the oracle's wrong answers the suspects hold, what two
re-checks a round are worth, and what finding the suspects adds to a round.

Two questions, 10 % of the oracle's answers wrong (compare's noise), on the real cached
features: odd/even on the shipped CNN's `digits` after 100 labels, and digits 0-4 on the 5-9
network's `embedding` after 200 labels (batches of 4, seeds 0, 1, 2).

1. Caught: after the last round, the share of the wrong answers among the top 2 x (the
   expected number of wrong answers) suspects, per seed and strategy.
2. Re-checks: the final test accuracy of the same runs without noise, with noise, and with
   noise and 2 re-checks a round (`compare.simulate_run`), means over seeds.
3. Cost: in one session of each question, the rounds from 200 labels on, each timed as the
   round itself (submit: refit, rescore, next batch) and then the suspects of that round
   (`find_suspects` with the session's kept fold heads), and beside them the same suspects with
   the fold heads held to `FIRST_TOL` every round; medians of wall and CPU time, one process,
   one BLAS thread.

The caught share is counted twice: with witnesses that first speak at the last round (fresh
fold heads, from the session's head) and with witnesses kept from round to round from 60 labels
before, as the panel keeps them. It also counts, per run, the labelled images that the head
fitted on every pool label (the ceiling's) gets wrong, and how many of the wrong answers missed
lie on such images; and where the features are the network's own class outputs (odd/even on
`digits`), the wrong answers that agree with the network's own answer: there the frozen
features themselves say the wrong answer, and no witness reading only them can tell.

    python bench/bench_look_again.py [--seeds 3] [--strategies diversity,random] [--timed 15]
                                     [--parts caught,accuracy,cost] [--questions odd,0-4]
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
from tl_active.sessions.session import oracle_session
from tl_active.sessions.suspects import (
    FIRST_TOL,
    NEIGHBOURS,
    find_suspects,
    neighbour_votes,
    session_scores,
    witnesses_for,
)

QUESTIONS = (
    ("mnist-cnn", "digits", Task.binary("odd"), 100),
    ("mnist-cnn-5to9", "embedding", Task.multiclass("0-4"), 200),
)
NOISE, BATCH = 0.1, 4


def noisy_session(features, task, strategy, seed, labels, carried_from=None):
    """A session answered by compare's oracle at 10 % noise up to `labels` labels, the
    whole-pool indices it answered wrongly and, with `carried_from`, the last scores of witnesses
    kept from round to round from that many labels on (as the panel, opened then, keeps them)."""
    session = oracle_session(features, strategy, seed, BATCH, task)
    rng = np.random.default_rng([seed, NOISE_STREAM])
    wrong = set()
    witnesses, scores = None, None
    while len(session.ledger.labelled) < labels:
        picks = session.next_batch()
        answers = session.truth([p.index for p in picks])
        flipped = rng.random(len(answers)) < NOISE
        answers = [
            _wrong(a, session.answer_values, rng) if f else a for a, f in zip(answers, flipped)
        ]
        wrong.update(p.index for p, f in zip(picks, flipped) if f)
        session.submit(answers, simulated=True)
        if carried_from is not None and len(session.ledger.labelled) >= carried_from:
            witnesses = witnesses or witnesses_for(session)
            scores = session_scores(session, witnesses)
    return session, wrong, scores


def ceiling_head(features, task):
    """The head fitted on every pool label (the ceiling's): it knows the truth of the pool."""
    data = features.task_data(task)
    truth = task.truth(features.y_pool[data.pool_index])
    return make_head(task.n_outputs, "converge", not features.simplex).fit(data.pool, truth)


def ceiling_misses(features, task, head) -> set[int]:
    """Whole-pool indices the ceiling's head gets wrong: images whose frozen features say
    another answer than the truth, where no witness can tell a wrong answer from a right one."""
    data = features.task_data(task)
    truth = task.truth(features.y_pool[data.pool_index])
    wrong = head.predict_proba(data.pool).argmax(axis=1) != truth
    return {int(i) for i in data.pool_index[wrong]}


def own_proba(features, task) -> np.ndarray | None:
    """(pool, n_outputs): the frozen network's own probability of each answer to every image of
    the task's pool, where the features are its class outputs (the shipped CNN's `digits`, each
    digit's probability going to its answer); else None."""
    if features.layer != "digits":
        return None
    pool = features.task_data(task).pool
    answer = task.truth(np.arange(pool.shape[1]))
    return np.stack([pool[:, answer == k].sum(axis=1) for k in range(task.n_outputs)], axis=1)


def other_rankings(session, scores, own, ceiling) -> dict[str, np.ndarray]:
    """What else could rank the answers, each as a score (lower is more suspect): the network's
    own probability of the answer given (a second view of the image), that mean with the
    witnesses' score, the neighbours weighted by the inverse of their distance, and the
    ceiling's head (which knew every truth of the pool: a reference, not a method)."""
    positions = np.array(session.ledger.labelled, np.intp)
    x, labels = session.data.pool[positions], session.labels
    rows = np.arange(len(labels))
    distance = np.sqrt(np.maximum(((x[:, None] - x[None]) ** 2).sum(axis=2), 0.0))
    np.fill_diagonal(distance, np.inf)
    nearest = np.argsort(distance, axis=1)[:, :NEIGHBOURS]
    weight = 1.0 / (distance[rows[:, None], nearest] + 1e-9)
    agree = (weight * (labels[nearest] == labels[:, None])).sum(axis=1) / weight.sum(axis=1)
    # The witnesses' score is the mean of cleanlab's quality and the neighbours' share.
    quality = 2.0 * scores.score - share_of(x, labels, session.task.n_outputs)
    found = {
        "neighbours weighted by distance": 0.5 * (quality + agree),
        "the ceiling's head (knows the truth)": ceiling.predict_proba(x)[rows, labels],
    }
    if own is not None:
        given = own[positions, labels]
        found["the network's own p of the answer"] = given
        found["that and the witnesses"] = 0.5 * (given + scores.score)
    return found


def share_of(x, labels, n_outputs) -> np.ndarray:
    """The share of each label's nearest labelled neighbours who gave its answer."""
    k = min(NEIGHBOURS, len(labels) - 1)
    votes = neighbour_votes(x, labels, n_outputs, k)
    return votes[np.arange(len(labels)), labels] / k


def caught(features, task, strategy, seed, labels, hard, own, ceiling) -> dict[str, int]:
    """Of the wrong answers (`wrong`): how many the top 2 x expected suspects hold when the
    witnesses first speak at `labels` (`fresh`, from the session's head) and when they were kept
    from 60 labels before (`carried`); the labelled images the ceiling's head gets wrong
    (`hard`) and the wrong answers missed on them (`missed_hard`); where the features are the
    network's own outputs, the wrong answers that agree with its answer (`agree`: no witness
    reading only the features can doubt them) and the right ones it contradicts (`decoys`); and
    how many the top holds when ranked by each of `other_rankings`."""
    session, wrong, carried = noisy_session(features, task, strategy, seed, labels, labels - 60)
    fresh = session_scores(session)
    top = 2 * round(NOISE * labels)
    ranked = {int(i) for i in session.labelled[fresh.ranking()[:top]]}
    missed = wrong - ranked
    counts = {
        "wrong": len(wrong),
        "top": top,
        "fresh": len(wrong & ranked),
        "carried": len(wrong & {int(i) for i in session.labelled[carried.ranking()[:top]]}),
        "hard": len(hard & {int(i) for i in session.labelled}),
        "missed_hard": len(missed & hard),
    }
    for name, score in other_rankings(session, fresh, own, ceiling).items():
        top_other = session.labelled[np.argsort(score, kind="stable")[:top]]
        counts[name] = len(wrong & {int(i) for i in top_other})
    if own is not None:
        # The network's own answer: that of its most likely class (digit).
        says = task.truth(session.data.pool[np.array(session.ledger.labelled)].argmax(axis=1))
        is_wrong = np.isin(session.labelled, list(wrong))
        counts["agree"] = int((is_wrong & (says == session.labels)).sum())
        counts["decoys"] = int((~is_wrong & (says != session.labels)).sum())
    return counts


def cost(features, task, strategy, timed: int) -> dict[str, list[float]]:
    """Wall and CPU seconds per round, and per suspects' finding (fold heads carried from round
    to round, as the panel keeps them), for `timed` rounds from 200 labels on; beside them, in
    the same rounds, the suspects found with the fold heads held to `FIRST_TOL` every round
    (as every round was before `FOLD_TOL`), for a baseline."""
    session = oracle_session(features, strategy, 0, BATCH, task)
    witnesses = witnesses_for(session)
    tight = witnesses_for(session)
    tight.tol = FIRST_TOL
    times: dict[str, list[float]] = {}

    def timed_call(name, call):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        if len(session.ledger.labelled) > 200:
            times.setdefault(name, []).append(time.perf_counter() - wall)
            times.setdefault(name + " cpu", []).append(time.process_time() - cpu)

    def round_():
        picks = session.next_batch()
        session.submit(session.truth([p.index for p in picks]))
        session.next_batch()

    while len(session.ledger.labelled) < 200 + BATCH * timed:
        timed_call("round", round_)
        timed_call(
            "suspects",
            lambda: find_suspects(session, scores=session_scores(session, witnesses), limit=5),
        )
        timed_call(
            "tight",
            lambda: find_suspects(session, scores=session_scores(session, tight), limit=5),
        )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--strategies", default="diversity,random")
    parser.add_argument("--timed", type=int, default=15, help="rounds timed from 200 labels on")
    parser.add_argument("--parts", default="caught,accuracy,cost", help="what to measure")
    parser.add_argument(
        "--questions", default="odd,0-4", help="which questions: odd (odd/even), 0-4 or both"
    )
    args = parser.parse_args()
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    seeds = list(range(args.seeds))
    parts = set(args.parts.split(","))

    with threadpool_limits(1):
        asked = {q.strip() for q in args.questions.split(",")}
        for backbone, layer, task, labels in QUESTIONS:
            if task.name() not in asked:
                continue
            features = load_features(backbone, layer)
            name = f"{backbone} / {layer}, {task.describe()}, {labels} labels, noise {NOISE:g}"
            print(f"\n{name}")
            ceiling = ceiling_head(features, task) if "caught" in parts else None
            hard = ceiling_misses(features, task, ceiling) if "caught" in parts else set()
            own = own_proba(features, task)
            for strategy in strategies:
                if "caught" in parts:
                    found = [
                        caught(features, task, strategy, seed, labels, hard, own, ceiling)
                        for seed in seeds
                    ]
                    total = sum(f["wrong"] for f in found)

                    def line(key, found=found):
                        return ", ".join(str(f[key]) for f in found)

                    for key, when in (
                        ("fresh", "first found at the last round"),
                        ("carried", "fold heads kept from 60 labels before"),
                    ):
                        each = ", ".join(f"{f[key]}/{f['wrong']}" for f in found)
                        share = sum(f[key] for f in found) / max(1, total)
                        print(
                            f"  {strategy}: wrong answers in the top {found[0]['top']} suspects "
                            f"({when}): {each} (seeds {seeds[0]}-{seeds[-1]}); {share:.0%} of all"
                        )
                    print(
                        f"    labelled images the ceiling's head gets wrong: {line('hard')} of "
                        f"{labels}; wrong answers missed (first found): "
                        + ", ".join(
                            f"{f['wrong'] - f['fresh']} ({f['missed_hard']} on such images)"
                            for f in found
                        )
                    )
                    if own is not None:
                        agree = sum(f["agree"] for f in found)
                        print(
                            f"    wrong answers the network's own answer agrees with: "
                            f"{line('agree')}; right answers it contradicts: {line('decoys')}; "
                            f"so a witness reading only the features finds at most "
                            f"{1 - agree / max(1, total):.0%} of the wrong answers"
                        )
                    others = [
                        k
                        for k in found[0]
                        if k
                        not in (
                            "wrong",
                            "top",
                            "fresh",
                            "carried",
                            "hard",
                            "missed_hard",
                            "agree",
                            "decoys",
                        )
                    ]
                    for name in others:
                        share = sum(f[name] for f in found) / max(1, total)
                        print(f"    ranked by {name}: {line(name)}; {share:.0%}")
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
            times = cost(features, task, strategies[0], args.timed)
            ms = {name: 1000 * statistics.median(values) for name, values in times.items()}
            print(
                f"  cost from 200 labels ({strategies[0]}, {len(times['round'])} rounds), "
                "medians, wall (CPU):"
            )
            print(
                f"    round {ms['round']:.1f} ms ({ms['round cpu']:.1f}); suspects "
                f"{ms['suspects']:.1f} ms ({ms['suspects cpu']:.1f}), "
                f"{ms['suspects'] / ms['round']:.2f} x the round; with the fold heads at "
                f"{FIRST_TOL:g} every round {ms['tight']:.1f} ms ({ms['tight cpu']:.1f})"
            )


if __name__ == "__main__":
    main()
