"""Compare strategies: every strategy answered by an oracle, and the person's own session on top.

A thin page over `tl_active.compare`: it reads the settings, calls `run_comparison` once per new
set of settings (with a progress bar), and draws what comes back. Results are kept per settings
in `st.session_state`, so a rerun, or going back to settings already run, is instant.
"""

from __future__ import annotations

import time

import altair as alt
import pandas as pd
import streamlit as st

from tl_active.compare import mean_curves, run_comparison, summarise
from tl_active.errors import TlActiveError
from tl_active.head import HEAD_MODES
from tl_active.metrics import ceiling
from tl_active.session import MAX_BATCH, parse_target, target_name
from tl_active.strategies import DESCRIPTIONS, STRATEGIES
from ui_support import SESSION_KEY, escape_markdown, features_or_stop

st.set_page_config(page_title="tl-active: compare strategies", page_icon="📈", layout="wide")

RESULTS = "compare_results"  # {settings: result dict}, this person's runs
SHOWN = "compare_shown"  # the settings whose result is on screen
MAX_KEPT = 8
YOURS = "your session"


def person_session():
    """The person's labelling session, if they have submitted at least one round."""
    session = st.session_state.get(SESSION_KEY)
    return session if session is not None and session.rounds else None


def read_settings() -> tuple | None:
    """The settings from the widgets, as a hashable key; None (with a message) if invalid."""
    session = st.session_state.get(SESSION_KEY)
    default_target = target_name(session.settings.target) if session is not None else "odd"
    with st.sidebar:
        st.header("Simulation")
        strategies = st.multiselect(
            "Strategies",
            list(STRATEGIES),
            default=list(STRATEGIES),
            key="cmp_strategies",
            help="\n".join(f"- **{name}**: {text}" for name, text in DESCRIPTIONS.items()),
        )
        target_text = st.text_input(
            "Target (positive digits)",
            value=default_target,
            key="cmp_target",
            help="'odd', 'even' or digits such as 2,3,5,7",
        )
        seeds = st.number_input("Seeds per strategy", 1, 20, 5, key="cmp_seeds")
        rounds = st.number_input("Rounds per run", 1, 100, 30, key="cmp_rounds")
        batch = st.number_input("Batch size", 1, MAX_BATCH, 4, key="cmp_batch")
        noise = st.slider(
            "Oracle noise (share of answers flipped)", 0.0, 1.0, 0.0, 0.05, key="cmp_noise"
        )
        head = st.selectbox("Head training", HEAD_MODES, key="cmp_head")
    try:
        target = parse_target(target_text)
    except ValueError as error:
        st.sidebar.error(escape_markdown(error))
        return None
    if not strategies:
        st.sidebar.error("Choose at least one strategy.")
        return None
    ordered = tuple(name for name in STRATEGIES if name in strategies)
    return ordered, int(seeds), int(rounds), int(batch), target_name(target), float(noise), head


def run(settings: tuple) -> dict:
    strategies, seeds, rounds, batch, target, noise, head = settings
    feats = features_or_stop()
    bar = st.progress(0.0, text="Starting the runs...")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Runs finished: {done} of {total}")

    start = time.perf_counter()
    curves = run_comparison(
        feats,
        strategies,
        seeds,
        rounds,
        batch,
        target,
        noise,
        jobs=-1,
        progress=progress,
        head_mode=head,
    )
    bar.empty()
    ceiling_accuracy = ceiling(feats.test_probs, feats.y_test, parse_target(target)).accuracy
    return {
        "curves": curves,
        "summary": summarise(curves, ceiling_accuracy),
        "ceiling": ceiling_accuracy,
        "seconds": time.perf_counter() - start,
    }


def session_curve(session) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "strategy": YOURS,
            "n_labels": [r.n_labels for r in session.rounds],
            "mean": [r.metrics["accuracy"] for r in session.rounds],
        }
    )


