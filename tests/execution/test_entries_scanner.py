"""The entry scanner and the whole entry pipeline on real market data (embedded dataset; ../shared/data)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from conftest import shared_file
from eclipse.clock import SimClock
from eclipse.config.settings import load_strategy_settings
from eclipse.contracts import EntryIntent, IntentKind, PositionSnapshot, Side
from eclipse.execution.entries.gate import EntryGate, StaticGuardProvider
from eclipse.execution.entries.pipeline import EntryPipeline
from eclipse.execution.entries.scanner import EntryScanner, PositionView, ScanResult
from eclipse.execution.entries.settings import load_entry_settings
from eclipse.execution.entries.sizing import Sizer
from eclipse.market.bars import OhlcvFrame, embedded_dataset, load_ohlcv_csv
from eclipse.strategy.engine import SignalEngine
from eclipse.telemetry import MemorySink, Telemetry

from .test_entries_kit import market

SYMBOL = "BTCUSDT"


@pytest.fixture(scope="module")
def frame() -> OhlcvFrame:
    return embedded_dataset()


@dataclass
class Book:
    """A PositionView over sets of symbols."""

    open: set[str] = field(default_factory=set)
    live: set[str] = field(default_factory=set)

    def has_position(self, symbol: str) -> bool:
        return symbol in self.open

    def has_live_entry(self, symbol: str) -> bool:
        return symbol in self.live


def scan(frame: OhlcvFrame, book: Book | None = None) -> tuple[list[ScanResult], MemorySink]:
    clock = SimClock()
    sink = MemorySink()
    scanner = EntryScanner(
        SignalEngine(load_strategy_settings({}), clock), book or Book(), Telemetry(sink, clock)
    )
    out = []
    for bar in frame.bars():
        clock.set_ms(bar.close_ms())
        out.append(scanner.on_bar(SYMBOL, bar))
    return out, sink


def test_scanner_turns_signals_into_deterministic_intents(frame: OhlcvFrame) -> None:
    results, sink = scan(frame)
    intents = [r.intent for r in results if r.intent is not None]
    assert len(intents) > 100
    assert all((r.intent is not None) == (r.decision.direction != 0) for r in results)
    for r in results:
        if r.intent is None:
            continue
        i = r.intent
        side = Side.BUY if r.decision.direction > 0 else Side.SELL
        assert i.intent_id == EntryIntent.make_id(SYMBOL, side, r.decision.ts_ms + 60_000)
        assert i.side is side
        assert i.bar_close_ms == r.decision.ts_ms + 60_000
        assert i.confidence == r.decision.confidence
        assert i.ref_price == Decimal(repr(r.decision.signal.close))
    assert len({i.intent_id for i in intents}) == len(intents)
    again, _ = scan(frame)
    assert [r.intent for r in again] == [r.intent for r in results]
    near = sink.named("entry.near_miss")
    assert len(near) == sum(r.decision.near_miss for r in results) > 0
    assert {e["blocked_by"] for e in near} <= {"below_min_confidence", "trend_gate", "vol_regime_low"}
    assert sink.named("entry.blocked") == []


@pytest.mark.parametrize(
    ("book", "reason"), [(Book(open={SYMBOL}), "position_open"), (Book(live={SYMBOL}), "entry_pending")]
)
def test_one_position_per_symbol(frame: OhlcvFrame, book: Book, reason: str) -> None:
    assert isinstance(book, PositionView)
    free, _ = scan(frame.head(16_000))
    busy, sink = scan(frame.head(16_000), book)
    assert all(r.intent is None for r in busy)
    wanted = [r for r in free if r.intent is not None]
    assert [r.skipped for r in busy if r.skipped] == [reason] * len(wanted)
    blocked = sink.named("entry.blocked")
    assert [e["intent_id"] for e in blocked] == [r.intent.intent_id for r in wanted if r.intent]
    assert {e["reason"] for e in blocked} == {reason}


def run_pipeline(
    frame: OhlcvFrame, env: dict[str, str], hold_bars: int = 30
) -> tuple[Counter[str], MemorySink]:
    """Whole entry path over ``frame``: a ready plan opens a position held for ``hold_bars`` bars."""
    clock = SimClock()
    sink = MemorySink()
    tel = Telemetry(sink, clock)
    book = Book()
    settings = load_entry_settings(env)
    pipeline = EntryPipeline(
        EntryScanner(SignalEngine(load_strategy_settings({}), clock), book, tel),
        EntryGate(settings.gate, StaticGuardProvider(), tel, clock),
        Sizer(settings.sizing, tel),
        settings.leverage,
    )
    mkt = market(SYMBOL, step="0.001", min_qty="0.001", min_notional="5")
    positions: list[PositionSnapshot] = []
    opened_at = 0
    stages: Counter[str] = Counter()
    for n, bar in enumerate(frame.bars()):
        clock.set_ms(bar.close_ms())
        if positions and n - opened_at >= hold_bars:
            positions, book.open = [], set()
        step = pipeline.on_bar(SYMBOL, bar, mkt, positions, Decimal(1000))
        stages[step.stage] += 1
        if step.plan is None:
            continue
        plan = step.plan
        req = plan.request
        assert req.kind is IntentKind.ENTRY
        assert not req.reduce_only
        assert req.qty is not None
        assert req.client_order_id == plan.intent.intent_id + "-0"
        assert req.notional >= mkt.min_notional
        assert plan.leverage.leverage == 1
        assert not positions, "one position per symbol"
        sign = 1 if req.side is Side.BUY else -1
        positions = [
            PositionSnapshot(
                SYMBOL, sign * req.qty, req.ref_price, Decimal(0), Decimal(0), clock.now_ms(), clock.now_ms()
            )
        ]
        book.open = {SYMBOL}
        opened_at = n
    return stages, sink


def test_pipeline_on_the_embedded_dataset(frame: OhlcvFrame) -> None:
    stages, sink = run_pipeline(frame, {"FIXED_NOTIONAL_USDT": "100", "ENTRY_CONF_SCALE_ENABLED": "1"})
    assert stages["ready"] > 50
    scaled = sink.named("entry.notional_scaled")
    assert 0 < len(scaled) < stages["ready"]  # only confidences below ENTRY_CONF_SCALE_MAX_CONF shrink
    assert {e["reason"] for e in scaled} == {"confidence"}
    assert {e["reason"] for e in sink.named("entry.blocked")} == {"position_open"}
    stages, sink = run_pipeline(frame.head(20_000), {"FIXED_NOTIONAL_USDT": "30"})  # < 0.001 BTC
    assert stages["ready"] == 0
    assert stages["sizing"] > 0
    assert {e["reason"] for e in sink.named("entry.blocked")} == {"size_below_min_qty"}


@pytest.mark.slow
def test_pipeline_on_the_shared_btc_file() -> None:
    frame = load_ohlcv_csv(shared_file("btc-perp_1m_2022-01.csv"))
    stages, sink = run_pipeline(frame, {"FIXED_NOTIONAL_USDT": "100"}, hold_bars=10)
    assert stages["ready"] > 50
    assert stages["ready"] + stages["scan"] == len(frame)
    assert all(e["reason"] == "position_open" for e in sink.named("entry.blocked"))
