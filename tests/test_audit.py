"""The reliability audit of issue 10, replayed as one table: each finding's bad inputs, again.

Each row is one bad input given through a real entry point: the command line (`main(argv)`,
in-process, as `python -m tl_active` runs it), the app (`streamlit.testing` AppTest) or a core
call. Each is answered in one of two ways, and the row says which it expects:

- **refused**: a clear message of one line (no traceback, no SQL), status 2 from the command
  line, and nothing written;
- **handled**: the input is dealt with as the README promises (a damaged cache is computed
  again, a cache that cannot be written costs one warning), with no traceback.

Either way nothing harmful is accepted, and the answer comes within a time bound (measured;
10 s is far above any of them, so the bound catches a hang, not a slow machine). The last
test counts: "N inputs, N clear". The frozen CNN is the synthetic feature set throughout, so no
TensorFlow runs, except in the one row marked `model`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest
from forged_npz import FORGED_HEADERS, write_forged_npz
from sqlalchemy import text
from synthetic import synthetic_features

from tl_active.cli.main import main
from tl_active.data import features as features_module
from tl_active.data.features import FeatureSet, cache_path
from tl_active.errors import TlActiveError
from tl_active.sessions.exchange import manifest, manifest_json
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.schema import rounds
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.store import SessionStore

FEATURES = synthetic_features(400, 200, model="tinymodel")
EMBEDDING = synthetic_features(400, 200, model="tinymodel", layer="embedding")
BOUND_SECONDS = 10.0
SQL_WORDS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", "[SQL", "[parameters", "sqlalche.me")
LINK = "[Your session expired: log in again](https://evil.example/login)"
IMAGE = "![x](http://127.0.0.1:1/p.png)"


@dataclass
class Answer:
    """What an entry point said and did with one bad input."""

    said: list[str]  # every message shown: stderr lines, the page's errors and warnings
    status: int | None = None  # the command line's exit status
    wrote: list[str] = field(default_factory=list)  # what a refusal wrote anyway
    harm: list[str] = field(default_factory=list)  # what was accepted that should not be


@dataclass
class Row:
    finding: str
    name: str
    run: Callable[[Bench], Answer]
    says: str | None  # a part of the one-line message (None: handled without a word needed)
    status: int | None = None  # the command line's status, when it is the entry point
    marks: tuple = ()


class Bench:
    """What a row needs: a folder, monkeypatch, a silent server, a database."""

    def __init__(self, tmp_path: Path, monkeypatch, request):
        self.tmp = tmp_path
        self.monkeypatch = monkeypatch
        self.request = request
        self.db = str(tmp_path / "sessions.db")
        self.loads: list[tuple] = []

    def silent_port(self) -> int:
        return self.request.getfixturevalue("silent_server")

    def serve_features(self, features: FeatureSet = FEATURES) -> None:
        """The command line's feature loader serves synthetic features (and counts its calls)."""

        def load(backbone=None, layer=None, *args, **kwargs):
            self.loads.append((backbone, layer))
            return features

        self.monkeypatch.setattr("tl_active.data.features.load_features", load)

    def stored(self) -> int:
        """Sessions in the bench's database (0 if it was never made)."""
        if not Path(self.db).exists():
            return 0
        store = SessionStore(f"sqlite:///{self.db}")
        try:
            return len(store.recent(1000))
        finally:
            store.close()

    def cli(self, argv: list[str]) -> Answer:
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            status = main(argv)
        return Answer(err.getvalue().strip().splitlines(), status)

    def cli_import(self, raw: bytes | str, *more: str) -> Answer:
        path = self.tmp / "theirs.json"
        path.write_bytes(raw.encode() if isinstance(raw, str) else raw)
        self.serve_features()
        answer = self.cli(["import", str(path), "--db", self.db, *more])
        if self.stored():
            answer.wrote.append("a session was stored")
        return answer


