"""The pool map: seeded, cached by the features' key, resumed from its neighbours, a damaged file
recomputed; what a page draws of it; and `python -m tl_active map`."""

from __future__ import annotations

import csv
import dataclasses
import shutil
import sys

import altair as alt
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tl_active.cli.main import main
from tl_active.data import pool_map
from tl_active.data.features import FeatureSet
from tl_active.data.pool_map import (
    MAX_DRAWN,
    PCA,
    UMAP,
    cached_map,
    drawn_points,
    load_map,
    map_path,
    neighbour_accuracy,
    neighbours_path,
)


def clustered_features(n_pool: int = 600, seed: int = 0) -> FeatureSet:
    """Ten well-separated clusters in 32 dimensions, one per digit: a map must keep them apart."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n_pool + 100).astype(np.uint8)
    x = (4 * np.eye(10, 32)[y] + rng.normal(0, 0.3, (len(y), 32))).astype(np.float32)
    return FeatureSet(
        pool=x[:n_pool],
        test=x[n_pool:],
        y_pool=y[:n_pool],
        y_test=y[n_pool:],
        layer="embedding",
        key=f"clusters{seed}-embedding-synthetic",
    )


FEATURES = clustered_features()


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    """One UMAP map computed from nothing (a few seconds), shared by the tests that read it."""
    folder = tmp_path_factory.mktemp("map-cache")
    said = []
    made = load_map(FEATURES, UMAP, folder, lambda done, what: said.append((done, what)))
    return folder, made, said


def test_a_umap_map_keeps_neighbours_and_reports_its_progress(computed):
    folder, made, said = computed
    assert made.xy.shape == (600, 2) and made.xy.dtype == np.float32
    assert made.method == UMAP and made.key == FEATURES.key and made.seconds > 0
    fractions = [done for done, _ in said]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert "finding each image's nearest neighbours" in [what for _, what in said]
    assert neighbour_accuracy(made.xy, FEATURES.y_pool) > 0.99
    assert map_path(FEATURES, UMAP, folder).is_file()


def test_a_cached_map_is_read_without_computing(computed, monkeypatch):
    folder, made, _ = computed

    def refuse(*args, **kwargs):
        raise AssertionError("the cached map was computed again")

    monkeypatch.setattr(pool_map, "umap_xy", refuse)
    said = []
    read = load_map(FEATURES, UMAP, folder, lambda done, what: said.append((done, what)))
    np.testing.assert_array_equal(read.xy, made.xy)
    assert read.seconds == pytest.approx(made.seconds)  # how long computing it took, kept
    assert said == [(1.0, "read from the cache")]


def test_a_stopped_umap_resumes_from_its_neighbours_and_is_seeded(computed, tmp_path, monkeypatch):
    """The neighbours are kept as soon as they are found: a computation stopped in the layout
    starts again from them, and gives the same map as one that was never stopped."""
    import umap

    folder, made, _ = computed

    class Stopped(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stopped

    shutil.copy(neighbours_path(FEATURES, folder), neighbours_path(FEATURES, tmp_path))
    with monkeypatch.context() as patch:
        patch.setattr(umap.UMAP, "fit_transform", stop)
        with pytest.raises(Stopped):
            load_map(FEATURES, UMAP, tmp_path)
    assert neighbours_path(FEATURES, tmp_path).is_file()
    assert cached_map(FEATURES, UMAP, tmp_path) is None

    def refuse(*args, **kwargs):
        raise AssertionError("the neighbours were searched again")

    monkeypatch.setattr("umap.umap_.nearest_neighbors", refuse)
    resumed = load_map(FEATURES, UMAP, tmp_path)
    np.testing.assert_array_equal(resumed.xy, made.xy)


def test_a_map_in_the_background_is_computed_in_its_own_process_and_cached(computed, tmp_path):
    """The page's job: UMAP in a process of its own (numba would hold the server's GIL),
    its progress reported, the map read back from the cache it wrote."""
    folder, made, _ = computed
    shutil.copy(neighbours_path(FEATURES, folder), neighbours_path(FEATURES, tmp_path))
    job = pool_map.map_in_background(FEATURES, tmp_path)
    assert pool_map.map_in_background(FEATURES, tmp_path) is job  # one job per map
    assert job.wait(600) and job.error is None
    np.testing.assert_array_equal(job.result.xy, made.xy)
    assert job.progress == (1.0, "read from the cache")  # the child computed, this read it
    assert cached_map(FEATURES, UMAP, tmp_path) is not None


def test_a_failed_background_map_says_why_in_one_line(tmp_path):
    tiny = clustered_features(12)
    job = pool_map.map_in_background(tiny, tmp_path)
    assert job.wait(600) and job.result is None
    assert job.error == (
        "the UMAP map could not be computed: a UMAP map needs more than 15 pool images, not 12"
    )


def test_the_cache_key_is_the_features_key(computed, tmp_path):
    shutil.copy(map_path(FEATURES, UMAP, computed[0]), map_path(FEATURES, UMAP, tmp_path))
    assert cached_map(FEATURES, UMAP, tmp_path) is not None
    other = clustered_features(seed=1)
    assert map_path(other, UMAP, tmp_path) != map_path(FEATURES, UMAP, tmp_path)
    assert cached_map(other, UMAP, tmp_path) is None
    # A file renamed to another key's name is not served under that key.
    map_path(FEATURES, UMAP, tmp_path).rename(map_path(other, UMAP, tmp_path))
    assert cached_map(other, UMAP, tmp_path) is None
    # PCA and UMAP maps of the same features are two files.
    assert map_path(FEATURES, PCA, tmp_path) != map_path(FEATURES, UMAP, tmp_path)
    with pytest.raises(ValueError, match="umap or pca"):
        map_path(FEATURES, "tsne", tmp_path)


def test_features_without_a_key_are_mapped_but_never_cached(tmp_path):
    keyless = dataclasses.replace(FEATURES, key="")
    made = load_map(keyless, PCA, tmp_path)
    assert made.xy.shape == (600, 2)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "damage",
    [b"", b"not an npz at all", b"PK\x03\x04 truncated zip"],
    ids=["empty", "garbage", "truncated"],
)
def test_a_damaged_cache_file_is_computed_again(tmp_path, damage):
    made = load_map(FEATURES, PCA, tmp_path)
    path = map_path(FEATURES, PCA, tmp_path)
    path.write_bytes(damage)
    assert cached_map(FEATURES, PCA, tmp_path) is None
    again = load_map(FEATURES, PCA, tmp_path)
    np.testing.assert_allclose(again.xy, made.xy, atol=1e-5)
    assert cached_map(FEATURES, PCA, tmp_path) is not None  # written back whole


def test_a_map_of_the_wrong_shape_or_with_nans_is_computed_again(tmp_path):
    path = map_path(FEATURES, PCA, tmp_path)
    np.savez(path, key=np.array(FEATURES.key), xy=np.zeros((599, 2)), seconds=np.array(1.0))
    assert cached_map(FEATURES, PCA, tmp_path) is None
    bad = np.zeros((600, 2))
    bad[3, 1] = np.nan
    np.savez(path, key=np.array(FEATURES.key), xy=bad, seconds=np.array(1.0))
    assert cached_map(FEATURES, PCA, tmp_path) is None
    assert np.isfinite(load_map(FEATURES, PCA, tmp_path).xy).all()


def test_pca_is_at_once_and_separates_less(tmp_path):
    """Ten clusters in 32 dimensions do not fit on two principal components."""
    pca = load_map(FEATURES, PCA, tmp_path)
    assert pca.xy.shape == (600, 2) and pca.seconds < 5
    assert neighbour_accuracy(pca.xy, FEATURES.y_pool) < 0.9


def test_a_pool_too_small_to_map_says_so(tmp_path):
    from tl_active.errors import DataError

    tiny = clustered_features(12)
    with pytest.raises(DataError, match="more than 15 pool images"):
        load_map(tiny, UMAP, tmp_path)


def test_the_drawn_points_are_a_stable_sample_plus_every_one_that_must_be_shown():
    drawn = drawn_points(60_000, must=[5, 59_999, 123])
    assert MAX_DRAWN <= len(drawn) <= MAX_DRAWN + 3
    assert {5, 59_999, 123} <= set(drawn.tolist())
    assert (np.diff(drawn) > 0).all()
    # The same sample every round: labelling more only adds their points.
    later = drawn_points(60_000, must=[5, 59_999, 123, 7, 8])
    assert set(drawn.tolist()) <= set(later.tolist())
    assert len(later) - len(drawn) == len({7, 8} - set(drawn.tolist()))
    # A small pool is drawn whole; indices outside it are ignored.
    np.testing.assert_array_equal(drawn_points(50, must=[3, 70, -1]), np.arange(50))


def test_neighbour_accuracy_of_a_map_that_keeps_nothing_is_chance():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 2_000)
    assert neighbour_accuracy(rng.normal(size=(2_000, 2)), y) < 0.15
    assert neighbour_accuracy(np.c_[y, y].astype(float), y) == 1.0


# --- python -m tl_active map ---------------------------------------------------------------


@pytest.fixture
def serve_features(monkeypatch):
    monkeypatch.setattr("tl_active.data.features.load_features", lambda *a, **k: FEATURES)


def test_map_computes_caches_and_writes_the_coordinates_as_csv(
    computed, tmp_path, capsys, serve_features
):
    # The neighbours from the shared computation: the command lays out the map itself.
    shutil.copy(neighbours_path(FEATURES, computed[0]), neighbours_path(FEATURES, tmp_path))
    out = tmp_path / "map.csv"
    assert main(["--cache", str(tmp_path), "map", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "umap map of mnist-cnn / embedding, 600 pool images: computed and cached" in printed
    assert "gives MNIST's true class of" in printed
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 600 and list(rows[0]) == ["index", "x", "y", "class"]
    assert [int(r["index"]) for r in rows] == list(range(600))
    assert [r["class"] for r in rows[:5]] == [str(d) for d in FEATURES.y_pool[:5]]
    cached = cached_map(FEATURES, UMAP, tmp_path)
    np.testing.assert_allclose([float(rows[9]["x"]), float(rows[9]["y"])], cached.xy[9], rtol=1e-6)

    # Again: read from the cache, as Parquet.
    parquet = tmp_path / "map.parquet"
    assert main(["--cache", str(tmp_path), "map", "--out", str(parquet)]) == 0
    assert "read from the cache" in capsys.readouterr().out
    table = pq.read_table(parquet)
    assert table.column_names == ["index", "x", "y", "class"] and table.num_rows == 600
    np.testing.assert_array_equal(table.column("x").to_numpy(), cached.xy[:, 0])


def test_map_names_a_folders_images_by_their_paths_and_leaves_out_unknown_classes(
    tmp_path, capsys, monkeypatch
):
    from tl_active.data.images import ImageSource

    paths = tuple(f"photos/img{i:03d}.png" for i in range(len(FEATURES.pool)))
    source = ImageSource(
        root=str(tmp_path),
        checksum="c" * 64,
        pool_paths=paths,
        test_paths=(),
        has_truth=False,
        preprocessing="",
        skipped=(),
        split_file="",
    )
    folder = dataclasses.replace(
        FEATURES, test=FEATURES.test[:0], y_test=FEATURES.y_test[:0], source=source
    )
    monkeypatch.setattr("tl_active.cli.map.load_any_features", lambda args: folder)
    out = tmp_path / "folder.csv"
    assert main(["--cache", str(tmp_path), "map", "--method", "pca", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pca map" in printed and "nearest-neighbour" not in printed
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["index", "path", "x", "y"]
    assert rows[7]["path"] == "photos/img007.png"


@pytest.mark.parametrize(
    "out, message",
    [
        ("map.txt", "write the map as .csv or .parquet, not '.txt'"),
        ("missing/map.csv", "does not exist"),
    ],
)
def test_map_refuses_an_out_file_it_cannot_write_before_computing(
    tmp_path, capsys, monkeypatch, out, message
):
    def refuse(args):
        raise AssertionError("features were loaded for a refused command")

    monkeypatch.setattr("tl_active.cli.map.load_any_features", refuse)
    assert main(["--cache", str(tmp_path), "map", "--out", str(tmp_path / out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1


@pytest.mark.model
def test_map_of_the_real_cached_features_keeps_the_digits_apart(tmp_path, capsys):
    """The shipped CNN's embedding, from the real feature cache: PCA here (UMAP's minute is
    measured by bench/bench_pool_map.py), and the coordinates match the cache."""
    from tl_active.data.features import load_features
    from tl_active.paths import CACHE_DIR

    features = load_features("mnist-cnn", "embedding")
    out = tmp_path / "mnist.parquet"
    argv = ["--cache", str(CACHE_DIR), "map", "--backbone", "mnist-cnn", "--layer", "embedding"]
    assert main([*argv, "--method", "pca", "--out", str(out)]) == 0
    table = pq.read_table(out)
    assert table.num_rows == features.pool_size == 60_000
    xy = np.c_[table.column("x").to_numpy(), table.column("y").to_numpy()]
    # A 2-D PCA of the embedding keeps the digits apart far better than chance, not as well as
    # UMAP (about 90 % against 99.7 %).
    assert 0.8 < neighbour_accuracy(xy, features.y_pool) < 0.97


# --- the map as the page draws it -----------------------------------------------------------


def test_the_map_table_colours_by_the_heads_answer_and_marks_labels_and_the_batch():
    from tl_active import plots

    pool_index = np.array([10, 11, 12, 13])
    points = plots.MapPoints(
        positions=np.array([0, 1, 2, 3]),
        pool_index=pool_index,
        x=np.array([0.0, 1.0, 2.0, 3.0], np.float32),
        y=np.array([3.0, 2.0, 1.0, 0.0], np.float32),
        names=pa.array(["a.png", "b.png", "c.png", "d.png"]),
    )
    proba = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.0, 1.0]])
    table = plots.map_table(
        points,
        proba,
        proba[:, 1],
        ["no", "yes"],
        labelled={13: "yes"},
        batch=[12, 10],
        thumbnails={13: "data:image/png;base64,AAAA"},
    ).to_pydict()
    assert table["image name"] == ["a.png", "b.png", "c.png", "d.png"]
    assert table["head says"] == ["no", "no", "yes", "yes"]  # a tie goes to the first answer
    assert table["p"] == [0.1, 0.5, 0.8, 1.0]
    # Fully unsure is faded to the floor, fully sure is opaque.
    assert table["sure"][1] == plots.pool_map.MIN_OPACITY and table["sure"][3] == 1.0
    assert table["sure"][0] == pytest.approx(0.12 + 0.88 * 0.8, abs=1e-3)
    assert table["you said"] == [None, None, None, "yes"]
    assert table["batch"] == [2, None, 1, None]  # numbered in the batch's order, as the grid
    assert table["image"] == [None, None, None, "data:image/png;base64,AAAA"]


def test_the_map_spec_is_made_once_per_shape_and_a_round_sends_only_its_table():
    from tl_active import plots

    points = plots.MapPoints(
        np.arange(3), np.arange(3), np.zeros(3), np.ones(3), pa.array(["0", "1", "2"])
    )
    proba = np.full((3, 2), 0.5)
    one = plots.live_spec(plots.map_live(points, proba, proba[:, 1], ["a", "b"], {}, [], UMAP))
    two = plots.live_spec(
        plots.map_live(points, proba, proba[:, 1], ["a", "b"], {1: "b"}, [2], UMAP)
    )
    assert one["layer"] is two["layer"]  # the same template, not built again
    assert two["datasets"]["pool_map"].column("you said").to_pylist() == [None, "b", None]
    assert one["title"] == "UMAP map of the pool"


def test_the_maps_tooltips_name_a_point_as_its_data_kind_names_its_items():
    from tl_active import plots

    def tooltip_titles(item: str) -> list[set[str]]:
        chart = plots.map_chart(alt.NamedData("pool_map"), ["a", "b"], UMAP, item=item)
        spec = chart.to_dict()
        return [
            {t.get("title", t["field"]) for t in layer["encoding"]["tooltip"]}
            for layer in spec["layer"]
            if "tooltip" in layer.get("encoding", {})
        ]

    # Every layer with a tooltip names the point; the picture's field stays "image".
    assert all("window name" in t and "image name" not in t for t in tooltip_titles("window"))
    assert all("image name" in t for t in tooltip_titles("image"))
    assert any("image" in t for t in tooltip_titles("window"))


def test_a_background_map_does_not_run_the_servers_main_script_again(
    computed, tmp_path, monkeypatch
):
    """A Streamlit server's (and AppTest's) `__main__` is a page script; the map's process must
    not run it again, as multiprocessing's spawn would (the child died there, the page waited)."""
    import types

    folder, made, _ = computed
    shutil.copy(neighbours_path(FEATURES, folder), neighbours_path(FEATURES, tmp_path))
    script = tmp_path / "page.py"
    script.write_text("raise SystemExit('a page script ran in the map process')\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", page)

    job = pool_map.map_in_background(FEATURES, tmp_path)
    assert job.wait(600) and job.error is None
    np.testing.assert_array_equal(job.result.xy, made.xy)


