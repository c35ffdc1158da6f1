"""`make bench` (`python -m tl_active bench`): how long a labelling round takes, against the demo's
way, in the same run.

A round here is what happens between a person's submit and the next batch on screen: store the
answers, retrain the head on all labels so far, rescore the 60,000-image pool, pick the next
batch. The demo's way re-predicted the whole pool through the CNN every round; a second baseline
is calling Keras' `model.fit` on the head afresh each round. Timings on a shared 2-core machine
are noisy, so the figures are medians (and p95) of repeated rounds, and the claim is the ratio
measured in the same run, never an absolute time in a test.

Two configurations are timed: the demo's (the shipped CNN's 10 softmax outputs, a logistic head,
odd/even over the 60,000-image pool) and a K-class one (the 5-9 CNN's 128-wide embedding, a
softmax head over digits 0-4, about 30,000 pool images). In each, `diversity`'s round is timed
with the pool-taught head too (`core/pool_teacher.py`: spreading the answers over the pool's
neighbour graph before the fit), beside the plain head's, and that round's parts on their own:
the spreading, choosing the pseudo-labels, and the fit on them and the answers. On the
embedding, a layer of features, the default is `phased` with the pool-taught head
(`records.layer_default`), and its round is timed as well.

The stopping signals (`core/stopping.py`) are timed on their own too: what the session adds to a
round to compute them on the whole pool (target: under 2 ms on the 60,000 images), against
scikit-learn's `cohen_kappa_score` of the same two predictions as a baseline in the same run.

It also measures how fast an image folder becomes features (images per second, PNG files to
the cache) for the shipped CNN and a MobileNetV2-size network at 96 x 96 (`image_throughput.py`).

It also answers which head training mode learns faster: test accuracy after 12, 20 and 40
oracle labels, mean over seeds, for the demo's Adam steps and the default fit to convergence.

The command's options (`--rounds`, `--demo-repeats`, `--seeds`, `--no-images`) are declared in
`tl_active/cli/bench.py`, which loads this file from the checkout and calls `main`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tl_active.core.pool_teacher import one_blas_thread, pseudo_labels, spread
from tl_active.core.stopping import predicted_answers
from tl_active.core.strategies import DEFAULT_STRATEGY, allowed_strategies
from tl_active.core.task import Task
from tl_active.data.backbones import DIGITS_LAYER, EMBEDDING_LAYER, SHIPPED
from tl_active.data.features import FeatureSet, load_features
from tl_active.paths import MNIST_PATH, MODEL_PATH
from tl_active.sessions.records import (  # noqa: E402
    PLAIN_HEAD,
    POOL_HEAD,
    SessionSettings,
    layer_default,
)
from tl_active.sessions.session import LabellingSession

K_CLASS_BACKBONE, K_CLASS_TASK, K_CLASS_BATCH = "mnist-cnn-5to9", Task.multiclass("0-4"), 5


def time_rounds(
    features: FeatureSet,
    strategy: str,
    rounds: int,
    seed: int = 0,
    task: Task | str = "odd",
    batch: int = 4,
    head: str = PLAIN_HEAD,
) -> np.ndarray:
    """Seconds per round: submit a batch, retrain, rescore the pool, choose the next batch.

    With the pool-taught head (`head`), the retraining spreads the answers over the pool's
    neighbour graph first; the graph itself is made (or read from the cache) before timing.
    """
    settings = SessionSettings(
        task=task, strategy=strategy, seed=seed, batch_size=batch, layer=features.layer, head=head
    )
    session = LabellingSession(features, settings)
    session.next_batch()
    session.training_set(np.zeros(0, np.intp), np.zeros(0, np.intp))  # the graph, untimed
    seconds = []
    for _ in range(rounds):
        answers = session.truth([p.index for p in session.pending])
        started = time.perf_counter()
        session.submit(answers)
        session.next_batch()
        seconds.append(time.perf_counter() - started)
    return np.array(seconds)


def time_pool_parts(
    features: FeatureSet, rounds: int, task: Task | str = "odd", batch: int = 4
) -> dict[str, np.ndarray]:
    """Seconds per round of the pool-taught head's own parts, on a session of the default
    strategy answered by the oracle: after each round, its spreading, choosing the
    pseudo-labels from the spread mass (`pseudo_labels`), and the fit on them and the answers
    (from the head before the round, as the round fits it), each timed on that round's
    answers."""
    settings = SessionSettings(
        task=task, strategy=DEFAULT_STRATEGY, batch_size=batch, layer=features.layer, head=POOL_HEAD
    )
    session = LabellingSession(features, settings)
    session.training_set(np.zeros(0, np.intp), np.zeros(0, np.intp))  # the graph, untimed
    operator = session.data.derived(session.teacher.operator_name, None)
    n_outputs, teacher = session.task.n_outputs, session.teacher
    cap = teacher.per_answer_for(session.data.pool.shape[1], n_outputs)
    parts = {"spreading": [], "choosing": [], "fit": [], "rows": []}
    for _ in range(rounds):
        before = session.head.state_.copy()
        session.answer_by_truth()
        positions = np.array(session.ledger.labelled, np.intp)
        labels = np.asarray(session.labels, np.intp)
        started = time.perf_counter()
        mass = spread(operator, positions, labels, n_outputs, teacher)
        parts["spreading"].append(time.perf_counter() - started)
        started = time.perf_counter()
        pseudo_labels(operator, positions, labels, n_outputs, teacher, mass=mass, per_answer=cap)
        parts["choosing"].append(time.perf_counter() - started)
        x, y, weights, _ = session.training_set(positions, labels)
        head = session.fresh_head()
        head.state_ = before
        started = time.perf_counter()
        with one_blas_thread():
            head.fit(x, y, weights)
        parts["fit"].append(time.perf_counter() - started)
        parts["rows"].append(len(y))
    return {name: np.array(values) for name, values in parts.items()}


def _print_pool_parts(features: FeatureSet, rounds: int, **settings) -> None:
    parts = time_pool_parts(features, rounds, **settings)
    fit = f"          the fit on one BLAS thread ({np.median(parts['rows']):,.0f} rows)"
    print(
        f"  {'  of which: spreading the answers':50s} {_ms(parts['spreading'])}\n"
        f"  {'            choosing the pseudo-labels':50s} {_ms(parts['choosing'])}\n"
        f"  {'  ' + fit:50s} {_ms(parts['fit'])}"
    )


def time_signals(
    features: FeatureSet, rounds: int, task: Task | str = "odd", batch: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Seconds per round for the stopping signals, and for scikit-learn's kappa alone.

    The first is exactly what the session adds to a round: the predicted answer of every pool
    image after the refit (`predicted_answers`, kept for the next round) and every signal
    (`_fill_stopping`), on a session answered by the oracle with the default strategy.
    """
    from sklearn.metrics import cohen_kappa_score

    settings = SessionSettings(task=task, batch_size=batch, layer=features.layer)
    session = LabellingSession(features, settings)
    ours, sklearn = [], []
    for _ in range(rounds):
        previous = predicted_answers(session.proba_pool)
        record = session.answer_by_truth()
        started = time.perf_counter()
        current = predicted_answers(session.proba_pool)
        session._fill_stopping(record, previous, float(record.stopping["prior_right"]))
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        cohen_kappa_score(previous, current)
        sklearn.append(time.perf_counter() - started)
    return np.array(ours), np.array(sklearn)


