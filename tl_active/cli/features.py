"""`python -m tl_active features`: compute (or check) a backbone layer's cached outputs, then
check that a head on them learns (the layer check)."""

from __future__ import annotations

import argparse
import sys

from tl_active.cli.common import load_any_features


def run(args: argparse.Namespace) -> None:
    from tl_active.experiments.layer_check import layer_check

    features = load_any_features(args)
    print(
        f"features {features.key} ({features.backbone} / {features.layer}): "
        f"pool {features.pool.shape}, test {features.test.shape}"
    )
    kind = features.kind
    if kind.origin:
        print(f"{kind.items}: {kind.origin}")
    if not kind.has_truth:
        print("no classes, so no ground truth: no test set and no layer check")
        return
    if kind.origin:  # a shipped data set's split is its own; a person's is made here
        print(kind.test_split(len(features.test)))
    check = layer_check(features)
    print(
        f"layer check: a head on {check.n_labelled:,} labelled pool images answers "
        f"{check.accuracy:.1%} of {check.n_scored:,} test images right (chance {check.chance:.1%})"
    )
    if check.warning:
        print(f"warning: {check.warning}", file=sys.stderr)
