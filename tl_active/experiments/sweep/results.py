"""A sweep's results folder: Parquet part files, their writer, compaction and the folder lock.

The results are a Parquet data set: a folder of part files, one row per run per round, with the
columns of `curves.csv`, the grid's keys and `cell` (a key naming the run: its features'
checksum and every setting). Finished cells are written every few seconds, each part file
written beside its name and renamed, so a killed sweep loses at most the last seconds' cells;
started again on the same folder it reads which cells are there (`landed_cells`) and runs only
the others. `read_sweep` gives the rows in one order, whatever wrote them.

One sweep writes into a folder at a time: it holds an `flock` on the folder's `_sweep.lock`
(`folder_lock`), which the kernel releases when the process ends, killed or not.

The summary's files (`_summary.csv`, `_ceilings.csv`, `_sweep.png`) start with `_`, which
Parquet readers skip, so pandas, pyarrow or DuckDB read the folder as the runs alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tl_active.data.features import FeatureSet
from tl_active.errors import TlActiveError
from tl_active.experiments.compare import CURVE_COLUMNS, RECHECK_COLUMNS
from tl_active.experiments.sweep.grid import GROUP_COLUMNS, Cell, cell_key, task_label
from tl_active.paths import check_writable_folder
from tl_active.sessions.records import PLAIN_HEAD

ROW_COLUMNS = [
    *CURVE_COLUMNS,
    "backbone",
    "layer",
    "task",
    "batch_size",
    "noise",
    "rounds",
    "cell",
    # Look again's re-checks per round (0 in a folder written before there were any), and
    # the wrong answers given, left and found (empty without noise or re-checks).
    *RECHECK_COLUMNS,
    # The head taught ("plain" or "pool"; "plain" in a folder written before there was a choice).
    "head",
    # The share of the pool each seed picked from (1 in a folder written before the setting).
    "pick_share",
]
ORDER = [*GROUP_COLUMNS, "seed", "round"]
PART_GLOB = "part-*.parquet"
SUMMARY_FILE, CEILINGS_FILE, PLOT_FILE = "_summary.csv", "_ceilings.csv", "_sweep.png"
LOCK_FILE = "_sweep.lock"
FLUSH_SECONDS = 2.0


class SweepRunningError(TlActiveError):
    """Another sweep is writing into the folder."""


def cell_rows(cell: Cell, rows: list[dict], features: FeatureSet) -> list[dict]:
    """A run's curve rows with the grid's keys and the cell's key: the rows of the data set."""
    keys = {
        "backbone": cell.backbone,
        "layer": cell.layer,
        "task": task_label(cell.task, features.class_names),
        "batch_size": cell.batch_size,
        "noise": cell.noise,
        "rounds": cell.rounds,
        "cell": cell_key(features.key, cell),
    }
    counts = dict.fromkeys(RECHECK_COLUMNS[1:])
    cell_keys = {"recheck": cell.recheck, "head": cell.head, "pick_share": cell.pick_share}
    return [{**counts, **row, **keys, **cell_keys} for row in rows]


def _schema():
    import pyarrow as pa

    text, whole, real = pa.string(), pa.int64(), pa.float64()
    types = {
        "strategy": text,
        "seed": whole,
        "round": whole,
        "n_labels": whole,
        "accuracy": real,
        "precision": real,
        "recall": real,
        "f1": real,
        # The stopping signals (compare.STOPPING_COLUMNS), NaN where undefined.
        "kappa": real,
        "kappa_average": real,
        "changed_share": real,
        "uncertainty": real,
        "progressive_accuracy": real,
        "can_stop": pa.bool_(),
        # Positives among the labels (binary questions; empty in a folder written before).
        "positives": real,
        # A rare answer's PR-AUC (empty for other questions and in a folder written before).
        "pr_auc": real,
        "backbone": text,
        "layer": text,
        "task": text,
        "batch_size": whole,
        "noise": real,
        "rounds": whole,
        "cell": text,
        "recheck": whole,
        "wrong_given": whole,
        "wrong_left": whole,
        "found": whole,
        "head": text,
        "pick_share": real,
    }
    return pa.schema([(name, types[name]) for name in ROW_COLUMNS])


def _parts(out: Path) -> list[Path]:
    return sorted(Path(out).glob(PART_GLOB))


def _read_parts(out: Path, columns: list[str] | None = None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for part in _parts(out):
        try:
            tables.append(pq.read_table(part, columns=columns, schema=_schema()))
        except (OSError, pa.ArrowException) as error:
            raise TlActiveError(
                f"{part} is not a part file of a sweep ({error}): remove it, and its cells are "
                "run again"
            ) from None
    if not tables:
        schema = _schema()
        return schema.empty_table().select(columns or schema.names).to_pandas()
    return pa.concat_tables(tables).to_pandas()


def landed_cells(out: Path | str) -> set[str]:
    """The keys of the cells whose rows are in the folder."""
    out = Path(out)
    if not out.is_dir():
        return set()
    return set(_read_parts(out, ["cell"])["cell"])


def read_sweep(out: Path | str) -> pd.DataFrame:
    """Every row of a sweep's folder, each run once, sorted by the grid's keys, seed and round."""
    out = Path(out)
    if not out.is_dir() or not _parts(out):
        raise TlActiveError(
            f"no sweep results in {out}: run `python -m tl_active sweep GRID.toml --out {out}`"
        )
    rows = _read_parts(out).drop_duplicates(["cell", "round"])
    # A part file from before re-checks has no such column: its runs had none.
    rows["recheck"] = rows["recheck"].fillna(0).astype("int64")
    rows["head"] = rows["head"].fillna(PLAIN_HEAD)  # nor has one from before the pool-taught head
    rows["pick_share"] = rows["pick_share"].fillna(1.0)  # nor one from before the pick share
    return rows.sort_values(ORDER, kind="stable").reset_index(drop=True)[ROW_COLUMNS]


def folder_state(out: Path | str) -> tuple:
    """The part files' names, sizes and times: changes whenever cells land (for caches)."""
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in _parts(Path(out)))


