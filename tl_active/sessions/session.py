"""A labelling session: ask for a batch, take the answers, retrain the head, record the round.

The protocol is strict, as in small-text: `next_batch()` offers a batch (the same one until it is
answered); `submit()` takes exactly one answer per image of that batch or raises `ProtocolError`;
`undo()` takes the last round back, as often as needed. A skipped image is not labelled and is
never offered again.

A session is its backbone and layer (which frozen features the head reads), its task (a binary
question or K classes, see `task.py`), its strategy, batch size, head mode and seed. After each
round it records what the app draws: the labels so far, the head's weights and biases, test-set
accuracy, precision, recall and F1, the distribution of the head's p over the pool and the mean
p per true class, and the stopping signals (`stopping.py`): how much the head's predictions on
the pool moved, and whether the person can stop. The query of round k uses a generator seeded
from the session seed and k, so a session replays exactly from its settings and answers, and
plain JSON is enough to save it.

Rounds name images by their index in the whole pool (MNIST's 60,000 training images, or an
image folder's pool), whatever part of the pool the task looks at.

A session on an image folder records the folder and its content checksum, so a folder that
changed since is noticed when the session is opened. A folder without class folders has no
ground truth and no test set: the person names the answers, and a round's figures are those
of the head cross-validated on the labels given (`cross_validated_metrics`), not test figures.
"""

from __future__ import annotations

import json
import reprlib
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path

import numpy as np

from tl_active.core.head import HEAD_MODES, L2_SIMPLEX, HeadState, HeadStates, make_head
from tl_active.core.metrics import Metrics, task_metrics
from tl_active.core.rows import row_max
from tl_active.core.stopping import (
    KAPPA_WINDOW,
    PROGRESSIVE_WINDOW,
    predicted_answers,
    round_signals,
)
from tl_active.core.strategies import (
    BINARY_ONLY,
    DEFAULT_STRATEGY,
    STRATEGIES,
    Pick,
    PoolView,
    get_strategy,
)
from tl_active.core.task import EVEN, MULTICLASS, NEGATIVE, ODD, POSITIVE, SKIP, Task, parse_classes
from tl_active.data.backbones import DEFAULT_BACKBONE, DIGITS_LAYER
from tl_active.data.features import FeatureSet
from tl_active.errors import PoolExhaustedError, ProtocolError, SessionFileError

FORMAT = "tl-active-session"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
HISTOGRAM_BINS = 20
MAX_BATCH = 16
MAX_SEED = 2**63 - 1  # what a 64-bit database integer holds
MAX_NAME = 4_096  # a backbone's path or a layer's name: the longest path Linux opens
BATCH, CORRECTION = "batch", "correction"


class Answer(StrEnum):
    """The answers of a binary task (a multi-class task's answers are its class names)."""

    POSITIVE = POSITIVE
    NEGATIVE = NEGATIVE
    SKIP = SKIP


def parse_target(text: str | Sequence[int] | frozenset[int]) -> frozenset[int]:
    """`odd`, `even`, or digits such as `2,3,5,7`, as the set of positive digits."""
    try:
        return Task.binary(text if isinstance(text, str) else sorted(text)).positive
    except ValueError as error:
        raise ValueError(
            f"target {text!r} must name some but not all of the digits 0-9 as positive ({error})"
        ) from None


def target_name(target: frozenset[int]) -> str:
    """'odd', 'even', or the digits joined by commas."""
    return Task.binary(sorted(target)).name()


def p_histogram(p: np.ndarray) -> list[int]:
    """Counts of p in HISTOGRAM_BINS equal bins over [0, 1] (p = 1 falls in the last)."""
    bins = np.minimum((p * HISTOGRAM_BINS).astype(np.intp), HISTOGRAM_BINS - 1)
    return np.bincount(bins, minlength=HISTOGRAM_BINS).tolist()


def _as_task(value) -> Task:
    if isinstance(value, Task):
        return value
    return Task.binary(value if isinstance(value, str) else sorted(value))


