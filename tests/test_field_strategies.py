"""The strategies of the field, each on a small hand-made pool where its choice is known.

k-center greedy picks the image farthest from the labelled ones; TypiClust the densest image of
each cluster nobody has labelled, larger clusters first; ProbCover the image whose ball covers
the most uncovered images, its radius the largest that keeps 95 % of the balls pure; BADGE
first the longest gradient embedding. What they make from the pool is made once per pool.
"""

import dataclasses

import numpy as np
import pytest
from synthetic import synthetic_features

from tl_active.core.strategies import (
    PoolView,
    badge_strategy,
    get_strategy,
    kcenter_strategy,
    probcover_strategy,
    typiclust_strategy,
)
from tl_active.core.strategies.neighbours import (
    ball_graph,
    distance_to_another_class,
    nearest_neighbours,
    pure_radius,
)
from tl_active.core.strategies.phased import COVERED, settled_share
from tl_active.core.task import Task
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession

FIVE = Task.multiclass("0-4")


def hand_made(points, labelled=(), clusters=None, proba=None, derived=None):
    """A pool of these points; every free one available; an untrained two-answer head."""
    features = np.asarray(points, np.float64).reshape(len(points), -1)
    n = len(features)
    available = np.ones(n, bool)
    available[list(labelled)] = False
    classes = np.zeros(n, np.intp) if clusters is None else np.asarray(clusters, np.intp)
    return PoolView(
        proba=np.full((n, 2), 0.5) if proba is None else np.asarray(proba, np.float64),
        features=features,
        available=available,
        labelled=np.asarray(labelled, np.intp),
        labels=np.zeros(len(labelled), np.intp),
        clustering=lambda: (classes, np.zeros(n), np.zeros(n)),
        derived=derived,
    )


def blobs(sizes, centres, spread=0.3, seed=0):
    rng = np.random.default_rng(seed)
    points = [rng.normal(c, spread, (size, 2)) for size, c in zip(sizes, centres)]
    membership = np.repeat(np.arange(len(sizes)), sizes)
    return np.vstack(points), membership