def time_demo_rounds(features: FeatureSet, repeats: int) -> np.ndarray:
    """Seconds per round the demo's way: every round, predict the whole pool through the CNN."""
    from tl_active.data.mnist import load_mnist
    from tl_active.data.network import load_shared_network

    network = load_shared_network(MODEL_PATH)
    images = load_mnist(MNIST_PATH).x_pool[..., None]
    session = LabellingSession(features, SessionSettings(strategy="band", head_mode="demo"))
    network.predict(images[:256], verbose=0)  # warm up the graph, as a fair start
    seconds = []
    for _ in range(repeats):
        answers = session.truth([p.index for p in session.next_batch()])
        started = time.perf_counter()
        session.submit(answers)
        probs = network.predict(images, batch_size=128, verbose=0)  # the whole pool, again
        session.head.predict_proba(probs)
        session.next_batch()
        seconds.append(time.perf_counter() - started)
    return np.array(seconds)


def time_keras_fit(features: FeatureSet, repeats: int) -> np.ndarray:
    """Seconds for one `model.fit` call on a fresh Keras head, the cost each round must avoid."""
    from tl_active.core.head import build_keras_head

    x = features.pool[:40]
    y = (features.y_pool[:40] % 2).astype(np.float32)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        model = build_keras_head(np.zeros((1, features.width)), np.zeros(1))
        model.compile(optimizer="adam", loss="binary_crossentropy")
        model.fit(x, y, epochs=1, verbose=0)
        seconds.append(time.perf_counter() - started)
    return np.array(seconds)


