"""Running a sweep: its cells on joblib's workers (`local`) or as Ray tasks (`ray`).

Every cell is one `compare.oracle_run`, the function `compare` runs too. Each backbone + layer's
features are loaded once, here, with the clusterings the strategies read, and shared with the
workers: Ray keeps one copy in its object store (Ray is imported only then), joblib memory-maps
the arrays; cells travel in chunks, so the sharing is paid per chunk, never per task. Runs are
seeded, so the rows do not depend on the backend or the number of workers.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tl_active.core.task import Task
from tl_active.data.features import FeatureSet
from tl_active.errors import TlActiveError
from tl_active.experiments.compare import oracle_run
from tl_active.experiments.sweep.grid import Cell, Grid, Loader, cell_key, grid_cells
from tl_active.experiments.sweep.results import (
    FLUSH_SECONDS,
    PartWriter,
    cell_rows,
    folder_lock,
    landed_cells,
)

MAX_CHUNK = 32  # cells per task sent to a worker: a few seconds of work at most

Progress = Callable[[int, int], None]


def _run_cells(features: FeatureSet, cells: list[Cell]) -> list[tuple[Cell, list[dict]]]:
    """What a worker does with a chunk: each cell's oracle run, on a fork of the features."""
    return [(cell, oracle_run(features.fork(), cell.run)[1]) for cell in cells]


def _shareable(features: FeatureSet, tasks: Sequence[Task]) -> FeatureSet:
    """A fresh copy with the clusterings of these tasks made, to send to every worker once.

    Every binary task shares one clustering of the whole pool; each class set has its own.
    """
    shared = replace(features)  # no task views of this process travel with it
    binary = [t for t in tasks if t.is_binary][:1]
    for task in [*binary, *(t for t in tasks if not t.is_binary)]:
        shared.task_data(task).clusters  # noqa: B018
    return shared


