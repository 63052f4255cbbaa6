"""Fixtures of the strategy tests: the embedded dataset and one default replay over it."""

from __future__ import annotations

import pytest

from eclipse.market.bars import OhlcvFrame, embedded_dataset
from eclipse.strategy.decision import Decision

from .helpers import run, settings


@pytest.fixture(scope="session")
def embedded() -> OhlcvFrame:
    """BTC perpetual 1m bars, 2021-12-31 23:01 .. 2022-02-01 05:31 UTC (45,031 bars, packaged)."""
    return embedded_dataset()


@pytest.fixture(scope="session")
def default_run(embedded: OhlcvFrame) -> list[Decision]:
    """Decisions of the micro profile with every default, over the whole embedded dataset (replayed once)."""
    return run(embedded, settings())
