"""What a comparison's chart must say beside it, read from its curves.

Three things a person looking at the Compare page cannot tell from the lines alone:

- strategies whose curves coincide, seed by seed and round by round, so that one line hides the
  other (for a binary question least confidence, margin and entropy each rank the images by
  |p - 0.5| alone, so they choose the same images: `coinciding`);
- strategies whose seeds all gave the same curve (`one_run_each`): they drew nothing at random
  on this pool, so their "mean over seeds" is a single run and has no band. How far one run
  is from another pool's: `diversity` with the pool-taught head on digits 0-4, 20 labels, has
  a standard deviation of 1.4 points over eight validation splits of MNIST's training pool, so
  a gap of a point between two such lines says little;
- where the comparison ends: once every strategy's mean has reached `SHARE_OF_CEILING` of the
  frozen-head ceiling and stays there, the rest of the x range is flat lines at the ceiling
  (`settled_at`), which the page leaves out and says so.

Pure pandas over `run_comparison`'s curves and `mean_curves`' bands; no drawing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tl_active.experiments.compare import SHARE_OF_CEILING


def coinciding(curves: pd.DataFrame) -> list[tuple[str, ...]]:
    """Groups of two or more strategies whose accuracy is the same at every seed and round, in
    the order the strategies first appear; strategies that coincide with none are left out."""
    order = list(dict.fromkeys(curves["strategy"]))
    keyed = {
        name: tuple(
            run.sort_values(["seed", "round"])[["seed", "round", "accuracy"]].itertuples(
                index=False, name=None
            )
        )
        for name, run in curves.groupby("strategy", sort=False)
    }
    groups: dict[tuple, list[str]] = {}
    for name in order:
        groups.setdefault(keyed[name], []).append(name)
    return [tuple(names) for names in groups.values() if len(names) > 1]


def one_run_each(curves: pd.DataFrame) -> list[str]:
    """Strategies run with two seeds or more whose every seed gave the same figures, round by
    round (and re-check by re-check), in the order the strategies first appear."""
    keys = [c for c in ("recheck", "round") if c in curves.columns]
    same = []
    for name, runs in curves.groupby("strategy", sort=False):
        by_seed = [
            tuple(run.sort_values(keys)[[*keys, "n_labels", "accuracy"]].itertuples(index=False))
            for _, run in runs.groupby("seed", sort=True)
        ]
        if len(by_seed) > 1 and all(run == by_seed[0] for run in by_seed[1:]):
            same.append(str(name))
    return same


def one_run_note(names: list[str], seeds: int, hint: str = "") -> str:
    """One paragraph naming the strategies of `one_run_each`, '' when there are none; `hint`
    (a sentence) says how to give each seed a run of its own where the note is shown."""
    if not names:
        return ""
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
    lines = "each of their lines has" if len(names) > 1 else "its line has"
    return (
        f"{listed} gave the same figures with each of the {seeds} seeds, so {lines} no band. "
        "A strategy that draws nothing at random makes the same picks at every seed: its line "
        "is then one run, and how far another run would land is not shown."
        + (f" {hint}" if hint else "")
    )


def settled_at(bands: pd.DataFrame, ceiling: float | None) -> float | None:
    """The labels after which every strategy's mean stays at or above `SHARE_OF_CEILING` of the
    ceiling to its last round: nothing left to compare beyond it. None when some strategy never
    settles, or when the settling comes at the very end anyway (no flat stretch to leave out)."""
    if ceiling is None or bands.empty:
        return None
    mark = SHARE_OF_CEILING * ceiling
    settled = []
    for _, run in bands.groupby("strategy", sort=False):
        run = run.sort_values("n_labels")
        below = np.flatnonzero(run["mean"].to_numpy() < mark)
        if len(below) == len(run):
            return None  # never reaches the mark
        first = below[-1] + 1 if len(below) else 0  # from here on, it stays at the mark
        settled.append(float(run["n_labels"].iloc[first]))
    last = float(bands["n_labels"].max())
    at = max(settled)
    return at if at < last else None


def shown_until(settled: float | None, last: float) -> float | None:
    """Where the chart's x axis ends: a little past the settling (a quarter more, so the curves
    are seen to stay), never past the last round; None for the whole range."""
    if settled is None:
        return None
    end = settled * 1.25
    return end if end < last else None


# The strategies that order the pool by |p - 0.5| alone when the question is binary.
SAME_WHEN_BINARY = frozenset({"uncertainty", "margin", "entropy"})


def coinciding_note(groups: list[tuple[str, ...]], binary: bool) -> str:
    """One sentence per group of coinciding strategies, with the reason where it is known; ''
    when none coincide."""
    notes = []
    for names in groups:
        listed = ", ".join(names[:-1]) + f" and {names[-1]}"
        why = (
            " For a binary question they rank the images alike (each by how close p is to 0.5), "
            "so they choose the same images."
            if binary and set(names) <= SAME_WHEN_BINARY
            else ""
        )
        notes.append(
            f"{listed} give the same curve at every seed and round: one line hides the "
            f"other{'s' * (len(names) > 2)}.{why}"
        )
    return " ".join(notes)
