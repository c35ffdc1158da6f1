"""Backbones: a frozen Keras model and the layer under the head.

Two backbones ship with the project, trained by `python -m tl_active pretrain` and committed
with the JSON of how they were made:

- `mnist-cnn`: the odd-number demo's shared CNN, trained on all ten digits;
- `mnist-cnn-5to9`: the same architecture trained only on digits 5-9 (five outputs), so it has
  never seen a 0, 1, 2, 3 or 4 (the seed `mnist-5to9-transfer.md`).

Any other `.keras` file works too, given by path (on the command line, in `TL_ACTIVE_BACKBONE`,
or in the app's sidebar), with the name of the layer whose outputs the head reads
(`TL_ACTIVE_LAYER`); it is loaded in Keras' safe mode. The shipped networks name two layers:
`digits`, the softmax outputs (the demo's classification-to-binary view), and `embedding`, the
Dense(128, tanh) layer before them.

A third shipped network reads weather windows, not images: `weather-cnn`, the seed
`precipitation-to-snow.md`'s Conv1D trained on rain or snow today (`weather_network.py`), whose
`dense` layer the snow questions read. It is kept in `SHIPPED_WEATHER`, apart from the image
backbones a page offers.

A Keras Applications architecture (MobileNetV2, EfficientNetB0, ResNet50) is named with the
weights file a person already has: `mobilenetv2:/path/to/weights.h5`, optionally with its input
size, `mobilenetv2@96:/path/...` (224 otherwise). It is built with `weights=None` and loaded
from that file, so nothing is ever downloaded; the head reads its last convolutional block,
averaged over the image (the layer `pooled`). This module only names things; `network.py`
loads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tl_active.core.task import DIGITS
from tl_active.errors import DataError
from tl_active.paths import MODEL_PATH, MODELS_DIR
from tl_active.paths import expanded as expanded_path

DIGITS_LAYER = "digits"  # Dense(n, softmax), one output per class the network was trained on
EMBEDDING_LAYER = "embedding"  # Dense(128, tanh), the layer before the class outputs
POOLED_LAYER = "pooled"  # an application's last convolutional block, averaged over the image
WEATHER_DENSE_LAYER = "dense"  # the weather network's Dense(32) layer, before its output
WEATHER_OUTPUT_LAYER = "wet"  # its Dense(1, sigmoid) output: rain or snow today


@dataclass(frozen=True)
class Application:
    """A Keras Applications architecture: its class, its last block, the pixels it expects."""

    keras_name: str  # the class in keras.applications
    last_block: str  # the layer whose output `pooled` averages
    scale: str  # see images.SCALES: what its preprocess_input does
    options: tuple[dict, ...] = ({},)  # constructor options to try against a weights file


APPLICATIONS: dict[str, Application] = {
    # MobileNetV2's width multiplier is not in the file's name; the file's shapes tell which.
    "mobilenetv2": Application(
        "MobileNetV2",
        "out_relu",
        "-1-1",
        tuple({"alpha": a} for a in (1.0, 0.35, 0.5, 0.75, 1.3, 1.4)),
    ),
    "efficientnetb0": Application("EfficientNetB0", "top_activation", "0-255"),
    "resnet50": Application("ResNet50", "conv5_block3_out", "caffe"),
}
APPLICATION_SIZE = 224


@dataclass(frozen=True)
class Backbone:
    """A frozen network: its name (a shipped name, or the file's path) and its `.keras` file."""

    name: str
    path: Path
    description: str = ""
    default_layer: str = DIGITS_LAYER
    # Layers worth offering first, with what they are (any other layer name works too).
    layers: tuple[tuple[str, str], ...] = ()
    # The classes its `digits` layer was trained to output, in output order (empty: unknown).
    output_classes: tuple[str, ...] = ()
    # A Keras Applications architecture (a key of APPLICATIONS) built around the weights file
    # at `path`; empty for a whole .keras model.
    architecture: str = ""
    # (height, width) images are resized to when the network takes any size (None: the first
    # image's own size); a network with a fixed input size says its own.
    image_size: tuple[int, int] | None = None
    scale: str = "0-1"  # how pixels are scaled for it (images.SCALES)
    # Its layers whose outputs are class probabilities (a softmax's, each row summing to 1).
    probability_layers: tuple[str, ...] = ()

    @property
    def shipped(self) -> bool:
        return self.name in SHIPPED or self.name in SHIPPED_WEATHER or self.name in SNOW_LAB

    def reads_probabilities(self, layer: str) -> bool | None:
        """Whether `layer`'s outputs are class probabilities; None where that is not known
        before its outputs are read (a person's own model).

        A shipped network or an application says it by name. (An application's `pooled` layer
        is a convolutional block's average, never probabilities.) Once the outputs are read,
        `FeatureSet.simplex` says it for any model.
        """
        if self.shipped or self.architecture:
            return layer in self.probability_layers
        return None


_SHIPPED_LAYERS = (
    (DIGITS_LAYER, "softmax outputs"),
    (EMBEDDING_LAYER, "Dense(128) embedding"),
)

SHIPPED: dict[str, Backbone] = {
    "mnist-cnn": Backbone(
        "mnist-cnn",
        MODEL_PATH,
        "the demo's CNN, trained on all ten digits",
        DIGITS_LAYER,
        _SHIPPED_LAYERS,
        DIGITS,
        image_size=(28, 28),
        probability_layers=(DIGITS_LAYER,),
    ),
    "mnist-cnn-5to9": Backbone(
        "mnist-cnn-5to9",
        MODELS_DIR / "mnist_cnn_5to9.keras",
        "the same CNN trained only on digits 5-9: it never saw a 0-4",
        EMBEDDING_LAYER,
        _SHIPPED_LAYERS,
        DIGITS[5:],  # trained on 5-9 only
        image_size=(28, 28),
        probability_layers=(DIGITS_LAYER,),
    ),
}
DEFAULT_BACKBONE = "mnist-cnn"

# Backbones that read weather windows (`weather.py`), not images: shipped too, but kept apart
# from SHIPPED, which is what an image's backbone is chosen from.
SHIPPED_WEATHER: dict[str, Backbone] = {
    "weather-cnn": Backbone(
        "weather-cnn",
        MODELS_DIR / "weather_cnn.keras",
        "a Conv1D trained on rain or snow today from 14-day windows of five cities' weather",
        WEATHER_DENSE_LAYER,
        (
            (WEATHER_DENSE_LAYER, "Dense(32) layer"),
            (WEATHER_OUTPUT_LAYER, "sigmoid output: rain or snow today"),
        ),
    ),
}

# The snow lab's wet network: the same recipe on 4-day windows, the length 2016's blocked folds
# chose for snow (`experiments/weather_transfer.py`). Kept apart from SHIPPED_WEATHER, which the
# Label page chooses from for its 14-day windows.
SNOW_LAB: dict[str, Backbone] = {
    "weather-cnn-4d": Backbone(
        "weather-cnn-4d",
        MODELS_DIR / "weather_cnn_4d.keras",
        "the same Conv1D trained on rain or snow today from 4-day windows, for the snow lab",
        WEATHER_DENSE_LAYER,
        SHIPPED_WEATHER["weather-cnn"].layers,
    ),
}


def resolve_backbone(spec: str | Path | None = None) -> Backbone:
    """A shipped backbone by name, or a user's `.keras` file by path.

    With no `spec`, `TL_ACTIVE_BACKBONE` is read, then the default (`mnist-cnn`). A name that is
    neither shipped nor an existing file is a `ValueError` listing the shipped names.
    """
    spec = str(spec or os.environ.get("TL_ACTIVE_BACKBONE") or DEFAULT_BACKBONE).strip()
    if spec in SHIPPED:
        return SHIPPED[spec]
    if spec in SHIPPED_WEATHER:
        return SHIPPED_WEATHER[spec]
    if spec in SNOW_LAB:
        return SNOW_LAB[spec]
    application = _application(spec)
    if application is not None:
        return application
    path = expanded(spec)
    if path.suffix == ".keras" or path.exists():
        return Backbone(str(path), path, "your own Keras model", DIGITS_LAYER, ())
    raise ValueError(
        f"unknown backbone {spec!r}: choose {', '.join(SHIPPED)}, give the path of a .keras "
        f"file, or an architecture and its weights file ({', '.join(APPLICATIONS)}), e.g. "
        "mobilenetv2@96:/path/to/weights.h5"
    )


def _application(spec: str) -> Backbone | None:
    """`ARCH[@SIZE]:PATH` as a Keras Applications backbone, or None if `spec` is not one."""
    head, colon, path = spec.partition(":")
    architecture, at, size_text = head.partition("@")
    architecture = architecture.strip().lower()
    if not colon or architecture not in APPLICATIONS:
        return None
    try:
        size = int(size_text) if at else APPLICATION_SIZE
    except ValueError:
        size = 0
    if not 32 <= size <= 1024:
        raise ValueError(
            f"{spec!r}: the input size after @ is a whole number of pixels from 32 to 1024"
        )
    if not path.strip():
        raise ValueError(f"{spec!r}: give the weights file after the colon")
    application = APPLICATIONS[architecture]
    return Backbone(
        spec,
        expanded(path.strip()),
        f"{application.keras_name} at {size} x {size}, weights from your file",
        POOLED_LAYER,
        ((POOLED_LAYER, f"{application.last_block}, averaged over the image"),),
        architecture=architecture,
        image_size=(size, size),
        scale=application.scale,
    )


def expanded(spec: str) -> Path:
    """A backbone's file as a person typed it, `~` expanded; `ValueError`, as for every bad
    backbone here, where the home folder it names does not exist."""
    try:
        return expanded_path(spec)
    except DataError as error:
        raise ValueError(str(error)) from None


def default_layer(backbone: Backbone) -> str:
    """The layer to read when none is given: `TL_ACTIVE_LAYER`, else the backbone's own."""
    return os.environ.get("TL_ACTIVE_LAYER") or backbone.default_layer


def unit_names(backbone: Backbone, layer: str, width: int) -> tuple[str, ...]:
    """A name for each output of a layer, for the axes of the head's weights.

    The `digits` layer of a backbone whose classes are known names each output by its class
    (the 5-9 network's five outputs are "5" to "9"); any other layer's units are numbered.
    """
    if layer == DIGITS_LAYER and len(backbone.output_classes) == width:
        return backbone.output_classes
    return tuple(str(u) for u in range(width))