@dataclass(frozen=True)
class SweepResults:
    """A sweep's folder as read: its rows, and the summary and ceilings once it finished."""

    rows: pd.DataFrame
    summary: pd.DataFrame | None
    ceilings: pd.DataFrame | None

    def slice(self, chosen: dict[str, Sequence]) -> pd.DataFrame:
        """The rows whose value of each named key is one of those chosen."""
        keep = np.ones(len(self.rows), bool)
        for column, values in chosen.items():
            keep &= self.rows[column].isin(list(values)).to_numpy()
        return self.rows[keep]

    def ceiling(self, rows: pd.DataFrame) -> float | None:
        """The mean frozen-head ceiling of the questions in `rows`; None if not yet written."""
        if self.ceilings is None or rows.empty:
            return None
        asked = rows[["backbone", "layer", "task"]].drop_duplicates()
        known = asked.merge(self.ceilings, on=["backbone", "layer", "task"])
        return float(known["ceiling"].mean()) if len(known) == len(asked) else None


def read_results(out: Path | str) -> SweepResults:
    """`read_sweep`, with `_summary.csv` and `_ceilings.csv` if the sweep got that far."""
    out = Path(out)
    rows = read_sweep(out)

    def optional(name: str) -> pd.DataFrame | None:
        try:
            # "1" or "0,1" is a question's name, not a number.
            text = {"backbone": str, "layer": str, "task": str}
            return pd.read_csv(out / name, dtype=text, keep_default_na=False, na_values=[""])
        except (OSError, ValueError):
            return None

    ceilings = optional(CEILINGS_FILE)
    if ceilings is not None and not {"backbone", "layer", "task", "ceiling"} <= set(ceilings):
        ceilings = None
    return SweepResults(rows, optional(SUMMARY_FILE), ceilings)


def _part_prefix() -> str:
    """A name no other writer uses: two sweeps of one process within a second differ too."""
    return f"part-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{secrets.token_hex(4)}"


class PartWriter:
    """Finished cells to part files: all a cell's rows in one file, a file every few seconds."""

    def __init__(self, out: Path, flush_seconds: float):
        self.out, self.flush_seconds = out, flush_seconds
        self.prefix = _part_prefix()
        self.rows: list[dict] = []
        self.written = 0
        self.last = time.monotonic()

    def add(self, rows: list[dict]) -> None:
        self.rows.extend(rows)
        if time.monotonic() - self.last >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.last = time.monotonic()
        if not self.rows:
            return
        name = f"{self.prefix}-{self.written:05d}.parquet"
        # Written beside and renamed: a killed sweep leaves whole part files or none.
        tmp = self.out / f".{name}.tmp"
        pq.write_table(pa.Table.from_pylist(self.rows, schema=_schema()), tmp)
        os.replace(tmp, self.out / name)
        self.rows, self.written = [], self.written + 1


def compact_parts(out: Path) -> None:
    """Many part files into one; a kill half-way leaves both, which `read_sweep` reads once."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = _parts(out)
    if len(parts) < 2:
        return
    rows = read_sweep(out)
    name = f"{_part_prefix()}-all.parquet"
    tmp = out / f".{name}.tmp"
    pq.write_table(pa.Table.from_pandas(rows, schema=_schema(), preserve_index=False), tmp)
    os.replace(tmp, out / name)
    for part in parts:
        part.unlink()


# --- one sweep per folder ---------------------------------------------------------------------

_held: dict[Path, tuple[int, int]] = {}  # folder -> (lock file descriptor, depth) of this process


@contextlib.contextmanager
def folder_lock(out: Path | str) -> Iterator[None]:
    """Hold the folder's `_sweep.lock` while a sweep writes there; a second sweep is refused.

    An exclusive `flock` on the file, which the kernel releases when its process ends, however
    it ends: a sweep killed with SIGKILL leaves the file but not the lock, and the next sweep
    on the folder goes on. The file says which process holds it, for the refusal's message.
    Taken again in the same process (the command line holds it over the run and the summary),
    it is the same lock.
    """
    out = Path(out).resolve()
    if out in _held:
        fd, depth = _held[out]
        _held[out] = fd, depth + 1
        try:
            yield
        finally:
            fd, depth = _held[out]
            _held[out] = fd, depth - 1
        return
    check_writable_folder(out, "--out")
    fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 200).decode("utf-8", "replace").strip()
        os.close(fd)
        raise SweepRunningError(
            f"a sweep is already running in {out}"
            + (f" ({holder})" if holder else "")
            + ": wait for it to finish, or give another --out"
        ) from None
    except OSError as error:
        os.close(fd)
        raise TlActiveError(f"cannot lock {out / LOCK_FILE}: {error.strerror or error}") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        _held[out] = fd, 1
        yield
    finally:
        _held.pop(out, None)
        os.close(fd)  # closing the last descriptor releases the lock
