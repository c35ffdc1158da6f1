"""The command line, `python -m tl_active ...`, run in-process through `__main__.main`.

A refusal is one line on stderr and status 2, said before any work starts and with nothing
written. The frozen CNN is replaced by a synthetic feature set, so no TensorFlow runs here.
"""

from __future__ import annotations

import pytest

from tl_active.__main__ import main


@pytest.fixture
def features_loads(monkeypatch) -> list:
    """Stands in for the feature loader, which no refused command should ever reach."""
    loads = []

    def load(*args, **kwargs):
        loads.append(args)
        raise AssertionError("features were loaded for a command that should have been refused")

    monkeypatch.setattr("tl_active.features.load_features", load)
    return loads


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("where", ["out is a file", "out under a file"])
def test_compare_refuses_an_out_folder_it_cannot_write_before_computing(
    tmp_path, capsys, features_loads, where
):
    blocker = tmp_path / "results"
    blocker.write_text("in the way")
    out = blocker if where == "out is a file" else blocker / "compare"

    status = main(["compare", "--strategies", "random", "--seeds", "1", "--out", str(out)])

    assert status == 2
    line = one_error_line(capsys)
    assert str(out) in line and f"{blocker} is a file, not a folder" in line
    assert features_loads == []
    assert blocker.read_text() == "in the way"


@pytest.mark.parametrize("seeds", ["-1", "0"])
def test_compare_refuses_fewer_than_one_seed_without_contradicting_itself(
    tmp_path, capsys, features_loads, seeds
):
    status = main(["compare", "--seeds", seeds, "--out", str(tmp_path / "out")])

    assert status == 2
    line = one_error_line(capsys)
    assert f"--seeds must be at least 1, not {seeds}" in line
    assert "0 or more" not in line
    assert features_loads == []