def densest(points, members):
    """The brute-force most typical of `members`: 1 / mean distance to its 20 nearest of them
    (at most half of them)."""
    inside = points[members]
    distances = np.linalg.norm(inside[:, None] - inside[None, :], axis=2)
    np.fill_diagonal(distances, np.inf)
    typical = 1.0 / np.sort(distances, axis=1)[:, : min(20, len(members) // 2)].mean(axis=1)
    return int(members[np.argmax(typical)])


def test_kcenter_picks_the_farthest_point_from_the_labelled():
    pool = hand_made([0.0, 1.0, 2.0, 10.0, 4.0], labelled=[0])
    picks = kcenter_strategy(pool, 2, np.random.default_rng(0))
    # 10 is farthest from 0; then 4 is 4 from 0 and 6 from 10, farther than 2 or 1.
    assert [p.index for p in picks] == [3, 4]
    assert picks[0].score == pytest.approx(10.0) and picks[1].score == pytest.approx(4.0)
    assert picks[0].rank == 1 and "farthest" in picks[0].reason


def test_kcenter_starts_at_the_pools_centre_with_nothing_labelled():
    pool = hand_made([-5.0, -1.0, 0.2, 1.0, 5.0, 30.0])
    picks = kcenter_strategy(pool, 2, np.random.default_rng(0))
    # The mean is 5.03: 5.0 is nearest it; then 30 is farthest from 5.
    assert [p.index for p in picks] == [4, 5]


def test_typiclust_takes_the_densest_image_of_each_unlabelled_cluster_larger_first():
    points, member = blobs([25, 30, 25], [(0, 0), (20, 0), (0, 20)])
    a, b, c = (np.flatnonzero(member == m) for m in range(3))
    pool = hand_made(points, labelled=[a[3]])
    picks = typiclust_strategy(pool, 2, np.random.default_rng(0))
    # Three clusters (one label + two picks); the labelled one waits; the larger blob first.
    assert [p.index for p in picks] == [densest(points, b), densest(points, c)]
    assert all("most typical of cluster" in p.reason for p in picks)
    assert all("0 labelled" in p.reason for p in picks)


def test_typiclust_first_batch_is_one_typical_image_per_cluster():
    points, member = blobs([20, 20, 20], [(0, 0), (10, 10), (-10, 10)], seed=3)
    picks = typiclust_strategy(hand_made(points), 3, np.random.default_rng(5))
    assert sorted(p.index for p in picks) == sorted(
        densest(points, np.flatnonzero(member == m)) for m in range(3)
    )


def test_probcover_radius_keeps_95_percent_of_the_balls_pure():
    # Two classes on a line (positions 0-9, 20-29, 40-49): the other class 11 to 20 away.
    line = np.r_[np.arange(10), np.arange(20, 30), np.arange(40, 50)].astype(float)[:, None]
    classes = np.r_[np.zeros(10), np.ones(10), np.zeros(10)].astype(np.intp)
    assert distance_to_another_class(line, classes)[[0, 9, 10, 15, 29]] == pytest.approx(
        [20, 11, 11, 15, 20]
    )
    radius = pure_radius(line, classes, 0.95)
    assert radius == pytest.approx(11.0)
    distances = np.abs(line - line.T)
    pure = [(classes[distances[i] < radius] == classes[i]).all() for i in range(len(line))]
    assert np.mean(pure) >= 0.95


def test_probcover_picks_the_image_covering_most_uncovered_images():
    points, member = blobs([30, 12, 20], [(0, 0), (3, 0), (0, 3)], spread=1.0, seed=20)
    pool = hand_made(points, labelled=[int(np.flatnonzero(member == 2)[0])], clusters=member)
    radius = pure_radius(points, member, 0.95)
    within = np.linalg.norm(points[:, None] - points[None, :], axis=2) <= radius
    covered = within[pool.labelled].any(axis=0)
    expected = []
    for _ in range(2):
        gain = (within & ~covered[None, :]).sum(axis=1)
        gain[pool.labelled] = -1
        gain[expected] = -1
        best = int(np.argmax(gain))
        assert (gain == gain[best]).sum() == 1  # the hand-made pool has one answer
        expected.append(best)
        covered |= within[best]
    picks = probcover_strategy(pool, 2, np.random.default_rng(0))
    assert [p.index for p in picks] == expected
    assert "new images" in picks[0].reason


def test_probcover_draws_at_random_once_the_pool_is_covered():
    points, member = blobs([10, 10], [(0, 0), (50, 0)], seed=1)
    pool = hand_made(points, labelled=[0, 10], clusters=member)
    picks = probcover_strategy(pool, 3, np.random.default_rng(0))
    assert all(p.reason == "pool covered: random draw" for p in picks)
    assert len({p.index for p in picks}) == 3


def test_badge_starts_with_the_longest_gradient_and_never_repeats_a_gradient():
    features = np.array([[1.0, 0], [3.0, 0], [3.0, 0], [0, 1.0], [0, 2.0]])
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.6, 0.4], [0.5, 0.5], [0.2, 0.8]])
    pool = hand_made(features, proba=proba)
    # Gradient lengths |p - onehot| |x|: 0.14, 1.70, 1.70, 0.71, 0.57: images 1 and 2 tie.
    for seed in range(6):
        picks = badge_strategy(pool, 2, np.random.default_rng(seed))
        assert picks[0].index in (1, 2) and picks[0].reason == "longest gradient"
        assert {p.index for p in picks} != {1, 2}  # the twin gradient is at distance 0


def test_badge_distances_are_those_of_the_gradient_embeddings():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 3))
    proba = rng.dirichlet(np.ones(3), size=40)
    pool = hand_made(features, proba=proba)
    picks = badge_strategy(pool, 3, np.random.default_rng(1))
    error = proba - np.eye(3)[proba.argmax(axis=1)]
    gradients = (error[:, :, None] * features[:, None, :]).reshape(40, -1)
    nearest = np.linalg.norm(gradients - gradients[picks[0].index], axis=1)
    assert picks[0].index == int(np.argmax(np.linalg.norm(gradients, axis=1)))
    assert picks[1].score == pytest.approx(nearest[picks[1].index])


