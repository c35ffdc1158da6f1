"""Text from outside the app: checked before it is kept, escaped before it is shown.

A manifest, a file name or a folder's path is text someone else wrote. Before the app keeps
such text it must be well-formed Unicode (a lone UTF-16 surrogate could be stored but never
written out again), free of control characters (NUL, escape sequences, the bidirectional
overrides and isolates that make text read other than it is) and of a bounded length. Text
that is only quoted in a message (a file's name) is escaped instead, so that it reaches a
terminal or a page as visible characters and never as a command.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# C0 and C1 controls and DEL; the bidirectional embeddings and overrides (U+202A-202E) and
# isolates (U+2066-2069); and the surrogates, which only a lone one (never a pair, in a
# Python string) can put in a string.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def text_problem(value: str, max_length: int) -> str | None:
    """What is wrong with `value` as text to keep, in a few words, or None if nothing is."""
    if len(value) > max_length:
        return f"is {len(value):,} characters long; at most {max_length:,} are taken"
    bad = _UNSAFE.search(value)
    if bad is None:
        return None
    code = ord(bad.group())
    if 0xD800 <= code <= 0xDFFF:
        return f"is not well-formed Unicode (a lone surrogate, U+{code:04X})"
    return f"holds a control character (U+{code:04X})"


def check_text(values: str | Iterable[str], what: str, max_length: int) -> None:
    """Refuse (`ValueError`, one line naming `what`) text that `text_problem` finds wrong.

    `values` is one string or several (a round's reasons), each held to `max_length`.
    """
    for value in [values] if isinstance(values, str) else values:
        problem = text_problem(value, max_length)
        if problem is not None:
            raise ValueError(f"{what} {problem}")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def shown(value: object) -> str:
    """`value` as text safe to print or show: control characters and surrogates escaped.

    A file named with a terminal escape sequence (ESC [ 2 J) is shown as `\\x1b[2J`, a
    right-to-left override as `\\u202e`, a name that is not UTF-8 as its escaped bytes.
    """
    return _UNSAFE.sub(_escape, str(value))
