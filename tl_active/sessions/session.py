"""A labelling session: ask for a batch, take the answers, retrain the head, record the round.

The protocol is strict, as in small-text: `next_batch()` offers a batch (the same one until it is
answered); `submit()` takes exactly one answer per image of that batch or raises `ProtocolError`;
`undo()` takes the last round back, as often as needed. A skipped image is not labelled and is
never offered again.

A session is its backbone and layer (which frozen features the head reads), its task (a binary
question or K classes, see `task.py`), its strategy, batch size, head mode, head and seed (its
`SessionSettings`, see `records.py`). The head is the plain one, fitted on the person's answers,
or the pool-taught one, fitted on them and on pseudo-labels spread over a neighbour graph of the
pool (`core/pool_teacher.py`, the graph kept by `data/neighbour_graph.py`); the pseudo-labels
follow from the answers alone, so they are never stored, exported or replayed as answers. After each round it records what the app draws (its
`RoundRecord`): the labels so far, the head's weights and biases, test-set accuracy, precision,
recall and F1, the distribution of the head's p over the pool and the mean p per true class
(`figures.py`), and the stopping signals (`stopping.py`): how much the head's predictions on
the pool moved, and whether the person can stop. The query of round k uses a generator seeded
from the session seed and k, so a session replays exactly from its settings and answers, and
plain JSON is enough to save it (`replay.py`).

Rounds name images by their index in the whole pool (MNIST's 60,000 training images, or an
image folder's pool), whatever part of the pool the task looks at; the session's `ledger`
(`ledger.py`) keeps which are answered, and how.

A session on an image folder records the folder and its content checksum, so a folder that
changed since is noticed when the session is opened. A folder without class folders has no
ground truth and no test set: the person names the answers, and a round's figures are those
of the head cross-validated on the labels given (`cross_validated_metrics`), not test figures.
"""

from __future__ import annotations

import hashlib
import json
import reprlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tl_active.core.head import LBFGS_MEMORY, HeadState, make_head
from tl_active.core.metrics import Metrics, average_precision, rare_output, task_metrics
from tl_active.core.pool_teacher import (
    NEIGHBOURS,
    one_blas_thread,
    safeguard,
    spreading_operator,
    teacher_for,
    training_set,
)
from tl_active.core.rows import row_max
from tl_active.core.stopping import (
    KAPPA_WINDOW,
    PROGRESSIVE_WINDOW,
    predicted_answers,
    round_signals,
)
from tl_active.core.strategies import (
    Pick,
    PoolView,
    get_strategy,
)
from tl_active.core.strategies.neighbours import table_name
from tl_active.core.task import SKIP
from tl_active.data.features import FeatureSet
from tl_active.data.neighbour_graph import task_neighbours
from tl_active.errors import PoolExhaustedError, ProtocolError, SessionFileError
from tl_active.sessions import figures
from tl_active.sessions.figures import (
    cross_validated_metrics,
    frozen_head_ceiling,
    frozen_head_ceiling_pr_auc,
)
from tl_active.sessions.ledger import Ledger
from tl_active.sessions.records import (
    BULK,
    CORRECTION,
    LOOKED_AGAIN,
    PLAIN_HEAD,
    POOL_HEAD,
    RoundRecord,
    SessionSettings,
)
from tl_active.sessions.replay import Replay, read_session_dict, recorded_state, session_dict

# What a bulk round records as each image's reason (a round's reasons are one line each).
BULK_REASON = "chosen on the pool map"
# The thread that makes a pool-taught session's spreading operator ready (see `__init__`).
READY_THREAD = "spreading operator"


@dataclass
class _Pending:
    picks: list[Pick]  # whole-pool indices
    asked_at: float


# Where a strategy works out the next batch while the head refits (`StrategyRecord.ahead`):
# two threads, one per core, shared by every session of the server. The strategies' numba
# kernels and numpy's large operations let go of the GIL, so the two overlap.
_AHEAD = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tl-active-ahead")


def _pool_libraries() -> None:
    """Import the parts of scikit-learn the pool's tables are made with, in this thread, before
    another thread makes one.

    Two threads importing its submodules for the first time at once can meet a module still
    half made (its imports are circular): a fresh process whose first session was pool-taught
    failed 4 times in 6 with "cannot import name 'clone' from partially initialized module
    'sklearn.base'", the neighbour table's import on the first-round thread beside k-means' on
    the page's.
    """
    import sklearn.cluster  # noqa: F401
    import sklearn.neighbors  # noqa: F401