def test_what_the_strategies_make_from_the_pool_is_made_once():
    points, member = blobs([25, 25], [(0, 0), (10, 0)])
    made = {}

    def derived(name, make):
        if name not in made:
            made[name] = [make(points), 0]
        made[name][1] += 1
        return made[name][0]

    for labelled in ([], [0], [0, 30]):
        pool = hand_made(points, labelled=labelled, clusters=member, derived=derived)
        typiclust_strategy(pool, 2, np.random.default_rng(0))
        probcover_strategy(pool, 2, np.random.default_rng(0))
    assert made["probcover-balls"][1] == 3 and made["typiclust-2"][1] == 1
    assert set(made) == {
        "probcover-radius",
        "probcover-balls",
        *(f"typiclust-{k}" for k in (2, 3, 4)),
        *(f"typiclust-{k}-typicality" for k in (2, 3, 4)),
    }


def test_nearest_neighbours_leave_the_image_itself_out():
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    distances, positions = nearest_neighbours(points, 2)
    assert positions.tolist() == [[1, 2], [0, 2], [1, 0], [2, 1]]
    assert distances[:, 0].tolist() == [1.0, 1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    "name", ["typiclust", "probcover", "kcenter", "badge", "maxherding", "phased"]
)
def test_a_session_runs_the_new_strategies_and_keeps_their_tables_with_the_task(name):
    features = synthetic_features(n_pool=600, n_test=100, layer="embedding")
    session = LabellingSession(
        features,
        SessionSettings(task=FIVE, strategy=name, batch_size=5, seed=1, layer="embedding"),
        charts=False,
    )
    for _ in range(2):
        picks = session.next_batch()
        session.submit(session.truth([p.index for p in picks]), simulated=True)
    assert len(session.ledger.labelled) == 10
    shared = features.task_data(FIVE).shared
    if name in ("typiclust", "probcover", "maxherding", "phased"):
        assert any(key[0] == "derived" for key in shared if isinstance(key, tuple))
    if name == "phased":  # the reason says the phase and the share of the pool settled
        assert all(" settled): " in reason for reason in session.rounds[-1].reasons)
    assert get_strategy(name).reference


