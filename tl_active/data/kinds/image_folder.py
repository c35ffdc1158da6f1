"""A person's image folder as a data kind: items named by their path relative to the folder.

With one subfolder per class, an image's class is its folder's name and a fifth of each class
is held out as the test set; without, nothing is known and there is no test set. Thumbnails are
made once per image and kept on disk, keyed by the folder's checksum.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tl_active import paths
from tl_active.data.images import ImageSource, thumbnail_png
from tl_active.data.kinds.base import DataKind


# Compared by identity: a source holds the path of every image, too many to hash per thumbnail.
@dataclass(frozen=True, eq=False)
class ImageFolderKind(DataKind):
    """The images of `source`; `class_names` are its class folders' names (empty: none)."""

    source: ImageSource
    class_names: tuple[str, ...] = ()

    name = "image folder"
    items = "images"
    class_word = "class"
    truth = "the class folders"
    truth_is_plural = True
    true_class = "the class folder"
    auto_answerer = "class folder (auto)"
    item_column = "path"

    @property
    def has_truth(self) -> bool:
        return self.source.has_truth

    def item_id(self, index: int) -> str:
        return self.source.pool_paths[index]

    def item_name(self, index: int) -> str:
        return self.source.pool_paths[index]

    def short_name(self, index: int) -> str:
        return self.source.pool_paths[index]

    def test_item_id(self, index: int) -> str:
        return self.source.test_paths[index]

    def thumbnail_png(self, index: int, size: int) -> bytes:
        source = self.source
        return thumbnail_png(
            Path(source.root), source.pool_paths[index], paths.CACHE_DIR, source.checksum, size
        )

    def says(self, class_name: str) -> str:
        return f"its class folder is {class_name}"

    def test_split(self, n_test: int) -> str:
        if not self.has_truth:
            return ""
        return (
            f"held-out test split: {n_test:,} images (a fifth of each class, seed 0), "
            f"recorded in {self.source.split_file}"
        )

    @property
    def origin(self) -> str:
        return f"{self.source.root} ({self.source.preprocessing})"
