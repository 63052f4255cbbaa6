"""Entry sizing: base size, scales, venue rounding -> a market :class:`~eclipse.contracts.RouterRequest`.

Base size, most specific first: ``FIXED_QTY_<SYMBOL>``, ``FIXED_NOTIONAL_USDT_<SYMBOL>``, ``FIXED_QTY``,
``FIXED_NOTIONAL_USDT`` (a value of 0 means "not set"). ``<SYMBOL>`` is the full key (``DOGEUSDT``) or the
base asset (``DOGE``); the full key wins when both are set.

Scales (each in [0, 1], so a scale never increases a size), applied in this order to the qty in qty mode and
to the notional otherwise, each emitting ``entry.qty_scaled`` / ``entry.notional_scaled`` with ``reason``,
``scale``, ``before`` and ``after`` when it changes the size:

1. ``adaptive``: ``ADAPTIVE_GUARD_NOTIONAL_SCALE`` (``ADAPTIVE_GUARD_QTY_SCALE`` in qty mode) x the guard's
   ``notional_scale`` (``qty_scale``), the guard's value clamped to [0, 1];
2. ``confidence``: ``ENTRY_CONF_SCALE_*``, linear between MIN_CONF -> MIN and MAX_CONF -> MAX;
3. ``corr_group_exposure``: ``CORR_GROUP_EXPOSURE_SCALE_*`` (see :class:`CorrExposureScale`).

The qty is then rounded *down* to the market's step and capped at its max qty; below the minimum qty or the
minimum notional the entry is blocked (``entry.blocked``, reason ``size_below_min_qty`` /
``size_below_min_notional``), never rounded up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from eclipse.contracts import EntryIntent, GuardKnobs, IntentKind, PositionSnapshot, RouterRequest
from eclipse.execution.entries.groups import CorrCaps, CorrExposureScale
from eclipse.execution.entries.values import base_asset, symbol_key
from eclipse.telemetry import Telemetry
from eclipse.venues.types import Market, OrderType

__all__ = [
    "AppliedScale",
    "ConfidenceScale",
    "SizeResult",
    "Sizer",
    "SizingSettings",
    "client_order_id",
    "round_down",
    "symbol_override",
]

_ZERO = Decimal(0)


def client_order_id(intent_id: str, attempt: int = 0) -> str:
    """The client order id of the ``attempt``-th order of an intent (``<intent_id>-0`` first)."""
    return f"{intent_id}-{attempt}"


def round_down(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded down to a multiple of ``step`` (unchanged when step <= 0)."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def symbol_override(overrides: Mapping[str, Decimal], symbol: str) -> Decimal | None:
    """The override for ``symbol``: by full key (``DOGEUSDT``) first, then by base asset (``DOGE``)."""
    for key in (symbol_key(symbol), base_asset(symbol)):
        if key in overrides:
            return overrides[key]
    return None


def _scale(applied: list[AppliedScale], reason: str, factor: float, value: Decimal, detail: str) -> Decimal:
    """``value`` x ``factor``, recorded in ``applied``."""
    after = value * Decimal(repr(factor))
    applied.append(AppliedScale(reason, factor, value, after, detail))
    return after


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))


@dataclass(frozen=True, slots=True)
class ConfidenceScale:
    """``ENTRY_CONF_SCALE_*``: ``scale_min`` at or below ``min_conf``, ``scale_max`` at or above ``max_conf``,
    linear in between."""

    enabled: bool = False
    min_conf: float = 0.35
    max_conf: float = 0.75
    scale_min: float = 0.5
    scale_max: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_conf < self.max_conf <= 1:
            raise ValueError(f"need 0 <= min_conf < max_conf <= 1, got {self.min_conf}, {self.max_conf}")
        if not 0 <= self.scale_min <= self.scale_max <= 1:
            raise ValueError(f"need 0 <= scale_min <= scale_max <= 1, got {self.scale_min}, {self.scale_max}")

    def factor(self, confidence: float) -> float:
        """The size scale for ``confidence`` (1.0 when disabled)."""
        if not self.enabled:
            return 1.0
        if confidence != confidence or confidence <= self.min_conf:  # NaN -> the low end
            return self.scale_min
        if confidence >= self.max_conf:
            return self.scale_max
        t = (confidence - self.min_conf) / (self.max_conf - self.min_conf)
        return _unit(self.scale_min + t * (self.scale_max - self.scale_min))


@dataclass(frozen=True, slots=True)
class SizingSettings:
    """Everything sizing needs (``*_overrides`` are the ``_<SYMBOL>`` suffix knobs, keyed by suffix)."""

    fixed_notional: Decimal = Decimal(6)
    fixed_qty: Decimal = _ZERO
    notional_overrides: Mapping[str, Decimal] = field(default_factory=dict)
    qty_overrides: Mapping[str, Decimal] = field(default_factory=dict)
    confidence: ConfidenceScale = field(default_factory=ConfidenceScale)
    adaptive_notional_scale: float = 1.0
    adaptive_qty_scale: float = 1.0
    exposure: CorrExposureScale = field(default_factory=CorrExposureScale)
    caps: CorrCaps = field(default_factory=CorrCaps)

    def base_size(self, symbol: str) -> tuple[str, Decimal, str]:
        """``(mode "qty" | "notional", size, the knob it came from)`` for ``symbol``."""
        qty = symbol_override(self.qty_overrides, symbol)
        if qty is not None and qty > 0:
            return "qty", qty, f"FIXED_QTY_{symbol_key(symbol)}"
        notional = symbol_override(self.notional_overrides, symbol)
        if notional is not None and notional > 0:
            return "notional", notional, f"FIXED_NOTIONAL_USDT_{symbol_key(symbol)}"
        if self.fixed_qty > 0:
            return "qty", self.fixed_qty, "FIXED_QTY"
        return "notional", self.fixed_notional, "FIXED_NOTIONAL_USDT"


@dataclass(frozen=True, slots=True)
class AppliedScale:
    """One scale that changed the size."""

    reason: str
    scale: float
    before: Decimal
    after: Decimal
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SizeResult:
    """The sized order (``request``) or why there is none (``reason``, ``detail``), with the arithmetic."""

    request: RouterRequest | None
    mode: str
    base: Decimal
    qty: Decimal
    notional: Decimal
    scales: tuple[AppliedScale, ...] = ()
    reason: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True when there is a request."""
        return self.request is not None


