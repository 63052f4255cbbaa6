"""Entry leverage: base, per-symbol, per-group caps, dynamic group scaling (count and exposure), guard scale,
clamps and margin mode."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eclipse.contracts import PositionSnapshot
from eclipse.execution.entries.leverage import LeverageSettings, resolve_leverage
from eclipse.execution.entries.settings import load_entry_settings
from eclipse.venues.types import MarginMode

from .test_entries_kit import pos

EQUITY = Decimal(1000)
GROUPS = "MEME:DOGEUSDT,SHIBUSDT,PEPEUSDT;MAJOR:BTCUSDT,ETHUSDT"


def lev(
    env: dict[str, str],
    symbol: str = "BTCUSDT",
    positions: list[PositionSnapshot] | None = None,
    equity: Decimal = EQUITY,
    guard: float = 1.0,
) -> int:
    s = load_entry_settings(env).leverage
    return resolve_leverage(symbol, s, positions or [], equity, guard).leverage


def test_defaults_are_one_x_isolated() -> None:
    d = resolve_leverage("BTCUSDT", load_entry_settings({}).leverage, [], EQUITY)
    assert (d.leverage, d.margin_mode) == (1, MarginMode.ISOLATED)
    assert d.text.startswith("LEVERAGE=1")
    cross = load_entry_settings({"MARGIN_MODE": "cross"}).leverage
    assert resolve_leverage("BTCUSDT", cross, [], EQUITY).margin_mode is MarginMode.CROSS


def test_symbol_overrides_in_order() -> None:
    assert lev({"LEVERAGE": "20"}) == 20
    assert lev({"LEVERAGE": "20", "LEVERAGE_BTCUSDT": "10"}) == 10
    assert lev({"LEVERAGE": "20", "LEVERAGE_BTC": "7"}) == 7
    assert lev({"LEVERAGE": "20", "LEVERAGE_BTC": "7", "LEVERAGE_BTCUSDT": "9"}) == 9
    assert (
        lev({"LEVERAGE": "20", "LEVERAGE_BTCUSDT": "10", "LEVERAGE_BY_SYMBOL": "BTCUSDT=12,ETHUSDT=5"}) == 12
    )
    assert lev({"LEVERAGE": "20", "LEVERAGE_BY_SYMBOL": "BTCUSDT=12,ETHUSDT=5"}, "ETH/USDT:USDT") == 5
    assert lev({"LEVERAGE": "20", "LEVERAGE_BTCUSDT": "10"}, "ETHUSDT") == 20


def test_group_caps_lowest_wins_and_never_raise() -> None:
    env = {"LEVERAGE": "20", "CORR_GROUPS": GROUPS + ";ALL:BTCUSDT,DOGEUSDT", "LEVERAGE_GROUP_DYNAMIC": "0"}
    assert lev({**env, "LEVERAGE_BY_GROUP": "MAJOR=10,ALL=8"}) == 8
    assert lev({**env, "LEVERAGE_BY_GROUP": "MAJOR=10"}) == 10
    assert lev({**env, "LEVERAGE_BY_GROUP": "MAJOR=50"}) == 20
    assert lev({**env, "LEVERAGE_BY_GROUP": "MEME=3"}, "ETHUSDT") == 20


def test_dynamic_scaling_by_open_symbols_in_the_group() -> None:
    env = {"LEVERAGE": "20", "CORR_GROUPS": GROUPS}
    meme = [pos("SHIBUSDT", "1"), pos("PEPEUSDT", "1")]
    assert lev(env, "DOGEUSDT") == 20
    assert lev(env, "DOGEUSDT", meme[:1]) == 14  # 20 x 0.7
    assert lev(env, "DOGEUSDT", meme) == 9  # 20 x 0.49 = 9.8, rounded down
    assert lev({**env, "LEVERAGE_GROUP_SCALE": "0.5"}, "DOGEUSDT", meme) == 5
    assert lev({**env, "LEVERAGE_GROUP_DYNAMIC": "0"}, "DOGEUSDT", meme) == 20
    assert lev(env, "XRPUSDT", meme) == 20  # in no group
    own = [*meme, pos("DOGEUSDT", "1")]
    assert lev(env, "DOGEUSDT", own) == 9  # excluded
    assert lev({**env, "LEVERAGE_GROUP_EXCLUDE_SELF": "0"}, "DOGEUSDT", own) == 6  # 20 x 0.343


def test_dynamic_floor_is_scale_min_but_never_above_the_unscaled_leverage() -> None:
    env = {"LEVERAGE": "20", "CORR_GROUPS": GROUPS, "LEVERAGE_GROUP_SCALE": "0.1"}
    many = [pos("SHIBUSDT", "1"), pos("PEPEUSDT", "1")]
    assert lev(env, "DOGEUSDT", many) == 1
    assert lev({**env, "LEVERAGE_GROUP_SCALE_MIN": "4"}, "DOGEUSDT", many) == 4
    assert lev({**env, "LEVERAGE": "3", "LEVERAGE_GROUP_SCALE_MIN": "4"}, "DOGEUSDT", many) == 3


def test_dynamic_scaling_by_exposure() -> None:
    env = {
        "LEVERAGE": "20",
        "CORR_GROUPS": GROUPS,
        "LEVERAGE_GROUP_EXPOSURE": "1",
        "LEVERAGE_GROUP_SCALE": "0.5",
    }
    held = [pos("ETHUSDT", "1", "100")]  # 100 of 1000 equity = 10% = one step
    assert lev(env, "BTCUSDT", held) == 10
    assert lev(env, "BTCUSDT", [pos("ETHUSDT", "2", "100")]) == 5
    assert (
        lev({**env, "LEVERAGE_GROUP_EXPOSURE_REF_PCT": "0.2"}, "BTCUSDT", [pos("ETHUSDT", "2", "100")]) == 10
    )
    assert lev(env, "BTCUSDT", [pos("ETHUSDT", "0.5", "100")]) == 14  # half a step: 20 x 0.707
    d = resolve_leverage("BTCUSDT", load_entry_settings(env).leverage, held, Decimal(0))
    assert d.leverage == 10
    assert "no positive equity" in d.text


def test_guard_scale_and_clamps() -> None:
    assert lev({"LEVERAGE": "20"}, guard=0.5) == 10
    assert lev({"LEVERAGE": "20"}, guard=2.0) == 20  # a guard never raises leverage
    assert lev({"LEVERAGE": "20", "LEVERAGE_MAX": "15"}) == 15
    assert lev({"LEVERAGE": "2", "LEVERAGE_MIN": "3"}) == 3
    assert lev({"LEVERAGE": "20", "LEVERAGE_MIN": "5"}, guard=0.0) == 5


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="LEVERAGE_MIN"):
        LeverageSettings(min=10, max=5)
    with pytest.raises(ValueError, match="EXPOSURE_REF_PCT"):
        LeverageSettings(exposure_ref_pct=0.0)


@given(
    base=st.integers(1, 125),
    lo=st.integers(1, 125),
    hi=st.integers(1, 125),
    scale=st.floats(0, 1),
    scale_min=st.floats(1, 200),
    held=st.lists(st.sampled_from(["SHIBUSDT", "PEPEUSDT", "BTCUSDT", "DOGEUSDT"]), max_size=4, unique=True),
    qty=st.integers(0, 10**6),
    equity=st.integers(0, 10**7),
    exposure=st.booleans(),
    guard=st.floats(-1, 3),
)
def test_leverage_always_within_min_and_max(
    base: int,
    lo: int,
    hi: int,
    scale: float,
    scale_min: float,
    held: list[str],
    qty: int,
    equity: int,
    exposure: bool,
    guard: float,
) -> None:
    lo, hi = min(lo, hi), max(lo, hi)
    env = {
        "LEVERAGE": str(base),
        "LEVERAGE_MIN": str(lo),
        "LEVERAGE_MAX": str(hi),
        "CORR_GROUPS": GROUPS,
        "LEVERAGE_BY_GROUP": "MEME=3",
        "LEVERAGE_GROUP_SCALE": repr(scale),
        "LEVERAGE_GROUP_SCALE_MIN": repr(scale_min),
        "LEVERAGE_GROUP_EXPOSURE": "1" if exposure else "0",
    }
    positions = [pos(s, str(qty)) for s in held]
    value = lev(env, "DOGEUSDT", positions, Decimal(equity), guard)
    assert lo <= value <= hi
    assert value <= max(lo, min(base, 3))  # never above the configured leverage and group cap
