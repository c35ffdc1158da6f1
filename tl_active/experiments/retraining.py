"""Retraining a network's top layers: what the transfer lab and fine-tuning share.

A network is cut into a frozen part, run once over the images (`split_chain`, `run_frozen`),
and a trained part, which learns with early stopping on a validation split (`train_top`).
`transfer_network` gives the shared architecture a new output layer for another question;
`chain_to` checks that a backbone can be cut at all; `network_checksum` names a retrained
network by what it is. With `make_deterministic`, the same training gives the same weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tl_active import quiet_tensorflow  # noqa: F401  before Keras: see its docstring

# isort: split

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tl_active.data.backbones import DIGITS_LAYER  # noqa: E402
from tl_active.data.network import layer_names  # noqa: E402
from tl_active.data.shared_cnn import build_shared_network  # noqa: E402
from tl_active.errors import Cancelled, ModelError  # noqa: E402


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