@dataclass(frozen=True)
class SessionSettings:
    """What a session is: backbone and layer, task, strategy, batch size, head mode and seed.

    `task` may be given as a binary target for short: "odd", "even" or a set of digits.
    """

    task: Task = Task.binary(ODD)
    strategy: str = DEFAULT_STRATEGY
    batch_size: int = 4
    head_mode: str = "converge"
    seed: int = 0
    backbone: str = DEFAULT_BACKBONE
    layer: str = DIGITS_LAYER
    images: str = ""  # an image folder's path; empty for MNIST
    images_checksum: str = ""  # that folder's content checksum when the session began
    answers: tuple[str, ...] = ()  # a folder without class folders: the answers, named
    # The session this one continues on a backbone fine-tuned on that one's labels (its id in
    # the store); empty for a session begun afresh.
    continued_from: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "task", _as_task(self.task))
        object.__setattr__(self, "answers", tuple(self.answers))
        get_strategy(self.strategy)
        if self.strategy in BINARY_ONLY and not self.task.is_binary:
            raise ValueError(f"strategy {reprlib.repr(self.strategy)} needs a binary task")
        if self.head_mode not in HEAD_MODES:
            raise ValueError(
                f"unknown head mode {reprlib.repr(self.head_mode)}; "
                f"choose one of {', '.join(HEAD_MODES)}"
            )
        if self.head_mode != "converge" and not self.task.is_binary:
            raise ValueError(f"head mode {reprlib.repr(self.head_mode)} is for binary tasks only")
        if not isinstance(self.batch_size, int) or not 1 <= self.batch_size <= MAX_BATCH:
            raise ValueError(f"batch size must be a whole number from 1 to {MAX_BATCH}")
        if not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED:,}")
        for name in ("backbone", "layer"):
            value = getattr(self, name)
            if (
                not isinstance(value, str)
                or not 0 < len(value) <= MAX_NAME
                or not value.isprintable()
            ):
                raise ValueError(
                    f"{name} must be a name or a path of 1 to {MAX_NAME:,} printable characters"
                )
        if not isinstance(self.images, str) or len(self.images) > MAX_NAME:
            raise ValueError(f"images must be a folder's path of at most {MAX_NAME:,} characters")
        if not isinstance(self.images_checksum, str) or len(self.images_checksum) > 64:
            raise ValueError("images_checksum must be a sha256 hex digest")
        if not isinstance(self.continued_from, str) or not (
            len(self.continued_from) <= 64 and self.continued_from.isprintable()
        ):
            raise ValueError("continued_from must be a session's id")
        if self.answers:
            check_answer_names(self.answers)
            if self.task != Task(MULTICLASS, tuple(range(len(self.answers)))):
                raise ValueError("a session with named answers asks one class per answer")

    @property
    def target(self) -> frozenset[int]:
        """The positive classes of a binary task (empty for a multi-class one)."""
        return self.task.positive

    def as_dict(self) -> dict:
        data = {**asdict(self), "task": self.task.as_dict(), "answers": list(self.answers)}
        # An MNIST session's settings stay as they were before image folders.
        return {k: v for k, v in data.items() if k not in _OPTIONAL_SETTINGS or v}

    @classmethod
    def from_dict(cls, data: dict, version: int | None = None) -> SessionSettings:
        """Settings from `as_dict()`, or from a version-1 file (a binary target on mnist-cnn).

        Read exactly or refused (`ValueError`): every key `as_dict()` writes, no other, each of
        its own type (a batch size of 4, not 4.0, "4" or true), so that a session stored from a
        file is the file. `version` is the file's format version (if not given, settings with a
        task are today's).
        """
        if not isinstance(data, dict):
            raise ValueError("settings must be an object")
        if version is None:
            version = FORMAT_VERSION if "task" in data else 1
        names = _V1_SETTINGS if version == 1 else _SETTINGS
        unknown = [key for key in data if key not in names]
        missing = [key for key in names if key not in data and key not in _OPTIONAL_SETTINGS]
        if unknown or missing:
            raise ValueError(
                f"settings must name {', '.join(names)}"
                + (f"; {reprlib.repr(unknown)} is not one of them" if unknown else "")
            )
        for name in (
            "strategy",
            "head_mode",
            "backbone",
            "layer",
            "images",
            "images_checksum",
            "continued_from",
        ):
            if name in names and name in data and not isinstance(data[name], str):
                raise ValueError(f"{name} must be text, not {reprlib.repr(data[name])}")
        for name in ("batch_size", "seed"):
            if not isinstance(data[name], int) or isinstance(data[name], bool):
                raise ValueError(f"{name} must be a whole number, not {reprlib.repr(data[name])}")
        if version > 1:
            task = Task.from_dict(data["task"])
        else:
            target = data["target"]
            if not isinstance(target, list) or target != sorted(set(target)):
                raise ValueError("target must list its digits once each, in increasing order")
            task = Task.binary(parse_classes(target))
        return cls(
            task=task,
            strategy=data["strategy"],
            batch_size=data["batch_size"],
            head_mode=data["head_mode"],
            seed=data["seed"],
            backbone=data.get("backbone", DEFAULT_BACKBONE),
            layer=data.get("layer", DIGITS_LAYER),
            images=data.get("images", ""),
            images_checksum=data.get("images_checksum", ""),
            answers=_answer_list(data.get("answers", [])),
            continued_from=data.get("continued_from", ""),
        )

    def summary(self, class_names: Sequence[str] | None = None) -> str:
        """One line for people: 'odd, diversity, batch 4, converge, seed 0 (mnist-cnn/digits)'.

        `class_names` name the classes of the question (a folder's `eight,three`); without
        them they are named by their index."""
        question = ",".join(self.answers) if self.answers else self.task.name(class_names)
        where = f" on {self.images}" if self.images else ""
        return (
            f"{question}, {self.strategy}, batch {self.batch_size}, {self.head_mode}, "
            f"seed {self.seed} ({self.backbone}/{self.layer}){where}"
        )


MAX_ANSWERS = 20


def check_answer_names(answers: Sequence[str]) -> None:
    """The answers a person names for a folder without classes: 2 to 20, distinct, short text."""
    if not 2 <= len(answers) <= MAX_ANSWERS:
        raise ValueError(f"name from 2 to {MAX_ANSWERS} answers, such as cat,dog")
    for answer in answers:
        if (
            not isinstance(answer, str)
            or not 0 < len(answer) <= 40
            or not answer.isprintable()
            or answer != answer.strip()
            or "," in answer
            or answer == SKIP
        ):
            raise ValueError(
                f"an answer is a name of 1 to 40 characters, without commas, not {SKIP!r}: "
                f"{reprlib.repr(answer)}"
            )
    if len(set(answers)) != len(answers):
        raise ValueError("each answer is named once")