# --- manifests ----------------------------------------------------------------------------------


def labelled(n_rounds: int = 3, features: FeatureSet = FEATURES) -> LabellingSession:
    session = LabellingSession(features, SessionSettings(seed=3))
    session.auto_label(n_rounds)
    return session


def changed_manifest(change: Callable[[dict], None], n_rounds: int = 3) -> str:
    data = manifest(labelled(n_rounds))
    change(data)
    return json.dumps(data)


def _too_many_rounds(data: dict) -> None:
    data["rounds"] = data["rounds"] * 34  # 102 rounds; 400 images hold 100 batches of 4


def _one_round_of_everything(data: dict) -> None:
    first = data["rounds"][0]
    for name in ("indices", "answers", "scores", "ranks", "reasons"):
        first[name] = (first[name] * 100)[:400]
    first["indices"] = list(range(400))


def _tampered_weight(data: dict) -> None:
    data["rounds"][30]["weights"][0][4] += 1e-3


# --- the app ------------------------------------------------------------------------------------


def open_app(
    bench: Bench,
    session_id: str | None = None,
    features: FeatureSet | None = None,
    db_url: str | None = None,
):
    from streamlit.testing.v1 import AppTest

    from tl_active import paths
    from ui import keys
    from ui import support as ui_support

    bench.monkeypatch.setattr(paths, "DB_URL", db_url or f"sqlite:///{bench.db}")
    served = features or synthetic_features(2_000, 500)
    bench.monkeypatch.setattr(ui_support, "load_features", lambda *args, **kwargs: served)
    # The app shares features per process: these are for this row only.
    ui_support.shared_features.clear()
    bench.request.addfinalizer(ui_support.shared_features.clear)
    at = AppTest.from_file(
        str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=60
    )
    at.session_state[keys.BROWSER_ID] = "audit-browser-0001"
    if session_id is not None:
        at.query_params["session"] = session_id
    at.run()
    return at


def page_answer(at) -> Answer:
    said = [e.value for e in at.error] + [w.value for w in at.sidebar.warning]
    said += [f"Traceback: {e.value}" for e in at.exception]
    return Answer(said)


def markdown_harm(answer: Answer) -> None:
    if any("](" in line or "://" in line for line in answer.said):
        answer.harm.append("Markdown in user input reached the page live")


def app_link(bad_id: str) -> Callable[[Bench], Answer]:
    def run(bench: Bench) -> Answer:
        answer = page_answer(open_app(bench, bad_id))
        markdown_harm(answer)
        if bench.stored():
            answer.harm.append("a visit on a bogus link stored a session")
        return answer

    return run


def app_file_name(bench: Bench) -> Answer:
    at = open_app(bench)
    name = f"{IMAGE}.json"
    at.file_uploader(key="import_file").set_value((name, b'{"a": 1}', "application/json")).run()
    answer = page_answer(at)
    markdown_harm(answer)
    if bench.stored():
        answer.wrote.append("a session was stored")
    return answer


def app_silent_database(bench: Bench) -> Answer:
    url = f"postgresql+psycopg://tl@127.0.0.1:{bench.silent_port()}/tl"
    return page_answer(open_app(bench, db_url=url))


def app_untrained_model(bench: Bench) -> Answer:
    good = synthetic_features(2_000, 500)
    noise = np.random.default_rng(0).dirichlet(np.ones(10), len(good.pool) + len(good.test))
    noise = noise.astype(np.float32)
    untrained = replace(good, pool=noise[: len(good.pool)], test=noise[len(good.pool) :])
    answer = page_answer(open_app(bench, features=untrained))
    if not any("Check the model file" in line for line in answer.said):
        answer.harm.append("an untrained model was served without a word")
    return answer


# --- the feature cache --------------------------------------------------------------------------


