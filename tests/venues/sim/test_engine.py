"""The futures matching engine: fills (market, limit, IOC/FOK/post-only), every reject code, the account
(PnL, fees, flips, margin, leverage, margin mode), liquidation, faults (partial fills, cancel race,
reduce-only shrink) and determinism."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

import ccxt
import numpy as np
import pytest

from eclipse.clock import SimClock
from eclipse.market.bars import OhlcvFrame
from eclipse.venues.classify import classify
from eclipse.venues.errors import VenueErrorKind, error_class
from eclipse.venues.sim.engine import ALGO_ID_START, AlgoIdLayout, EngineConfig, MatchingEngine
from eclipse.venues.sim.instruments import FUTURES_BTCUSDT, SPOT_BTCUSDT
from eclipse.venues.sim.market import FeedConfig, FeedMode, MarketFeed
from eclipse.venues.sim.model import EngineReject, InstrumentSpec, OrderView, PlaceRequest
from eclipse.venues.types import Candle, MarginMode, OrderType, Side, TimeInForce

D = Decimal

T0 = 1_699_999_980_000  # a minute boundary
M = 60_000
SYM = "BTCUSDT"
FLAT = (10_000.0, 10_000.0, 10_000.0, 10_000.0)
BUY, SELL = Side.BUY, Side.SELL
MKT, LMT, STOP, TP = OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET


@dataclass
class FakeFaults:
    """An EngineFaults with fixed answers (and a record of the orders it was asked about)."""

    slices: tuple[int, int] = (1, 0)
    race: bool = False
    shrink: D | None = None
    asked: list[OrderView] = field(default_factory=list)

    def fill_slices(self, order: OrderView) -> tuple[int, int]:
        self.asked.append(order)
        return self.slices

    def cancel_races_fill(self, order: OrderView) -> bool:
        return self.race

    def reduce_only_shrink(self, order: OrderView) -> D | None:
        return self.shrink


def frame(rows: list[tuple[float, float, float, float]], t0: int = T0) -> OhlcvFrame:
    arr = np.array(rows, dtype=np.float64)
    n = len(rows)
    ts = t0 + M * np.arange(n, dtype=np.int64)
    return OhlcvFrame(ts, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], np.full(n, 50.0))


@dataclass
class Sim:
    clock: SimClock
    feed: MarketFeed
    eng: MatchingEngine

    def at(self, ms: int) -> None:
        """Move market time to T0 + ms."""
        self.feed.advance_to(T0 + ms)


def make(
    rows: list[tuple[float, float, float, float]] | OhlcvFrame,
    *,
    spread_bps: float = 0.0,
    faults: FakeFaults | None = None,
    spot: bool = False,
    spec: InstrumentSpec | None = None,
    feed: MarketFeed | None = None,
    clock: SimClock | None = None,
    **cfg: object,
) -> Sim:
    """An engine over ``rows`` (1m bars from T0) in stepped market time, no spread and no slippage."""
    clock = clock or SimClock(T0)
    if feed is None:
        feed = MarketFeed(
            clock, FeedConfig(mode=FeedMode.STEPPED, rebase=False, start_offset_bars=0, spread_bps=spread_bps)
        )
        feed.add_ohlcv(SYM, rows if isinstance(rows, OhlcvFrame) else frame(rows))
    cfg.setdefault("slippage_bps", D(0))
    config = EngineConfig.spot(**cfg) if spot else EngineConfig.futures(**cfg)
    the_spec = spec or (SPOT_BTCUSDT if spot else FUTURES_BTCUSDT)
    return Sim(clock, feed, MatchingEngine([the_spec], feed, clock, config, faults))


def req(
    side: Side, type_: OrderType, qty: str | None, price: str | None = None, **kw: object
) -> PlaceRequest:
    trig = kw.pop("trigger", None)
    return PlaceRequest(
        SYM,
        side,
        type_,
        None if qty is None else D(qty),
        price=None if price is None else D(price),
        trigger_price=None if trig is None else D(str(trig)),
        **kw,  # type: ignore[arg-type]
    )


def reject(eng: MatchingEngine, r: PlaceRequest) -> EngineReject:
    with pytest.raises(EngineReject) as info:
        eng.place(r)
    return info.value


def err(call: Callable[..., object], *args: object, **kw: object) -> EngineReject:
    """The EngineReject ``call(*args, **kw)`` raises."""
    with pytest.raises(EngineReject) as info:
        call(*args, **kw)
    return info.value


def pos(eng: MatchingEngine) -> Decimal:
    return eng.positions(SYM)[0].qty


# -- fills -----------------------------------------------------------------------------------------


def test_market_order_fills_at_the_ask_plus_slippage_with_the_taker_fee() -> None:
    s = make([FLAT] * 3, spread_bps=2.0, slippage_bps=D(1))
    o = s.eng.place(req(BUY, MKT, "0.5", client_id="m-1"))
    # ask = 10000 + 1 bps = 10001.0; +1 bps slippage = 10002.0001, rounded up to the tick
    assert (o.status, o.filled, o.avg_price, o.client_id) == ("FILLED", D("0.5"), D("10002.1"), "m-1")
    [t] = s.eng.user_trades(SYM)
    assert (t.price, t.qty, t.maker, t.commission_asset, t.ts_ms) == (
        D("10002.1"),
        D("0.5"),
        False,
        "USDT",
        T0,
    )
    assert t.commission == D("2.00042000")  # 0.5 * 10002.1 * 0.0004
    p = s.eng.positions(SYM)[0]
    assert (p.qty, p.entry_price) == (D("0.5"), D("10002.1"))
    assert s.eng.balances()[0].wallet == D("10000") - D("2.00042")
    sell = s.eng.place(req(SELL, MKT, "0.5"))
    assert sell.avg_price == D("9998.0")  # bid 9999.0 - 1 bps = 9998.0001, rounded down
    assert sell.client_id.startswith("simf-")
    assert len(sell.client_id) <= 36


def test_a_resting_limit_fills_at_its_price_when_the_path_touches_it() -> None:
    # bar 1: a tie on an up bar goes open 10000 -> low 9900 (15s) -> high 10100 (45s) -> close
    s = make([FLAT, (10_000.0, 10_100.0, 9_900.0, 10_050.0), FLAT])
    o = s.eng.place(req(BUY, LMT, "0.2", "9950", time_in_force=TimeInForce.GTC))
    assert o.status == "NEW"
    assert not s.eng.user_trades(SYM)
    s.at(M + 5_000)
    assert s.eng.order(SYM, o.order_id).status == "NEW"  # 9950 is crossed at 7.5s
    s.at(M + 8_000)
    done = s.eng.order(SYM, o.order_id)
    assert (done.status, done.avg_price, done.updated_ms) == ("FILLED", D("9950"), T0 + M + 7_500)
    [t] = s.eng.user_trades(SYM)
    assert t.maker
    assert t.commission == D("0.39800000")


def test_a_marketable_limit_takes_at_the_better_price() -> None:
    s = make([FLAT] * 2)
    o = s.eng.place(req(BUY, LMT, "0.1", "10100"))
    assert (o.status, o.avg_price) == ("FILLED", D("10000"))
    assert not s.eng.user_trades(SYM)[0].maker


def test_post_only_refuses_to_take_and_rests_otherwise() -> None:
    s = make([FLAT] * 2)
    e = reject(s.eng, req(BUY, LMT, "0.1", "10000", time_in_force=TimeInForce.GTX))
    assert (e.code, e.msg) == (
        -5022,
        "Due to the order could not be executed as maker, the Post Only order will be rejected.",
    )
    assert s.eng.place(req(BUY, LMT, "0.1", "9990", time_in_force=TimeInForce.GTX)).status == "NEW"


def test_ioc_and_fok_fill_at_once_or_expire() -> None:
    s = make([FLAT] * 2)
    assert s.eng.place(req(BUY, LMT, "0.1", "9990", time_in_force=TimeInForce.IOC)).status == "EXPIRED"
    assert s.eng.place(req(BUY, LMT, "0.1", "9990", time_in_force=TimeInForce.FOK)).status == "EXPIRED"
    assert s.eng.place(req(BUY, LMT, "0.1", "10000", time_in_force=TimeInForce.IOC)).status == "FILLED"
    assert s.eng.place(req(BUY, LMT, "0.1", "10000", time_in_force=TimeInForce.FOK)).status == "FILLED"
    assert not s.eng.open_orders(SYM)


def test_ioc_keeps_only_what_fills_at_once_and_fok_is_all_or_nothing() -> None:
    s = make([FLAT] * 2, faults=FakeFaults(slices=(3, 1_000)))
    ioc = s.eng.place(req(BUY, LMT, "0.3", "10000", time_in_force=TimeInForce.IOC))
    assert (ioc.status, ioc.filled) == ("EXPIRED", D("0.1"))
    fok = s.eng.place(req(BUY, LMT, "0.3", "10000", time_in_force=TimeInForce.FOK))
    assert (fok.status, fok.filled) == ("FILLED", D("0.3"))


# -- rejections ------------------------------------------------------------------------------------

NOTIONAL_MSG = "Order's notional must be no smaller than 100 (unless you choose reduce only)."


@pytest.mark.parametrize(
    ("request_", "code", "msg"),
    [
        (replace(req(BUY, MKT, "0.1"), symbol="ETHUSDT"), -1121, "Invalid symbol."),
        (
            req(BUY, LMT, "0.1"),
            -1102,
            "Mandatory parameter 'price' was not sent, was empty/null, or malformed.",
        ),
        (
            req(BUY, MKT, None),
            -1102,
            "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
        ),
        (
            req(BUY, STOP, "0.1"),
            -1102,
            "Mandatory parameter 'triggerPrice' was not sent, was empty/null, or malformed.",
        ),
        (req(BUY, MKT, "0.1", "10000"), -1106, "Parameter 'price' sent when not required."),
        (req(BUY, LMT, "0.1", "9000", trigger=9000), -1106, "Parameter 'stopPrice' sent when not required."),
        (
            req(SELL, MKT, "0.1", close_position=True),
            -1106,
            "Parameter 'closePosition' sent when not required.",
        ),
        (
            req(SELL, STOP, "0.1", trigger=9000, close_position=True),
            -1106,
            "Parameter 'quantity' sent when not required.",
        ),
        (req(BUY, LMT, "0.1", "9999.95"), -1111, "Precision is over the maximum defined for this asset."),
        (req(BUY, MKT, "0.1005"), -1111, "Precision is over the maximum defined for this asset."),
        (req(BUY, MKT, "0"), -4003, "Quantity less than or equal to zero."),
        (req(BUY, LMT, "0.1", "-5"), -4001, "Price less than 0."),
        (req(BUY, MKT, "1000.001"), -4005, "Quantity greater than max quantity."),
        (req(BUY, MKT, "0.009"), -4164, NOTIONAL_MSG),
        (req(BUY, LMT, "0.01", "9000"), -4164, NOTIONAL_MSG),
        (req(BUY, MKT, "0.1", client_id="no spaces"), -1100, None),
        (req(BUY, MKT, "0.1", client_id="x" * 37), -1100, None),
        (req(SELL, MKT, "0.1", reduce_only=True), -2022, "ReduceOnly Order is rejected."),
        (req(BUY, STOP, "0.1", trigger=9990), -2021, "Order would immediately trigger."),
        (req(SELL, STOP, "0.1", trigger=10010), -2021, "Order would immediately trigger."),
        (req(BUY, TP, "0.1", trigger=10010), -2021, "Order would immediately trigger."),
        (req(SELL, TP, "0.1", trigger=9990), -2021, "Order would immediately trigger."),
        (req(BUY, MKT, "21"), -2019, "Margin is insufficient."),
        (req(SELL, LMT, "21", "10100"), -2019, "Margin is insufficient."),
        # PRICE_FILTER maxPrice (4529764 for BTCUSDT) on limit and trigger prices
        (req(BUY, LMT, "0.1", "4529764.1"), -4002, "Price greater than max price."),
        (req(BUY, STOP, "0.1", trigger="1e20"), -4007, "Stop price greater than max price."),
        (req(BUY, STOP, "0.1", trigger="4529764.1"), -4007, "Stop price greater than max price."),
        (req(BUY, STOP, "0.1", trigger="10000.05"), -1111, None),  # off the tick
        # any size is a rejection, never an exception (decimal's quotient limit, non-finite values)
        (req(BUY, LMT, "0.1", "1e100"), -4002, "Price greater than max price."),
        (req(BUY, MKT, "1e100"), -4005, "Quantity greater than max quantity."),
        (req(BUY, MKT, "1e30"), -4005, "Quantity greater than max quantity."),
        (req(BUY, MKT, "10000000000000000000000000000.0001"), -1111, None),
        (req(BUY, MKT, "Infinity"), -1100, None),
        (req(BUY, LMT, "0.1", "NaN"), -1100, None),
        (req(BUY, STOP, "0.1", trigger="sNaN"), -1100, None),
    ],
)
def test_rejections_carry_binance_codes(request_: PlaceRequest, code: int, msg: str | None) -> None:
    s = make([FLAT] * 2)
    e = reject(s.eng, request_)
    assert e.code == code
    if msg is not None:
        assert e.msg == msg
    assert not s.eng.open_orders()
    assert not s.eng.open_orders(conditional=True)
    assert s.eng.next_order_id == 1
    assert s.eng.next_algo_id == ALGO_ID_START


def test_lot_size_minimum_and_reduce_only_notional_exemption() -> None:
    s = make([FLAT] * 2, spec=replace(FUTURES_BTCUSDT, min_qty=D("0.01")))
    assert (reject(s.eng, req(BUY, MKT, "0.005")).code, reject(s.eng, req(BUY, MKT, "0.005")).msg) == (
        -1013,
        "Filter failure: LOT_SIZE",
    )
    s.eng.place(req(BUY, MKT, "0.5"))
    small = s.eng.place(req(SELL, MKT, "0.01", reduce_only=True))  # 100 USDT is fine anyway
    assert small.status == "FILLED"
    assert s.eng.place(req(SELL, LMT, "0.01", "9000", reduce_only=True)).status == "FILLED"  # below 100 USDT


def test_reduce_only_on_the_wrong_side_is_rejected() -> None:
    s = make([FLAT] * 2)
    s.eng.place(req(BUY, MKT, "0.5"))
    assert reject(s.eng, req(BUY, MKT, "0.1", reduce_only=True)).code == -2022
    assert reject(s.eng, req(BUY, TP, "0.1", trigger=9000, reduce_only=True)).code == -2022


def test_the_leverage_bracket_caps_the_position() -> None:
    s = make([FLAT] * 2)
    assert s.eng.set_leverage(SYM, 125) == D(50_000)
    e = reject(s.eng, req(BUY, MKT, "6"))
    assert (e.code, e.msg) == (-2027, "Exceeded the maximum allowable position at current leverage.")
    assert s.eng.place(req(BUY, MKT, "4")).status == "FILLED"


def test_client_ids_are_unique_among_open_orders_only() -> None:
    s = make([FLAT] * 2)
    first = s.eng.place(req(BUY, LMT, "0.1", "9000", client_id="dup"))
    e = reject(s.eng, req(BUY, LMT, "0.1", "9000", client_id="dup"))
    assert (e.code, e.msg) == (-4116, "ClientOrderId is duplicated.")
    s.eng.cancel(SYM, client_id="dup")
    again = s.eng.place(req(BUY, MKT, "0.1", client_id="dup"))
    assert again.status == "FILLED"
    third = s.eng.place(req(SELL, MKT, "0.1", client_id="dup"))  # a filled order's id may be reused
    assert s.eng.order(SYM, client_id="dup").order_id == third.order_id
    assert s.eng.order(SYM, order_id=first.order_id).status == "CANCELED"
    # conditionals have their own book: the same client id is free there
    s.eng.place(req(SELL, STOP, "0.1", trigger=9000, client_id="dup"))
    assert reject(s.eng, req(SELL, STOP, "0.1", trigger=9000, client_id="dup")).code == -4116


# -- cancel and lookups ----------------------------------------------------------------------------


def test_cancel_lookup_and_open_orders() -> None:
    s = make([FLAT] * 2)
    a = s.eng.place(req(BUY, LMT, "0.1", "9000"))
    b = s.eng.place(req(SELL, LMT, "0.1", "11000"))
    stop = s.eng.place(req(SELL, STOP, "0.1", trigger=9500))
    assert [o.order_id for o in s.eng.open_orders(SYM)] == [a.order_id, b.order_id]
    assert [o.order_id for o in s.eng.open_orders(conditional=True)] == [stop.order_id]
    assert stop.conditional
    assert stop.order_id == ALGO_ID_START  # the algo book's own sequence, far from the order ids
    assert b.order_id == 2
    assert s.eng.cancel(SYM, order_id=a.order_id).status == "CANCELED"
    for args in ({"order_id": a.order_id}, {"order_id": 99}, {"client_id": "nope"}):
        e = err(s.eng.cancel, SYM, **args)
        assert (e.code, e.msg) == (-2011, "Unknown order sent.")
    assert s.eng.cancel(SYM, order_id=stop.order_id, conditional=True).status == "CANCELED"
    with pytest.raises(EngineReject) as missing:
        s.eng.order(SYM, order_id=42)
    assert (missing.value.code, missing.value.msg) == (-2013, "Order does not exist.")
    with pytest.raises(EngineReject) as both_missing:
        s.eng.cancel(SYM)
    assert both_missing.value.code == -1102
    assert s.eng.order(SYM, order_id=a.order_id).status == "CANCELED"


# -- triggers --------------------------------------------------------------------------------------

HIGH_FIRST = (10_000.0, 10_050.0, 9_900.0, 9_920.0)  # open -> 10050 (15s) -> 9900 (45s) -> close


def _fire_long_stop(s: Sim, client_id: str) -> OrderView:
    """Through the HIGH_FIRST bar, a sell stop at 9950 protecting a long of 1 fires: its market child."""
    stop = s.eng.place(req(SELL, STOP, "1", trigger=9950, reduce_only=True, client_id=client_id))
    s.at(2 * M)
    fired = s.eng.order(SYM, order_id=stop.order_id, conditional=True)
    assert fired.status == "TRIGGERED"
    assert fired.triggered_order_id is not None
    child: OrderView = s.eng.order(SYM, order_id=fired.triggered_order_id)
    return child


def test_a_stop_fires_at_its_trigger_on_a_continuous_move() -> None:
    s = make([FLAT, HIGH_FIRST, FLAT])
    s.eng.place(req(BUY, MKT, "1"))
    market = _fire_long_stop(s, "sl")
    # 10050 -> 9900 over 30s crosses 9950 two thirds of the way: 15s + 20s
    assert (market.type, market.status, market.avg_price) == (MKT, "FILLED", D("9950"))
    assert market.updated_ms == T0 + M + 35_000
    assert market.client_id == "sl"
    assert pos(s.eng) == 0


def test_a_triggered_conditional_never_takes_an_open_regular_orders_client_id() -> None:
    """The books' client ids are separate: a conditional "X" firing while a regular limit "X" is open makes
    a market order with its own id; the limit keeps "X" (duplicates refused, lookups and cancels find it)."""
    s = make([FLAT, HIGH_FIRST, FLAT])
    s.eng.place(req(BUY, MKT, "1"))
    limit = s.eng.place(req(BUY, LMT, "0.1", "9000", client_id="X"))
    market = _fire_long_stop(s, "X")
    assert market.status == "FILLED"
    assert market.client_id != "X"
    assert s.eng.order(SYM, client_id="X").order_id == limit.order_id
    assert reject(s.eng, req(BUY, LMT, "0.1", "9000", client_id="X")).code == -4116
    assert s.eng.cancel(SYM, client_id="X").order_id == limit.order_id


@pytest.mark.parametrize("layout", list(AlgoIdLayout))
def test_algo_ids_are_their_own_sequence_apart_or_coinciding(layout: AlgoIdLayout) -> None:
    """A fired stop names its market order (``triggered_order_id``, regular book), whose trade carries
    that id; the algo id starts at 1,000,000,001 (apart) or at 1, the number of a regular order (coincide)."""
    s = make([FLAT, HIGH_FIRST, FLAT], algo_ids=layout)
    entry = s.eng.place(req(BUY, MKT, "1"))
    market = _fire_long_stop(s, "sl")
    fired = s.eng.order(SYM, client_id="sl", conditional=True)
    assert (entry.order_id, fired.order_id) == (1, ALGO_ID_START if layout is AlgoIdLayout.APART else 1)
    assert (fired.triggered_order_id, market.order_id, market.conditional) == (2, 2, False)
    assert [t.order_id for t in s.eng.user_trades(SYM)] == [1, 2]
    if layout is AlgoIdLayout.APART:  # the algo id names no regular order
        assert err(s.eng.order, SYM, order_id=fired.order_id).code == -2013
    else:  # the same number names the entry in the regular book
        assert s.eng.order(SYM, order_id=fired.order_id) == entry


def test_algo_id_layout_is_validated() -> None:
    assert EngineConfig.futures(algo_ids="coincide").algo_ids is AlgoIdLayout.COINCIDE
    with pytest.raises(ValueError, match="algo_ids must be 'apart' or 'coincide', got 'both'"):
        EngineConfig.futures(algo_ids="both")


def test_a_stop_jumped_over_fills_at_the_gapped_price() -> None:
    s = make([FLAT, FLAT, (9_800.0, 9_850.0, 9_700.0, 9_800.0)])
    s.eng.place(req(BUY, MKT, "1"))
    stop = s.eng.place(req(SELL, STOP, "1", trigger=9950, reduce_only=True))
    s.at(2 * M + 1)
    fired = s.eng.order(SYM, order_id=stop.order_id, conditional=True)
    assert fired.triggered_order_id is not None
    market = s.eng.order(SYM, order_id=fired.triggered_order_id)
    assert (market.avg_price, market.updated_ms) == (D("9800"), T0 + 2 * M)


def test_take_profits_fire_on_the_favourable_side() -> None:
    s = make([FLAT, HIGH_FIRST, FLAT])
    s.eng.place(req(BUY, MKT, "1"))
    tp = s.eng.place(req(SELL, TP, "1", trigger=10040, reduce_only=True))
    s.at(M + 11_000)
    assert s.eng.order(SYM, order_id=tp.order_id, conditional=True).status == "NEW"
    s.at(M + 13_000)
    fired = s.eng.order(SYM, order_id=tp.order_id, conditional=True)
    assert fired.status == "TRIGGERED"
    [_, close] = s.eng.user_trades(SYM)
    assert (close.price, close.ts_ms, close.realized_pnl) == (D("10040"), T0 + M + 12_000, D("40"))


def test_events_in_one_bar_follow_the_path_order() -> None:
    # low first (tie on an up bar): 10000 -> 9900 (15s) -> 10100 (45s) -> 10050
    s = make([FLAT, (10_000.0, 10_100.0, 9_900.0, 10_050.0), FLAT])
    s.eng.place(req(BUY, MKT, "1"))
    s.eng.place(req(SELL, TP, "1", trigger=10040, reduce_only=True))
    s.eng.place(req(BUY, LMT, "1", "9950"))
    s.at(2 * M)
    trades = s.eng.user_trades(SYM)
    assert [(t.side, t.price, t.ts_ms - T0 - M) for t in trades[1:]] == [
        (BUY, D("9950"), 7_500),
        (SELL, D("10040"), 36_000),
    ]
    assert pos(s.eng) == D("1")


def test_close_position_closes_everything_or_expires_when_flat() -> None:
    s = make([FLAT, HIGH_FIRST, FLAT, HIGH_FIRST, FLAT])
    s.eng.place(req(BUY, MKT, "0.7"))
    cp = s.eng.place(req(SELL, STOP, None, trigger=9950, close_position=True))
    assert cp.qty is None
    assert cp.close_position
    s.at(2 * M)
    fired = s.eng.order(SYM, order_id=cp.order_id, conditional=True)
    assert fired.triggered_order_id is not None
    assert s.eng.order(SYM, order_id=fired.triggered_order_id).filled == D("0.7")
    assert pos(s.eng) == 0
    flat = s.eng.place(req(SELL, STOP, None, trigger=9950, close_position=True))
    s.at(4 * M)
    assert s.eng.order(SYM, order_id=flat.order_id, conditional=True).status == "EXPIRED"
    assert len(s.eng.user_trades(SYM)) == 2


# -- reduce-only -----------------------------------------------------------------------------------


def test_reduce_only_fills_at_most_the_position() -> None:
    s = make([FLAT] * 2)
    s.eng.place(req(BUY, MKT, "0.5"))
    o = s.eng.place(req(SELL, MKT, "1", reduce_only=True))
    assert (o.status, o.filled) == ("EXPIRED", D("0.5"))
    assert pos(s.eng) == 0


def test_reduce_only_orders_expire_when_the_position_is_gone() -> None:
    s = make([FLAT] * 2)
    s.eng.place(req(BUY, MKT, "0.5"))
    tp = s.eng.place(req(SELL, LMT, "0.5", "10500", reduce_only=True))
    s.eng.place(req(SELL, MKT, "0.5"))
    assert s.eng.order(SYM, order_id=tp.order_id).status == "EXPIRED"
    assert not s.eng.open_orders(SYM)


def test_reduce_only_shrink_fault_lowers_the_quantity() -> None:
    s = make([FLAT] * 2, faults=FakeFaults(shrink=D("0.2004")))
    s.eng.place(req(BUY, MKT, "0.5"))
    o = s.eng.place(req(SELL, LMT, "0.5", "10500", reduce_only=True))
    assert o.qty == D("0.200")  # shrunk, on the step
    assert s.eng.place(req(SELL, LMT, "0.1", "10500")).qty == D("0.1")  # only reduce-only orders


# -- partial fills and the cancel race -------------------------------------------------------------


def test_partial_fills_arrive_on_later_syncs() -> None:
    s = make([FLAT] * 3, faults=FakeFaults(slices=(3, 1_000)))
    o = s.eng.place(req(BUY, MKT, "0.3"))
    assert (o.status, o.filled) == ("PARTIALLY_FILLED", D("0.1"))
    assert [x.order_id for x in s.eng.open_orders(SYM)] == [o.order_id]
    s.at(1_000)
    assert s.eng.order(SYM, o.order_id).filled == D("0.2")
    s.at(5_000)
    done = s.eng.order(SYM, o.order_id)
    assert (done.status, done.filled) == ("FILLED", D("0.3"))
    assert [t.ts_ms - T0 for t in s.eng.user_trades(SYM)] == [0, 1_000, 2_000]


def test_a_resting_limit_can_fill_in_slices_at_its_price() -> None:
    s = make([FLAT, (10_000.0, 10_100.0, 9_900.0, 10_050.0), FLAT], faults=FakeFaults(slices=(2, 10_000)))
    o = s.eng.place(req(BUY, LMT, "0.2", "9950"))
    s.at(M + 10_000)
    assert s.eng.order(SYM, o.order_id).status == "PARTIALLY_FILLED"
    s.at(M + 20_000)
    trades = s.eng.user_trades(SYM)
    assert [(t.price, t.qty, t.maker, t.ts_ms - T0 - M) for t in trades] == [
        (D("9950"), D("0.1"), True, 7_500),
        (D("9950"), D("0.1"), True, 17_500),
    ]


def test_a_cancel_that_loses_the_race_finds_the_order_filled() -> None:
    faults = FakeFaults(race=True)
    s = make([FLAT] * 2, faults=faults)
    o = s.eng.place(req(BUY, LMT, "0.1", "9990"))
    e = err(s.eng.cancel, SYM, order_id=o.order_id)
    assert (e.code, e.msg) == (-2011, "Unknown order sent.")
    done = s.eng.order(SYM, o.order_id)
    assert (done.status, done.avg_price) == ("FILLED", D("9990"))
    assert s.eng.user_trades(SYM)[0].maker


def test_a_cancel_race_on_a_partially_filled_order_delivers_the_rest() -> None:
    s = make([FLAT] * 2, faults=FakeFaults(slices=(2, 5_000), race=True))
    o = s.eng.place(req(BUY, MKT, "0.2"))
    with pytest.raises(EngineReject):
        s.eng.cancel(SYM, order_id=o.order_id)
    assert s.eng.order(SYM, o.order_id).status == "FILLED"
    assert pos(s.eng) == D("0.2")


# -- account ---------------------------------------------------------------------------------------


def test_pnl_fees_and_a_flip() -> None:
    s = make([FLAT, (10_100.0, 10_100.0, 10_100.0, 10_100.0)] * 2)
    s.eng.place(req(BUY, MKT, "1"))
    s.at(M)
    s.eng.place(req(SELL, MKT, "3"))
    p = s.eng.positions(SYM)[0]
    assert (p.qty, p.entry_price) == (D("-2"), D("10100"))
    close = s.eng.user_trades(SYM)[-1]
    assert close.realized_pnl == D("100")
    fees = D("10000") * D("0.0004") + D("30300") * D("0.0004")
    b = s.eng.balances()[0]
    assert b.wallet == D("10000") + D("100") - fees
    s.at(2 * M)  # back to 10000: the short gains 200
    p = s.eng.positions(SYM)[0]
    assert (p.mark_price, p.unrealized_pnl, p.notional) == (D("10000"), D("200"), D("-20000"))
    assert p.initial_margin == D("1000")  # 20000 / 20
    b = s.eng.balances()[0]
    assert (b.unrealized_pnl, b.margin_balance) == (D("200"), b.wallet + D("200"))
    assert b.available == b.wallet + D("200") - D("1000")


def test_open_orders_reserve_margin_beyond_what_closes_the_position() -> None:
    s = make([FLAT] * 2)
    s.eng.place(req(BUY, LMT, "1", "9000"))
    assert s.eng.balances()[0].available == D("10000") - D("450")  # 1 * 9000 / 20
    s.eng.cancel(SYM, order_id=1)
    s.eng.place(req(BUY, MKT, "1"))
    wallet = s.eng.balances()[0].wallet
    s.eng.place(req(SELL, LMT, "1", "11000"))  # closes the long: no margin
    assert s.eng.balances()[0].available == wallet - D("500")
    s.eng.place(req(SELL, LMT, "2", "11000"))  # 3 sells vs a 1 long: 2 open at 11000
    assert s.eng.balances()[0].available == wallet - D("500") - D("1100")


def test_leverage_and_margin_mode_settings() -> None:
    s = make([FLAT] * 2)
    assert s.eng.set_leverage(SYM, 20) == D(12_000_000)
    for bad in (0, 126):
        e = err(s.eng.set_leverage, SYM, bad)
        assert (e.code, e.msg) == (-4028, f"Leverage {bad} is not valid")
    e = err(s.eng.set_margin_mode, SYM, MarginMode.CROSS)
    assert (e.code, e.msg) == (-4046, "No need to change margin type.")
    s.eng.place(req(BUY, LMT, "0.1", "9000"))
    assert err(s.eng.set_margin_mode, SYM, MarginMode.ISOLATED).code == -4047
    s.eng.cancel(SYM, order_id=1)
    s.eng.place(req(BUY, MKT, "0.1"))
    e = err(s.eng.set_margin_mode, SYM, MarginMode.ISOLATED)
    assert (e.code, e.msg) == (-4048, "Margin type cannot be changed if there exists position.")
    s.eng.place(req(SELL, MKT, "0.1"))
    s.eng.set_margin_mode(SYM, MarginMode.ISOLATED)
    s.eng.set_leverage(SYM, 10)
    p = s.eng.positions(SYM)[0]
    assert (p.qty, p.margin_mode, p.leverage) == (D(0), MarginMode.ISOLATED, 10)
    assert err(s.eng.set_leverage, "ETHUSDT", 5).code == -1121


def _liq(q: D, e: D, w: D, mmr: D, cum: D) -> D:
    return (q * e - w - cum) / (q * (1 - mmr))


@pytest.mark.parametrize("mode", [MarginMode.CROSS, MarginMode.ISOLATED])
def test_liquidation_when_the_mark_crosses_the_liquidation_price(mode: MarginMode) -> None:
    crash = (10_000.0, 10_000.0, 9_000.0, 9_000.0)  # high first (none), then down to 9000 at 45s
    s = make([FLAT, crash, FLAT])
    if mode is MarginMode.ISOLATED:
        s.eng.set_margin_mode(SYM, mode)
    s.eng.place(req(BUY, MKT, "15"))  # 150k notional: bracket 2 (mmr 0.005, cum 50)
    guard = s.eng.place(req(BUY, LMT, "0.1", "8000"))
    wallet = s.eng.balances()[0].wallet
    assert wallet == D("10000") - D("60")
    margin = wallet if mode is MarginMode.CROSS else D("7500")
    expected = _liq(D("15"), D("10000"), margin, D("0.005"), D("50"))
    p = s.eng.positions(SYM)[0]
    assert p.liquidation_price == expected
    s.at(2 * M)
    assert pos(s.eng) == 0
    liq = s.eng.user_trades(SYM)[-1]
    price = expected.quantize(D("0.1"), rounding="ROUND_FLOOR")
    assert (liq.side, liq.qty, liq.price) == (SELL, D("15"), price)
    assert liq.client_id.startswith("autoclose-")
    # crossed on the way from 10000 (15s) to 9000 (45s)
    frac = (10_000 - float(expected)) / 1_000
    assert liq.ts_ms == T0 + M + 15_000 + round(frac * 30_000)
    assert s.eng.order(SYM, order_id=guard.order_id).status == "CANCELED"


def test_positions_list_every_symbol_and_spot_has_none() -> None:
    s = make([FLAT] * 2)
    [p] = s.eng.positions()
    assert (p.symbol, p.qty, p.leverage, p.margin_mode, p.liquidation_price) == (
        SYM, D(0), 20, MarginMode.CROSS, D(0)
    )  # fmt: skip
    spot = make([FLAT] * 2, spot=True)
    assert spot.eng.positions() == []


def test_user_trades_filters() -> None:
    s = make([FLAT] * 4)
    for i in range(6):
        s.at(i * 10_000)
        s.eng.place(req(BUY if i % 2 else SELL, MKT, "0.1"))
    all_ = s.eng.user_trades(SYM)
    assert [t.trade_id for t in all_] == [1, 2, 3, 4, 5, 6]
    assert [t.trade_id for t in s.eng.user_trades(SYM, limit=2)] == [5, 6]
    assert [t.trade_id for t in s.eng.user_trades(SYM, from_id=3, limit=2)] == [3, 4]
    got = s.eng.user_trades(SYM, start_ms=T0 + 15_000, end_ms=T0 + 35_000)
    assert [t.trade_id for t in got] == [3, 4]


# -- determinism -----------------------------------------------------------------------------------


def _script(s: Sim) -> list[object]:
    out: list[object] = []
    out.append(s.eng.place(req(BUY, MKT, "1")))
    out.append(s.eng.place(req(SELL, STOP, "1", trigger=9950, reduce_only=True)))
    out.append(s.eng.place(req(BUY, LMT, "0.5", "9960")))
    for ms in (20_000, 50_000, 70_000, 130_000):
        s.at(ms)
        out.append(s.eng.open_orders())
    out.append(s.eng.place(req(SELL, MKT, "0.5")))
    out += [s.eng.user_trades(SYM), s.eng.positions(), s.eng.balances(), s.eng.open_orders(conditional=True)]
    return out


def test_same_inputs_same_clock_same_outcome() -> None:
    rows = [FLAT, HIGH_FIRST, (9_920.0, 10_000.0, 9_800.0, 9_850.0)]
    first = _script(make(rows, faults=FakeFaults(slices=(2, 3_000))))
    second = _script(make(rows, faults=FakeFaults(slices=(2, 3_000))))
    assert first == second


def test_a_stop_crossed_by_a_forming_bars_late_final_update_fires() -> None:
    """Paper-venue push mode: an update observed after the bar's end takes the bar's last millisecond; the
    bar's final update (a new low through the stop) must still reach the path and fire the stop."""
    t = T0 + 10 * M
    end = t + M - 1
    clock = SimClock(t + 20_000)
    feed = MarketFeed(clock, FeedConfig(mode=FeedMode.LIVE, spread_bps=0.0))
    feed.add_live(SYM, tick=0.1)
    feed.push_candle(SYM, Candle(t - M, 100.0, 100.5, 99.9, 100.0, 1.0))
    feed.push_candle(SYM, Candle(t, 100.0, 101.0, 99.0, 100.5, 1.0))
    s = make([], feed=feed, clock=clock)
    s.eng.place(req(BUY, MKT, "1"))
    stop = s.eng.place(req(SELL, STOP, None, trigger="98.5", close_position=True))
    clock.set_ms(end + 200)
    feed.push_candle(SYM, Candle(t, 100.0, 101.0, 99.0, 100.4, 2.0))
    s.eng.sync()
    assert s.eng.order(SYM, order_id=stop.order_id, conditional=True).status == "NEW"
    clock.set_ms(end + 1_500)  # the final bar spiked to 98 in its last second; the next bar has opened
    feed.push_candle(SYM, Candle(t, 100.0, 101.0, 98.0, 100.3, 3.0))
    feed.push_candle(SYM, Candle(t + M, 100.3, 100.4, 100.2, 100.3, 1.0))
    s.eng.sync()
    assert s.eng.order(SYM, order_id=stop.order_id, conditional=True).status == "TRIGGERED"
    assert pos(s.eng) == 0


