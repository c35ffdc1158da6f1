"""What leaves and enters the app as files: labels CSV, session manifest, the head as `.keras`.

- The labels CSV has one row per answered image: pool index, answer, round, time, MNIST's
  ground-truth digit and whether the answer agrees with it. Rounds taken back with undo can be
  included, marked `undone`.
- The manifest is the whole session as one JSON document (format `tl-active-session`: settings
  with the seed, the model checksum, every round). Importing it checks its shape, then replays it
  in memory over the frozen features, which reproduces the head weights and checks them against
  the recorded ones. Only a manifest that passes all of that is handed to the store, which writes
  it in one transaction; anything refused writes nothing.
- The head's weights as a Keras `.keras` file, built by `SigmoidHead.to_keras()`; TensorFlow is
  loaded only for this.

This module reads and writes bytes and strings; it never touches the database or the UI.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from tl_active.errors import SessionFileError
from tl_active.features import FeatureSet
from tl_active.session import FORMAT, FORMAT_VERSION, Answer, LabellingSession, RoundRecord

MAX_MANIFEST_BYTES = 50_000_000
LABEL_COLUMNS = (
    "pool_index",
    "answer",
    "round",
    "answered_at",
    "true_digit",
    "agrees",
    "simulated",
    "status",
)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def labels_csv(
    session: LabellingSession, undone: Iterable[RoundRecord] = (), include_skips: bool = True
) -> str:
    """The session's answers as CSV text, live rounds first, then any taken-back rounds.

    `agrees` is whether the answer matches MNIST's ground truth for the session's target (empty
    for a skip); `status` is `live` or `undone`.
    """
    target = session.settings.target
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LABEL_COLUMNS)
    tagged = [(r, "live") for r in session.rounds] + [(r, "undone") for r in undone]
    for record, status in tagged:
        for index, answer in zip(record.indices, record.answers, strict=True):
            if answer == Answer.SKIP and not include_skips:
                continue
            digit = int(session.features.y_pool[index])
            agrees = (
                "" if answer == Answer.SKIP else (answer == Answer.POSITIVE) == (digit in target)
            )
            writer.writerow(
                (
                    int(index),
                    str(answer),
                    record.number,
                    _iso(record.answered_at),
                    digit,
                    agrees,
                    bool(record.simulated),
                    status,
                )
            )
    return out.getvalue()


def manifest(session: LabellingSession) -> dict:
    """The whole session as one JSON-ready dict: settings and seed, model checksum, every round."""
    data = session.to_dict()
    data["exported_at"] = _iso(time.time())
    return data


def manifest_json(session: LabellingSession) -> str:
    return json.dumps(manifest(session), indent=1)


# --- reading a manifest back ------------------------------------------------------------------

_LIST_FIELDS = {
    "indices": int,
    "answers": str,
    "scores": float,
    "ranks": int,
    "reasons": str,
    "weights": float,
    "p_histogram": int,
    "mean_p_by_digit": float,
}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


_CHECKS = {int: _is_int, float: _is_number, str: lambda v: isinstance(v, str)}


def _check_round(position: int, data: object, pool_size: int) -> None:
    """Refuse a round whose fields are missing or of the wrong kind, before anything replays it."""
    where = f"round {position} of the manifest"
    if not isinstance(data, dict):
        raise SessionFileError(f"{where} is not an object")
    missing = [name for name in RoundRecord.__dataclass_fields__ if name not in data]
    if missing:
        raise SessionFileError(f"{where} lacks {', '.join(missing)}")
    if not _is_int(data["number"]) or data["number"] != position:
        raise SessionFileError(
            f"{where} is numbered {data['number']!r}; rounds must run 1, 2, 3..."
        )
    for name, kind in _LIST_FIELDS.items():
        value = data[name]
        if not isinstance(value, list) or not all(_CHECKS[kind](v) for v in value):
            raise SessionFileError(f"{where}: {name} must be a list of {kind.__name__} values")
    n = len(data["indices"])
    if n == 0:
        raise SessionFileError(f"{where} has no images")
    for name in ("answers", "scores", "ranks", "reasons"):
        if len(data[name]) != n:
            raise SessionFileError(
                f"{where} has {n} images but {len(data[name])} {name.replace('_', ' ')}"
            )
    bad = [i for i in data["indices"] if not 0 <= i < pool_size]
    if bad:
        raise SessionFileError(f"{where} names pool images {bad} outside 0..{pool_size - 1}")
    answers = {a.value for a in Answer}
    if not set(data["answers"]) <= answers:
        raise SessionFileError(f"{where}: answers must be {', '.join(sorted(answers))}")
    if not isinstance(data["metrics"], dict) or not all(
        _is_number(v) for v in data["metrics"].values()
    ):
        raise SessionFileError(f"{where}: metrics must map names to numbers")
    for name in ("n_labels",):
        if not _is_int(data[name]):
            raise SessionFileError(f"{where}: {name} must be a whole number")
    for name in ("bias", "asked_at", "answered_at"):
        if not _is_number(data[name]):
            raise SessionFileError(f"{where}: {name} must be a number")
    if not isinstance(data["simulated"], bool):
        raise SessionFileError(f"{where}: simulated must be true or false")


def read_manifest(raw: bytes | str, features: FeatureSet) -> LabellingSession:
    """Parse, check and replay a manifest entirely in memory; raise `SessionFileError` if refused.

    The returned session has every round replayed with the recorded head weights reproduced;
    hand it to `SessionStore.create` to store it in one transaction.
    """
    if len(raw) > MAX_MANIFEST_BYTES:
        raise SessionFileError(
            f"the file is over {MAX_MANIFEST_BYTES // 1_000_000} MB: not a manifest"
        )
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise SessionFileError(
            "this file is not JSON, so not a tl-active session manifest"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SessionFileError(
            f'this JSON is not a tl-active session manifest (its "format" is not {FORMAT!r})'
        )
    if data.get("version") != FORMAT_VERSION:
        raise SessionFileError(
            f"manifest version {data.get('version')!r} is not supported (expected {FORMAT_VERSION})"
        )
    if data.get("model_checksum") != features.model_checksum:
        raise SessionFileError(
            "this manifest was made with another CNN (model checksum "
            f"{data.get('model_checksum')!r}, this app runs {features.model_checksum!r}); "
            "its labels would not mean the same here"
        )
    if not isinstance(data.get("settings"), dict):
        raise SessionFileError("the manifest has no settings")
    recorded = data.get("rounds")
    if not isinstance(recorded, list):
        raise SessionFileError("the manifest has no list of rounds")
    for position, round_data in enumerate(recorded, start=1):
        _check_round(position, round_data, features.pool_size)
    try:
        return LabellingSession.from_dict(data, features)
    except SessionFileError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise SessionFileError(f"the manifest cannot be replayed: {error}") from None


# --- the head as a Keras file -----------------------------------------------------------------


def head_keras_bytes(session: LabellingSession) -> bytes:
    """The session's current head as the bytes of a `.keras` file (loads TensorFlow)."""
    model = session.head.to_keras()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sigmoid_head.keras"
        model.save(path)
        return path.read_bytes()


__all__ = [
    "LABEL_COLUMNS",
    "head_keras_bytes",
    "labels_csv",
    "manifest",
    "manifest_json",
    "read_manifest",
]
