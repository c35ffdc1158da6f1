"""Fine-tune on my labels: when a session may, how it continues, then (marked) real fine-tunes.

The fast tests run on synthetic features: readiness, a session continued on other features
round by round (and its replay from the store and from a manifest). The marked ones fine-tune
the 5-9 network on a slice of MNIST (the first 600 pool and 400 test images, in a file of their
own, so its features take a second): the same labels give the same network, a fine-tune that
makes the test accuracy worse or is cancelled leaves nothing behind, and a backbone that is not
a chain is refused. The last drives the labelling page's button end to end on the whole of
MNIST.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from small_mnist import accept_small_mnist, write_small_mnist
from synthetic import synthetic_features

from tl_active.core.task import Task
from tl_active.errors import Cancelled, ModelError, TlActiveError
from tl_active.experiments import fine_tune
from tl_active.experiments.transfer import TransferSettings
from tl_active.sessions.exchange import manifest_json, read_manifest
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.store import SessionStore

ZERO_TO_FOUR = Task.multiclass("0-4")

# --- when a session may be fine-tuned -----------------------------------------------------------


def test_readiness_asks_for_enough_labels_of_every_answer():
    features = synthetic_features(2_000, 500, layer="embedding")
    session = LabellingSession(
        features, SessionSettings(task=ZERO_TO_FOUR, batch_size=8, layer="embedding")
    )
    assert fine_tune.readiness(session) == (
        "Fine-tuning needs at least 20 labels, some of every answer."
    )
    # Three rounds of only zeros and ones: enough labels, not every answer.
    for _ in range(3):
        picks = session.next_batch()
        session.submit(["0" if k % 2 else "1" for k in range(len(picks))])
    assert len(session.labelled) == 24
    reason = fine_tune.readiness(session)
    assert reason.startswith("Fine-tuning needs a label of every answer")
    assert reason.endswith("none yet for: 2, 3, 4.")
    session.auto_label(2)
    assert fine_tune.readiness(session) == ""


def test_readiness_keeps_an_image_folder_on_its_backbone(tmp_path):
    from tl_active.data.images import ImageSource

    features = synthetic_features(200, 50, layer="embedding")
    source = ImageSource(
        str(tmp_path), "0" * 64, ("a.png",) * 200, ("b.png",) * 50, True, "28 x 28"
    )
    folder = dataclasses.replace(features, source=source, _tasks={})
    session = LabellingSession(folder, SessionSettings(task=ZERO_TO_FOUR, layer="embedding"))
    reason = fine_tune.readiness(session)
    assert "not offered on image folder sessions" in reason and "MNIST" not in reason


# --- a session continued on other features -------------------------------------------------------


def _parent_and_other_features():
    features = synthetic_features(2_000, 500, layer="embedding")
    other = synthetic_features(2_000, 500, seed=7, model="fine-tuned", layer="embedding")
    other = dataclasses.replace(
        other, y_pool=features.y_pool, y_test=features.y_test, _tasks={}
    )  # the same images, seen by another network
    parent = LabellingSession(
        features,
        SessionSettings(task=ZERO_TO_FOUR, batch_size=8, seed=3, layer="embedding"),
    )
    parent.auto_label(4)
    first = parent.rounds[0].indices[0]
    parent.correct(first, "4" if parent.answer_of(first) != "4" else "3")
    parent.auto_label(1)
    return parent, other


def test_a_continued_session_takes_the_rounds_again_and_replays_exactly(tmp_path):
    parent, other = _parent_and_other_features()
    settings = dataclasses.replace(
        parent.settings, backbone="models/fine-tuned/0123.keras", continued_from="parent-id-1"
    )
    continued = parent.continued_on(other, settings)
    assert [r.indices for r in continued.rounds] == [r.indices for r in parent.rounds]
    assert [r.answers for r in continued.rounds] == [r.answers for r in parent.rounds]
    assert [r.kind for r in continued.rounds] == [r.kind for r in parent.rounds]
    assert [r.answered_at for r in continued.rounds] == [r.answered_at for r in parent.rounds]
    np.testing.assert_array_equal(continued.labelled, parent.labelled)
    np.testing.assert_array_equal(continued.labels, parent.labels)
    # The head is the new features' own: another head, learned from the same labels.
    assert not np.allclose(continued.head.coef_, parent.head.coef_)
    assert continued.metrics().accuracy != parent.metrics().accuracy
    # The parent is untouched.
    assert len(parent.rounds) == 6 and parent.settings.continued_from == ""

    # Resumed from the store, or imported from its manifest: the same head, the same next batch.
    store = SessionStore(f"sqlite:///{tmp_path / 'sessions.db'}")
    session_id = store.create(continued)
    resumed = store.load(session_id, other)
    assert resumed.settings.continued_from == "parent-id-1"
    np.testing.assert_array_equal(resumed.head.coef_, continued.head.coef_)
    imported = read_manifest(manifest_json(continued), other)
    assert imported.settings == settings
    np.testing.assert_allclose(imported.head.coef_, continued.head.coef_, atol=1e-9)
    assert [p.index for p in imported.next_batch()] == [p.index for p in continued.next_batch()]
    # A session begun afresh writes no continued_from, so its settings read as before.
    assert "continued_from" not in parent.settings.as_dict()
    assert settings.as_dict()["continued_from"] == "parent-id-1"


def test_a_session_continues_only_on_the_same_images():
    parent, _ = _parent_and_other_features()
    fewer = synthetic_features(1_000, 500, seed=7, layer="embedding")
    with pytest.raises(ValueError, match="same images"):
        parent.continued_on(fewer, parent.settings)


def test_continued_from_is_checked():
    with pytest.raises(ValueError, match="continued_from"):
        SessionSettings(continued_from="x" * 65)
    with pytest.raises(ValueError, match="continued_from must be text"):
        SessionSettings.from_dict({**SessionSettings().as_dict(), "continued_from": 5})


# --- real fine-tunes, marked --------------------------------------------------------------------

SHORT = TransferSettings(max_epochs=12, patience=4, min_epochs=4)


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory) -> Path:
    return write_small_mnist(tmp_path_factory.mktemp("mnist") / "mnist-small.npz")


@pytest.fixture
def small_session(small_mnist, tmp_path, monkeypatch) -> LabellingSession:
    """40 oracle labels of 0-4 on the 5-9 network's embedding, on the small MNIST."""
    from tl_active.data.features import load_features

    accept_small_mnist(monkeypatch)
    features = load_features("mnist-cnn-5to9", "embedding", small_mnist, tmp_path / "cache")
    session = LabellingSession(
        features,
        SessionSettings(
            task=ZERO_TO_FOUR,
            batch_size=8,
            seed=0,
            backbone="mnist-cnn-5to9",
            layer="embedding",
        ),
    )
    session.auto_label(5)
    assert len(session.labelled) == 40
    return session


