"""The frozen networks a head reads: the shipped MNIST CNNs, their training, loading any backbone.

The shipped networks are trained once, on MNIST's training split only, by
`python -m tl_active pretrain` (all ten digits, or with `--digits` a subset of them); each is
committed under `models/` with a JSON card of how it was made, so the app never trains at
start-up. While people label, a network is frozen: only a small head on one of its layers
learns (see `head.py`). Any other `.keras` model can serve as that frozen backbone, provided
its input can take the images: `load_backbone`, `layer_names` and `extract_layer` run it over
the images once, chunk by chunk, and hand back plain arrays.
"""

from __future__ import annotations

import json
import os
import time
import warnings
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tl_active.data.backbones import Backbone  # noqa: E402
from tl_active.data.images import Preprocessing  # noqa: E402
from tl_active.data.mnist import Mnist, file_checksum  # noqa: E402
from tl_active.errors import Cancelled, ModelError  # noqa: E402
from tl_active.paths import MODEL_PATH, MODELS_DIR  # noqa: E402

EMBEDDING_LAYER = "embedding"  # Dense(128, tanh), the layer before the class outputs
DIGITS_LAYER = "digits"  # Dense(n, softmax), one output per class the network was trained on

# The validation slice is the last 10 % of the training images, at most 5,000 (which is what
# the shipped ten-digit network used, so its recipe is unchanged).
VALIDATION_FRACTION = 0.1
VALIDATION_SIZE = 5_000

_FIX = (
    "Restore it with `git checkout -- models/` or retrain it with `python -m tl_active pretrain`."
)


def build_shared_network(n_outputs: int = 10) -> keras.Model:
    """The demo's shared network, on grayscale images of any size.

    3 x Conv2D(16) -> MaxPooling -> 3 x Conv2D(32) -> GlobalMaxPooling -> Dense(128, tanh)
    -> Dense(n_outputs, softmax). Global max pooling is what lets it take any image size.
    """
    inputs = keras.Input(shape=(None, None, 1), name="image")
    x = inputs
    for i in range(1, 4):
        x = keras.layers.Conv2D(16, 3, activation="relu", name=f"conv1{i}")(x)
    x = keras.layers.MaxPooling2D(name="maxpool")(x)
    for i in range(1, 4):
        x = keras.layers.Conv2D(32, 3, activation="relu", name=f"conv2{i}")(x)
    x = keras.layers.GlobalMaxPooling2D(name="global_maxpool")(x)
    x = keras.layers.Dense(128, activation="tanh", name=EMBEDDING_LAYER)(x)
    outputs = keras.layers.Dense(n_outputs, activation="softmax", name=DIGITS_LAYER)(x)
    return keras.Model(inputs, outputs, name="shared_cnn")


def _checked_digits(digits: Sequence[int] | None) -> list[int]:
    """The digits to train on, sorted; all ten when none are given."""
    if digits is None:
        return list(range(10))
    chosen = [int(d) for d in digits]
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"digits {chosen} repeat a digit; name each one once")
    if not all(0 <= d <= 9 for d in chosen):
        raise ValueError(f"digits {chosen} must lie in 0-9")
    if len(chosen) < 2:
        raise ValueError(f"digits {chosen}: a classifier needs at least two digits")
    return sorted(chosen)


