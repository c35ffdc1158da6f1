"""The dependency rules between packages (docs/architecture.md) hold: import-linter's contracts.

The contracts live in pyproject.toml; `make lint` runs the same check. This test makes CI run it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_layer_contracts_are_the_documented_ones():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    kinds = sorted(contract["type"] for contract in config["contracts"])
    assert kinds == ["acyclic_siblings", "forbidden", "layers"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    assert layers[0] == "ui | tl_active.cli"
    assert layers.index("tl_active.experiments") < layers.index("tl_active.sessions")
    assert layers.index("tl_active.sessions") < layers.index("tl_active.data")
    assert layers.index("tl_active.data") < layers.index("tl_active.core")
    assert layers[-1] == "tl_active.errors | tl_active.text | tl_active.quiet_tensorflow"


def test_every_import_keeps_the_layers():
    lint = Path(sys.executable).with_name("lint-imports")
    command = [str(lint)] if lint.exists() else [shutil.which("lint-imports") or "lint-imports"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken." in result.stdout
