"""Compare strategies: every strategy answered by an oracle, and the person's own session on top.

On MNIST the oracle answers with the digits' labels; on weather windows (a question such as
"snow today", read through the frozen wet network `weather-cnn`) with the recorded events, and
for a rare answer (under a fifth of the test set: `metrics.rare_output`, snow or a rare folder
class) the page charts each strategy's PR-AUC per label and the positives it found per label
spent, with precision, recall and F1, before the accuracy.

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
from typing import NamedTuple

import pandas as pd
import streamlit as st

from tl_active import plots
from tl_active.core import stopping
from tl_active.core.head import HEAD_MODES
from tl_active.core.strategies import REGISTRY, allowed_strategies
from tl_active.core.task import BINARY, MULTICLASS, Task
from tl_active.data.backbones import SHIPPED, SHIPPED_WEATHER, default_layer
from tl_active.data.features import FeatureSet
from tl_active.data.weather import QUESTIONS
from tl_active.errors import TlActiveError
from tl_active.experiments.compare import (
    BUDGETS,
    SHARE_OF_CEILING,
    found_rates,
    mean_curves,
    parse_budgets,
    positives_found,
    run_comparison,
    summarise,
)
from tl_active.experiments.compare_notes import (
    coinciding,
    coinciding_note,
    one_run_each,
    one_run_note,
    settled_at,
    shown_until,
)
from tl_active.experiments.sweep.grid import GROUP_COLUMNS
from tl_active.experiments.sweep.results import SweepResults, folder_state, read_results
from tl_active.paths import expanded
from tl_active.sessions.figures import frozen_head_ceiling, frozen_head_ceiling_pr_auc, rare_curve
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
DIGITS_DATA, WEATHER_DATA = "MNIST digits", "Weather windows"
WEATHER_BACKBONE = "weather-cnn"


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
    question: str = ""  # a weather question's name; empty on MNIST
    pick_share: float = 1.0  # the share of the pool each seed picks from

    def describe(self, class_names) -> str:
        asked = QUESTIONS[self.question].text if self.question else self.task.describe(class_names)
        share = (
            f", each seed picking from its own {self.pick_share:.0%} of the pool"
            if self.pick_share < 1
            else ""
        )
        return (
            f"{self.backbone} / {self.layer}, {asked}: {self.seeds} "
            f"seeds x {self.rounds} rounds of {self.batch}, oracle noise {self.noise:g}, "
            f"head {self.head}{share}"
        )


def person_session() -> LabellingSession | None:
    """The person's labelling session on MNIST or weather windows, if they have submitted at
    least one round.

    A session on an image folder is compared with `python -m tl_active compare --images`.
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
    # A session on weather windows names its question (`weather`): start from it.
    question = getattr(session.settings, "weather", "") if session is not None else ""
    if question:
        state[keys.CMP_DATA], state[keys.CMP_QUESTION] = WEATHER_DATA, question
    if session is not None and not session.settings.images and not question:
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


@st.cache_resource(show_spinner="Reading the weather windows with their network (once)...")
def weather_features(question: str) -> FeatureSet:
    """A weather question's windows through the frozen wet network's Dense layer (cached)."""
    from tl_active.data.weather_features import load_weather_features

    return load_weather_features(question)


def read_weather_settings() -> Settings | None:
    """The settings for weather windows: a yes-or-no question, answered by the recorded events."""
    state = st.session_state
    state.setdefault(keys.CMP_QUESTION, "snow-today")
    st.selectbox(
        "Question", list(QUESTIONS), key=keys.CMP_QUESTION, format_func=lambda q: QUESTIONS[q].text
    )
    backbone = SHIPPED_WEATHER[WEATHER_BACKBONE]
    layer = default_layer(backbone)
    st.caption(f"Read by {backbone.name} ({escape_markdown(backbone.description)}), layer {layer}.")
    runs = read_runs(allowed_strategies(BINARY), rounds=20, batch=5)
    head = st.selectbox("Head training", HEAD_MODES, key=keys.CMP_HEAD)
    st.text_input(
        "Budgets (labels to count positives at)",
        key=keys.CMP_BUDGETS,
        help="Label counts such as 25,50,100: the positives found, and the figures, at each.",
    )
    try:
        budgets = parse_budgets(state[keys.CMP_BUDGETS])
        return chosen_settings(
            runs, backbone.name, layer, Task(BINARY, (1,)), head, budgets, state[keys.CMP_QUESTION]
        )
    except ValueError as error:
        st.error(escape_markdown(error))
        return None


