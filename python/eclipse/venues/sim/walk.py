"""The engine's walk along one symbol's price path: scheduled slices, limit fills, triggers, liquidation.

Each round finds the earliest pending event from the current path position and executes it. A level
crossed during a continuous move is crossed at the interpolated time, so a stop nearer the previous price
fires before a liquidation further on. A continuous move fills a trigger
at its own price; a jump (bar to bar, trade to trade, a data gap) fills at the price jumped to.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from eclipse.venues.sim.accounts import initial_margin
from eclipse.venues.sim.fills import capped, execute, fill, finish, new_order
from eclipse.venues.sim.margin import liquidation, margin_summary
from eclipse.venues.sim.orders import OrderRecord
from eclipse.venues.types import OrderType, Side

if TYPE_CHECKING:
    from eclipse.venues.sim.engine import MatchingEngine

__all__ = ["deliver_slice", "liquidate", "trigger", "walk_symbol"]

_SLICE, _LIMIT, _ALGO, _LIQ = 0, 1, 2, 3
_ZERO = Decimal(0)
_BUY = Side.BUY
_STOP, _LMT = OrderType.STOP_MARKET, OrderType.LIMIT


def _crossing(
    hits: NDArray[np.bool_],
    level: float,
    pos: int,
    cur: float,
    cur_t: int,
    ts: NDArray[np.int64],
    pr: NDArray[np.float64],
    jump: NDArray[np.bool_],
) -> tuple[int, int, float] | None:
    """First point from ``pos`` where ``hits``: (point index, crossing time, fill price). A continuous move
    through the level crosses it at the level, at the interpolated time; a jump fills at the point."""
    k = int(hits.argmax())
    if not hits[k]:
        return None
    idx = pos + k
    start, start_t = (cur, cur_t) if k == 0 else (float(pr[idx - 1]), int(ts[idx - 1]))
    end, end_t = float(pr[idx]), int(ts[idx])
    if not jump[idx] and min(start, end) <= level <= max(start, end):
        frac = (level - start) / (end - start) if end != start else 1.0
        return idx, min(end_t, start_t + round(frac * (end_t - start_t))), level
    return idx, end_t, end


def walk_symbol(eng: MatchingEngine, sym: str, t0: int, t1: int) -> None:
    """Process every event of ``sym`` in ``(t0, t1]`` (market time), in time order; at the same time,
    scheduled slices first, then conditionals, limits, liquidation, each by id."""
    path = eng.feed.path_since(sym, t0, t1)
    ts, pr, jump = path.ts, path.price, path.jump
    n = len(ts)
    pos, cur, cur_t = 0, path.start, t0
    reg, alg = eng.regular.open[sym], eng.algo.open[sym]
    position = eng.pos_state[sym]
    liq_at: float | None = None  # the liquidation price, recomputed after every event
    while True:
        best: tuple[int, int, int] | None = None
        act: tuple[int, OrderRecord | None, float, int] = (-1, None, 0.0, 0)
        for o in reg.values():
            if o.slices and o.slices[0][0] <= t1:
                key = (o.slices[0][0], 0, o.order_id)
                if best is None or key < best:
                    best, act = key, (_SLICE, o, 0.0, 0)
        if pos < n:
            seg = pr[pos:]
            lo_p, hi_p = float(seg.min()), float(seg.max())  # cheap skip of levels the path cannot reach
            for a in alg.values():
                if a.trigger_price is None:
                    continue
                level = float(a.trigger_price)
                rising = (a.type is _STOP) == (a.side is _BUY)
                if (hi_p < level) if rising else (lo_p > level):
                    continue
                c = _crossing(seg >= level if rising else seg <= level, level, pos, cur, cur_t, ts, pr, jump)
                if c is not None and (best is None or (c[1], 1, a.order_id) < best):
                    best, act = (c[1], 1, a.order_id), (_ALGO, a, c[2], c[0])
            for o in reg.values():
                if o.slices or o.type is not _LMT or o.price is None:
                    continue
                level = float(o.price)
                buy = o.side is _BUY
                if (lo_p > level) if buy else (hi_p < level):
                    continue
                hits = seg <= level if buy else seg >= level
                c = _crossing(hits, level, pos, cur, cur_t, ts, pr, jump)
                if c is not None and (best is None or (c[1], 2, o.order_id) < best):
                    best, act = (c[1], 2, o.order_id), (_LIMIT, o, c[2], c[0])
            if eng.futures and position.qty:
                if liq_at is None:
                    liq_at = float(liquidation(eng, sym, eng.to_price(sym, cur)))
                lp = liq_at
                if lp > 0:
                    hits = seg <= lp if position.qty > 0 else seg >= lp
                    c = _crossing(hits, lp, pos, cur, cur_t, ts, pr, jump)
                    if c is not None and (best is None or (c[1], 3, 0) < best):
                        best, act = (c[1], 3, 0), (_LIQ, None, c[2], c[0])
        if best is None:
            return
        t = best[0]
        kind, rec, x, idx = act
        liq_at = None
        if kind == _SLICE and rec is not None:
            deliver_slice(eng, rec, t)
            pos = max(pos, int(np.searchsorted(ts, t, "left")))
            cur, cur_t = eng.feed.price_at(sym, t), t
            continue
        pos, cur, cur_t = idx, x, t
        if kind == _LIMIT and rec is not None and rec.price is not None:
            execute(eng, rec, t, rec.price, maker=True)
        elif kind == _ALGO and rec is not None:
            trigger(eng, rec, t, x)
        elif kind == _LIQ:
            liquidate(eng, sym, t, x)


def deliver_slice(eng: MatchingEngine, o: OrderRecord, t: int) -> None:
    """Fill the next scheduled slice of ``o`` (maker slices at the limit price, taker ones at the market)."""
    _, qty = o.slices.pop(0)
    if o.slice_maker and o.price is not None:
        px = o.price
    else:
        bid, ask = eng.feed.synthetic_quote(o.symbol, eng.feed.price_at(o.symbol, t))
        px = capped(eng, o, eng.taker_price(o.symbol, o.side, ask if o.side is Side.BUY else bid, qty))
    eng.touch(o)
    fill(eng, o, qty, px, o.slice_maker, t)


def trigger(eng: MatchingEngine, a: OrderRecord, t: int, x: float) -> None:
    """Fire conditional ``a`` at path price ``x``: it becomes a MARKET order (status TRIGGERED), or EXPIRED
    when it may only reduce and there is nothing to reduce, or when margin is short. The market order has
    the conditional's client id, or its own when an open regular order already uses that id."""
    sym = a.symbol
    pos = eng.pos_state[sym]
    reduce = a.reduce_only or a.close_position
    if eng.futures and reduce and (pos.qty == 0 or (pos.qty > 0) == (a.sign > 0)):
        finish(eng, a, "EXPIRED", t)
        return
    qty = abs(pos.qty) if a.close_position else a.remaining
    bid, ask = eng.feed.synthetic_quote(sym, x)
    px = eng.taker_price(sym, a.side, ask if a.side is Side.BUY else bid, qty)
    if eng.futures and not reduce:
        opening = qty if pos.qty == 0 or (pos.qty > 0) == (a.sign > 0) else max(_ZERO, qty - abs(pos.qty))
        probe = type(pos)(opening, px, pos.leverage, pos.margin_mode)
        if initial_margin(probe, px) > margin_summary(eng)[4]:
            finish(eng, a, "EXPIRED", t)
            return
    # the market order keeps the conditional's client id, unless an open regular order holds that id (the
    # books' ids are separate): then it takes its own generated id, so the regular book never has two open
    # orders with one client id and a lookup by that id still finds the open order (``actualOrderId``
    # links the two either way)
    cid = None if a.client_id in eng.regular.cid_open else a.client_id
    m = new_order(
        eng, eng.regular, sym, a.side, OrderType.MARKET, t, client_id=cid, qty=qty, reduce_only=reduce
    )
    m.lock_asset, m.lock_price, m.locked = a.lock_asset, a.lock_price, a.locked
    a.locked = _ZERO
    a.triggered_order_id = m.order_id
    finish(eng, a, "TRIGGERED", t)
    execute(eng, m, t, px, maker=False)


def liquidate(eng: MatchingEngine, sym: str, t: int, x: float) -> None:
    """Close the whole position at path price ``x`` (taker fee) with an ``autoclose-`` market order,
    after canceling the symbol's open orders, as Binance does."""
    pos = eng.pos_state[sym]
    for o in list(eng.regular.open[sym].values()):
        finish(eng, o, "CANCELED", t)
    long = pos.qty > 0
    side = Side.SELL if long else Side.BUY
    px = eng.to_price(sym, x, ROUND_FLOOR if long else ROUND_CEILING)
    qty = abs(pos.qty)
    m = new_order(
        eng,
        eng.regular,
        sym,
        side,
        OrderType.MARKET,
        t,
        client_id=f"autoclose-{t}",
        qty=qty,
        reduce_only=True,
    )
    fill(eng, m, qty, px, False, t)
