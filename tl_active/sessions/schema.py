"""The session database's two tables, and how a round is a row.

- `sessions`: `id` (a random URL-safe token, the `?session=` of the app), `settings` (JSON:
  backbone, layer, task, strategy, batch size, head mode, seed), `model_checksum` (the CNN the labels were
  given under), `format_version`, `created_at`, `updated_at` (unix seconds), and `n_rounds` and
  `n_labels` of the live rounds, and `browser_id` (the browser that made it, or null).
  `n_rounds` is also the session's version (see `store.py`).
- `round_records`: one row per submitted round, `(session_id, number, generation)` unique. Its
  `record` is the session's `RoundRecord` as JSON (batch, answers, the strategy's scores, the
  head's weights, figures); `n_labels` and `answered_at` are columns too, for queries, with
  `stored_at` and `undone_at`. Undo never deletes: it stamps `undone_at`, so exports can still
  show what was taken back. A round submitted again after an undo gets the next `generation` of
  its number; live rounds are those with `undone_at` null. A database of the first version
  (a `rounds` table, one column per field of a binary round) is upgraded on first open, and one
  without `browser_id` gets the column (null: made by no browser in particular).
- `kept_answers`: the answers a person looked at again and kept (`session_id`, `pool_index`,
  `answer`, `kept_at`), one row per pair. Not rounds (nothing changed), so undo leaves them; a
  pair counts while its answer is the image's live one. A database without the table gets it.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
from sqlalchemy import (
    JSON,
    Column,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine

from tl_active.sessions.records import RoundRecord, upgrade_round

metadata = MetaData()

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("settings", JSON, nullable=False),
    Column("model_checksum", String(64), nullable=False),
    Column("format_version", Integer, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("n_rounds", Integer, nullable=False, default=0),
    Column("n_labels", Integer, nullable=False, default=0),
    # The browser that made the session (an id it keeps in localStorage), so that its recent
    # list shows only its own; null for sessions stored before browsers were told apart.
    Column("browser_id", String(64), nullable=True),
)

# Version 2 of the rounds: the whole `RoundRecord` as one JSON value, so that the store never
# spells out its fields (the session defines them). Version-1 rows, one column per field of a
# binary head's round, are moved here once by `_upgrade_v1_rounds` (see `create_or_upgrade`).
rounds = Table(
    "round_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("generation", Integer, nullable=False, default=0),
    Column("record", JSON, nullable=False),
    Column("n_labels", Integer, nullable=False),
    Column("answered_at", Double, nullable=False),
    Column("stored_at", Double, nullable=False),
    Column("undone_at", Double, nullable=True),
    UniqueConstraint("session_id", "number", "generation", name="one_round_record_per_generation"),
)

# Looking again at a suspect answer and keeping it changes no label, so it is no round: a row
# here, read back with the session so that the suspicion stays cleared after a reload.
kept_answers = Table(
    "kept_answers",
    metadata,
    Column("session_id", String(64), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("pool_index", Integer, nullable=False),
    Column("answer", String(255), nullable=False),
    Column("kept_at", Double, nullable=False),
    UniqueConstraint("session_id", "pool_index", "answer", name="one_row_per_kept_answer"),
)
V1_ROUNDS = "rounds"
_ROW_ONLY = ("id", "session_id", "generation", "stored_at", "undone_at")


def _plain(value):
    # JSON columns and the database driver refuse numpy scalars and arrays.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} cannot be stored")


def round_values(record: RoundRecord) -> dict:
    return {
        "number": int(record.number),
        "record": json.loads(json.dumps(asdict(record), default=_plain)),
        "n_labels": int(record.n_labels),
        "answered_at": float(record.answered_at),
    }


def record_from_row(row) -> RoundRecord:
    return RoundRecord.from_dict(row.record)


def same_round(row, record: RoundRecord) -> bool:
    """Whether a stored row is this very submission (not a later answer to the same number)."""
    return (
        list(row.record["indices"]) == [int(i) for i in record.indices]
        and list(row.record["answers"]) == [str(a) for a in record.answers]
        and row.answered_at == float(record.answered_at)
    )


def _upgrade_v1_rounds(engine: Engine) -> None:
    """Move the rounds of a version-1 database into today's table, once, in one transaction.

    The old table is renamed `rounds_v1` afterwards, which is also what marks the move as done.
    """
    if V1_ROUNDS not in inspect(engine).get_table_names():
        return
    with engine.begin() as conn:
        old = Table(V1_ROUNDS, MetaData(), autoload_with=conn)
        rows = conn.execute(select(old)).mappings().all()
        if rows:
            conn.execute(
                insert(rounds),
                [
                    {
                        "session_id": r["session_id"],
                        "number": r["number"],
                        "generation": r["generation"],
                        "record": upgrade_round(
                            {k: v for k, v in r.items() if k not in _ROW_ONLY}, 1
                        ),
                        "n_labels": r["n_labels"],
                        "answered_at": r["answered_at"],
                        "stored_at": r["stored_at"],
                        "undone_at": r["undone_at"],
                    }
                    for r in rows
                ],
            )
        conn.execute(text(f"ALTER TABLE {V1_ROUNDS} RENAME TO {V1_ROUNDS}_v1"))


def _add_browser_column(engine: Engine) -> None:
    """Give a database made before browsers were told apart its `browser_id` column, once."""
    if "browser_id" in {c["name"] for c in inspect(engine).get_columns("sessions")}:
        return
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE sessions ADD COLUMN browser_id VARCHAR(64)"))


def create_or_upgrade(engine: Engine) -> None:
    """Make the tables a new database lacks (an older one gains `kept_answers` here), and bring
    an older one up to today's."""
    metadata.create_all(engine)
    _upgrade_v1_rounds(engine)
    _add_browser_column(engine)


__all__ = [
    "create_or_upgrade",
    "kept_answers",
    "metadata",
    "record_from_row",
    "round_values",
    "rounds",
    "same_round",
    "sessions",
]
