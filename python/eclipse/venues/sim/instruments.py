"""Instrument specs the simulator lists: Binance's BTCUSDT (USD-M and spot) and a guess for other data files.

Guess rule (:func:`guess_instrument`), with ``p`` the reference price and ``k = floor(log10(p))``:

- tick = ``10**(k - 5)`` (six significant digits; never finer than ``1e-8``): BTC at 46,000 -> 0.1,
  XRP at 1.19 -> 0.00001, an alt at 0.0016 BTC -> 1e-8;
- min notional by quote asset: USDT/USDC/BUSD/FDUSD/USD 5, BTC 0.0001, ETH 0.001, BNB 0.01;
- step = ``10**(floor(log10(min_notional / p)) - 1)``, clamped to ``[1e-8, 1]`` (a tenth of the smallest
  order's size order of magnitude): XRP -> 0.1, the alt -> 0.001; min_qty = step;
- max_qty = the power of ten at or above ``10**7`` quote units / ``p`` (BTC -> 1000);
- max leverage 50 for linear (125 is BTC's), 1 for spot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from eclipse.venues.sim.model import InstrumentSpec
from eclipse.venues.types import MarketKind

__all__ = [
    "FUTURES_BTCUSDT",
    "SPOT_BTCUSDT",
    "LeverageBracket",
    "bracket_for",
    "default_instruments",
    "guess_instrument",
    "leverage_brackets",
    "max_notional_for",
    "min_notional_for_quote",
]

FUTURES_BTCUSDT = InstrumentSpec(
    symbol="BTCUSDT",
    base="BTC",
    quote="USDT",
    kind=MarketKind.LINEAR,
    tick_size=Decimal("0.1"),
    step_size=Decimal("0.001"),
    min_qty=Decimal("0.001"),
    max_qty=Decimal("1000"),
    min_notional=Decimal("100"),
    price_precision=2,
    qty_precision=3,
    max_leverage=125,
    maint_margin_rate=Decimal("0.004"),
)

SPOT_BTCUSDT = InstrumentSpec(
    symbol="BTCUSDT",
    base="BTC",
    quote="USDT",
    kind=MarketKind.SPOT,
    tick_size=Decimal("0.01"),
    step_size=Decimal("0.00001"),
    min_qty=Decimal("0.00001"),
    max_qty=Decimal("9000"),
    min_notional=Decimal("5"),
    price_precision=2,
    qty_precision=5,
    max_leverage=1,
    maint_margin_rate=Decimal(0),
)

_MIN_NOTIONAL = {
    "USDT": Decimal(5),
    "USDC": Decimal(5),
    "BUSD": Decimal(5),
    "FDUSD": Decimal(5),
    "USD": Decimal(5),
    "BTC": Decimal("0.0001"),
    "ETH": Decimal("0.001"),
    "BNB": Decimal("0.01"),
}
_FINEST = Decimal("1e-8")


def default_instruments(kind: MarketKind) -> dict[str, InstrumentSpec]:
    """The default listing of one account kind: ``{"BTCUSDT": spec}``."""
    spec = FUTURES_BTCUSDT if kind is MarketKind.LINEAR else SPOT_BTCUSDT
    return {spec.symbol: spec}


def min_notional_for_quote(quote: str) -> Decimal:
    """Smallest order value for a quote asset; ValueError naming the known quotes for any other."""
    try:
        return _MIN_NOTIONAL[quote.upper()]
    except KeyError:
        known = ", ".join(sorted(_MIN_NOTIONAL))
        raise ValueError(
            f"no min notional rule for quote {quote!r} (known: {known}); pass min_notional"
        ) from None


def _pow10(exp: int) -> Decimal:
    return Decimal(1).scaleb(exp)


def _decimals(x: Decimal) -> int:
    exp = x.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def guess_instrument(
    symbol: str,
    base: str,
    quote: str,
    kind: MarketKind,
    reference_price: Decimal | float,
    *,
    min_notional: Decimal | None = None,
) -> InstrumentSpec:
    """A plausible spec for a symbol the simulator has data for (rule in the module docstring)."""
    price = Decimal(str(reference_price))
    if not price > 0:
        raise ValueError(f"{symbol}: reference price must be > 0, got {reference_price!r}")
    k = math.floor(math.log10(float(price)))
    tick = max(_pow10(k - 5), _FINEST)
    notional = min_notional if min_notional is not None else min_notional_for_quote(quote)
    step_exp = math.floor(math.log10(float(notional / price))) - 1
    step = min(max(_pow10(step_exp), _FINEST), Decimal(1))
    max_qty = max(_pow10(math.ceil(math.log10(1e7 / float(price)))), step)
    linear = kind is MarketKind.LINEAR
    return InstrumentSpec(
        symbol=symbol,
        base=base,
        quote=quote,
        kind=kind,
        tick_size=tick,
        step_size=step,
        min_qty=step,
        max_qty=max_qty,
        min_notional=notional,
        price_precision=_decimals(tick),
        qty_precision=_decimals(step),
        max_leverage=50 if linear else 1,
        maint_margin_rate=Decimal("0.004") if linear else Decimal(0),
    )


@dataclass(frozen=True, slots=True)
class LeverageBracket:
    """One notional bracket (Binance ``leverageBracket``): positions in ``[floor, cap)`` allow at most
    ``initial_leverage`` and keep ``maint_margin_ratio * notional - cum`` as maintenance margin."""

    bracket: int
    initial_leverage: int
    notional_floor: Decimal
    notional_cap: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal


# Binance's BTCUSDT table: (max leverage, notional cap, maintenance margin ratio).
_BTC_TABLE = (
    (125, 50_000, "0.004"),
    (100, 600_000, "0.005"),
    (50, 3_000_000, "0.01"),
    (20, 12_000_000, "0.025"),
    (10, 70_000_000, "0.05"),
    (5, 100_000_000, "0.1"),
    (4, 230_000_000, "0.125"),
    (3, 480_000_000, "0.15"),
    (2, 600_000_000, "0.25"),
    (1, 800_000_000, "0.5"),
)


def leverage_brackets(spec: InstrumentSpec) -> tuple[LeverageBracket, ...]:
    """The bracket table of a linear instrument: Binance's BTCUSDT table for every symbol, the first
    bracket's ratio set to ``spec.maint_margin_rate`` and leverage capped at ``spec.max_leverage``;
    ``cum`` follows Binance's rule ``cum_k = cum_(k-1) + floor_k * (mmr_k - mmr_(k-1))``."""
    out: list[LeverageBracket] = []
    floor = Decimal(0)
    cum = Decimal(0)
    prev_mmr = Decimal(0)
    for i, (lev, cap, mmr_text) in enumerate(_BTC_TABLE, start=1):
        mmr = spec.maint_margin_rate if i == 1 else max(Decimal(mmr_text), spec.maint_margin_rate)
        cum += floor * (mmr - prev_mmr)
        out.append(LeverageBracket(i, min(lev, spec.max_leverage), floor, Decimal(cap), mmr, cum))
        floor = Decimal(cap)
        prev_mmr = mmr
    return tuple(out)


def bracket_for(brackets: tuple[LeverageBracket, ...], notional: Decimal) -> LeverageBracket:
    """The bracket holding ``|notional|`` (the last one beyond the table)."""
    n = abs(notional)
    for b in brackets:
        if n < b.notional_cap:
            return b
    return brackets[-1]


def max_notional_for(brackets: tuple[LeverageBracket, ...], leverage: int) -> Decimal:
    """Largest position notional allowed at ``leverage`` (Binance's ``maxNotionalValue``)."""
    best = Decimal(0)
    for b in brackets:
        if b.initial_leverage >= leverage:
            best = b.notional_cap
    return best
