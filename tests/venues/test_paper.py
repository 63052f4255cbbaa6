"""The paper venue: local fills by the simulator's engine on market data read from a source venue.

A fake source serves the embedded BTC month bar by bar under a SimClock (so every fill is deterministic);
the last test runs the paper venue on a real ccxt client pointed at the simulator and proves from the
simulator's request journal that dry-run never sent a signed or state-changing request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from eclipse.clock import LiveClock, SimClock
from eclipse.market.bars import OhlcvFrame, embedded_dataset
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.paper import PaperVenue
from eclipse.venues.sim.engine import ALGO_ID_START, AlgoIdLayout, EngineConfig
from eclipse.venues.types import (
    Candle,
    IdSpace,
    MarginMode,
    Market,
    MarketKind,
    OrderReport,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    Ticker,
)

T = TypeVar("T")
SYM = "BTC/USDT:USDT"
BAR = 60_000
START = 100  # bars of history before "now"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def frame() -> OhlcvFrame:
    return embedded_dataset().head(3000)


class FakeSource:
    """Public market data only: bars of ``frame`` up to the clock (the current one still forming)."""

    name = "fake"

    def __init__(
        self, frame: OhlcvFrame, clock: SimClock, extra: int = 0, kind: MarketKind = MarketKind.LINEAR
    ) -> None:
        self.kind = kind
        self.frame = frame
        self.clock = clock
        self.extra = extra  # more listed markets (same prices), to see which ones get refreshed
        self.calls: list[str] = []
        self.ohlcv_calls: list[tuple[str, int | None, int]] = []

    async def load_markets(self, reload: bool = False) -> Mapping[str, Market]:
        self.calls.append("load_markets")
        out = {}
        for k in range(self.extra + 1):
            base = "BTC" if k == 0 else f"ALT{k}"
            unified = f"{base}/USDT:USDT" if self.kind is MarketKind.LINEAR else f"{base}/USDT"
            out[unified] = Market(
                symbol=unified,
                venue_symbol=f"{base}USDT",
                base=base,
                quote="USDT",
                kind=self.kind,
                tick_size=Decimal("0.1"),
                step_size=Decimal("0.001"),
                min_qty=Decimal("0.001"),
                max_qty=Decimal(1000),
                min_notional=Decimal(100),
                settle="USDT",
            )
        return out

    def _index(self) -> int:
        return int((self.clock.now_ms() - int(self.frame.ts_ms[0])) // BAR)

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since_ms: int | None = None, limit: int = 500
    ) -> list[Candle]:
        self.calls.append("fetch_ohlcv")
        self.ohlcv_calls.append((symbol, since_ms, limit))
        last = min(self._index(), len(self.frame) - 1)
        if since_ms is None:  # the latest ``limit`` bars
            first = max(0, last - limit + 1)
        else:  # ``limit`` bars from ``since_ms`` on (Binance's startTime)
            first = max(0, (since_ms - int(self.frame.ts_ms[0]) + BAR - 1) // BAR)
            last = min(last, first + limit - 1)
        out = []
        for i in range(first, last + 1):
            b = self.frame.bar(i)
            out.append(Candle(b.ts_ms, b.open, b.high, b.low, b.close, b.volume))
        return out

    async def fetch_ticker(self, symbol: str) -> Ticker:
        self.calls.append("fetch_ticker")
        b = self.frame.bar(self._index())
        return Ticker(symbol, self.clock.now_ms(), Decimal(str(b.close)))

    async def fetch_time_ms(self) -> int:
        return self.clock.now_ms()

    async def close(self) -> None:
        self.calls.append("close")


def make(
    frame: OhlcvFrame,
    store: Path | None = None,
    clock: SimClock | None = None,
    extra: int = 0,
    config: EngineConfig | None = None,
) -> PaperVenue:
    clock = clock or SimClock(int(frame.ts_ms[START]) + 59_000)
    return PaperVenue(FakeSource(frame, clock, extra), clock, config=config, store_path=store, refresh_ms=0)


def order(cid: str, side: Side, qty: str, type_: OrderType = OrderType.MARKET, **kw: Any) -> OrderRequest:
    return OrderRequest(SYM, side, type_, Decimal(qty) if qty else None, cid, **kw)


def test_market_order_fills_near_the_current_price_and_opens_a_position(frame: OhlcvFrame) -> None:
    async def go() -> None:
        venue = make(frame)
        rep = await venue.create_order(order("e-1", Side.BUY, "0.01"))
        close = Decimal(str(frame.close[START]))
        assert rep.status is OrderStatus.FILLED
        assert rep.filled == Decimal("0.01")
        assert rep.avg_price is not None
        assert abs(rep.avg_price / close - 1) < Decimal("0.001")
        (pos,) = await venue.fetch_positions()
        assert (pos.side, pos.qty, pos.entry_price) == (Side.BUY, Decimal("0.01"), rep.avg_price)
        (fill,) = await venue.fetch_fills(SYM)
        assert fill.client_order_id == "e-1"
        assert fill.fee > 0
        assert fill.fee_asset == "USDT"
        usdt = (await venue.fetch_balance())["USDT"]
        assert usdt.total < Decimal(10_000)
        assert usdt.free < usdt.total
        await venue.close()

    run(go())


def _first_rise(frame: OhlcvFrame, pct: float) -> tuple[float, int]:
    ref = float(frame.close[START])
    level = round(ref * (1 + pct), 1)
    for i in range(START + 1, len(frame)):
        if frame.high[i] >= level:
            return level, i
    raise AssertionError("no rise in the data")


async def short_with_stop(venue: PaperVenue, level: float, *, close_position: bool) -> OrderReport:
    """Sell 0.01 at market, then protect it with a buy stop-market at ``level`` (above the price)."""
    await venue.create_order(order("e-1", Side.SELL, "0.01"))
    qty, flags = ("", {"close_position": True}) if close_position else ("0.01", {"reduce_only": True})
    return await venue.create_order(
        order("sl-1", Side.BUY, qty, OrderType.STOP_MARKET, trigger_price=Decimal(str(level)), **flags)
    )


def test_protective_stop_triggers_when_the_market_path_crosses_it(frame: OhlcvFrame) -> None:
    level, hit = _first_rise(frame, 0.004)

    async def go() -> None:
        clock = SimClock(int(frame.ts_ms[START]) + 59_000)
        venue = make(frame, clock=clock)
        stop = await short_with_stop(venue, level, close_position=False)
        assert stop.conditional
        assert stop.status is OrderStatus.OPEN
        assert [o.client_order_id for o in await venue.fetch_open_orders(SYM, conditional=True)] == ["sl-1"]
        clock.set_ms(int(frame.ts_ms[hit - 1]) + 59_000)  # a bar before the drop: still open
        assert (
            await venue.fetch_order(SYM, client_order_id="sl-1", conditional=True)
        ).status is OrderStatus.OPEN
        clock.set_ms(int(frame.ts_ms[hit]) + 59_999)
        done = await venue.fetch_order(SYM, client_order_id="sl-1", conditional=True)
        assert done.status is OrderStatus.TRIGGERED
        assert await venue.fetch_positions() == []
        fills = await venue.fetch_fills(SYM)
        assert len(fills) == 2
        assert fills[1].side is Side.BUY
        assert fills[1].price >= Decimal(str(level))  # at (or through) the trigger, never better

    run(go())


@pytest.mark.parametrize("layout", list(AlgoIdLayout))
def test_a_triggered_stop_names_the_order_its_fill_belongs_to(
    frame: OhlcvFrame, layout: AlgoIdLayout
) -> None:
    level, hit = _first_rise(frame, 0.004)

    async def go() -> None:
        clock = SimClock(int(frame.ts_ms[START]) + 59_000)
        venue = make(frame, clock=clock, config=EngineConfig.futures(algo_ids=layout))
        placed = await short_with_stop(venue, level, close_position=False)
        assert (placed.triggered_order_id, placed.actual_id, placed.venue_id.space) == (
            None,
            None,
            IdSpace.ALGO,
        )
        assert int(placed.order_id) == (ALGO_ID_START if layout is AlgoIdLayout.APART else 1)
        clock.set_ms(int(frame.ts_ms[hit]) + 59_999)
        done = await venue.fetch_order(SYM, client_order_id="sl-1", conditional=True)
        assert (done.status, done.order_id) == (OrderStatus.TRIGGERED, placed.order_id)
        assert done.triggered_order_id is not None
        entry_fill, stop_fill = await venue.fetch_fills(SYM)
        assert stop_fill.order_id == done.triggered_order_id != entry_fill.order_id
        assert stop_fill.venue_id == done.actual_id != done.venue_id
        market = await venue.fetch_order(SYM, order_id=done.triggered_order_id)
        assert (market.type, market.status, market.conditional) == (
            OrderType.MARKET,
            OrderStatus.FILLED,
            False,
        )
        assert market.venue_id == done.actual_id

    run(go())


@pytest.mark.parametrize(
    ("request_", "kind", "local_check"),
    [
        (order("big", Side.BUY, "100"), VenueErrorKind.INSUFFICIENT_FUNDS, False),
        (order("tiny", Side.BUY, "0.0001"), VenueErrorKind.INVALID_ORDER, True),
        (order("ro", Side.SELL, "0.01", reduce_only=True), VenueErrorKind.INVALID_ORDER, False),
        (
            OrderRequest("ETH/USDT:USDT", Side.BUY, OrderType.MARKET, Decimal(1), "eth"),
            VenueErrorKind.INVALID_ORDER,
            True,
        ),
    ],
    ids=["margin", "below-min-qty", "reduce-only-without-position", "unknown-symbol"],
)
def test_refusals_map_to_the_taxonomy(
    frame: OhlcvFrame, request_: OrderRequest, kind: VenueErrorKind, local_check: bool
) -> None:
    async def go() -> None:
        venue = make(frame)
        with pytest.raises(VenueError) as info:
            await venue.create_order(request_)
        assert info.value.kind is kind
        assert info.value.definitive
        assert info.value.local
        if not local_check:
            assert info.value.code is not None  # the engine's Binance code came through
        assert await venue.fetch_positions() == []

    run(go())


def test_duplicate_open_client_id_and_unknown_cancel(frame: OhlcvFrame) -> None:
    async def go() -> None:
        venue = make(frame)
        far = Decimal(str(round(float(frame.close[START]) * 0.9, 1)))
        first = await venue.create_order(order("lim-1", Side.BUY, "0.01", OrderType.LIMIT, price=far))
        assert first.status is OrderStatus.OPEN
        with pytest.raises(VenueError) as dup:
            await venue.create_order(order("lim-1", Side.BUY, "0.01", OrderType.LIMIT, price=far))
        assert dup.value.kind is VenueErrorKind.DUPLICATE_CLIENT_ID
        canceled = await venue.cancel_order(SYM, client_order_id="lim-1")
        assert canceled.status is OrderStatus.CANCELED
        with pytest.raises(VenueError) as gone:
            await venue.cancel_order(SYM, client_order_id="lim-1")
        assert gone.value.kind is VenueErrorKind.ORDER_NOT_FOUND
        with pytest.raises(VenueError) as never:
            await venue.fetch_order(SYM, order_id="not-a-number")
        assert never.value.kind is VenueErrorKind.ORDER_NOT_FOUND

    run(go())


def test_paper_account_survives_a_restart(frame: OhlcvFrame, tmp_path: Path) -> None:
    db = tmp_path / "paper.sqlite"

    async def first() -> Decimal:
        venue = make(frame, store=db)
        rep = await venue.create_order(order("e-1", Side.SELL, "0.02"))
        far = Decimal(str(round(float(frame.close[START]) * 1.2, 1)))
        await venue.create_order(
            order(
                "tp-1", Side.BUY, "", OrderType.TAKE_PROFIT_MARKET, trigger_price=far / 2, close_position=True
            )
        )
        await venue.close()
        assert rep.avg_price is not None
        return rep.avg_price

    async def second(entry: Decimal) -> None:
        venue = make(frame, store=db)
        (pos,) = await venue.fetch_positions()
        assert (pos.side, pos.qty, pos.entry_price) == (Side.SELL, Decimal("0.02"), entry)
        (tp,) = await venue.fetch_open_orders(SYM, conditional=True)
        assert tp.client_order_id == "tp-1"
        assert tp.close_position
        await venue.close()

    entry = run(first())
    run(second(entry))


def test_dry_run_never_sends_a_signed_or_state_changing_request() -> None:
    from eclipse.venues.ccxt_venue import CcxtVenue
    from eclipse.venues.credentials import Credentials
    from eclipse.venues.sim.config import DEFAULT_KEY, DEFAULT_SECRET, SimConfig
    from eclipse.venues.sim.runner import SimServerThread

    with SimServerThread(SimConfig(stepped=True), LiveClock()) as sim:

        async def go() -> None:
            clock = LiveClock()
            # Even handed real credentials, the source is only ever asked for public data.
            source = CcxtVenue(
                "binanceusdm", Credentials(DEFAULT_KEY, DEFAULT_SECRET), clock, api_url=sim.url
            )
            venue = PaperVenue(source, clock, refresh_ms=0)
            await venue.set_leverage(SYM, 5)
            entry = await venue.create_order(order("dry-1", Side.BUY, "0.01"))
            assert entry.status is OrderStatus.FILLED
            assert entry.avg_price is not None
            stop = entry.avg_price * Decimal("0.9")
            await venue.create_order(
                order("dry-sl", Side.SELL, "", OrderType.STOP_MARKET, trigger_price=stop, close_position=True)
            )
            await venue.cancel_order(SYM, client_order_id="dry-sl", conditional=True)
            await venue.fetch_positions()
            await venue.fetch_balance()
            await venue.fetch_fills(SYM)
            await venue.fetch_open_orders(SYM)
            await venue.close()

        asyncio.run(go())
        journal = sim.ctx.journal.query()
        assert journal, "the paper venue read market data from the simulator"
        assert all(e.method == "GET" and not e.signed and not e.state_changing for e in journal), [
            (e.method, e.path) for e in journal if e.method != "GET" or e.signed
        ]
        assert sim.call(lambda: sim.ctx.futures.open_orders()) == []
        assert sim.call(lambda: sim.ctx.futures.user_trades("BTCUSDT")) == []


def test_only_engaged_symbols_are_refreshed(frame: OhlcvFrame) -> None:
    async def go() -> None:
        clock = SimClock(int(frame.ts_ms[START]) + 59_000)
        venue = make(frame, extra=50, clock=clock)
        source = venue._source
        assert isinstance(source, FakeSource)
        await venue.fetch_balance()
        await venue.fetch_positions()
        await venue.fetch_open_orders()
        assert source.ohlcv_calls == []  # flat account: no market needs prices
        await venue.create_order(order("e-1", Side.BUY, "0.01"))
        source.ohlcv_calls.clear()
        await venue.fetch_balance()
        assert source.ohlcv_calls == []  # nothing new can form at the same instant: no second refresh
        clock.advance(ms=1)
        await venue.fetch_balance()
        await venue.fetch_open_orders()
        assert {c[0] for c in source.ohlcv_calls} == {SYM}  # only the symbol with a position
        assert all(limit <= 3 for _, _, limit in source.ohlcv_calls)  # only the bars since the last refresh

    run(go())


def test_a_restart_walks_the_bars_missed_while_down(frame: OhlcvFrame, tmp_path: Path) -> None:
    level, hit = _first_rise(frame, 0.004)
    db = tmp_path / "paper.sqlite"

    async def before(clock: SimClock) -> None:
        venue = make(frame, store=db, clock=clock)
        await short_with_stop(venue, level, close_position=True)
        await venue.close()

    async def after(clock: SimClock) -> None:
        venue = make(frame, store=db, clock=clock)
        # the process was down while the market went through the stop: the stop fired on that path
        sl = await venue.fetch_order(SYM, client_order_id="sl-1", conditional=True)
        assert sl.status is OrderStatus.TRIGGERED
        assert await venue.fetch_positions() == []
        fills = await venue.fetch_fills(SYM)
        assert [f.side for f in fills] == [Side.SELL, Side.BUY]
        assert fills[1].price >= Decimal(str(level))
        source = venue._source
        assert isinstance(source, FakeSource)
        (first_call,) = source.ohlcv_calls[:1]
        assert first_call[1] is not None  # fetched from the saved market time, not just the last bars
        await venue.close()

    clock = SimClock(int(frame.ts_ms[START]) + 59_000)
    run(before(clock))
    clock.set_ms(int(frame.ts_ms[hit + 30]) + 59_000)  # 30 bars past the crossing
    run(after(clock))


def test_a_spot_paper_account_refuses_leverage_as_not_supported(frame: OhlcvFrame) -> None:
    async def go() -> None:
        clock = SimClock(int(frame.ts_ms[START]) + 59_000)
        wrong = PaperVenue(FakeSource(frame, clock), clock, kind=MarketKind.SPOT)
        with pytest.raises(VenueError) as info:
            await wrong.load_markets()  # this source lists only perpetuals
        assert info.value.kind is VenueErrorKind.INVALID_ORDER
        assert "spot" in str(info.value)
        venue = PaperVenue(FakeSource(frame, clock, kind=MarketKind.SPOT), clock, kind=MarketKind.SPOT)
        for call in (
            venue.set_leverage("BTC/USDT", 5),
            venue.set_margin_mode("BTC/USDT", MarginMode.ISOLATED),
        ):
            with pytest.raises(VenueError) as refused:
                await call
            assert refused.value.kind is VenueErrorKind.NOT_SUPPORTED
            assert refused.value.definitive
        rep = await venue.create_order(
            OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("0.01"), "s-1")
        )
        assert rep.status is OrderStatus.FILLED
        assert await venue.fetch_positions() == []  # spot holds balances, not positions
        assert (await venue.fetch_balance())["BTC"].total > 0

    run(go())
