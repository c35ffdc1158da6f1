"""The one way out for files the project writes for a person: whole files or none.

Each file is written to a temporary name in its own folder, flushed, then renamed over its
target, so a full disk, a folder in the way or a kill mid-write leaves no half-written export;
the names are checked before anything is written, so a refusal writes nothing at all.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tl_active.errors import TlActiveError


class WriteError(TlActiveError):
    """Files could not be written; none of them was left half-written."""


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def write_files(files: Mapping[Path, str]) -> None:
    """Write each text to its path (UTF-8), all checked first, each replaced atomically.

    A path taken by anything but a regular file (a folder, a FIFO) is refused before anything is
    written. A failure while writing removes every temporary file and names the file that failed.
    """
    for path in files:
        if os.path.lexists(path) and not Path(path).is_file():
            raise WriteError(f"cannot write {path}: something that is not a file has its name")
    written: list[tuple[str, Path]] = []
    replaced: list[Path] = []
    try:
        for path, text in files.items():
            path = Path(path)
            handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            written.append((tmp, path))
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
        for tmp, path in written:
            os.replace(tmp, path)
            replaced.append(path)
    except OSError as error:
        for tmp, _ in written:
            if os.path.exists(tmp):
                os.unlink(tmp)
        failed = written[-1][1] if written else next(iter(files))
        # A rename in one folder fails only if the folder changed under us; say what is whole.
        kept = (
            f"; {', '.join(map(str, replaced))} written whole"
            if replaced
            else "; nothing was written"
        )
        raise WriteError(f"cannot write {failed}: {_reason(error)}{kept}") from None
