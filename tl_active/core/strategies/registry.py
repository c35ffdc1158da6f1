"""Every query strategy, one record each, in the order the pages list them.

A record is all there is to know about a strategy: its name, its function, the line the pages
show for it, which questions it can ask (binary, multi-class) and the paper or source it
follows. A record without a description or a reference is refused when it is made, so no
strategy reaches a page unexplained. `allowed_strategies(task)` is the one answer to "which
strategies may this question use"; `get_strategy(name)` is the one place an unknown name is
refused.

Adding a strategy: its function in its family's module, and one record here.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from tl_active.core.strategies.badge import badge_strategy
from tl_active.core.strategies.baseline import band_strategy, random_strategy
from tl_active.core.strategies.committee import COMMITTEE_SIZE, committee_strategy
from tl_active.core.strategies.coverage import diversity_strategy, representative_strategy
from tl_active.core.strategies.herding import maxherding_strategy
from tl_active.core.strategies.kcenter import kcenter_strategy
from tl_active.core.strategies.phased import COVERED, phased_ahead, phased_strategy
from tl_active.core.strategies.pool import Pick, PoolView, Strategy
from tl_active.core.strategies.typicality import probcover_strategy, typiclust_strategy
from tl_active.core.strategies.uncertainty import (
    entropy_strategy,
    margin_strategy,
    uncertainty_strategy,
)
from tl_active.core.task import BINARY, MULTICLASS, Task

BOTH = frozenset({BINARY, MULTICLASS})


@dataclass(frozen=True)
class StrategyRecord:
    """One query strategy: what it is called, what it runs, what it is for and where it is from.

    A record is itself the strategy: calling it runs `function`. `ahead`, where a strategy
    has one, works out the next batch from the answers alone, without the head, while the
    session refits the head on those answers (`LabellingSession.submit`): the batch itself,
    or None where it needs the head after all. Either way it gives the very picks `function`
    would, given the same pool, answers and generator.
    """

    name: str
    function: Strategy
    description: str  # one line for the pages' help
    questions: frozenset[str]  # the task kinds it can ask about: binary, multiclass
    reference: str  # the paper or source it follows
    ahead: Callable[[PoolView, int, np.random.Generator], list[Pick] | None] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "questions", frozenset(self.questions))
        for field in ("name", "description", "reference"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"strategy {reprlib.repr(self.name)} needs a {field}")
        if not callable(self.function):
            raise ValueError(f"strategy {reprlib.repr(self.name)}: its function is not callable")
        if self.ahead is not None and not callable(self.ahead):
            raise ValueError(f"strategy {reprlib.repr(self.name)}: its ahead is not callable")
        if not self.questions or not self.questions <= BOTH:
            raise ValueError(
                f"strategy {reprlib.repr(self.name)} serves some of {', '.join(sorted(BOTH))}, "
                f"not {sorted(self.questions)}"
            )

    def __call__(self, pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
        return self.function(pool, n, rng)

    def serves(self, question: Task | str) -> bool:
        """Whether it can ask about this task (or this kind of task: 'binary', 'multiclass')."""
        return (question.kind if isinstance(question, Task) else question) in self.questions


def make_registry(records: Iterable[StrategyRecord]) -> Mapping[str, StrategyRecord]:
    """A read-only registry of the records by name, in the order given; a name may appear once."""
    by_name: dict[str, StrategyRecord] = {}
    for record in records:
        if not isinstance(record, StrategyRecord):
            raise TypeError(f"a registry holds strategy records, not {type(record).__name__}")
        if record.name in by_name:
            raise ValueError(f"strategy {reprlib.repr(record.name)} is registered twice")
        by_name[record.name] = record
    return MappingProxyType(by_name)


REGISTRY = make_registry(
    [
        StrategyRecord(
            "diversity",
            diversity_strategy,
            "smallest margin first, spread over clusters of the features (the default on class "
            "probabilities)",
            BOTH,
            "after Cluster-Margin: Citovsky et al., Batch Active Learning at Scale, NeurIPS 2021"
            " (the least sure image of each cluster in turn)",
        ),
        StrategyRecord(
            "uncertainty",
            uncertainty_strategy,
            "least confident (1 - max p; p closest to 0.5 for a binary task)",
            BOTH,
            "Lewis and Gale, A Sequential Algorithm for Training Text Classifiers, SIGIR 1994",
        ),
        StrategyRecord(
            "margin",
            margin_strategy,
            "smallest gap between the two most likely answers (= uncertainty when binary)",
            BOTH,
            "Scheffer, Decomain and Wrobel, Active Hidden Markov Models for Information "
            "Extraction, IDA 2001",
        ),
        StrategyRecord(
            "entropy",
            entropy_strategy,
            "highest entropy of the answer probabilities (= uncertainty's order when binary)",
            BOTH,
            "Settles, Active Learning Literature Survey, University of Wisconsin-Madison "
            "CS Technical Report 1648, 2009, section 3.1",
        ),
        StrategyRecord(
            "representative",
            representative_strategy,
            "the most typical image of each unlabelled cluster first, then uncertainty",
            BOTH,
            "after TypiClust: Hacohen, Dekel and Weinshall, Active Learning on a Budget: "
            "Opposite Strategies Suit High and Low Budgets, ICML 2022 (typical: nearest the "
            "cluster's centre)",
        ),
        StrategyRecord(
            "typiclust",
            typiclust_strategy,
            "the densest image of each k-means cluster with the fewest labels (as many clusters"
            " as labels)",
            BOTH,
            "TypiClust: Hacohen, Dekel and Weinshall, Active Learning on a Budget: Opposite "
            "Strategies Suit High and Low Budgets, ICML 2022",
        ),
        StrategyRecord(
            "probcover",
            probcover_strategy,
            "the image whose ball covers the most uncovered images; radius from the features"
            " (95 % pure against k-means classes)",
            BOTH,
            "ProbCover: Yehuda, Dekel, Hacohen and Weinshall, Active Learning Through a "
            "Covering Lens, NeurIPS 2022",
        ),
        StrategyRecord(
            "maxherding",
            maxherding_strategy,
            "the image that adds the most kernel coverage of the pool (a Gaussian, gamma 1 /"
            " width, on a seeded slice of 4,000 images)",
            BOTH,
            "MaxHerding: Bae, Noh and Sutherland, Generalized Coverage for More Robust "
            "Low-Budget Active Learning, ECCV 2024",
        ),
        StrategyRecord(
            "phased",
            phased_strategy,
            "MaxHerding, each unanswered cluster's most typical image first, until the labels "
            f"settle {COVERED:.0%} of the pool (answers spread over its neighbour graph), then "
            "the smallest margins over clusters",
            BOTH,
            "switching on coverage as DCoM (Mishal and Weinshall, Active Learning for All "
            "Learners, 2024) and TCM (Doucet, "
            "Estermann, Aczel and Wattenhofer, Bridging Diversity and Uncertainty in Active "
            "Learning with Self-Supervised Pre-Training, 2024) do; phases as Hacohen et al., "
            "ICML 2022",
            ahead=phased_ahead,
        ),
        StrategyRecord(
            "kcenter",
            kcenter_strategy,
            "k-center greedy (coreset): the image farthest from everything labelled",
            BOTH,
            "Sener and Savarese, Active Learning for Convolutional Neural Networks: A Core-Set "
            "Approach, ICLR 2018",
        ),
        StrategyRecord(
            "badge",
            badge_strategy,
            "k-means++ over the head's gradient embeddings: unsure and unlike one another",
            BOTH,
            "BADGE: Ash, Zhang, Krishnamurthy, Langford and Agarwal, Deep Batch Active "
            "Learning by Diverse, Uncertain Gradient Lower Bounds, ICLR 2020",
        ),
        StrategyRecord(
            "committee",
            committee_strategy,
            f"largest vote split of {COMMITTEE_SIZE} heads trained on bootstrap resamples",
            BOTH,
            "Seung, Opper and Sompolinsky, Query by Committee, COLT 1992; members from "
            "bootstrap resamples as in Abe and Mamitsuka, Query Learning Strategies Using "
            "Boosting and Bagging, ICML 1998",
        ),
        StrategyRecord(
            "band",
            band_strategy,
            "the demo's scheme: random inside a band around 0.5 that narrows each round",
            frozenset({BINARY}),
            "the odd-number demo whose network and question the app starts from: its own scheme",
        ),
        StrategyRecord(
            "random",
            random_strategy,
            "uniform draw from the pool (the baseline)",
            BOTH,
            "passive learning, the baseline active learning is measured against (Settles, "
            "Active Learning Literature Survey, 2009)",
        ),
    ]
)
# The default strategies. The default follows the layer the head reads (with the head,
# `sessions.records.layer_default`): on class probabilities, such as the demo's softmax
# outputs, `diversity`, which reaches the frozen head's ceiling in a dozen labels there; on a
# layer of features, `phased`, with the pool-taught head (docs/compare-and-sweeps.md, "The
# default follows the layer").
DEFAULT_STRATEGY = "diversity"
FEATURES_DEFAULT_STRATEGY = "phased"


def allowed_strategies(question: Task | str) -> list[str]:
    """The names of the strategies that can ask this task (or kind of task), in registry order."""
    return [name for name, record in REGISTRY.items() if record.serves(question)]


def get_strategy(name: str) -> StrategyRecord:
    """The registered strategy of that name, or a ValueError listing the names there are."""
    try:
        return REGISTRY[name]
    except KeyError:
        # The list of names is most of the message: a stranger's name is cut short beside it.
        raise ValueError(
            f"unknown strategy {_SHORT.repr(name)}; one of {', '.join(REGISTRY)}"
        ) from None


_SHORT = reprlib.Repr()
_SHORT.maxstring = 12
