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
Dense(128, tanh) layer before them. This module only names things; `network.py` loads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tl_active.paths import MODEL_PATH, MODELS_DIR
from tl_active.task import DIGITS

DIGITS_LAYER = "digits"
EMBEDDING_LAYER = "embedding"


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

    @property
    def shipped(self) -> bool:
        return self.name in SHIPPED


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
    ),
    "mnist-cnn-5to9": Backbone(
        "mnist-cnn-5to9",
        MODELS_DIR / "mnist_cnn_5to9.keras",
        "the same CNN trained only on digits 5-9: it never saw a 0-4",
        EMBEDDING_LAYER,
        _SHIPPED_LAYERS,
        DIGITS[5:],  # trained on 5-9 only
    ),
}
DEFAULT_BACKBONE = "mnist-cnn"


def resolve_backbone(spec: str | Path | None = None) -> Backbone:
    """A shipped backbone by name, or a user's `.keras` file by path.

    With no `spec`, `TL_ACTIVE_BACKBONE` is read, then the default (`mnist-cnn`). A name that is
    neither shipped nor an existing file is a `ValueError` listing the shipped names.
    """
    spec = str(spec or os.environ.get("TL_ACTIVE_BACKBONE") or DEFAULT_BACKBONE).strip()
    if spec in SHIPPED:
        return SHIPPED[spec]
    path = Path(spec).expanduser()
    if path.suffix == ".keras" or path.exists():
        return Backbone(str(path), path, "your own Keras model", DIGITS_LAYER, ())
    raise ValueError(
        f"unknown backbone {spec!r}: choose {', '.join(SHIPPED)}, or give the path of a .keras file"
    )


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