def test_local_refusals_classify_as_definitive() -> None:
    """The engine's own refusals (a spot account asked for futures settings, no market data yet, a filter)
    carry definitive codes with HTTP 400: never -1000, which the taxonomy reads as "outcome unknown"."""
    spot = make([FLAT] * 2, spot=True)
    clock = SimClock(T0)
    empty = make([], feed=MarketFeed(clock, FeedConfig(mode=FeedMode.LIVE)), clock=clock)
    fut = make([FLAT] * 2)
    refusals = [
        err(spot.eng.set_leverage, SYM, 5),
        err(spot.eng.set_margin_mode, SYM, MarginMode.ISOLATED),
        err(empty.eng.place, req(BUY, MKT, "0.1")),
        reject(fut.eng, req(BUY, STOP, "0.1", trigger="1e20")),
    ]
    assert [e.code for e in refusals] == [-1020, -1020, -2010, -4007]
    for e in refusals:
        assert e.status == 400
        wire = ccxt.ExchangeError("binance " + json.dumps({"code": e.code, "msg": e.msg}))
        for changing in (True, False):
            got = classify(wire, venue="sim", operation="create_order", state_changing=changing)
            assert got.kind is VenueErrorKind.INVALID_ORDER, (e.code, got)
            assert error_class(got.kind).definitive
