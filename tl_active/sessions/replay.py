"""A session's round trip through plain JSON: written as its settings and rounds, read back exactly.

`session_dict` is the session file (format `tl-active-session`: the settings with the seed, the
model checksum, every live round); `read_session_dict` refuses a foreign, damaged, newer or
other-network file and reads the rest into settings and round records. `Replay` then takes the
recorded rounds onto a new session over the same frozen features and checks their recorded
heads, which is what makes a session file, a manifest or a stored session one the app can trust.

Each round's head depends only on the labels so far and the head of the round before, so each
round is checked on its own, blocks of rounds at a time (`head.py`):

- converged: the fit's loss is strictly convex, so the recorded head is the fit when the
  gradient there passes the test the fit itself stops at; if not, the round is refit from the
  round before's head and must come out the same;
- demo: the round's Adam step is taken again from the round before's recorded head and Adam
  state, and must give the recorded head and state;
- pool-taught: as converged, on the answers so far and the pseudo-labels they spread to (which
  follow from those answers alone), one round at a time.

A round costs the labels so far, not a replay of those before it.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np

from tl_active.core.head import HeadState, HeadStates
from tl_active.core.pool_teacher import one_blas_thread
from tl_active.data.features import FeatureSet
from tl_active.errors import ProtocolError, SessionFileError
from tl_active.sessions.records import (
    ADAM_FIELDS,
    FORMAT,
    FORMAT_VERSION,
    POOL_HEAD,
    READABLE_VERSIONS,
    RoundRecord,
    SessionSettings,
    upgrade_round,
)

if TYPE_CHECKING:
    from tl_active.sessions.session import LabellingSession


def session_dict(session: LabellingSession) -> dict:
    """The session file's content: its settings, model checksum and live rounds."""
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model_checksum": session.features.model_checksum,
        "settings": session.settings.as_dict(),
        "rounds": [asdict(r) for r in session.rounds],
    }


def read_session_dict(
    data: dict, features: FeatureSet, check_model: bool = True
) -> tuple[SessionSettings, list[RoundRecord], set[int]]:
    """A session file's settings and rounds, or `SessionFileError` for a foreign, damaged or
    other-network one; with the rounds a demo-mode head must get its Adam state for (those
    recorded before it was kept)."""
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
        rounds = [upgrade_round(r, version) for r in data["rounds"]]
        without_adam = {
            k for k, r in enumerate(rounds) if not all(name in r for name in ADAM_FIELDS)
        }
        recorded = [RoundRecord.from_dict(r) for r in rounds]
    except (KeyError, TypeError, ValueError) as error:
        raise SessionFileError(f"the session file is malformed: {error}") from None
    if settings.layer != features.layer:
        raise SessionFileError(
            f"this session reads layer {reprlib.repr(settings.layer)}, not {features.layer!r}"
        )
    if settings.head_mode != "demo":
        without_adam = set()
    return settings, recorded, without_adam


def recorded_state(record: RoundRecord) -> HeadState:
    """The head a round recorded, with its Adam state if it has one."""
    state = HeadState(np.asarray(record.weights, float), np.asarray(record.bias, float))
    if record.adam_t:
        state.adam_m = np.asarray(record.adam_m, float)
        state.adam_v = np.asarray(record.adam_v, float)
        state.adam_t = record.adam_t
    return state