def learning_speed(features: FeatureSet, seeds: int) -> dict[tuple[str, str], list[float]]:
    """Mean test accuracy at 12, 20 and 40 oracle labels, per (strategy, head mode)."""
    results = {}
    for strategy in ("diversity", "uncertainty", "representative", "random"):
        for mode in ("demo", "converge"):
            at = {12: [], 20: [], 40: []}
            for seed in range(seeds):
                session = LabellingSession(
                    features, SessionSettings(strategy=strategy, head_mode=mode, seed=seed)
                )
                for record in session.auto_label(10):
                    if record.n_labels in at:
                        at[record.n_labels].append(record.metrics["accuracy"])
            results[(strategy, mode)] = [float(np.mean(v)) for v in at.values()]
    return results


def _ms(values: np.ndarray) -> str:
    return f"{1000 * np.median(values):8.1f} {1000 * np.percentile(values, 95):8.1f}"


def _time_strategies(
    features: FeatureSet, rounds: int, **settings
) -> tuple[dict[str, np.ndarray], tuple[str, np.ndarray]]:
    """Every strategy's round with the plain head, then `diversity`'s with the pool-taught
    one, and the layer's default (`records.layer_default`) where it is pool-taught; with the
    default's name and rounds."""
    ours = {}
    for strategy in allowed_strategies(settings.get("task", Task.binary("odd"))):
        ours[strategy] = time_rounds(features, strategy, rounds, **settings)
        print(f"  {strategy:50s} {_ms(ours[strategy])}")
    pool = time_rounds(features, DEFAULT_STRATEGY, rounds, head=POOL_HEAD, **settings)
    print(f"  {DEFAULT_STRATEGY + ' + the pool-taught head':50s} {_ms(pool)}")
    strategy, head = layer_default(features.simplex)
    if head == PLAIN_HEAD:
        return ours, (f"{strategy}, plain", ours[strategy])
    if strategy == DEFAULT_STRATEGY:
        return ours, (f"{strategy}, pool-taught", pool)
    default = time_rounds(features, strategy, rounds, head=head, **settings)
    print(f"  {strategy + ' + the pool-taught head (the default here)':50s} {_ms(default)}")
    return ours, (f"{strategy}, pool-taught", default)


