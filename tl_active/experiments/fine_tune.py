"""Fine-tune on my labels: a session's backbone retrained on its own answers, kept only if it helps.

After some rounds a person can ask for the backbone's last N weighted layers at or below the
session's layer to be fine-tuned on the labels given so far, with a head for the session's
question on top: the transfer lab's `fine-tune-last-N` (`transfer.py`), on the person's labels
instead of the oracle's. The head starts as the app's head fitted on the training part of the
labels; the layers and the head then train at a tenth of the learning rate, a seeded share of
the labels is the validation split, and the epoch with the lowest validation loss is restored
(the start competes too). Everything is seeded and TensorFlow's ops are deterministic, so the
same labels give the same weights, and the network is saved under a name made of its own
checksum (`retraining.network_checksum`): two identical fine-tunes give one file.

The same holds for every kind of data whose items its backbone reads again (`DataKind.
fine_tunable`): MNIST's digits through the CNN, weather windows through the weather network.
The saved network is a backbone like any `.keras` file: its features are computed and cached
by the usual path (`features.load_features`, `weather_features.load_weather_features`). The session then continues on it as a new
session that takes the old one's rounds again, one by one (`LabellingSession.continued_on`),
so its first learning curve is the same labels through the new backbone, it names the session
it continues, and it replays and resumes exactly. The old session is left as it was.

Whether it helped is judged on the held-out test set: the head on the old features against
the head on the new, with the same labels, by accuracy, or by PR-AUC for a rare answer such as
snow (where accuracy is the share of "no" whatever the head learns). If the new one is worse, it is said with both
figures and the old backbone stays (the saved network is removed again). A fine-tune stopped
midway changes nothing either.

This module is pure of the UI; `ui/label/fine_tune.py` calls `fine_tune_session`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tl_active.core.head import make_head
from tl_active.core.metrics import Metrics
from tl_active.data.backbones import resolve_backbone
from tl_active.data.features import FeatureSet, cache_key, cache_path, load_features
from tl_active.data.weather_features import load_weather_features
from tl_active.errors import Cancelled, ModelError, TlActiveError
from tl_active.experiments.transfer.settings import (
    SHUFFLE_STREAM,
    TransferSettings,
    batch_size_for,
    validation_split,
)
from tl_active.paths import CACHE_DIR, FINE_TUNED_DIR, MNIST_PATH
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession

MIN_LABELS = 20  # fewer leave a validation split of three or four labels: too few to judge by
DEFAULT_LAYERS = 2
# The transfer lab's trainings (learning rate, epochs, patience, validation share).
SETTINGS = TransferSettings()

# progress(fraction done, what is happening); cancelled() -> True stops the run.
Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]
# The share of the progress bar each part takes: the training, then the features.
_TRAINING_SHARE = 0.6


def readiness(session: LabellingSession) -> str:
    """Why this session cannot be fine-tuned on yet, in a sentence; '' when it can."""
    kind = session.features.kind
    if not kind.fine_tunable:
        return f"Fine-tuning on your labels is not offered on {kind.name} sessions: they keep their backbone."
    if len(session.labelled) < MIN_LABELS:
        # No count of the labels so far: the progress line has it, and this sentence stays
        # the same from round to round (the page redraws the sidebar when it changes).
        return f"Fine-tuning needs at least {MIN_LABELS} labels, some of every answer."
    given = np.bincount(session.labels, minlength=session.task.n_outputs)
    names = session.features.class_names
    words = session.answer_values
    if session.task.is_binary and len(names) == 2 and session.task.classes == (1,):
        words = names  # a question of two named answers (no snow, snow) says them by name
    missing = [words[k] for k in np.flatnonzero(given == 0)]
    if missing:
        return (
            "Fine-tuning needs a label of every answer, so that its validation split can judge "
            f"them all; none yet for: {', '.join(missing)}."
        )
    return ""


@dataclass(frozen=True)
class FineTuneResult:
    """One fine-tuning: what trained, how long, and where the network went (if it improved)."""

    layers: tuple[str, ...]  # the backbone's layers that trained, bottom up
    n_fit: int  # labels trained on
    n_validation: int  # labels held out to pick the best epoch
    epochs: int  # epochs run
    best_epoch: int  # the one restored; 0 when no epoch beat the start (nothing is saved)
    seconds: float  # the training, the head's first fit included
    path: Path | None = None  # the saved network, named by its checksum
    checksum: str = ""  # sha256 of its architecture and weights
    created: bool = False  # whether this run wrote the file (not found there already)

    @property
    def improved(self) -> bool:
        return self.best_epoch > 0


def _dense_weights(head, n_classes: int) -> list[np.ndarray]:
    """The app's head as the weights of a Dense(n_classes, softmax) layer.

    A logistic head's p(1) = sigmoid(z) is the softmax of the logits (0, z).
    """
    coef, bias = np.asarray(head.coef_, np.float64), np.asarray(head.intercept_, np.float64)
    if coef.shape[0] == 1 and n_classes == 2:
        coef = np.vstack([np.zeros_like(coef), coef])
        bias = np.array([0.0, bias[0]])
    return [coef.T.astype(np.float32), bias.astype(np.float32)]


def _saved(network, folder: Path, checksum: str) -> tuple[Path, bool]:
    """The network saved as `<checksum>.keras` in `folder`; whether this call wrote it."""
    folder = Path(folder)
    path = folder / f"{checksum[:16]}.keras"
    if path.is_file():
        return path, False
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed, so a killed run never leaves half a model.
        handle, tmp = tempfile.mkstemp(dir=folder, prefix=".saving-", suffix=".keras")
        os.close(handle)
        try:
            network.save(tmp)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                os.remove(tmp)
    except OSError as error:
        raise TlActiveError(
            f"the fine-tuned network cannot be saved in {folder} "
            f"({error.strerror or error}): make it a writable folder, or point "
            "TL_ACTIVE_FINE_TUNED at one"
        ) from None
    return path, True


def fine_tune_backbone(
    network,
    layer: str,
    images: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    fit_intercept: bool,
    n_layers: int,
    seed: int,
    folder: Path = FINE_TUNED_DIR,
    settings: TransferSettings = SETTINGS,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Cancel | None = None,
) -> FineTuneResult:
    """Fine-tune the last `n_layers` weighted layers of `network` up to `layer` on these labels.

    `network` is a loaded Keras backbone (changed in place: its layers above the cut take the
    fine-tuned weights); `images` what it reads for each labelled item (MNIST's (n, H, W) in
    [0, 1], weather's (n, days, channels): `DataKind.network_inputs`) and `labels` (n,) output indices of a
    question with `n_classes` answers. Above `layer` sits a head, the app's head fitted on the
    training labels, turned into a softmax layer. If an epoch beats the start on the
    validation loss, the whole network is saved in `folder` under its checksum. `progress
    (epoch, max_epochs)` after each epoch; `cancelled()` before each mini-batch (`Cancelled`).
    """
    import keras

    from tl_active.experiments.retraining import (
        chain_to,
        make_deterministic,
        network_checksum,
        run_frozen,
        split_chain,
        train_top,
    )

    started = time.perf_counter()
    labels = np.asarray(labels, np.intp)
    if len(labels) < 2 or len(labels) != len(images):
        raise ValueError("fine-tuning needs at least 2 labelled images, one label each")
    chain = chain_to(network, layer)
    weighted = [k for k, candidate in enumerate(chain) if candidate.weights]
    if not weighted:
        raise ModelError(
            f"The model '{network.name}' has no layer with weights at or below '{layer}': "
            "there is nothing to fine-tune."
        )
    if not 1 <= n_layers <= len(weighted):
        raise ValueError(
            f"'{layer}' has {len(weighted)} layer{'s' * (len(weighted) != 1)} with weights at "
            f"or below it; fine-tune 1 to {len(weighted)}, not {n_layers}"
        )
    make_deterministic(seed)
    cut = weighted[-n_layers]
    for trained_layer in chain[cut:]:
        trained_layer.trainable = True
    features = chain[-1].output
    if len(features.shape) > 2:  # as `extract_layer` flattens what the head reads
        features = keras.layers.Flatten()(features)
    # Named apart from the network's own layers: Keras's default name "dense" is the weather
    # network's layer, and a model's layer names must differ.
    head_layer = keras.layers.Dense(n_classes, activation="softmax", name="fine_tune_head")
    extended = keras.Model(network.input, head_layer(features))
    frozen, trained = split_chain(extended, cut)

    fit, val = validation_split(len(labels), settings.validation_share, seed)
    x = run_frozen(frozen, images)
    # The head first, on the training labels only, so the validation split judges honestly.
    reader = keras.Model(network.input, features)
    layer_outputs = run_frozen(reader, images).reshape(len(labels), -1)
    head = make_head(n_classes, "converge", fit_intercept).fit(layer_outputs[fit], labels[fit])
    head_layer.set_weights(_dense_weights(head, n_classes))

    epochs, best_epoch, _ = train_top(
        trained,
        x[fit],
        labels[fit],
        x[val],
        labels[val],
        settings.learning_rate / 10,
        batch_size_for(len(fit)),
        settings.max_epochs,
        settings.patience,
        np.random.default_rng([seed, SHUFFLE_STREAM, len(labels)]),
        keep_start=True,
        min_epochs=settings.min_epochs,
        progress=progress,
        cancelled=cancelled,
    )
    result = FineTuneResult(
        tuple(candidate.name for candidate in chain[cut:] if candidate.weights),
        len(fit),
        len(val),
        epochs,
        best_epoch,
        time.perf_counter() - started,
    )
    if not result.improved:
        return result
    checksum = network_checksum(network)
    path, created = _saved(network, folder, checksum)
    return replace(result, path=path, checksum=checksum, created=created)


@dataclass
class FineTuneOutcome:
    """What a fine-tune on a session's labels came to, and the session to go on with."""

    result: FineTuneResult
    before: Metrics  # the session's head on the old backbone's features
    after: Metrics | None  # the same labels' head on the fine-tuned backbone's (None: not made)
    continued: LabellingSession | None  # the new session on the fine-tuned backbone, if kept
    message: str  # what happened, for people

    @property
    def kept_old(self) -> bool:
        return self.continued is None


def _new_features(
    settings: SessionSettings, path: Path, data_path: Path, cache_dir: Path, computing
) -> FeatureSet:
    """The session's items read by the fine-tuned network at the session's layer (cached)."""
    if settings.weather:
        # A few thousand windows through a small network: done at once, nothing to report.
        return load_weather_features(
            settings.weather, str(path), settings.layer, cache_dir=cache_dir
        )
    return load_features(str(path), settings.layer, data_path, cache_dir, computing)


def _removed(
    result: FineTuneResult,
    layer: str,
    data_path: Path,
    cache_dir: Path,
    features: FeatureSet | None = None,
) -> None:
    """A network this run saved, and the features it cached from it, removed again (MNIST's
    half-computed ones too, before `features` exist)."""
    if result.path is None or not result.created:
        return
    key = features.key if features is not None else cache_key(result.path, layer, data_path)
    with contextlib.suppress(OSError):
        cache_path(key, cache_dir).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        result.path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        result.path.with_suffix(".json").unlink(missing_ok=True)


def fine_tune_session(
    session: LabellingSession,
    session_id: str,
    n_layers: int = DEFAULT_LAYERS,
    folder: Path = FINE_TUNED_DIR,
    data_path: Path = MNIST_PATH,
    cache_dir: Path = CACHE_DIR,
    settings: TransferSettings = SETTINGS,
    progress: Progress | None = None,
    cancelled: Cancel | None = None,
) -> FineTuneOutcome:
    """Fine-tune the session's backbone on its labels; continue on it if the test set says so.

    `session_id` is the session's id in the store, recorded in the new session's settings
    (`continued_from`). Raises `TlActiveError` with the reason when the session cannot be
    fine-tuned (see `readiness`, a backbone that is not a chain of layers), `Cancelled` when
    `cancelled()` said so; either way nothing is left behind.
    """
    from tl_active.data.network import load_backbone
    from tl_active.data.shared_cnn import card_path

    reason = readiness(session)
    if reason:
        raise TlActiveError(reason)
    settings_now = session.settings
    backbone = resolve_backbone(settings_now.backbone)
    if backbone.architecture:
        raise ModelError(
            f"{backbone.name} is a Keras Applications network read from a weights file; "
            "fine-tuning works on a whole .keras model, such as the shipped CNNs."
        )
    network = load_backbone(backbone.path)
    images = session.features.kind.network_inputs(session.labelled)

    def training(epoch: int, max_epochs: int) -> None:
        if progress:
            progress(
                _TRAINING_SHARE * epoch / max_epochs, f"fine-tuning: epoch {epoch} of {max_epochs}"
            )

    if progress:
        progress(0.0, "fine-tuning: fitting the head")
    result = fine_tune_backbone(
        network,
        settings_now.layer,
        images,
        session.labels,
        session.task.n_outputs,
        not session.features.simplex,
        n_layers,
        settings_now.seed,
        folder,
        settings,
        training,
        cancelled,
    )
    before = session.metrics()
    trained = ", ".join(result.layers)
    if not result.improved:
        return FineTuneOutcome(
            result,
            before,
            None,
            None,
            f"Fine-tuning {trained} did not lower the validation loss of {result.n_validation} "
            f"held-out labels in {result.epochs} epochs: the backbone stays "
            f"{settings_now.backbone}.",
        )
    features = None
    try:
        card_path(result.path).write_text(
            json.dumps(
                {
                    "fine_tuned_from": settings_now.backbone,
                    "layer": settings_now.layer,
                    "layers_trained": list(result.layers),
                    "question": session.task.describe(session.features.class_names),
                    "labels": len(session.labelled),
                    "validation_labels": result.n_validation,
                    "epochs": result.epochs,
                    "best_epoch": result.best_epoch,
                    "seed": settings_now.seed,
                    "session": session_id,
                    "network_sha256": result.checksum,
                },
                indent=2,
            )
            + "\n"
        )

        def computing(done: int, total: int) -> None:
            if cancelled is not None and cancelled():
                raise Cancelled("stopped while computing the features; nothing was changed")
            if progress:
                share = _TRAINING_SHARE + (1 - _TRAINING_SHARE) * done / total
                progress(share, f"features of the fine-tuned backbone: {done:,}/{total:,} images")

        features = _new_features(settings_now, result.path, data_path, cache_dir, computing)
        continued = session.continued_on(
            features,
            replace(settings_now, backbone=str(result.path), continued_from=session_id),
        )
    except BaseException:
        # Stopped (or failed) after the network was saved: leave nothing of it behind.
        _removed(result, settings_now.layer, data_path, cache_dir, features)
        raise
    after = continued.metrics()
    if progress:
        progress(1.0, "done")
    if session.rare:
        then, now = session.pr_auc(), continued.pr_auc()
        figures = f"held-out PR-AUC {then:.3f} on {settings_now.backbone}, {now:.3f} fine-tuned"
    else:
        then, now = before.accuracy, after.accuracy
        figures = f"held-out accuracy {then:.1%} on {settings_now.backbone}, {now:.1%} fine-tuned"
    if now < then:
        _removed(result, settings_now.layer, data_path, cache_dir, features)
        return FineTuneOutcome(
            result,
            before,
            after,
            None,
            f"Fine-tuning {trained} made the head worse ({figures}, with the same "
            f"{len(session.labelled)} labels): the backbone stays {settings_now.backbone}.",
        )
    return FineTuneOutcome(
        result,
        before,
        after,
        continued,
        f"Fine-tuned {trained} on {result.n_fit} labels ({result.n_validation} held out), "
        f"best epoch {result.best_epoch} of {result.epochs}, {result.seconds:.1f} s: {figures}.",
    )
