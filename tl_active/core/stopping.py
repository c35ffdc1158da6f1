"""When can a person stop labelling? Signals that need no ground truth, and one recommendation.

Each round the session has the head's answer probabilities over the whole task pool (for the
strategies and the figures) and, from the round before, the head's predicted answer for every
pool image. From those alone this module measures:

- `prediction_kappa`: how much the predictions on the pool agree with the previous round's,
  beyond chance (Cohen's kappa; Bloodgood & Vijay-Shanker 2009);
- `changed_share`: the share of the pool whose predicted answer changed (Zhu, Wang & Hovy 2008's
  classification change);
- `overall_uncertainty`: the mean normalised entropy of the head's answers over the unlabelled
  pool (Zhu, Wang & Hovy 2008's overall uncertainty);
- `progressive_accuracy`: how often the head answered the last batches right before it was
  trained on them (progressive validation, Blum, Kalai & Langford 1999).

The recommendation is Bloodgood & Vijay-Shanker's stabilising predictions, as small-text's
`KappaAverage(kappa=0.99, window_size=3)` implements it: stop once the mean kappa of the last
`KAPPA_WINDOW` rounds reaches `KAPPA_THRESHOLD`, here also only once every answer has been given
at least once (before that a head predicting one answer everywhere agrees with itself
perfectly), and never on a correction: a changed answer adds no label, and whether it fixed a
mistake or made one, the head now learns from other labels than the window's rounds did, so the
window starts again after it (`round_signals`' `correction`). Their stop set is a fixed sample of unlabelled data; here it is the whole task pool,
which the session scores anyway, so the signals cost no extra prediction. `docs/stopping.md`
measures how early or late the recommendation fires against test accuracy.

Pure NumPy: no model, no test labels, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tl_active.core.rows import row_argmax

# Bloodgood & Vijay-Shanker's values (and small-text's defaults); docs/stopping.md shows they meet
# the project's targets on both shipped backbones, so they were kept rather than tuned.
KAPPA_THRESHOLD = 0.99
KAPPA_WINDOW = 3
PROGRESSIVE_WINDOW = 5  # batches that progressive accuracy looks back over

# The names a round records its signals under (`RoundRecord.stopping`), in display order.
SIGNALS = (
    "kappa",
    "kappa_average",
    "changed_share",
    "uncertainty",
    "prior_right",
    "progressive_accuracy",
)


def predicted_answers(proba: np.ndarray) -> np.ndarray:
    """The index of each row's most likely answer, as small integers (kept between rounds)."""
    if proba.shape[1] == 2:
        # Binary: one comparison instead of an argmax over rows (a third of the time).
        return (proba[:, 1] > proba[:, 0]).view(np.int8)
    return row_argmax(proba).astype(np.int8)


def prediction_kappa(previous: np.ndarray, current: np.ndarray, n_answers: int) -> float:
    """Cohen's kappa between two rounds' predicted answers on the same images.

    1 is the same prediction everywhere, 0 no more agreement than two independent guessers with
    the same answer shares would reach. NaN when chance agreement is already total (both rounds
    predict one and the same answer everywhere), where kappa is undefined. Computed from one
    bincount of the confusion matrix: the same value as `sklearn.metrics.cohen_kappa_score`
    at a tenth of its cost. Bloodgood & Vijay-Shanker (2009), "A method for stopping active
    learning based on stabilizing predictions and the need for user-adjustable stopping".
    """
    n = len(previous)
    if n == 0 or len(current) != n:
        raise ValueError(
            f"kappa needs two predictions of the same images, not {n} and {len(current)}"
        )
    pairs = previous.astype(np.intp) * n_answers + current
    confusion = np.bincount(pairs, minlength=n_answers * n_answers).reshape(n_answers, n_answers)
    observed = np.trace(confusion) / n
    expected = float(confusion.sum(axis=1) @ confusion.sum(axis=0)) / (n * n)
    if expected >= 1.0:
        return float("nan")
    return float((observed - expected) / (1.0 - expected))


