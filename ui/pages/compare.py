"""Compare strategies: every strategy answered by an oracle, and the person's own session on top.

It also opens a sweep's results (`python -m tl_active sweep`, `tl_active.sweep`): the folder's
path, then a slice of the grid chosen per key in the sidebar, drawn as the comparison is.

A thin page over `tl_active.compare`. It reads the settings (backbone, layer, question, budgets,
runs), calls `run_comparison` once per new set of settings (with a progress bar), and draws what
comes back with the frozen-head ceiling of that configuration. Results are kept per settings in
`st.session_state`, so a rerun, or going back to settings already run, is instant. The person's
labelling session is drawn on top when it asks the same question of the same layer.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import streamlit as st

from tl_active import plots
from tl_active.core import stopping
from tl_active.core.head import HEAD_MODES
from tl_active.core.strategies import REGISTRY, allowed_strategies
from tl_active.core.task import BINARY, MULTICLASS, Task
from tl_active.data.backbones import SHIPPED
from tl_active.errors import TlActiveError
from tl_active.experiments.compare import (
    BUDGETS,
    mean_curves,
    parse_budgets,
    run_comparison,
    summarise,
)
from tl_active.experiments.sweep.grid import GROUP_COLUMNS
from tl_active.experiments.sweep.results import SweepResults, folder_state, read_results
from tl_active.sessions.figures import frozen_head_ceiling
from tl_active.sessions.records import MAX_BATCH, PLAIN_HEAD, POOL_HEAD
from tl_active.sessions.session import LabellingSession
from ui import keys
from ui.support import (
    OWN_FILE,
    backbone_choices,
    backbone_spec,
    choice_of,
    default_backbone_and_layer,
    escape_markdown,
    features_for,
    layer_options,
    run_once_kept,
)

MAX_KEPT = 8
KINDS = {"binary": "binary target", "classes": "classes"}
SIMULATE, SWEEP = "Simulate here", "Open a sweep's results"


class Settings(NamedTuple):
    """One comparison: hashable, so that results are kept per settings.

    A named tuple rather than a dataclass: the page runs afresh each time, making a new class,
    and tuples compare equal across such classes where dataclasses do not.
    """

    backbone: str
    layer: str
    task: Task
    strategies: tuple[str, ...]
    seeds: int
    rounds: int
    batch: int
    noise: float
    head: str
    budgets: tuple[int, ...]

    def describe(self, class_names) -> str:
        return (
            f"{self.backbone} / {self.layer}, {self.task.describe(class_names)}: {self.seeds} "
            f"seeds x {self.rounds} rounds of {self.batch}, oracle noise {self.noise:g}, "
            f"head {self.head}"
        )


def person_session() -> LabellingSession | None:
    """The person's labelling session on MNIST, if they have submitted at least one round.

    This page compares on MNIST; a session on an image folder is compared with
    `python -m tl_active compare --images`.
    """
    session = st.session_state.get(keys.SESSION)
    if session is None or session.settings.images:
        return None
    return session if session.rounds else None


def defaults_from_session() -> None:
    """The first time: the sidebar starts from the person's session (or the defaults)."""
    state = st.session_state
    if keys.CMP_BACKBONE in state:
        return
    session = st.session_state.get(keys.SESSION)
    if session is not None and not session.settings.images:
        backbone, layer, task = (
            session.settings.backbone,
            session.settings.layer,
            session.task,
        )
    else:
        (backbone, layer), task = default_backbone_and_layer(), Task.binary("odd")
    state[keys.CMP_BACKBONE], state[keys.CMP_MODEL_PATH] = choice_of(backbone)
    state[keys.CMP_LAYER] = layer
    state[keys.CMP_KIND] = "binary" if task.is_binary else "classes"
    state[keys.CMP_TARGET] = task.name() if task.is_binary else "odd"
    state[keys.CMP_CLASSES] = list(task.classes) if not task.is_binary else [0, 1, 2, 3, 4]
    state[keys.CMP_BUDGETS] = ",".join(map(str, BUDGETS))