def cache_run(bench: Bench, prepare: Callable[[Path, str], Path | None]) -> Answer:
    """`python -m tl_active --cache DIR features --backbone MODEL` with the CNN run stood in.

    `prepare(cache_dir, key)` damages the cache as the row says and may give another folder.
    """
    model, data = bench.tmp / "model.keras", bench.tmp / "mnist.npz"
    model.write_bytes(b"model")
    data.write_bytes(b"data")
    runs: list[FeatureSet] = []

    def compute(backbone, layer, data_path, progress=None):
        key = features_module.cache_key(backbone.path, layer, data_path)
        runs.append(replace(FEATURES, backbone=backbone.name, layer=layer, key=key))
        return runs[-1]

    bench.monkeypatch.setattr(features_module, "compute_features", compute)
    bench.monkeypatch.setattr(features_module, "_warned_unwritable", set(), raising=False)
    cache_dir = bench.tmp / "cache"
    key = features_module.cache_key(model, "digits", data)
    cache_dir = prepare(cache_dir, key) or cache_dir
    argv = ["--data", str(data), "--cache", str(cache_dir), "features", "--backbone", str(model)]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        answer = bench.cli(argv)
    answer.said += [str(w.message) for w in record]
    if len(runs) != 1:
        answer.harm.append(f"the features were computed {len(runs)} times, not once")
    return answer


def _cache_arrays(key: str, pool: np.ndarray) -> dict:
    return {
        "key": np.array(key),
        "class_names": np.array(FEATURES.class_names),
        "backbone": np.array("model.keras"),
        "layer": np.array("digits"),
        "pool": pool,
        "test": FEATURES.test,
        "y_pool": FEATURES.y_pool,
        "y_test": FEATURES.y_test,
    }


def forged_cache(cache_dir: Path, key: str) -> None:
    cache_dir.mkdir()
    header = FORGED_HEADERS["huge shape"]
    write_forged_npz(cache_path(key, cache_dir), _cache_arrays(key, FEATURES.pool), "pool", header)


def nan_cache(cache_dir: Path, key: str) -> None:
    cache_dir.mkdir()
    pool = FEATURES.pool.copy()
    pool[7, 3] = np.nan
    np.savez(cache_path(key, cache_dir), **_cache_arrays(key, pool))


def cache_is_a_file(cache_dir: Path, key: str) -> None:
    cache_dir.write_text("in the way")


def unwritable_cache(bench: Bench, reason: int) -> Callable[[Path, str], None]:
    """A cache folder the system refuses to write into, for `reason` (an errno)."""

    def prepare(cache_dir: Path, key: str) -> None:
        cache_dir.mkdir()
        if reason == errno.EACCES and os.geteuid() != 0:
            cache_dir.chmod(0o500)
            bench.request.addfinalizer(lambda: cache_dir.chmod(0o700))
            return

        # Root writes into read-only folders, so there the system's refusal is said for it.
        def refuse(*args, **kwargs):
            raise OSError(reason, os.strerror(reason))

        bench.monkeypatch.setattr(features_module.np, "savez", refuse)

    return prepare


def nan_feature_set(bench: Bench) -> Answer:
    pool = FEATURES.pool.copy()
    pool[11] = np.nan
    try:
        dataclasses.replace(FEATURES, pool=pool)
    except TlActiveError as error:
        return Answer([str(error)])
    return Answer([], harm=["a feature set with NaN outputs was made"])


def forged_mnist(bench: Bench) -> Answer:
    from tl_active.data.mnist import load_mnist

    path = bench.tmp / "mnist.npz"
    arrays = {
        "x_train": np.zeros((2, 28, 28), np.uint8),
        "y_train": np.zeros(2, np.uint8),
        "x_test": np.zeros((2, 28, 28), np.uint8),
        "y_test": np.zeros(2, np.uint8),
    }
    write_forged_npz(path, arrays, "x_train", FORGED_HEADERS["huge shape"])
    try:
        load_mnist(path)
    except TlActiveError as error:
        return Answer([str(error)])
    return Answer([], harm=["a forged MNIST file was read"])