def parse_answer_names(text: str) -> tuple[str, ...]:
    """'cat, dog, fox' as the answers for a folder without classes (checked)."""
    answers = tuple(part.strip() for part in str(text).split(",") if part.strip())
    check_answer_names(answers)
    return answers


def _answer_list(value) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("answers must be a list of names")
    return tuple(value)


_SETTINGS = tuple(f.name for f in fields(SessionSettings))
# Written only when set (a session on an image folder), so MNIST sessions read as before.
_OPTIONAL_SETTINGS = ("images", "images_checksum", "answers", "continued_from")
# The first format's settings: a binary target on the shared CNN's digits.
_V1_SETTINGS = ("target", "strategy", "batch_size", "head_mode", "seed")


@dataclass
class RoundRecord:
    """One submitted batch, or one corrected answer, and the head and its figures after it.

    The one definition of a round: the session makes it, the store keeps it as it is, and the
    manifest reader checks it field by field. A `correction` round changes the answer to one
    image answered in an earlier round (`previous` holds the answer it replaces); it is stored,
    exported and replayed like a batch, so a session's history keeps every answer ever given.
    """

    number: int  # 1-based
    indices: list[int]  # whole-pool indices of the batch
    answers: list[str]  # one answer value per image (see Task.answers), or "skip"
    scores: list[float]
    ranks: list[int]
    reasons: list[str]
    n_labels: int  # labels (not skips) so far, this round included
    # What the head and its figures are after the round: filled by the session when it refits.
    weights: list[list[float]] = field(default_factory=list)  # one row per output
    bias: list[float] = field(default_factory=list)  # one per output
    metrics: dict[str, float] = field(default_factory=dict)
    p_histogram: list[int] = field(default_factory=list)  # p over the pool, HISTOGRAM_BINS bins
    mean_p_by_class: list[float] = field(default_factory=list)  # see p_by_class
    simulated: bool = False  # answered by the data's ground truth, not a person
    asked_at: float = 0.0  # unix time the batch was offered
    answered_at: float = 0.0  # unix time it was submitted
    kind: str = BATCH  # BATCH, or CORRECTION of one earlier answer
    previous: list[str] = field(default_factory=list)  # a correction: the answer it replaces
    # A demo-mode head's Adam moments (weights, then bias) and step count after the round, so
    # that each round can be checked, and a session reopened, without replaying those before.
    adam_m: list[float] = field(default_factory=list)
    adam_v: list[float] = field(default_factory=list)
    adam_t: int = 0
    # The stopping signals after the round, by name (stopping.SIGNALS; an undefined one is left
    # out), and whether they recommend stopping. Rounds recorded before these existed have none.
    stopping: dict[str, float] = field(default_factory=dict)
    can_stop: bool = False

    @classmethod
    def from_dict(cls, data: dict) -> RoundRecord:
        return cls(**{name: data[name] for name in RECORD_FIELDS if name in data})

    def __post_init__(self) -> None:
        if self.kind not in (BATCH, CORRECTION):
            raise ValueError(f"a round is a {BATCH!r} or a {CORRECTION!r}, not {self.kind!r}")

    @property
    def is_correction(self) -> bool:
        return self.kind == CORRECTION


RECORD_FIELDS = tuple(f.name for f in fields(RoundRecord))
# Fields a record may leave out: rounds written before corrections existed have neither kind
# nor previous, rounds written before the demo mode's Adam state was kept lack that, and rounds
# written before the stopping signals existed have none.
OPTIONAL_FIELDS = ("kind", "previous", "adam_m", "adam_v", "adam_t", "stopping", "can_stop")
ADAM_FIELDS = ("adam_m", "adam_v", "adam_t")


def upgrade_round(data: dict, version: int) -> dict:
    """A stored or exported round of an older format version, in today's fields.

    Version 1 rounds had one binary head on the 10 digit outputs: a flat list of weights, one
    bias, and the mean p per digit.
    """
    if version >= 2 or not isinstance(data, dict):
        return data
    upgraded = dict(data)
    if isinstance(data.get("weights"), list):
        upgraded["weights"] = [data["weights"]] if data["weights"] else []
    if "bias" in data:
        upgraded["bias"] = [data["bias"]]
    if "mean_p_by_digit" in data:
        upgraded["mean_p_by_class"] = upgraded.pop("mean_p_by_digit")
    return upgraded


@dataclass
class _Pending:
    picks: list[Pick]  # whole-pool indices
    asked_at: float


_CEILINGS: dict[tuple, Metrics] = {}


def frozen_head_ceiling(features: FeatureSet, task: Task) -> Metrics:
    """The test figures of the head fitted on every pool label of the task: the frozen ceiling.

    Memoised per feature set and task, since a fit on the whole pool takes up to seconds.
    """
    key = (features.key, id(features) if not features.key else 0, task)
    if key not in _CEILINGS:
        data = features.task_data(task)
        # Tens of thousands of labels need only the small penalty of the demo's head (the larger
        # one of a wide layer is for few labels), and a gradient within 1e-6 moves no answer.
        head = make_head(task.n_outputs, "converge", not features.simplex, l2=L2_SIMPLEX, tol=1e-6)
        head.fit(data.pool, data.truth_pool)
        _CEILINGS[key] = task_metrics(data.truth_test, head.predict_proba(data.test))
    return _CEILINGS[key]


CV_FOLDS = 5