def small_clusters() -> FeatureSet:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 300)
    x = (4 * np.eye(10, 32)[y] + rng.normal(0, 0.3, (300, 32))).astype(np.float32)
    return FeatureSet(pool=x, test=x[:0], y_pool=y, y_test=y[:0], layer="embedding", key="")


UMAP_IN_A_NEW_PROCESS = """
import json, sys
sys.path.insert(0, sys.argv[2])
from test_pool_map import small_clusters
from tl_active.data.pool_map import umap_xy
xy = umap_xy(small_clusters(), sys.argv[1])
import numba, umap.layouts
epoch = umap.layouts._nb_optimize_layout_euclidean_single_epoch
print(json.dumps({"xy": xy.tolist(), "hits": sum(epoch.stats.cache_hits.values()),
                  "misses": sum(epoch.stats.cache_misses.values())}))
"""


def test_umaps_compiled_functions_are_kept_for_the_next_process(computed, tmp_path):
    """numba would compile UMAP's layout afresh in every process (tens of seconds of CPU): the
    functions this process compiled are kept in the cache folder, and a new process loads them."""
    import json
    import os
    import subprocess
    from pathlib import Path

    import numba

    folder = numba.config.CACHE_DIR  # set by the first map this process computed
    assert folder
    here = pool_map.umap_xy(small_clusters(), tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", UMAP_IN_A_NEW_PROCESS, str(tmp_path), str(Path(__file__).parent)],
        env={**os.environ, "NUMBA_CACHE_DIR": folder},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    there = json.loads(done.stdout.strip().splitlines()[-1])
    assert there["misses"] == 0 and there["hits"] > 0  # loaded, not compiled
    np.testing.assert_array_equal(np.array(there["xy"], np.float32), here)
    kept = {p.name.split("-")[0] for p in Path(folder).rglob("*.nbi")}
    assert {"layouts._optimize_layout_euclidean_single_epoch", "umap_.smooth_knn_dist"} <= kept