def backbone_of_another_input_size(bench: Bench) -> Answer:
    import keras

    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, name="conv")(inputs), name="rgb32")
    path = bench.tmp / "rgb32.keras"
    model.save(path)
    argv = ["--cache", str(bench.tmp / "cache"), "features", "--backbone", str(path)]
    answer = bench.cli([*argv, "--layer", "conv"])
    if (bench.tmp / "cache").exists() and any((bench.tmp / "cache").iterdir()):
        answer.wrote.append("a feature cache was written")
    return answer


def manifest_of_another_width(bench: Bench) -> Answer:
    data = manifest(labelled(3))
    data["settings"]["layer"] = "embedding"  # the head of a 10-wide layer, on a 128-wide one
    path = bench.tmp / "theirs.json"
    path.write_text(json.dumps(data))
    bench.serve_features(EMBEDDING)
    answer = bench.cli(["import", str(path), "--db", bench.db])
    if bench.stored():
        answer.wrote.append("a session was stored")
    return answer


# --- the database -------------------------------------------------------------------------------


def import_into(url: Callable[[Bench], str]) -> Callable[[Bench], Answer]:
    def run(bench: Bench) -> Answer:
        path = bench.tmp / "mine.json"
        path.write_text(manifest_json(labelled(2)))
        bench.serve_features()
        return bench.cli(["import", str(path), "--db", url(bench)])

    return run


def folder_is_a_file(bench: Bench) -> str:
    (bench.tmp / "data").write_text("not a folder")
    return str(bench.tmp / "data" / "sessions.db")


def sql_in_database_errors(bench: Bench) -> Answer:
    store = SessionStore(f"sqlite:///{bench.db}")
    session_id = store.create(labelled(2))
    with store.engine.begin() as conn:
        # A table the store did not make (opening the store would make a missing one again).
        conn.execute(text(f"DROP TABLE {rounds.name}"))
        conn.execute(text(f"CREATE TABLE {rounds.name} (id INTEGER PRIMARY KEY)"))
    store.close()
    bench.serve_features()
    out = bench.tmp / "out"
    answer = bench.cli(["export", session_id, "--out", str(out), "--db", bench.db])
    if out.exists() and any(out.iterdir()):
        answer.wrote.append("export files were written")
    return answer


# --- the command line's own options -----------------------------------------------------------


def compare_with(*options: str, out_is_file: bool = False) -> Callable[[Bench], Answer]:
    def run(bench: Bench) -> Answer:
        out = bench.tmp / "results"
        if out_is_file:
            out.write_text("in the way")

        def load(*args, **kwargs):
            bench.loads.append(args)
            raise AssertionError("a refused comparison loaded features")

        bench.monkeypatch.setattr("tl_active.data.features.load_features", load)
        answer = bench.cli(["compare", "--strategies", "random", *options, "--out", str(out)])
        if bench.loads:
            answer.wrote.append("the computation started before the refusal")
        if out_is_file and out.read_text() != "in the way":
            answer.wrote.append("the file in the way was changed")
        return answer

    return run


def untrained_model_cli(bench: Bench) -> Answer:
    noise = np.random.default_rng(1).dirichlet(np.ones(10), 600).astype(np.float32)
    bench.serve_features(replace(FEATURES, pool=noise[:400], test=noise[400:]))
    answer = bench.cli(["features"])
    if not any("Check the model file" in line for line in answer.said):
        answer.harm.append("an untrained model was served without a word")
    return answer


# --- the table ----------------------------------------------------------------------------------

