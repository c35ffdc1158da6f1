"""The transfer lab: what a network trained on other digits buys, measured side by side.

`settings` holds what is trained (the methods, budgets, selections, training caps) and on which
images; `trainer` trains one method on given labels; `running` chooses each selection's labels
and runs every training; `summary` says what the rows found (the summary over seeds, the
findings, the table and the chart). The names the app's page and the tests use are gathered
here, so that `transfer.run_transfer` reads as it always did; each is defined in the module
named above.
"""

from tl_active.experiments.transfer.running import TransferResult, run_transfer, selection_order
from tl_active.experiments.transfer.settings import (
    ALL,
    COLUMNS,
    DEFAULT_BACKBONE,
    DEFAULT_CLASSES,
    EMBEDDING,
    FINE_TUNE,
    FROZEN_CONV,
    HEAD,
    METHODS,
    QUICK,
    RANDOM,
    SCRATCH,
    SUMMARY_COLUMNS,
    TransferData,
    TransferSettings,
    batch_size_for,
    fine_tune_name,
    lab_for,
    load_transfer_data,
    validation_split,
)
from tl_active.experiments.transfer.summary import (
    Findings,
    findings,
    format_summary,
    read_rows,
    summarise,
    transfer_chart,
)

__all__ = [
    "ALL",
    "COLUMNS",
    "DEFAULT_BACKBONE",
    "DEFAULT_CLASSES",
    "EMBEDDING",
    "FINE_TUNE",
    "FROZEN_CONV",
    "HEAD",
    "METHODS",
    "QUICK",
    "RANDOM",
    "SCRATCH",
    "SUMMARY_COLUMNS",
    "Findings",
    "TransferData",
    "TransferResult",
    "TransferSettings",
    "batch_size_for",
    "fine_tune_name",
    "findings",
    "format_summary",
    "lab_for",
    "load_transfer_data",
    "read_rows",
    "run_transfer",
    "selection_order",
    "summarise",
    "transfer_chart",
    "validation_split",
]
