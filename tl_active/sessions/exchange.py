"""What leaves and enters the app as files: labels CSV, session manifest, the head as `.keras`.

- The labels CSV has one row per answered image: pool index, answer, round, time, MNIST's
  ground-truth digit and whether the answer agrees with it, and after its round the stopping
  signal (`pool_kappa`, the mean kappa of the pool's predictions over the last rounds) and
  whether it recommended stopping (`can_stop`), and whether it was given to a whole region of
  the pool map at once (`bulk`). Rounds taken back with undo can be included, marked `undone`.
- The manifest is the whole session as one JSON document (format `tl-active-session`: settings
  with the seed, the model checksum, every round, and the answers kept on looking again, if
  any). Importing it checks its shape, then replays it
  in memory over the frozen features, which reproduces the head weights and checks them against
  the recorded ones. Only a manifest that passes all of that is handed to the store, which writes
  it in one transaction; anything refused writes nothing. A manifest file is read only if it is
  a regular file (`read_manifest_file`), and every text it holds is checked first
  (`check_manifest_text`).
- The head's weights as a Keras `.keras` file, built by the head's `to_keras()`; TensorFlow is
  loaded only for this.
- On an image folder (any data kind but MNIST's, see `DataKind.indexed_csv`), the labels CSV
  names each image as its kind does (`item_id`: its path relative to the folder), with
  who answered (person or auto) and the head's p for that answer at export; and "predict the
  rest" lists every image nobody labelled with the head's answer and its p, so that labelling
  ends in a labelled data set.

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

import numpy as np

from tl_active.core.metrics import Metrics
from tl_active.core.stopping import SIGNALS
from tl_active.core.task import NEGATIVE, POSITIVE, SKIP
from tl_active.data.features import FeatureSet
from tl_active.errors import FileRefusedError, SessionFileError
from tl_active.safe_files import open_regular
from tl_active.sessions.figures import HISTOGRAM_BINS
from tl_active.sessions.records import (
    BATCH,
    BULK,
    CORRECTION,
    FORMAT,
    FORMAT_VERSION,
    KINDS,
    MAX_NAME,
    OPTIONAL_FIELDS,
    READABLE_VERSIONS,
    RECORD_FIELDS,
    RoundRecord,
    SessionSettings,
    upgrade_round,
)
from tl_active.sessions.session import LabellingSession
from tl_active.text import check_text, shown

MAX_MANIFEST_BYTES = 50_000_000
# The most characters one text of a manifest may hold. A round's reasons are the app's own
# one-line notes ("closest to p = 0.5", "corrected from 3"); every other text (a name, a path,
# an answer, a checksum, a key) is held to the longest path Linux opens, and the settings'
# own checks are stricter where they can be (an answer's name: 40).
MAX_REASON = 200
MAX_TEXT = MAX_NAME
LABEL_COLUMNS = (
    "pool_index",
    "answer",
    "round",
    "answered_at",
    "true_digit",
    "agrees",
    "simulated",
    "status",
    "pool_kappa",
    "can_stop",
    "looked_again",
    "bulk",
)
# Unix times a manifest may hold: from 1970 to the year 2100.
_LATEST_TIME = 4_102_444_800.0
# What a manifest holds besides its rounds; `exported_at` is for people and is not read back.
_MANIFEST_KEYS = (
    "format",
    "version",
    "model_checksum",
    "settings",
    "rounds",
    "exported_at",
    "kept",
)
_METRIC_NAMES = tuple(Metrics.__dataclass_fields__)
OTHER_KINDS = (CORRECTION, BULK)  # rounds that are not the strategy's batches


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


FOLDER_LABEL_COLUMNS = (
    "path",
    "answer",
    "round",
    "answered_at",
    "who",
    "p",
    "true_class",
    "agrees",
    "status",
    "looked_again",
    "bulk",
)
PREDICTION_COLUMNS = ("path", "part", "predicted", "p")


def _answer_rows(session: LabellingSession, undone: Iterable[RoundRecord]) -> list[dict]:
    """Every answer, live rounds first then taken-back ones, with its status."""
    rows: list[dict] = []
    current: dict[int, int] = {}  # image -> its row holding the live answer
    tagged = [(r, "live") for r in session.rounds] + [(r, "undone") for r in undone]
    for record, status in tagged:
        for index, answer in zip(record.indices, record.answers, strict=True):
            if status == "live" and record.is_correction and int(index) in current:
                rows[current[int(index)]]["status"] = "corrected"
            if status == "live":
                current[int(index)] = len(rows)
            rows.append(
                {"index": int(index), "answer": str(answer), "record": record, "status": status}
            )
    return rows


def answer_words(session: LabellingSession) -> dict[str, str]:
    """How the files name each answer value: a binary question on data of two named classes
    (weather's no snow / snow) by those names, every other answer as it is."""
    names = session.features.class_names
    if session.task.is_binary and len(names) == 2 and session.task.classes == (1,):
        return {NEGATIVE: names[0], POSITIVE: names[1], SKIP: SKIP}
    return {value: value for value in (*session.answer_values, SKIP)}


def folder_labels_csv(
    session: LabellingSession, undone: Iterable[RoundRecord] = (), include_skips: bool = True
) -> str:
    """The answers on an image folder as CSV: each image by its path relative to the folder.

    `who` is `person` or `auto` (answered by the folder's classes); `p` is the head's
    probability, at export, of the answer given (empty for a skip); `true_class` and `agrees`
    are filled only where the folder has class folders; `looked_again` and `bulk` as in
    `labels_csv`.
    """
    kind = session.features.kind
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((kind.item_column, *FOLDER_LABEL_COLUMNS[1:]))
    truth_known = session.has_test
    answer_index = {a: k for k, a in enumerate(session.answer_values)}
    words = answer_words(session)
    for row in _answer_rows(session, undone):
        index, answer, record = row["index"], row["answer"], row["record"]
        if answer == SKIP and not include_skips:
            continue
        local = int(session.data.local([index])[0])
        p = "" if answer == SKIP else f"{session.proba_pool[local, answer_index[answer]]:.6f}"
        truth = session.truth([index])[0] if truth_known else ""
        true_class = (
            session.features.class_names[int(session.features.y_pool[index])] if truth_known else ""
        )
        writer.writerow(
            [
                kind.item_id(index),
                words[answer],
                record.number,
                _iso(record.answered_at),
                "auto" if record.simulated else "person",
                p,
                true_class,
                "" if answer == SKIP or not truth_known else answer == truth,
                row["status"],
                record.looked_again,
                record.is_bulk,
            ]
        )
    return out.getvalue()


def predictions_csv(session: LabellingSession) -> str:
    """Every image nobody labelled, with the head's answer and its p: "predict the rest".

    The task's pool images not labelled (skipped ones included), then its held-out test
    images, each named as the data kind names it (a folder's path, MNIST's index in its pool or
    test split), with `part` saying which.
    """
    features, data = session.features, session.data
    kind = features.kind
    labelled = np.zeros(data.size, bool)
    labelled[data.local(session.labelled)] = True
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # Named as the kind names its items (a weather window by "city and day"); MNIST's column
    # holds pool and test indices both, and keeps its old name.
    writer.writerow(
        (PREDICTION_COLUMNS[0] if kind.indexed_csv else kind.item_column, *PREDICTION_COLUMNS[1:])
    )
    words = answer_words(session)
    values = [words[value] for value in session.answer_values]
    pool_proba = session.proba_pool
    for local in np.flatnonzero(~labelled):
        index = int(data.pool_index[local])
        k = int(pool_proba[local].argmax())
        name = str(kind.item_id(index))
        writer.writerow([name, "pool", values[k], f"{pool_proba[local, k]:.6f}"])
    if len(data.test):
        test_index = (
            np.flatnonzero(session.task.in_task(features.y_test))
            if session.has_test
            else np.arange(len(data.test))
        )
        test_proba = session.head.predict_proba(data.test)
        for row, index in enumerate(test_index):
            k = int(test_proba[row].argmax())
            name = str(kind.test_item_id(int(index)))
            writer.writerow([name, "test", values[k], f"{test_proba[row, k]:.6f}"])
    return out.getvalue()


def labels_csv(
    session: LabellingSession, undone: Iterable[RoundRecord] = (), include_skips: bool = True
) -> str:
    """The session's answers as CSV text, live rounds first, then any taken-back rounds.

    `agrees` is whether the answer matches the data's ground truth for the session's task
    (empty for a skip); `status` is `live`, `corrected` (a later correction replaced it) or
    `undone`. A correction is a row of its own, in the round that made it. `pool_kappa` and
    `can_stop` are the round's stopping signal and recommendation (`stopping.py`; the kappa is
    empty until there are enough rounds, and for rounds recorded before it existed).
    `looked_again` is true on a correction made on looking again at a suspect answer, `bulk` on
    an answer given to a region of the pool map at once. A session on an image folder gets
    `folder_labels_csv`.
    """
    if not session.features.kind.indexed_csv:
        return folder_labels_csv(session, undone, include_skips)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LABEL_COLUMNS)
    rows: list[list] = []
    current: dict[int, int] = {}  # image -> its row holding the live answer
    tagged = [(r, "live") for r in session.rounds] + [(r, "undone") for r in undone]
    for record, status in tagged:
        truth = session.truth(record.indices)
        for index, answer, right in zip(record.indices, record.answers, truth, strict=True):
            if status == "live" and record.is_correction and int(index) in current:
                rows[current[int(index)]][7] = "corrected"
            if status == "live":
                current[int(index)] = len(rows)
            rows.append(
                [
                    int(index),
                    str(answer),
                    record.number,
                    _iso(record.answered_at),
                    session.features.class_names[int(session.features.y_pool[index])],
                    "" if answer == SKIP else answer == right,
                    bool(record.simulated),
                    status,
                    _fixed(record.stopping.get("kappa_average")),
                    bool(record.can_stop),
                    record.looked_again,
                    record.is_bulk,
                ]
            )
    for row in rows:
        if include_skips or row[1] != SKIP:
            writer.writerow(row)
    return out.getvalue()


