"""The per-row maximum and minimum give exactly what NumPy's row reductions give."""

import numpy as np
import pytest

from tl_active.core.rows import row_argmax, row_max, row_min


@pytest.mark.parametrize("k", [1, 2, 5, 10])
def test_row_max_and_min_match_numpy_bit_for_bit(k):
    rng = np.random.default_rng(k)
    # Rounded, so rows hold ties; with infinities and signed zeros too.
    table = np.round(rng.normal(size=(1_000, k)), 1)
    table[0, 0], table[1, -1], table[2, 0] = np.inf, -np.inf, -0.0
    assert np.array_equal(row_max(table), table.max(axis=1))
    assert np.array_equal(row_min(table), table.min(axis=1))
    assert row_max(table).shape == (1_000,)


def test_row_max_of_probabilities():
    proba = np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]])
    assert row_max(proba).tolist() == [0.8, 0.5, 0.9]
    assert row_min(proba).tolist() == [0.2, 0.5, 0.1]


@pytest.mark.parametrize("k", [1, 2, 3, 10])
def test_row_argmax_matches_numpy_first_on_ties(k):
    rng = np.random.default_rng(k)
    table = np.round(rng.random((1_000, k)), 1).astype(np.float32)  # many ties
    table[0] = 0.5  # a whole row tied: the first column, as NumPy says
    assert np.array_equal(row_argmax(table), table.argmax(axis=1))
    assert row_argmax(table)[0] == 0
