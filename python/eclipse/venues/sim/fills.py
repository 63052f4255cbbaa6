"""Executing fills: fees, PnL and balances of one execution, order completion, partial-fill slices.

Spot: a buy pays ``qty * price`` of the quote out of what the order locked (the rest of the lock returns
to free), commission is taken in the base asset received; a sell pays the base out of its lock and takes
commission in the quote received (Binance's rule: commission in the asset received). A spot buy that
cannot afford its fill (a later slice at a worse price) fills what it can and expires the rest.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from eclipse.venues.sim.accounts import apply_fill, money
from eclipse.venues.sim.model import TradeView
from eclipse.venues.sim.orders import OrderRecord
from eclipse.venues.types import OrderType, Side, TimeInForce

if TYPE_CHECKING:
    from eclipse.venues.sim.engine import MatchingEngine, OrderBook

__all__ = [
    "capped",
    "execute",
    "fill",
    "finish",
    "new_order",
    "record_trade",
    "split",
    "sweep_reduce_only",
    "track",
]

_ZERO = Decimal(0)
_BUY = Side.BUY
_MARKET, _LIMIT = OrderType.MARKET, OrderType.LIMIT
_IOC, _FOK = TimeInForce.IOC, TimeInForce.FOK


def track(eng: MatchingEngine, o: OrderRecord, count: bool) -> None:
    """Count (or uncount) an open non-reduce-only futures order in the per-symbol, per-side sums the
    open-order margin is computed from: (priced quantity, its notional, unpriced quantity)."""
    if o.conditional or o.reduce_only or not eng.futures:
        return
    held = eng.tracked.pop(o.order_id, None)
    agg = eng.order_agg[o.symbol][o.sign]
    if held is not None:
        agg[0] -= held[0]
        agg[1] -= held[1]
        agg[2] -= held[2]
    if count:
        rem = o.remaining
        add = (rem, rem * o.price, _ZERO) if o.price is not None else (_ZERO, _ZERO, rem)
        agg[0] += add[0]
        agg[1] += add[1]
        agg[2] += add[2]
        eng.tracked[o.order_id] = add


def finish(eng: MatchingEngine, o: OrderRecord, status: str, t: int) -> None:
    """Make ``o`` terminal with ``status``; releases what a spot order still locks."""
    book = eng.algo if o.conditional else eng.regular
    track(eng, o, False)
    o.status = status
    o.updated_ms = t
    o.slices.clear()
    if o.locked:
        bal = eng.assets[o.lock_asset]
        bal.locked -= o.locked
        bal.free += o.locked
        o.locked = _ZERO
    book.open[o.symbol].pop(o.order_id, None)
    if book.cid_open.get(o.client_id) == o.order_id:
        del book.cid_open[o.client_id]
    eng.terminal.append((book.tag, o.order_id))
    while len(eng.terminal) > eng.config.max_terminal_orders:
        tag, oid = eng.terminal.popleft()
        (eng.algo if tag == "a" else eng.regular).orders.pop(oid, None)
    eng.touch(o)


def record_trade(eng: MatchingEngine, t: TradeView) -> None:
    """Keep a new trade (in memory, bounded) and queue it for the store."""
    lst = eng.trades_mem.setdefault(t.symbol, [])
    lst.append(t)
    cap = eng.config.max_trades
    if len(lst) > cap + cap // 4:
        del lst[: len(lst) - cap]
        eng.trades_evicted = True
    eng.new_trades.append(t)


def fill(eng: MatchingEngine, o: OrderRecord, qty: Decimal, px: Decimal, maker: bool, t: int) -> None:
    """Execute ``qty`` of ``o`` at ``px``: book fee/PnL/balances, record the trade, update the order."""
    spec = eng.specs[o.symbol]
    rate = eng.config.maker_fee if maker else eng.config.taker_fee
    realized = _ZERO
    expire_rest = False
    if eng.futures:
        pos = eng.pos_state[o.symbol]
        if o.reduce_only:
            if pos.qty == 0 or (pos.qty > 0) == (o.sign > 0):
                finish(eng, o, "EXPIRED", t)
                return
            qty = min(qty, abs(pos.qty))
        notional = qty * px
        commission = money(notional * rate)
        commission_asset = eng.settle
        realized = apply_fill(pos, o.sign, qty, px)
        pos.update_ms = t
        eng.wallet += realized - commission
    else:
        base, quote = eng.assets[spec.base], eng.assets[spec.quote]
        if o.side is _BUY:
            budget = o.locked + quote.free
            if qty * px > budget:
                qty = (budget / px / spec.step_size).to_integral_value(ROUND_FLOOR) * spec.step_size
                expire_rest = True
                if qty <= 0:
                    finish(eng, o, "EXPIRED", t)
                    return
            notional = qty * px
            release = min(o.locked, max(qty * o.lock_price, notional - quote.free))
            quote.locked -= release
            o.locked -= release
            quote.free += release - notional
            commission = money(qty * rate)
            commission_asset = spec.base
            base.free += qty - commission
        else:
            notional = qty * px
            release = min(o.locked, qty)
            base.locked -= release
            o.locked -= release
            base.free -= qty - release
            commission = money(notional * rate)
            commission_asset = spec.quote
            quote.free += notional - commission
    o.filled += qty
    o.cum_quote += notional
    o.updated_ms = t
    o.status = "FILLED" if o.qty is not None and o.filled >= o.qty else "PARTIALLY_FILLED"
    track(eng, o, o.status != "FILLED")
    eng.update_ms = t
    trade = TradeView(
        eng.next_trade_id, o.order_id, o.client_id, o.symbol, o.side, px, qty, notional,
        commission, commission_asset, realized, maker, t,
    )  # fmt: skip
    eng.next_trade_id += 1
    record_trade(eng, trade)
    eng.touch(o)
    if o.status == "FILLED" or expire_rest:
        finish(eng, o, o.status if o.status == "FILLED" else "EXPIRED", t)
    if eng.futures:
        sweep_reduce_only(eng, o.symbol, t)


def sweep_reduce_only(eng: MatchingEngine, symbol: str, t: int) -> None:
    """Expire open reduce-only orders that can no longer reduce (flat, or position on their side)."""
    q = eng.pos_state[symbol].qty
    for o in list(eng.regular.open[symbol].values()):
        if o.reduce_only and (q == 0 or (q > 0) == (o.sign > 0)):
            finish(eng, o, "EXPIRED", t)


def split(eng: MatchingEngine, symbol: str, total: Decimal, n: int) -> list[Decimal]:
    """``total`` in ``n`` slices on the step (the last takes the remainder)."""
    step = eng.specs[symbol].step_size
    n = max(1, min(n, int(total / step)))
    part = (total / n / step).to_integral_value(ROUND_FLOOR) * step
    return [part] * (n - 1) + [total - part * (n - 1)]


def execute(
    eng: MatchingEngine, o: OrderRecord, t: int, price: Decimal, maker: bool, allow_slices: bool = True
) -> None:
    """Fill ``o``'s remainder at ``price`` now, or its first slice now and schedule the rest when the
    fault plan says so (IOC keeps only the first slice; FOK never slices)."""
    n, every = (1, 0)
    if allow_slices and eng.has_faults and o.time_in_force is not _FOK:
        n, every = eng.faults.fill_slices(o.view())
    sizes = split(eng, o.symbol, o.remaining, n)
    fill(eng, o, sizes[0], price, maker, t)
    if not o.is_open:
        return
    if len(sizes) > 1 and o.time_in_force is not _IOC:
        o.slices = [(t + k * max(every, 1), q) for k, q in enumerate(sizes[1:], start=1)]
        o.slice_maker = maker
        eng.touch(o)
    elif o.type is _MARKET or o.time_in_force in (_IOC, _FOK):
        finish(eng, o, "EXPIRED", t)


def capped(eng: MatchingEngine, o: OrderRecord, px: Decimal) -> Decimal:
    """A taker price limited by the order's own limit price."""
    if o.type is not _LIMIT or o.price is None:
        return px
    return min(px, o.price) if o.side is _BUY else max(px, o.price)


