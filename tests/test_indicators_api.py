"""The public batch API in ``eclipse.indicators`` is the core's, documented; errors name arguments."""

from __future__ import annotations

import numpy as np
import pytest

from eclipse import _core, indicators


def test_every_public_name_is_the_core_object_with_a_docstring() -> None:
    for name in indicators.__all__:
        obj = getattr(indicators, name)
        assert obj is getattr(_core, name)
        if callable(obj):
            assert obj.__doc__, f"{name} has no docstring"


def test_readme_example_runs() -> None:
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0, 1, 500))
    high, low = close + 1.0, close - 1.0
    volume = rng.random(500) * 10
    mid, upper, lower, width = indicators.bollinger(close, 20, 2.0)
    np.testing.assert_allclose(width[19:], ((upper - lower) / mid)[19:], rtol=1e-15)
    assert np.isnan(indicators.atr(high, low, close, 14)[:14]).all()
    assert not np.isnan(indicators.vwap(high, low, close, volume, 240)[239:]).any()


def test_errors_name_the_argument() -> None:
    x = np.arange(10, dtype=np.float64)
    x[3] = np.nan
    with pytest.raises(ValueError, match=r"close .*index 3"):
        indicators.rsi(x, 2)
    with pytest.raises(TypeError, match="close must be"):
        indicators.rsi(np.arange(10), 2)  # int64
    with pytest.raises(ValueError, match="period must be >= 1"):
        indicators.sma(np.ones(3), 0)
