"""What a person answers about each image: a binary question or one of K named classes.

- **binary**: a set of the data's classes is the positive answer (odd digits, even digits, any
  set such as 2,3,5,7); the pool and the test set hold every image. Answers are `positive`,
  `negative` or `skip`.
- **multi-class**: K of the data's classes, each its own answer (digits 0-4, say); the pool and
  the test set hold only those classes' images. Answers are the class names, or `skip`.

A task speaks of the data's classes by their index (for MNIST the digit itself) and of answers
by the head's output index: for a binary task 1 is positive and 0 negative, for a multi-class
task k is the k-th class of the task. `truth` turns the data's classes into those indices.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

POSITIVE, NEGATIVE, SKIP = "positive", "negative", "skip"
BINARY, MULTICLASS = "binary", "multiclass"
ODD = frozenset({1, 3, 5, 7, 9})
EVEN = frozenset({0, 2, 4, 6, 8})


def parse_classes(text: str | Sequence[int], n_classes: int = 10) -> tuple[int, ...]:
    """Class indices from `0-4`, `0,2,4`, `odd`, `even` or a sequence of ints, sorted and unique."""
    if isinstance(text, str):
        word = text.strip().lower()
        if word in ("odd", "even"):
            return tuple(sorted(ODD if word == "odd" else EVEN))
        values: list[int] = []
        try:
            for part in word.replace(" ", "").split(","):
                if not part:
                    continue
                low, dash, high = part.partition("-")
                if dash:
                    values.extend(range(int(low), int(high) + 1))
                else:
                    values.append(int(part))
        except ValueError:
            raise ValueError(
                f"{text!r} is neither 'odd', 'even' nor digits such as 2,3,5,7 or 0-4"
            ) from None
    else:
        values = [int(v) for v in text]
    classes = tuple(sorted(set(values)))
    outside = [c for c in classes if not 0 <= c < n_classes]
    if outside:
        raise ValueError(f"classes {outside} are outside 0-{n_classes - 1}")
    return classes


def classes_by_name(text: str, class_names: Sequence[str]) -> tuple[int, ...]:
    """Class indices from names separated by commas (`cat,dog`), sorted and unique.

    For a folder of images, whose classes are its subfolders' names. A name that is not one of
    them is a `ValueError` listing those there are.
    """
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in class_names]
    if unknown or not names:
        raise ValueError(
            f"{reprlib.repr(', '.join(unknown) or text)} is not among the classes "
            f"({reprlib.repr(', '.join(class_names))}); name them as the folders are, by commas"
        )
    return tuple(sorted({list(class_names).index(name) for name in names}))


@dataclass(frozen=True)
class Task:
    """The question of a session: `kind` and the data classes it names (sorted)."""

    kind: str
    classes: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.kind not in (BINARY, MULTICLASS):
            raise ValueError(
                f"a task is {BINARY!r} or {MULTICLASS!r}, not {reprlib.repr(self.kind)}"
            )
        object.__setattr__(self, "classes", tuple(sorted({int(c) for c in self.classes})))
        if self.kind == BINARY and not self.classes:
            raise ValueError("a binary task needs at least one positive class")
        if self.kind == MULTICLASS and len(self.classes) < 2:
            raise ValueError("a multi-class task needs at least two classes")

    @classmethod
    def binary(cls, positive: str | Sequence[int] | frozenset[int], n_classes: int = 10) -> Task:
        task = cls(BINARY, parse_classes(positive, n_classes))
        if len(task.classes) == n_classes:
            raise ValueError(f"target {positive!r} must leave some classes negative")
        return task

    @classmethod
    def multiclass(cls, classes: str | Sequence[int], n_classes: int = 10) -> Task:
        return cls(MULTICLASS, parse_classes(classes, n_classes))

    @property
    def is_binary(self) -> bool:
        return self.kind == BINARY

    @property
    def positive(self) -> frozenset[int]:
        """The positive classes of a binary task."""
        return frozenset(self.classes) if self.is_binary else frozenset()

    @property
    def n_outputs(self) -> int:
        """How many answers (not counting skip): 2 for binary, K for multi-class."""
        return 2 if self.is_binary else len(self.classes)

    def answers(self, class_names: Sequence[str]) -> tuple[str, ...]:
        """The answer values, by output index: (negative, positive) or the class names."""
        if self.is_binary:
            return (NEGATIVE, POSITIVE)
        return tuple(class_names[c] for c in self.classes)

    def in_task(self, y: np.ndarray) -> np.ndarray:
        """Which images belong to the task's pool and test set."""
        if self.is_binary:
            return np.ones(len(y), bool)
        return np.isin(y, self.classes)

    def truth(self, y: np.ndarray) -> np.ndarray:
        """The output index each image of the task should get (1/0 for binary, k for K classes)."""
        y = np.asarray(y)
        # A table by class rather than `np.isin`, whose set-up costs more than a batch's lookup.
        size = max(max(self.classes), int(y.max(initial=0))) + 1
        if self.is_binary:
            lookup = np.zeros(size, np.intp)
            lookup[list(self.classes)] = 1
            return lookup[y]
        lookup = np.full(size, -1, np.intp)
        lookup[list(self.classes)] = np.arange(len(self.classes))
        return lookup[y]

    def name(self, class_names: Sequence[str] | None = None) -> str:
        """'odd', 'even', '2,3,5,7' for binary; '0-4' or '0,6,8' as classes for multi-class."""
        if self.is_binary and self.positive == ODD and class_names in (None, DIGITS):
            return "odd"
        if self.is_binary and self.positive == EVEN and class_names in (None, DIGITS):
            return "even"
        names = [class_names[c] if class_names else str(c) for c in self.classes]
        contiguous = self.classes == tuple(range(self.classes[0], self.classes[-1] + 1))
        if self.kind == MULTICLASS and contiguous and len(names) > 2:
            return f"{names[0]}-{names[-1]}"
        return ",".join(names)

    def describe(self, class_names: Sequence[str] | None = None) -> str:
        """For people: 'odd vs not' or 'classes 0-4'."""
        if self.is_binary:
            return f"{self.name(class_names)} (binary)"
        return f"classes {self.name(class_names)}"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, data: dict) -> Task:
        """The task `as_dict()` wrote, exactly, or a `ValueError`: nothing is coerced."""
        if not isinstance(data, dict) or sorted(data) != ["classes", "kind"]:
            raise ValueError("a task must be an object with a kind and its classes")
        classes = data["classes"]
        if (
            not isinstance(classes, list)
            or not all(isinstance(c, int) and not isinstance(c, bool) for c in classes)
            or classes != sorted(set(classes))
        ):
            raise ValueError(
                "a task's classes must be whole numbers, each once, in increasing order"
            )
        if not isinstance(data["kind"], str):
            raise ValueError(f"a task is {BINARY!r} or {MULTICLASS!r}")
        return cls(data["kind"], tuple(classes))


DIGITS = tuple(str(d) for d in range(10))
ODD_TASK = Task(BINARY, tuple(sorted(ODD)))
