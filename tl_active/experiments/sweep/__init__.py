"""Strategy sweeps: a grid of oracle runs, on this machine or a Ray cluster, into Parquet.

`grid` reads a grid (a TOML file) and makes its cells; `running` runs the cells not yet in the
results folder, locally with joblib or on Ray; `results` owns that folder (Parquet part files,
their writer, compaction, the folder lock, reading it back); `summary` says what a finished
sweep found. The names a sweep's callers use are gathered here, so that `sweep.run_sweep` and
`sweep.read_sweep` read as they always did; each is defined in the module named above.
"""

from tl_active.experiments.sweep.grid import (
    ALL_TARGETS,
    GRID_KEYS,
    GROUP_COLUMNS,
    Cell,
    Grid,
    GridError,
    cell_key,
    cell_strategies,
    grid_cells,
    load_grid,
    parse_grid,
    task_label,
)
from tl_active.experiments.sweep.results import (
    CEILINGS_FILE,
    LOCK_FILE,
    PART_GLOB,
    PLOT_FILE,
    ROW_COLUMNS,
    SUMMARY_FILE,
    SweepResults,
    SweepRunningError,
    folder_lock,
    folder_state,
    landed_cells,
    read_results,
    read_sweep,
)
from tl_active.experiments.sweep.running import SweepReport, run_sweep
from tl_active.experiments.sweep.summary import (
    finish_sweep,
    format_overview,
    summarise_sweep,
    summary_columns,
    sweep_ceilings,
)

__all__ = [
    "ALL_TARGETS",
    "CEILINGS_FILE",
    "GRID_KEYS",
    "GROUP_COLUMNS",
    "LOCK_FILE",
    "PART_GLOB",
    "PLOT_FILE",
    "ROW_COLUMNS",
    "SUMMARY_FILE",
    "Cell",
    "Grid",
    "GridError",
    "SweepReport",
    "SweepResults",
    "SweepRunningError",
    "cell_key",
    "cell_strategies",
    "finish_sweep",
    "folder_lock",
    "folder_state",
    "format_overview",
    "grid_cells",
    "landed_cells",
    "load_grid",
    "parse_grid",
    "read_results",
    "read_sweep",
    "run_sweep",
    "summarise_sweep",
    "summary_columns",
    "sweep_ceilings",
    "task_label",
]
