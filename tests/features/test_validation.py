"""FeatureState.update validates each bar: a bad bar raises ValueError naming the field and leaves the state
exactly as it was; ``gaps`` counts missing minutes."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

from eclipse import _core as core

from .support import HOUR0, MINUTE, SMALL_CONFIG, bar_args, random_bars


def snapshot(state: Any) -> tuple:
    feats = {
        tf: {k: ("nan" if math.isnan(v) else v) for k, v in state.features(tf).items()}
        for tf in core.TIMEFRAMES
    }
    return (
        state.to_bytes(),
        feats,
        {tf: state.bars(tf) for tf in core.TIMEFRAMES},
        state.last_ts_ms,
        state.gaps,
    )


@pytest.fixture
def warm() -> tuple[Any, list[tuple]]:
    """A state fed 300 bars (every timeframe has closed bars), and the 20 bars that follow."""
    d = random_bars(320, seed=5, start_ts=HOUR0)
    bars = bar_args(d)
    state = core.FeatureState(core.FeatureConfig(**SMALL_CONFIG))
    for b in bars[:300]:
        state.update(*b)
    return state, bars[300:]


def named(*names: str) -> str:
    return "|".join(rf"(?<![A-Za-z_]){re.escape(n)}(?![A-Za-z_])" for n in names)


def with_(bar: tuple, **changes: Any) -> tuple:
    ts, o, h, lo, c, v = bar
    vals = {"ts_ms": ts, "open": o, "high": h, "low": lo, "close": c, "volume": v, **changes}
    return tuple(vals[k] for k in ("ts_ms", "open", "high", "low", "close", "volume"))


NON_FINITE = [
    (field, bad)
    for field in ("open", "high", "low", "close", "volume")
    for bad in (math.nan, math.inf, -math.inf)
]


def bad_bars(bar: tuple, last_ts: int) -> list[tuple[str, tuple, str]]:
    ts, o, h, lo, c, _v = bar
    cases = [(f"{f}={b}", with_(bar, **{f: b}), named(f)) for f, b in NON_FINITE]
    cases += [
        ("high<low", with_(bar, high=lo * 0.99, open=lo * 0.99, close=lo * 0.99), named("high", "low")),
        ("high<close", with_(bar, high=c * 0.999, close=c, open=min(o, c * 0.999)), named("high", "close")),
        ("high<open", with_(bar, high=o * 0.999, open=o, close=min(c, o * 0.999)), named("high", "open")),
        (
            "low>open",
            with_(bar, low=o * 1.001, open=o, close=max(c, o * 1.001), high=max(h, o * 1.01)),
            named("low", "open"),
        ),
        (
            "low>close",
            with_(bar, low=c * 1.001, close=c, open=max(o, c * 1.001), high=max(h, c * 1.01)),
            named("low", "close"),
        ),
        ("volume<0", with_(bar, volume=-1.0), named("volume")),
        ("volume=-tiny", with_(bar, volume=-1e-300), named("volume")),
        ("ts not a minute", with_(bar, ts_ms=ts + 1), named("ts_ms")),
        ("ts mid-minute", with_(bar, ts_ms=ts + 30_000), named("ts_ms")),
        ("ts == last", with_(bar, ts_ms=last_ts), named("ts_ms")),
        ("ts before last", with_(bar, ts_ms=last_ts - MINUTE), named("ts_ms")),
        ("ts far before", with_(bar, ts_ms=0), named("ts_ms")),
    ]
    return cases


def test_bad_bar_is_value_error_naming_field_and_state_unchanged(warm: tuple[Any, list[tuple]]) -> None:
    state, nxt = warm
    before = snapshot(state)
    for label, bar, pattern in bad_bars(nxt[0], state.last_ts_ms):
        with pytest.raises(ValueError, match=pattern):
            state.update(*bar)
        assert snapshot(state) == before, f"state changed by the rejected bar {label}: {bar}"


def test_state_continues_identically_after_rejected_bars(warm: tuple[Any, list[tuple]]) -> None:
    state, nxt = warm
    twin = core.FeatureState.from_bytes(state.to_bytes())
    for i, b in enumerate(nxt):
        for _label, bar, _ in bad_bars(b, state.last_ts_ms):
            with pytest.raises(ValueError, match=r"\w"):
                state.update(*bar)
        assert state.update(*b) == twin.update(*b)
        assert snapshot(state) == snapshot(twin), f"after bar {i}"


def test_first_bar_validated_too() -> None:
    bar = bar_args(random_bars(1, seed=1))[0]
    state = core.FeatureState()
    empty = snapshot(state)
    for label, bad, pattern in bad_bars(bar, bar[0] - MINUTE):
        if label.startswith("ts") and "minute" not in label:
            continue  # no previous bar: any minute-aligned ts is acceptable
        with pytest.raises(ValueError, match=pattern):
            state.update(*bad)
        assert snapshot(state) == empty, label
    assert state.update(*bar) == ("1m",)
    assert state.last_ts_ms == bar[0]


def test_zero_volume_and_flat_bars_accepted() -> None:
    state = core.FeatureState()
    assert state.update(HOUR0, 1.0, 1.0, 1.0, 1.0, 0.0)[0] == "1m"
    assert state.update(HOUR0 + MINUTE, 2.0, 2.0, 2.0, 2.0, 0.0)[0] == "1m"


def test_scorer_step_validates_and_leaves_state_unchanged(warm: tuple[Any, list[tuple]]) -> None:
    state, nxt = warm
    scorer = core.Scorer()
    before = snapshot(state)
    for label, bar, pattern in bad_bars(nxt[0], state.last_ts_ms):
        with pytest.raises(ValueError, match=pattern):
            scorer.step(state, *bar)
        assert snapshot(state) == before, label


@pytest.mark.parametrize(
    ("steps", "gaps"),
    [([1, 1, 1], 0), ([1, 2, 1], 1), ([5, 1, 61], 64), ([1441], 1440), ([2, 2, 2, 2], 4)],
)
def test_gaps_counts_missing_minutes(steps: list[int], gaps: int) -> None:
    state = core.FeatureState()
    ts = HOUR0
    state.update(ts, 1.0, 1.0, 1.0, 1.0, 1.0)
    for s in steps:
        ts += s * MINUTE
        state.update(ts, 1.0, 1.0, 1.0, 1.0, 1.0)
    assert state.gaps == gaps
    assert state.bars("1m") == len(steps) + 1


def test_gaps_altbtc(altbtc_1m: dict[str, np.ndarray]) -> None:
    ts = altbtc_1m["ts_ms"]
    missing = int((np.diff(ts) // MINUTE - 1).sum())
    # Counted from the file: 717 missing minutes in 538 gaps (the data README's "540 missing minutes" is
    # about the number of gaps, not of minutes).
    assert missing == 717
    assert int((np.diff(ts) > MINUTE).sum()) == 538
    state = core.FeatureState()
    for b in bar_args(altbtc_1m):
        state.update(*b)
    assert state.gaps == missing