class Replay:
    """Recorded rounds taken onto a fresh session's answers and checked against its head.

    `take` leaves the session's answers as the rounds give them and its head as the last round
    of a demo-mode replay made it; the session then takes the recorded heads as they are.
    """

    def __init__(self, session: LabellingSession):
        self.session = session
        self.settings = session.settings
        self.data = session.data
        self.head = session.head
        self.ledger = session.ledger

    def take(
        self, recorded: Sequence[RoundRecord], every: bool, without_adam: set[int] = frozenset()
    ) -> None:
        """Take the recorded rounds' answers, checking the rounds and their heads.

        `every` checks every round (a file from outside); otherwise only the last (the app's own
        store). A demo-mode session with rounds recorded without Adam state (`without_adam`,
        written before it was kept) is rebuilt step by step instead, and those rounds get theirs.
        """
        self._check_shapes(recorded)
        ledger = self.ledger
        ends = np.zeros(len(recorded), np.intp)
        segment: list[int] = []
        k = 0
        while k < len(recorded):
            if recorded[k].is_correction:
                # A correction changes earlier labels: check the rounds before it on theirs.
                if segment:
                    self._check_rounds(recorded, segment, ends, every, without_adam)
                    segment = []
                self._apply(recorded[k])
                ends[k] = len(ledger.labelled)
                segment.append(k)
                k += 1
                continue
            stop = k
            while stop < len(recorded) and not recorded[stop].is_correction:
                stop += 1
            ends[k:stop] = self._apply_batches(recorded[k:stop])
            segment.extend(range(k, stop))
            k = stop
        if segment:
            self._check_rounds(recorded, segment, ends, every, without_adam)

    def _check_shapes(self, recorded: Sequence[RoundRecord]) -> None:
        width = self.data.pool.shape[1]
        shape = (self.head.n_outputs, width)
        demo = self.settings.head_mode == "demo"
        for record in recorded:
            if record.is_bulk and len(set(map(str, record.answers))) > 1:
                raise SessionFileError(
                    f"round {record.number} is a bulk round but gives more than one answer"
                )
            if np.shape(record.weights) != shape or len(record.bias) != shape[0]:
                raise SessionFileError(
                    f"round {record.number} records head weights of shape "
                    f"{np.shape(record.weights)}; this head has {shape}"
                )
            moments = (len(record.adam_m), len(record.adam_v))
            if not demo:
                ok = moments == (0, 0) and record.adam_t == 0
            elif record.adam_t == 0:
                ok = moments == (0, 0)
            else:
                ok = moments == (width + 1, width + 1) and min(record.adam_v) >= 0
            if not ok or not isinstance(record.adam_t, int) or record.adam_t < 0:
                raise SessionFileError(
                    f"round {record.number} records an Adam state this head cannot have"
                )

    def _states_of(self, rows: Sequence[RoundRecord | None]) -> HeadStates:
        """Recorded heads stacked (None: the untrained head), for checking rounds in blocks."""
        width = self.data.pool.shape[1]
        n, k = len(rows), self.head.n_outputs
        states = HeadStates(
            np.zeros((n, k, width)),
            np.zeros((n, k)),
            np.zeros((n, width + 1)),
            np.zeros((n, width + 1)),
            np.zeros(n, np.int64),
        )
        for r, record in enumerate(rows):
            if record is None:
                continue
            states.weights[r], states.bias[r] = record.weights, record.bias
            if record.adam_t:
                states.adam_m[r], states.adam_v[r] = record.adam_m, record.adam_v
                states.adam_t[r] = record.adam_t
        return states

    def _check_rounds(
        self,
        recorded: Sequence[RoundRecord],
        segment: list[int],
        ends: np.ndarray,
        every: bool,
        without_adam: set[int],
    ) -> None:
        """Check the heads of rounds that share one list of labels (`ends`: its length at each)."""
        last = len(recorded) - 1
        replay = bool(without_adam)
        ks = segment if every or replay else [k for k in segment if k == last]
        if not ks:
            return
        top = int(ends[ks].max())
        x = self.data.pool[np.array(self.ledger.labelled[:top], np.intp)].astype(np.float64)
        y = np.array(self.ledger.labels[:top], np.intp)
        if replay:
            return self._replay_rounds(recorded, ks, ends, x, y, without_adam)
        before = [recorded[k - 1] if k else None for k in ks]
        if self.settings.head_mode == "demo":
            after = self.head.adam_steps_from(x, y, ends[ks], self._states_of(before))
            want = self._states_of([recorded[k] for k in ks])
            for r, k in enumerate(ks):
                if not all(
                    np.allclose(a[r], b[r], rtol=1e-7, atol=1e-9)
                    for a, b in zip(after._arrays(), want._arrays())
                ):
                    raise SessionFileError(
                        f"replaying round {recorded[k].number} gives other head weights than "
                        "were recorded (one Adam step from the round before)"
                    )
            return
        if self.settings.head == POOL_HEAD:
            with one_blas_thread():  # its fits are on a few thousand rows (see the function)
                return self._check_pool_taught(recorded, ks, ends, before)
        want = self._states_of([recorded[k] for k in ks])
        labelled = ends[ks] > 0
        gradients = np.full(len(ks), np.inf)
        gradients[labelled] = self.head.fit_gradients(
            x, y, ends[ks][labelled], want.weights[labelled], want.bias[labelled]
        )
        for r, k in enumerate(ks):
            held = not self.head.bias_trained and np.any(want.bias[r])
            if gradients[r] < self.head.gradient_tol and not held:
                continue
            # Not the fit's stopping point: the fit itself from the round before must give it.
            head = self.session.fresh_head()
            if before[r] is not None:
                head.state_ = recorded_state(before[r])
            head.fit(x[: ends[k]], y[: ends[k]])
            if not (
                np.allclose(head.coef_, want.weights[r], atol=1e-6)
                and np.allclose(head.intercept_, want.bias[r], atol=1e-6)
            ):
                raise SessionFileError(
                    f"replaying round {recorded[k].number} gives other head weights than were "
                    "recorded"
                )

    def _check_pool_taught(
        self,
        recorded: Sequence[RoundRecord],
        ks: list[int],
        ends: np.ndarray,
        before: list[RoundRecord | None],
    ) -> None:
        """Check pool-taught heads: each the weighted fit on its answers and pseudo-labels."""
        positions = np.array(self.ledger.labelled[: int(ends[ks].max())], np.intp)
        labels = np.array(self.ledger.labels[: len(positions)], np.intp)
        for r, k in enumerate(ks):
            record = recorded[k]
            head = self.session.fresh_head(self.session.head_memory)
            head.state_ = recorded_state(record)
            if ends[k] == 0:
                if np.any(record.weights) or np.any(record.bias):
                    raise SessionFileError(
                        f"round {record.number} records a trained head without any answers"
                    )
                continue
            x, y, weights, _ = self.session.training_set(positions[: ends[k]], labels[: ends[k]])
            held = not head.bias_trained and np.any(record.bias)
            if head.max_gradient(x, y, weights) < head.gradient_tol and not held:
                continue
            head = self.session.fresh_head(self.session.head_memory)
            if before[r] is not None:
                head.state_ = recorded_state(before[r])
            head.fit(x, y, weights)
            if not (
                np.allclose(head.coef_, record.weights, atol=1e-6)
                and np.allclose(head.intercept_, record.bias, atol=1e-6)
            ):
                raise SessionFileError(
                    f"replaying round {record.number} gives other head weights than were recorded"
                )

    def _replay_rounds(
        self,
        recorded: Sequence[RoundRecord],
        ks: list[int],
        ends: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        without_adam: set[int],
    ) -> None:
        """Rebuild a demo head round by round (on the session's own head) and compare."""
        for k in ks:
            record = recorded[k]
            self.head.fit(x[: ends[k]], y[: ends[k]])
            state = self.head.state_
            if not (
                np.allclose(state.weights, record.weights, atol=1e-6)
                and np.allclose(state.bias, record.bias, atol=1e-6)
            ):
                raise SessionFileError(
                    f"replaying round {record.number} gives other head weights than were recorded"
                )
            if k in without_adam:
                if state.adam_m is not None:
                    record.adam_m, record.adam_v = state.adam_m.tolist(), state.adam_v.tolist()
                    record.adam_t = int(state.adam_t)
            elif record.adam_t != state.adam_t or (
                record.adam_t
                and not (
                    np.allclose(state.adam_m, record.adam_m, rtol=1e-7, atol=1e-9)
                    and np.allclose(state.adam_v, record.adam_v, rtol=1e-7, atol=1e-9)
                )
            ):
                raise SessionFileError(
                    f"replaying round {record.number} gives another Adam state than was recorded"
                )

    def _apply_batches(self, records: Sequence[RoundRecord]) -> np.ndarray:
        """`_apply` for consecutive batches at once; the count of labels after each.

        Rounds that fail any check of the ledger's go through `_apply` one by one, which names
        the first round at fault (or takes answers only it reads, such as a digit given as a
        number).
        """
        ends = self.ledger.take_batches(records)
        if ends is not None:
            return ends
        taken = []
        for record in records:
            self._apply(record)
            taken.append(len(self.ledger.labelled))
        return np.array(taken, np.intp)

    def _apply(self, record: RoundRecord) -> None:
        """Mark a recorded round's images as answered and keep its labels (no fit)."""
        if record.is_correction:
            old = self._check_correction(record)
            self.ledger.change(record.indices[0], old, record.answers[0])
            return
        local = self._check_batch(record)
        try:
            answers = self.ledger.parse(record.answers, len(local))
        except ProtocolError as error:
            raise SessionFileError(f"round {record.number} cannot be replayed: {error}") from None
        self.ledger.take(record.indices, local, answers)

    def _check_batch(self, record: RoundRecord) -> np.ndarray:
        """A recorded batch's images as positions in the task's pool, or `SessionFileError`."""
        n = len(record.indices)
        if n == 0 or len(record.answers) != n or len(set(record.indices)) != n:
            raise SessionFileError(f"round {record.number} is malformed")
        local = self.data.local(record.indices)
        bad = [int(i) for i, p in zip(record.indices, local) if p < 0]
        if bad or not self.ledger.available[local].all():
            raise SessionFileError(
                f"round {record.number} asks for pool images {bad[:5] or record.indices[:5]} "
                "that are out of range, outside the task or already answered"
            )
        return local

    def _check_correction(self, record: RoundRecord) -> str:
        """A recorded correction's earlier answer, checked against the session's own."""
        if len(record.indices) != 1 or len(record.answers) != 1 or len(record.previous) != 1:
            raise SessionFileError(f"round {record.number} corrects more or less than one answer")
        old = self.ledger.answer_of(int(record.indices[0]))
        if old is None or old != record.previous[0] or record.answers[0] == old:
            raise SessionFileError(
                f"round {record.number} corrects image {record.indices[0]}, which was not "
                f"answered {record.previous[0]!r} before it"
            )
        try:
            self.ledger.parse(record.answers, 1)
        except ProtocolError as error:
            raise SessionFileError(f"round {record.number} cannot be replayed: {error}") from None
        return old


__all__ = ["Replay", "read_session_dict", "recorded_state", "session_dict"]