def data_changed() -> None:
    """Each data's own starting rounds, batch and budgets: snow days are rare, so weather runs
    label more, in batches of five, and count at 25, 50 and 100 labels."""
    weather = st.session_state[keys.CMP_DATA] == WEATHER_DATA
    rounds, batch, budgets = (
        (20, 5, "25,50,100") if weather else (30, 4, ",".join(map(str, BUDGETS)))
    )
    state = st.session_state
    state[keys.CMP_ROUNDS], state[keys.CMP_BATCH], state[keys.CMP_BUDGETS] = rounds, batch, budgets


def strategy_help() -> str:
    return "\n".join(f"- **{s.name}**: {s.description} ({s.reference})" for s in REGISTRY.values())


class Runs(NamedTuple):
    """The runs' sizes, read alike for either data."""

    seeds: int
    rounds: int
    batch: int
    noise: float
    pick_share: float = 1.0


def read_runs(allowed: list[str], rounds: int, batch: int) -> Runs:
    """The strategies (those `allowed` for the question; a choice carried over from another
    question keeps only those) and the runs' sizes, starting from the data's own `rounds` and
    `batch`."""
    state = st.session_state
    state.setdefault(keys.CMP_STRATEGIES, allowed)
    state[keys.CMP_STRATEGIES] = [s for s in state[keys.CMP_STRATEGIES] if s in allowed]
    st.multiselect("Strategies", allowed, key=keys.CMP_STRATEGIES, help=strategy_help())
    seeds = st.number_input("Seeds per strategy", 1, 20, 5, key=keys.CMP_SEEDS)
    # The data's own rounds and batch start in the session state, not as the widgets' values:
    # switching the data sets them there (`data_changed`), and a widget given both a value and
    # a state set by the page makes Streamlit warn on every switch.
    state.setdefault(keys.CMP_ROUNDS, rounds)
    state.setdefault(keys.CMP_BATCH, batch)
    rounds = st.number_input("Rounds per run", 1, 200, key=keys.CMP_ROUNDS)
    batch = st.number_input("Batch size", 1, MAX_BATCH, key=keys.CMP_BATCH)
    noise = st.slider(
        "Oracle noise (share of answers wrong)", 0.0, 1.0, 0.0, 0.05, key=keys.CMP_NOISE
    )
    share = st.slider(
        "Share of the pool each seed picks from",
        0.5,
        1.0,
        1.0,
        0.05,
        key=keys.CMP_PICK_SHARE,
        help="Under 1, each seed picks from its own seeded share of the pool (the rest stays in "
        "the pool and is never offered). Strategies that draw nothing at random, such as "
        "diversity and phased, make the same picks with every seed on the whole pool; with a "
        "share, their seeds are different runs, and the band shows how far one run can land.",
    )
    return Runs(int(seeds), int(rounds), int(batch), float(noise), float(share))


def chosen_settings(
    runs: Runs,
    backbone: str,
    layer: str,
    task: Task,
    head: str,
    budgets: tuple[int, ...],
    question: str = "",
) -> Settings:
    """The settings with the strategies chosen, in the registry's order; a ValueError if there
    are none (checked last, after what each data checks of its own)."""
    chosen = st.session_state[keys.CMP_STRATEGIES]
    if not chosen:
        raise ValueError("choose at least one strategy")
    ordered = tuple(s for s in REGISTRY if s in chosen)
    return Settings(
        backbone,
        layer,
        task,
        ordered,
        runs.seeds,
        runs.rounds,
        runs.batch,
        runs.noise,
        head,
        budgets,
        question,
        runs.pick_share,
    )


