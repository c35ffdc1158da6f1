"""Loading a frozen backbone safely and reading one of its layers over the images.

While people label, a network is frozen: only a small head on one of its layers learns (see
`core/head.py`). Any `.keras` model can serve as that frozen backbone, provided its input can
take the images, and so can a Keras Applications architecture built from a weights file the
person has: `load_network` loads either (a `.keras` file in Keras' safe mode), `layer_names`
lists what a head could read, and `extract_layer` runs the model over the images once, chunk by
chunk, and hands back plain arrays. The shipped CNNs themselves are built and trained in
`shared_cnn.py`.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from tl_active import quiet_tensorflow  # noqa: F401  before Keras: see its docstring

# isort: split

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tl_active.data.backbones import (  # noqa: E402
    APPLICATIONS,
    DIGITS_LAYER,
    EMBEDDING_LAYER,
    POOLED_LAYER,
    Backbone,
)
from tl_active.data.images import Preprocessing  # noqa: E402
from tl_active.errors import ModelError  # noqa: E402
from tl_active.paths import MODEL_PATH, MODELS_DIR  # noqa: E402

_FIX = (
    "Restore it with `git checkout -- models/` or retrain it with `python -m tl_active pretrain`."
)


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


def build_application(backbone: Backbone) -> keras.Model:
    """A Keras Applications network built with `weights=None`, loaded from the person's file.

    Nothing is downloaded: the architecture is built empty and the weights file (with or
    without its ImageNet top) is read into it. MobileNetV2's width multiplier is found by
    trying each one against the file's shapes. The head reads `pooled`: the last block's
    output averaged over the image.
    """
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
