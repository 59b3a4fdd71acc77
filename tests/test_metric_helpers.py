"""The input and score helpers that mig, block_mig, sap, dci, factorvae and coprediction share."""

import numpy as np
import pytest

from groupsup.errors import ConfigError, DataError
from groupsup.evaluate import mig, sap
from groupsup.evaluate.arrays import defined_mean, factor_inputs, standardise


def test_factor_inputs_check_and_renumber_the_factors():
    data = factor_inputs(np.arange(6.0).reshape(3, 2), [[5, 1], [7, 1], [5, 1]], None)
    assert data.codes.dtype == np.float64
    assert data.raw.tolist() == [[5, 1], [7, 1], [5, 1]]
    assert data.labels.tolist() == [[0, 0], [1, 0], [0, 0]]
    assert data.cardinalities == (2, 1) and data.names == ("factor0", "factor1")
    with pytest.raises(DataError, match="factors must have 3 rows"):
        factor_inputs(np.zeros((3, 2)), [[0], [1]], None)
    with pytest.raises(ConfigError, match="factor_names must name 2 columns"):
        factor_inputs(np.zeros((3, 2)), np.zeros((3, 2), int), ["a"])


def test_standardise_keeps_a_constant_column_finite():
    x = np.array([[1.0, 4.0], [3.0, 4.0]])
    assert standardise(x).tolist() == [[-1.0, 0.0], [1.0, 0.0]]


def test_defined_mean_skips_nan_and_is_nan_when_nothing_is_defined():
    assert defined_mean(np.array([1.0, np.nan, 3.0])) == 2.0
    assert np.isnan(defined_mean(np.array([np.nan])))


def test_gap_scores_average_the_factors_that_vary():
    codes = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]] * 4)
    factors = np.stack([codes[:, 0].astype(int), np.zeros(16, int)], axis=1)
    for result in (mig(codes, factors), sap(codes, factors, continuous=True)):
        assert np.isnan(result.gap[1])  # the constant factor has no gap ...
        assert result.score == pytest.approx(result.gap[0])  # ... and is left out of the mean