def main(args: argparse.Namespace) -> None:
    features = load_features("mnist-cnn", DIGITS_LAYER, args.data, args.cache)
    print(
        f"mnist-cnn / digits ({features.width} inputs), odd/even, pool "
        f"{features.pool_size:,} images; {args.rounds} rounds per strategy, batch 4\n"
    )
    print(
        f"{'one round (submit, retrain, rescore, next batch)':52s} {'median ms':>8s} {'p95 ms':>8s}"
    )
    ours, _ = _time_strategies(features, args.rounds)
    _print_pool_parts(features, args.rounds)
    fit = time_keras_fit(features, max(3, args.demo_repeats))
    print(f"  {'baseline: Keras model.fit on a fresh head':50s} {_ms(fit)}")
    demo = time_demo_rounds(features, args.demo_repeats)
    print(f"  {'baseline: the demo (re-predict the pool by CNN)':50s} {_ms(demo)}")
    default = ours["diversity"]
    print(
        f"\ndefault (diversity) round: median {1000 * np.median(default):.1f} ms; "
        f"{np.median(demo) / np.median(default):,.0f} x faster than the demo's way, "
        f"{np.median(fit) / np.median(default):,.0f} x faster than one model.fit"
    )
    slowest = max(ours, key=lambda s: np.median(ours[s]))
    print(
        f"slowest strategy ({slowest}): median {1000 * np.median(ours[slowest]):.1f} ms, "
        f"{np.median(demo) / np.median(ours[slowest]):,.0f} x faster than the demo's way"
    )

    signals, sklearn = time_signals(features, args.rounds)
    print(
        f"\nstopping signals per round on the {features.pool_size:,}-image pool (target < 2 ms): "
        f"median {1000 * np.median(signals):.2f} ms, p95 {1000 * np.percentile(signals, 95):.2f} "
        f"ms; {100 * np.median(signals) / np.median(default):.0f} % of a default round; "
        f"scikit-learn's cohen_kappa_score alone {1000 * np.median(sklearn):.2f} ms "
        f"({np.median(sklearn) / np.median(signals):.1f} x the signals)"
    )

    k_features = load_features(SHIPPED[K_CLASS_BACKBONE], EMBEDDING_LAYER, args.data, args.cache)
    size = k_features.task_data(K_CLASS_TASK).size
    print(
        f"\n{K_CLASS_BACKBONE} / {EMBEDDING_LAYER} ({k_features.width} inputs), softmax head over "
        f"classes {K_CLASS_TASK.name()}, pool {size:,} images, batch {K_CLASS_BATCH}"
    )
    k_ours, (k_name, k_default) = _time_strategies(
        k_features, args.rounds, task=K_CLASS_TASK, batch=K_CLASS_BATCH
    )
    _print_pool_parts(k_features, args.rounds, task=K_CLASS_TASK, batch=K_CLASS_BATCH)
    print(
        f"the layer's default ({k_name}) round: median {1000 * np.median(k_default):.1f} ms "
        f"(target 100); diversity, plain: {1000 * np.median(k_ours['diversity']):.1f} ms; "
        f"slowest with the plain head ({max(k_ours, key=lambda s: np.median(k_ours[s]))}): "
        f"{1000 * max(np.median(v) for v in k_ours.values()):.1f} ms"
    )
    k_signals, k_sklearn = time_signals(k_features, args.rounds, K_CLASS_TASK, K_CLASS_BATCH)
    print(
        f"stopping signals per round on the {size:,}-image pool: median "
        f"{1000 * np.median(k_signals):.2f} ms, p95 {1000 * np.percentile(k_signals, 95):.2f} ms; "
        f"scikit-learn's cohen_kappa_score alone {1000 * np.median(k_sklearn):.2f} ms"
    )

    if not args.no_images:
        from image_throughput import throughput

        print("\nimage folder to features (scan, decode, network, cache), median of 3 runs")
        for name, rate in throughput().items():
            print(f"  {name:50s} {rate:8,.0f} images/s")

    print(f"\nhead training mode: mean test accuracy over {args.seeds} seeds (oracle labels)")
    print(f"  {'strategy':16s} {'mode':9s} {'12 labels':>9s} {'20 labels':>9s} {'40 labels':>9s}")
    for (strategy, mode), accuracies in learning_speed(features, args.seeds).items():
        print(f"  {strategy:16s} {mode:9s} " + " ".join(f"{a:9.2%}" for a in accuracies))
