"""Transfer lab: training from scratch, freezing, the head and fine-tuning, side by side.

A thin page over `tl_active.transfer`. It shows the measured run committed under
`docs/transfer/` (the command's default settings), and runs short configurations here, in the
server, with the command's `--quick` training lengths: the settings are read from the sidebar,
`run_transfer` is called once per new set of settings (with a progress bar), and what comes
back is drawn. Results are kept per settings in `st.session_state`.

Its second lab is the seed `precipitation-to-snow.md`'s: the wet network `weather-cnn` (rain or
snow today, from 14-day windows of five cities' weather) asked about snow, a rare answer (about
2 % of days), so every method is scored by PR-AUC, precision, recall and F1, beside the seed's
own table and a logistic regression on the day's measurements; the measured run is
`docs/weather/`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import streamlit as st

from tl_active.core.strategies import DEFAULT_STRATEGY
from tl_active.core.task import Task
from tl_active.data.backbones import SHIPPED
from tl_active.data.weather import QUESTIONS
from tl_active.errors import TlActiveError
from tl_active.experiments import transfer
from tl_active.experiments import weather_transfer as weather
from tl_active.paths import PROJECT_ROOT
from ui import keys
from ui.support import escape_markdown, features_for, run_once_kept

MEASURED = PROJECT_ROOT / "docs" / "transfer" / "transfer.csv"
BUDGET_CHOICES = [25, 50, 100, 200, 500, transfer.ALL]
SELECTIONS = [transfer.RANDOM, DEFAULT_STRATEGY]
MAX_KEPT = 4
DIGITS_LAB, SNOW_LAB = "Digits 0-4 from the 5-9 network", "Snow from the wet network"
MEASURED_WEATHER = PROJECT_ROOT / "docs" / "weather" / "transfer.csv"
WEATHER_SELECTIONS = [weather.RANDOM, DEFAULT_STRATEGY, "uncertainty", "committee"]


@st.cache_resource(show_spinner=False)
def backbone_model():
    """The 5-9 network, loaded once for every person (only read: each training copies it)."""
    from tl_active.data.network import load_backbone

    return load_backbone(SHIPPED[transfer.DEFAULT_BACKBONE].path)


@st.cache_resource(show_spinner=False)
def lab() -> transfer.TransferData:
    """Digits 0-4: their images and the 5-9 network's embedding of them (the feature cache)."""
    features = features_for(transfer.DEFAULT_BACKBONE, transfer.EMBEDDING)
    return transfer.lab_for(features, Task.multiclass(transfer.DEFAULT_CLASSES))


def read_settings() -> transfer.TransferSettings | None:
    """The sidebar's settings on the command's `--quick` training lengths; None if invalid."""
    st.header("Run it here")
    st.caption(
        "Short trainings (the command's --quick lengths), on this server: two budgets and one "
        "seed took 18 s on a quiet machine; each budget, seed and layer more adds to it."
    )
    budgets = st.multiselect("Budgets (labels)", BUDGET_CHOICES, [50, 200], key=keys.TR_BUDGETS)
    selections = st.multiselect(
        "Selections", SELECTIONS, SELECTIONS, key=keys.TR_SELECTIONS,
        help=f"random, or {DEFAULT_STRATEGY} (the demo's default strategy) on the frozen "
        "embedding, answered by MNIST's ground truth",
    )  # fmt: skip
    seeds = st.number_input("Seeds", 1, 3, 1, key=keys.TR_SEEDS)
    layers = st.number_input(
        "Fine-tune the last N layers", 1, 7, 2, key=keys.TR_LAYERS,
        help="N of fine-tune-last-N: the network's last N weighted layers (from the embedding "
        "down) train with the head, at a tenth of the learning rate",
    )  # fmt: skip
    try:
        return replace(
            transfer.QUICK,
            budgets=tuple(budgets),
            selections=tuple(selections),
            seeds=int(seeds),
            fine_tune_layers=int(layers),
        )
    except ValueError as error:
        st.error(escape_markdown(error))
        return None


def run(settings: transfer.TransferSettings) -> pd.DataFrame:
    bar = st.progress(0.0, text="Loading the 5-9 network...")

    def progress(done: int, total: int, what: str) -> None:
        bar.progress(done / total, text=f"Trainings finished: {done} of {total} ({what})")

    try:
        return transfer.run_transfer(lab(), backbone_model(), settings, progress).rows
    finally:
        bar.empty()


def show(rows: pd.DataFrame, fine_tune: str, title: str) -> None:
    """The chart, what it says about the targets, and the table, from a run's rows."""
    summary = transfer.summarise(rows)
    # One above the other, 360 px wide: with the legend they fit a 1024 x 700 screen's column.
    st.altair_chart(transfer.transfer_chart(rows, title, width=360, stacked=True), width="content")
    for line in transfer.findings(summary, fine_tune).lines:
        st.markdown(f"- {escape_markdown(line)}")
    shown = summary.assign(
        accuracy=100 * summary["accuracy"],
        accuracy_min=100 * summary["accuracy_min"],
        accuracy_max=100 * summary["accuracy_max"],
    )
    percent = {"format": "%.2f %%"}
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "accuracy": st.column_config.NumberColumn("accuracy (mean)", **percent),
            "accuracy_min": st.column_config.NumberColumn("lowest seed", **percent),
            "accuracy_max": st.column_config.NumberColumn("highest seed", **percent),
            "train_seconds": st.column_config.NumberColumn("train s", format="%.2f"),
            "epochs": st.column_config.NumberColumn("epochs", format="%.1f"),
            "seconds_per_epoch": st.column_config.NumberColumn("s / epoch", format="%.3f"),
        },
    )


