"""Query strategies: which pool images to ask a person about next.

A strategy is one function, `strategy(pool, n, rng) -> list[Pick]`, in the module of its
family, and one record in `registry.REGISTRY`. Every strategy returns `n` unique pool positions
that were never labelled or skipped, breaks ties with the seeded generator it is given, and says
for each pick why it was chosen (its score and its rank in the pool under that score), which the
app shows on each tile. Asking for more than the pool has left raises `PoolExhaustedError`.

- `pool`: what a strategy sees (`PoolView`) and returns (`Pick`), and the shared ranking;
- `uncertainty`: least confidence, margin and entropy of the head's answers;
- `coverage`: `representative` and `diversity`, over clusters of the frozen features;
- `committee`: query by committee, heads refitted on bootstrap resamples;
- `typicality`: TypiClust and ProbCover, typical images and balls over the frozen features;
- `kcenter`: k-center greedy (coreset), the image farthest from everything labelled;
- `herding`: MaxHerding, the largest gain in kernel coverage of the pool;
- `phased`: MaxHerding while the answers settle little of the pool, then margins over clusters;
- `badge`: BADGE, k-means++ over the head's gradient embeddings;
- `neighbours`: the pool's neighbour table, ball graph and radius, made once per pool;
- `baseline`: a uniform draw, and the odd-number demo's band around 0.5;
- `registry`: every strategy's record (with, for `phased`, how to work out its batch ahead,
  while the head refits), `allowed_strategies(task)` and `get_strategy(name)`.

While the head is still untrained, every p is equal. Then `uncertainty`, `margin`, `entropy`
and `committee` (whose members all agree) are seeded random draws; `band` draws at random from
the whole pool, as the demo's first round did; `representative`, `diversity`, `typiclust`,
`probcover`, `kcenter`, `maxherding` and `phased` still know what to ask, because they work from the frozen features;
`badge` reads the features' lengths then.
"""

from tl_active.core.strategies.badge import badge_strategy
from tl_active.core.strategies.baseline import band_strategy, random_strategy
from tl_active.core.strategies.committee import COMMITTEE_SIZE, committee_strategy
from tl_active.core.strategies.coverage import diversity_strategy, representative_strategy
from tl_active.core.strategies.herding import maxherding_strategy
from tl_active.core.strategies.kcenter import kcenter_strategy
from tl_active.core.strategies.phased import phased_strategy
from tl_active.core.strategies.pool import Pick, PoolView, Strategy
from tl_active.core.strategies.registry import (
    DEFAULT_STRATEGY,
    FEATURES_DEFAULT_STRATEGY,
    REGISTRY,
    StrategyRecord,
    allowed_strategies,
    get_strategy,
)
from tl_active.core.strategies.typicality import probcover_strategy, typiclust_strategy
from tl_active.core.strategies.uncertainty import (
    entropy_score,
    entropy_strategy,
    least_confidence,
    margin_score,
    margin_strategy,
    uncertainty_score,
    uncertainty_strategy,
)

__all__ = [
    "COMMITTEE_SIZE",
    "DEFAULT_STRATEGY",
    "FEATURES_DEFAULT_STRATEGY",
    "REGISTRY",
    "Pick",
    "PoolView",
    "Strategy",
    "StrategyRecord",
    "allowed_strategies",
    "badge_strategy",
    "band_strategy",
    "committee_strategy",
    "diversity_strategy",
    "entropy_score",
    "entropy_strategy",
    "get_strategy",
    "kcenter_strategy",
    "least_confidence",
    "margin_score",
    "margin_strategy",
    "maxherding_strategy",
    "phased_strategy",
    "probcover_strategy",
    "random_strategy",
    "representative_strategy",
    "uncertainty_score",
    "typiclust_strategy",
    "uncertainty_strategy",
]