def _run(session, small_mnist, tmp_path, **kwargs):
    return fine_tune.fine_tune_session(
        session,
        "parent-session",
        folder=tmp_path / "fine-tuned",
        data_path=small_mnist,
        cache_dir=tmp_path / "cache",
        settings=SHORT,
        **kwargs,
    )


def _models(tmp_path) -> list[Path]:
    return sorted((tmp_path / "fine-tuned").glob("*.keras"))


@pytest.mark.model
def test_a_fine_tune_continues_the_session_on_a_backbone_of_its_own(
    small_session, small_mnist, tmp_path
):
    from tl_active.data.mnist import file_checksum

    steps = []
    outcome = _run(small_session, small_mnist, tmp_path, progress=lambda f, w: steps.append(f))
    result = outcome.result
    assert result.layers == ("conv23", "embedding")
    assert (result.n_fit, result.n_validation) == (32, 8)
    assert 1 <= result.best_epoch <= result.epochs <= SHORT.max_epochs
    assert steps[0] == 0.0 and steps[-1] == 1.0 and steps == sorted(steps)
    # Kept: a better or equal test accuracy with the same labels.
    assert not outcome.kept_old
    assert outcome.after.accuracy >= outcome.before.accuracy
    assert outcome.before.accuracy == small_session.metrics().accuracy
    continued = outcome.continued
    assert continued.metrics().accuracy == outcome.after.accuracy
    # The network is saved under its own checksum, and the new session names it and its parent.
    assert _models(tmp_path) == [result.path]
    assert result.path.name == f"{result.checksum[:16]}.keras"
    assert continued.settings.backbone == str(result.path)
    assert continued.settings.continued_from == "parent-session"
    assert continued.features.model_checksum == file_checksum(result.path)[:16]
    np.testing.assert_array_equal(continued.labelled, small_session.labelled)
    # Resumed from the store over the cached features of the saved network: the same head.
    from tl_active.data.features import load_features

    store = SessionStore(f"sqlite:///{tmp_path / 'sessions.db'}")
    session_id = store.create(continued)
    features = load_features(
        continued.settings.backbone, "embedding", small_mnist, tmp_path / "cache"
    )
    resumed = store.load(session_id, features)
    np.testing.assert_array_equal(resumed.head.coef_, continued.head.coef_)
    assert resumed.metrics().accuracy == continued.metrics().accuracy

    # The same labels fine-tune to the same network: the file found, not written again.
    again = _run(small_session, small_mnist, tmp_path)
    assert again.result.checksum == result.checksum and not again.result.created
    assert again.after.accuracy == outcome.after.accuracy
    assert _models(tmp_path) == [result.path]


