"""TensorFlow started without the lines that alarm people on a machine without a GPU.

As it starts, TensorFlow writes to the process's stderr from C++, before its own logging is set
up, so `TF_CPP_MIN_LOG_LEVEL` does not reach those lines: "failed call to cuInit: CUDA error"
(an E line), "Could not find cuda drivers", and notes on oneDNN and the CPU's instructions. In
the server's log and in `make bench` they read as failures. Every module that uses Keras imports
this one first: it imports Keras (and TensorFlow) and lets TensorFlow look for a GPU once, with
stderr passed through a filter that drops exactly those lines and writes every other line on.
The GPU lines are dropped only where the machine has no NVIDIA device: where it has one, a
failed cuInit is a real fault, and it is shown.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# What TensorFlow says as it starts on any machine: notes, never faults.
STARTUP_NOTES = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|port\.cc:\d+\] oneDNN custom operations are on"
    r"|cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized"
    r"|^To enable the following instructions:"
)
# What it says on a machine without a GPU, where there is no GPU to find.
NO_GPU = re.compile(
    r"cuda_platform\.cc:\d+\] failed call to cuInit"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
)


def has_nvidia_device() -> bool:
    return any(Path("/dev").glob("nvidia[0-9]*"))


def dropped(line: str, gpu_present: bool) -> bool:
    """Whether a line of TensorFlow's start is one of the harmless ones."""
    return bool(STARTUP_NOTES.search(line) or (not gpu_present and NO_GPU.search(line)))


@contextmanager
def filtered_stderr(drop: Callable[[str], bool]) -> Iterator[None]:
    """Within the block, every line written to file descriptor 2 (by Python or by C++) goes on
    to the real stderr unless `drop(line)`; lines are passed on as they come, in order."""
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            for raw in pipe:
                if not drop(raw.decode("utf-8", "replace")):
                    os.write(real, raw)

    reader = threading.Thread(target=pump, name="tensorflow-stderr", daemon=True)
    reader.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real, 2)  # the pipe's last writer is gone: the reader reads to its end
        reader.join(timeout=10)
        os.close(real)


def _start() -> None:
    gpu_present = has_nvidia_device()
    with filtered_stderr(lambda line: dropped(line, gpu_present)):
        import keras  # noqa: F401  the backend, TensorFlow, starts here
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # where cuInit is called, once


_start()