def read_settings() -> Settings | None:
    """The settings from the sidebar; None (with the reason, in the sidebar) if invalid."""
    state = st.session_state
    defaults_from_session()
    st.header("Simulation")
    st.selectbox(
        "Backbone",
        backbone_choices(),
        key=keys.CMP_BACKBONE,
        format_func=lambda c: c if c == OWN_FILE else f"{c}: {SHIPPED[c].description}",
    )
    own = state[keys.CMP_BACKBONE] == OWN_FILE
    st.text_input("Path of your .keras file", key=keys.CMP_MODEL_PATH, disabled=not own)
    st.selectbox(
        "Layer the head reads",
        layer_options(None if own else SHIPPED[state[keys.CMP_BACKBONE]], state[keys.CMP_LAYER]),
        key=keys.CMP_LAYER,
        accept_new_options=True,
    )
    st.radio("Question", list(KINDS), key=keys.CMP_KIND, format_func=KINDS.get, horizontal=True)
    binary = state[keys.CMP_KIND] == "binary"
    st.text_input(
        "Target (positive digits)",
        key=keys.CMP_TARGET,
        disabled=not binary,
        help="'odd', 'even' or digits such as 2,3,5,7",
    )
    st.multiselect("Classes to tell apart", list(range(10)), key=keys.CMP_CLASSES, disabled=binary)
    allowed = allowed_strategies(BINARY if binary else MULTICLASS)
    if keys.CMP_STRATEGIES in state:
        state[keys.CMP_STRATEGIES] = [s for s in state[keys.CMP_STRATEGIES] if s in allowed]
    else:
        state[keys.CMP_STRATEGIES] = allowed
    st.multiselect(
        "Strategies",
        allowed,
        key=keys.CMP_STRATEGIES,
        help="\n".join(
            f"- **{s.name}**: {s.description} ({s.reference})" for s in REGISTRY.values()
        ),
    )
    seeds = st.number_input("Seeds per strategy", 1, 20, 5, key=keys.CMP_SEEDS)
    rounds = st.number_input("Rounds per run", 1, 200, 30, key=keys.CMP_ROUNDS)
    batch = st.number_input("Batch size", 1, MAX_BATCH, 4, key=keys.CMP_BATCH)
    noise = st.slider(
        "Oracle noise (share of answers wrong)", 0.0, 1.0, 0.0, 0.05, key=keys.CMP_NOISE
    )
    head = st.selectbox(
        "Head training",
        [*HEAD_MODES, POOL_HEAD] if binary else ["converge", POOL_HEAD],
        key=keys.CMP_HEAD,
        help=f"**{POOL_HEAD}**: the pool-taught head, fitted to convergence on the answers plus "
        "pseudo-labels spread over a neighbour graph of the pool",
    )
    st.text_input(
        "Budgets (labels to report accuracy at)",
        key=keys.CMP_BUDGETS,
        help="Label counts such as 12,40,100: the summary has one accuracy column per budget.",
    )
    try:
        task = (
            Task.binary(state[keys.CMP_TARGET])
            if binary
            else Task.multiclass(list(state[keys.CMP_CLASSES]))
        )
        budgets = parse_budgets(state[keys.CMP_BUDGETS])
        backbone = backbone_spec(state[keys.CMP_BACKBONE], state[keys.CMP_MODEL_PATH])
        layer = str(state[keys.CMP_LAYER] or "").strip()
        if not layer:
            raise ValueError("name the layer whose outputs the head reads")
        if not state[keys.CMP_STRATEGIES]:
            raise ValueError("choose at least one strategy")
    except ValueError as error:
        st.error(escape_markdown(error))
        return None
    ordered = tuple(s for s in REGISTRY if s in state[keys.CMP_STRATEGIES])
    return Settings(
        backbone, layer, task, ordered, int(seeds), int(rounds), int(batch), float(noise),
        head, budgets,
    )  # fmt: skip


def run(settings: Settings) -> dict:
    """The runs, their summary and the frozen-head ceiling of the configuration."""
    features = features_for(settings.backbone, settings.layer)
    bar = st.progress(0.0, text="Starting the runs...")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Runs finished: {done} of {total}")

    start = time.perf_counter()
    curves = run_comparison(
        features,
        settings.strategies,
        settings.seeds,
        settings.rounds,
        settings.batch,
        settings.task,
        settings.noise,
        jobs=-1,
        progress=progress,
        head_mode="converge" if settings.head == POOL_HEAD else settings.head,
        head=POOL_HEAD if settings.head == POOL_HEAD else PLAIN_HEAD,
    )
    bar.progress(1.0, text="Fitting the frozen-head ceiling...")
    ceiling = frozen_head_ceiling(features, settings.task).accuracy
    bar.empty()
    return {
        "curves": curves,
        "summary": summarise(curves, ceiling, settings.budgets),
        "ceiling": ceiling,
        "seconds": time.perf_counter() - start,
        "class_names": features.class_names,
    }