def curves_chart(result: dict, yours: pd.DataFrame | None) -> alt.LayerChart:
    bands = mean_curves(result["curves"])
    names = list(dict.fromkeys(bands["strategy"]))
    domain = names + ([YOURS] if yours is not None else [])
    palette = alt.Scale(
        domain=domain, range=_colours(len(names)) + (["black"] if yours is not None else [])
    )
    base = alt.Chart(bands).encode(
        x=alt.X("n_labels:Q", title="labels"),
        color=alt.Color(
            "strategy:N",
            scale=palette,
            sort=domain,
            title=None,
            legend=alt.Legend(symbolOpacity=1, symbolType="circle"),
        ),
    )
    band = base.mark_area(opacity=0.15).encode(
        y=alt.Y("low:Q", scale=alt.Scale(zero=False), title="test accuracy"),
        y2="high:Q",
    )
    line = base.mark_line(point=True).encode(
        y="mean:Q",
        tooltip=[
            "strategy:N",
            alt.Tooltip("n_labels:Q", title="labels"),
            alt.Tooltip("mean:Q", title="mean accuracy", format=".2%"),
            alt.Tooltip("low:Q", title="lowest seed", format=".2%"),
            alt.Tooltip("high:Q", title="highest seed", format=".2%"),
        ],
    )
    rule = (
        alt.Chart(pd.DataFrame({"ceiling": [result["ceiling"]]}))
        .mark_rule(strokeDash=[6, 4], color="gray")
        .encode(y="ceiling:Q", tooltip=[alt.Tooltip("ceiling:Q", format=".2%")])
    )
    layers = [band, line, rule]
    if yours is not None:
        layers.append(
            alt.Chart(yours)
            .mark_line(point=True, strokeWidth=3)
            .encode(
                x="n_labels:Q",
                y="mean:Q",
                color=alt.Color("strategy:N", scale=palette, sort=domain, title=None),
                tooltip=[
                    "strategy:N",
                    alt.Tooltip("n_labels:Q", title="labels"),
                    alt.Tooltip("mean:Q", title="accuracy", format=".2%"),
                ],
            )
        )
    return alt.layer(*layers).properties(height=420).interactive()


def _colours(n: int) -> list[str]:
    tableau = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
    return [tableau[i % len(tableau)] for i in range(n)]


def summary_table(summary: pd.DataFrame) -> None:
    shown = summary.copy()
    for column in ("accuracy_at_12", "accuracy_at_40"):
        shown[column] = 100 * shown[column]
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "labels_to_99pct_of_ceiling": st.column_config.NumberColumn(
                "labels to 99 % of ceiling", help="empty: never reached in these rounds"
            ),
            "accuracy_at_12": st.column_config.NumberColumn("accuracy at 12", format="%.2f %%"),
            "accuracy_at_40": st.column_config.NumberColumn("accuracy at 40", format="%.2f %%"),
            "auc": st.column_config.NumberColumn("AUC", format="%.4f"),
        },
    )


st.title("Compare strategies")
st.write(
    "Which images should a person curate? Each strategy is run by a simulated labeller who "
    "answers with MNIST's ground truth (optionally flipping a share of the answers), for several "
    "seeds; the curves are the held-out test accuracy after each round."
)

settings = read_settings()
results = st.session_state.setdefault(RESULTS, {})
clicked = st.button("Run comparison", type="primary", disabled=settings is None, key="cmp_run")
if clicked and settings is not None:
    if settings not in results:
        try:
            results[settings] = run(settings)
        except (TlActiveError, ValueError) as error:
            st.error(escape_markdown(error))
            st.stop()
        while len(results) > MAX_KEPT:
            results.pop(next(iter(results)))
    st.session_state[SHOWN] = settings
elif settings in results:
    st.session_state[SHOWN] = settings  # settings already run: show them at once

shown = st.session_state.get(SHOWN)
if shown is None or shown not in results:
    st.info("Choose the settings in the sidebar and press **Run comparison**.")
    st.stop()

result = results[shown]
strategies, seeds, rounds, batch, target, noise, head = shown
if shown != settings:
    st.caption("Showing the last run; the settings in the sidebar have changed since.")
st.caption(
    f"Target **{target}**, {seeds} seeds x {rounds} rounds of {batch}, oracle noise {noise:g}, "
    f"head {head}: {len(strategies) * seeds} runs in {result['seconds']:.1f} s. "
    f"Ceiling (the frozen CNN's own argmax): {result['ceiling']:.2%}. "
    "Lines: mean over seeds; bands: lowest to highest seed."
)

session = person_session()
yours = None
if session is not None:
    same = target_name(session.settings.target) == target
    if same:
        yours = session_curve(session)
        last = session.rounds[-1]
        st.write(
            f"**Your session** (black, strategy {session.settings.strategy}): "
            f"{last.metrics['accuracy']:.2%} test accuracy with {last.n_labels} labels."
        )
    else:
        st.caption(
            f"Your session labels target {target_name(session.settings.target)}, not {target}: "
            "it is not drawn. Set the target to match to compare."
        )

st.altair_chart(curves_chart(result, yours), width="stretch")
st.subheader("Summary (means over seeds)")
summary_table(result["summary"])
st.download_button(
    "Download curves (CSV)",
    result["curves"].to_csv(index=False),
    file_name="curves.csv",
    mime="text/csv",
)
