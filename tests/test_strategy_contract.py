"""The registry's contract, run over every registered strategy and every question it serves.

Each record explains itself (a description for the pages, a reference for the reader) and its
function keeps the promise every strategy makes: the requested number of distinct, free pool
positions, the same picks from the same seed, and a named error when the pool runs out. A
record that would reach a page unexplained cannot be made.
"""

from functools import cache

import numpy as np
import pytest
from synthetic import synthetic_features

from tl_active.core.head import LogisticHead, SoftmaxHead
from tl_active.core.strategies import (
    DEFAULT_STRATEGY,
    REGISTRY,
    PoolView,
    StrategyRecord,
    allowed_strategies,
    get_strategy,
    random_strategy,
)
from tl_active.core.strategies.registry import make_registry
from tl_active.core.task import BINARY, MULTICLASS, Task
from tl_active.errors import PoolExhaustedError

FEATURES = synthetic_features()
TASKS = {BINARY: Task.binary("odd"), MULTICLASS: Task.multiclass("0-4")}
SERVED = [(name, kind) for name, record in REGISTRY.items() for kind in sorted(record.questions)]


@cache
def fitted(kind):
    """A task's pool and a head fitted on 40 of its labels, made once per question."""
    task = TASKS[kind]
    data = FEATURES.task_data(task)
    labelled = np.arange(0, 120, 3)
    labels = data.truth_pool[labelled]
    return data, labelled, labels, new_head(kind)().fit(data.pool[labelled], labels)


def new_head(kind):
    return LogisticHead if kind == BINARY else (lambda: SoftmaxHead(TASKS[kind].n_outputs))


def pool_for(kind, available=None):
    """A task's pool as a session sees it after ten rounds: a head fitted on 40 labels."""
    data, labelled, labels, head = fitted(kind)
    if available is None:
        available = np.ones(len(data.pool), bool)
        available[labelled] = False
        available[1::50] = False  # skipped
    return PoolView(
        proba=head.predict_proba(data.pool),
        features=data.pool,
        available=available,
        labelled=labelled,
        labels=labels,
        round=10,
        clustering=lambda: (data.clusters, data.typicality, data.typical_rank),
        new_head=new_head(kind),
    )


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_strategy_explains_itself(name):
    record = REGISTRY[name]
    assert record.name == name
    assert record.description.strip() and record.reference.strip()
    assert record.questions and record.questions <= {BINARY, MULTICLASS}
    assert get_strategy(name) is record


@pytest.mark.parametrize(("name", "kind"), SERVED)
@pytest.mark.parametrize("n", [1, 12])
def test_every_strategy_picks_n_distinct_free_positions(name, kind, n):
    pool = pool_for(kind)
    picks = REGISTRY[name](pool, n, np.random.default_rng(4))
    indices = [p.index for p in picks]
    assert len(indices) == n
    assert len(set(indices)) == n
    assert all(0 <= i < len(pool.available) for i in indices)
    assert pool.available[indices].all()
    assert not set(indices) & set(pool.labelled.tolist())
    assert all(p.rank >= 1 and np.isfinite(p.score) and p.reason for p in picks)


@pytest.mark.parametrize(("name", "kind"), SERVED)
def test_every_strategy_gives_the_same_picks_from_the_same_seed(name, kind):
    first = REGISTRY[name](pool_for(kind), 6, np.random.default_rng(9))
    again = REGISTRY[name](pool_for(kind), 6, np.random.default_rng(9))
    assert first == again


@pytest.mark.parametrize(("name", "kind"), SERVED)
def test_every_strategy_names_an_exhausted_pool(name, kind):
    available = np.zeros(len(FEATURES.task_data(TASKS[kind]).pool), bool)
    available[[200, 201, 202]] = True
    pool = pool_for(kind, available=available)
    with pytest.raises(PoolExhaustedError, match="only 3 unlabelled images remain"):
        REGISTRY[name](pool, 4, np.random.default_rng(0))
    assert sorted(p.index for p in REGISTRY[name](pool, 3, np.random.default_rng(0))) == [
        200,
        201,
        202,
    ]


def test_allowed_strategies_are_the_served_ones_in_registry_order():
    assert allowed_strategies(TASKS[BINARY]) == list(REGISTRY)
    assert allowed_strategies(TASKS[MULTICLASS]) == [n for n in REGISTRY if n != "band"]
    assert allowed_strategies(MULTICLASS) == allowed_strategies(TASKS[MULTICLASS])
    assert list(REGISTRY)[:3] == ["diversity", "uncertainty", "margin"]  # the pages' order
    assert DEFAULT_STRATEGY in allowed_strategies(BINARY)
    assert DEFAULT_STRATEGY in allowed_strategies(MULTICLASS)


def test_an_unknown_name_lists_every_registered_strategy():
    with pytest.raises(ValueError, match="unknown strategy 'oracle'") as error:
        get_strategy("oracle")
    assert str(error.value).endswith(", ".join(REGISTRY))


@pytest.mark.parametrize("field", ["description", "reference", "name"])
@pytest.mark.parametrize("empty", ["", "  "])
def test_a_strategy_without_a_description_or_reference_cannot_be_registered(field, empty):
    given = {
        "name": "coin",
        "function": random_strategy,
        "description": "a fair coin per image",
        "questions": {BINARY},
        "reference": "a coin",
    }
    with pytest.raises(ValueError, match=f"needs a {field}"):
        StrategyRecord(**{**given, field: empty})


def test_a_record_must_serve_a_known_question_and_run_a_function():
    with pytest.raises(ValueError, match="serves some of binary, multiclass"):
        StrategyRecord("coin", random_strategy, "a coin", frozenset(), "a coin")
    with pytest.raises(ValueError, match="serves some of"):
        StrategyRecord("coin", random_strategy, "a coin", {"regression"}, "a coin")
    with pytest.raises(ValueError, match="not callable"):
        StrategyRecord("coin", "random", "a coin", {BINARY}, "a coin")


def test_a_registry_takes_each_name_once_in_order():
    coin = StrategyRecord("coin", random_strategy, "a coin", {BINARY}, "a coin")
    dice = StrategyRecord("dice", random_strategy, "a die", {BINARY, MULTICLASS}, "a die")
    assert list(make_registry([dice, coin])) == ["dice", "coin"]
    with pytest.raises(ValueError, match="'coin' is registered twice"):
        make_registry([coin, dice, coin])
    with pytest.raises(TypeError, match="strategy records"):
        make_registry([random_strategy])