def session_curve(session: LabellingSession) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "strategy": plots.YOURS,
            "n_labels": [r.n_labels for r in session.rounds],
            "mean": [r.metrics["accuracy"] for r in session.rounds],
        }
    )


def figure_columns(reached_help: str) -> dict:
    """How both summaries show the figures they share: the ceiling reached, the stop, the AUC."""
    return {
        "labels_to_99pct_of_ceiling": st.column_config.NumberColumn(
            "labels to 99 % of ceiling", help=reached_help
        ),
        "labels_at_stop": st.column_config.NumberColumn(
            "labels at stop",
            help="where the stopping recommendation (no test labels: the pool's predictions "
            f"steady for {stopping.KAPPA_WINDOW} rounds) first fired, mean over seeds; empty: "
            "not in every seed",
        ),
        "accuracy_at_stop": st.column_config.NumberColumn(
            "accuracy at stop", format="%.2f %%", help="test accuracy there, mean over seeds"
        ),
        "auc": st.column_config.NumberColumn("AUC", format="%.4f"),
    }


def summary_table(summary: pd.DataFrame, budgets: tuple[int, ...]) -> None:
    shown = summary.copy()
    columns = figure_columns("empty: never reached in these rounds")
    shown["accuracy_at_stop"] = 100 * shown["accuracy_at_stop"]
    for budget in budgets:
        column = f"accuracy_at_{budget}"
        shown[column] = 100 * shown[column]
        columns[column] = st.column_config.NumberColumn(
            f"accuracy at {budget}", format="%.2f %%", help="empty: the runs stop before"
        )
    st.dataframe(shown, hide_index=True, column_config=columns)


# --- a sweep's results --------------------------------------------------------------------------


@st.cache_data(max_entries=4, show_spinner="Reading the sweep...")
def sweep_results(folder: str, state: tuple) -> SweepResults:
    """The folder's results; `state` (its part files) makes a sweep still running read again."""
    return read_results(folder)


def choose_slice(results: SweepResults, folder: str) -> tuple[dict, str]:
    """The sidebar's filters, one per grid key with more than one value, and the lines' key.

    At first every strategy and the first value of each other key: one question, one batch
    size and so on, so the lines are strategies compared on like terms.
    """
    tag = hashlib.sha256(folder.encode()).hexdigest()[:8]  # new filters for another folder
    chosen, varied = {}, []
    st.header("Slice of the sweep")
    for column in GROUP_COLUMNS:
        values = sorted(results.rows[column].unique().tolist())
        if len(values) == 1:
            st.caption(f"{column}: {escape_markdown(values[0])}")
            continue
        varied.append(column)
        chosen[column] = st.multiselect(
            column.replace("_", " "),
            values,
            default=values if column == "strategy" else values[:1],
            key=f"{keys.SWEEP_FILTER}_{column}_{tag}",
        )
    lines = st.selectbox(
        "Lines",
        ["strategy", *(c for c in varied if c != "strategy")],
        key=f"{keys.SWEEP_LINES}_{tag}",
        help="The key whose values are the chart's lines; the others are averaged over.",
    )
    return chosen, lines


def sweep_summary_table(summary: pd.DataFrame) -> None:
    """The sweep's summary rows: the grid keys, then the figures over seeds, accuracies in %."""
    shown = summary.copy()
    accuracies = [c for c in shown.columns if c.startswith("accuracy_at_")]
    shown[accuracies] = 100 * shown[accuracies]
    columns = {
        **figure_columns("mean curve over seeds; empty: never reached"),
        "labels_at_stop_sd": st.column_config.NumberColumn("± sd", format="%.1f"),
        "accuracy_at_stop_sd": st.column_config.NumberColumn("± sd ", format="%.2f %%"),
        "seeds_stopped": st.column_config.NumberColumn(
            "seeds stopped", help="in how many seeds the recommendation fired at all"
        ),
        "auc_sd": st.column_config.NumberColumn("± sd  ", format="%.4f"),
    }
    for column in accuracies:
        if column.startswith("accuracy_at_stop"):
            continue
        budget = column.removeprefix("accuracy_at_").removesuffix("_sd")
        label = f"accuracy at {budget}" if not column.endswith("_sd") else f"± sd {budget}"
        columns[column] = st.column_config.NumberColumn(label, format="%.2f %%")
    st.dataframe(shown, hide_index=True, column_config=columns)


