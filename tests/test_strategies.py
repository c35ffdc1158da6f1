"""The strategy contract, run over every registered strategy, and each strategy's own promise."""

from dataclasses import replace

import numpy as np
import pytest
from synthetic import synthetic_features

from tl_active.core.head import LogisticHead, SoftmaxHead
from tl_active.core.strategies import (
    COMMITTEE_SIZE,
    REGISTRY,
    PoolView,
    band_strategy,
    diversity_strategy,
    entropy_score,
    get_strategy,
    least_confidence,
    margin_score,
    representative_strategy,
    uncertainty_score,
    uncertainty_strategy,
)
from tl_active.core.strategies.committee import _binary_committee_score
from tl_active.core.strategies.pool import ranked
from tl_active.core.task import Task
from tl_active.errors import ModelError, PoolExhaustedError

FEATURES = synthetic_features()
DATA = FEATURES.task_data(Task.binary("odd"))


def view(p=None, available=None, labelled=(), labels=(), round=0, proba=None, head=None):
    n = FEATURES.pool_size
    p = np.full(n, 0.5) if p is None else p
    return PoolView(
        proba=np.column_stack([1 - p, p]) if proba is None else proba,
        features=FEATURES.pool,
        available=np.ones(n, bool) if available is None else available,
        labelled=np.asarray(labelled, np.intp),
        labels=np.asarray(labels, np.intp),
        round=round,
        clustering=lambda: (DATA.clusters, DATA.typicality, DATA.typical_rank),
        new_head=head or (lambda: LogisticHead()),
    )


def trained_p(seed=1):
    """A plausible head output: p follows parity with noise."""
    rng = np.random.default_rng(seed)
    return np.clip((FEATURES.y_pool % 2) * 0.8 + rng.normal(0.1, 0.2, FEATURES.pool_size), 0, 1)


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("n", [1, 4, 16])
def test_contract_unique_available_explained(name, n):
    available = np.ones(FEATURES.pool_size, bool)
    available[::3] = False  # a third already labelled or skipped
    labelled = np.flatnonzero(~available)[:40]
    labels = FEATURES.y_pool[labelled] % 2
    picks = REGISTRY[name](
        view(trained_p(), available, labelled, labels, round=3), n, np.random.default_rng(7)
    )
    indices = [p.index for p in picks]
    assert len(indices) == n
    assert len(set(indices)) == n
    assert available[indices].all()
    assert all(p.rank >= 1 and np.isfinite(p.score) and p.reason for p in picks)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_contract_seeded_and_reproducible(name):
    first = REGISTRY[name](view(trained_p()), 4, np.random.default_rng(3))
    again = REGISTRY[name](view(trained_p()), 4, np.random.default_rng(3))
    assert first == again


# Strategies that read the pool's geometry: with every p at 0.5 nothing ties for them.
FROM_THE_FEATURES = {"diversity", "typiclust", "probcover", "kcenter", "maxherding", "phased"}


@pytest.mark.parametrize("name", sorted(set(REGISTRY) - FROM_THE_FEATURES))
def test_contract_head_at_zero_ties_broken_by_seed(name):
    a = [p.index for p in REGISTRY[name](view(), 4, np.random.default_rng(1))]
    b = [p.index for p in REGISTRY[name](view(), 4, np.random.default_rng(2))]
    assert a != b  # every p is 0.5: the seed, not the index order, decides


@pytest.mark.parametrize("name", sorted(FROM_THE_FEATURES - {"diversity"}))
def test_geometric_strategies_know_what_to_ask_before_the_head_learns(name):
    a = [p.index for p in REGISTRY[name](view(), 4, np.random.default_rng(1))]
    b = [p.index for p in REGISTRY[name](view(), 4, np.random.default_rng(2))]
    assert a == b  # the features decide, not the seed


def test_diversity_breaks_the_first_ties_by_spreading_over_typical_images():
    picks = diversity_strategy(view(), 10, np.random.default_rng(1))
    clusters = DATA.clusters[[x.index for x in picks]]
    assert len(set(clusters)) == 10  # one image from each cluster
    for x in picks:  # and each is its cluster's most typical image
        members = np.flatnonzero(DATA.clusters == DATA.clusters[x.index])
        assert x.index == members[np.argmax(DATA.typicality[members])]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_contract_exhausted_pool_is_a_named_error(name):
    available = np.zeros(FEATURES.pool_size, bool)
    available[:3] = True
    with pytest.raises(PoolExhaustedError, match="only 3 unlabelled"):
        REGISTRY[name](view(available=available), 4, np.random.default_rng(0))
    picks = REGISTRY[name](view(available=available), 3, np.random.default_rng(0))
    assert sorted(p.index for p in picks) == [0, 1, 2]


