"""The tiles of pool images: PNG data URIs, made once per image and server process.

The page script is executed afresh on every run, so a cache defined in it lasts one run: each
round redrew every thumbnail of the history (four PNG encodings per round answered so far).
Kept here, in an imported module, they last as long as the server; the pool never changes
while it serves, and a folder's tiles are keyed by its checksum.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from PIL import Image

from tl_active import paths
from tl_active.data.images import thumbnail_png
from tl_active.sessions.session import LabellingSession
from ui.components.labelling_grid import png_data_uri
from ui.support import pool_images

TILE_SCALE = 4  # 28 px -> 112 px, nearest neighbour: two by two beside the head's figures
THUMB_SCALE = 2  # the history's thumbnails
KEPT = 8192  # tiles per kind: about 1 KB each


@lru_cache(maxsize=KEPT)
def tile_png(index: int, scale: int = TILE_SCALE) -> bytes:
    """An MNIST pool image drawn large and crisp: ink dark on white, upscaled without blur."""
    image = Image.fromarray(255 - pool_images()[index])
    image = image.resize((28 * scale, 28 * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@lru_cache(maxsize=KEPT)
def tile_uri(index: int, scale: int = TILE_SCALE) -> str:
    """An MNIST pool image as a data URI."""
    return png_data_uri(tile_png(index, scale))


@lru_cache(maxsize=KEPT)
def _folder_uri(root: str, relative: str, checksum: str, size: int) -> str:
    return png_data_uri(thumbnail_png(Path(root), relative, paths.CACHE_DIR, checksum, size))


def image_uri(session: LabellingSession, index: int, scale: int = TILE_SCALE) -> str:
    """A pool image of the session as a data URI: MNIST's digits, or a folder's thumbnails."""
    source = session.features.source
    if source is None:
        return tile_uri(index, scale)
    return _folder_uri(str(source.root), source.pool_paths[index], source.checksum, 28 * scale)


def image_name(session: LabellingSession, index: int) -> str:
    source = session.features.source
    return f"pool image {index:,}" if source is None else source.pool_paths[index]
