"""The room: curves grouped by configuration, the leader board, and the Room page itself."""

from pathlib import Path

import pytest

from tl_active.core.task import Task
from tl_active.experiments.room import (
    Configuration,
    Curve,
    curves_by_configuration,
    leader_board,
    room_chart,
)
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.store import RoomPoint

APP = str(Path(__file__).resolve().parent.parent / "app.py")
ODD = SessionSettings().as_dict()
EVEN = SessionSettings(task="even").as_dict()


def points(session_id: str, settings: dict, curve: list[tuple[int, float]]) -> list[RoomPoint]:
    return [
        RoomPoint(session_id, settings, k + 1, n, a, 1000.0 + k) for k, (n, a) in enumerate(curve)
    ]


def test_curves_are_grouped_by_configuration_and_unreadable_settings_left_out():
    rows = [
        *points("aaaaaaaa11", ODD, [(4, 0.6), (8, 0.9)]),
        *points("bbbbbbbb22", ODD, [(4, 0.7)]),
        *points("cccccccc33", EVEN, [(4, 0.5)]),
        *points("dddddddd44", {"strategy": "nonsense"}, [(4, 0.5)]),
    ]
    grouped = curves_by_configuration(rows)
    assert sorted(c.name() for c in grouped) == [
        "even on mnist-cnn/digits",
        "odd on mnist-cnn/digits",
    ]
    odd = next(curves for c, curves in grouped.items() if c.task.name() == "odd")
    assert [(c.name, c.n_labels, c.accuracy) for c in odd] == [
        ("aaaaaa", [4, 8], [0.6, 0.9]),
        ("bbbbbb", [4], [0.7]),
    ]


def test_the_leader_board_orders_by_labels_to_the_mark_then_by_accuracy():
    curves = [
        Curve("slow000000", "random", [4, 8, 12, 16], [0.5, 0.8, 0.95, 0.99]),
        Curve("fast000000", "representative", [4, 8, 12], [0.6, 0.991, 0.97]),
        Curve("near000000", "uncertainty", [4, 8], [0.6, 0.97]),
        Curve("far0000000", "random", [4], [0.6]),
    ]
    board = leader_board(curves, ceiling=1.0)
    assert [(s.name, s.labels_to_reach) for s in board] == [
        ("fast00", 8),  # reached 99 % at 8 labels, even though it dipped later
        ("slow00", 16),
        ("near00", None),
        ("far000", None),
    ]
    assert board[0].best_accuracy == 0.991 and board[0].n_labels == 12
    assert [s.labels_to_reach for s in leader_board(curves, ceiling=None)] == [None] * 4
    assert room_chart(curves, 1.0).to_dict()["layer"]  # lines and the ceiling's rule


def test_a_configuration_names_a_backbone_file_by_its_name_not_its_whole_path():
    configuration = Configuration(
        "/tmp/tmpa8x2k/upload-3f9c/my net.keras", "dense", Task.binary("odd")
    )
    assert configuration.name() == "odd on my net.keras/dense"
    assert (
        Configuration("mnist-cnn", "digits", Task.binary("odd")).name() == "odd on mnist-cnn/digits"
    )


@pytest.mark.model
def test_the_room_page_draws_two_stored_sessions_and_ranks_them(app_db):
    from streamlit.testing.v1 import AppTest

    from tl_active.sessions.figures import frozen_head_ceiling
    from tl_active.sessions.session import LabellingSession
    from tl_active.sessions.store import SessionStore
    from ui.support import features_for

    features = features_for("mnist-cnn", "digits")
    store = SessionStore(app_db)
    ids = []
    for strategy, rounds in (("representative", 3), ("random", 2)):
        session = LabellingSession(features, SessionSettings(strategy=strategy))
        session.auto_label(rounds)
        ids.append(store.create(session))
    store.close()

    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("ui/pages/room.py").run()
    assert not at.exception, [e.value for e in at.exception]

    ceiling = frozen_head_ceiling(features, session.task).accuracy
    assert [h.value for h in at.subheader] == [
        f"odd on mnist\\-cnn\\/digits: 2 sessions, ceiling {ceiling:.2%}"
    ]
    board = at.dataframe[0].value
    assert list(board["session"]) == [ids[0][:6], ids[1][:6]]  # representative first
    assert list(board["strategy"]) == ["representative", "random"]
    assert board["labels to 99% of the ceiling"].iloc[0] == "12"
    # One still on its way says so, rather than a blank or None.
    assert board["labels to 99% of the ceiling"].iloc[1] == "not yet"
    assert list(board["labels so far"]) == [12, 8]

    at.button[[b.label for b in at.button].index("The room starts now")].click().run()
    assert "since" in at.query_params
    assert "No session has a round yet" in at.info[0].value