ROWS = [
    Row("1 markdown", "?session= holding a link", app_link(LINK), "cannot be opened"),
    Row("1 markdown", "?session= holding an image", app_link(IMAGE), "cannot be opened"),
    Row("1 markdown", "an uploaded file named with an image", app_file_name, r"\!\[x\]\(http\:"),
    Row(
        "2 replay",
        "a manifest over 50 MB",
        lambda b: b.cli_import(b" " * 50_000_001),
        "over 50 MB",
        2,
    ),
    Row(
        "2 replay",
        "more rounds than the pool has batches",
        lambda b: b.cli_import(changed_manifest(_too_many_rounds)),
        "has room for at most 100 rounds of 4",
        2,
    ),
    Row(
        "2 replay",
        "one round holding the whole pool",
        lambda b: b.cli_import(changed_manifest(_one_round_of_everything)),
        "has 400 images; each round of this session has 4",
        2,
    ),
    Row(
        "2 replay",
        "one tampered weight in the middle of a 60-round manifest",
        lambda b: b.cli_import(changed_manifest(_tampered_weight, 60)),
        "replaying round 31 gives other head weights",
        2,
    ),
    Row(
        "3 database",
        "a PostgreSQL address that never answers (command line)",
        import_into(lambda b: f"postgresql+psycopg://tl:secret@127.0.0.1:{b.silent_port()}/tl"),
        "timeout",
        2,
    ),
    Row(
        "3 database",
        "a PostgreSQL address that never answers (app)",
        app_silent_database,
        "cannot connect to the session database",
    ),
    Row(
        "4 traceback",
        "an integer of 5,000 digits",
        lambda b: b.cli_import(
            changed_manifest(lambda d: None).replace('"seed": 3', '"seed": ' + "9" * 5000)
        ),
        "numbers JSON does not allow",
        2,
    ),
    Row(
        "4 traceback",
        '"seed": Infinity',
        lambda b: b.cli_import(
            changed_manifest(lambda d: None).replace('"seed": 3', '"seed": Infinity')
        ),
        "numbers JSON does not allow",
        2,
    ),
    Row(
        "4 traceback",
        "a read-only cache folder",
        lambda b: cache_run(b, unwritable_cache(b, errno.EACCES)),
        "could not be written",
        0,
    ),
    Row(
        "4 traceback",
        "a full cache folder",
        lambda b: cache_run(b, unwritable_cache(b, errno.ENOSPC)),
        "No space left on device",
        0,
    ),
    Row(
        "4 traceback",
        ".cache is a file",
        lambda b: cache_run(b, cache_is_a_file),
        "could not be written",
        0,
    ),
    Row(
        "4 traceback",
        "a forged .npz header in the cache",
        lambda b: cache_run(b, forged_cache),
        None,
        0,
    ),
    Row("4 traceback", "a forged .npz header in data/mnist.npz", forged_mnist, "damaged"),
    Row(
        "4 traceback",
        "a backbone of another input size",
        backbone_of_another_input_size,
        "expects input of shape (32, 32, 3)",
        2,
        (pytest.mark.model,),
    ),
    Row(
        "4 traceback",
        "a manifest of a head of another width",
        manifest_of_another_width,
        "records head weights of shape (1, 10); this head has (1, 128)",
        2,
    ),
    Row(
        "4 traceback",
        "the database's parent folder is a file",
        import_into(folder_is_a_file),
        "is a file, not a folder",
        2,
    ),
    Row(
        "4 traceback",
        "mysql:// without its driver",
        import_into(lambda b: "mysql://labeller@db.example/tl"),
        "pip install mysqlclient",
        2,
    ),
    Row(
        "4 traceback",
        "compare --out not writable",
        compare_with("--seeds", "1", out_is_file=True),
        "is a file, not a folder",
        2,
    ),
    Row(
        "4 traceback",
        "compare --seeds -1",
        compare_with("--seeds", "-1"),
        "--seeds must be at least 1, not -1",
        2,
    ),
    Row(
        "5 silent",
        '"weights": [] in a manifest',
        lambda b: b.cli_import(changed_manifest(lambda d: d["rounds"][1].update(weights=[]))),
        "weights must be the head's weights",
        2,
    ),
    Row(
        "5 silent",
        "answered_at 1e300",
        lambda b: b.cli_import(
            changed_manifest(lambda d: d["rounds"][0].update(answered_at=1e300))
        ),
        "must be a time between 1970 and 2100",
        2,
    ),
    Row(
        "5 silent",
        "a features cache holding NaN",
        lambda b: cache_run(b, nan_cache),
        None,
        0,
    ),
    Row("5 silent", "a feature set holding NaN", nan_feature_set, "NaN or infinite outputs"),
    Row(
        "5 silent",
        "an untrained model (command line)",
        untrained_model_cli,
        "Check the model file",
        0,
    ),
    Row("5 silent", "an untrained model (app)", app_untrained_model, "Check the model file"),
    Row(
        "5 silent",
        "raw SQL in a database error",
        sql_in_database_errors,
        "no such column",
        2,
    ),
    Row(
        "6 visits",
        "a bogus link",
        app_link("0123456789abcdef0123456789abcdef"),
        "no stored session",
    ),
]

