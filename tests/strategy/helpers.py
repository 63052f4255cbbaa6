"""Helpers shared by the strategy tests."""

from __future__ import annotations

from collections.abc import Mapping

from eclipse.clock import SimClock
from eclipse.config.settings import StrategySettings, load_strategy_settings
from eclipse.market.bars import OhlcvFrame
from eclipse.strategy.decision import Decision
from eclipse.strategy.engine import SignalEngine

SYMBOL = "BTC-PERP"


def settings(env: Mapping[str, str] | None = None, profile: str | None = None) -> StrategySettings:
    """Settings from a small env mapping (never os.environ)."""
    return load_strategy_settings(env or {}, profile)


def run(
    frame: OhlcvFrame,
    cfg: StrategySettings,
    *,
    engine: SignalEngine | None = None,
    clock: SimClock | None = None,
    symbol: str = SYMBOL,
    lag_ms: int = 0,
) -> list[Decision]:
    """Feed every bar of ``frame``, the clock set to each bar's close (+ ``lag_ms``)."""
    clock = clock or SimClock()
    engine = engine or SignalEngine(cfg, clock)
    out = []
    for bar in frame.bars():
        clock.set_ms(bar.close_ms() + lag_ms)
        out.append(engine.on_bar(symbol, bar))
    return out


def fingerprint(d: Decision) -> tuple[object, ...]:
    """What must be identical for two decisions to be the same (NaN-safe)."""
    s = d.signal
    return (
        d.symbol, d.ts_ms, d.direction, d.side, d.candidate, d.blocked_by, d.forced, repr(d.confidence),
        repr(s.raw_confidence), s.regime, repr(s.vol_ratio), repr(s.mom_fast), repr(s.mom_slow), s.explain(),
    )  # fmt: skip
