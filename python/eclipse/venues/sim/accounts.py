"""Account arithmetic of the matching engine: futures positions and margin, spot balances.

Futures (one settle-asset wallet, one signed position per symbol, mark = last price):

- a fill in the position's direction moves the entry to the quantity-weighted average; an opposite fill
  realizes ``closed * (price - entry) * sign(position)`` and, past zero, flips with entry = fill price;
- initial margin = ``|qty| * mark / leverage``; maintenance margin = ``|notional| * mmr - cum`` from the
  symbol's leverage bracket at the current notional;
- liquidation price (**cross**, on the wallet): the mark ``P`` at which the margin balance equals the
  maintenance margin with every other position's mark held: ``W + q (P - e) = |q| P mmr - cum`` where
  ``W`` = wallet + other cross positions' unrealized PnL - their maintenance margin - isolated margins.
  **Isolated**: the same with ``W`` = the position's own margin ``|q| e / leverage``. Long:
  ``P = (q e - W - cum) / (q (1 - mmr))``; short (``a = -q``): ``P = (a e + W + cum) / (a (1 + mmr))``;
  0 when ``P <= 0`` (never liquidated).

Realized PnL and fees are quantized to 1e-8 at each fill so that the wallet is exactly
``initial + sum(realized) - sum(fees)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from eclipse.venues.sim.instruments import LeverageBracket, bracket_for
from eclipse.venues.types import MarginMode

__all__ = [
    "MONEY_EXP",
    "PositionState",
    "SpotBalance",
    "apply_fill",
    "initial_margin",
    "isolated_margin",
    "liquidation_price",
    "maint_margin",
    "money",
    "unrealized",
]

MONEY_EXP = Decimal("1e-8")
_ENTRY_EXP = Decimal("1e-10")
_ZERO = Decimal(0)
_ONE = Decimal(1)


def money(x: Decimal) -> Decimal:
    """``x`` rounded half-even to 1e-8 (how fees and PnL are booked)."""
    r = x.quantize(MONEY_EXP, rounding=ROUND_HALF_EVEN)
    return r if r else _ZERO


@dataclass(slots=True)
class PositionState:
    """A futures position and its symbol's settings (``qty`` signed)."""

    qty: Decimal = _ZERO
    entry: Decimal = _ZERO
    leverage: int = 20
    margin_mode: MarginMode = MarginMode.CROSS
    update_ms: int = 0


@dataclass(slots=True)
class SpotBalance:
    """One spot asset: ``free`` for new orders, ``locked`` in open orders."""

    free: Decimal = _ZERO
    locked: Decimal = _ZERO


def apply_fill(pos: PositionState, sign: int, qty: Decimal, price: Decimal) -> Decimal:
    """Book a fill of ``qty`` (> 0) in direction ``sign`` at ``price``; returns the realized PnL."""
    q = pos.qty
    if q == 0 or (q > 0) == (sign > 0):
        size = abs(q)
        pos.entry = ((size * pos.entry + qty * price) / (size + qty)).quantize(_ENTRY_EXP)
        pos.qty = q + sign * qty
        return _ZERO
    closed = min(qty, abs(q))
    realized = money(closed * (price - pos.entry) * (1 if q > 0 else -1))
    pos.qty = q + sign * qty
    if pos.qty == 0:
        pos.entry = _ZERO
    elif qty > abs(q):
        pos.entry = price
    return realized


def unrealized(pos: PositionState, mark: Decimal) -> Decimal:
    """Unrealized PnL at ``mark``."""
    return money(pos.qty * (mark - pos.entry)) if pos.qty else _ZERO


def initial_margin(pos: PositionState, mark: Decimal) -> Decimal:
    """``|qty| * mark / leverage``."""
    return money(abs(pos.qty) * mark / pos.leverage) if pos.qty else _ZERO


def isolated_margin(pos: PositionState) -> Decimal:
    """An isolated position's own margin: ``|qty| * entry / leverage``."""
    return money(abs(pos.qty) * pos.entry / pos.leverage) if pos.qty else _ZERO


def maint_margin(pos: PositionState, mark: Decimal, brackets: tuple[LeverageBracket, ...]) -> Decimal:
    """``|notional| * mmr - cum`` of the bracket holding the notional at ``mark``."""
    if not pos.qty:
        return _ZERO
    notional = abs(pos.qty) * mark
    b = bracket_for(brackets, notional)
    return money(max(_ZERO, notional * b.maint_margin_ratio - b.cum))


def liquidation_price(
    pos: PositionState, mark: Decimal, brackets: tuple[LeverageBracket, ...], cross_other: Decimal
) -> Decimal:
    """Mark price at which the position is liquidated (formula in the module docstring); 0 = never.

    ``cross_other``: wallet + other cross positions' unrealized PnL - their maintenance margin - isolated
    margins (ignored for an isolated position).
    """
    q = pos.qty
    if not q:
        return _ZERO
    b = bracket_for(brackets, abs(q) * mark)
    mmr, cum = b.maint_margin_ratio, b.cum
    w = isolated_margin(pos) if pos.margin_mode is MarginMode.ISOLATED else cross_other
    if q > 0:
        p = (q * pos.entry - w - cum) / (q * (_ONE - mmr))
    else:
        a = -q
        p = (a * pos.entry + w + cum) / (a * (_ONE + mmr))
    return p if p > 0 else _ZERO