def new_order(
    eng: MatchingEngine,
    book: OrderBook,
    symbol: str,
    side: Side,
    type_: OrderType,
    t: int,
    *,
    qty: Decimal | None,
    client_id: str | None = None,
    price: Decimal | None = None,
    trigger_price: Decimal | None = None,
    time_in_force: TimeInForce | None = None,
    reduce_only: bool = False,
    close_position: bool = False,
) -> OrderRecord:
    """Create and register an open order with the next id of ``book`` (a ``sim<f|s>-<id>`` client id
    when none is given)."""
    conditional = book is eng.algo
    if conditional:
        oid, eng.next_algo_id = eng.next_algo_id, eng.next_algo_id + 1
    else:
        oid, eng.next_order_id = eng.next_order_id, eng.next_order_id + 1
    cid = client_id or f"sim{eng.ns[0]}-{'a' if conditional else ''}{oid}"
    o = OrderRecord(
        order_id=oid,
        client_id=cid,
        symbol=symbol,
        side=side,
        type=type_,
        qty=qty,
        price=price,
        trigger_price=trigger_price,
        time_in_force=time_in_force,
        reduce_only=reduce_only,
        close_position=close_position,
        conditional=conditional,
        created_ms=t,
        updated_ms=t,
    )
    book.orders[oid] = o
    book.open[symbol][oid] = o
    book.cid_open[cid] = oid
    book.cid_last[cid] = oid
    track(eng, o, True)
    eng.touch(o)
    return o