RESULTS: dict[str, float] = {}  # row -> seconds, for every row found clear


@pytest.fixture(scope="module", autouse=True)
def app_run_once(tmp_path_factory, request):
    """The app run once, untimed, before any row: what a process does once is no row's answer.

    The first run of the app in a process imports and compiles the pages' modules and makes
    the features' caches: 4 s of CPU, which a busy shared machine stretched past the bound
    (16 s), so that whichever app row came first read as a hang. Later runs take 0.3 s.
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        open_app(Bench(tmp_path_factory.mktemp("warm"), monkeypatch, request))


@pytest.fixture(scope="module")
def tensorflow_imported(tmp_path_factory):
    """Keras imported and a small model saved and loaded once, untimed, for the rows marked
    `model`: TensorFlow's start took 14 s, and its first model 5 s more, on a busy machine."""
    import keras

    import tl_active.data.network  # noqa: F401

    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="conv")(inputs))
    path = tmp_path_factory.mktemp("keras") / "warm.keras"
    model.save(path)
    keras.models.load_model(path).predict(np.zeros((1, 8, 8, 1)), verbose=0)


@pytest.mark.parametrize(
    "row",
    [pytest.param(row, id=f"{row.finding}: {row.name}", marks=row.marks) for row in ROWS],
)
def test_a_bad_input_gets_a_clear_answer(row: Row, tmp_path, monkeypatch, request):
    bench = Bench(tmp_path, monkeypatch, request)
    if any(mark.name == "model" for mark in row.marks):
        request.getfixturevalue("tensorflow_imported")
    start = time.perf_counter()
    answer = row.run(bench)
    seconds = time.perf_counter() - start

    assert seconds < BOUND_SECONDS, f"{row.name} took {seconds:.1f} s"
    for line in answer.said:
        assert "Traceback" not in line, line
        assert not any(word in line for word in SQL_WORDS), line
        assert "\n" not in line.strip(), line
    if row.says is not None:
        assert any(row.says in line for line in answer.said), answer.said
    if row.status is not None:
        assert answer.status == row.status, answer.said
        if row.status == 2:
            assert len(answer.said) == 1 and answer.said[0].startswith("error: "), answer.said
    assert answer.wrote == []
    assert answer.harm == []
    RESULTS[f"{row.finding}: {row.name}"] = seconds


def test_the_audit_counts_every_input_it_replayed():
    if not RESULTS:
        pytest.skip("no row of the audit ran in this selection")
    slowest = max(RESULTS, key=RESULTS.get)
    print(
        f"\naudit: {len(ROWS)} inputs, {len(RESULTS)} replayed here, {len(RESULTS)} clear; "
        f"slowest {RESULTS[slowest]:.2f} s ({slowest})"
    )
    findings = {row.finding for row in ROWS}
    assert len(findings) == 6  # every finding of the issue has its rows