def fine_tune_of(rows: pd.DataFrame) -> str:
    """The fine-tune-last-N method a run's rows name (the default N if none)."""
    names = [m for m in rows["method"].unique() if str(m).startswith("fine-tune-last-")]
    return names[0] if names else transfer.fine_tune_name(2)


# --- snow from the wet network ------------------------------------------------------------------


class WeatherRun(NamedTuple):
    """One short weather run: its question and settings (hashable, so results are kept)."""

    question: str
    settings: weather.WeatherTransferSettings


@st.cache_resource(show_spinner="Reading the weather windows with the wet network (once)...")
def weather_lab(question: str):
    """A question's windows, the wet network's Dense-layer features of them, and the network."""
    from tl_active.data.backbones import WEATHER_DENSE_LAYER, resolve_backbone
    from tl_active.data.network import load_backbone
    from tl_active.data.weather import make_windows
    from tl_active.data.weather_features import load_weather_features

    backbone = resolve_backbone(weather.LAB_BACKBONE)
    model = load_backbone(backbone.path)
    days = int(model.inputs[0].shape[1])
    features = load_weather_features(question, backbone, WEATHER_DENSE_LAYER, days)
    return make_windows(question, days), features, model


def read_weather_settings() -> WeatherRun | None:
    """The sidebar's settings for a short run on a weather question; None if invalid."""
    st.header("Run it here")
    st.caption(
        "Short runs on this server (20 epochs each): the command's --quick, one seed with 50 "
        "and all labels on both snow questions, trained in 12 s here; each budget, selection "
        "and seed more adds to it."
    )
    question = st.selectbox(
        "Question",
        [q for q in QUESTIONS if q.startswith("snow")],
        key=keys.TR_QUESTION,
        format_func=lambda q: QUESTIONS[q].text,
    )
    budgets = st.multiselect(
        "Budgets (labels)",
        [25, 50, 100, weather.ALL],
        [50, weather.ALL],
        key=keys.TR_WEATHER_BUDGETS,
    )
    selections = st.multiselect(
        "Selections", WEATHER_SELECTIONS, [weather.RANDOM, "uncertainty"],
        key=keys.TR_WEATHER_SELECTIONS,
        help="random, or a strategy on the wet network's frozen Dense layer, answered by the "
        "recorded events",
    )  # fmt: skip
    seeds = st.number_input("Seeds", 1, 3, 1, key=keys.TR_WEATHER_SEEDS)
    try:
        if not selections:
            raise ValueError("choose at least one selection")
        settings = replace(
            weather.QUICK, budgets=tuple(budgets), selections=tuple(selections), seeds=int(seeds)
        )
    except ValueError as error:
        st.error(escape_markdown(error))
        return None
    return WeatherRun(question, settings)


def run_weather(chosen: WeatherRun) -> pd.DataFrame:
    bar = st.progress(0.0, text="Loading the wet network...")

    def progress(done: int, total: int, what: str) -> None:
        bar.progress(done / total, text=f"Trainings finished: {done} of {total} ({what})")

    try:
        windows, features, model = weather_lab(chosen.question)
        return weather.run_weather_transfer(windows, features, model, chosen.settings, progress)
    finally:
        bar.empty()


@st.cache_data(show_spinner=False)
def weather_reference(question: str) -> dict[str, float]:
    return weather.day_reference(weather_lab(question)[0])


def show_weather(rows: pd.DataFrame) -> None:
    """A weather run's summary: PR-AUC (with its spread), precision, recall and F1 per method,
    beside the logistic regression on the day's own measurements."""
    summary = weather.summarise(rows)
    two = {"format": "%.2f"}
    st.dataframe(
        summary.drop(columns=["base_rate"]),
        hide_index=True,
        column_config={
            "positives": st.column_config.NumberColumn("snow days in the labels", format="%.1f"),
            "pr_auc": st.column_config.NumberColumn("PR-AUC (mean)", format="%.3f"),
            "pr_auc_sd": st.column_config.NumberColumn("± sd", format="%.3f"),
            "precision": st.column_config.NumberColumn("precision", **two),
            "recall": st.column_config.NumberColumn("recall", **two),
            "f1": st.column_config.NumberColumn("F1", **two),
        },
    )
    for question in summary["question"].unique():
        ref = weather_reference(question)
        st.caption(
            f"{QUESTIONS[question].text}: snow on {ref['base_rate']:.1%} of 2017's days (the "
            f"PR-AUC of a guess). Without any network, a logistic regression on the answer "
            f"day's own measurements with every 2016 label: PR-AUC {ref['pr_auc']:.3f}, "
            f"precision {ref['precision']:.2f}, recall {ref['recall']:.2f}, F1 {ref['f1']:.2f}."
        )