def test_uncertainty_picks_closest_to_half_with_ranks():
    p = np.linspace(0, 1, FEATURES.pool_size)
    picks = uncertainty_strategy(view(p), 4, np.random.default_rng(0))
    distances = sorted(np.abs(p - 0.5))[:4]
    assert [abs(p[x.index] - 0.5) for x in picks] == pytest.approx(distances)
    assert [x.rank for x in picks] == [1, 2, 3, 4]
    assert picks[0].score == pytest.approx(uncertainty_score(p[picks[0].index]))


def test_binary_least_confidence_margin_and_entropy_share_one_order():
    p = np.random.default_rng(0).random(500)
    proba = np.column_stack([1 - p, p])
    order = np.argsort(-uncertainty_score(p), kind="stable")
    assert least_confidence(proba) == pytest.approx(uncertainty_score(p))
    for measure in (least_confidence, margin_score, entropy_score):
        assert np.array_equal(order, np.argsort(-measure(proba), kind="stable"))


def test_three_measures_differ_for_three_classes():
    proba = np.array([[0.5, 0.5, 0.0], [0.4, 0.3, 0.3], [0.45, 0.35, 0.2]])
    # least confidence prefers the flattest top; margin the closest top two; entropy the spread.
    assert np.argmax(least_confidence(proba)) == 1
    assert np.argmax(margin_score(proba)) == 0
    assert np.argmax(entropy_score(proba)) == 1
    assert margin_score(proba)[0] == pytest.approx(1.0)
    assert entropy_score(np.full((1, 3), 1 / 3))[0] == pytest.approx(1.0)
    assert least_confidence(np.array([[1.0, 0.0, 0.0]]))[0] == 0.0


@pytest.mark.parametrize("name", ["uncertainty", "margin", "entropy", "diversity", "committee"])
def test_k_class_strategies_pick_from_a_k_class_head(name):
    k = 5
    low = FEATURES.y_pool < k
    labelled = np.flatnonzero(low)[:30]
    labels = FEATURES.y_pool[labelled]
    head = SoftmaxHead(k).fit(FEATURES.pool[labelled], labels)
    available = low.copy()
    available[labelled] = False
    pool = view(
        available=available,
        labelled=labelled,
        labels=labels,
        proba=head.predict_proba(FEATURES.pool),
        head=lambda: SoftmaxHead(k),
    )
    picks = REGISTRY[name](pool, 4, np.random.default_rng(0))
    assert len({x.index for x in picks}) == 4 and available[[x.index for x in picks]].all()


def test_band_needs_a_binary_task():
    proba = np.full((FEATURES.pool_size, 3), 1 / 3)
    with pytest.raises(ValueError, match="binary"):
        band_strategy(view(proba=proba), 4, np.random.default_rng(0))


def test_band_is_the_demos_band():
    p = np.linspace(0, 1, FEATURES.pool_size)
    for round_, (low, high) in {0: (0.0, 1.0), 2: (0.2, 0.8), 4: (0.4, 0.6), 9: (0.4, 0.6)}.items():
        picks = band_strategy(view(p, round=round_), 16, np.random.default_rng(round_))
        assert all(low <= p[x.index] <= high for x in picks)
    # round 0 draws from the whole pool: its picks are spread, not clustered at 0.5
    picks = band_strategy(view(p, round=0), 16, np.random.default_rng(0))
    assert max(abs(p[x.index] - 0.5) for x in picks) > 0.2


def test_band_fills_an_empty_band_and_says_so():
    p = np.where(np.arange(FEATURES.pool_size) < 2, 0.5, 0.99)
    picks = band_strategy(view(p, round=5), 4, np.random.default_rng(0))
    assert {x.index for x in picks[:2]} == {0, 1}
    assert all("band empty" in x.reason for x in picks[2:])


def test_representative_covers_every_cluster_first():
    picks = []
    available = np.ones(FEATURES.pool_size, bool)
    labelled: list[int] = []
    for _ in range(3):
        batch = representative_strategy(
            view(available=available, labelled=labelled, labels=[0] * len(labelled)),
            4,
            np.random.default_rng(len(picks)),
        )
        picks += batch
        for x in batch:
            available[x.index] = False
            labelled.append(x.index)
    covered = DATA.clusters[[x.index for x in picks[:10]]]
    assert sorted(covered) == list(range(10))
    assert all("typical" in x.reason for x in picks[:10])
    assert all("0.5" in x.reason for x in picks[10:])
    # the clusters are the digits here: one labelled image of each
    assert sorted(FEATURES.y_pool[[x.index for x in picks[:10]]]) == list(range(10))