def cross_validated_metrics(
    x: np.ndarray, labels: np.ndarray, n_outputs: int, fit_intercept: bool, seed: int = 0
) -> Metrics:
    """The figures of a head fitted on part of the labels and scored on the rest, k-fold.

    What can honestly be said of a head where there is no test set: each label is predicted
    by a head that never saw it (up to `CV_FOLDS` folds, drawn with `seed`). With fewer than
    two labels nothing can be held out, and the figures are those of an untrained head.
    """
    n = len(labels)
    if n == 0:
        return Metrics(0.0, 0.0, 0.0, 0.0)
    if n < 2:
        return task_metrics(labels, np.full((n, n_outputs), 1.0 / n_outputs))
    folds = np.random.default_rng(seed).permutation(n) % min(CV_FOLDS, n)
    proba = np.empty((n, n_outputs))
    for fold in range(min(CV_FOLDS, n)):
        held = folds == fold
        head = make_head(n_outputs, "converge", fit_intercept=fit_intercept)
        head.fit(x[~held], labels[~held])
        proba[held] = head.predict_proba(x[held])
    return task_metrics(labels, proba)


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
        self._answer_index = {a: k for k, a in enumerate(self.answer_values)}
        self.rounds: list[RoundRecord] = []
        self.head = self._new_head()
        # The head before each round, for undo: its state, or the round before's record (a
        # reopened session's, made into a state only when undo needs it).
        self._states_before: list[HeadState | RoundRecord] = []
        self._pending: _Pending | None = None
        self._available = np.ones(self.data.size, bool)
        # Kept as the rounds come, so a round (and a replay) costs the same at round 1 and 1,000.
        self._labelled: list[int] = []  # positions in the task's pool
        self._labels: list[int] = []  # output indices
        self._skipped: list[int] = []  # whole-pool indices
        self._correction_undo: list[int] = []  # where each live correction changed the lists
        self._rescore()

    def _new_head(self):
        head = make_head(
            self.task.n_outputs, self.settings.head_mode, fit_intercept=not self.features.simplex
        )
        # A fit on no labels only tells the head its width: its weights start as zeros.
        return head.fit(self.data.pool[:0], np.zeros(0, np.intp))

    # --- what the session knows -------------------------------------------------------------

    @property
    def labelled(self) -> np.ndarray:
        """Whole-pool indices labelled so far (skips excluded), in the order they were answered."""
        return self.data.pool_index[np.array(self._labelled, np.intp)]

    @property
    def labels(self) -> np.ndarray:
        """The output index of each answer for `labelled` (1/0 for a binary task)."""
        return np.array(self._labels, np.intp)

    @property
    def skipped(self) -> np.ndarray:
        return np.array(self._skipped, np.int64)

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
            positions = np.array(self._labelled, np.intp)
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

    # --- the protocol -----------------------------------------------------------------------

    def next_batch(self) -> list[Pick]:
        """The batch to answer now: the pending one, or a new one from the strategy."""
        if self._pending is None:
            n_round = len(self.rounds)
            rng = np.random.default_rng([self.settings.seed, n_round])
            data = self.data
            view = PoolView(
                proba=self._proba_pool,
                features=data.pool,
                available=self._available,
                labelled=np.array(self._labelled, np.intp),
                labels=self.labels,
                round=n_round,
                clustering=lambda: (data.clusters, data.typicality, data.typical_rank),
                new_head=self.head.copy,
            )
            local = get_strategy(self.settings.strategy)(view, self.settings.batch_size, rng)
            picks = [Pick(int(data.pool_index[p.index]), p.score, p.rank, p.reason) for p in local]
            self._pending = _Pending(picks, time.time())
        return list(self._pending.picks)

    def _parse_answers(self, answers: Sequence[str], n: int) -> list[str]:
        parsed = [str(a.value if isinstance(a, StrEnum) else a) for a in answers]
        allowed = (*self.answer_values, SKIP)
        if any(a not in allowed for a in parsed):
            raise ProtocolError(f"answers must be {', '.join(allowed)}; got {list(parsed)}")
        if len(parsed) != n:
            raise ProtocolError(f"the batch has {n} images but {len(parsed)} answers were given")
        return parsed

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
        parsed = self._parse_answers(answers, len(picks))
        self._states_before.append(self.head.state_.copy())
        asked_at = self._pending.asked_at
        self._pending = None
        indices = [p.index for p in picks]
        local = self.data.local(indices)
        prior_right = sum(
            int(self._predicted[position]) == self._answer_index[a]
            for position, a in zip(local, parsed)
            if a != SKIP
        )
        self._take_answers(indices, local, parsed)
        record = RoundRecord(
            number=expected,
            indices=indices,
            answers=parsed,
            scores=[p.score for p in picks],
            ranks=[p.rank for p in picks],
            reasons=[p.reason for p in picks],
            n_labels=len(self._labelled),
            simulated=simulated,
            asked_at=asked_at,
            answered_at=time.time(),
        )
        self.rounds.append(record)
        self._refit(record, float(prior_right))
        return record

    def _refit(self, record: RoundRecord, prior_right: float = float("nan")) -> None:
        """Retrain the head on every label so far, rescore, and fill the round's figures.

        `prior_right` is how many of the round's labels the head before it predicted right
        (NaN for a correction, whose image the head had already learned).
        """
        positions = np.array(self._labelled, np.intp)
        previous = self._predicted
        self.head.fit(self.data.pool[positions], self.labels)
        self._rescore()
        self._fill_figures(record)
        self._fill_stopping(record, previous, prior_right)

    def _fill_stopping(self, record: RoundRecord, previous: np.ndarray, prior_right: float) -> None:
        """The round's stopping signals, from the predictions on the pool before and after it."""
        earlier = self.rounds[:-1]
        kappas = [r.stopping.get("kappa", float("nan")) for r in earlier[-(KAPPA_WINDOW - 1) :]]
        batches = [
            (r.stopping["prior_right"], sum(a != SKIP for a in r.answers))
            for r in earlier[-PROGRESSIVE_WINDOW:]
            if "prior_right" in r.stopping
        ]
        given = np.bincount(np.array(self._labels, np.intp), minlength=self.task.n_outputs)
        signals = round_signals(
            previous,
            self._predicted,
            self._proba_pool,
            np.array(self._labelled, np.intp),
            kappas,
            prior_right,
            batches,
            sum(a != SKIP for a in record.answers),
            bool(np.all(given > 0)),
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
        local = int(self.data.local([index])[0])
        if local < 0 or self._available[local]:
            return None
        if local in self._labelled:
            return self.answer_values[self._labels[self._labelled.index(local)]]
        return SKIP

    def live_answers(self) -> dict[int, str]:
        """`answer_of` every image answered so far, by whole-pool index, in one pass."""
        answers = dict.fromkeys(self._skipped, SKIP)
        pool = self.data.pool_index
        for local, label in zip(self._labelled, self._labels, strict=True):
            answers[int(pool[local])] = self.answer_values[label]
        return answers

    def correct(
        self, index: int, answer: str, *, round_number: int | None = None, simulated: bool = False
    ) -> RoundRecord:
        """Change the answer to an image answered in an earlier round; retrain; record it.

        The correction is a round of its own, so it is stored, exported and replayed like a
        batch and undo takes it back. The batch on offer is dropped: the corrected head chooses
        the next one.
        """
        expected = len(self.rounds) + 1
        if round_number is not None and round_number != expected:
            raise ProtocolError(
                f"this correction is for round {round_number}, but round {expected} is the one open"
            )
        (answer,) = self._parse_answers([answer], 1)
        old = self.answer_of(index)
        if old is None:
            raise ProtocolError(f"image {index} has not been answered: there is nothing to correct")
        if old == answer:
            raise ProtocolError(f"image {index} is already answered {answer!r}")
        self._states_before.append(self.head.state_.copy())
        self._pending = None
        self._change_answer(index, old, answer)
        now = time.time()
        record = RoundRecord(
            number=expected,
            indices=[int(index)],
            answers=[answer],
            scores=[0.0],
            ranks=[0],
            reasons=[f"corrected from {old}"],
            n_labels=len(self._labelled),
            simulated=simulated,
            asked_at=now,
            answered_at=now,
            kind=CORRECTION,
            previous=[old],
        )
        self.rounds.append(record)
        self._refit(record)
        return record

    def _change_answer(self, index: int, old: str, answer: str) -> None:
        """Move one answered image from its old answer to a new one, remembering where."""
        local = int(self.data.local([index])[0])
        if old == SKIP:
            position = self._skipped.index(int(index))
            del self._skipped[position]
            self._labelled.append(local)
            self._labels.append(self._answer_index[answer])
        else:
            position = self._labelled.index(local)
            if answer == SKIP:
                del self._labelled[position], self._labels[position]
                self._skipped.append(int(index))
            else:
                self._labels[position] = self._answer_index[answer]
        self._correction_undo.append(position)

    def _undo_correction(self, record: RoundRecord) -> None:
        (index,), (answer,), (old,) = record.indices, record.answers, record.previous
        local = int(self.data.local([index])[0])
        position = self._correction_undo.pop()
        if old == SKIP:
            self._labelled.pop()
            self._labels.pop()
            self._skipped.insert(position, int(index))
        elif answer == SKIP:
            self._skipped.pop()
            self._labelled.insert(position, local)
            self._labels.insert(position, self._answer_index[old])
        else:
            self._labels[position] = self._answer_index[old]

    def undo(self) -> RoundRecord:
        """Take back the last round: a batch's images become available again and its batch is
        offered; a correction's image gets its earlier answer back."""
        if not self.rounds:
            raise ProtocolError("there is no round to undo")
        record = self.rounds.pop()
        before = self._states_before.pop()
        self.head.state_ = before if isinstance(before, HeadState) else self._recorded_state(before)
        if record.is_correction:
            self._undo_correction(record)
            self._pending = None
            self._rescore()
            return record
        self._available[self.data.local(record.indices)] = True
        n_skipped = sum(a == SKIP for a in record.answers)
        n_labelled = len(record.answers) - n_skipped
        del self._labelled[len(self._labelled) - n_labelled :]
        del self._labels[len(self._labels) - n_labelled :]
        del self._skipped[len(self._skipped) - n_skipped :]
        self._pending = None
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
        for record in self.rounds:
            if record.is_correction:
                new = continued.correct(
                    record.indices[0], record.answers[0], simulated=record.simulated
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
        return continued

    # --- figures ----------------------------------------------------------------------------

    def _rescore(self) -> None:
        self._proba_pool = self.head.predict_proba(self.data.pool)
        self._proba_test = self.head.predict_proba(self.data.test)
        # Kept for the next round's stopping signals: how much its head changes the answers.
        self._predicted = predicted_answers(self._proba_pool)

    def p_by_class(self) -> np.ndarray:
        """Per class of the data (binary) or of the task: the mean p the figures show.

        Binary: mean p(positive) over pool images of each true class, so a confused digit
        stands out. K classes: mean p of the true class over its pool images.
        """
        data, n = self.data, len(self.features.class_names)
        if not self.has_test:
            # No truth: the mean p of each answer over the images the head gives it.
            k, said = self.task.n_outputs, self._proba_pool.argmax(axis=1)
            right = self._proba_pool[np.arange(data.size), said]
            counts = np.bincount(said, minlength=k)
            return np.bincount(said, weights=right, minlength=k) / np.maximum(counts, 1)
        if self.task.is_binary:
            counts = np.bincount(data.y_pool, minlength=n)
            sums = np.bincount(data.y_pool, weights=self._proba_pool[:, 1], minlength=n)
            return sums / np.maximum(counts, 1)
        k = self.task.n_outputs
        right = self._proba_pool[np.arange(data.size), data.truth_pool]
        counts = np.bincount(data.truth_pool, minlength=k)
        return np.bincount(data.truth_pool, weights=right, minlength=k) / np.maximum(counts, 1)

    def _fill_figures(self, record: RoundRecord) -> None:
        record.weights = self.head.coef_.tolist()
        record.bias = [float(b) for b in self.head.intercept_]
        record.metrics = self.metrics().as_dict()
        if self.charts:
            record.p_histogram = p_histogram(self.p_pool)
            record.mean_p_by_class = self.p_by_class().tolist()
        state = self.head.state_
        if state.adam_m is not None:
            record.adam_m, record.adam_v = state.adam_m.tolist(), state.adam_v.tolist()
            record.adam_t = int(state.adam_t)

    def start_metrics(self) -> Metrics:
        """Test-set figures of the untrained head (every answer equally likely)."""
        k = self.task.n_outputs
        if not self.has_test:
            return cross_validated_metrics(self.data.pool[:0], np.zeros(0, np.intp), k, False)
        return task_metrics(self.data.truth_test, np.full((len(self.data.test), k), 1.0 / k))

    # --- saving and replaying ---------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "model_checksum": self.features.model_checksum,
            "settings": self.settings.as_dict(),
            "rounds": [asdict(r) for r in self.rounds],
        }

    @classmethod
    def from_dict(
        cls, data: dict, features: FeatureSet, check_model: bool = True, check: str = "every"
    ) -> LabellingSession:
        """Rebuild a session from its rounds; refuse a foreign, damaged or other-model one.

        The recorded heads are taken as they are, after a check (see `_restore`): of `"every"`
        round for a file from outside, of the `"last"` for the app's own store.
        """
        if check not in ("every", "last"):
            raise ValueError(f"check is 'every' or 'last', not {check!r}")
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SessionFileError("this is not a tl-active session file")
        version = data.get("version")
        if version not in READABLE_VERSIONS:
            raise SessionFileError(
                f"session file version {version!r} is not supported "
                f"(this app reads {', '.join(map(str, READABLE_VERSIONS))})"
            )
        if check_model and data.get("model_checksum") != features.model_checksum:
            raise SessionFileError(
                f"this session was made with another network (model checksum "
                f"{data.get('model_checksum')!r}, these features come from "
                f"{features.model_checksum!r}); its labels would not mean the same here"
            )
        try:
            # The store keeps a first-version session's settings as they were, beside rounds
            # it has upgraded: the settings say which form they are in.
            settings = SessionSettings.from_dict(data["settings"])
            rounds = [upgrade_round(r, version) for r in data["rounds"]]
            without_adam = {
                k for k, r in enumerate(rounds) if not all(name in r for name in ADAM_FIELDS)
            }
            recorded = [RoundRecord.from_dict(r) for r in rounds]
        except (KeyError, TypeError, ValueError) as error:
            raise SessionFileError(f"the session file is malformed: {error}") from None
        if settings.layer != features.layer:
            raise SessionFileError(
                f"this session reads layer {reprlib.repr(settings.layer)}, not {features.layer!r}"
            )
        session = cls(features, settings)
        if settings.head_mode != "demo":
            without_adam = set()
        session._restore(recorded, every=check == "every", without_adam=without_adam)
        return session

    def _restore(
        self, recorded: Sequence[RoundRecord], every: bool, without_adam: set[int] = frozenset()
    ) -> None:
        """Take the recorded rounds and heads as they are, after checking them.

        Each round's head depends only on the labels so far and the head of the round before,
        so each round is checked on its own, blocks of rounds at a time (`head.py`):

        - converged: the fit's loss is strictly convex, so the recorded head is the fit when
          the gradient there passes the test the fit itself stops at; if not, the round is
          refit from the round before's head and must come out the same;
        - demo: the round's Adam step is taken again from the round before's recorded head and
          Adam state, and must give the recorded head and state.

        `every` checks every round (a file from outside); otherwise only the last (the app's own
        store). A demo-mode session with rounds recorded without Adam state (`without_adam`,
        written before it was kept) is rebuilt step by step instead, and those rounds get
        theirs. Either way, a round costs the labels so far, not a replay of those before it.
        """
        self._check_shapes(recorded)
        ends = np.zeros(len(recorded), np.intp)
        segment: list[int] = []
        k = 0
        while k < len(recorded):
            if recorded[k].is_correction:
                # A correction changes earlier labels: check the rounds before it on theirs.
                if segment:
                    self._check_rounds(recorded, segment, ends, every, without_adam)
                    segment = []
                self._apply(recorded[k])
                ends[k] = len(self._labelled)
                segment.append(k)
                k += 1
                continue
            stop = k
            while stop < len(recorded) and not recorded[stop].is_correction:
                stop += 1
            ends[k:stop] = self._apply_batches(recorded[k:stop])
            segment.extend(range(k, stop))
            k = stop
        if segment:
            self._check_rounds(recorded, segment, ends, every, without_adam)
        if recorded:
            self._states_before = [self.head.state_.copy(), *recorded[:-1]]
            self.head.state_ = self._recorded_state(recorded[-1])
        self.rounds = list(recorded)
        self._rescore()

    def _check_shapes(self, recorded: Sequence[RoundRecord]) -> None:
        width = self.data.pool.shape[1]
        shape = (self.head.n_outputs, width)
        demo = self.settings.head_mode == "demo"
        for record in recorded:
            if np.shape(record.weights) != shape or len(record.bias) != shape[0]:
                raise SessionFileError(
                    f"round {record.number} records head weights of shape "
                    f"{np.shape(record.weights)}; this head has {shape}"
                )
            moments = (len(record.adam_m), len(record.adam_v))
            if not demo:
                ok = moments == (0, 0) and record.adam_t == 0
            elif record.adam_t == 0:
                ok = moments == (0, 0)
            else:
                ok = moments == (width + 1, width + 1) and min(record.adam_v) >= 0
            if not ok or not isinstance(record.adam_t, int) or record.adam_t < 0:
                raise SessionFileError(
                    f"round {record.number} records an Adam state this head cannot have"
                )

    def _recorded_state(self, record: RoundRecord) -> HeadState:
        state = HeadState(np.asarray(record.weights, float), np.asarray(record.bias, float))
        if record.adam_t:
            state.adam_m = np.asarray(record.adam_m, float)
            state.adam_v = np.asarray(record.adam_v, float)
            state.adam_t = record.adam_t
        return state

    def _states_of(self, rows: Sequence[RoundRecord | None]) -> HeadStates:
        """Recorded heads stacked (None: the untrained head), for checking rounds in blocks."""
        width = self.data.pool.shape[1]
        n, k = len(rows), self.head.n_outputs
        states = HeadStates(
            np.zeros((n, k, width)),
            np.zeros((n, k)),
            np.zeros((n, width + 1)),
            np.zeros((n, width + 1)),
            np.zeros(n, np.int64),
        )
        for r, record in enumerate(rows):
            if record is None:
                continue
            states.weights[r], states.bias[r] = record.weights, record.bias
            if record.adam_t:
                states.adam_m[r], states.adam_v[r] = record.adam_m, record.adam_v
                states.adam_t[r] = record.adam_t
        return states

    def _check_rounds(
        self,
        recorded: Sequence[RoundRecord],
        segment: list[int],
        ends: np.ndarray,
        every: bool,
        without_adam: set[int],
    ) -> None:
        """Check the heads of rounds that share one list of labels (`ends`: its length at each)."""
        last = len(recorded) - 1
        replay = bool(without_adam)
        ks = segment if every or replay else [k for k in segment if k == last]
        if not ks:
            return
        top = int(ends[ks].max())
        x = self.data.pool[np.array(self._labelled[:top], np.intp)].astype(np.float64)
        y = np.array(self._labels[:top], np.intp)
        if replay:
            return self._replay_rounds(recorded, ks, ends, x, y, without_adam)
        before = [recorded[k - 1] if k else None for k in ks]
        if self.settings.head_mode == "demo":
            after = self.head.adam_steps_from(x, y, ends[ks], self._states_of(before))
            want = self._states_of([recorded[k] for k in ks])
            for r, k in enumerate(ks):
                if not all(
                    np.allclose(a[r], b[r], rtol=1e-7, atol=1e-9)
                    for a, b in zip(after._arrays(), want._arrays())
                ):
                    raise SessionFileError(
                        f"replaying round {recorded[k].number} gives other head weights than "
                        "were recorded (one Adam step from the round before)"
                    )
            return
        want = self._states_of([recorded[k] for k in ks])
        labelled = ends[ks] > 0
        gradients = np.full(len(ks), np.inf)
        gradients[labelled] = self.head.fit_gradients(
            x, y, ends[ks][labelled], want.weights[labelled], want.bias[labelled]
        )
        for r, k in enumerate(ks):
            held = not self.head.bias_trained and np.any(want.bias[r])
            if gradients[r] < self.head.gradient_tol and not held:
                continue
            # Not the fit's stopping point: the fit itself from the round before must give it.
            head = self._new_head()
            if before[r] is not None:
                head.state_ = self._recorded_state(before[r])
            head.fit(x[: ends[k]], y[: ends[k]])
            if not (
                np.allclose(head.coef_, want.weights[r], atol=1e-6)
                and np.allclose(head.intercept_, want.bias[r], atol=1e-6)
            ):
                raise SessionFileError(
                    f"replaying round {recorded[k].number} gives other head weights than were "
                    "recorded"
                )

    def _replay_rounds(
        self,
        recorded: Sequence[RoundRecord],
        ks: list[int],
        ends: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        without_adam: set[int],
    ) -> None:
        """Rebuild a demo head round by round (on the session's own head) and compare."""
        for k in ks:
            record = recorded[k]
            self.head.fit(x[: ends[k]], y[: ends[k]])
            state = self.head.state_
            if not (
                np.allclose(state.weights, record.weights, atol=1e-6)
                and np.allclose(state.bias, record.bias, atol=1e-6)
            ):
                raise SessionFileError(
                    f"replaying round {record.number} gives other head weights than were recorded"
                )
            if k in without_adam:
                if state.adam_m is not None:
                    record.adam_m, record.adam_v = state.adam_m.tolist(), state.adam_v.tolist()
                    record.adam_t = int(state.adam_t)
            elif record.adam_t != state.adam_t or (
                record.adam_t
                and not (
                    np.allclose(state.adam_m, record.adam_m, rtol=1e-7, atol=1e-9)
                    and np.allclose(state.adam_v, record.adam_v, rtol=1e-7, atol=1e-9)
                )
            ):
                raise SessionFileError(
                    f"replaying round {record.number} gives another Adam state than was recorded"
                )

    def _apply_batches(self, records: Sequence[RoundRecord]) -> np.ndarray:
        """`_apply` for consecutive batches at once; the count of labels after each.

        Rounds that fail any check here go through `_apply` one by one, which names the first
        round at fault (or takes answers only it reads, such as a digit given as a number).
        """
        sizes = np.array([len(r.indices) for r in records], np.intp)
        indices = [i for r in records for i in r.indices]
        answers = [a for r in records for a in r.answers]
        code = {a: k for k, a in enumerate(self.answer_values)} | {SKIP: -1}
        codes = np.array([code.get(a, -2) if isinstance(a, str) else -2 for a in answers])
        local = self.data.local(indices)
        fine = (
            sizes.min(initial=1) > 0
            and [len(r.answers) for r in records] == sizes.tolist()
            and (codes > -2).all()
            and (local >= 0).all()
            and self._available[local].all()
            and len(np.unique(local)) == len(local)
        )
        if not fine:
            ends = []
            for record in records:
                self._apply(record)
                ends.append(len(self._labelled))
            return np.array(ends, np.intp)
        self._available[local] = False
        labelled = codes >= 0
        self._labelled.extend(local[labelled].tolist())
        self._labels.extend(codes[labelled].tolist())
        self._skipped.extend(np.asarray(indices, np.int64)[~labelled].tolist())
        before = len(self._labelled) - int(labelled.sum())
        per_round = np.add.reduceat(labelled.astype(np.intp), np.cumsum(sizes) - sizes)
        return before + np.cumsum(per_round)

    def _apply(self, record: RoundRecord) -> None:
        """Mark a recorded round's images as answered and keep its labels (no fit)."""
        if record.is_correction:
            old = self._check_correction(record)
            self._change_answer(record.indices[0], old, record.answers[0])
            return
        local = self._check_batch(record)
        try:
            answers = self._parse_answers(record.answers, len(local))
        except ProtocolError as error:
            raise SessionFileError(f"round {record.number} cannot be replayed: {error}") from None
        self._take_answers(record.indices, local, answers)

    def _take_answers(
        self, indices: Sequence[int], local: np.ndarray, answers: Sequence[str]
    ) -> None:
        """Mark a batch's images answered and keep its labels and skips, in batch order."""
        self._available[local] = False
        for i, position, a in zip(indices, local, answers):
            if a == SKIP:
                self._skipped.append(int(i))
            else:
                self._labelled.append(int(position))
                self._labels.append(self._answer_index[a])

    def _check_batch(self, record: RoundRecord) -> np.ndarray:
        """A recorded batch's images as positions in the task's pool, or `SessionFileError`."""
        n = len(record.indices)
        if n == 0 or len(record.answers) != n or len(set(record.indices)) != n:
            raise SessionFileError(f"round {record.number} is malformed")
        local = self.data.local(record.indices)
        bad = [int(i) for i, p in zip(record.indices, local) if p < 0]
        if bad or not self._available[local].all():
            raise SessionFileError(
                f"round {record.number} asks for pool images {bad[:5] or record.indices[:5]} "
                "that are out of range, outside the task or already answered"
            )
        return local

    def _check_correction(self, record: RoundRecord) -> str:
        """A recorded correction's earlier answer, checked against the session's own."""
        if len(record.indices) != 1 or len(record.answers) != 1 or len(record.previous) != 1:
            raise SessionFileError(f"round {record.number} corrects more or less than one answer")
        old = self.answer_of(int(record.indices[0]))
        if old is None or old != record.previous[0] or record.answers[0] == old:
            raise SessionFileError(
                f"round {record.number} corrects image {record.indices[0]}, which was not "
                f"answered {record.previous[0]!r} before it"
            )
        try:
            self._parse_answers(record.answers, 1)
        except ProtocolError as error:
            raise SessionFileError(f"round {record.number} cannot be replayed: {error}") from None
        return old

    def save_json(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load_json(cls, path: Path | str, features: FeatureSet) -> LabellingSession:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SessionFileError(f"cannot read session file {path}: {error}") from None
        return cls.from_dict(data, features)


__all__ = [
    "Answer",
    "EVEN",
    "LabellingSession",
    "ODD",
    "RoundRecord",
    "SessionSettings",
    "STRATEGIES",
    "frozen_head_ceiling",
    "parse_target",
    "target_name",
]
