"""The peer bench's own pieces: the folder of MNIST test digits it builds, the default it reads,
and the tables it prints (the peer library itself is not needed for these)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_peers  # noqa: E402

from tl_active.core.strategies import (  # noqa: E402
    DEFAULT_STRATEGY,
    FEATURES_DEFAULT_STRATEGY,
)
from tl_active.core.task import Task  # noqa: E402
from tl_active.data.images import scan_folder  # noqa: E402
from tl_active.sessions.records import layer_default  # noqa: E402

DIVERSITY_PLAIN = {"A": ("diversity", "plain")}

# Test-set positions of the few digits 0-2 in the small MNIST file below; the rest are 9s.
PLACED = {3: 0, 7: 1, 11: 2, 20: 0, 21: 2}


@pytest.fixture
def small_mnist(tmp_path):
    """An MNIST-shaped file whose test set holds five digits 0-2 among 9s, each image distinct."""
    rng = np.random.default_rng(0)
    x_test = np.zeros((10_000, 28, 28), np.uint8)
    y_test = np.full(10_000, 9, np.uint8)
    for i, digit in PLACED.items():
        x_test[i] = rng.integers(0, 256, (28, 28), dtype=np.uint8)
        y_test[i] = digit
    path = tmp_path / "mnist.npz"
    np.savez_compressed(
        path,
        x_train=np.zeros((60_000, 28, 28), np.uint8),
        y_train=np.zeros(60_000, np.uint8),
        x_test=x_test,
        y_test=y_test,
    )
    return path, x_test


def test_the_folder_holds_the_test_digits_0_to_2_named_by_their_index(tmp_path, small_mnist):
    source, x_test = small_mnist
    root = bench_peers.digit_folder(tmp_path / "folder", source)
    written = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    assert written == ["0/00003.png", "0/00020.png", "1/00007.png", "2/00011.png", "2/00021.png"]
    for i, digit in PLACED.items():
        with Image.open(root / str(digit) / f"{i:05d}.png") as image:
            assert np.array_equal(np.asarray(image), x_test[i])
    folder = scan_folder(root)
    assert folder.class_names == ("0", "1", "2")


def test_the_folder_is_the_same_wherever_and_however_often_it_is_built(tmp_path, small_mnist):
    source, _ = small_mnist
    first = bench_peers.digit_folder(tmp_path / "a", source)
    again = bench_peers.digit_folder(first, source)  # files already there are kept
    elsewhere = bench_peers.digit_folder(tmp_path / "b", source)
    # The same content checksum: the features' cache key, so a rerun reads them back.
    assert scan_folder(first).checksum == scan_folder(again).checksum
    assert scan_folder(first).checksum == scan_folder(elsewhere).checksum


def test_each_task_s_default_follows_the_layer_it_reads(monkeypatch):
    defaults = bench_peers.task_defaults()
    odd_even, zero_four = bench_peers.TASKS
    assert defaults == {
        odd_even: layer_default(True),  # the softmax outputs
        zero_four: layer_default(False),  # the 5-9 network's embedding
        bench_peers.FOLDER: layer_default(False),
    }
    assert defaults[odd_even] == (DEFAULT_STRATEGY, "plain")
    assert defaults[zero_four] == (FEATURES_DEFAULT_STRATEGY, "pool")
    mine = bench_peers.our_strategies(Task.multiclass("0-4"))
    assert len(mine) == len(set(mine))
    assert {DEFAULT_STRATEGY, FEATURES_DEFAULT_STRATEGY} <= set(mine)
    # A new default is read on a rerun.
    monkeypatch.setattr(bench_peers, "layer_default", lambda reads: ("margin", "plain"))
    assert set(bench_peers.task_defaults().values()) == {("margin", "plain")}


def runs_of(rows):
    columns = ["task", "strategy", "head", "seed", "n_labels", "accuracy"]
    return pd.DataFrame(rows, columns=columns)


RUNS = runs_of(
    [
        # task A: the default leads at 10, the peer's MaxHerding (pool-taught) at 20
        *[("A", "diversity", "plain", s, 10, a) for s, a in [(0, 0.90), (1, 0.92)]],
        *[("A", "diversity", "plain", s, 20, a) for s, a in [(0, 0.93), (1, 0.93)]],
        *[("A", "diversity", "pool", s, 10, a) for s, a in [(0, 0.80), (1, 0.80)]],
        *[("A", "diversity", "pool", s, 20, a) for s, a in [(0, 0.95), (1, 0.95)]],
        *[("A", "margin", "plain", s, 10, 0.70) for s in (0, 1)],
        *[("A", "margin", "plain", s, 20, 0.96) for s in (0, 1)],
        *[("A", "margin", "pool", s, 10, 0.75) for s in (0, 1)],
        *[("A", "margin", "pool", s, 20, 0.90) for s in (0, 1)],
        *[("A", "peer MaxHerding", "plain", s, 10, 0.88) for s in (0, 1)],
        *[("A", "peer MaxHerding", "plain", s, 20, 0.94) for s in (0, 1)],
        *[("A", "peer MaxHerding", "pool", s, 10, 0.89) for s in (0, 1)],
        *[("A", "peer MaxHerding", "pool", s, 20, 0.955) for s in (0, 1)],
        *[("A", "peer margin", "plain", s, 10, 0.60) for s in (0, 1)],
        *[("A", "peer margin", "plain", s, 20, 0.80) for s in (0, 1)],
        *[("A", "peer margin", "pool", s, 10, 0.65) for s in (0, 1)],
        *[("A", "peer margin", "pool", s, 20, 0.85) for s in (0, 1)],
    ]
)


def test_the_summary_is_the_mean_in_percent_ours_first_each_head_plain_first():
    table = bench_peers.summary(RUNS)
    assert list(table.index) == [
        ("diversity", "plain"),
        ("diversity", "pool"),
        ("margin", "plain"),
        ("margin", "pool"),
        ("peer MaxHerding", "plain"),
        ("peer MaxHerding", "pool"),
        ("peer margin", "plain"),
        ("peer margin", "pool"),
    ]
    assert list(table.columns) == [("A", 10), ("A", 20)]
    assert table.loc[("diversity", "plain"), ("A", 10)] == pytest.approx(91.0)
    assert table.loc[("peer MaxHerding", "pool"), ("A", 20)] == pytest.approx(95.5)


def test_the_leads_name_the_best_peer_under_either_head_and_the_gap_in_points():
    table = bench_peers.summary(RUNS)
    leads = bench_peers.leads(table, DIVERSITY_PLAIN).set_index("n_labels")
    assert leads.loc[10, "best_peer"] == "peer MaxHerding, pool-taught"
    assert leads.loc[10, "lead"] == pytest.approx(91.0 - 89.0)
    assert leads.loc[20, "best_peer"] == "peer MaxHerding, pool-taught"
    assert leads.loc[20, "lead"] == pytest.approx(93.0 - 95.5)
    assert leads.loc[10, "best_ours"] == "diversity, plain"
    assert leads.loc[20, "best_ours"] == "margin, plain"
    assert leads.loc[20, "ours"] == pytest.approx(96.0)
    # The default is its strategy with its head: with the pool-taught head it trails at 10.
    pool = bench_peers.leads(table, {"A": ("diversity", "pool")}).set_index("n_labels")
    assert pool.loc[10, "lead"] == pytest.approx(80.0 - 89.0)


def test_the_markdown_tables_mark_the_default_and_the_best_of_each_column():
    table = bench_peers.summary(RUNS)
    lines = bench_peers.markdown(table, DIVERSITY_PLAIN).splitlines()
    assert lines[0] == "| strategy | head | A @ 10 | @ 20 |"
    assert lines[2] == "| `diversity` | plain (default: A) | **91.0** | 93.0 |"
    assert lines[3] == "| `diversity` | pool-taught | 80.0 | 95.0 |"
    assert lines[4] == "| `margin` | plain | 70.0 | **96.0** |"
    assert lines[7] == "| peer MaxHerding (slice) | pool-taught | 89.0 | 95.5 |"
    assert len(lines) == 2 + len(table)
    leads = bench_peers.markdown_leads(bench_peers.leads(table, DIVERSITY_PLAIN))
    assert leads.splitlines()[2:] == [
        "| A | 10 | diversity, plain | 91.00 | peer MaxHerding, pool-taught | 89.00 | +2.00 "
        "| diversity, plain (91.00) |",
        "| A | 20 | diversity, plain | 93.00 | peer MaxHerding, pool-taught | 95.50 | -2.50 "
        "| margin, plain (96.00) |",
    ]


def test_a_selection_holds_a_column_where_no_other_peer_beats_it():
    table = bench_peers.summary(RUNS)
    held = bench_peers.columns_held(table)
    # At 10 labels the best peer has 89.0, at 20 95.5 (MaxHerding, pool-taught).
    assert held[("diversity", "plain")] == 1  # 91.0 at 10; 93.0 < 95.5 at 20
    assert held[("margin", "plain")] == 1  # 96.0 at 20 only
    assert held[("diversity", "pool")] == 0
    # A peer is held against the other peers only: MaxHerding beats peer margin everywhere.
    assert held[("peer MaxHerding", "pool")] == 2 and held[("peer MaxHerding", "plain")] == 2
    assert held[("peer margin", "pool")] == 0
    assert held.index[0][0] == "peer MaxHerding" and list(held) == sorted(held, reverse=True)


def test_runs_without_the_default_are_refused_in_one_line():
    table = bench_peers.summary(RUNS)
    with pytest.raises(ValueError, match=r"no rows of A's default \(badge, plain head\)"):
        bench_peers.leads(table, {"A": ("badge", "plain")})