class Sizer:
    """Sizes entry intents against a venue :class:`Market` (step, min qty, min notional)."""

    def __init__(self, settings: SizingSettings, telemetry: Telemetry) -> None:
        self.settings = settings
        self._telemetry = telemetry
        self._base_for: SizingSettings | None = None
        self._base: dict[str, tuple[str, Decimal, str]] = {}
        """``settings.base_size`` per symbol, for the settings object it was computed from."""

    def _base_size(self, symbol: str) -> tuple[str, Decimal, str]:
        s = self.settings
        if s is not self._base_for:  # settings replaced: start over
            self._base_for, self._base = s, {}
        hit = self._base.get(symbol)
        if hit is None:
            hit = self._base[symbol] = s.base_size(symbol)
        return hit

    def size(
        self,
        intent: EntryIntent,
        market: Market,
        positions: Sequence[PositionSnapshot],
        guard: GuardKnobs,
    ) -> SizeResult:
        """Size ``intent``: the market order to send, or a block (also emitted as ``entry.blocked``)."""
        if symbol_key(market.symbol) != symbol_key(intent.symbol):
            raise ValueError(f"market {market.symbol} does not match the intent's symbol {intent.symbol}")
        s = self.settings
        mode, base, source = self._base_size(intent.symbol)
        qty_mode = mode == "qty"
        price = intent.ref_price
        unit = price * market.contract_size
        value = base
        applied: list[AppliedScale] = []
        # Each scale applies unless it is >= 1 (a NaN applies, as before): the detail text is built only then.
        static = s.adaptive_qty_scale if qty_mode else s.adaptive_notional_scale
        dynamic = guard.qty_scale if qty_mode else guard.notional_scale
        factor = _unit(static) * _unit(dynamic)
        if not factor >= 1.0:
            value = _scale(applied, "adaptive", factor, value, guard.reason)
        factor = s.confidence.factor(intent.confidence)
        if not factor >= 1.0:
            value = _scale(applied, "confidence", factor, value, f"confidence={intent.confidence:.4f}")
        planned = value * unit if qty_mode else value
        factor, why = s.exposure.factor(intent.symbol, planned, positions, s.caps)
        if not factor >= 1.0:
            value = _scale(applied, "corr_group_exposure", factor, value, why)
        if applied:
            self._emit_scales(intent, mode, applied)

        raw_qty = value if qty_mode else (value / unit if unit > 0 else _ZERO)
        qty = round_down(raw_qty, market.step_size)
        if market.max_qty is not None and qty > market.max_qty:
            qty = round_down(market.max_qty, market.step_size)
        notional = qty * unit

        block: tuple[str, str] | None = None
        if not market.active:
            block = "market_inactive", f"{market.symbol} is not trading"
        elif price <= 0:
            block = "no_price", f"reference price {price}"
        elif qty <= 0 or qty < market.min_qty:
            block = "size_below_min_qty", f"qty {qty} (from {raw_qty:.8g}, {source}) < {market.min_qty}"
        elif notional < market.min_notional:
            block = "size_below_min_notional", f"notional {notional:.4f} ({source}) < {market.min_notional}"
        if block is not None:
            return self._blocked(intent, mode, base, qty, notional, applied, *block)
        request = RouterRequest(
            intent_id=intent.intent_id,
            kind=IntentKind.ENTRY,
            symbol=intent.symbol,
            side=intent.side,
            type=OrderType.MARKET,
            qty=qty,
            client_order_id=client_order_id(intent.intent_id),
            ref_price=price,
        )
        return SizeResult(request, mode, base, qty, notional, tuple(applied))

    def _blocked(
        self,
        intent: EntryIntent,
        mode: str,
        base: Decimal,
        qty: Decimal,
        notional: Decimal,
        applied: list[AppliedScale],
        reason: str,
        detail: str,
    ) -> SizeResult:
        self._telemetry.emit(
            "entry.blocked",
            symbol=symbol_key(intent.symbol),
            reason=reason,
            detail=detail,
            intent_id=intent.intent_id,
            side=intent.side,
            confidence=intent.confidence,
        )
        return SizeResult(None, mode, base, qty, notional, tuple(applied), reason, detail)

    def _emit_scales(self, intent: EntryIntent, mode: str, applied: Sequence[AppliedScale]) -> None:
        event = "entry.qty_scaled" if mode == "qty" else "entry.notional_scaled"
        for a in applied:
            self._telemetry.emit(
                event,
                symbol=symbol_key(intent.symbol),
                reason=a.reason,
                scale=a.scale,
                before=a.before,
                after=a.after,
                detail=a.detail,
                intent_id=intent.intent_id,
            )
