"""Futures margin: open-order margin, available balance, liquidation price and position rows.

Open-order margin: per symbol and side, the open non-reduce-only quantity beyond what would close the
current position, at the orders' average price (market orders: the mark), over the leverage. Available =
wallet + cross unrealized PnL - position initial margin - open-order margin.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from eclipse.venues.sim.accounts import (
    initial_margin,
    isolated_margin,
    liquidation_price,
    maint_margin,
    money,
    unrealized,
)
from eclipse.venues.sim.model import PositionView
from eclipse.venues.types import MarginMode

if TYPE_CHECKING:
    from eclipse.venues.sim.engine import MatchingEngine

__all__ = ["current_marks", "liquidation", "margin_summary", "order_margin", "position_view"]

_ZERO = Decimal(0)


def current_marks(eng: MatchingEngine) -> dict[str, Decimal]:
    """Mark prices of the symbols with a position or open orders."""
    return {k: eng.mark(k) for k in eng.specs if eng.feed.has_data(k) and eng.active(k)}


def order_margin(eng: MatchingEngine, marks: Mapping[str, Decimal]) -> Decimal:
    """Margin held by open non-reduce-only orders: per symbol and side, the quantity beyond what would
    close the position, at the orders' average price (market orders at the mark), over the leverage."""
    total = _ZERO
    for sym, sides in eng.order_agg.items():
        pos = eng.pos_state[sym]
        for sign, (qp, notional, qu) in sides.items():
            q = qp + qu
            if not q:
                continue
            if qu:
                notional += qu * marks.get(sym, _ZERO)
            offset = abs(pos.qty) if pos.qty and (pos.qty > 0) != (sign > 0) else _ZERO
            if q > offset:
                total += (q - offset) * (notional / q) / pos.leverage
    return money(total)


def margin_summary(eng: MatchingEngine) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    """(unrealized PnL, cross unrealized PnL, position initial margin, order margin, available)."""
    marks = current_marks(eng)
    upnl = cross_upnl = pos_im = _ZERO
    for sym, pos in eng.pos_state.items():
        if not pos.qty:
            continue
        u = unrealized(pos, marks[sym])
        upnl += u
        if pos.margin_mode is MarginMode.CROSS:
            cross_upnl += u
        pos_im += initial_margin(pos, marks[sym])
    order_im = order_margin(eng, marks)
    return upnl, cross_upnl, pos_im, order_im, eng.wallet + cross_upnl - pos_im - order_im


def liquidation(eng: MatchingEngine, symbol: str, mark: Decimal | None = None) -> Decimal:
    """Liquidation price of the symbol's position (0 = none); other positions at their marks."""
    pos = eng.pos_state[symbol]
    if not pos.qty:
        return _ZERO
    m = mark if mark is not None else eng.mark(symbol)
    other = eng.wallet
    for k, p in eng.pos_state.items():
        if k == symbol or not p.qty:
            continue
        if p.margin_mode is MarginMode.ISOLATED:
            other -= isolated_margin(p)
        else:
            mk = eng.mark(k)
            other += unrealized(p, mk) - maint_margin(p, mk, eng.brackets[k])
    return liquidation_price(pos, m, eng.brackets[symbol], other)


def position_view(eng: MatchingEngine, symbol: str) -> PositionView:
    """One position row (flat rows included)."""
    pos = eng.pos_state[symbol]
    mark = eng.mark(symbol) if eng.feed.has_data(symbol) else pos.entry
    im = initial_margin(pos, mark)
    return PositionView(
        symbol=symbol,
        qty=pos.qty,
        entry_price=pos.entry,
        mark_price=mark,
        unrealized_pnl=unrealized(pos, mark),
        liquidation_price=liquidation(eng, symbol, mark),
        leverage=pos.leverage,
        margin_mode=pos.margin_mode,
        isolated_margin=isolated_margin(pos) if pos.margin_mode is MarginMode.ISOLATED else _ZERO,
        initial_margin=im,
        maint_margin=maint_margin(pos, mark, eng.brackets[symbol]),
        notional=money(pos.qty * mark),
        update_ms=pos.update_ms,
    )
