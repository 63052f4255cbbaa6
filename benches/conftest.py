"""Fixtures of the benchmarks (helpers and sizes are in ``benchutil.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from benchutil import BATCH_N, random_ohlcv


@pytest.fixture(scope="session")
def series() -> dict[str, np.ndarray]:
    return random_ohlcv(BATCH_N)
