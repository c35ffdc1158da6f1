"""What a session is and what each of its rounds leaves behind: the records every part reads.

`SessionSettings` (backbone and layer, task, strategy, batch size, head mode, seed, which
head (the plain one, or the pool-taught one of `core/pool_teacher.py`), for an image folder
its path, checksum and named answers, for weather windows their question) and
`RoundRecord` (one submitted batch, one corrected answer or one region of the pool map
answered at once, and the head and figures after it) are defined once here, with their
validation, and the session, the store and the manifest reader all use them as they are. The
session file's format name and versions live here too, with `upgrade_round`, which reads a
round of an older version in today's fields.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum

from tl_active.core.head import HEAD_MODES
from tl_active.core.pool_teacher import POOL_RULES, TEACHERS
from tl_active.core.strategies import (
    DEFAULT_STRATEGY,
    FEATURES_DEFAULT_STRATEGY,
    REGISTRY,
    allowed_strategies,
)
from tl_active.core.task import (
    BINARY,
    MULTICLASS,
    NEGATIVE,
    ODD,
    POSITIVE,
    SKIP,
    Task,
    parse_classes,
)
from tl_active.data.backbones import DEFAULT_BACKBONE, DIGITS_LAYER
from tl_active.data.weather import QUESTIONS

FORMAT = "tl-active-session"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
MAX_BATCH = 16
MAX_SEED = 2**63 - 1  # what a 64-bit database integer holds
MAX_NAME = 4_096  # a backbone's path or a layer's name: the longest path Linux opens
BATCH, CORRECTION = "batch", "correction"
# The task of every weather question: its windows' class 1 (snow, wet) is the positive answer.
WEATHER_TASK = Task(BINARY, (1,))
# A round of its own in which the person gave one answer to every image of a region they chose
# on the pool map, rather than to a batch the strategy picked.
BULK = "bulk"
KINDS = (BATCH, CORRECTION, BULK)
# How a correction made on a second look at a suspect answer (Look again) begins its reason.
LOOKED_AGAIN = "looked again"
# Which head a session fits: on the person's answers alone, or on them and the pseudo-labels
# spread over the pool (`core/pool_teacher.py`). A session stored before there was a choice
# has no `head` in its settings and reads as the plain one.
PLAIN_HEAD, POOL_HEAD = "plain", "pool"
HEADS = (PLAIN_HEAD, POOL_HEAD)


def layer_default(reads_probabilities: bool) -> tuple[str, str]:
    """The default strategy and head for a layer: of class probabilities, or of features.

    On class probabilities (the demo's softmax outputs) `diversity` with the plain head reaches
    the frozen head's ceiling in a dozen labels, and a room's server time stays low. On a
    layer of features (an embedding, the weather network's Dense layer) `phased` with the
    pool-taught head led it on every task measured: digits 0-4 on the 5-9 network's embedding,
    a folder read through it and snow on the weather windows (docs/compare-and-sweeps.md,
    "The default follows the layer").
    """
    if reads_probabilities:
        return DEFAULT_STRATEGY, PLAIN_HEAD
    return FEATURES_DEFAULT_STRATEGY, POOL_HEAD


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
    # Weather windows (`data/weather.py`): the question asked of them, such as "snow-today";
    # empty for MNIST and image folders.
    weather: str = ""
    head: str = PLAIN_HEAD
    # The pool-taught head's rules (`pool_teacher.TEACHERS`): a pool-taught session stored
    # before they were numbered has none and reads as rules 1.
    pool_rules: int = POOL_RULES

    def __post_init__(self) -> None:
        object.__setattr__(self, "task", _as_task(self.task))
        object.__setattr__(self, "answers", tuple(self.answers))
        if not isinstance(self.strategy, str) or self.strategy not in REGISTRY:
            # Short: a manifest's refusal quotes it, and the registry's full list grows.
            raise ValueError(
                f"unknown strategy {reprlib.repr(self.strategy)}: not one this version knows"
            )
        if self.strategy not in allowed_strategies(self.task):
            raise ValueError(f"strategy {reprlib.repr(self.strategy)} needs a binary task")
        if self.head_mode not in HEAD_MODES:
            raise ValueError(
                f"unknown head mode {reprlib.repr(self.head_mode)}; "
                f"choose one of {', '.join(HEAD_MODES)}"
            )
        if self.head not in HEADS:
            raise ValueError(
                f"unknown head {reprlib.repr(self.head)}; choose one of {', '.join(HEADS)}"
            )
        if (
            not isinstance(self.pool_rules, int)
            or isinstance(self.pool_rules, bool)
            or self.pool_rules not in TEACHERS
        ):
            raise ValueError(
                f"unknown pool-taught rules {reprlib.repr(self.pool_rules)}; "
                f"one of {', '.join(map(str, TEACHERS))}"
            )
        if self.head == POOL_HEAD and self.head_mode != "converge":
            raise ValueError(
                "the pool-taught head is fitted to convergence, not by the demo's steps"
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
        if self.weather:
            if not isinstance(self.weather, str) or self.weather not in QUESTIONS:
                raise ValueError(
                    f"unknown weather question {reprlib.repr(self.weather)}; "
                    f"choose one of {', '.join(QUESTIONS)}"
                )
            if self.images or self.answers:
                raise ValueError("a session is on weather windows or on images, not both")
            if self.task != WEATHER_TASK:
                raise ValueError("a weather question is binary: its positive answer is class 1")
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
        # An MNIST session's settings stay as they were before image folders, and a plain
        # head's as they were before the pool-taught one.
        if data["head"] == PLAIN_HEAD:
            del data["head"], data["pool_rules"]
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
            "weather",
            "head",
        ):
            if name in names and name in data and not isinstance(data[name], str):
                raise ValueError(f"{name} must be text, not {reprlib.repr(data[name])}")
        for name in ("batch_size", "seed", "pool_rules"):
            if name in data and (not isinstance(data[name], int) or isinstance(data[name], bool)):
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
            weather=data.get("weather", ""),
            head=data.get("head", PLAIN_HEAD),
            pool_rules=data.get(
                "pool_rules", 1 if data.get("head", PLAIN_HEAD) == POOL_HEAD else POOL_RULES
            ),
        )

    def summary(self, class_names: Sequence[str] | None = None) -> str:
        """One line for people: 'odd, diversity, batch 4, converge, seed 0 (mnist-cnn/digits)'.

        `class_names` name the classes of the question (a folder's `eight,three`); without
        them a folder's classes are counted (their indices mean nothing to a person) and
        MNIST's are its digits."""
        if self.answers:
            question = ",".join(self.answers)
        elif self.weather:
            question = QUESTIONS[self.weather].text
        elif self.images and class_names is None:
            question = f"{len(self.task.classes)} classes"
        else:
            question = self.task.name(class_names)
        where = (
            f" on {self.images}" if self.images else " on weather windows" if self.weather else ""
        )
        mode = self.head_mode + (", pool-taught" if self.head == POOL_HEAD else "")
        return (
            f"{question}, {self.strategy}, batch {self.batch_size}, {mode}, "
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
_OPTIONAL_SETTINGS = (
    "images",
    "images_checksum",
    "answers",
    "continued_from",
    "weather",
    "head",
    "pool_rules",
)
# The first format's settings: a binary target on the shared CNN's digits.
_V1_SETTINGS = ("target", "strategy", "batch_size", "head_mode", "seed")


@dataclass
class RoundRecord:
    """One submitted batch, or one corrected answer, and the head and its figures after it.

    The one definition of a round: the session makes it, the store keeps it as it is, and the
    manifest reader checks it field by field. A `correction` round changes the answer to one
    image answered in an earlier round (`previous` holds the answer it replaces); it is stored,
    exported and replayed like a batch, so a session's history keeps every answer ever given.
    A `bulk` round answers images the person chose on the pool map, all with one answer; it
    takes its images from the pool as a batch does, and undo gives them back.
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
    p_histogram: list[int] = field(default_factory=list)  # p over the pool, see figures.py
    mean_p_by_class: list[float] = field(default_factory=list)  # see p_by_class
    simulated: bool = False  # answered by the data's ground truth, not a person
    asked_at: float = 0.0  # unix time the batch was offered
    answered_at: float = 0.0  # unix time it was submitted
    kind: str = BATCH  # BATCH, CORRECTION of one earlier answer, or BULK
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
        if self.kind not in KINDS:
            raise ValueError(f"a round is one of {', '.join(map(repr, KINDS))}, not {self.kind!r}")

    @property
    def is_correction(self) -> bool:
        return self.kind == CORRECTION

    @property
    def is_bulk(self) -> bool:
        """Whether this round answered a region of the pool map, all with one answer."""
        return self.kind == BULK

    @property
    def looked_again(self) -> bool:
        """Whether this is a correction made on looking again at a suspect answer."""
        return self.is_correction and self.reasons[0].startswith(LOOKED_AGAIN)


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
