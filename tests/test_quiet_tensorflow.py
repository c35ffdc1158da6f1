"""TensorFlow starts without "failed call to cuInit" on a machine without a GPU, and a real error
written to stderr still reaches it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import os, sys
from tl_active.data import network  # Keras and TensorFlow start here, the GPU looked for
from tl_active import quiet_tensorflow as quiet

print("started", flush=True)
with quiet.filtered_stderr(lambda line: quiet.dropped(line, gpu_present=False)):
    os.write(2, b"E0000 00:00:1 1 cuda_platform.cc:52] failed call to cuInit: CUDA error\n")
    os.write(2, b"E0000 00:00:1 1 something.cc:7] a real fault, kept\n")
    print("a Python traceback line, kept", file=sys.stderr)
with quiet.filtered_stderr(lambda line: quiet.dropped(line, gpu_present=True)):
    os.write(2, b"E0000 00:00:1 1 cuda_platform.cc:52] failed call to cuInit: with a GPU, kept\n")
print("after", file=sys.stderr)
"""


@pytest.mark.model
def test_tensorflow_starts_quietly_and_real_errors_still_show():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "started\n"
    lines = done.stderr.splitlines()
    assert lines == [
        "E0000 00:00:1 1 something.cc:7] a real fault, kept",
        "a Python traceback line, kept",
        "E0000 00:00:1 1 cuda_platform.cc:52] failed call to cuInit: with a GPU, kept",
        "after",
    ], done.stderr