def test_large_balls_are_counted_on_a_sample_of_the_pool_within_the_budget():
    points, member = blobs([300, 300], [(0, 0), (10, 0)], spread=1.0)
    radius = pure_radius(points, member, 0.95)
    whole = ball_graph(points, radius)
    sampled = ball_graph(points, radius, budget=whole.nnz // 4)
    assert whole.shape == (600, 600) and sampled.shape[0] == 600
    assert sampled.shape[1] < 600 / 3 and sampled.nnz <= whole.nnz // 3
    # The estimate of each ball's size is close to the real one.
    real = np.asarray(whole.sum(axis=1)).ravel()
    estimate = np.asarray(sampled.sum(axis=1)).ravel() * 600 / sampled.shape[1]
    assert np.median(np.abs(estimate - real) / real) < 0.2


def test_compare_and_the_sweeps_accept_the_new_names():
    from tl_active.experiments.compare import run_comparison
    from tl_active.experiments.sweep import parse_grid

    names = ["typiclust", "probcover", "kcenter", "badge"]
    features = synthetic_features(n_pool=400, n_test=100, layer="embedding")
    curves = run_comparison(features, names, seeds=1, rounds=2, batch=5, task=FIVE, jobs=1)
    assert list(dict.fromkeys(curves["strategy"])) == names
    assert (curves.groupby("strategy")["n_labels"].max() == 10).all()
    assert parse_grid({"strategies": names}).strategies == tuple(names)


def test_maxherding_first_takes_the_centre_of_the_largest_blob_then_the_uncovered_one():
    points, member = blobs([40, 25], [(0, 0), (30, 0)], spread=0.5, seed=4)
    picks = get_strategy("maxherding")(hand_made(points), 2, np.random.default_rng(0))
    # A pick in the larger blob covers more of the pool.
    first, second = (p.index for p in picks)
    assert member[first] == 0 and member[second] == 1
    # The first pick is the image whose Gaussian (gamma 1 / width) sums highest: brute force.
    distances = np.linalg.norm(points[:, None] - points[None, :], axis=2)
    kernel = np.exp(-(distances**2) / 2)
    assert first == int(np.argmax(kernel.sum(axis=0)))
    assert picks[0].score == pytest.approx(kernel.sum(axis=0).max(), rel=1e-5)
    assert picks[0].score > picks[1].score > 0 and "kernel coverage" in picks[0].reason


def test_maxherding_leaves_a_covered_blob_alone():
    points, member = blobs([40, 25], [(0, 0), (30, 0)], spread=0.5, seed=4)
    labelled = [densest(points, np.flatnonzero(member == 0))]
    picks = get_strategy("maxherding")(hand_made(points, labelled), 1, np.random.default_rng(0))
    assert member[picks[0].index] == 1


def test_phased_covers_first_then_asks_where_the_head_hesitates():
    # On a diagonal: on a layer of features the answers spread over neighbours found with each
    # unit scaled (`PoolTeacher.standardised`), which keeps these blobs apart.
    points, member = blobs([30, 30], [(0, 0), (20, 20)], spread=1.0, seed=7)
    proba = np.full((60, 2), 0.5)
    proba[:, 1] = np.linspace(0.99, 0.01, 60)  # the head is least sure of images 29 and 30
    proba[:, 0] = 1 - proba[:, 1]
    view = phased_pool(points, member, proba)
    strategy = get_strategy("phased")
    picks = strategy(view([], []), 2, np.random.default_rng(0))
    # Nothing settled, no cluster answered: each blob's image nearest its mean, and the reason
    # says so.
    typical = {
        int(np.flatnonzero(member == c)[np.argmin(np.linalg.norm(points[member == c] - m, axis=1))])
        for c, m in enumerate([points[member == c].mean(axis=0) for c in (0, 1)])
    }
    assert {p.index for p in picks} == typical
    assert picks[0].reason.startswith("covering (0% settled): the most typical of a cluster")
    # One answer in one blob settles that blob only (half the pool): still covering.
    one = view([0], [0])
    assert strategy(one, 1, np.random.default_rng(0))[0].reason.startswith("covering (50% settled)")
    # An answer in each blob settles the whole pool: the smallest margin comes next.
    picks = strategy(view([0, 59], [0, 1]), 1, np.random.default_rng(0))
    assert picks[0].reason.startswith("margin (switched at 2 labels, 100% settled): unsure")
    assert picks[0].index in (29, 30)


def phased_pool(points, member, proba=None):
    """A view maker over one shared cache, as a session's task lends one; each image's
    typicality is minus its distance to its cluster's mean."""
    cache = {}
    centres = np.array([points[member == c].mean(axis=0) for c in range(member.max() + 1)])
    typicality = -np.linalg.norm(points - centres[member], axis=1)

    def derived(name, make):
        if name not in cache:
            cache[name] = make(points)
        return cache[name]

    def view(labelled, labels, cached=True):
        pool = hand_made(points, labelled, proba=proba, derived=derived if cached else None)
        return dataclasses.replace(
            pool,
            labels=np.asarray(labels, np.intp),
            clustering=lambda: (member, typicality, np.zeros(len(member))),
        )

    return view


def test_phased_stays_switched_when_a_later_answer_unsettles_the_pool():
    points, member = blobs([30, 30], [(0, 0), (20, 20)], spread=1.0, seed=7)
    view = phased_pool(points, member)
    strategy = get_strategy("phased")
    assert strategy(view([0, 59], [0, 1]), 1, np.random.default_rng(0))[0].reason.startswith(
        "margin (switched at 2 labels"
    )
    # A third answer contradicts the first in its blob: that blob is no longer clear, so the
    # labels now settle less than COVERED of the pool ...
    later = view([0, 59, 1], [0, 1, 1])
    assert settled_share(later) < COVERED
    # ... but the switch, made at 2 labels, stays made.
    picks = strategy(later, 2, np.random.default_rng(0))
    assert all(p.reason.startswith("margin (switched at 2 labels, 100% settled)") for p in picks)
    # Derived from the labels alone: a fresh cache (a replay, a reopened session) agrees.
    fresh = strategy(view([0, 59, 1], [0, 1, 1], cached=False), 2, np.random.default_rng(0))
    assert fresh == picks
    # The order of the answers is the history: the contradicting answer first, no switch yet.
    assert strategy(view([0, 1], [0, 1]), 1, np.random.default_rng(0))[0].reason.startswith(
        "covering"
    )


def test_phased_asks_a_cluster_nobody_answered_before_more_of_an_answered_one():
    # A large wide cloud, answered once, and a smaller one far off that nobody answered.
    points, member = blobs([400, 80], [(0, 0), (60, 0)], spread=3.0, seed=5)
    view = phased_pool(points, member)
    labelled = [densest(points, np.flatnonzero(member == 0))]
    pool = view(labelled, [0])
    assert settled_share(pool) < COVERED  # the far cloud is not settled: still covering
    # MaxHerding alone asks more of the large cloud: there a pick adds more coverage ...
    herding = get_strategy("maxherding")(pool, 1, np.random.default_rng(0))[0]
    assert member[herding.index] == 0
    # ... phased first asks the cloud nobody answered, its image nearest the cloud's mean.
    picks = get_strategy("phased")(pool, 2, np.random.default_rng(0))
    far = np.flatnonzero(member == 1)
    centre = points[far].mean(axis=0)
    assert picks[0].index == far[np.argmin(np.linalg.norm(points[far] - centre, axis=1))]
    assert picks[0].reason.startswith("covering (83% settled): the most typical of a cluster")
    # With every cluster asked once, the next pick is MaxHerding's again.
    assert member[picks[1].index] == 0 and "nobody" not in picks[1].reason


def test_the_sweeps_and_the_command_line_take_the_new_names():
    import argparse

    from tl_active.cli import compare as compare_command
    from tl_active.experiments.compare import check_settings
    from tl_active.experiments.sweep.grid import grid_cells, parse_grid

    grid = parse_grid({"strategies": ["maxherding", "phased"], "classes": ["0-4"], "seeds": 1})
    assert [cell.strategy for cell in grid_cells(grid, "mnist-cnn", "digits")] == [
        "maxherding",
        "phased",
    ]
    check_settings(["maxherding", "phased"], [0], 2, 5, 0.0, FIVE)
    parser = argparse.ArgumentParser()
    compare_command.add_arguments(parser)
    assert (
        parser.parse_args(["--strategies", "phased,maxherding"]).strategies == "phased,maxherding"
    )


def test_phased_counts_a_cluster_nobody_answered_as_unsettled():
    # Three clouds close enough that answers spread from one into the next; answers in two.
    # (On a diagonal, so that scaling each unit, as the spreading's neighbour search does,
    # keeps their distances alike.)
    points, member = blobs([40, 40, 40], [(0, 0), (2, 2), (4, 4)], spread=0.6, seed=3)
    labelled, labels = [0, 45], [0, 1]

    def view(clusters):
        pool = hand_made(points, labelled, clusters=clusters)
        return dataclasses.replace(pool, labels=np.asarray(labels, np.intp))

    # Without clusters every clear spread answer counts, the leak into the third cloud too.
    leaked = settled_share(dataclasses.replace(view(member), clustering=None))
    settled = settled_share(view(member))
    assert leaked > 0.8
    # With them, the third cloud is not settled: at most the two answered clouds' share.
    assert 0.5 < settled <= 2 / 3
    assert settled < leaked - 0.2


def test_coverage_gains_are_numpys_sums_to_the_last_bit():
    from tl_active.core.strategies.herding import coverage_gains, gaussian_kernel

    rng = np.random.default_rng(5)
    points = rng.normal(size=(300, 6))
    kernel = gaussian_kernel(points, points, 1 / 6)
    for covered in (
        np.zeros(300, np.float32),  # nothing labelled yet
        kernel[:, [3, 70, 200]].max(axis=1),  # three images picked
        np.ones(300, np.float32),  # all covered: every gain is 0
    ):
        expected = np.maximum(kernel - covered[:, None], 0.0).sum(axis=0)
        got = coverage_gains(kernel, covered)
        assert got.dtype == np.float32 and np.array_equal(got, expected)
    assert not coverage_gains(kernel, np.ones(300, np.float32)).any()
    with pytest.raises(ValueError, match="covered has"):
        coverage_gains(kernel, np.zeros(299, np.float32))


def test_sessions_sharing_a_pool_each_spread_only_their_new_answers(monkeypatch):
    from tl_active.core.pool_teacher import POOL_RULES, teacher_for
    from tl_active.core.strategies import phased

    # Three far blobs, so three answers in one blob settle a third of the pool at most: no
    # prefix reaches COVERED and every round looks at every prefix.
    points, member = blobs([30, 30, 30], [(0, 0), (30, 30), (60, 60)], spread=1.0, seed=3)
    view = phased_pool(points, member)
    spreads = []
    real = phased.spread
    monkeypatch.setattr(phased, "spread", lambda *a: spreads.append(1) or real(*a))
    teacher = teacher_for(POOL_RULES, simplex=False)
    shares = phased.PrefixShares()
    first = ([0, 1, 2, 3], [0, 0, 0, 0])  # one person's answers, in order
    second = ([10, 11, 12, 13], [0, 0, 0, 0])  # another's, on the same pool
    for batch in range(1, 4):
        for labelled, labels in (first, second):
            spreads.clear()
            shares.first_covered(view(labelled[: 2 * batch], labels[: 2 * batch]), teacher)
            # Each round spreads the two new answers alone (in one pass of the graph, a column
            # each), however the rounds interleave.
            assert len(spreads) == 1
        first = (first[0] + [20 + batch, 21 + batch], first[1] + [0, 0])
        second = (second[0] + [14 + batch, 17 + batch], second[1] + [0, 0])
    # The shares are those of a fresh computation over each whole prefix.
    fresh = phased.PrefixShares()
    labelled, labels = first[0][:6], first[1][:6]
    assert fresh.first_covered(view(labelled, labels), teacher) == shares.first_covered(
        view(labelled, labels), teacher
    )


def test_prefix_shares_travel_to_compare_workers_without_their_lock_and_masses():
    import pickle

    from tl_active.core.pool_teacher import POOL_RULES, teacher_for
    from tl_active.core.strategies import phased

    points, member = blobs([30, 30], [(0, 0), (20, 20)], spread=1.0, seed=7)
    view = phased_pool(points, member)
    shares = phased.PrefixShares()
    teacher = teacher_for(POOL_RULES, simplex=False)
    found = shares.first_covered(view([0, 1, 59], [0, 0, 1]), teacher)
    copy = pickle.loads(pickle.dumps(shares))
    assert copy.shares == shares.shares and len(copy.masses) == 0
    assert copy.first_covered(view([0, 1, 59], [0, 0, 1]), teacher) == found


def test_once_switched_phased_spreads_no_more_answers(monkeypatch):
    from tl_active.core.pool_teacher import POOL_RULES, teacher_for
    from tl_active.core.strategies import phased

    points, member = blobs([30, 30], [(0, 0), (20, 20)], spread=1.0, seed=7)
    view = phased_pool(points, member)
    spreads = []
    real = phased.spread
    monkeypatch.setattr(phased, "spread", lambda *a: spreads.append(1) or real(*a))
    shares = phased.PrefixShares()
    teacher = teacher_for(POOL_RULES, simplex=False)
    # An answer in each blob settles the pool: the switch is at 2 labels.
    assert shares.first_covered(view([0, 59], [0, 1]), teacher)[0] == 2
    spreads.clear()
    # Later rounds read the switch from the kept shares and spread none of their answers.
    for more in ([1, 2], [1, 2, 30, 31], [1, 2, 30, 31, 3, 4]):
        labelled = [0, 59, *more]
        labels = [0, 1, *(0 if i < 30 else 1 for i in more)]
        assert shares.first_covered(view(labelled, labels), teacher)[0] == 2
    assert spreads == []
