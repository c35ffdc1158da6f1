"""The transfer lab: settings, selections, splits and what a summary says, then (marked) real
trainings on a small slice of MNIST, run twice to the same accuracies, and the command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic import synthetic_features

from tl_active.cli import transfer as transfer_command
from tl_active.cli.main import main
from tl_active.core.head import make_head
from tl_active.core.task import Task
from tl_active.experiments import transfer
from tl_active.experiments.transfer import (
    ALL,
    COLUMNS,
    FINE_TUNE,
    FROZEN_CONV,
    HEAD,
    SCRATCH,
    TransferData,
    TransferSettings,
    batch_size_for,
    findings,
    selection_order,
    summarise,
    validation_split,
)
from tl_active.paths import PROJECT_ROOT

# --- settings ----------------------------------------------------------------------------------


def test_settings_sort_the_budgets_and_put_all_last():
    settings = TransferSettings(budgets=(500, ALL, 25, 50, 25))
    assert settings.budgets == (25, 50, 500, ALL)
    assert settings.counted_budgets == (25, 50, 500)
    assert settings.method_name(FINE_TUNE) == "fine-tune-last-2"
    assert TransferSettings(fine_tune_layers=3).method_name(FINE_TUNE) == "fine-tune-last-3"
    assert settings.method_name(SCRATCH) == SCRATCH


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"budgets": (1,)}, "2 labels or more"),
        ({"budgets": ("some",)}, "number of labels or 'all'"),
        ({"budgets": ()}, "at least one budget"),
        ({"selections": ("nonsense",)}, "nonsense"),
        ({"selections": ("band",)}, "binary task"),
        ({"methods": ("distil",)}, "distil"),
        ({"seeds": 0}, "seeds"),
        ({"fine_tune_layers": 0}, "at least 1 layer"),
        ({"validation_share": 1.0}, "validation share"),
    ],
)
def test_bad_settings_are_refused_with_what_is_wrong(given, message):
    with pytest.raises(ValueError, match=message):
        TransferSettings(**given)


def test_budgets_parse_from_the_command_line():
    assert transfer_command.parse_budgets("25, 50,all") == (25, 50, ALL)
    with pytest.raises(ValueError, match="label counts or 'all'"):
        transfer_command.parse_budgets("25,many")


@pytest.mark.parametrize("budgets", ["1", "25,x"])
def test_the_command_refuses_a_bad_budget_in_one_line(budgets, tmp_path, capsys):
    assert main(["transfer", "--budgets", budgets, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


# --- labels, splits, batches -------------------------------------------------------------------


def _synthetic_lab(n_pool: int = 400) -> TransferData:
    features = synthetic_features(n_pool, 100, layer="embedding")
    task = Task.multiclass("0-4")
    data = features.task_data(task)
    return TransferData(
        features, task, np.zeros((data.size, 4, 4)), np.zeros((len(data.test), 4, 4))
    )


@pytest.mark.parametrize("selection", ["random", "diversity"])
def test_a_selection_is_unique_seeded_and_a_smaller_budget_is_its_start(selection):
    lab = _synthetic_lab()
    order = selection_order(lab, selection, 30, seed=1)
    assert len(order) == 30 and len(set(order.tolist())) == 30
    assert order.min() >= 0 and order.max() < lab.data.size
    np.testing.assert_array_equal(order, selection_order(lab, selection, 30, seed=1))
    np.testing.assert_array_equal(order[:12], selection_order(lab, selection, 12, seed=1))


def test_random_selections_differ_from_seed_to_seed():
    lab = _synthetic_lab()
    first, second = (selection_order(lab, "random", 30, seed) for seed in (1, 2))
    assert not np.array_equal(first, second)


def test_the_diversity_selection_covers_every_class_in_its_first_batches():
    lab = _synthetic_lab()
    order = selection_order(lab, "diversity", 10, seed=0)
    # One typical image per cluster first: the synthetic clusters are the five digits.
    assert set(lab.data.truth_pool[order].tolist()) == set(range(5))


def test_a_budget_larger_than_the_pool_is_refused():
    lab = _synthetic_lab(40)
    with pytest.raises(ValueError, match="pool holds"):
        selection_order(lab, "random", lab.data.size + 1, seed=0)


def test_the_validation_split_is_a_seeded_share_and_never_empty():
    fit, val = validation_split(50, 0.2, seed=3)
    assert len(fit) == 40 and len(val) == 10
    assert not set(fit.tolist()) & set(val.tolist())
    assert sorted([*fit, *val]) == list(range(50))
    again = validation_split(50, 0.2, seed=3)
    np.testing.assert_array_equal(val, again[1])
    assert not np.array_equal(val, validation_split(50, 0.2, seed=4)[1])
    assert [len(part) for part in validation_split(2, 0.2, seed=0)] == [1, 1]


def test_small_budgets_get_small_batches_and_every_training_the_same_epoch_cap():
    assert batch_size_for(20) == 8 and batch_size_for(400) == 50 and batch_size_for(24_000) == 128
    # One cap, in epochs, for every method and budget: no step cap that would stop all labels
    # (192 steps an epoch) after a few epochs, before early stopping decides.
    assert TransferSettings().max_epochs == 60
    assert not hasattr(TransferSettings(), "max_steps")


def test_the_command_takes_the_epoch_cap_and_has_no_step_cap(tmp_path, capsys):
    from tl_active.cli.main import build_parser

    args = build_parser().parse_args(["transfer", "--quick", "--max-epochs", "30"])
    settings = transfer_command.settings_from_args(args)
    assert settings.max_epochs == 30 and settings.budgets == (50, 200) and settings.seeds == 1
    with pytest.raises(SystemExit) as stopped:
        main(["transfer", "--max-steps", "800", "--out", str(tmp_path)])
    assert stopped.value.code == 2 and "--max-steps" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# --- what a summary says -----------------------------------------------------------------------


def _rows() -> pd.DataFrame:
    """Two seeds of made-up trainings, shaped as `run_transfer` writes them."""
    accuracy = {
        (SCRATCH, 50): 0.70,
        (FROZEN_CONV, 50): 0.80,
        (HEAD, 50): 0.93,
        ("fine-tune-last-2", 50): 0.92,
        (SCRATCH, 500): 0.95,
        (FROZEN_CONV, 500): 0.96,
        (HEAD, 500): 0.965,
        ("fine-tune-last-2", 500): 0.975,
        (SCRATCH, 1_000): 0.992,
        (FROZEN_CONV, 1_000): 0.985,
        (HEAD, 1_000): 0.98,
        ("fine-tune-last-2", 1_000): 0.99,
    }
    seconds_per_epoch = {SCRATCH: 10.0, FROZEN_CONV: 0.5, HEAD: 0.0, "fine-tune-last-2": 3.0}
    rows = []
    for seed in (0, 1):
        for (method, labels), value in accuracy.items():
            selection = ALL if labels == 1_000 else "random"
            epochs = 0 if method == HEAD else 4
            rows.append(
                {
                    "method": method,
                    "selection": selection,
                    "labels": labels,
                    "seed": seed,
                    "accuracy": value + (0.005 if seed else -0.005),
                    "train_seconds": seconds_per_epoch[method] * epochs + 0.1 * (method == HEAD),
                    "epochs": epochs,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def test_the_summary_is_the_mean_over_seeds_with_the_spread():
    summary = summarise(_rows())
    assert list(summary.columns) == transfer.SUMMARY_COLUMNS
    row = summary[(summary["method"] == SCRATCH) & (summary["labels"] == 50)].iloc[0]
    assert row["seeds"] == 2
    assert row["accuracy"] == pytest.approx(0.70)
    assert (row["accuracy_min"], row["accuracy_max"]) == pytest.approx((0.695, 0.705))
    assert row["seconds_per_epoch"] == pytest.approx(10.0)
    head = summary[(summary["method"] == HEAD) & (summary["labels"] == 50)].iloc[0]
    assert head["epochs"] == 0 and pd.isna(head["seconds_per_epoch"])


def test_findings_answer_the_targets_from_the_summary():
    found = findings(summarise(_rows()), "fine-tune-last-2")
    assert found.epoch_speedup == pytest.approx(20.0)
    assert found.all_labels_gap == pytest.approx(0.985 - 0.992)
    assert found.at_50 == {"random": pytest.approx(0.93 - 0.70)}
    # Fine-tuning loses to the head at 50 labels and wins from 500 on.
    assert found.fine_tune_pays_from == {"random": 500}  # wins at 500 and at every budget after
    text = "\n".join(found.lines)
    assert "20.0 x faster" in text and "-0.70 points from scratch" in text
    assert "+23.00 points from scratch" in text and "it pays from 500 labels" in text


def test_the_chart_draws_accuracy_against_labels_and_against_seconds():
    spec = transfer.transfer_chart(_rows(), "title").to_dict()
    assert spec["title"] == "title" and len(spec["hconcat"]) == 2
    by_labels, by_seconds = spec["hconcat"]
    assert by_labels["layer"][0]["encoding"]["x"]["field"] == "labels"
    assert by_seconds["encoding"]["x"]["field"] == "train_seconds"
    methods = {row["method"] for row in spec["datasets"].values() for row in row}
    assert methods == {SCRATCH, FROZEN_CONV, HEAD, "fine-tune-last-2"}
    # The page's: one above the other, narrower, so that they fit its column.
    stacked = transfer.transfer_chart(_rows(), "title", width=360, stacked=True).to_dict()
    assert len(stacked["vconcat"]) == 2
    assert [c["width"] for c in stacked["vconcat"]] == [360, 360]


# --- real trainings, marked --------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_lab() -> TransferData:
    """Digits 0-4 among the first 600 pool and 400 test images, on the 5-9 network's embedding."""
    from dataclasses import replace

    from tl_active.data.mnist import load_mnist

    lab = transfer.load_transfer_data()
    whole, mnist = lab.features, load_mnist()
    features = replace(
        whole,
        pool=whole.pool[:600],
        test=whole.test[:400],
        y_pool=whole.y_pool[:600],
        y_test=whole.y_test[:400],
        key=f"{whole.key}-first-600",
    )
    data = features.task_data(lab.task)
    return TransferData(
        features,
        lab.task,
        mnist.x_pool[:600][data.pool_index],
        mnist.x_test[:400][lab.task.in_task(mnist.y_test[:400])],
    )