def read_settings() -> Settings | None:
    """The settings from the sidebar; None (with the reason, in the sidebar) if invalid."""
    state = st.session_state
    defaults_from_session()
    st.header("Simulation")
    st.radio(
        "Data",
        [DIGITS_DATA, WEATHER_DATA],
        key=keys.CMP_DATA,
        horizontal=True,
        on_change=data_changed,
    )
    if state[keys.CMP_DATA] == WEATHER_DATA:
        return read_weather_settings()
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
    runs = read_runs(allowed_strategies(BINARY if binary else MULTICLASS), rounds=30, batch=4)
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
        return chosen_settings(runs, backbone, layer, task, head, budgets)
    except ValueError as error:
        st.error(escape_markdown(error))
        return None


def run(settings: Settings) -> dict:
    """The runs, their summary and the frozen-head ceiling of the configuration."""
    if settings.question:
        features = weather_features(settings.question)
    else:
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
        pick_share=settings.pick_share,
    )
    bar.progress(1.0, text="Fitting the frozen-head ceiling...")
    ceiling = frozen_head_ceiling(features, settings.task).accuracy
    rates = found_rates(features, settings.task)
    rare = rates is not None and rates.rare
    bar.empty()
    return {
        "curves": curves,
        "summary": summarise(curves, ceiling, settings.budgets),
        "ceiling": ceiling,
        "seconds": time.perf_counter() - start,
        "class_names": features.class_names,
        "positives": positives_found(curves, settings.budgets) if rates is not None else None,
        "rates": None if rates is None else (rates.pool, rates.test),
        "rare": rare,
        "ceiling_pr_auc": (
            frozen_head_ceiling_pr_auc(features, settings.task, rates.output) if rare else None
        ),
    }


def positives_chart(curves: pd.DataFrame, pool_rate: float) -> None:
    """The positives found against the labels spent, per strategy (mean over seeds), beside
    what random labelling finds on average."""
    found = curves.groupby(["n_labels", "strategy"], sort=False)["positives"].mean().unstack()
    found = found[list(dict.fromkeys(curves["strategy"]))]
    found["(expected at random)"] = found.index * pool_rate
    st.line_chart(found, x_label="labels", y_label="positives found (mean over seeds)")


def positives_table(found: pd.DataFrame, rates: tuple[float, float]) -> None:
    """The positives found at each budget, with precision, recall and F1 there."""
    pool_rate, test_rate = rates
    st.subheader("Positives found per label spent (means over seeds)")
    st.caption(
        f"{pool_rate:.1%} of the pool is positive, so random labelling finds about "
        f"{pool_rate:.3f} per label; {test_rate:.1%} of the test set, where answering no to "
        f"everything scores {1 - test_rate:.1%} accuracy: for a rare answer, read the positives "
        "found and F1."
    )
    st.dataframe(
        found,
        hide_index=True,
        column_config={
            "labels": st.column_config.NumberColumn("first labels"),
            "positives": st.column_config.NumberColumn("positives found", format="%.1f"),
            "fewest": st.column_config.NumberColumn("fewest (a seed)"),
            "most": st.column_config.NumberColumn("most (a seed)"),
            "precision": st.column_config.NumberColumn("precision", format="%.2f"),
            "recall": st.column_config.NumberColumn("recall", format="%.2f"),
            "f1": st.column_config.NumberColumn("F1", format="%.2f"),
        },
    )


def session_curve(session: LabellingSession, figure: str = "accuracy") -> pd.DataFrame:
    """The person's session as a line of the chart of `figure`: accuracy, or the rare answer's
    PR-AUC (from each round's recorded head, as the Label page reads it)."""
    if figure == "pr_auc":
        curve = rare_curve(session)
        return pd.DataFrame(
            {"strategy": plots.YOURS, "n_labels": curve["labels"][1:], "mean": curve["pr_auc"][1:]}
        )
    return pd.DataFrame(
        {
            "strategy": plots.YOURS,
            "n_labels": [r.n_labels for r in session.rounds],
            "mean": [r.metrics["accuracy"] for r in session.rounds],
        }
    )