def changed_share(previous: np.ndarray, current: np.ndarray) -> float:
    """The share of images whose predicted answer changed between two rounds.

    Zhu, Wang & Hovy (2008), "Multi-criteria-based strategy to stop active learning for data
    annotation" (classification change; small-text's `ClassificationChange` stops at 0).
    """
    return float(np.count_nonzero(previous != current)) / max(len(current), 1)


def overall_uncertainty(proba: np.ndarray, labelled: np.ndarray | None = None) -> float:
    """Mean normalised entropy of the head's answers over the pool, the labelled images left out.

    0 is a head sure of every answer, 1 a head that gives every answer the same p. Zhu, Wang &
    Hovy (2008)'s overall uncertainty, normalised by log K as small-text's `OverallUncertainty`
    does. The entropy is summed over the whole pool and the labelled rows taken back out, which
    costs a few hundred rows instead of a copy of the unlabelled ones.
    """
    n, k = proba.shape
    if k < 2:
        raise ValueError("uncertainty needs at least two answers")
    labelled = np.zeros(0, np.intp) if labelled is None else np.asarray(labelled, np.intp)
    if n - len(labelled) <= 0:
        return 0.0

    def entropy_sum(rows: np.ndarray) -> float:
        # einsum rather than `@`: a BLAS call wakes its threads, which costs more than the sum.
        if k == 2:
            # p log p of one contiguous column and of its complement: a fifth of the 2-D time.
            p = np.clip(rows[:, 1], 1e-12, 1 - 1e-12)
            # In float32 (a Keras head's rows) 1 - 1e-12 is 1, so a sure row's q would be 0 and
            # 0 log 0 a NaN for the whole sum: q gets its own floor.
            q = np.clip(1.0 - p, 1e-12, None)
            return float(-(np.einsum("i,i->", p, np.log(p)) + np.einsum("i,i->", q, np.log(q))))
        safe = np.clip(rows, 1e-12, 1.0)
        return float(-np.einsum("ij,ij->", safe, np.log(safe)))

    total = entropy_sum(proba) - (entropy_sum(proba[labelled]) if len(labelled) else 0.0)
    return max(total, 0.0) / ((n - len(labelled)) * math.log(k))


def progressive_accuracy(right: Sequence[float], answered: Sequence[int]) -> float:
    """The share of the last batches' labels that the head had right before it learned them.

    `right[i]` is how many labels of batch i the head before that batch predicted right,
    `answered[i]` how many labels batch i gave. Each label is scored by a head that never saw
    it, so this is an out-of-sample accuracy on the labels so far with no fit at all: Blum,
    Kalai & Langford (1999), "Beating the hold-out: bounds for k-fold and progressive
    cross-validation". The strategies ask about the images the head is least sure of, so it
    runs below test accuracy; NaN before any label.
    """
    total = sum(answered)
    return float(sum(right)) / total if total else float("nan")


def kappa_average(kappas: Sequence[float], window: int = KAPPA_WINDOW) -> float:
    """Mean of the last `window` rounds' kappas; NaN with fewer rounds or an undefined kappa."""
    last = list(kappas[-window:])
    if len(last) < window or any(not math.isfinite(k) for k in last):
        return float("nan")
    return float(np.mean(last))


def can_stop(
    kappas: Sequence[float],
    every_answer_given: bool,
    threshold: float = KAPPA_THRESHOLD,
    window: int = KAPPA_WINDOW,
) -> bool:
    """Whether the predictions on the pool have stabilised: small-text's `KappaAverage` rule.

    The mean kappa of the last `window` rounds is at least `threshold`, and every answer has
    been given at least once.
    """
    average = kappa_average(kappas, window)
    return every_answer_given and math.isfinite(average) and average >= threshold


@dataclass(frozen=True)
class RoundSignals:
    """What one round measured, as a round records it (`as_record`), and the recommendation."""

    kappa: float
    kappa_average: float
    changed_share: float
    uncertainty: float
    prior_right: float  # NaN for a correction (no batch was predicted before it was answered)
    progressive_accuracy: float
    can_stop: bool

    def as_record(self) -> dict[str, float]:
        """The finite signals by name (JSON holds no NaN: an undefined one is left out)."""
        return {
            name: float(getattr(self, name))
            for name in SIGNALS
            if math.isfinite(getattr(self, name))
        }


