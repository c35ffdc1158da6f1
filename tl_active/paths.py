"""Where the project keeps its files: MNIST, the trained CNN, the feature cache, the database.

Each can be moved with an environment variable, which is how the tests point at temporary copies.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
MNIST_PATH = Path(os.environ.get("TL_ACTIVE_MNIST", DATA_DIR / "mnist.npz"))
MODELS_DIR = PROJECT_ROOT / "models"
# The shipped `mnist-cnn` backbone; other backbones are chosen by name or path (backbones.py).
MODEL_PATH = Path(os.environ.get("TL_ACTIVE_MODEL", MODELS_DIR / "shared_cnn.keras"))
CACHE_DIR = Path(os.environ.get("TL_ACTIVE_CACHE", PROJECT_ROOT / ".cache"))
# Sessions and their rounds: TL_ACTIVE_DB is an SQLite file's path, or an SQLAlchemy URL
# (e.g. postgresql+psycopg://user@host/db) for a shared deployment.
_DB = os.environ.get("TL_ACTIVE_DB", "")
DB_URL = _DB if "://" in _DB else f"sqlite:///{Path(_DB or DATA_DIR / 'sessions.db').resolve()}"


def file_in_the_way(folder: Path) -> Path | None:
    """The first of `folder` and its parents that exists but is a file, which stops it being made."""
    folder = Path(folder)
    return next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