def pr_auc_chart(result: dict, yours: pd.DataFrame | None) -> None:
    """A rare answer's test PR-AUC per label, per strategy (mean over seeds, the seeds' range
    as a band), against the frozen-head ceiling's: the figure such a question is read by."""
    st.subheader("PR-AUC of the rare answer (means over seeds)")
    st.caption(
        f"Average precision on the test set, from each run's head after each round; it starts "
        f"near the base rate ({result['rates'][1]:.3f}), where ranking finds nothing, and "
        f"the head fitted on every pool label reaches {result['ceiling_pr_auc']:.3f}."
    )
    bands = mean_curves(result["curves"], "pr_auc")
    st.altair_chart(
        plots.compare_chart(bands, result["ceiling_pr_auc"], yours, figure="pr_auc").interactive(),
        width="stretch",
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
        if f"pr_auc_at_{budget}" in shown:  # a rare answer's: its figure first
            columns[f"pr_auc_at_{budget}"] = st.column_config.NumberColumn(
                f"PR-AUC at {budget}", format="%.3f", help="empty: the runs stop before"
            )
    rare = [f"pr_auc_at_{b}" for b in budgets if f"pr_auc_at_{b}" in shown]
    order = ["strategy", *rare, *(c for c in shown.columns if c not in rare and c != "strategy")]
    st.dataframe(shown, hide_index=True, column_config=columns, column_order=order)


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
        where = expanded(folder)
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
    "Which items should a person curate? Each strategy is run by a simulated labeller who "
    "answers with the data's truth (MNIST's digits, or the recorded events of a weather "
    "window), optionally getting a share of the answers wrong, for several seeds; the curves "
    "are the held-out test accuracy after each round (for a rare answer, such as snow, its "
    "PR-AUC first), against the frozen-head ceiling: the same head fitted on every pool "
    "label of that backbone, layer and question."
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
yours = yours_pr_auc = None
if session is not None:
    mine = session.settings
    asked = (mine.backbone, mine.layer, mine.task, getattr(mine, "weather", ""))
    if asked == (shown.backbone, shown.layer, shown.task, shown.question):
        yours = session_curve(session)
        yours_pr_auc = session_curve(session, "pr_auc") if result.get("rare") else None
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

# A rare answer (snow on 2 % of days): its PR-AUC and the positives found come first, accuracy
# after. Results kept from before the rule was the base rate have no "rare": read as not rare.
rare = bool(result.get("rare"))
if rare:
    pr_auc_chart(result, yours_pr_auc)
    positives_table(result["positives"], result["rates"])
    positives_chart(result["curves"], result["rates"][0])
    st.subheader("Accuracy (means over seeds)")
bands = mean_curves(result["curves"])
last = float(bands["n_labels"].max())
# Cut where accuracy settles, but not for a rare answer: its accuracy settles at once, while
# its PR-AUC, above, goes on telling the strategies apart.
until = None if rare else shown_until(settled_at(bands, result["ceiling"]), last)
st.altair_chart(
    plots.compare_chart(bands, result["ceiling"], yours, until=until).interactive(),
    width="stretch",
)
# What the lines cannot say themselves: one hiding another, one run shown as a mean, and where
# the chart stops.
said = coinciding_note(coinciding(result["curves"]), shown.task.is_binary)
one_run = one_run_note(
    one_run_each(result["curves"]),
    int(result["curves"]["seed"].nunique()),
    "A share of the pool for each seed (in the sidebar) gives each seed a run of its own.",
)
said += f"{' ' if said and one_run else ''}{one_run}"
if until is not None:
    said += (
        f"{' ' if said else ''}Drawn up to {until:.0f} of {last:.0f} labels: past it every "
        f"strategy stays at {SHARE_OF_CEILING:.0%} of the ceiling or above, so there is "
        "nothing left to compare (the CSV below has every round)."
    )
if said:
    st.info(said, icon=":material/info:")
st.subheader("Summary (means over seeds)")
summary_table(result["summary"], shown.budgets)
if result.get("positives") is not None and not rare:
    positives_table(result["positives"], result["rates"])
    positives_chart(result["curves"], result["rates"][0])
st.download_button(
    "Download curves (CSV)",
    result["curves"].to_csv(index=False),
    file_name="curves.csv",
    mime="text/csv",
)
