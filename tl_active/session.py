"""A labelling session: ask for a batch, take the answers, retrain the head, record the round.

The protocol is strict, as in small-text: `next_batch()` offers a batch (the same one until it is
answered); `submit()` takes exactly one answer per image of that batch or raises `ProtocolError`;
`undo()` takes the last round back, as often as needed. A skipped image is not labelled and is
never offered again.

After each round the session records what the app draws: the labels so far, the head's weights
and bias, test-set accuracy, precision, recall and F1, the distribution of p(positive) over the
pool and the mean p per true digit. The query of round k uses a generator seeded from the session
seed and k, so a session replays exactly from its settings and answers, and plain JSON is enough
to save it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from tl_active.errors import ProtocolError, SessionFileError
from tl_active.features import FeatureSet
from tl_active.head import HEAD_MODES, HeadState, SigmoidHead
from tl_active.metrics import Metrics, binary_metrics, ceiling, is_positive
from tl_active.strategies import STRATEGIES, Pick, PoolView, get_strategy

FORMAT = "tl-active-session"
FORMAT_VERSION = 1
ODD = frozenset({1, 3, 5, 7, 9})
EVEN = frozenset({0, 2, 4, 6, 8})
HISTOGRAM_BINS = 20
MAX_BATCH = 16


class Answer(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    SKIP = "skip"


def parse_target(text: str | Sequence[int] | frozenset[int]) -> frozenset[int]:
    """`odd`, `even`, or digits such as `2,3,5,7`, as the set of positive digits."""
    if isinstance(text, str):
        word = text.strip().lower()
        if word in ("odd", "even"):
            return ODD if word == "odd" else EVEN
        try:
            digits = [int(part) for part in word.replace(" ", "").split(",") if part]
        except ValueError:
            raise ValueError(
                f"target {text!r} is neither 'odd', 'even' nor a comma-separated digit list"
            ) from None
    else:
        digits = [int(d) for d in text]
    target = frozenset(digits)
    if not target or not target <= set(range(10)) or len(target) == 10:
        raise ValueError(
            f"target {text!r} must name some but not all of the digits 0-9 as positive"
        )
    return target


def target_name(target: frozenset[int]) -> str:
    """'odd', 'even', or the digits joined by commas."""
    if target == ODD:
        return "odd"
    if target == EVEN:
        return "even"
    return ",".join(str(d) for d in sorted(target))


def p_histogram(p: np.ndarray) -> list[int]:
    """Counts of p in HISTOGRAM_BINS equal bins over [0, 1] (p = 1 falls in the last)."""
    bins = np.minimum((p * HISTOGRAM_BINS).astype(np.intp), HISTOGRAM_BINS - 1)
    return np.bincount(bins, minlength=HISTOGRAM_BINS).tolist()


@dataclass(frozen=True)
class SessionSettings:
    """What a session is: its target, strategy, batch size, head training mode and seed."""

    target: frozenset[int] = ODD
    strategy: str = "uncertainty"
    batch_size: int = 4
    head_mode: str = "converge"
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", parse_target(self.target))
        get_strategy(self.strategy)
        if self.head_mode not in HEAD_MODES:
            raise ValueError(
                f"unknown head mode {self.head_mode!r}; choose one of {', '.join(HEAD_MODES)}"
            )
        if not isinstance(self.batch_size, int) or not 1 <= self.batch_size <= MAX_BATCH:
            raise ValueError(f"batch size must be a whole number from 1 to {MAX_BATCH}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError("seed must be a whole number, 0 or more")

    def as_dict(self) -> dict:
        return {**asdict(self), "target": sorted(self.target)}

    @classmethod
    def from_dict(cls, data: dict) -> SessionSettings:
        return cls(
            target=frozenset(int(d) for d in data["target"]),
            strategy=str(data["strategy"]),
            batch_size=int(data["batch_size"]),
            head_mode=str(data["head_mode"]),
            seed=int(data["seed"]),
        )


@dataclass
class RoundRecord:
    """One submitted batch and the state of the head and its figures after it."""

    number: int  # 1-based
    indices: list[int]
    answers: list[str]
    scores: list[float]
    ranks: list[int]
    reasons: list[str]
    n_labels: int  # labels (not skips) so far, this round included
    weights: list[float]
    bias: float
    metrics: dict[str, float]
    p_histogram: list[int]  # counts of p(positive) over the pool in HISTOGRAM_BINS bins
    mean_p_by_digit: list[float]  # mean p(positive) over pool images of each true digit
    simulated: bool = False  # answered by MNIST's ground truth, not a person
    asked_at: float = 0.0  # unix time the batch was offered
    answered_at: float = 0.0  # unix time it was submitted

    @classmethod
    def from_dict(cls, data: dict) -> RoundRecord:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


@dataclass
class _Pending:
    picks: list[Pick]
    asked_at: float


class LabellingSession:
    """One person's labelling of one target, over the shared frozen features."""

    def __init__(self, features: FeatureSet, settings: SessionSettings | None = None):
        self.features = features
        self.settings = settings or SessionSettings()
        self.rounds: list[RoundRecord] = []
        self.head = self._new_head()
        self._states_before: list[HeadState] = []  # head state before each round, for undo
        self._pending: _Pending | None = None
        self._truth_pool = is_positive(features.y_pool, self.settings.target)
        self._truth_test = is_positive(features.y_test, self.settings.target)
        self._available = np.ones(features.pool_size, bool)
        self._rescore()

    def _new_head(self) -> SigmoidHead:
        return SigmoidHead(self.settings.head_mode)

    # --- what the session knows -------------------------------------------------------------

    @property
    def labelled(self) -> np.ndarray:
        """Pool indices labelled so far (skips excluded), in the order they were answered."""
        return np.array(
            [i for r in self.rounds for i, a in zip(r.indices, r.answers) if a != Answer.SKIP],
            dtype=np.int64,
        )

    @property
    def labels(self) -> np.ndarray:
        """The 0/1 answers for `labelled`."""
        return np.array(
            [a == Answer.POSITIVE for r in self.rounds for a in r.answers if a != Answer.SKIP],
            dtype=np.float64,
        )

    @property
    def skipped(self) -> np.ndarray:
        return np.array(
            [i for r in self.rounds for i, a in zip(r.indices, r.answers) if a == Answer.SKIP],
            dtype=np.int64,
        )

    @property
    def pending(self) -> list[Pick] | None:
        return None if self._pending is None else list(self._pending.picks)

    @property
    def p_pool(self) -> np.ndarray:
        """The current head's p(positive) for every pool image."""
        return self._p_pool

    def metrics(self) -> Metrics:
        """Test-set figures of the current head (p > 0.5 counts as positive)."""
        return binary_metrics(self._truth_test, self._p_test_positive)

    def ceiling(self) -> Metrics:
        return ceiling(self.features.test_probs, self.features.y_test, self.settings.target)

    def truth(self, indices: Sequence[int]) -> list[Answer]:
        """MNIST's ground-truth answers for pool images."""
        return [Answer.POSITIVE if self._truth_pool[i] else Answer.NEGATIVE for i in indices]

    def disagreements(self) -> list[dict]:
        """The person's answers that MNIST's ground truth contradicts (simulated rounds excluded)."""
        found = []
        for r in self.rounds:
            if r.simulated:
                continue
            for i, a in zip(r.indices, r.answers):
                if a != Answer.SKIP and (a == Answer.POSITIVE) != bool(self._truth_pool[i]):
                    found.append(
                        {
                            "round": r.number,
                            "index": i,
                            "answer": a,
                            "digit": int(self.features.y_pool[i]),
                        }
                    )
        return found

    # --- the protocol -----------------------------------------------------------------------

    def next_batch(self) -> list[Pick]:
        """The batch to answer now: the pending one, or a new one from the strategy."""
        if self._pending is None:
            n_round = len(self.rounds)
            rng = np.random.default_rng([self.settings.seed, n_round])
            view = PoolView(
                p_positive=self._p_pool,
                probs=self.features.pool_probs,
                embedding=self.features.pool_embedding,
                available=self._available,
                labelled=self.labelled,
                labels=self.labels,
                round=n_round,
                l2=self.head.l2,
                predicted=self.features.pool_predicted,
                typicality=self.features.pool_typicality
                if self.settings.strategy == "representative"
                else None,
            )
            picks = get_strategy(self.settings.strategy)(view, self.settings.batch_size, rng)
            self._pending = _Pending(picks, time.time())
        return list(self._pending.picks)

    def submit(
        self,
        answers: Sequence[str | Answer],
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
        try:
            parsed = [Answer(a) for a in answers]
        except ValueError:
            raise ProtocolError(
                f"answers must be {', '.join(a.value for a in Answer)}; got {list(answers)}"
            ) from None
        if len(parsed) != len(picks):
            raise ProtocolError(
                f"the batch has {len(picks)} images but {len(parsed)} answers were given"
            )
        self._states_before.append(self.head.state_.copy())
        asked_at = self._pending.asked_at
        self._pending = None
        indices = [p.index for p in picks]
        self._available[indices] = False
        record = RoundRecord(
            number=expected,
            indices=indices,
            answers=[a.value for a in parsed],
            scores=[p.score for p in picks],
            ranks=[p.rank for p in picks],
            reasons=[p.reason for p in picks],
            n_labels=0,
            weights=[],
            bias=0.0,
            metrics={},
            p_histogram=[],
            mean_p_by_digit=[],
            simulated=simulated,
            asked_at=asked_at,
            answered_at=time.time(),
        )
        self.rounds.append(record)
        labelled = self.labelled
        self.head.fit(self.features.pool_probs[labelled], self.labels)
        self._rescore()
        self._fill_figures(record, len(labelled))
        return record

    def answer_by_truth(self) -> RoundRecord:
        """Answer the pending (or next) batch with MNIST's ground truth, marked as simulated."""
        picks = self.next_batch()
        return self.submit(self.truth([p.index for p in picks]), simulated=True)

    def auto_label(self, n_rounds: int) -> list[RoundRecord]:
        """Fast-forward: `n_rounds` rounds answered by the ground truth (stops when the pool runs out)."""
        from tl_active.errors import PoolExhaustedError

        done = []
        for _ in range(n_rounds):
            try:
                done.append(self.answer_by_truth())
            except PoolExhaustedError:
                break
        return done

    def undo(self) -> RoundRecord:
        """Take back the last round; its images become available again and its batch is offered."""
        if not self.rounds:
            raise ProtocolError("there is no round to undo")
        record = self.rounds.pop()
        self.head.state_ = self._states_before.pop()
        self._available[record.indices] = True
        self._pending = None
        self._rescore()
        return record

    # --- figures ----------------------------------------------------------------------------

    def _rescore(self) -> None:
        self._p_pool = self.head.predict_proba(self.features.pool_probs)
        self._p_test = self.head.predict_proba(self.features.test_probs)
        self._p_test_positive = self._p_test > 0.5

    def _fill_figures(self, record: RoundRecord, n_labels: int) -> None:
        p = self._p_pool
        counts = np.bincount(self.features.y_pool, minlength=10)
        sums = np.bincount(self.features.y_pool, weights=p, minlength=10)
        record.n_labels = n_labels
        record.weights = [float(w) for w in self.head.weights_]
        record.bias = float(self.head.bias_)
        record.metrics = self.metrics().as_dict()
        record.p_histogram = p_histogram(p)
        record.mean_p_by_digit = (sums / np.maximum(counts, 1)).tolist()

    def start_metrics(self) -> Metrics:
        """Test-set figures of the untrained head (every p = 0.5, so nothing is called positive)."""
        return binary_metrics(self._truth_test, np.zeros(len(self._truth_test), bool))

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
        if data.get("version") != FORMAT_VERSION:
            raise SessionFileError(
                f"session file version {data.get('version')!r} is not supported (expected {FORMAT_VERSION})"
            )
        if check_model and data.get("model_checksum") != features.model_checksum:
            raise SessionFileError(
                "this session was made with another CNN (model checksum "
                f"{data.get('model_checksum')!r}, this app runs {features.model_checksum!r}); "
                "its labels would not mean the same here"
            )
        try:
            settings = SessionSettings.from_dict(data["settings"])
            recorded = [RoundRecord.from_dict(r) for r in data["rounds"]]
        except (KeyError, TypeError, ValueError) as error:
            raise SessionFileError(f"the session file is malformed: {error}") from None
        session = cls(features, settings)
        for record in recorded:
            session.replay_round(record)
        return session

    def replay_round(self, record: RoundRecord, tolerance: float = 1e-6) -> RoundRecord:
        """Submit a recorded round as it was; check the head comes out with the recorded weights."""
        n = len(record.indices)
        if n == 0 or len(record.answers) != n or len(set(record.indices)) != n:
            raise SessionFileError(f"round {record.number} is malformed")
        bad = [i for i in record.indices if not (0 <= int(i) < self.features.pool_size)]
        if bad or not self._available[record.indices].all():
            raise SessionFileError(
                f"round {record.number} asks for pool images {bad or record.indices} "
                "that are out of range or already answered"
            )
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
        replayed.asked_at, replayed.answered_at = record.asked_at, record.answered_at
        if record.weights and not np.allclose(replayed.weights, record.weights, atol=tolerance):
            raise SessionFileError(
                f"replaying round {record.number} gives other head weights than were recorded"
            )
        return replayed

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
    "LabellingSession",
    "RoundRecord",
    "SessionSettings",
    "STRATEGIES",
    "parse_target",
    "target_name",
]