def round_signals(
    previous: np.ndarray,
    current: np.ndarray,
    proba: np.ndarray,
    labelled: np.ndarray,
    earlier_kappas: Sequence[float],
    prior_right: float,
    earlier_right: Sequence[tuple[float, int]],
    answered: int,
    every_answer_given: bool,
    correction: bool = False,
) -> RoundSignals:
    """Every signal of one round, from the predictions before and after it.

    `previous` and `current` are `predicted_answers` of the head before and after the round on
    the task pool, `proba` the head's probabilities after it, `labelled` the pool positions
    labelled so far, `earlier_kappas` the kappas of the rounds before (oldest first),
    `prior_right` how many of this round's `answered` labels the head before it had right (NaN
    for a correction), `earlier_right` the earlier batches' (right, answered).

    A `correction` (an earlier answer changed) starts the kappa window again: its own kappa is
    recorded but neither fills a window nor says "you can stop", so `earlier_kappas` must hold
    only the rounds after the last correction. Changing one answer barely moves the pool's
    predictions, so its kappa is near 1 whether the change was right or wrong: counted, it
    could say "you can stop" right after a person introduced an error.
    """
    kappa = prediction_kappa(previous, current, proba.shape[1])
    kappas = [] if correction else [*earlier_kappas, kappa]
    batches = [*earlier_right, *([(prior_right, answered)] if math.isfinite(prior_right) else [])]
    recent = batches[-PROGRESSIVE_WINDOW:]
    return RoundSignals(
        kappa=kappa,
        kappa_average=kappa_average(kappas),
        changed_share=changed_share(previous, current),
        uncertainty=overall_uncertainty(proba, labelled),
        prior_right=prior_right,
        progressive_accuracy=progressive_accuracy([r for r, _ in recent], [a for _, a in recent]),
        can_stop=can_stop(kappas, every_answer_given),
    )


def recommendation(signals: dict[str, float], can_stop_now: bool) -> str:
    """One short line for people: whether they can stop, and why."""
    if can_stop_now:
        return (
            f"you can stop: predictions on the pool have barely changed for {KAPPA_WINDOW} rounds"
        )
    average = signals.get("kappa_average")
    if average is None:
        return "keep labelling: the predictions are still settling"
    return f"keep labelling: pool kappa {average:.3f}, stop at {KAPPA_THRESHOLD}"


def signals_note(signals: dict[str, float]) -> str:
    """The signals of a round in one sentence, each left out if the round did not define it."""
    parts = []
    if "kappa" in signals:
        parts.append(f"kappa against the round before {signals['kappa']:.4f}")
    if "kappa_average" in signals:
        parts.append(
            f"mean over the last {KAPPA_WINDOW} rounds {signals['kappa_average']:.4f} "
            f"(stop at {KAPPA_THRESHOLD})"
        )
    if "changed_share" in signals:
        parts.append(f"{signals['changed_share']:.2%} of the pool changed its answer")
    if "uncertainty" in signals:
        parts.append(f"uncertainty over the unlabelled pool {signals['uncertainty']:.3f} (0 to 1)")
    if "progressive_accuracy" in signals:
        parts.append(
            f"the last {PROGRESSIVE_WINDOW} batches answered right before training "
            f"{signals['progressive_accuracy']:.0%}"
        )
    return "; ".join(parts) + "." if parts else "No signals yet."


__all__ = [
    "KAPPA_THRESHOLD",
    "KAPPA_WINDOW",
    "PROGRESSIVE_WINDOW",
    "RoundSignals",
    "SIGNALS",
    "can_stop",
    "changed_share",
    "kappa_average",
    "overall_uncertainty",
    "predicted_answers",
    "prediction_kappa",
    "progressive_accuracy",
    "recommendation",
    "round_signals",
    "signals_note",
]
