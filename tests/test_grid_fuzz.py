"""The sweep's grid reader under fuzzing: random TOML tables of the grid's keys and others.

Every value a careless or hostile grid might hold (huge counts, negative numbers, floats,
booleans, nested tables, long lists, text with control characters, keys that do not exist)
must end in a `Grid` that the sweep can run, or one `GridError` of one line, within 5 s (the bound of every bad input),
and never in another exception, a `MemoryError` or a grid over the documented bounds.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tl_active.data.backbones import resolve_backbone
from tl_active.data.images import scan_folder
from tl_active.errors import DataError
from tl_active.experiments.compare import MAX_ROUNDS, MAX_SEEDS
from tl_active.experiments.sweep import grid as grid_module
from tl_active.experiments.sweep.grid import MAX_CELLS, GridError, grid_size, parse_grid

KEYS = [*grid_module.GRID_KEYS, "strategy", "seed", "", "targets\x1b[2J"]
NUMBERS = st.one_of(
    st.integers(min_value=-5, max_value=20),
    st.sampled_from([0, 1, 16, 17, 10_000, 10_001, 10**9, 2**63, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
TEXTS = st.one_of(
    st.sampled_from(["odd", "even", "all", "0-4", "0,6,8,9", "diversity", "random", "band"]),
    st.sampled_from(["plain", "pool"]),
    st.sampled_from(["mnist-cnn", "mnist-cnn-5to9", "digits", "embedding", "resnet", "\x00"]),
    st.text(max_size=12),
)
SCALARS = st.one_of(NUMBERS, TEXTS)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=6),
    st.dictionaries(st.text(max_size=4), SCALARS, max_size=2),
)
GRIDS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(GRIDS)
def test_any_grid_table_is_a_bounded_grid_or_one_line(data):
    started = time.perf_counter()
    try:
        grid = parse_grid(data)
    except GridError as error:
        message = str(error)
        assert message and "\n" not in message
    else:
        assert 1 <= len(grid.seeds) <= MAX_SEEDS
        assert all(1 <= r <= MAX_ROUNDS for r in grid.rounds)
        assert 1 <= grid_size(grid, grid.tasks()) <= MAX_CELLS
    assert time.perf_counter() - started < 5.0


def test_a_home_folder_that_does_not_exist_is_one_line_everywhere(monkeypatch):
    # Found by the fuzz above: "~0" names the home folder of a user called "0", and Python's
    # expanduser raises a bare RuntimeError where there is none.
    user = "~no-such-user-of-tl-active"
    with pytest.raises(GridError, match="no home folder") as error:
        parse_grid({"backbones": f"{user}/model.keras"})
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="no home folder"):
        resolve_backbone(f"{user}/model.keras")
    with pytest.raises(DataError, match="no home folder"):
        scan_folder(f"{user}/images")
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr("pwd.getpwuid", lambda uid: (_ for _ in ()).throw(KeyError(uid)))
    with pytest.raises(DataError, match="no home folder"):
        scan_folder("~/images")
