"""The one way the app opens a file it did not write: a manifest, a grid, an image, a zip.

Such a file is opened only if it is a regular file: a FIFO would block the reader for good, a
device could be read for ever, a socket cannot be read at all. It is checked without blocking
(the path's status, then the open file's own status, opened with O_NONBLOCK so that even a
FIFO put in its place in between cannot hold the open). Given a folder, the file opened must
lie within it once every link is followed (the open file's own path, as the system names it),
so a link cannot lead the reader out; a link that leads to itself is refused, not followed. Given a size, a larger file is refused before it is
read, and no more than that is ever read (a file growing meanwhile cannot pass it).

Every refusal is a `FileRefusedError` of one line naming the file (escaped: see `text.shown`)
with a short `reason`, so a scanner can list what it left out and why.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from pathlib import Path
from typing import BinaryIO

from tl_active.errors import FileRefusedError
from tl_active.text import shown

LINK_OUTSIDE = "a link out of the folder"
LINK_LOOP = "a link that leads to itself"

_KINDS = (
    (stat.S_ISDIR, "a folder, not a file"),
    (stat.S_ISFIFO, "not a regular file (a FIFO)"),
    (stat.S_ISSOCK, "not a regular file (a socket)"),
    (stat.S_ISCHR, "not a regular file (a device)"),
    (stat.S_ISBLK, "not a regular file (a device)"),
)


@functools.lru_cache(maxsize=64)
def _real_folder(folder: str) -> str:
    # A scan or a batch asks about one folder thousands of times; where it really is does not
    # change meanwhile, and resolving it costs a system call per part of its path.
    return os.path.realpath(folder)


def _lies_in(real: str, folder: Path | str) -> bool:
    real_folder = _real_folder(os.path.abspath(folder))
    return real == real_folder or real.startswith(real_folder.rstrip(os.sep) + os.sep)


def is_within(path: Path | str, folder: Path | str) -> bool:
    """Whether `path`, every link followed, lies in `folder` (itself with its links followed)."""
    return _lies_in(os.path.realpath(path), folder)


def _opened_path(fd: int, path: Path) -> str:
    """Where the file open as `fd` really is: one call on Linux, every link resolved elsewhere."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return os.path.realpath(path)


def _refuse(path: Path, reason: str, what: str) -> FileRefusedError:
    return FileRefusedError(f"cannot read the {what} {shown(path)}: {reason}", reason)


def _kind_problem(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    return next((reason for test, reason in _KINDS if test(mode)), "not a regular file")


def _os_reason(error: OSError) -> str:
    if error.errno == errno.ENOENT:
        return "no such file"
    if error.errno == errno.ELOOP:
        return LINK_LOOP
    if error.errno == errno.ENAMETOOLONG:
        return "a name too long for the file system"
    return (error.strerror or str(error)).lower()


def open_regular(
    path: Path | str,
    *,
    within: Path | str | None = None,
    max_bytes: int | None = None,
    what: str = "file",
) -> BinaryIO:
    """Open `path` for reading in binary, if it is a regular file, else `FileRefusedError`.

    `within`: the folder the file must lie in, links followed. `max_bytes`: the largest size
    taken. `what` names the file in the message ("manifest", "grid file", "image").
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode  # follows links and never blocks, whatever the file is
    except OSError as error:
        raise _refuse(path, _os_reason(error), what) from None
    problem = _kind_problem(mode)
    if problem is not None:
        raise _refuse(path, problem, what)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise _refuse(path, _os_reason(error), what) from None
    try:
        status = os.fstat(fd)
        # The path may have been swapped for something else since the check above.
        problem = _kind_problem(status.st_mode)
        if problem is None and max_bytes is not None and status.st_size > max_bytes:
            problem = f"{status.st_size:,} bytes; at most {max_bytes:,} are taken"
        if problem is None and within is not None and not _lies_in(_opened_path(fd, path), within):
            problem = LINK_OUTSIDE
        if problem is not None:
            raise _refuse(path, problem, what)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(
    path: Path | str,
    *,
    within: Path | str | None = None,
    max_bytes: int | None = None,
    what: str = "file",
) -> bytes:
    """The bytes of `path`, read through `open_regular` (same checks, same refusals).

    At most `max_bytes` are read; a file that grew past them while it was read is refused.
    """
    with open_regular(path, within=within, max_bytes=max_bytes, what=what) as handle:
        try:
            if max_bytes is None:
                data = handle.read()
            else:
                # Read what the file holds, not the limit: a read of n bytes sets n aside first.
                size = os.fstat(handle.fileno()).st_size
                data = handle.read(size + 1)
                if len(data) > size:  # it grew since: read on, up to one byte over the limit
                    data += handle.read(max(max_bytes + 1 - len(data), 0))
        except OSError as error:
            raise _refuse(Path(path), _os_reason(error), what) from None
    if max_bytes is not None and len(data) > max_bytes:
        raise _refuse(Path(path), f"over {max_bytes:,} bytes; at most that is taken", what)
    return data