def _chunks(work: list[tuple[str, Cell]], workers: int) -> list[tuple[str, list[Cell]]]:
    """Cells in chunks of one feature set: about 8 per worker, at most `MAX_CHUNK` cells each."""
    size = max(1, min(MAX_CHUNK, len(work) // max(1, 8 * workers)))
    chunks = []
    for key, group in itertools.groupby(work, key=lambda item: item[0]):
        cells = [cell for _, cell in group]
        chunks.extend((key, cells[i : i + size]) for i in range(0, len(cells), size))
    return chunks


def _cores(jobs: int) -> int:
    return max(1, os.cpu_count() or 1) if jobs < 1 else jobs


def _local_results(shared, work, jobs) -> Iterator[list[tuple[Cell, list[dict]]]]:
    from joblib import Parallel, delayed

    chunks = _chunks(work, _cores(jobs))
    parallel = Parallel(n_jobs=jobs, return_as="generator_unordered", inner_max_num_threads=1)
    yield from parallel(delayed(_run_cells)(shared[key], cells) for key, cells in chunks)


def _ray_results(shared, work, jobs, address) -> Iterator[list[tuple[Cell, list[dict]]]]:
    # Nothing of this process's goes to Ray's usage statistics, whatever the environment says.
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if not address:
        # A Ray of its own serves this machine only: on 127.0.0.1, rather than the address other
        # machines would reach it at (which Ray finds by opening a socket towards the internet).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise TlActiveError(
            "--backend ray needs Ray: pip install .[cluster] (or -r requirements-cluster.txt)"
        ) from None
    try:
        if address:
            ray.init(address=address, logging_level="ERROR")
        else:
            # "local": a Ray of its own on this machine, never one found running here.
            ray.init(
                address="local",
                num_cpus=_cores(jobs),
                include_dashboard=False,
                logging_level="ERROR",
            )
    except (ConnectionError, ValueError, RuntimeError) as error:
        ray.shutdown()
        where = f"join the Ray cluster at {address}" if address else "start a local Ray"
        raise TlActiveError(f"cannot {where}: {error}") from None
    try:
        workers = int(ray.cluster_resources().get("CPU", 1))
        refs = {key: ray.put(features) for key, features in shared.items()}
        task = ray.remote(num_cpus=1)(_run_cells)
        pending = [task.remote(refs[key], cells) for key, cells in _chunks(work, workers)]
        while pending:
            # A wait on every pending task at once, taking what is ready: cheap for many tasks.
            done, pending = ray.wait(pending, num_returns=len(pending), timeout=0.5)
            for ref in done:
                try:
                    chunk = ray.get(ref)
                except ray.exceptions.RayTaskError as error:
                    # Most often a node without this project installed: say so in one line.
                    cause = str(error).strip().splitlines()[-1]
                    raise TlActiveError(
                        f"a sweep task failed on Ray ({cause}): is tl-active installed, the same "
                        "version, on every node?"
                    ) from None
                yield chunk
    finally:
        ray.shutdown()


@dataclass
class SweepReport:
    """What a sweep did: its cells, those found already done, those run now, and the time."""

    cells: int
    already_done: int
    computed: int
    seconds: float
    backend: str

    @property
    def runs_per_second(self) -> float:
        return self.computed / self.seconds if self.seconds else float("nan")


def run_sweep(
    grid: Grid,
    out: Path | str,
    load: Loader,
    backend: str = "local",
    address: str | None = None,
    jobs: int = -1,
    progress: Progress | None = None,
    on_cell: Callable[[Cell], None] | None = None,
    flush_seconds: float = FLUSH_SECONDS,
) -> SweepReport:
    """Run every cell of `grid` not yet in `out` and write its rows there, as cells finish.

    `load(backbone, layer)` gives a backbone's features (once per backbone + layer). `backend`
    is "local" (joblib, `jobs` workers) or "ray" (a local Ray of `jobs` cores, or the cluster
    at `address`). `progress(done, total)` counts the cells to run; `on_cell(cell)` is called
    as each one is written down (an exception there stops the sweep, keeping what finished).
    """
    if backend not in ("local", "ray"):
        raise ValueError(f"backend is 'local' or 'ray', not {backend!r}")
    out = Path(out)
    with folder_lock(out):
        return _run_sweep(grid, out, load, backend, address, jobs, progress, on_cell, flush_seconds)


def _run_sweep(
    grid, out, load, backend, address, jobs, progress, on_cell, flush_seconds
) -> SweepReport:
    for stale in out.glob(".part-*.tmp"):  # a part file a killed sweep did not finish
        stale.unlink()
    done = landed_cells(out)
    shared: dict[str, FeatureSet] = {}
    named: dict[tuple[str, str], FeatureSet] = {}
    work: list[tuple[str, Cell]] = []
    total = 0
    for backbone, layer in grid.backbone_layers():
        features = named[backbone, layer] = load(backbone, layer)
        cells = grid_cells(grid, backbone, layer, len(features.class_names))
        total += len(cells)
        todo = [c for c in cells if cell_key(features.key, c) not in done]
        if todo:
            shared[features.key] = _shareable(features, list(dict.fromkeys(c.task for c in todo)))
            work.extend((features.key, cell) for cell in todo)
    start = time.perf_counter()
    if progress:
        progress(0, len(work))
    writer = PartWriter(out, flush_seconds)
    computed = 0
    if work:
        results = (
            _ray_results(shared, work, jobs, address)
            if backend == "ray"
            else _local_results(shared, work, jobs)
        )
        try:
            for chunk in results:
                for cell, rows in chunk:
                    computed += 1
                    writer.add(cell_rows(cell, rows, named[cell.backbone, cell.layer]))
                    if progress:
                        progress(computed, len(work))
                    if on_cell:
                        on_cell(cell)
        finally:
            writer.flush()
            close = getattr(results, "close", None)
            if close:
                close()
    return SweepReport(
        cells=total,
        already_done=total - len(work),
        computed=computed,
        seconds=time.perf_counter() - start,
        backend=backend,
    )