@pytest.mark.model
def test_a_fine_tune_that_makes_the_test_accuracy_worse_keeps_the_old_backbone(
    small_session, small_mnist, tmp_path, monkeypatch
):
    """A fine-tune whose network is then spoilt: its embedding squeezed to one direction."""
    import keras

    real = fine_tune.fine_tune_backbone

    def spoilt(network, *args, **kwargs):
        result = real(network, *args, **kwargs)
        model = keras.models.load_model(result.path)
        layer = model.get_layer("embedding")
        kernel, bias = layer.get_weights()
        rng = np.random.default_rng(0)
        squeezed = np.outer(rng.normal(size=kernel.shape[0]), rng.normal(size=kernel.shape[1]))
        layer.set_weights([0.01 * squeezed.astype(np.float32), np.zeros_like(bias)])
        model.save(result.path)
        return result

    monkeypatch.setattr(fine_tune, "fine_tune_backbone", spoilt)
    outcome = _run(small_session, small_mnist, tmp_path)
    assert outcome.kept_old and outcome.continued is None
    assert outcome.after.accuracy < outcome.before.accuracy
    assert "made the head worse" in outcome.message
    assert f"{outcome.before.accuracy:.1%} on mnist-cnn-5to9" in outcome.message
    assert "the backbone stays mnist-cnn-5to9" in outcome.message
    # Nothing of the spoilt network is left: neither the file nor its features.
    assert _models(tmp_path) == []
    assert not list((tmp_path / "fine-tuned").glob("*.json"))
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1  # the 5-9 network's own


def weather_session(strategy: str, auto_rounds: int, snow: int, seed: int) -> LabellingSession:
    """A snow-today session on the weather network: rounds answered by the recorded events,
    then `snow` snow windows of the pool labelled at once (random picks find few)."""
    from tl_active.data.weather_features import load_weather_features
    from tl_active.sessions.records import WEATHER_TASK

    features = load_weather_features("snow-today", "weather-cnn", "dense")
    settings = SessionSettings(
        task=WEATHER_TASK,
        strategy=strategy,
        seed=seed,
        backbone="weather-cnn",
        layer="dense",
        weather="snow-today",
    )
    session = LabellingSession(features, settings)
    session.auto_label(auto_rounds)
    labelled = set(session.labelled.tolist())
    windows = [int(i) for i in np.flatnonzero(features.y_pool == 1) if int(i) not in labelled]
    session.label_bulk(windows[:snow], "positive", round_number=len(session.rounds) + 1)
    return session


@pytest.mark.model
def test_a_weather_session_fine_tunes_the_weather_network_judged_by_pr_auc(tmp_path):
    """The windows go through the weather network again: its conv and dense layers are
    fine-tuned on the session's answers, and kept as PR-AUC on 2017's windows says."""
    session = weather_session("random", auto_rounds=10, snow=20, seed=1)
    assert fine_tune.readiness(session) == "" and session.rare
    outcome = fine_tune.fine_tune_session(
        session, "parent-session", 2, folder=tmp_path / "fine-tuned", cache_dir=tmp_path / "cache"
    )
    assert outcome.result.layers == ("conv", "dense")
    assert (outcome.result.n_fit, outcome.result.n_validation) == (48, 12)
    continued = outcome.continued
    assert continued is not None
    # Snow is judged by PR-AUC, not by the accuracy of a head that says "no snow".
    before, after = session.pr_auc(), continued.pr_auc()
    assert after > before
    assert f"held-out PR-AUC {before:.3f} on weather-cnn, {after:.3f} fine-tuned" in outcome.message
    assert round(before, 3) == 0.196 and round(after, 3) == 0.247
    # The new session is weather windows on the saved network, and reopens from the store.
    assert continued.settings.weather == "snow-today"
    assert continued.settings.backbone == str(outcome.result.path)
    assert continued.features.kind.name == "weather windows"
    assert [r.indices for r in continued.rounds] == [r.indices for r in session.rounds]
    from tl_active.data.weather_features import load_weather_features

    store = SessionStore(f"sqlite:///{tmp_path / 'sessions.db'}")
    session_id = store.create(continued)
    features = load_weather_features(
        "snow-today", continued.settings.backbone, "dense", cache_dir=tmp_path / "cache"
    )
    resumed = store.load(session_id, features)
    np.testing.assert_array_equal(resumed.head.coef_, continued.head.coef_)
    assert resumed.pr_auc() == after