def seed_table() -> None:
    """The seed's own figures (hourly, private data), to read beside ours (daily, public)."""
    st.markdown(
        "The seed's own table (hourly data, frozen convolution and new dense layers, a private "
        "data set; snow hours ahead, so a comparison of the setting, not of the method):"
    )
    st.dataframe(
        pd.DataFrame(weather.SEED_TABLE, columns=["hours ahead", "precision", "recall"]),
        hide_index=True,
    )


def weather_page() -> None:
    st.write(
        "The seed `precipitation-to-snow.md`: a Conv1D network trained to tell whether it rains "
        "or snows today (`weather-cnn-4d`, from the last 4 days of one city's measurements, the "
        "day's own precipitation hidden) is asked whether it **snows**, a rarer answer. Five "
        "ways, on the same labels, trained on 2016 and scored on 2017: **scratch** trains the "
        "whole network from random weights; **frozen-conv** keeps its convolution and retrains "
        "the dense layers; **head** is this app's head on its frozen Dense layer; **fine-tune** "
        "starts from that head and trains the Dense and output layers at a lower learning "
        "rate (3e-4 for 20 epochs, chosen on 2016's blocked folds); **fine-tune-all** trains "
        "the convolution too. Snow falls on about 2 % "
        "of days, so each is scored by PR-AUC, with precision, recall and F1 at 0.5; accuracy "
        "would praise a network that never says snow."
    )
    with st.sidebar:
        chosen = read_weather_settings()
    results = st.session_state.setdefault(keys.TR_RESULTS, {})
    if st.button("Run", type="primary", disabled=chosen is None, key=keys.TR_RUN):
        run_once_kept(results, chosen, run_weather, MAX_KEPT)
        st.session_state[keys.TR_SHOWN] = chosen
    shown = st.session_state.get(keys.TR_SHOWN)
    if isinstance(shown, WeatherRun) and shown in results:
        st.subheader("Your run")
        show_weather(results[shown])
        st.download_button(
            "Download transfer.csv",
            results[shown].to_csv(index=False),
            file_name="weather-transfer.csv",
            mime="text/csv",
        )
    st.subheader("The measured run")
    try:
        measured = pd.read_csv(MEASURED_WEATHER)
    except (OSError, ValueError) as error:
        st.warning(escape_markdown(f"the measured run cannot be read: {error}"))
    else:
        st.caption(
            "`python -m tl_active --data weather transfer` with its defaults, committed in "
            f"docs/weather/: {len(measured)} trainings, {measured['seed'].nunique()} seeds."
        )
        show_weather(measured)
    seed_table()


# --- the page -----------------------------------------------------------------------------------

st.title("Transfer lab")
with st.sidebar:
    lab_shown = st.radio("Lab", [DIGITS_LAB, SNOW_LAB], key=keys.TR_DATA)
if lab_shown == SNOW_LAB:
    weather_page()
    st.stop()
st.write(
    "The 5-9 network (`mnist-cnn-5to9`) has never seen a 0, 1, 2, 3 or 4. How much does it help "
    "to learn those five digits? Four ways, on the same labels: **scratch** trains the whole "
    "network from random weights; **frozen-conv** keeps its convolutional layers and retrains "
    "the dense layers (the convolutions run once over the images); **head** is this app's head "
    "on its frozen embedding; **fine-tune-last-N** starts from that head and trains the last N "
    "layers with it at a tenth of the learning rate, keeping the best epoch on a validation "
    "split of the labels. Accuracy is on MNIST's 5,139 test images of 0-4."
)

with st.sidebar:
    settings = read_settings()

results = st.session_state.setdefault(keys.TR_RESULTS, {})
if st.button("Run", type="primary", disabled=settings is None, key=keys.TR_RUN):
    run_once_kept(results, settings, run, MAX_KEPT)
    st.session_state[keys.TR_SHOWN] = settings

shown = st.session_state.get(keys.TR_SHOWN)
if isinstance(shown, transfer.TransferSettings) and shown in results:
    st.subheader("Your run")
    rows = results[shown]
    show(
        rows,
        shown.method_name(transfer.FINE_TUNE),
        f"your run: {shown.seeds} seed(s), short trainings",
    )
    st.download_button(
        "Download transfer.csv", rows.to_csv(index=False), file_name="transfer.csv", mime="text/csv"
    )

st.subheader("The measured run")
try:
    measured = transfer.read_rows(MEASURED)
except TlActiveError as error:
    st.warning(escape_markdown(error))
else:
    st.caption(
        f"`python -m tl_active transfer` with its defaults, committed in "
        f"{escape_markdown(Path(MEASURED).relative_to(PROJECT_ROOT).parent)}/: "
        f"{len(measured)} trainings, {measured['seed'].nunique()} seeds."
    )
    show(measured, fine_tune_of(measured), "the measured run (docs/transfer)")
