"""A room of people labelling at once, as the presenter sees it: their curves and a leader board.

The store hands over plain points (session, labels, test accuracy after each live round); here
they become one curve per session, grouped by configuration, since sessions that read another
backbone or layer, or answer another question, have another ceiling and are not compared. The
leader board of a configuration orders its sessions by the labels they needed to reach
`REACHED` of the frozen-head ceiling: fewest first, then those still on their way, best first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

import altair as alt
import pandas as pd

from tl_active.core.task import Task
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.store import RoomPoint

REACHED = 0.99  # of the frozen-head ceiling's test accuracy
SHORT_ID = 6  # characters of a session id that name it in the room


@dataclass(frozen=True)
class Configuration:
    """What makes sessions comparable: the backbone, its layer and the question."""

    backbone: str
    layer: str
    task: Task

    def name(self) -> str:
        """'odd on mnist-cnn/digits'; a backbone given as a file by its file's name alone (a
        whole temporary path made the room's headings run across the page)."""
        return f"{self.task.name()} on {PurePath(self.backbone).name}/{self.layer}"


@dataclass(frozen=True)
class Curve:
    """One session's learning curve: test accuracy against labels, one point per live round."""

    session_id: str
    strategy: str
    n_labels: list[int]
    accuracy: list[float]

    @property
    def name(self) -> str:
        return self.session_id[:SHORT_ID]


@dataclass(frozen=True)
class Standing:
    """A session's line on the leader board."""

    name: str
    strategy: str
    labels_to_reach: int | None  # the fewest labels at which it reached the mark; None if not yet
    best_accuracy: float
    n_labels: int  # labels so far


def configuration_of(settings: dict) -> Configuration | None:
    """The configuration of stored settings; None if they cannot be read, or if the session
    labels an image folder (a person's own images are not the room's shared question)."""
    try:
        parsed = SessionSettings.from_dict(settings)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    if parsed.images:
        return None
    return Configuration(parsed.backbone, parsed.layer, parsed.task)


def curves_by_configuration(points: list[RoomPoint]) -> dict[Configuration, list[Curve]]:
    """The curves of every session with a round, grouped; unreadable settings are left out."""
    by_session: dict[str, list[RoomPoint]] = {}
    for point in points:
        if point.accuracy is not None:
            by_session.setdefault(point.session_id, []).append(point)
    grouped: dict[Configuration, list[Curve]] = {}
    for session_id, own in by_session.items():
        configuration = configuration_of(own[0].settings)
        if configuration is None:
            continue
        own.sort(key=lambda p: p.number)
        grouped.setdefault(configuration, []).append(
            Curve(
                session_id,
                str(own[0].settings.get("strategy", "")),
                [int(p.n_labels) for p in own],
                [float(p.accuracy) for p in own],
            )
        )
    return grouped


def leader_board(curves: list[Curve], ceiling: float | None) -> list[Standing]:
    """Who reached `REACHED` of `ceiling` with the fewest labels, then the rest by accuracy.

    Without a ceiling (it could not be computed) nobody has reached it; the order is by best
    accuracy.
    """
    mark = None if ceiling is None else REACHED * ceiling
    standings = []
    for curve in curves:
        reached = [
            n for n, a in zip(curve.n_labels, curve.accuracy) if mark is not None and a >= mark
        ]
        standings.append(
            Standing(
                curve.name,
                curve.strategy,
                min(reached) if reached else None,
                max(curve.accuracy),
                curve.n_labels[-1],
            )
        )
    return sorted(
        standings,
        key=lambda s: (
            s.labels_to_reach is None,
            s.labels_to_reach or 0,
            -s.best_accuracy,
            s.n_labels,
            s.name,
        ),
    )


def room_chart(curves: list[Curve], ceiling: float | None) -> alt.LayerChart | alt.Chart:
    """Every curve of one configuration on one chart, each session a line, with the ceiling."""
    data = pd.DataFrame(
        [
            {"who": c.name, "strategy": c.strategy, "labels": n, "accuracy": a}
            for c in curves
            for n, a in zip(c.n_labels, c.accuracy)
        ]
    )
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("labels:Q", title="labels"),
            y=alt.Y("accuracy:Q", title="test accuracy", scale=alt.Scale(zero=False)),
            color=alt.Color("who:N", title="session"),
            tooltip=["who", "strategy", "labels", alt.Tooltip("accuracy:Q", format=".2%")],
        )
    )
    if ceiling is None:
        return lines.properties(height=380)
    mark = pd.DataFrame({"accuracy": [ceiling], "what": ["frozen-head ceiling"]})
    rule = alt.Chart(mark).mark_rule(strokeDash=[6, 4], color="gray").encode(y="accuracy:Q")
    return alt.layer(lines, rule).properties(height=380)


__all__ = [
    "REACHED",
    "Configuration",
    "Curve",
    "Standing",
    "configuration_of",
    "curves_by_configuration",
    "leader_board",
    "room_chart",
]
