"""Where the project keeps its files: MNIST, the trained CNN, the feature cache, the database.

Each can be moved with an environment variable, which is how the tests point at temporary copies.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tl_active.errors import DataError, TlActiveError
from tl_active.text import shown

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
MNIST_PATH = Path(os.environ.get("TL_ACTIVE_MNIST", DATA_DIR / "mnist.npz"))
MODELS_DIR = PROJECT_ROOT / "models"
# The shipped `mnist-cnn` backbone; other backbones are chosen by name or path (backbones.py).
MODEL_PATH = Path(os.environ.get("TL_ACTIVE_MODEL", MODELS_DIR / "shared_cnn.keras"))
CACHE_DIR = Path(os.environ.get("TL_ACTIVE_CACHE", PROJECT_ROOT / ".cache"))
# Backbones fine-tuned on a session's labels (`fine_tune.py`), each named by its checksum;
# outside git, like the feature cache, and never inside a person's image folder.
FINE_TUNED_DIR = Path(os.environ.get("TL_ACTIVE_FINE_TUNED", MODELS_DIR / "fine-tuned"))


def expanded(path: Path | str) -> Path:
    """A path as a person typed it, with `~` or `~user` made the home folder; `DataError` where
    there is none (`~0`, a user this machine does not have, or no HOME), not Python's bare
    RuntimeError."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        raise DataError(
            f"{shown(str(path))}: no home folder for the user it names; give the path in full"
        ) from None


def db_url(value: str = "") -> str:
    """The database URL for a `TL_ACTIVE_DB`-style value: a URL as it is, else an SQLite file."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value or DATA_DIR / 'sessions.db').resolve()}"


# Sessions and their rounds: TL_ACTIVE_DB is an SQLite file's path, or an SQLAlchemy URL
# (e.g. postgresql+psycopg://user@host/db) for a shared deployment.
DB_URL = db_url(os.environ.get("TL_ACTIVE_DB", ""))


def file_in_the_way(folder: Path) -> Path | None:
    """The first of `folder` and its parents that exists but is a file, which stops it being made."""
    folder = Path(folder)
    return next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)


def check_writable_folder(folder: Path, option: str) -> None:
    """Make `folder` and write a scratch file in it now, so that a bad one fails before the work.

    `option` names the setting the person gave it with (`--out`), for the message.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        blocker = file_in_the_way(folder)
        reason = f"{blocker} is a file, not a folder" if blocker else error.strerror or str(error)
        raise TlActiveError(
            f"{option} {folder} cannot be written ({reason}): choose a folder you can write "
            f"with {option}"
        ) from None
