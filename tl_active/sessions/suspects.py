"""Look again: the answers a person most likely got wrong, found without ground truth.

Two witnesses that never saw the answer they judge:

- the head, fitted k-fold over the labelled images (each image's probabilities come from a head
  that did not learn its answer), and those out-of-fold probabilities handed to confident
  learning (cleanlab's `find_label_issues` and `get_label_quality_scores`);
- the nearest labelled neighbours in the frozen feature space, which vote with their answers.

An answer both witnesses doubt ranks first. The score of an answer is the mean of the
out-of-fold probability of the answer given and the share of its neighbours who gave it
(lower is more suspect); a suspect is an answer cleanlab flags, or one the head and most
neighbours contradict. Each suspect carries the answer the two witnesses would give instead and
a short reason in words. An image's fold comes from its index and the session's seed, and ties
keep the order of the labels, so the same labels give the same suspects (fold heads carried
from round to round agree with fresh ones up to their fit's tolerance).
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tl_active.core.fold_heads import fit_fold_heads, fold_proba
from tl_active.core.head import SoftmaxHead, make_head

if TYPE_CHECKING:
    from tl_active.sessions.session import LabellingSession

FOLDS = 5
NEIGHBOURS = 5
# Fewer labels than this, or a single answer given, and the witnesses know too little.
MIN_LABELS = 10
# A K-class question's fold heads stop when their largest gradient component is under this: they
# only rank answers, and each round starts them where the round before left them. On digits 0-4
# of the 5-9 network's embedding at 200 labels (3 seeds, 10 % wrong, heads carried from 140
# labels), 1e-2 caught as many wrong answers in the top 40 as 1e-3 (63 of 68), at a fifth to a
# tenth of the CPU time a round (`bench/bench_look_again.py --parts caught,cost`).
FOLD_TOL = 1e-2
# Their first fit starts from the session's head, which learned every label, the held-out ones
# included: stopped loosely there, a fold head would still lean towards answers it must not know
# (from the head on the same runs, 1e-2 caught 61 of those 68 and 1e-3 caught 62).
FIRST_TOL = 1e-3


@dataclass(frozen=True)
class LabelScores:
    """What the witnesses say of every labelled image, in the order of the labels given."""

    score: np.ndarray  # (n,) lower is more suspect
    flagged: np.ndarray  # (n,) bool: cleanlab's issue, or the head and most neighbours disagree
    suggested: np.ndarray  # (n,) the output index the witnesses would give instead
    head_says: np.ndarray  # (n,) the out-of-fold head's answer
    head_p: np.ndarray  # (n,) its probability
    neighbours_say: np.ndarray  # (n,) how many neighbours give `suggested`
    n_neighbours: int

    def ranking(self) -> np.ndarray:
        """Positions of the labels, most suspect first (ties by position: stable)."""
        return np.argsort(self.score, kind="stable")


@dataclass(frozen=True)
class Suspect:
    """One answer to look at again: the image, the answer given, the suggestion and why."""

    index: int  # whole-pool index
    answer: str
    suggested: str
    reason: str
    score: float


def fold_of(indices: np.ndarray, seed: int, folds: int = FOLDS) -> np.ndarray:
    """Each image's fold, from its whole-pool index and the seed alone.

    An image keeps its fold as labels come, so each fold's head learns only the new labels of
    a round, from where it stood the round before.
    """
    mixed = (np.asarray(indices, np.uint64) + np.uint64(seed % 2**32)) * np.uint64(2654435761)
    return ((mixed >> np.uint64(16)) % np.uint64(folds)).astype(np.intp)


class Witnesses:
    """The k-fold heads of one session, kept from call to call, and what they and the
    neighbours say of its labels (`scores`).

    Fold f's head learns every label outside fold f and speaks of those inside it. Its fit
    starts from where it stood the last call (or from `warm`, a fitted head of the session,
    the first time): the loss is convex, so the fit ends where a cold start would, in a
    fraction of the steps. On a question of more than two answers the heads are softmax heads,
    fitted together in one run (`core/fold_heads.py`); on a binary one, logistic heads, one by
    one (Newton's method, a few steps each).
    """

    def __init__(
        self,
        n_outputs: int,
        fit_intercept: bool,
        seed: int,
        folds: int = FOLDS,
        neighbours: int = NEIGHBOURS,
        tol: float = FOLD_TOL,
        first_tol: float = FIRST_TOL,
    ):
        self.tol = tol
        self.first_tol = first_tol
        self.n_outputs = n_outputs
        self.fit_intercept = fit_intercept
        self.seed = seed
        self.folds = folds
        self.neighbours = neighbours
        self._heads: list = [None] * folds
        # A K-class question's fold heads, fitted together (`core/fold_heads.py`):
        # (folds, K, width + bias) weights, or None before the first call.
        self._theta: np.ndarray | None = None

    def out_of_fold_proba(self, x: np.ndarray, labels: np.ndarray, indices, warm=None):
        """(n, n_outputs) probabilities of each labelled image from a head that never saw its
        label; `indices` name the images (whole-pool indices) for their folds."""
        labels = np.asarray(labels, np.intp)
        fold = fold_of(indices, self.seed, self.folds)
        proba = np.empty((len(labels), self.n_outputs))
        head = make_head(self.n_outputs, "converge", self.fit_intercept, tol=self.tol)
        if isinstance(head, SoftmaxHead):
            tol = self.tol
            if self._theta is None:
                tol = min(self.tol, self.first_tol)
                start = np.zeros((self.n_outputs, x.shape[1] + self.fit_intercept))
                if warm is not None:
                    start[:, : x.shape[1]] = warm.state_.weights
                    if self.fit_intercept:
                        start[:, -1] = warm.state_.bias
                self._theta = np.repeat(start[None], self.folds, axis=0)
            self._theta = fit_fold_heads(
                x, labels, fold, self.n_outputs, self._theta, head.l2, self.fit_intercept, tol
            )
            for f in range(self.folds):
                held = fold == f
                proba[held] = fold_proba(x[held], self._theta[f], self.fit_intercept)
            return proba
        for f in range(self.folds):
            held = fold == f
            if not held.any():
                continue
            head = self._heads[f]
            if head is None:
                head = make_head(self.n_outputs, "converge", self.fit_intercept, tol=self.tol)
                if warm is not None:
                    head.state_ = warm.state_.copy()
                self._heads[f] = head
            head.fit(x[~held], labels[~held])
            proba[held] = head.predict_proba(x[held])
        return proba

    def scores(self, x: np.ndarray, labels: np.ndarray, indices, warm=None) -> LabelScores | None:
        """`score_labels` with these heads."""
        return score_labels(x, labels, indices, self, warm)


def neighbour_votes(x: np.ndarray, labels: np.ndarray, n_outputs: int, k: int) -> np.ndarray:
    """(n, n_outputs): how many of each image's `k` nearest labelled neighbours give each answer.

    Euclidean distance in the frozen features; an image is not its own neighbour.
    """
    x = np.asarray(x, np.float64)
    squared = (x * x).sum(axis=1)
    distance = squared[:, None] + squared[None, :] - 2.0 * (x @ x.T)
    np.fill_diagonal(distance, np.inf)
    nearest = np.argpartition(distance, k - 1, axis=1)[:, :k]
    votes = np.zeros((len(labels), n_outputs))
    np.add.at(votes, (np.arange(len(labels))[:, None], labels[nearest]), 1.0)
    return votes


def score_labels(
    x: np.ndarray,
    labels: np.ndarray,
    indices,
    witnesses: Witnesses,
    warm=None,
) -> LabelScores | None:
    """The witnesses' view of every label, or None while they know too little.

    `x` are the labelled images' features, `labels` their output indices and `indices` their
    whole-pool indices. Too little: fewer than `MIN_LABELS` labels, or a single answer given.
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    x = np.asarray(x)
    labels = np.asarray(labels, np.intp)
    n_outputs = witnesses.n_outputs
    present = np.flatnonzero(np.bincount(labels, minlength=n_outputs))
    if len(labels) < MIN_LABELS or len(present) < 2:
        return None
    proba = witnesses.out_of_fold_proba(x, labels, indices, warm)
    k = min(witnesses.neighbours, len(labels) - 1)
    votes = neighbour_votes(x, labels, n_outputs, k)
    rows = np.arange(len(labels))

    # cleanlab sees only the answers given so far: an answer nobody gave is not a column.
    column = np.full(n_outputs, -1)
    column[present] = np.arange(len(present))
    given = column[labels]
    seen = proba[:, present]
    seen = seen / seen.sum(axis=1, keepdims=True)
    with warnings.catch_warnings():
        # It warns when an answer has very few labels, which early rounds always have.
        warnings.simplefilter("ignore")
        quality = get_label_quality_scores(given, seen, method="self_confidence")
        issues = find_label_issues(given, seen, n_jobs=1)

    share = votes[rows, labels] / k
    score = 0.5 * (quality + share)
    # What they would answer instead: the mean of the head's p and the neighbours' shares,
    # over the answers other than the one given.
    support = 0.5 * (proba + votes / k)
    support[rows, labels] = -np.inf
    suggested = support.argmax(axis=1)
    head_says = proba.argmax(axis=1)
    # Flagged: confident learning's issue, or the head and most neighbours both disagree.
    flagged = issues | ((head_says != labels) & (votes[rows, suggested] > k / 2))
    return LabelScores(
        score=score,
        flagged=flagged,
        suggested=suggested,
        head_says=head_says,
        head_p=proba[rows, head_says],
        neighbours_say=votes[rows, suggested].astype(int),
        n_neighbours=k,
    )


def reason(
    head_says: str, head_p: float, suggested: str, neighbours_say: int, n_neighbours: int
) -> str:
    """'the head and 4 of its 5 nearest labelled neighbours say even', or the split view."""
    nearest = f"{neighbours_say} of its {n_neighbours} nearest labelled neighbours"
    if head_says == suggested:
        return f"the head ({head_p:.0%} sure) and {nearest} say {suggested}"
    return f"{nearest} say {suggested}; the head says {head_says} ({head_p:.0%} sure)"


def witnesses_for(session: LabellingSession) -> Witnesses:
    """Fresh witnesses for a session's task, features and seed."""
    return Witnesses(session.task.n_outputs, not session.features.simplex, session.settings.seed)


def session_scores(
    session: LabellingSession, witnesses: Witnesses | None = None
) -> LabelScores | None:
    """`score_labels` over a session's labels; `witnesses` kept from the session's last call
    make it cheaper (fresh ones start from the session's head)."""
    positions = np.array(session.ledger.labelled, np.intp)
    witnesses = witnesses or witnesses_for(session)
    head = session.head if session.settings.head_mode == "converge" else None
    return witnesses.scores(session.data.pool[positions], session.labels, session.labelled, head)


def find_suspects(
    session: LabellingSession,
    kept: Collection[int] = (),
    limit: int | None = None,
    scores: LabelScores | None = None,
    words: dict[str, str] | None = None,
) -> list[Suspect]:
    """The session's suspect answers, most suspect first.

    `kept` are whole-pool indices whose answers the person looked at again and kept: they are
    no longer suspects (until they are answered anew). `scores` may be given when they were
    computed already for this state of the session. `words` name the answers in the reason
    as the page names them (a binary question's "odd" and "not odd"); answers keep their values.
    """
    if scores is None:
        scores = session_scores(session)
    if scores is None:
        return []
    indices = session.labelled
    values: Sequence[str] = session.answer_values
    labels = session.labels
    kept = {int(i) for i in kept}
    found = []
    for position in scores.ranking():
        if not scores.flagged[position] or int(indices[position]) in kept:
            continue
        suggested = values[scores.suggested[position]]
        word = words or {}
        found.append(
            Suspect(
                index=int(indices[position]),
                answer=values[labels[position]],
                suggested=suggested,
                reason=reason(
                    word.get(
                        values[scores.head_says[position]], values[scores.head_says[position]]
                    ),
                    float(scores.head_p[position]),
                    word.get(suggested, suggested),
                    int(scores.neighbours_say[position]),
                    scores.n_neighbours,
                ),
                score=float(scores.score[position]),
            )
        )
        if limit is not None and len(found) >= limit:
            break
    return found