@pytest.mark.model
def test_the_same_settings_train_to_the_same_accuracies(small_lab):
    from tl_active.data.backbones import SHIPPED
    from tl_active.data.network import load_backbone

    backbone = load_backbone(SHIPPED["mnist-cnn-5to9"].path)
    settings = TransferSettings(budgets=(20, ALL), seeds=1, max_epochs=3, patience=2, min_epochs=1)
    first = transfer.run_transfer(small_lab, backbone, settings)
    second = transfer.run_transfer(small_lab, backbone, settings)
    rows = first.rows
    assert list(rows.columns) == COLUMNS
    n_all = small_lab.data.size
    # 2 selections x 1 budget + all labels once, 4 methods each.
    assert len(rows) == 12
    assert set(rows["labels"]) == {20, n_all}
    assert set(rows["method"]) == {SCRATCH, FROZEN_CONV, HEAD, "fine-tune-last-2"}
    np.testing.assert_allclose(rows["accuracy"], second.rows["accuracy"], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(rows["epochs"], second.rows["epochs"])
    trained = rows[rows["method"] != HEAD]
    assert (
        trained["epochs"].between(1, 3).all()
        and (rows[rows["method"] == HEAD]["epochs"] == 0).all()
    )
    assert (rows["train_seconds"] > 0).all()
    # The frozen 5-9 embedding tells 0-4 apart from 20 labels; random weights cannot yet.
    head = rows[(rows["method"] == HEAD) & (rows["labels"] == 20)]["accuracy"]
    assert (head > 0.75).all()
    assert rows["accuracy"].between(0, 1).all()
    # Each frozen part ran over the test images and only the pool images some training used.
    n_test = len(small_lab.test_images)
    for name in (FROZEN_CONV, "fine-tune-last-2"):
        images, seconds = first.frozen_passes[name]
        assert images == n_test + n_all and seconds > 0


@pytest.mark.model
def test_fine_tuning_that_never_helps_gives_the_head_back(small_lab):
    """With a learning rate too small to move anything, the best epoch is the start: the head."""
    from tl_active.data.backbones import SHIPPED
    from tl_active.data.network import load_backbone

    backbone = load_backbone(SHIPPED["mnist-cnn-5to9"].path)
    settings = TransferSettings(
        budgets=(40,),
        selections=("random",),
        seeds=1,
        methods=(HEAD, FINE_TUNE),
        learning_rate=1e-12,
        max_epochs=2,
        min_epochs=1,
    )
    rows = transfer.run_transfer(small_lab, backbone, settings).rows
    labelled = selection_order(small_lab, "random", 40, seed=0)
    fit, _ = validation_split(40, settings.validation_share, seed=0)
    data = small_lab.data
    head = make_head(5, "converge", True).fit(
        data.pool[labelled[fit]], data.truth_pool[labelled[fit]]
    )
    expected = float(np.mean(head.predict_proba(data.test).argmax(axis=1) == data.truth_test))
    tuned = rows[rows["method"] == "fine-tune-last-2"]["accuracy"].iloc[0]
    # The same head, run by Keras in float32: at most one borderline test image may flip.
    assert tuned == pytest.approx(expected, abs=1 / len(data.test) + 1e-9)


@pytest.mark.model
def test_the_command_writes_the_csv_the_summary_and_the_plot(tmp_path, capsys):
    code = main(
        [
            "transfer",
            "--budgets",
            "20",
            "--selections",
            "random",
            "--seeds",
            "1",
            "--max-epochs",
            "2",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    rows = pd.read_csv(tmp_path / "transfer.csv")
    assert list(rows.columns) == COLUMNS and len(rows) == 4
    assert set(rows["selection"]) == {"random"} and set(rows["labels"]) == {20}
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert list(summary.columns) == transfer.SUMMARY_COLUMNS and len(summary) == 4
    assert (tmp_path / "transfer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "50 labels" not in out  # no 50-label budget was run, so nothing is claimed about it
    assert "4 trainings in" in out and "fine-tune-last-2" in out


def test_a_damaged_transfer_csv_is_refused_with_what_is_wrong(tmp_path):
    from tl_active.errors import TlActiveError

    with pytest.raises(TlActiveError, match="is missing: `python -m tl_active transfer"):
        transfer.read_rows(tmp_path / "transfer.csv")
    (tmp_path / "transfer.csv").write_text("method,selection\nhead,random\n")
    with pytest.raises(TlActiveError, match="lacks labels, seed, accuracy"):
        transfer.read_rows(tmp_path / "transfer.csv")
    _rows().assign(accuracy="high").to_csv(tmp_path / "transfer.csv", index=False)
    with pytest.raises(TlActiveError, match="damaged"):
        transfer.read_rows(tmp_path / "transfer.csv")
    _rows().to_csv(tmp_path / "transfer.csv", index=False)
    pd.testing.assert_frame_equal(transfer.read_rows(tmp_path / "transfer.csv"), _rows())


@pytest.mark.model
def test_the_transfer_lab_page_shows_the_measured_run_and_runs_a_short_one(app_db):
    from streamlit.testing.v1 import AppTest

    from ui import keys

    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("ui/pages/transfer.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [h.value for h in at.subheader] == ["The measured run"]
    measured = transfer.read_rows(PROJECT_ROOT / "docs" / "transfer" / "transfer.csv")
    assert len(at.dataframe[0].value) == len(transfer.summarise(measured))
    assert any("x faster" in m.value for m in at.markdown)
    before = sum("points from scratch" in m.value for m in at.markdown)

    at.multiselect(key=keys.TR_BUDGETS).set_value([50])
    at.multiselect(key=keys.TR_SELECTIONS).set_value(["random"])
    at.button(key=keys.TR_RUN).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [h.value for h in at.subheader] == ["Your run", "The measured run"]
    yours = at.dataframe[0].value
    assert list(yours["method"]) == [SCRATCH, FROZEN_CONV, HEAD, "fine-tune-last-2"]
    assert set(yours["labels"]) == {50} and (yours["seeds"] == 1).all()
    # The run's own line on 50 random labels joins the measured run's lines.
    assert sum("points from scratch" in m.value for m in at.markdown) == before + 1