def _fixed(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


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
    "bias": float,
    "p_histogram": int,
    "mean_p_by_class": float,
}


def _short(value) -> str:
    """A value from a file, quoted for a message and cut short (it may be huge)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    # A whole number stands for a float only where a float holds it exactly: 2**64 would turn
    # an array of weights into one of Python objects.
    if _is_int(value):
        return abs(value) <= 2**53
    return isinstance(value, float) and math.isfinite(value)


def _is_int64(value) -> bool:
    # What a database keeps as a whole number: a larger one comes back from SQLite as a float.
    return _is_int(value) and -(2**63) <= value < 2**63


_CHECKS = {int: _is_int64, float: _is_number, str: lambda v: isinstance(v, str)}


def _all_of(kind: type, values: list) -> bool:
    """Whether every value is a `kind` value as `_CHECKS` reads it (fast for a list of floats)."""
    if kind is float and all(type(v) is float for v in values):
        return all(map(math.isfinite, values))
    return all(map(_CHECKS[kind], values))


def _check_round(position: int, data: object, session: LabellingSession, n_labels: int) -> int:
    """Refuse a round whose fields are missing, of the wrong kind or size, before it replays.

    `n_labels` is the count of labels before this round; the count after it is returned. The
    figures a round records (metrics, the histogram of p, the mean p per class) are kept as
    they are, so they are checked here for what the app draws from them.
    """
    where = f"round {position} of the manifest"
    pool_size = session.features.pool_size
    if not isinstance(data, dict):
        raise SessionFileError(f"{where} is not an object")
    missing = [name for name in RECORD_FIELDS if name not in data and name not in OPTIONAL_FIELDS]
    if missing:
        raise SessionFileError(f"{where} lacks {', '.join(missing)}")
    unknown = [name for name in data if name not in RECORD_FIELDS]
    if unknown:
        raise SessionFileError(f"{where} has fields no round has: {_short(unknown)}")
    if not _is_int(data["number"]) or data["number"] != position:
        raise SessionFileError(
            f"{where} is numbered {_short(data['number'])}; rounds must run 1, 2, 3..."
        )
    for name, kind in _LIST_FIELDS.items():
        value = data[name]
        if not isinstance(value, list) or not _all_of(kind, value):
            raise SessionFileError(f"{where}: {name} must be a list of {kind.__name__} values")
    weights = data["weights"]
    if (
        not isinstance(weights, list)
        or not weights
        or not all(isinstance(row, list) and row and _all_of(float, row) for row in weights)
    ):
        raise SessionFileError(
            f"{where}: weights must be the head's weights, a non-empty list of rows of numbers"
        )
    for name in ("adam_m", "adam_v"):
        value = data.get(name, [])
        if not isinstance(value, list) or not _all_of(float, value):
            raise SessionFileError(f"{where}: {name} must be a list of float values")
    adam_t = data.get("adam_t", 0)
    if not _is_int(adam_t) or not 0 <= adam_t <= 2**53:
        raise SessionFileError(f"{where}: adam_t must be a whole number of steps")
    kind = data.get("kind", BATCH)
    previous = data.get("previous", [])
    if kind not in KINDS:
        raise SessionFileError(f"{where}: kind must be one of {', '.join(map(repr, KINDS))}")
    if not isinstance(previous, list) or not all(isinstance(v, str) for v in previous):
        raise SessionFileError(f"{where}: previous must be a list of answers")
    if len(previous) != (1 if kind == CORRECTION else 0):
        raise SessionFileError(
            f"{where}: previous must hold the one answer a correction replaces, and nothing "
            "for a batch"
        )
    n = len(data["indices"])
    batch = session.settings.batch_size if kind == BATCH else 1
    if kind == BULK:
        # A region of the map: any number of images, one answer for all of them.
        if not 0 < n <= pool_size:
            raise SessionFileError(f"{where} is a bulk round of {n} images")
        if len(set(data["answers"])) > 1:
            raise SessionFileError(f"{where} is a bulk round but gives more than one answer")
    elif n != batch:
        raise SessionFileError(
            f"{where} has {n} images; each {kind} of this session has {batch}"
            if kind == CORRECTION
            else f"{where} has {n} images; each round of this session has {batch}"
        )
    for name in ("answers", "scores", "ranks", "reasons"):
        if len(data[name]) != n:
            raise SessionFileError(
                f"{where} has {n} images but {len(data[name])} {name.replace('_', ' ')}"
            )
    bad = [i for i in data["indices"] if not 0 <= i < pool_size]
    if bad:
        raise SessionFileError(
            f"{where} names pool images {_short(bad[:5])} outside 0..{pool_size - 1}"
        )
    answers = {*session.answer_values, SKIP}
    if not set(data["answers"]) <= answers:
        raise SessionFileError(f"{where}: answers must be {', '.join(sorted(answers))}")
    n_labels += sum(a != SKIP for a in data["answers"]) - sum(a != SKIP for a in previous)
    if not _is_int(data["n_labels"]) or data["n_labels"] != n_labels:
        raise SessionFileError(
            f"{where} counts {_short(data['n_labels'])} labels so far; its answers make {n_labels}"
        )
    metrics = data["metrics"]
    if (
        not isinstance(metrics, dict)
        or sorted(metrics) != sorted(_METRIC_NAMES)
        or not all(_is_number(v) and 0 <= v <= 1 for v in metrics.values())
    ):
        raise SessionFileError(
            f"{where}: metrics must give {', '.join(_METRIC_NAMES)}, each a number from 0 to 1"
        )
    counts = data["p_histogram"]
    if len(counts) != HISTOGRAM_BINS or min(counts) < 0 or sum(counts) != session.data.size:
        raise SessionFileError(
            f"{where}: p_histogram must count the {session.data.size:,} pool images in "
            f"{HISTOGRAM_BINS} bins"
        )
    # As `LabellingSession.p_by_class`: the data's classes for a binary task, else the task's.
    task = session.task
    n_classes = len(session.features.class_names) if task.is_binary else task.n_outputs
    by_class = data["mean_p_by_class"]
    if len(by_class) != n_classes or not all(0 <= p <= 1 for p in by_class):
        raise SessionFileError(
            f"{where}: mean_p_by_class must hold {n_classes} numbers from 0 to 1, one per class"
        )
    for name in ("asked_at", "answered_at"):
        if not _is_number(data[name]) or not 0 <= data[name] <= _LATEST_TIME:
            raise SessionFileError(f"{where}: {name} must be a time between 1970 and 2100")
    if not isinstance(data["simulated"], bool):
        raise SessionFileError(f"{where}: simulated must be true or false")
    stopping = data.get("stopping", {})
    if not isinstance(stopping, dict) or not all(
        name in SIGNALS and _is_number(value) for name, value in stopping.items()
    ):
        raise SessionFileError(
            f"{where}: stopping must map signals among {', '.join(SIGNALS)} to numbers"
        )
    if not isinstance(data.get("can_stop", False), bool):
        raise SessionFileError(f"{where}: can_stop must be true or false")
    if ("stopping" in data) != ("can_stop" in data):
        # A recommendation without its signals, or signals without it, is a round cut short,
        # not an older one: rounds recorded before the stopping signals have neither.
        raise SessionFileError(f"{where}: stopping and can_stop go together; it has only one")
    return n_labels


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def check_manifest_text(data: dict) -> None:
    """Refuse a manifest holding text the app must not keep, naming where (`SessionFileError`).

    Every text is checked by `text.check_text`: well-formed Unicode (no lone surrogate, which
    could be stored but never exported again), no control character (NUL, escape sequences,
    bidirectional overrides and isolates) and at most `MAX_TEXT` characters, `MAX_REASON` for
    a round's reasons. That is every text of the top level and of the settings (their keys
    and any nesting), and each round's answers, reasons, previous answer and kind; a round's
    other fields hold numbers, and their type checks refuse text there.
    """
    try:
        pending: list[tuple[str, object]] = [
            (f"the manifest's {name}", data[name])
            for name in ("format", "model_checksum", "exported_at", "settings", "kept")
            if name in data
        ]
        while pending:
            where, value = pending.pop()
            if isinstance(value, dict):
                check_text(list(value), f"{where}: a key", MAX_TEXT)
                pending += [(f"{where}: {key}", item) for key, item in value.items()]
            elif isinstance(value, list):
                pending += [(where, item) for item in value]
            elif isinstance(value, str):
                check_text(value, where, MAX_TEXT)
        rounds = data.get("rounds")
        for position, record in enumerate(rounds if isinstance(rounds, list) else [], start=1):
            if not isinstance(record, dict):
                continue  # refused as it is read
            for name in ("answers", "reasons", "previous", "kind"):
                check_text(
                    _texts(record.get(name)),
                    f"round {position} of the manifest: {name}",
                    MAX_REASON if name == "reasons" else MAX_TEXT,
                )
    except ValueError as error:
        raise SessionFileError(str(error)) from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


class _RepeatedName(ValueError):
    """An object of the JSON text names one key twice (JSON readers disagree on which wins)."""


def _refuse_repeated_names(pairs: list[tuple[str, object]]) -> dict:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise _RepeatedName(repeated)
    return data


def read_manifest(raw: bytes | str, features: FeatureSet) -> LabellingSession:
    """Parse, check and replay a manifest entirely in memory; raise `SessionFileError` if refused.

    The returned session has every round replayed with the recorded head weights reproduced;
    hand it to `SessionStore.create` to store it in one transaction. A manifest may hold at most
    as many rounds as the task's pool has batches.
    """
    if len(raw) > MAX_MANIFEST_BYTES:
        raise SessionFileError(
            f"the file is over {MAX_MANIFEST_BYTES // 1_000_000} MB: not a manifest"
        )
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = json.loads(
            text, parse_constant=_refuse_constant, object_pairs_hook=_refuse_repeated_names
        )
    except _RepeatedName as repeated:
        raise SessionFileError(
            f"this file names {_short(str(repeated))} twice in one object, so what it holds is "
            "ambiguous: not a manifest tl-active wrote"
        ) from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        # ValueError covers bad JSON, NaN/Infinity and integers too long to read.
        raise SessionFileError(
            "this file is not JSON (or holds numbers JSON does not allow), so not a tl-active session manifest"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SessionFileError(
            f'this JSON is not a tl-active session manifest (its "format" is not {FORMAT!r})'
        )
    version = data.get("version")
    if not _is_int(version) or version not in READABLE_VERSIONS:
        raise SessionFileError(
            f"manifest version {_short(version)} is not supported (this app reads "
            f"{', '.join(map(str, READABLE_VERSIONS))})"
        )
    if data.get("model_checksum") != features.model_checksum:
        raise SessionFileError(
            "this manifest was made with another network (model checksum "
            f"{_short(data.get('model_checksum'))}, these features come from "
            f"{features.model_checksum!r}); its labels would not mean the same here"
        )
    unknown = [key for key in data if key not in _MANIFEST_KEYS]
    if unknown:
        raise SessionFileError(f"the manifest holds {_short(unknown)}, which no manifest has")
    if not isinstance(data.get("settings"), dict):
        raise SessionFileError("the manifest has no settings")
    try:
        settings = SessionSettings.from_dict(data["settings"], version)
        empty = LabellingSession(features, settings)
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        raise SessionFileError(f"the manifest's settings are not valid: {error}") from None
    # After the settings' own checks, which say more of a name than that it is not text.
    check_manifest_text(data)
    recorded = data.get("rounds")
    if not isinstance(recorded, list):
        raise SessionFileError("the manifest has no list of rounds")
    most = empty.data.size // settings.batch_size
    # Batches are bounded by the batch size; corrections and bulk rounds by the pool's size.
    batches = sum(1 for r in recorded if not (isinstance(r, dict) and r.get("kind") in OTHER_KINDS))
    if batches > most or len(recorded) - batches > empty.data.size:
        raise SessionFileError(
            f"the manifest holds {batches} rounds; a pool of {empty.data.size:,} images "
            f"has room for at most {most:,} rounds of {settings.batch_size}"
        )
    recorded = [upgrade_round(r, version) for r in recorded]
    n_labels = 0
    for position, round_data in enumerate(recorded, start=1):
        n_labels = _check_round(position, round_data, empty, n_labels)
    try:
        upgraded = {**data, "rounds": recorded, "version": FORMAT_VERSION}
        return LabellingSession.from_dict(upgraded, features)
    except SessionFileError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, OverflowError) as error:
        raise SessionFileError(f"the manifest cannot be replayed: {error}") from None


def read_manifest_file(path: Path | str) -> bytes:
    """The bytes of a manifest file for `read_manifest`, or `SessionFileError` in one line.

    Read through `safe_files.open_regular`, so a FIFO, a device or a folder is refused at once
    instead of blocking; at most one byte over `MAX_MANIFEST_BYTES` is read, which is enough
    for `read_manifest` to refuse the file as too large.
    """
    try:
        with open_regular(path, what="manifest") as handle:
            return handle.read(MAX_MANIFEST_BYTES + 1)
    except FileRefusedError as refused:
        raise SessionFileError(str(refused)) from None
    except OSError as error:
        raise SessionFileError(
            f"cannot read the manifest {shown(path)}: {error.strerror or error}"
        ) from None


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
    "check_manifest_text",
    "read_manifest",
    "read_manifest_file",
]
