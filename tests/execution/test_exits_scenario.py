"""Whole trades on real BTC 1m bars: bars through the FeatureState, an entry fill, protection placed, an exit
rule firing at the bar an independent numpy computation predicts, the exit fill, protection cleaned up."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from eclipse import _core
from eclipse.clock import SimClock
from eclipse.contracts import RouterRequest
from eclipse.execution.exits import ExitEngine, ProtectionManager, ProtectionPlan, load_exit_settings
from eclipse.execution.positions import PositionBook
from eclipse.market.bars import OhlcvFrame, embedded_dataset
from eclipse.telemetry import MemorySink, Telemetry
from eclipse.venues.types import Fill, Side

SYM = "BTC/USDT:USDT"
ENTRY_BAR = 1_500
MINUTE = 60_000


@pytest.fixture(scope="module")
def frame() -> OhlcvFrame:
    return embedded_dataset()


class Trade:
    """Feeds bars to a FeatureState and the exit engine; opens a long at ENTRY_BAR's close."""

    def __init__(self, frame: OhlcvFrame, env: dict[str, str], side: Side = Side.BUY) -> None:
        self.f = frame
        self.side = side
        self.clock = SimClock(int(frame.ts_ms[0]))
        self.sink = MemorySink()
        tel = Telemetry(self.sink, self.clock)
        settings = load_exit_settings(env)
        self.book = PositionBook(self.clock)
        self.exits = ExitEngine(settings, self.book, self.clock, tel)
        self.protection = ProtectionManager(settings, self.clock, tel)
        self.state = _core.FeatureState()
        self.entry_plan: ProtectionPlan | None = None

    def bar(self, i: int) -> None:
        f = self.f
        self.clock.set_ms(int(f.ts_ms[i]) + MINUTE)
        self.state.update(int(f.ts_ms[i]), f.open[i], f.high[i], f.low[i], f.close[i], f.volume[i])

    def run(self, stop: int) -> tuple[int, RouterRequest] | None:
        """Bars 0..stop; returns (bar index, exit request) of the first exit after the entry."""
        for i in range(stop):
            self.bar(i)
            if i == ENTRY_BAR:
                atr = self.state.features("1m")["atr_pct"]
                price = Decimal(repr(float(self.f.close[i])))
                fill = Fill(
                    "e1",
                    "oe",
                    SYM,
                    self.side,
                    price,
                    Decimal("0.01"),
                    Decimal(0),
                    "USDT",
                    self.clock.now_ms(),
                )
                self.book.apply(fill)
                self.exits.note_entry_atr(SYM, atr)
                self.entry_plan = self.protection.on_fill(fill, self.book.snapshot(SYM), "E-BTCUSDT-b-1", atr)
                self.exits.observe(SYM, self.state)
                continue
            req = self.exits.on_bar(SYM, self.state)
            if req is not None:
                return i, req
        return None


def _first(mask: np.ndarray, start: int) -> int:
    hits = np.flatnonzero(mask[start:])
    assert hits.size, "the scenario expects the rule to fire in the data"
    return start + int(hits[0])


def test_momentum_fade_exit_fires_where_numpy_says(frame: OhlcvFrame) -> None:
    trade = Trade(frame, {"EXIT_MOM_ENABLED": "1"})
    close = np.ascontiguousarray(frame.close[:4_000])
    m5, m15 = _core.momentum(close, 5), _core.momentum(close, 15)
    expected = _first((m5 <= -0.0015) & (m15 <= -0.0015), ENTRY_BAR + 1)
    got = trade.run(4_000)
    assert got is not None
    i, req = got
    assert i == expected
    ev = trade.sink.named("exit.mom_fade")
    assert len(ev) == 1
    assert "momentum against buy" in str(ev[0]["reason"])
    # protection was placed at the entry and is canceled once the exit fills
    assert trade.entry_plan is not None
    assert [r.kind.value for r in trade.entry_plan.place] == ["stop_loss", "take_profit"]
    assert req.qty is not None
    exit_fill = Fill(
        "x1",
        "ox",
        SYM,
        req.side,
        req.ref_price,
        req.qty,
        Decimal(0),
        "USDT",
        trade.clock.now_ms(),
        client_order_id=req.client_order_id,
    )
    trade.book.apply(exit_fill)
    plan = trade.protection.on_fill(exit_fill, trade.book.snapshot(SYM))
    assert sorted(c.client_order_id for c in plan.cancel) == ["E-BTCUSDT-b-1-sl-1", "E-BTCUSDT-b-1-tp-1"]
    snap = trade.book.snapshot(SYM)
    expected_pnl = (Decimal(repr(float(close[i]))) - Decimal(repr(float(close[ENTRY_BAR])))) * Decimal("0.01")
    assert snap.qty == 0
    assert snap.realized_pnl == expected_pnl


def test_vwap_cross_exit_on_the_5m_bar_that_crosses(frame: OhlcvFrame) -> None:
    n = 4_000
    trade = Trade(frame, {"EXIT_VWAP_ENABLED": "1"})
    cols = [
        np.ascontiguousarray(a[:n]) for a in (frame.open, frame.high, frame.low, frame.close, frame.volume)
    ]
    o, h, lo, c, v = cols
    ts5, _o, h5, l5, c5, v5, _cnt = _core.resample(np.ascontiguousarray(frame.ts_ms[:n]), o, h, lo, c, v, 5)
    dist = c5 / _core.vwap(h5, l5, c5, v5, 240) - 1.0
    cross = np.zeros_like(dist, dtype=bool)
    cross[1:] = (dist[1:] < 0) & (dist[:-1] >= 0)
    entry_ts = int(frame.ts_ms[ENTRY_BAR])
    k = _first(cross & (ts5 + 4 * MINUTE > entry_ts), 0)  # first cross of a 5m bar closing after the entry
    expected_bar = int(np.searchsorted(frame.ts_ms, ts5[k] + 4 * MINUTE))
    got = trade.run(n)
    assert got is not None
    assert got[0] == expected_bar
    assert "below 5m VWAP" in str(trade.sink.named("exit.vwap_cross")[0]["reason"])


def test_atr_scaled_max_hold_on_real_atr(frame: OhlcvFrame) -> None:
    trade = Trade(frame, {"EXIT_MAX_HOLD_SEC": "1800", "EXIT_ATR_SCALE_ENABLED": "1"}, Side.SELL)
    got = trade.run(ENTRY_BAR + 200)
    assert got is not None
    i, req = got
    scaled = trade.sink.named("exit.atr_scaled")
    assert len(scaled) == 1
    mult = scaled[0]["multiplier"]
    assert isinstance(mult, float)
    assert 0.6 <= mult <= 1.6
    held_bars = i - ENTRY_BAR
    assert held_bars == int(np.ceil(1800 * mult / 60 - 1e-9))
    assert req.side is Side.BUY
    assert req.reduce_only
    assert trade.sink.named("exit.max_hold")[0]["held_sec"] == held_bars * 60.0
