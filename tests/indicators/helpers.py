"""Comparison helpers shared by the indicator tests."""

from __future__ import annotations

import numpy as np

RTOL = 1e-9


def assert_same_nan_and_close(
    got: np.ndarray, want: np.ndarray, rtol: float = RTOL, atol: float = 0.0, what: str = ""
) -> None:
    """``got`` is a float64 array of ``want``'s shape with exactly ``want``'s NaN positions, and its finite
    values agree within ``rtol`` (relative) / ``atol`` (absolute)."""
    assert isinstance(got, np.ndarray), f"{what}: expected an ndarray, got {type(got).__name__}"
    assert got.dtype == np.float64, f"{what}: dtype {got.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    got_nan, want_nan = np.isnan(got), np.isnan(want)
    if not np.array_equal(got_nan, want_nan):
        bad = np.flatnonzero(got_nan != want_nan)
        raise AssertionError(
            f"{what}: NaN mask differs at {bad.size} positions, first {bad[:8].tolist()}; "
            f"got {got[bad[:8]].tolist()}, want {want[bad[:8]].tolist()}"
        )
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def assert_nan_mask(got: np.ndarray, want: np.ndarray, what: str = "") -> None:
    """Same shape, float64, NaN exactly where ``want`` has NaN."""
    assert isinstance(got, np.ndarray), what
    assert got.dtype == np.float64, what
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    bad = np.flatnonzero(np.isnan(got) != np.isnan(want))
    assert bad.size == 0, f"{what}: NaN mask differs at {bad[:8].tolist()}"


def first_finite(x: np.ndarray) -> int:
    """Index of the first non-NaN value (len(x) when none)."""
    idx = np.flatnonzero(~np.isnan(x))
    return int(idx[0]) if idx.size else len(x)
