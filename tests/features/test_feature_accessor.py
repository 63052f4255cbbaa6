"""``FeatureState.feature(timeframe, name)``: one value without building the dict, equal to ``features()``."""

from __future__ import annotations

import math

import pytest

from eclipse import _core
from eclipse.market.bars import embedded_dataset


def test_feature_equals_the_dict_entry_on_every_timeframe_and_name() -> None:
    state = _core.FeatureState()
    for bar in embedded_dataset().head(5000).bars():
        state.update(bar.ts_ms, bar.open, bar.high, bar.low, bar.close, bar.volume)
    for tf in ("1m", "5m", "15m", "1h"):
        for name, value in state.features(tf).items():
            got = state.feature(tf, name)
            assert got == value or (math.isnan(got) and math.isnan(value)), (tf, name)


def test_unknown_names_and_timeframes_are_refused_by_name() -> None:
    state = _core.FeatureState()
    with pytest.raises(ValueError, match="atr_pct"):
        state.feature("1m", "atr_percent")
    with pytest.raises(ValueError, match="timeframe"):
        state.feature("2m", "atr_pct")
