"""The data kind: one abstraction for what differs between MNIST, an image folder and the rest.

A kind's words are class attributes, so that a message is written once with the kind's words
in it (`f"... agree with {kind.truth}."`) and reads as it always did on MNIST. Its items are
named by their index in the pool, as every round records them; the kind turns that index into
what a person sees: a name, a thumbnail, the truth.
"""

from __future__ import annotations

import re
import string
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np


def answer_keys(answers: Sequence[str], reserved: Sequence[str] = ()) -> tuple[str, ...]:
    """One keyboard key per answer, from the answers' names where they allow it.

    Digits where every answer is one digit (MNIST's `0`-`9`); else each answer's first letter
    where those are distinct letters and none is `reserved` (`eight`, `three`: E, T); else the
    numbers 1 to 9 and 0, then the letters left.
    """
    names = [str(a) for a in answers]
    reserved = {r.lower() for r in reserved}
    if all(len(n) == 1 and n.isdigit() for n in names) and len(set(names)) == len(names):
        return tuple(names)
    firsts = [n[:1].lower() for n in names]
    if len(set(firsts)) == len(firsts) and all(
        f in string.ascii_lowercase and f not in reserved for f in firsts
    ):
        return tuple(firsts)
    spare = [k for k in "1234567890" + string.ascii_lowercase if k not in reserved]
    if len(names) > len(spare):
        raise ValueError(f"{len(names)} answers are more than there are keys ({len(spare)})")
    return tuple(spare[: len(names)])


_IMAGE_WORD = re.compile(r"\b([Ii])mage(s?)\b")


class DataKind(ABC):
    """What a feature set's items are, how people see them and what their truth is called.

    `class_names` are the data's classes, by index (empty for images without known classes).
    """

    name: ClassVar[str]  # what the data is: "MNIST", "image folder"
    items: ClassVar[str]  # what a person labels, in the plural: "digits", "images"
    item: ClassVar[str] = "image"  # one of the pool's items, as the page names it: "window"
    class_word: ClassVar[str]  # what one class is: "digit", "class"
    truth: ClassVar[str]  # what answers are checked against: "MNIST's ground truth"
    truth_is_plural: ClassVar[bool] = False  # "the class folders disagree", "MNIST's ... disagrees"
    true_class: ClassVar[str]  # what an item's class is called: "MNIST's true class"
    auto_answerer: ClassVar[str]  # who answered an auto-labelled round: "MNIST (auto)"
    item_column: ClassVar[str]  # the heading of the column that names items in a table
    # Whether its labels CSV names items by pool index in the columns MNIST's always had
    # (`exchange.LABEL_COLUMNS`); otherwise by `item_id`, with who answered and the head's p.
    indexed_csv: ClassVar[bool] = False
    # The longer side, in pixels, of the tile a page answers an item on: MNIST's 28 x 4.
    tile_px: ClassVar[int] = 112
    # What a tile's picture shows, said once beside the batch where it is not plain ('').
    tile_legend: ClassVar[str] = ""
    # How large the history shows an item's picture: `history_px` its longer side (beside the
    # change form's picker too), `history_row_px` the table's rows (None: the table's own, about
    # 35 px, which a digit or a photo's thumbnail reads at).
    history_px: ClassVar[int] = 56
    history_row_px: ClassVar[int | None] = None
    # Whether a backbone can be fine-tuned on a session's labels (it reads the images again).
    fine_tunable: ClassVar[bool] = False

    class_names: tuple[str, ...]

    @property
    @abstractmethod
    def has_truth(self) -> bool:
        """Whether every item has a known class, so answers can be checked and a test set held."""

    @abstractmethod
    def item_id(self, index: int) -> int | str:
        """The pool item as a table or a CSV names it: its index, or its path."""

    @abstractmethod
    def item_name(self, index: int) -> str:
        """The pool item as a sentence or a picker names it ('pool image 4211', a path)."""

    @abstractmethod
    def short_name(self, index: int) -> str:
        """The pool item in a line that lists several ('image 4211', a path)."""

    @abstractmethod
    def test_item_id(self, index: int) -> int | str:
        """The held-out test item as a CSV names it."""

    @abstractmethod
    def thumbnail_png(self, index: int, size: int) -> bytes:
        """The pool item drawn as a PNG `size` pixels on its longer side (square for images)."""

    @abstractmethod
    def says(self, class_name: str) -> str:
        """What the truth says of an item of this class: 'MNIST says 3'."""

    @abstractmethod
    def test_split(self, n_test: int) -> str:
        """How the held-out test set was made, for people ('' when there is none)."""

    def network_inputs(self, indices: Sequence[int]) -> np.ndarray:
        """What a backbone reads for these pool items, for fine-tuning it on their answers
        (MNIST's images in [0, 1], a window's standardised days); only a `fine_tunable` kind
        has them."""
        raise NotImplementedError(f"{self.name} items are not read again by their backbone")

    def tile_title(self, index: int) -> str:
        """A line over the pool item's tile that names it, where its picture does not ('')."""
        return ""

    @property
    def origin(self) -> str:
        """Where the items come from and how they were prepared ('' for a shipped data set)."""
        return ""

    def in_own_words(self, text: str) -> str:
        """`text` written about images, with "image" said as this kind says its item ("window").

        For a sentence shared by every kind (a strategy's description, a help text): the kind's
        own sentences are written in its words to begin with.
        """
        if self.item == "image":
            return text

        def said(match: re.Match) -> str:
            word = self.item + ("s" if match.group(2) else "")
            return word[:1].upper() + word[1:] if match.group(1) == "I" else word

        return _IMAGE_WORD.sub(said, text)

    def answer_keys(self, answers: Sequence[str], reserved: Sequence[str] = ()) -> tuple[str, ...]:
        """The keys that answer with each of `answers` (see `answer_keys`)."""
        return answer_keys(answers, reserved)

    def class_name(self, class_index: int) -> str:
        return self.class_names[int(class_index)]
