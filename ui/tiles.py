"""The tiles of pool images: PNG data URIs, made once per image and server process.

The page script is executed afresh on every run, so a cache defined in it lasts one run: each
round redrew every thumbnail of the history (four PNG encodings per round answered so far).
Kept here, in an imported module, they last as long as the server; the pool never changes
while it serves. The data kind draws each tile (`DataKind.thumbnail_png`).
"""

from __future__ import annotations

from functools import lru_cache

from tl_active.data.kinds import DataKind
from tl_active.sessions.session import LabellingSession
from ui.components.labelling_grid import png_data_uri

# Sizes as shares of the kind's own tile (`DataKind.tile_px`, MNIST's 28 px x 4 = 112 px):
TILE_SCALE = 4  # the batch's tiles, two by two beside the head's figures
THUMB_SCALE = 2  # the history's thumbnails, half as large
KEPT = 8192  # tiles per kind: about 1 KB each


@lru_cache(maxsize=KEPT)
def _tile_png(kind: DataKind, index: int, size: int) -> bytes:
    return kind.thumbnail_png(index, size)


def tile_size(kind: DataKind, scale: int) -> int:
    """The longer side in pixels of a tile drawn at `scale` (see TILE_SCALE)."""
    return round(kind.tile_px * scale / TILE_SCALE)


def thumb_scale(kind: DataKind) -> int:
    """The scale that draws an item's picture sharp at the history's size (`kind.history_px`,
    also the pool map's confirmation's): the thumbnails', or the batch's tiles' where the kind
    shows it larger than they are."""
    return THUMB_SCALE if kind.history_px <= tile_size(kind, THUMB_SCALE) else TILE_SCALE


def tile_png(session: LabellingSession, index: int, scale: int = TILE_SCALE) -> bytes:
    """A pool item of the session as a PNG, `tile_size` px on its longer side."""
    kind = session.features.kind
    return _tile_png(kind, int(index), tile_size(kind, scale))


@lru_cache(maxsize=KEPT)
def _tile_uri(kind: DataKind, index: int, size: int) -> str:
    return png_data_uri(_tile_png(kind, index, size))


def image_uri(session: LabellingSession, index: int, scale: int = TILE_SCALE) -> str:
    """A pool image of the session as a data URI: MNIST's digits, or a folder's thumbnails."""
    kind = session.features.kind
    return _tile_uri(kind, int(index), tile_size(kind, scale))


def image_name(session: LabellingSession, index: int) -> str:
    return session.features.kind.item_name(index)