@dataclass
class _Ahead:
    """A batch being worked out while the head refits, and the pool and answers it is for."""

    fingerprint: str
    picks: Future


class LabellingSession:
    """One person's labelling of one task, over the shared frozen features."""

    def __init__(
        self, features: FeatureSet, settings: SessionSettings | None = None, charts: bool = True
    ):
        """`charts=False` is an oracle run's session: its rounds leave out the p histogram and
        the mean p by class, which only the app's charts read (a tenth of a round's time)."""
        self.features = features
        self.settings = settings or SessionSettings()
        self.charts = charts
        if features.layer and features.layer != self.settings.layer:
            raise ValueError(
                f"these features are layer {features.layer!r} of {features.backbone}, but the "
                f"session reads layer {reprlib.repr(self.settings.layer)}"
            )
        if not features.has_truth and not self.settings.answers:
            raise ValueError(
                "these images have no class folders: name the answers you will give, such as "
                "cat,dog"
            )
        self.task = self.settings.task
        self.data = features.task_data(self.task)
        self.answer_values = self.settings.answers or self.task.answers(features.class_names)
        self.rounds: list[RoundRecord] = []
        # The pool-taught head's rules, those the session was labelled under.
        self.teacher = teacher_for(self.settings.pool_rules, features.simplex)
        self.head = self.fresh_head(self.head_memory)
        self.ledger = Ledger(self.data, self.answer_values)
        # The head before each round, for undo: its state, or the round before's record (a
        # reopened session's, made into a state only when undo needs it).
        self._states_before: list[HeadState | RoundRecord] = []
        self._pending: _Pending | None = None
        self._ahead: _Ahead | None = None
        # Whether a submitted round starts the next batch while the head refits. Off while a
        # recorded session is played into a new one, which asks for no batch in between.
        self.looks_ahead = True
        # Rounds whose batch was worked out while the head refit (see `submit`).
        self.batches_ahead = 0
        # (image, answer) pairs the person looked at again and kept (`suspects.py`): not rounds,
        # since nothing changed, but stored and exported so the suspicion stays cleared.
        self.kept: set[tuple[int, str]] = set()
        self._pseudo_count: int | None = 0
        # Task-pool positions the strategies never offer (`hide_from_picks`); None: none.
        self._hidden: np.ndarray | None = None
        self._rescore()
        if self.pool_taught and charts:
            # Made while the person answers the first batch rather than in its round, which
            # waited for it: 0.6 s on the demo's 60,000 images (the neighbour table read, the
            # graph renumbered, the compiled pass loaded), against 27 ms for a round after.
            _pool_libraries()
            threading.Thread(target=self._make_ready, name=READY_THREAD, daemon=True).start()

    @property
    def pool_taught(self) -> bool:
        """Whether the head learns from pseudo-labels spread over the pool too."""
        return self.settings.head == POOL_HEAD

    def training_set(
        self, positions: np.ndarray, labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
        """What the head is fitted on for these answers (task-pool positions and output
        indices): (x, y, row weights or None, how many rows are pseudo-labels)."""
        if not self.pool_taught:
            return self.data.pool[positions], labels, None, 0
        operator = self._spreading()
        keep = self._safeguard(positions, labels) if self.teacher.guarded else None
        return training_set(
            self.data.pool, operator, positions, labels, self.task.n_outputs, self.teacher, keep
        )

    def _spreading(self):
        """The pool's spreading operator for the session's rules (`pool_teacher.spreading_operator`),
        made once per pool and graph and shared by every session on it."""
        teacher = self.teacher
        return self.data.derived(
            teacher.operator_name,
            lambda pool: spreading_operator(
                task_neighbours(
                    self.features, self.data, NEIGHBOURS, standardised=teacher.standardised
                ),
                directed=teacher.directed,
            ),
        )

    def _pool_derived(self, name: str, make):
        """What a strategy keeps with the pool (`PoolView.cached`). The spreading graph's tables
        are read through the disk cache the pool-taught head reads them from, so `phased` and
        the head spread over one table, and neither searches the neighbours again."""
        for standardised in (False, True):
            if name == table_name(NEIGHBOURS, standardised):
                return task_neighbours(
                    self.features, self.data, NEIGHBOURS, standardised=standardised
                )
        return self.data.derived(name, make)

    def _make_ready(self) -> None:
        try:
            self._spreading()
        except Exception:  # the first round makes it again, and says what failed
            pass

    def _safeguard(self, positions: np.ndarray, labels: np.ndarray):
        """The pseudo-labels the answers vouch for (`pool_teacher.safeguard`): in a cluster
        someone answered, and, where the rules ask it, the answer of the plain head fitted on
        the answers alone."""
        if not self.teacher.asks_agreement(self.task.n_outputs):
            return safeguard(self.data.clusters, positions, None)
        plain = self.fresh_head().fit(self.data.pool[positions], labels)
        pool = self.data.pool
        return safeguard(
            self.data.clusters, positions, lambda where: plain.predict_proba(pool[where]).argmax(1)
        )

    @property
    def pseudo_count(self) -> int:
        """How many pseudo-labels the current head was fitted on (0 for the plain head)."""
        if self._pseudo_count is None:
            positions = np.array(self.ledger.labelled, np.intp)
            self._pseudo_count = (
                self.training_set(positions, self.labels)[3] if len(positions) else 0
            )
        return self._pseudo_count

    @property
    def head_memory(self) -> int:
        """The L-BFGS correction pairs of the session's own K-class fit: the pool-taught rules'
        (`PoolTeacher.fit_memory`), or scipy's 10 for the plain head."""
        return self.teacher.fit_memory if self.pool_taught else LBFGS_MEMORY

    def fresh_head(self, memory: int = LBFGS_MEMORY):
        """An untrained head of this session's task, mode and features; a K-class head's fit
        keeps `memory` L-BFGS correction pairs (`SoftmaxHead.memory`)."""
        head = make_head(
            self.task.n_outputs,
            self.settings.head_mode,
            fit_intercept=not self.features.simplex,
            memory=memory,
        )
        # A fit on no labels only tells the head its width: its weights start as zeros.
        return head.fit(self.data.pool[:0], np.zeros(0, np.intp))

    @property
    def labelled(self) -> np.ndarray:
        """Whole-pool indices labelled so far (skips excluded), in the order they were answered."""
        return self.data.pool_index[np.array(self.ledger.labelled, np.intp)]

    @property
    def labels(self) -> np.ndarray:
        """The output index of each answer for `labelled` (1/0 for a binary task)."""
        return np.array(self.ledger.labels, np.intp)

    @property
    def skipped(self) -> np.ndarray:
        return np.array(self.ledger.skipped, np.int64)

    @property
    def pending(self) -> list[Pick] | None:
        return None if self._pending is None else list(self._pending.picks)

    @property
    def proba_pool(self) -> np.ndarray:
        """The current head's answer probabilities for every image of the task's pool, (n, K)."""
        return self._proba_pool

    @property
    def p_pool(self) -> np.ndarray:
        """What the figures show per pool image: p(positive), or p of the most likely class."""
        proba = self._proba_pool
        return proba[:, 1] if self.task.is_binary else row_max(proba)

    def p_of(self, indices: Sequence[int]) -> np.ndarray:
        """`p_pool` of whole-pool indices."""
        return self.p_pool[self.data.local(indices)]

    def predicted_of(self, indices: Sequence[int]) -> list[str]:
        """The head's most likely answer for whole-pool indices."""
        proba = self._proba_pool[self.data.local(indices)]
        return [self.answer_values[k] for k in proba.argmax(axis=1)]

    @property
    def has_test(self) -> bool:
        """Whether there is a test set (MNIST, a folder of class folders) to score on."""
        return self.features.has_truth

    def metrics(self) -> Metrics:
        """Test-set figures of the current head; without a test set, cross-validated ones."""
        if not self.has_test:
            positions = np.array(self.ledger.labelled, np.intp)
            return cross_validated_metrics(
                self.data.pool[positions],
                self.labels,
                self.task.n_outputs,
                not self.features.simplex,
                self.settings.seed,
            )
        return task_metrics(self.data.truth_test, self._proba_test)

    def ceiling(self) -> Metrics:
        """The frozen-head ceiling of this backbone, layer and task."""
        return frozen_head_ceiling(self.features, self.task)

    @property
    def rare_output(self) -> int | None:
        """The output of a two-answer question that is rare in the test set (snow's), read by its
        PR-AUC and how many of it are found rather than by accuracy; None for any other."""
        if not self.has_test:
            return None
        return rare_output(self.data.truth_test, self.task.n_outputs)

    @property
    def rare(self) -> bool:
        return self.rare_output is not None

    @property
    def rare_answer(self) -> str:
        """The answer value of the rare output ('positive' for snow, a folder's class name)."""
        return self.answer_values[self.rare_output]

    @property
    def proba_test(self) -> np.ndarray:
        """The current head's answer probabilities for every test item of the task, (n, K)."""
        return self._proba_test

    def pr_auc(self) -> float:
        """The current head's PR-AUC for the rare answer (or output 1) on the test set."""
        output = self.rare_output if self.rare else 1
        return average_precision(self.data.truth_test == output, self._proba_test[:, output])

    def ceiling_pr_auc(self) -> float:
        """The frozen-head ceiling's PR-AUC for the rare answer (or output 1) on the test set."""
        output = self.rare_output if self.rare else 1
        return frozen_head_ceiling_pr_auc(self.features, self.task, output)

    def truth(self, indices: Sequence[int]) -> list[str]:
        """The data's ground-truth answers for whole-pool indices."""
        if not self.has_test:
            raise ProtocolError("these images have no class folders: there is no truth to tell")
        truth = self.task.truth(self.features.y_pool[np.asarray(indices, np.intp)])
        return [self.answer_values[k] for k in truth]

    def disagreements(self) -> list[dict]:
        """The person's answers that the ground truth contradicts (simulated rounds excluded).

        Only an image's live answer counts, under the round that gave it: a corrected label is
        no longer listed.
        """
        found = []
        seen: set[int] = set()
        if not self.has_test:
            return found
        for r in reversed(self.rounds):
            if r.simulated:
                continue
            truth = self.truth(r.indices)
            for i, a, right in zip(r.indices, r.answers, truth):
                if int(i) in seen:
                    continue
                seen.add(int(i))
                if a != SKIP and a != right and a == self.answer_of(i):
                    found.append(
                        {
                            "round": r.number,
                            "index": i,
                            "answer": a,
                            "truth": right,
                            "digit": int(self.features.y_pool[i]),
                        }
                    )
        found.reverse()  # oldest round first
        return found

    def hide_from_picks(self, positions: np.ndarray) -> None:
        """Never offer these task-pool positions: they stay in the pool (the pool-taught head
        still spreads answers over them) but no strategy picks them. For a comparison whose
        seeds each pick from their own share of the pool (`compare.simulate_run`); a session
        a person labels hides nothing, and nothing hidden is stored."""
        hidden = np.zeros(self.data.size, bool)
        hidden[np.asarray(positions, np.intp)] = True
        self._hidden = hidden
        self._forget_batch()

    def next_batch(self) -> list[Pick]:
        """The batch to answer now: the pending one, or a new one from the strategy."""
        if self._pending is None:
            view = self._pool_view()
            local = self._batch_ahead(view)
            if local is None:
                local = get_strategy(self.settings.strategy)(
                    view, self.settings.batch_size, self._round_rng()
                )
            else:
                self.batches_ahead += 1
            data = self.data
            picks = [Pick(int(data.pool_index[p.index]), p.score, p.rank, p.reason) for p in local]
            self._pending = _Pending(picks, time.time())
        return list(self._pending.picks)

    def _round_rng(self) -> np.random.Generator:
        # The query of round k draws from a generator of the seed and k alone: a session
        # replays exactly, and a batch worked out ahead draws what the strategy would.
        return np.random.default_rng([self.settings.seed, len(self.rounds)])

    def _pool_view(self) -> PoolView:
        """What the strategy sees of the pool now: the head's p, the answers, what is free."""
        data = self.data
        return PoolView(
            proba=self._proba_pool,
            features=data.pool,
            available=(
                self.ledger.available
                if self._hidden is None
                else self.ledger.available & ~self._hidden
            ),
            labelled=np.array(self.ledger.labelled, np.intp),
            labels=self.labels,
            round=len(self.rounds),
            clustering=lambda: (data.clusters, data.typicality, data.typical_rank),
            new_head=self.head.copy,
            derived=self._pool_derived,
        )

    @staticmethod
    def _fingerprint(view: PoolView) -> str:
        """The pool and answers a batch is for: the round, the answers and what is free."""
        digest = hashlib.sha1(str(view.round).encode())
        for array in (view.labelled, np.asarray(view.labels), view.available):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def _start_ahead(self) -> None:
        """Start the strategy's `ahead` (if it has one) on the answers just taken, to run while
        the head refits on them.

        It reads the pool view as `next_batch` will build it, the head aside: the head's p in
        it is the one before this round's refit, and an `ahead` never reads it.
        """
        ahead = get_strategy(self.settings.strategy).ahead
        if ahead is None or not self.looks_ahead:
            return
        _pool_libraries()
        # The head is being refitted: an `ahead` never asks for a copy of it. What is free is
        # copied: the ledger's own array changes with the next answers.
        view = self._pool_view()
        view = replace(view, available=view.available.copy(), new_head=None)
        future = _AHEAD.submit(ahead, view, self.settings.batch_size, self._round_rng())
        self._ahead = _Ahead(self._fingerprint(view), future)

    def _batch_ahead(self, view: PoolView) -> list[Pick] | None:
        """The batch worked out while the head refit, if it is for this pool and these
        answers and is a batch; else None, and the strategy runs as it always does."""
        ahead, self._ahead = self._ahead, None
        if ahead is None or ahead.fingerprint != self._fingerprint(view):
            return None
        if ahead.picks.cancel():
            return None  # never started (a busy server): asking the strategy now is sooner
        try:
            return ahead.picks.result()
        except Exception:  # noqa: BLE001 - the strategy's own call says what went wrong
            return None

    def _forget_batch(self) -> None:
        """The pending batch, and one being worked out, are for answers that changed."""
        self._pending = None
        self._ahead = None

    def submit(
        self,
        answers: Sequence[str],
        *,
        round_number: int | None = None,
        simulated: bool = False,
    ) -> RoundRecord:
        """Answer the pending batch, one answer per image in its order; retrain; record the round.

        `round_number`, when given, must be the number this round will get: a second click on
        an already submitted batch then fails instead of answering the next batch unseen.
        """
        if self._pending is None:
            raise ProtocolError("there is no batch to answer: ask for the next batch first")
        expected = len(self.rounds) + 1
        if round_number is not None and round_number != expected:
            raise ProtocolError(
                f"these answers are for round {round_number}, but round {expected} is the one open"
            )
        picks = self._pending.picks
        parsed = self.ledger.parse(answers, len(picks))
        self._states_before.append(self.head.state_.copy())
        asked_at = self._pending.asked_at
        self._pending = None
        indices = [p.index for p in picks]
        local = self.data.local(indices)
        prior_right = sum(
            int(self._predicted[position]) == self.ledger.output_of[a]
            for position, a in zip(local, parsed)
            if a != SKIP
        )
        self.ledger.take(indices, local, parsed)
        record = RoundRecord(
            number=expected,
            indices=indices,
            answers=parsed,
            scores=[p.score for p in picks],
            ranks=[p.rank for p in picks],
            reasons=[p.reason for p in picks],
            n_labels=len(self.ledger.labelled),
            simulated=simulated,
            asked_at=asked_at,
            answered_at=time.time(),
        )
        self.rounds.append(record)
        self._start_ahead()
        self._refit(record, float(prior_right))
        return record

    def _refit(self, record: RoundRecord, prior_right: float = float("nan")) -> None:
        """Retrain the head on every label so far, rescore, and fill the round's figures.

        `prior_right` is how many of the round's labels the head before it predicted right
        (NaN for a correction, whose image the head had already learned).
        """
        positions = np.array(self.ledger.labelled, np.intp)
        previous = self._predicted
        x, y, weights, self._pseudo_count = self.training_set(positions, self.labels)
        if weights is None:
            self.head.fit(x, y)
        else:
            with one_blas_thread():
                self.head.fit(x, y, weights)
        self._rescore()
        figures.fill_figures(record, self)
        self._fill_stopping(record, previous, prior_right)

    def _fill_stopping(self, record: RoundRecord, previous: np.ndarray, prior_right: float) -> None:
        """The round's stopping signals, from the predictions on the pool before and after it."""
        earlier = self.rounds[:-1]
        # The kappa window starts again after a correction (see `round_signals`).
        since = next(
            (i + 1 for i in range(len(earlier) - 1, -1, -1) if earlier[i].is_correction), 0
        )
        window = earlier[since:][-(KAPPA_WINDOW - 1) :]
        kappas = [r.stopping.get("kappa", float("nan")) for r in window]
        batches = [
            (r.stopping["prior_right"], sum(a != SKIP for a in r.answers))
            for r in earlier[-PROGRESSIVE_WINDOW:]
            if "prior_right" in r.stopping
        ]
        given = np.bincount(np.array(self.ledger.labels, np.intp), minlength=self.task.n_outputs)
        signals = round_signals(
            previous,
            self._predicted,
            self._proba_pool,
            np.array(self.ledger.labelled, np.intp),
            kappas,
            prior_right,
            batches,
            sum(a != SKIP for a in record.answers),
            bool(np.all(given > 0)),
            correction=record.is_correction,
        )
        record.stopping = signals.as_record()
        record.can_stop = signals.can_stop

    def stop_round(self) -> RoundRecord | None:
        """The first live round after which the signals recommended stopping, if any."""
        return next((r for r in self.rounds if r.can_stop), None)

    def answer_by_truth(self) -> RoundRecord:
        """Answer the pending (or next) batch with the ground truth, marked as simulated."""
        picks = self.next_batch()
        return self.submit(self.truth([p.index for p in picks]), simulated=True)

    def auto_label(self, n_rounds: int) -> list[RoundRecord]:
        """Fast-forward: `n_rounds` rounds answered by the ground truth (stops when the pool runs out)."""
        done = []
        for _ in range(n_rounds):
            try:
                done.append(self.answer_by_truth())
            except PoolExhaustedError:
                break
        return done

    def answer_of(self, index: int) -> str | None:
        """The live answer to a whole-pool image, or None if it was never answered."""
        return self.ledger.answer_of(index)

    def live_answers(self) -> dict[int, str]:
        """`answer_of` every image answered so far, by whole-pool index, in one pass."""
        return self.ledger.live_answers()

    def keep(self, index: int, answer: str) -> None:
        """Record that the person looked again at an image's answer and kept it.

        The answer must be the image's live one (`ProtocolError` otherwise). It is no longer a
        suspect (`kept_now`) while that answer stands; a later answer to it is judged afresh.
        """
        (answer,) = self.ledger.parse([answer], 1)
        live = self.answer_of(index)
        if live != answer:
            raise ProtocolError(
                f"image {index} is answered {live!r}, not {answer!r}: there is nothing to keep"
                if live is not None
                else f"image {index} has not been answered: there is nothing to keep"
            )
        self.kept.add((int(index), answer))

    def kept_now(self) -> set[int]:
        """Whole-pool indices whose kept answer is still their live one."""
        live = self.live_answers()
        return {index for index, answer in self.kept if live.get(index) == answer}

    def _take_kept(self, pairs: object) -> None:
        """A session file's kept answers: [[image, answer], ...] of this pool and task."""
        if not isinstance(pairs, list):
            raise SessionFileError("the session file's kept answers are not a list")
        pool = set(self.data.pool_index.tolist())
        for pair in pairs:
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and isinstance(pair[0], int)
                and not isinstance(pair[0], bool)
                and pair[0] in pool
                and pair[1] in self.answer_values
            ):
                raise SessionFileError(
                    f"the session file keeps {reprlib.repr(pair)}, which is not an image of "
                    "this pool with one of its answers"
                )
            self.kept.add((pair[0], pair[1]))

    def correct(
        self,
        index: int,
        answer: str,
        *,
        round_number: int | None = None,
        simulated: bool = False,
        looked_again: bool = False,
    ) -> RoundRecord:
        """Change the answer to an image answered in an earlier round; retrain; record it.

        The correction is a round of its own, so it is stored, exported and replayed like a
        batch and undo takes it back. The batch on offer is dropped: the corrected head chooses
        the next one. `looked_again` marks one made on a second look at a suspect answer
        (`suspects.py`), in its reason.
        """
        expected = len(self.rounds) + 1
        if round_number is not None and round_number != expected:
            raise ProtocolError(
                f"this correction is for round {round_number}, but round {expected} is the one open"
            )
        (answer,) = self.ledger.parse([answer], 1)
        old = self.answer_of(index)
        if old is None:
            raise ProtocolError(f"image {index} has not been answered: there is nothing to correct")
        if old == answer:
            raise ProtocolError(f"image {index} is already answered {answer!r}")
        self._states_before.append(self.head.state_.copy())
        self._forget_batch()
        self.ledger.change(index, old, answer)
        now = time.time()
        record = RoundRecord(
            number=expected,
            indices=[int(index)],
            answers=[answer],
            scores=[0.0],
            ranks=[0],
            reasons=[(f"{LOOKED_AGAIN}: " if looked_again else "") + f"corrected from {old}"],
            n_labels=len(self.ledger.labelled),
            simulated=simulated,
            asked_at=now,
            answered_at=now,
            kind=CORRECTION,
            previous=[old],
        )
        self.rounds.append(record)
        self._refit(record)
        return record

    def unanswered(self, indices: Sequence[int]) -> list[int]:
        """Those of these whole-pool images that are in the task's pool and not answered yet."""
        indices = [int(i) for i in indices]
        local = self.data.local(indices)
        inside = local >= 0
        free = np.zeros(len(indices), bool)
        free[inside] = self.ledger.available[local[inside]]
        return [i for i, ok in zip(indices, free) if ok]

    def label_bulk(
        self,
        indices: Sequence[int],
        answer: str,
        *,
        round_number: int | None = None,
        reason: str = BULK_REASON,
    ) -> RoundRecord:
        """Give one answer to every one of these images (a region of the pool map); retrain.

        A round of its own, marked bulk: stored, exported and replayed like a batch, and undo
        gives its images back to the pool. Every image must be in the task's pool and not yet
        answered (`unanswered` says which are), or nothing is taken. The batch on offer is
        dropped, as after a correction: the new head chooses the next one.
        """
        expected = len(self.rounds) + 1
        if round_number is not None and round_number != expected:
            raise ProtocolError(
                f"this region is for round {round_number}, but round {expected} is the one open"
            )
        indices = [int(i) for i in indices]
        if not indices:
            raise ProtocolError("no images were chosen: there is nothing to label")
        if len(set(indices)) != len(indices):
            raise ProtocolError("an image is chosen more than once")
        (answer,) = self.ledger.parse([answer], 1)
        free = set(self.unanswered(indices))
        taken = [i for i in indices if i not in free]
        if taken:
            raise ProtocolError(
                f"{len(taken):,} of these images are answered already or outside the task "
                f"(such as {taken[0]}); nothing was labelled"
            )
        self._states_before.append(self.head.state_.copy())
        self._forget_batch()
        n = len(indices)
        answers = [answer] * n
        self.ledger.take(indices, self.data.local(indices), answers)
        now = time.time()
        record = RoundRecord(
            number=expected,
            indices=indices,
            answers=answers,
            scores=[0.0] * n,
            ranks=[0] * n,
            reasons=[reason] * n,
            n_labels=len(self.ledger.labelled),
            asked_at=now,
            answered_at=now,
            kind=BULK,
        )
        self.rounds.append(record)
        # No batch was predicted before the person chose it: no prior_right, as a correction.
        self._refit(record)
        return record

    def undo(self) -> RoundRecord:
        """Take back the last round: a batch's images become available again and its batch is
        offered; a correction's image gets its earlier answer back; a bulk round's images go
        back to the pool."""
        if not self.rounds:
            raise ProtocolError("there is no round to undo")
        record = self.rounds.pop()
        before = self._states_before.pop()
        self._pseudo_count = None
        self.head.state_ = before if isinstance(before, HeadState) else recorded_state(before)
        if record.is_correction:
            self.ledger.undo_correction(record)
            self._forget_batch()
            self._rescore()
            return record
        self.ledger.undo_batch(record)
        self._forget_batch()
        self._rescore()
        return record

    def continued_on(self, features: FeatureSet, settings: SessionSettings) -> LabellingSession:
        """A new session over other features that starts with this one's answers, round by round.

        Each live round is taken again as it was (the same batch, answers, strategy scores and
        times; a correction as a correction), and the head is refit on the new features after
        each, so the new session's learning curve is this one's labels seen through the new
        backbone, and its rounds replay and resume like any others. This session is unchanged.
        """
        if features.pool_size != self.features.pool_size:
            raise ValueError("a session continues only on features of the same images")
        continued = LabellingSession(features, settings)
        continued.kept = set(self.kept)
        continued.looks_ahead = False  # no batch is asked for between these rounds
        for record in self.rounds:
            if record.is_correction:
                new = continued.correct(
                    record.indices[0],
                    record.answers[0],
                    simulated=record.simulated,
                    looked_again=record.looked_again,
                )
            elif record.is_bulk:
                new = continued.label_bulk(
                    record.indices, record.answers[0], reason=record.reasons[0]
                )
            else:
                picks = [
                    Pick(int(i), float(score), int(rank), reason)
                    for i, score, rank, reason in zip(
                        record.indices, record.scores, record.ranks, record.reasons
                    )
                ]
                continued._pending = _Pending(picks, record.asked_at)
                new = continued.submit(record.answers, simulated=record.simulated)
            new.asked_at, new.answered_at = record.asked_at, record.answered_at
        continued.looks_ahead = True
        return continued

    def _rescore(self) -> None:
        self._proba_pool = self.head.predict_proba(self.data.pool)
        self._proba_test = self.head.predict_proba(self.data.test)
        # Kept for the next round's stopping signals: how much its head changes the answers.
        self._predicted = predicted_answers(self._proba_pool)

    def p_by_class(self) -> np.ndarray:
        """Per class of the data (binary) or of the task: the mean p the figures show (see
        `figures.p_by_class`)."""
        return figures.p_by_class(self)

    def start_metrics(self) -> Metrics:
        """Test-set figures of the untrained head (every answer equally likely)."""
        return figures.start_metrics(self)

    def to_dict(self) -> dict:
        """The session file's content (see `replay.session_dict`), and the answers kept on
        looking again, if any (`kept`: [[image, answer], ...])."""
        data = session_dict(self)
        if self.kept:
            data["kept"] = [[index, answer] for index, answer in sorted(self.kept)]
        return data

    @classmethod
    def from_dict(
        cls, data: dict, features: FeatureSet, check_model: bool = True, check: str = "every"
    ) -> LabellingSession:
        """Rebuild a session from its rounds; refuse a foreign, damaged or other-model one.

        The recorded heads are taken as they are, after a check (see `replay.Replay`): of
        `"every"` round for a file from outside, of the `"last"` for the app's own store.
        """
        if check not in ("every", "last"):
            raise ValueError(f"check is 'every' or 'last', not {check!r}")
        settings, recorded, without_adam = read_session_dict(data, features, check_model)
        session = cls(features, settings)
        session._restore(recorded, every=check == "every", without_adam=without_adam)
        session._take_kept(data.get("kept", []))
        return session

    def _restore(
        self, recorded: Sequence[RoundRecord], every: bool, without_adam: set[int] = frozenset()
    ) -> None:
        """Take the recorded rounds and heads as they are, after checking them."""
        Replay(self).take(recorded, every, without_adam)
        self._pseudo_count = None
        if recorded:
            self._states_before = [self.head.state_.copy(), *recorded[:-1]]
            self.head.state_ = recorded_state(recorded[-1])
        self.rounds = list(recorded)
        self._rescore()

    def save_json(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load_json(cls, path: Path | str, features: FeatureSet) -> LabellingSession:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SessionFileError(f"cannot read session file {path}: {error}") from None
        return cls.from_dict(data, features)


def oracle_session(
    features: FeatureSet,
    strategy: str,
    seed: int,
    batch: int,
    task,
    head_mode: str = "converge",
    head: str = PLAIN_HEAD,
) -> LabellingSession:
    """A session on these features with this strategy, seed, batch and head, for an oracle to
    answer: its rounds leave out what only the app's charts read (`charts=False`)."""
    settings = SessionSettings(
        task=task,
        strategy=strategy,
        batch_size=batch,
        head_mode=head_mode,
        seed=seed,
        backbone=features.backbone,
        layer=features.layer,
        head=head,
    )
    return LabellingSession(features, settings, charts=False)


__all__ = ["LabellingSession", "oracle_session"]
