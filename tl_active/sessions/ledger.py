"""Which images of a task's pool a session has had answered, and how.

The ledger keeps the labels so far (positions in the task's pool and their output indices, in
the order they were answered), the skipped images, which images are still available to offer,
and where each live correction moved an answer, so that a correction is taken back exactly.
It checks answers against the task's (`parse`, a `ProtocolError` on a mismatch) and takes them,
one batch at a time or a run of recorded batches at once; it never fits a head.

Rounds name images by their whole-pool index; the ledger turns them into task positions
through the task's data (`TaskData.local`).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import numpy as np

from tl_active.core.task import SKIP
from tl_active.data.features import TaskData
from tl_active.errors import ProtocolError
from tl_active.sessions.records import RoundRecord


class Ledger:
    """The answers of one session so far, kept as lists that grow with the rounds."""

    def __init__(self, data: TaskData, answer_values: Sequence[str]):
        self.data = data
        self.answer_values = answer_values
        self.output_of = {a: k for k, a in enumerate(answer_values)}
        self.available = np.ones(data.size, bool)
        # Kept as the rounds come, so a round (and a replay) costs the same at round 1 and 1,000.
        self.labelled: list[int] = []  # positions in the task's pool
        self.labels: list[int] = []  # output indices
        self.skipped: list[int] = []  # whole-pool indices
        self.correction_undo: list[int] = []  # where each live correction changed the lists

    def parse(self, answers: Sequence[str], n: int) -> list[str]:
        """`n` answers as the task's answer values, or `ProtocolError`."""
        parsed = [str(a.value if isinstance(a, StrEnum) else a) for a in answers]
        allowed = (*self.answer_values, SKIP)
        if any(a not in allowed for a in parsed):
            raise ProtocolError(f"answers must be {', '.join(allowed)}; got {list(parsed)}")
        if len(parsed) != n:
            raise ProtocolError(f"the batch has {n} images but {len(parsed)} answers were given")
        return parsed

    def take(self, indices: Sequence[int], local: np.ndarray, answers: Sequence[str]) -> None:
        """Mark a batch's images answered and keep its labels and skips, in batch order."""
        self.available[local] = False
        for i, position, a in zip(indices, local, answers):
            if a == SKIP:
                self.skipped.append(int(i))
            else:
                self.labelled.append(int(position))
                self.labels.append(self.output_of[a])

    def take_batches(self, records: Sequence[RoundRecord]) -> np.ndarray | None:
        """Take consecutive recorded batches at once; the count of labels after each.

        None, with nothing taken, when any of them is not plainly a batch of fresh images and
        known answers: those are for one-by-one taking, which names the round at fault.
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
            and self.available[local].all()
            and len(np.unique(local)) == len(local)
        )
        if not fine:
            return None
        self.available[local] = False
        labelled = codes >= 0
        self.labelled.extend(local[labelled].tolist())
        self.labels.extend(codes[labelled].tolist())
        self.skipped.extend(np.asarray(indices, np.int64)[~labelled].tolist())
        before = len(self.labelled) - int(labelled.sum())
        per_round = np.add.reduceat(labelled.astype(np.intp), np.cumsum(sizes) - sizes)
        return before + np.cumsum(per_round)

    def undo_batch(self, record: RoundRecord) -> None:
        """Give a batch's images back to the pool, and drop its labels and skips."""
        self.available[self.data.local(record.indices)] = True
        n_skipped = sum(a == SKIP for a in record.answers)
        n_labelled = len(record.answers) - n_skipped
        del self.labelled[len(self.labelled) - n_labelled :]
        del self.labels[len(self.labels) - n_labelled :]
        del self.skipped[len(self.skipped) - n_skipped :]

    def change(self, index: int, old: str, answer: str) -> None:
        """Move one answered image from its old answer to a new one, remembering where."""
        local = int(self.data.local([index])[0])
        if old == SKIP:
            position = self.skipped.index(int(index))
            del self.skipped[position]
            self.labelled.append(local)
            self.labels.append(self.output_of[answer])
        else:
            position = self.labelled.index(local)
            if answer == SKIP:
                del self.labelled[position], self.labels[position]
                self.skipped.append(int(index))
            else:
                self.labels[position] = self.output_of[answer]
        self.correction_undo.append(position)

    def undo_correction(self, record: RoundRecord) -> None:
        """Give a corrected image its earlier answer back, where it was."""
        (index,), (answer,), (old,) = record.indices, record.answers, record.previous
        local = int(self.data.local([index])[0])
        position = self.correction_undo.pop()
        if old == SKIP:
            self.labelled.pop()
            self.labels.pop()
            self.skipped.insert(position, int(index))
        elif answer == SKIP:
            self.skipped.pop()
            self.labelled.insert(position, local)
            self.labels.insert(position, self.output_of[old])
        else:
            self.labels[position] = self.output_of[old]

    def answer_of(self, index: int) -> str | None:
        """The live answer to a whole-pool image, or None if it was never answered."""
        local = int(self.data.local([index])[0])
        if local < 0 or self.available[local]:
            return None
        if local in self.labelled:
            return self.answer_values[self.labels[self.labelled.index(local)]]
        return SKIP

    def live_answers(self) -> dict[int, str]:
        """`answer_of` every image answered so far, by whole-pool index, in one pass."""
        answers = dict.fromkeys(self.skipped, SKIP)
        pool = self.data.pool_index
        for local, label in zip(self.labelled, self.labels, strict=True):
            answers[int(pool[local])] = self.answer_values[label]
        return answers


__all__ = ["Ledger"]
