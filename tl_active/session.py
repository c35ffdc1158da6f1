"""A labelling session: ask for a batch, take the answers, retrain the head, record the round.

The protocol is strict, as in small-text: `next_batch()` offers a batch (the same one until it is
answered); `submit()` takes exactly one answer per image of that batch or raises `ProtocolError`;
`undo()` takes the last round back, as often as needed. A skipped image is not labelled and is
never offered again.

A session is its backbone and layer (which frozen features the head reads), its task (a binary
question or K classes, see `task.py`), its strategy, batch size, head mode and seed. After each
round it records what the app draws: the labels so far, the head's weights and biases, test-set
accuracy, precision, recall and F1, the distribution of the head's p over the pool and the mean
p per true class. The query of round k uses a generator seeded from the session seed and k, so a
session replays exactly from its settings and answers, and plain JSON is enough to save it.

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

from tl_active.backbones import DEFAULT_BACKBONE, DIGITS_LAYER
from tl_active.errors import PoolExhaustedError, ProtocolError, SessionFileError
from tl_active.features import FeatureSet
from tl_active.head import HEAD_MODES, L2_SIMPLEX, HeadState, make_head
from tl_active.metrics import Metrics, task_metrics
from tl_active.strategies import (
    BINARY_ONLY,
    DEFAULT_STRATEGY,
    STRATEGIES,
    Pick,
    PoolView,
    get_strategy,
)
from tl_active.task import EVEN, MULTICLASS, NEGATIVE, ODD, POSITIVE, SKIP, Task, parse_classes

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
        for name in ("strategy", "head_mode", "backbone", "layer", "images", "images_checksum"):
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
        )

    def summary(self) -> str:
        """One line for people: 'odd, diversity, batch 4, converge, seed 0 (mnist-cnn/digits)'."""
        question = ",".join(self.answers) if self.answers else self.task.name()
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
_OPTIONAL_SETTINGS = ("images", "images_checksum", "answers")
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

    @classmethod
    def from_dict(cls, data: dict) -> RoundRecord:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def __post_init__(self) -> None:
        if self.kind not in (BATCH, CORRECTION):
            raise ValueError(f"a round is a {BATCH!r} or a {CORRECTION!r}, not {self.kind!r}")

    @property
    def is_correction(self) -> bool:
        return self.kind == CORRECTION


RECORD_FIELDS = tuple(f.name for f in fields(RoundRecord))
# Fields a record may leave out (rounds written before corrections existed have neither).
OPTIONAL_FIELDS = ("kind", "previous")


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

    def __init__(self, features: FeatureSet, settings: SessionSettings | None = None):
        self.features = features
        self.settings = settings or SessionSettings()
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
        self._states_before: list[HeadState] = []  # head state before each round, for undo
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
        return proba[:, 1] if self.task.is_binary else proba.max(axis=1)

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
        self._refit(record)
        return record

    def _refit(self, record: RoundRecord) -> None:
        """Retrain the head on every label so far, rescore, and fill the round's figures."""
        positions = np.array(self._labelled, np.intp)
        self.head.fit(self.data.pool[positions], self.labels)
        self._rescore()
        self._fill_figures(record)

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
        self.head.state_ = self._states_before.pop()
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

    # --- figures ----------------------------------------------------------------------------

    def _rescore(self) -> None:
        self._proba_pool = self.head.predict_proba(self.data.pool)
        self._proba_test = self.head.predict_proba(self.data.test)

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
        record.p_histogram = p_histogram(self.p_pool)
        record.mean_p_by_class = self.p_by_class().tolist()

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
        cls, data: dict, features: FeatureSet, check_model: bool = True
    ) -> LabellingSession:
        """Rebuild a session by replaying its rounds; refuse a foreign, damaged or other-model one."""
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
            recorded = [RoundRecord.from_dict(upgrade_round(r, version)) for r in data["rounds"]]
        except (KeyError, TypeError, ValueError) as error:
            raise SessionFileError(f"the session file is malformed: {error}") from None
        if settings.layer != features.layer:
            raise SessionFileError(
                f"this session reads layer {reprlib.repr(settings.layer)}, not {features.layer!r}"
            )
        session = cls(features, settings)
        if settings.head_mode == "converge":
            session._reopen(recorded)
        else:
            # Adam's moments are not recorded: the demo mode's head is rebuilt step by step.
            for record in recorded:
                session.replay_round(record)
        return session

    def _reopen(self, recorded: Sequence[RoundRecord], checks: int = 4) -> None:
        """Take the recorded rounds as they are, then verify the head lazily: linear in rounds.

        A fit to convergence depends only on the labels, not on the path that led there, so the
        recorded weights of round k-1 and the answers up to round k must give round k's recorded
        weights. That is checked for the last round and for `checks` rounds spread before it,
        instead of refitting every round (which grows with the square of the rounds).
        """
        last = len(recorded) - 1
        spread = np.linspace(0, last, checks + 2)[:-1].round().astype(int).tolist()
        to_check = sorted({*spread, last}) if recorded else []
        labels_at: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for k, record in enumerate(recorded):
            self._apply(record)
            if k in labels_at or k in to_check:
                # Corrections change earlier labels: keep the labels as they stood at round k.
                labels_at[k] = (np.array(self._labelled, np.intp), np.array(self._labels, np.intp))
        width = self.data.pool.shape[1]
        shape = (self.head.n_outputs, width)
        for record in recorded:
            if np.shape(record.weights) != shape or len(record.bias) != shape[0]:
                raise SessionFileError(
                    f"round {record.number} records head weights of shape "
                    f"{np.shape(record.weights)}; this head has {shape}"
                )
        for k in to_check:
            head = self._new_head()
            if k > 0:
                head.state_.weights = np.asarray(recorded[k - 1].weights, float)
                head.state_.bias = np.asarray(recorded[k - 1].bias, float)
            positions, labels = labels_at[k]
            head.fit(self.data.pool[positions], labels)
            if not np.allclose(head.coef_, recorded[k].weights, atol=1e-6):
                raise SessionFileError(
                    f"replaying round {recorded[k].number} gives other head weights than were "
                    "recorded"
                )
        previous = self.head.state_
        for record in recorded:
            self._states_before.append(previous)
            previous = HeadState(np.asarray(record.weights, float), np.asarray(record.bias, float))
            self.rounds.append(record)
        self.head.state_ = previous.copy()
        self._rescore()

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

    def replay_round(self, record: RoundRecord, tolerance: float = 1e-6) -> RoundRecord:
        """Submit a recorded round as it was; check the head comes out with the recorded weights."""
        if record.is_correction:
            self._check_correction(record)
            replayed = self.correct(
                record.indices[0], record.answers[0], simulated=record.simulated
            )
            return self._same_weights(record, replayed, tolerance)
        self._check_batch(record)
        self._pending = _Pending(
            [
                Pick(int(i), float(s), int(k), str(why))
                for i, s, k, why in zip(record.indices, record.scores, record.ranks, record.reasons)
            ],
            record.asked_at,
        )
        try:
            replayed = self.submit(record.answers, simulated=record.simulated)
        except ProtocolError as error:
            self._pending = None
            raise SessionFileError(f"round {record.number} cannot be replayed: {error}") from None
        return self._same_weights(record, replayed, tolerance)

    def _same_weights(
        self, record: RoundRecord, replayed: RoundRecord, tolerance: float
    ) -> RoundRecord:
        recorded = np.asarray(record.weights, float)
        if recorded.shape != np.shape(replayed.weights) or not np.allclose(
            replayed.weights, recorded, atol=tolerance
        ):
            raise SessionFileError(
                f"replaying round {record.number} gives other head weights than were recorded"
            )
        # The round as recorded, as reopening a converged session keeps it: a session stored
        # from a file holds what the file holds, to the last digit.
        self.rounds[-1] = record
        return record

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