def pretrain(
    mnist: Mnist,
    model_path: Path = MODEL_PATH,
    epochs: int = 15,
    seed: int = 0,
    batch_size: int = 128,
    verbose: int = 1,
    digits: Sequence[int] | None = None,
    note: str | None = None,
) -> dict:
    """Train the shared network on the training split and save it with a JSON card of its making.

    With `digits`, the network learns only those digits (one softmax output each, in sorted
    order) from the training images that show them; that makes a backbone which has never seen
    the other digits, to measure how well its layers transfer to them. The last 10 % of the
    chosen training images (at most 5,000) are the validation slice; the test split, restricted
    to the same digits, is only scored at the end. Small random shifts during training (not
    saved with the model) and a cosine learning-rate decay lift the demo's 98.3 % to above 99 %
    test accuracy. `note` is recorded in the card as it is (say, why these epochs).
    """
    digits = _checked_digits(digits)
    model_path = Path(model_path)
    if model_path.suffix != ".keras":  # found out before training, not after
        raise ValueError(f"{model_path}: a network is saved as a .keras file")
    keras.utils.set_random_seed(seed)
    # Sorted digits map to outputs 0..n-1; a lookup table does it in one step.
    to_class = np.full(10, -1, np.int64)
    to_class[digits] = np.arange(len(digits))
    in_pool = np.isin(mnist.y_pool, digits)
    x = mnist.x_pool[in_pool][..., None]
    y = to_class[mnist.y_pool[in_pool]]
    n_validation = min(VALIDATION_SIZE, int(len(x) * VALIDATION_FRACTION))
    x_fit, y_fit = x[:-n_validation], y[:-n_validation]
    x_val, y_val = x[-n_validation:], y[-n_validation:]

    network = build_shared_network(len(digits))
    augment = keras.Sequential(
        [keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant", seed=seed)],
        name="augment",
    )
    trainer = keras.Sequential([keras.Input(x.shape[1:]), augment, network])
    steps = epochs * int(np.ceil(len(x_fit) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps, alpha=0.01)
    trainer.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    started = time.perf_counter()
    history = trainer.fit(
        x_fit,
        y_fit,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(x_val, y_val),
        verbose=verbose,
    )
    seconds = time.perf_counter() - started
    in_test = np.isin(mnist.y_test, digits)
    test_probs = network.predict(mnist.x_test[in_test][..., None], batch_size=1000, verbose=0)
    test_accuracy = float(np.mean(test_probs.argmax(axis=1) == to_class[mnist.y_test[in_test]]))

    model_path.parent.mkdir(parents=True, exist_ok=True)
    network.save(model_path)
    card = {
        "architecture": "3 x Conv2D(16) -> MaxPool -> 3 x Conv2D(32) -> GlobalMaxPool "
        f"-> Dense(128, tanh) -> Dense({len(digits)}, softmax)",
        "digits": digits,
        "classes": [str(d) for d in digits],
        "outputs": len(digits),
        "parameters": int(network.count_params()),
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "optimizer": "Adam, cosine decay from 2e-3",
        "augmentation": "random shifts up to 8 % (training only)",
        "train_images": int(len(x_fit)),
        "validation_images": int(n_validation),
        "validation_accuracy": float(history.history["val_accuracy"][-1]),
        "test_images": int(in_test.sum()),
        "test_accuracy": test_accuracy,
        "training_seconds": round(seconds, 1),
        "data_sha256": mnist.checksum,
        "model_sha256": file_checksum(model_path),
        "keras_version": keras.__version__,
    }
    if note:
        card["note"] = note
    card_path(model_path).write_text(json.dumps(card, indent=2) + "\n")
    return card


def card_path(model_path: Path) -> Path:
    """Where the JSON describing how a model file was made lives."""
    return model_path.with_suffix(".json")


def _fix_for(path: Path) -> str:
    """How to get a good file back: git for the shipped models, a correct path otherwise."""
    if path.resolve().parent == MODELS_DIR.resolve():
        return _FIX
    return "Check the path, or train a network there with `python -m tl_active pretrain --model`."


def missing_model_error(path: Path) -> ModelError:
    """The shared CNN's file is missing: it is the project's own, so git or pretrain restore it."""
    return ModelError(f"Model file not found: {path}. {_FIX}")


def load_backbone(path: Path | str) -> keras.Model:
    """Load any `.keras` model as a frozen backbone, in Keras' safe mode, or raise `ModelError`.

    Safe mode refuses to run code stored in the file (a `Lambda` layer's pickled function), so
    a model from elsewhere can be read without trusting it. Only the `.keras` format is read:
    the legacy HDF5 one does not offer that guarantee.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"Model file not found: {path}. {_fix_for(path)}")
    if path.suffix != ".keras":
        raise ModelError(
            f"{path} is not a .keras file; only Keras' own format is loaded (save a model with "
            "`model.save('name.keras')`)."
        )
    if not zipfile.is_zipfile(path):
        # Keras would say "file not found" for a file that is there; say what is wrong instead.
        raise ModelError(
            f"{path} is corrupt or not a Keras model (not a zip archive). {_fix_for(path)}"
        )
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many kinds for a bad archive
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(
            f"{path} is corrupt or not a Keras model ({reason[:200]}). {_fix_for(path)}"
        ) from None
    if not isinstance(model, keras.Model):
        raise ModelError(
            f"{path} holds a {type(model).__name__}, not a Keras model. {_fix_for(path)}"
        )
    model.trainable = False
    return model


def load_shared_network(path: Path | str = MODEL_PATH) -> keras.Model:
    """Load the shared CNN (a backbone with the 128-wide embedding and ten digit outputs)."""
    path = Path(path)
    if not path.is_file():
        raise missing_model_error(path)
    model = load_backbone(path)
    names = set(layer_names(model))
    if (
        EMBEDDING_LAYER not in names
        or DIGITS_LAYER not in names
        or tuple(model.output.shape[1:]) != (10,)
    ):
        raise ModelError(
            f"{path} is a Keras model but not the shared CNN (it needs a 128-wide "
            f"'{EMBEDDING_LAYER}' layer and a 10-way '{DIGITS_LAYER}' output). {_FIX}"
        )
    return model


def feature_extractor(network: keras.Model) -> keras.Model:
    """A model giving both the 128-wide embedding and the 10 softmax outputs of an image."""
    return keras.Model(
        network.input,
        [network.get_layer(EMBEDDING_LAYER).output, network.get_layer(DIGITS_LAYER).output],
    )


def _single_output(layer: keras.Layer):
    """A layer's one output tensor, or None when it has none (never called, or several outputs).

    For a layer the model calls more than once, Keras gives the first call's output.
    """
    try:
        output = layer.output
    except (AttributeError, ValueError):  # a layer that was never called has no output
        return None
    return output if isinstance(output, keras.KerasTensor) else None


def layer_names(model: keras.Model) -> list[str]:
    """The layers whose outputs a head could read, in model order (the input layer left out)."""
    return [
        layer.name
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer) and _single_output(layer) is not None
    ]


def layer_extractor(model: keras.Model, layer: str) -> keras.Model:
    """A model from `model`'s input to the output of its layer named `layer`."""
    names = layer_names(model)
    if layer not in names:
        raise ModelError(
            f"The model '{model.name}' has no layer '{layer}' to read; "
            f"its layers are: {', '.join(names) or 'none'}."
        )
    try:
        return keras.Model(model.input, _single_output(model.get_layer(layer)))
    except ValueError as error:  # e.g. a Sequential model saved without an input
        raise ModelError(
            f"Cannot read layer '{layer}' of the model '{model.name}': {error}"
        ) from None


def _shape_text(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("any" if d is None else str(d) for d in shape) + ")"


def check_fits(model: keras.Model, image_shape: Sequence[int] = (28, 28, 1)) -> None:
    """Raise `ModelError` unless the model's input can take images of `image_shape` (H, W, C).

    A dimension the model leaves open (None, like the shared CNN's height and width) takes any
    size; every other one must match, and so must the number of dimensions.
    """
    if len(model.inputs) != 1:
        raise ModelError(
            f"The model '{model.name}' takes {len(model.inputs)} inputs; a backbone takes one image."
        )
    expected = tuple(model.inputs[0].shape[1:])
    found = tuple(int(d) for d in image_shape)
    fits = len(expected) == len(found) and all(e is None or e == f for e, f in zip(expected, found))
    if not fits:
        raise ModelError(
            f"The model '{model.name}' expects input of shape {_shape_text(expected)}, but the "
            f"images are {_shape_text(found)} (height, width, channels); "
            "choose a backbone made for these images."
        )


def extract_layer(
    model: keras.Model,
    layer: str,
    images: np.ndarray,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 2_000,
) -> np.ndarray:
    """The outputs of one layer of a frozen model for every image, flattened to (n, D) float32.

    `images` are (n, H, W) or (n, H, W, C) floats in [0, 1]; grayscale ones without a channel
    axis get one. They run through the model in chunks (so a large set never needs all its
    intermediate tensors at once) with `training=False`, so dropout and batch statistics stay
    as trained. `progress(done, total)` is called after each chunk.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(
            f"images must be (n, height, width) or (n, height, width, channels), got {images.shape}"
        )
    check_fits(model, images.shape[1:])
    extractor = layer_extractor(model, layer)
    total = len(images)
    outputs: np.ndarray | None = None
    for start in range(0, max(total, 1), chunk):
        stop = min(start + chunk, total)
        batch = np.asarray(extractor(images[start:stop], training=False), dtype=np.float32)
        batch = batch.reshape(len(batch), -1)
        if outputs is None:
            # The width is known only once a chunk has run (a conv layer's depends on H and W).
            outputs = np.empty((total, batch.shape[1]), np.float32)
        outputs[start:stop] = batch
        if progress:
            progress(stop, total)
    return outputs


# --- retraining a backbone on a new question (the transfer lab, `transfer.py`) ----------------


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic.

    With both, the same training on the same machine gives the same weights to the last bit.
    Op determinism is process-wide and stays on: it only rules out nondeterministic kernels.
    """
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def weighted_layers(model: keras.Model) -> list[keras.Layer]:
    """The layers that hold weights, in model order (convolutions and dense layers)."""
    return [layer for layer in model.layers if layer.weights]


def transfer_network(backbone: keras.Model, n_classes: int, pretrained: bool) -> keras.Model:
    """The shared architecture with `n_classes` new outputs, its other weights `backbone`'s.

    The output layer is always new (randomly initialised from the current seed): the backbone's
    outputs answered another question. With `pretrained` False every layer starts random, which
    is training from scratch. `backbone` must be the shared architecture (by its layer names).
    """
    network = build_shared_network(n_classes)
    if pretrained:
        for layer in weighted_layers(network):
            if layer.name == DIGITS_LAYER:
                continue
            try:
                source = backbone.get_layer(layer.name)
                layer.set_weights(source.get_weights())
            except ValueError as error:
                raise ModelError(
                    f"the backbone '{backbone.name}' is not the shared architecture "
                    f"(layer '{layer.name}': {str(error).splitlines()[0][:160]}); the transfer "
                    "lab retrains the shipped CNN's architecture only"
                ) from None
    return network


def split_chain(network: keras.Model, first_trained: int) -> tuple[keras.Model | None, keras.Model]:
    """The network cut before its layer number `first_trained` (0 = its first layer).

    The frozen part (None when nothing is frozen) is run once over the images; the trained
    part takes its outputs, sharing the network's own layer objects and weights. Computing the
    frozen part once is what makes retraining the top layers cheap: no epoch runs the frozen
    layers again, forwards or backwards. The network must be a chain (each layer feeding the
    next), as the shared architecture is.
    """
    layers = [layer for layer in network.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not 0 <= first_trained < len(layers):
        raise ValueError(f"cannot cut {len(layers)} layers before layer {first_trained}")
    frozen = None
    if first_trained > 0:
        frozen = keras.Model(network.input, layers[first_trained - 1].output, name="frozen")
        frozen.trainable = False
    start = layers[first_trained - 1].output if first_trained else network.input
    inputs = keras.Input(shape=tuple(start.shape[1:]), name="frozen_outputs")
    x = inputs
    for layer in layers[first_trained:]:
        x = layer(x)
    return frozen, keras.Model(inputs, x, name="trained")


def chain_to(model: keras.Model, layer: str) -> list[keras.Layer]:
    """The model's layers from its input up to `layer`, each feeding the next; else `ModelError`.

    Fine-tuning cuts the network into a frozen part and a trained part (`split_chain`), which
    only means something when the layers form a chain: a branch or a skip connection below
    the layer would be lost by the cut.
    """
    names = layer_names(model)
    if layer not in names:
        raise ModelError(
            f"The model '{model.name}' has no layer '{layer}'; its layers are: {', '.join(names)}."
        )
    if len(model.inputs) != 1:
        raise ModelError(
            f"The model '{model.name}' takes {len(model.inputs)} inputs; a backbone takes one image."
        )
    chain, previous = [], model.inputs[0]
    for candidate in model.layers:
        if isinstance(candidate, keras.layers.InputLayer):
            continue
        try:
            feeds = candidate.input is previous
        except (AttributeError, ValueError):  # a layer called more than once has no one input
            feeds = False
        if not feeds:
            raise ModelError(
                f"The model '{model.name}' is not a chain of layers up to '{layer}' (layer "
                f"'{candidate.name}' does not take the output of the one before it), so it "
                "cannot be cut to fine-tune its last layers."
            )
        chain.append(candidate)
        if candidate.name == layer:
            return chain
        previous = candidate.output
    raise ModelError(f"The model '{model.name}' has no layer '{layer}' in its chain.")


def network_checksum(model: keras.Model) -> str:
    """sha256 of a network's architecture and weights: the same for the same network.

    Not the `.keras` file's checksum, which holds the time it was saved.
    """
    import hashlib

    digest = hashlib.sha256(model.to_json().encode())
    for weight in model.weights:
        value = np.ascontiguousarray(np.asarray(weight))
        digest.update(f"{weight.path}:{value.dtype}:{value.shape};".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def run_frozen(frozen: keras.Model | None, images: np.ndarray, chunk: int = 2_000) -> np.ndarray:
    """The frozen part's outputs for every image (the images themselves when nothing is frozen)."""
    images = np.asarray(images, np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if frozen is None:
        return images
    parts = [
        np.asarray(frozen(images[start : start + chunk], training=False), np.float32)
        for start in range(0, len(images), chunk)
    ]
    return np.concatenate(parts) if parts else np.empty((0, *frozen.output.shape[1:]), np.float32)


def train_top(
    trained: keras.Model,
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    learning_rate: float,
    batch_size: int,
    max_epochs: int,
    patience: int,
    rng: np.random.Generator,
    keep_start: bool = False,
    min_epochs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[int, int, float]:
    """Train `trained` (Adam, cross-entropy) with early stopping on the validation loss.

    Each epoch visits the training inputs in an order drawn from `rng`, in mini-batches; after
    it, the mean loss over the validation inputs is measured. Training stops once `patience`
    epochs have not improved on the best (never before `min_epochs`: from random weights the
    validation loss of a few labels can rise for a while before it falls), and the best
    epoch's weights are restored; with
    `keep_start`, the weights it started with compete too (a fine-tuning that never beats the
    head it started from gives that head back). Returns the epochs run, the best epoch (0: the
    start) and the seconds spent, validation included. `progress(epoch, max_epochs)` is called
    after each epoch; `cancelled()` is asked before each mini-batch, and a yes raises `Cancelled`
    with the model's weights as they were when it began.

    A plain loop over one compiled step rather than `model.fit`: fit builds its input pipeline
    again for each epoch's validation, which costs more than a whole epoch on a few dozen labels.
    """
    import tensorflow as tf

    started = time.perf_counter()
    optimizer = keras.optimizers.Adam(learning_rate)
    variables = trained.trainable_variables
    optimizer.build(variables)
    spec = (
        tf.TensorSpec((None, *x_fit.shape[1:]), tf.float32),
        tf.TensorSpec((None,), tf.int32),
    )

    @tf.function(input_signature=spec)
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(y, trained(x, training=True))
            )
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    @tf.function(input_signature=spec)
    def summed_loss(x, y):
        return tf.reduce_sum(
            keras.losses.sparse_categorical_crossentropy(y, trained(x, training=False))
        )

    x_fit, x_val = np.asarray(x_fit, np.float32), np.asarray(x_val, np.float32)
    y_fit, y_val = np.asarray(y_fit, np.int32), np.asarray(y_val, np.int32)
    chunk = 2_000

    def validation_loss() -> float:
        total = sum(
            float(summed_loss(x_val[i : i + chunk], y_val[i : i + chunk]))
            for i in range(0, len(x_val), chunk)
        )
        return total / len(x_val)

    best_loss = validation_loss() if keep_start else np.inf
    best_epoch, best_weights = 0, trained.get_weights()
    start_weights = best_weights
    epochs = 0
    for epoch in range(1, max_epochs + 1):
        order = rng.permutation(len(x_fit))
        for start in range(0, len(order), batch_size):
            if cancelled is not None and cancelled():
                trained.set_weights(start_weights)
                raise Cancelled(f"stopped in epoch {epoch}; nothing was changed")
            batch = order[start : start + batch_size]
            step(x_fit[batch], y_fit[batch])
        epochs = epoch
        loss = validation_loss()
        if loss < best_loss:
            best_loss, best_epoch, best_weights = loss, epoch, trained.get_weights()
        elif epoch - best_epoch >= patience and epoch >= min_epochs:
            break
        if progress:
            progress(epoch, max_epochs)
    trained.set_weights(best_weights)
    return epochs, best_epoch, time.perf_counter() - started


def predict_classes(trained: keras.Model, x: np.ndarray, chunk: int = 2_000) -> np.ndarray:
    """The most likely output of each input."""
    parts = [
        np.asarray(trained(x[start : start + chunk], training=False)).argmax(axis=1)
        for start in range(0, len(x), chunk)
    ]
    return np.concatenate(parts) if parts else np.empty(0, np.intp)


# --- any backbone, over any images --------------------------------------------------------------


def build_application(backbone: Backbone) -> keras.Model:
    """A Keras Applications network built with `weights=None`, loaded from the person's file.

    Nothing is downloaded: the architecture is built empty and the weights file (with or
    without its ImageNet top) is read into it. MobileNetV2's width multiplier is found by
    trying each one against the file's shapes. The head reads `pooled`: the last block's
    output averaged over the image.
    """
    from tl_active.data.backbones import APPLICATIONS, POOLED_LAYER

    application = APPLICATIONS[backbone.architecture]
    path = backbone.path
    if not path.is_file():
        raise ModelError(
            f"Weights file not found: {path}. Give the path of the {application.keras_name} "
            "weights file you have (nothing is downloaded)."
        )
    build = getattr(keras.applications, application.keras_name)
    height, width = backbone.image_size or (224, 224)
    reasons = []
    for include_top in (False, True):
        for options in application.options:
            base = build(
                include_top=include_top,
                weights=None,
                input_shape=(height, width, 3),
                **options,
            )
            try:
                # Keras only warns when part of a file fits nowhere and leaves those layers
                # random: here that is a file for another build, not a network to use.
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    base.load_weights(path)
                partial = [w for w in caught if "Skipping" in str(w.message)]
                if partial:
                    raise ValueError(str(partial[0].message))
            except Exception as error:  # shapes or layer names that do not match this build
                reasons.append(str(error).strip().splitlines()[0][:160] if str(error) else "")
                continue
            pooled = keras.layers.GlobalAveragePooling2D(name=POOLED_LAYER)(
                base.get_layer(application.last_block).output
            )
            model = keras.Model(base.input, pooled, name=base.name)
            model.trainable = False
            return model
    raise ModelError(
        f"{path} does not hold {application.keras_name} weights that fit this network "
        f"({reasons[0] if reasons else 'no reason given'}). Give the weights file of that "
        "architecture (with or without its top), saved by Keras."
    )


def load_network(backbone: Backbone) -> keras.Model:
    """The frozen network of a backbone: a whole `.keras` model, or an application's weights."""
    if backbone.architecture:
        return build_application(backbone)
    return load_backbone(backbone.path)


def preprocessing_for(
    model: keras.Model, backbone: Backbone, first_size: Callable[[], tuple[int, int]]
) -> Preprocessing:
    """How images become this network's input, read from the model's own input shape.

    Height, width and channels come from the model; where it takes any size, the backbone's
    own (28 x 28 for the shipped CNNs), else `first_size()` (the folder's first image).
    """
    if len(model.inputs) != 1:
        raise ModelError(
            f"The model '{model.name}' takes {len(model.inputs)} inputs; a backbone takes one image."
        )
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3:
        raise ModelError(
            f"The model '{model.name}' expects input of shape {_shape_text(shape)}, not an image "
            "(height, width, channels); choose a backbone that reads images."
        )
    height, width, channels = shape
    if height is None or width is None:
        height, width = backbone.image_size or first_size()
    return Preprocessing(int(height), int(width), int(channels or 3), backbone.scale)