@pytest.mark.model
def test_a_weather_fine_tune_that_lowers_the_pr_auc_leaves_nothing_behind(tmp_path):
    session = weather_session("uncertainty", auto_rounds=6, snow=6, seed=0)
    outcome = fine_tune.fine_tune_session(
        session, "parent-session", 2, folder=tmp_path / "fine-tuned", cache_dir=tmp_path / "cache"
    )
    assert outcome.kept_old and outcome.continued is None
    assert "made the head worse (held-out PR-AUC 0.209 on weather-cnn, 0.187 fine-tuned" in (
        outcome.message
    )
    assert _models(tmp_path) == [] and not list((tmp_path / "cache").glob("*"))


def test_a_weather_session_asks_for_snow_by_name():
    from tl_active.data.weather_features import load_weather_features
    from tl_active.sessions.records import WEATHER_TASK

    features = load_weather_features("snow-today", "weather-cnn", "dense")
    session = LabellingSession(
        features,
        SessionSettings(
            task=WEATHER_TASK, backbone="weather-cnn", layer="dense", weather="snow-today"
        ),
    )
    session.auto_label(6)
    assert not (session.labels == 1).any()
    assert fine_tune.readiness(session) == (
        "Fine-tuning needs a label of every answer, so that its validation split can judge "
        "them all; none yet for: snow."
    )


@pytest.mark.model
@pytest.mark.parametrize("when", ["first mini-batch", "network saved"])
def test_a_cancelled_fine_tune_changes_nothing(small_session, small_mnist, tmp_path, when):
    """Cancelled in the first mini-batch, or once the network is saved (in its features)."""
    seen = []

    def cancelled() -> bool:
        seen.append(bool(_models(tmp_path)))
        return when == "first mini-batch" or seen[-1]

    rounds = len(small_session.rounds)
    with pytest.raises(Cancelled, match="nothing was changed"):
        _run(small_session, small_mnist, tmp_path, cancelled=cancelled)
    assert seen[-1] == (when == "network saved")
    assert _models(tmp_path) == []
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1  # the 5-9 network's own
    assert len(small_session.rounds) == rounds


@pytest.mark.model
def test_a_backbone_that_cannot_be_fine_tuned_is_refused_in_one_sentence(tmp_path):
    import keras

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    a = keras.layers.Dense(8, name="a")(x)
    b = keras.layers.Dense(8, name="b")(a)
    joined = keras.layers.Add(name="joined")([a, b])
    outputs = keras.layers.Dense(3, name="top")(joined)
    model = keras.Model(inputs, outputs)
    images = np.zeros((30, 28, 28), np.float32)
    labels = np.arange(30) % 2
    with pytest.raises(ModelError, match="not a chain of layers up to 'top'"):
        fine_tune.fine_tune_backbone(model, "top", images, labels, 2, True, 1, 0, tmp_path)
    # Below the branch it is a chain, but 'a' has only one layer with weights under it.
    with pytest.raises(ValueError, match="fine-tune 1 to 1, not 2"):
        fine_tune.fine_tune_backbone(model, "a", images, labels, 2, True, 2, 0, tmp_path)
    flat = keras.Model(inputs, keras.layers.Flatten(name="flat")(inputs))
    with pytest.raises(ModelError, match="nothing to fine-tune"):
        fine_tune.fine_tune_backbone(flat, "flat", images, labels, 2, True, 1, 0, tmp_path)
    assert not list(tmp_path.iterdir())


def test_an_unready_session_is_refused_before_anything_loads(tmp_path):
    session = LabellingSession(
        synthetic_features(200, 50, layer="embedding"), SessionSettings(layer="embedding")
    )
    with pytest.raises(TlActiveError, match="at least 20 labels"):
        fine_tune.fine_tune_session(session, "parent-id-1", folder=tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("n_classes", [2, 5])
def test_the_head_enters_the_network_as_the_same_softmax(n_classes):
    """A logistic head as a two-way softmax, a softmax head as it is: the same probabilities."""
    from tl_active.core.head import make_head

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 7))
    y = np.arange(60) % n_classes
    head = make_head(n_classes, "converge", fit_intercept=True).fit(x, y)
    kernel, bias = fine_tune._dense_weights(head, n_classes)
    assert kernel.shape == (7, n_classes) and bias.shape == (n_classes,)
    logits = x @ kernel.astype(np.float64) + bias
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax, head.predict_proba(x), atol=1e-5)