def test_representative_pick_is_the_most_typical():
    picks = representative_strategy(view(), 10, np.random.default_rng(0))
    for x in picks:
        members = np.flatnonzero(DATA.clusters == DATA.clusters[x.index])
        centre = FEATURES.pool[members].mean(axis=0)
        distances = np.linalg.norm(FEATURES.pool[members] - centre, axis=1)
        assert x.index == members[np.argmin(distances)]


def test_diversity_never_repeats_a_cluster_while_others_remain():
    picks = diversity_strategy(view(trained_p()), 10, np.random.default_rng(0))
    assert len(set(DATA.clusters[[x.index for x in picks]])) == 10
    top = uncertainty_strategy(view(trained_p()), 10, np.random.default_rng(0))
    assert len(set(DATA.clusters[[x.index for x in top]])) < 10  # naive top-k repeats


def test_committee_asks_where_the_members_split():
    labelled = np.arange(60)
    labels = FEATURES.y_pool[labelled] % 2
    available = np.ones(FEATURES.pool_size, bool)
    available[labelled] = False
    picks = REGISTRY["committee"](
        view(None, available, labelled, labels), 4, np.random.default_rng(0)
    )
    assert picks[0].score > 0  # some disagreement was found
    assert [x.score for x in picks] == sorted((x.score for x in picks), reverse=True)


def _ranked_by_shuffle(candidates, scores, rng, top):
    """The ranking with every candidate shuffled first: what `ranked` must give."""
    shuffle = rng.permutation(len(candidates))
    shuffled, negated = candidates[shuffle], -scores[shuffle]
    head = np.argpartition(negated, top)[:top]
    return shuffled[head[np.argsort(negated[head], kind="stable")]]


@pytest.mark.parametrize("top", [1, 4, 16])
@pytest.mark.parametrize("ties", ["none", "at the floor", "everywhere"])
def test_ranked_gives_what_the_full_shuffle_gives(top, ties):
    rng = np.random.default_rng(top)
    candidates = np.sort(rng.choice(20_000, 15_000, replace=False))
    scores = rng.random(len(candidates))
    if ties == "at the floor":
        scores = np.round(scores, 3)  # the best few share values with their neighbours
    elif ties == "everywhere":
        scores = np.full(len(candidates), 0.5)  # an untrained head
    for seed in range(3):
        got = ranked(candidates, scores, np.random.default_rng(seed), top)
        want = _ranked_by_shuffle(candidates, scores, np.random.default_rng(seed), top)
        assert got.tolist() == want.tolist()


def test_binary_committee_scores_as_the_k_answer_loop_does():
    labelled = np.arange(60)
    labels = FEATURES.y_pool[labelled] % 2
    available = np.ones(FEATURES.pool_size, bool)
    available[labelled] = False
    pool = view(None, available, labelled, labels)
    candidates = np.flatnonzero(available)
    x = FEATURES.pool[candidates]
    score = _binary_committee_score(pool, candidates, x, np.random.default_rng(3))
    # The loop over K answers, as the strategy runs it for K > 2.
    rng = np.random.default_rng(3)
    votes, mean_p = np.zeros((2, len(candidates))), np.zeros((len(candidates), 2))
    for _ in range(COMMITTEE_SIZE):
        member = pool.new_head()
        sample = rng.integers(0, len(labelled), len(labelled))
        p = member.fit(FEATURES.pool[labelled[sample]], labels[sample]).predict_proba(x)
        mean_p += p / COMMITTEE_SIZE
        vote = np.where(p.max(axis=1) > p.min(axis=1), p.argmax(axis=1), -1)
        for answer in range(2):
            votes[answer] += vote == answer
    want = np.zeros(len(available))
    want[candidates] = 1.0 - votes.max(axis=0) / COMMITTEE_SIZE + 1e-3 * least_confidence(mean_p)
    assert np.array_equal(score, want)
    assert score[candidates].max() > 0


def test_unknown_strategy_names_the_choices():
    with pytest.raises(ValueError, match="diversity, uncertainty, margin"):
        get_strategy("oracle")


@pytest.mark.parametrize("where", ["pool", "test"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_features_with_a_nan_row_never_reach_a_strategy(where, bad):
    """`representative` and `diversity` would rank a NaN distance or score; no such set is made."""
    values = getattr(FEATURES, where).copy()
    values[11] = bad
    with pytest.raises(
        ModelError, match=rf"NaN or infinite outputs for 1 of the [\d,]+ {where} images"
    ):
        replace(FEATURES, **{where: values})
