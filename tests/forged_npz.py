"""`.npz` files with one forged member, as a damaged or hostile file would have them.

An `.npz` is a zip of `.npy` members, each a small text header (dtype and shape, as a Python
literal) followed by the raw data. A forged header can claim any shape, so that numpy tries to
allocate terabytes, overflows a C long, or fails to parse it at all.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

# Headers a forger may write, each making numpy fail in its own way (the comment says how).
FORGED_HEADERS = {
    # MemoryError: 784 trillion bytes to allocate
    "huge shape": "{'descr': '|u1', 'fortran_order': False, 'shape': (1000000000000, 28, 28), }",
    # ValueError: larger than any array can be
    "impossible size": "{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846976,), }",
    # OverflowError: a dimension wider than a C long
    "overflowing shape": (
        "{'descr': '|u1', 'fortran_order': False, 'shape': (1000000000000000000000000000000,), }"
    ),
    # tokenize.TokenError: not a Python literal at all
    "unparsable header": "{'descr': '|u1', 'shape': (",
}


def npy_bytes(header: str, body: bytes = bytes(64)) -> bytes:
    """An `.npy` member (format 1.0) with this header text and data, padded as numpy pads."""
    text = header.encode("latin1")
    text += b" " * ((64 - (10 + len(text) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + body


def write_forged_npz(path: Path, arrays: dict[str, np.ndarray], forged: str, header: str) -> None:
    """Save `arrays` as an `.npz` at `path`, with member `forged` replaced by a forged header."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            if name == forged:
                archive.writestr(f"{name}.npy", npy_bytes(header))
            else:
                buffer = io.BytesIO()
                np.save(buffer, array, allow_pickle=False)
                archive.writestr(f"{name}.npy", buffer.getvalue())