def show_sweep() -> None:
    folder = st.text_input(
        "Sweep folder",
        key=keys.SWEEP_PATH,
        placeholder="results/sweep",
        help="The --out folder of `python -m tl_active sweep GRID.toml --out DIR`.",
    ).strip()
    if not folder:
        st.info("Give the folder a sweep wrote its results to (its `--out`).")
        return
    try:
        where = Path(folder).expanduser()
        results = sweep_results(str(where), folder_state(where))
    except (TlActiveError, OSError) as error:
        st.error(escape_markdown(error))
        return
    with st.sidebar:
        chosen, lines = choose_slice(results, folder)
    rows = results.slice(chosen)
    if rows.empty:
        st.warning("Nothing in this slice: choose at least one value of each key.")
        return
    drawn = rows.assign(strategy=rows[lines].astype(str)) if lines != "strategy" else rows
    ceiling = results.ceiling(rows)
    questions = rows["task"].nunique()
    st.caption(
        f"{escape_markdown(folder)}: {rows['cell'].nunique():,} runs of "
        f"{results.rows['cell'].nunique():,} in this slice; lines: {lines}, each the mean over "
        "what else the slice holds (bands: lowest to highest run). "
        + (
            "The frozen-head ceilings are written when the sweep finishes."
            if ceiling is None
            else f"Frozen-head ceiling: {ceiling:.2%}"
            + (f" (the mean of {questions} questions)." if questions > 1 else ".")
        )
    )
    st.altair_chart(plots.compare_chart(mean_curves(drawn), ceiling).interactive(), width="stretch")
    if results.summary is not None:
        st.subheader("Summary per grid cell (over seeds)")
        summary = results.summary
        for column, values in chosen.items():
            summary = summary[summary[column].isin(values)]
        sweep_summary_table(summary)


# --- the page -----------------------------------------------------------------------------------

st.title("Compare strategies")
st.write(
    "Which images should a person curate? Each strategy is run by a simulated labeller who "
    "answers with MNIST's ground truth (optionally getting a share of the answers wrong), for "
    "several seeds; the curves are the held-out test accuracy after each round, against the "
    "frozen-head ceiling: the same head fitted on every pool label of that backbone, layer and "
    "question."
)
source = st.radio(
    "Results", [SIMULATE, SWEEP], key=keys.CMP_SOURCE, horizontal=True, label_visibility="collapsed"
)
if source == SWEEP:
    show_sweep()
    st.stop()

with st.sidebar:
    settings = read_settings()
results = st.session_state.setdefault(keys.CMP_RESULTS, {})
clicked = st.button("Run comparison", type="primary", disabled=settings is None, key=keys.CMP_RUN)
if clicked and settings is not None:
    run_once_kept(results, settings, run, MAX_KEPT)
    st.session_state[keys.CMP_SHOWN] = settings
elif settings in results:
    st.session_state[keys.CMP_SHOWN] = settings  # settings already run: show them at once

shown = st.session_state.get(keys.CMP_SHOWN)
if shown is None or shown not in results:
    st.info("Choose the settings in the sidebar and press **Run comparison**.")
    st.stop()

result = results[shown]
if shown != settings:
    st.caption("Showing the last run; the settings in the sidebar have changed since.")
st.caption(
    f"{escape_markdown(shown.describe(result['class_names']))}: "
    f"{len(shown.strategies) * shown.seeds} runs in {result['seconds']:.1f} s. "
    f"Frozen-head ceiling: {result['ceiling']:.2%}. "
    "Lines: mean over seeds; bands: lowest to highest seed."
)

session = person_session()
yours = None
if session is not None:
    mine = session.settings
    if (mine.backbone, mine.layer, mine.task) == (shown.backbone, shown.layer, shown.task):
        yours = session_curve(session)
        last = session.rounds[-1]
        st.write(
            f"**Your session** (black; strategy {mine.strategy}, batch {mine.batch_size}, head "
            f"{mine.head_mode}): {last.metrics['accuracy']:.2%} test accuracy with "
            f"{last.n_labels} labels."
        )
    else:
        st.caption(
            f"Your session asks {escape_markdown(session.task.describe())} of "
            f"{escape_markdown(mine.backbone)} / {escape_markdown(mine.layer)}: not drawn. "
            "Set the backbone, layer and question to match to compare."
        )

st.altair_chart(
    plots.compare_chart(mean_curves(result["curves"]), result["ceiling"], yours).interactive(),
    width="stretch",
)
st.subheader("Summary (means over seeds)")
summary_table(result["summary"], shown.budgets)
st.download_button(
    "Download curves (CSV)",
    result["curves"].to_csv(index=False),
    file_name="curves.csv",
    mime="text/csv",
)
