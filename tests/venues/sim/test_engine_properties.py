"""Properties of random futures sessions on real bars: the wallet is the initial balance plus realized PnL
less fees, no order fills more than its quantity, trades add up to each order and to the position, trade
ids are unique, and open orders are open."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from eclipse.clock import SimClock
from eclipse.market.bars import embedded_dataset
from eclipse.venues.sim.engine import EngineConfig, MatchingEngine
from eclipse.venues.sim.instruments import FUTURES_BTCUSDT
from eclipse.venues.sim.market import FeedConfig, FeedMode, MarketFeed
from eclipse.venues.sim.model import EngineReject, PlaceRequest
from eclipse.venues.types import OrderType, Side

from .test_engine import FakeFaults

D = Decimal

BARS = embedded_dataset().head(600)
SYM = "BTCUSDT"
TICK = D("0.1")
ALLOWED = {-2019, -2021, -2022, -4164, -2027}  # margin, trigger crossed, reduce-only, notional, bracket

sides = st.sampled_from([Side.BUY, Side.SELL])
qtys = st.integers(1, 40).map(lambda k: D(k) * D("0.01"))
offsets = st.integers(-40, 40)  # bps from last
action = st.one_of(
    st.tuples(st.just("market"), sides, qtys, st.booleans()),
    st.tuples(st.just("limit"), sides, qtys, offsets),
    st.tuples(st.just("stop"), sides, qtys, offsets),
    st.tuples(st.just("tp"), sides, qtys, offsets),
    st.tuples(st.just("cancel"), st.integers(0, 10), st.booleans()),
    st.tuples(st.just("advance"), st.integers(0, 600_000)),
)


def _price(last: D, bps: int) -> D:
    return (last * (1 + D(bps) / 10_000) / TICK).quantize(D(1)) * TICK


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(action, min_size=8, max_size=40), slices=st.sampled_from([(1, 0), (3, 20_000)]))
def test_random_sessions_keep_the_books_straight(
    ops: list[tuple[object, ...]], slices: tuple[int, int]
) -> None:
    clock = SimClock(0)
    feed = MarketFeed(clock, FeedConfig(mode=FeedMode.STEPPED, rebase=False, start_offset_bars=60))
    feed.add_ohlcv(SYM, BARS)
    eng = MatchingEngine(
        [FUTURES_BTCUSDT], feed, clock, EngineConfig.futures(default_leverage=50), FakeFaults(slices=slices)
    )
    for op in ops:
        last = D(repr(feed.last_price(SYM)))
        try:
            if op[0] == "market":
                _, side, qty, reduce = op
                eng.place(PlaceRequest(SYM, side, OrderType.MARKET, qty, reduce_only=reduce))  # type: ignore[arg-type]
            elif op[0] == "limit":
                _, side, qty, bps = op
                px = _price(last, bps)  # type: ignore[arg-type]
                eng.place(PlaceRequest(SYM, side, OrderType.LIMIT, qty, price=px))  # type: ignore[arg-type]
            elif op[0] in ("stop", "tp"):
                _, side, qty, bps = op
                kind = OrderType.STOP_MARKET if op[0] == "stop" else OrderType.TAKE_PROFIT_MARKET
                trig = _price(last, bps)  # type: ignore[arg-type]
                eng.place(PlaceRequest(SYM, side, kind, qty, trigger_price=trig))  # type: ignore[arg-type]
            elif op[0] == "cancel":
                _, k, cond = op
                open_ = eng.open_orders(SYM, conditional=bool(cond))
                if open_:
                    victim = open_[int(k) % len(open_)]  # type: ignore[call-overload]
                    eng.cancel(SYM, order_id=victim.order_id, conditional=bool(cond))
            else:
                feed.advance_to(feed.now_ms() + int(op[1]))  # type: ignore[call-overload]
                eng.sync()
        except EngineReject as exc:
            if exc.code not in ALLOWED:
                raise

    trades = eng.user_trades(SYM, limit=10_000)
    ids = [t.trade_id for t in trades]
    assert ids == sorted(set(ids)) == list(range(1, len(ids) + 1))
    wallet = eng.balances()[0].wallet
    assert wallet == D(10_000) + sum((t.realized_pnl for t in trades), D(0)) - sum(
        (t.commission for t in trades), D(0)
    )
    signed = sum((t.qty if t.side is Side.BUY else -t.qty for t in trades), D(0))
    assert eng.positions(SYM)[0].qty == signed
    by_order: dict[int, D] = {}
    for t in trades:
        by_order[t.order_id] = by_order.get(t.order_id, D(0)) + t.qty
    for oid in range(1, eng.next_order_id):
        o = eng.order(SYM, order_id=oid)
        assert o.filled == by_order.get(oid, D(0))
        assert o.qty is not None
        assert o.filled <= o.qty
        assert (o.status == "FILLED") == (o.filled == o.qty)
    for o in eng.open_orders(SYM) + eng.open_orders(SYM, conditional=True):
        assert o.status in ("NEW", "PARTIALLY_FILLED")
