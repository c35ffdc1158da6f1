"""The answers a session offers: each one's value, label, key and colour, Skip last.

The grid, the history, the correction form and "Check my labels" all name answers by these.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from tl_active import plots
from tl_active.core.task import EVEN, ODD, SKIP, Task
from tl_active.data.kinds import DataKind
from tl_active.sessions.session import LabellingSession
from ui.components.labelling_grid import DEFAULT_COLOURS, SKIP_COLOUR, UNDO_KEY


@dataclass(frozen=True)
class AnswerOption:
    """One answer as the page offers it: the session's value, a label, a key, a neutral colour."""

    value: str
    label: str
    key: str
    colour: str  # a class, never right or wrong: no green and red

    def for_grid(self) -> dict[str, str]:
        return {"value": self.value, "label": self.label, "key": self.key, "colour": self.colour}


def answer_options(task: Task, kind: DataKind, named: tuple[str, ...] = ()) -> list[AnswerOption]:
    """The answers of a task, then Skip.

    Binary: Odd/Even (keys O, E) for parity; the data's two class names where it has just two
    (weather's snow / no snow: S, N); else Positive/Negative (P, N). K classes: one per class,
    its key from the class's name as the data kind gives it (MNIST's digits, a folder's first
    letters, numbers otherwise); `named`: the answers a person named for images without
    classes. S skips, unless an answer's first letter is S: then the next letter of "skip"
    that no answer takes does, so that answers keep their own letters.
    """
    if task.is_binary and task.positive in (ODD, EVEN):
        yes, no = ("Odd", "Even") if task.positive == ODD else ("Even", "Odd")
        options = [
            AnswerOption("positive", yes, yes[0].lower(), DEFAULT_COLOURS[0]),
            AnswerOption("negative", no, no[0].lower(), DEFAULT_COLOURS[1]),
        ]
    elif task.is_binary and len(kind.class_names) == 2 and task.classes == (1,):
        words = (kind.class_names[1], kind.class_names[0])
        letters = kind.answer_keys(words, reserved=(UNDO_KEY,))
        options = [
            AnswerOption(value, word[:1].upper() + word[1:], key, DEFAULT_COLOURS[k])
            for k, (value, word, key) in enumerate(
                zip(("positive", "negative"), words, letters, strict=True)
            )
        ]
    elif task.is_binary:
        name = "{" + task.name(kind.class_names) + "}"
        options = [
            AnswerOption("positive", f"Positive {name}", "p", DEFAULT_COLOURS[0]),
            AnswerOption("negative", "Negative", "n", DEFAULT_COLOURS[1]),
        ]
    else:
        names = named or task.answers(kind.class_names)
        answer_keys = kind.answer_keys(names, reserved=(UNDO_KEY,))
        options = [
            AnswerOption(name, name, key, DEFAULT_COLOURS[k % len(DEFAULT_COLOURS)])
            for k, (name, key) in enumerate(zip(names, answer_keys, strict=True))
        ]
    taken = {o.key for o in options}
    spare = (*"skipx", *string.digits, *string.ascii_lowercase)
    skip_key = next(k for k in spare if k not in taken and k != UNDO_KEY)
    return [*options, AnswerOption(SKIP, "Skip", skip_key, SKIP_COLOUR)]


def session_options(session: LabellingSession) -> list[AnswerOption]:
    """The answers `session` offers: its task's, in its data's words or the ones its person named."""
    return answer_options(session.task, session.features.kind, session.settings.answers)


def answer_word(answer: str, options: list[AnswerOption]) -> str:
    return {o.value: o.label for o in options}[answer]


def rare_answer_name(session: LabellingSession) -> str:
    """The rare answer of a session (`LabellingSession.rare_output`) as a sentence says it:
    'snow', a folder's class as its folder is named, '{0}' (a set of digits), 'not odd'."""
    task, names = session.task, session.features.class_names
    if not task.is_binary:
        return session.rare_answer  # a class's name, as the data writes it
    positive = plots.answer_name(task, names)
    if session.rare_output == 1:
        return positive
    # The negative answer is rare: named by its class where the data names two ("no snow").
    return names[0] if len(names) == 2 and task.classes == (1,) else f"not {positive}"
