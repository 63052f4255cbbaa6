"""Replay: the journal folded into the in-memory execution state.

:meth:`JournalState.replay` reads every record in seq order and applies it; :meth:`JournalState.catch_up`
applies only records newer than the last one seen, so replaying, catching up or doing both any number of
times gives the same state (records are applied at most once, by seq). Fills count once per
``(symbol, trade_id)`` however often they were journaled, and positions are recomputed from those fills
(the journaled :class:`PositionChanged` snapshots are kept beside them, for comparison).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from eclipse.contracts import (
    CancelRecorded,
    Fill,
    FillRecorded,
    IntentCreated,
    IntentKind,
    KnobChanged,
    OrderAcked,
    OrderResolved,
    OrderSubmitting,
    OrderUnknown,
    PositionChanged,
    PositionSnapshot,
    PostureChanged,
    ProtectionEvent,
    Side,
)
from eclipse.execution.journal.store import JournalRecord, JournalSource
from eclipse.venues.errors import VenueErrorKind
from eclipse.venues.types import IdSpace, OrderStatus, OrderType, VenueOrderId

__all__ = ["JournalState", "OrderEntry", "OrderPhase", "apply_fill"]

_ZERO = Decimal(0)


class OrderPhase(StrEnum):
    """What the journal last knew of an order."""

    SUBMITTING = "submitting"  # about to be sent (maybe sent): resolve by lookup
    UNKNOWN = "unknown"  # the send's outcome is unknown: resolve by lookup
    ACKED = "acked"  # the venue has it and it may still fill (a triggered conditional: the order it became)
    RESOLVED = "resolved"  # terminal (filled, canceled, expired, rejected, never landed)


@dataclass(frozen=True, slots=True)
class OrderEntry:
    """One order by client order id, as replayed.

    ``filled`` sums the journaled fills; ``venue_filled`` is the filled quantity the venue last reported (for
    a triggered conditional: the regular order it became, ``triggered_order_id``, whose fills are this
    order's). ``order_id`` is in the order's own id space (an algo id for a conditional).
    """

    client_order_id: str
    intent_id: str
    kind: IntentKind
    symbol: str
    side: Side
    type: OrderType
    qty: Decimal | None
    submitted_ms: int
    attempt: int
    phase: OrderPhase
    order_id: str | None = None
    status: OrderStatus | None = None
    venue_filled: Decimal | None = None
    filled: Decimal = _ZERO
    fills: int = 0
    cancel_requested: bool = False
    error_kind: VenueErrorKind | None = None
    detail: str = ""
    triggered_order_id: str | None = None

    @property
    def conditional(self) -> bool:
        """True for trigger (protection) orders: looked up in the conditional book."""
        return self.type.conditional

    @property
    def in_flight(self) -> bool:
        """Not known to be terminal: recovery must look it up."""
        return self.phase is not OrderPhase.RESOLVED

    @property
    def fills_complete(self) -> bool:
        """Every fill the venue reported for it is journaled."""
        return self.venue_filled is not None and self.filled >= self.venue_filled


def _ends(status: OrderStatus) -> bool:
    """A terminal answer for the order (a triggered conditional is not: the order it became may fill)."""
    return status.terminal and status is not OrderStatus.TRIGGERED


def apply_fill(pos: PositionSnapshot | None, fill: Fill) -> PositionSnapshot:
    """``pos`` after ``fill``: signed size, average entry, realized PnL (quote) and fees."""
    qty = pos.qty if pos is not None else _ZERO
    avg = pos.avg_entry if pos is not None else _ZERO
    realized = pos.realized_pnl if pos is not None else _ZERO
    fees = (pos.fees if pos is not None else _ZERO) + fill.fee
    opened = pos.opened_ms if pos is not None else None
    signed = fill.qty if fill.side is Side.BUY else -fill.qty
    if qty == 0 or (qty > 0) == (signed > 0):
        new_qty = qty + signed
        avg = (abs(qty) * avg + abs(signed) * fill.price) / abs(new_qty)
        if qty == 0:
            opened = fill.ts_ms
    else:
        closed = min(abs(signed), abs(qty))
        realized += closed * (fill.price - avg) * (1 if qty > 0 else -1)
        new_qty = qty + signed
        if new_qty == 0:
            avg, opened = _ZERO, None
        elif (new_qty > 0) != (qty > 0):  # flipped: the remainder opened at this price
            avg, opened = fill.price, fill.ts_ms
    symbol = pos.symbol if pos is not None else fill.symbol
    return PositionSnapshot(symbol, new_qty, avg, realized, fees, opened, fill.ts_ms)


@dataclass
class JournalState:
    """Everything the journal says, folded. Compare two states with ``==``."""

    intents: dict[str, IntentCreated] = field(default_factory=dict)
    orders: dict[str, OrderEntry] = field(default_factory=dict)
    fills: dict[tuple[str, str], FillRecorded] = field(default_factory=dict)
    positions: dict[str, PositionSnapshot] = field(default_factory=dict)
    """Recomputed from the deduplicated fills, in journal order."""
    reported_positions: dict[str, PositionSnapshot] = field(default_factory=dict)
    """The last journaled :class:`PositionChanged` per symbol."""
    protection: dict[str, ProtectionEvent] = field(default_factory=dict)
    knobs: dict[str, str] = field(default_factory=dict)
    posture: str | None = None
    duplicate_fills: int = 0
    anomalies: list[str] = field(default_factory=list)
    last_seq: int = 0

    @classmethod
    def replay(cls, source: JournalSource) -> JournalState:
        """The state after every record of ``source``."""
        state = cls()
        state.catch_up(source)
        return state

    def catch_up(self, source: JournalSource) -> int:
        """Apply the records newer than :attr:`last_seq`; returns how many."""
        n = 0
        for rec in source.records(self.last_seq):
            n += self.apply(rec)
        return n

    def apply(self, rec: JournalRecord) -> int:
        """Apply one record (ignored, returning 0, when its seq was already applied)."""
        if rec.seq <= self.last_seq:
            return 0
        self.last_seq = rec.seq
        ev = rec.event
        if isinstance(ev, IntentCreated):
            self.intents.setdefault(ev.intent_id, ev)
        elif isinstance(ev, OrderSubmitting):
            self._submitting(ev)
        elif isinstance(ev, OrderAcked | OrderUnknown | OrderResolved | CancelRecorded):
            self._order_update(rec.seq, ev)
        elif isinstance(ev, FillRecorded):
            self._fill(rec.seq, ev)
        elif isinstance(ev, PositionChanged):
            self.reported_positions[ev.snapshot.symbol] = ev.snapshot
        elif isinstance(ev, ProtectionEvent):
            self.protection[ev.symbol] = ev
        elif isinstance(ev, KnobChanged):
            self.knobs[ev.knob] = ev.new
        elif isinstance(ev, PostureChanged):
            self.posture = ev.new
        return 1

    # -- folding -------------------------------------------------------------------------------------------

    def _submitting(self, ev: OrderSubmitting) -> None:
        old = self.orders.get(ev.client_order_id)
        base = OrderEntry(
            client_order_id=ev.client_order_id,
            intent_id=ev.intent_id,
            kind=ev.kind,
            symbol=ev.symbol,
            side=ev.side,
            type=ev.type,
            qty=ev.qty,
            submitted_ms=ev.ts_ms,
            attempt=ev.attempt,
            phase=OrderPhase.SUBMITTING,
        )
        if old is not None:  # a resend with the same client id: keep what the venue already told us
            base = replace(
                base,
                submitted_ms=old.submitted_ms,
                order_id=old.order_id,
                venue_filled=old.venue_filled,
                filled=old.filled,
                fills=old.fills,
            )
        self.orders[ev.client_order_id] = base

    def _order_update(self, seq: int, ev: OrderAcked | OrderUnknown | OrderResolved | CancelRecorded) -> None:
        o = self.orders.get(ev.client_order_id)
        if o is None:
            self.anomalies.append(
                f"seq {seq}: {type(ev).__name__} for unknown client id {ev.client_order_id}"
            )
            return
        if isinstance(ev, OrderAcked):
            phase = OrderPhase.RESOLVED if _ends(ev.status) else OrderPhase.ACKED
            o = replace(
                o,
                phase=phase,
                order_id=ev.order_id,
                status=ev.status,
                qty=ev.qty if ev.qty is not None else o.qty,  # the venue's (a reduce-only shrink)
                venue_filled=ev.filled,
                triggered_order_id=ev.triggered_order_id or o.triggered_order_id,
            )
        elif isinstance(ev, OrderUnknown):
            if o.phase is OrderPhase.SUBMITTING:  # an unknown never demotes a known answer
                o = replace(o, phase=OrderPhase.UNKNOWN, error_kind=ev.error_kind, detail=ev.detail)
        elif isinstance(ev, OrderResolved):
            filled = ev.filled if ev.filled is not None else o.venue_filled
            if ev.status is OrderStatus.REJECTED and filled is None:
                filled = _ZERO
            o = replace(
                o,
                phase=OrderPhase.RESOLVED if _ends(ev.status) else OrderPhase.ACKED,
                status=ev.status,
                venue_filled=filled,
                error_kind=ev.error_kind,
                detail=ev.detail,
                triggered_order_id=ev.triggered_order_id or o.triggered_order_id,
            )
        else:
            o = replace(o, cancel_requested=ev.requested)
        self.orders[ev.client_order_id] = o

    def _fill(self, seq: int, ev: FillRecorded) -> None:
        key = (ev.fill.symbol, ev.fill.trade_id)
        if key in self.fills:
            self.duplicate_fills += 1
            return
        self.fills[key] = ev
        self.positions[ev.fill.symbol] = apply_fill(self.positions.get(ev.fill.symbol), ev.fill)
        o = self.orders.get(ev.client_order_id)
        if o is None:
            self.anomalies.append(
                f"seq {seq}: fill {ev.fill.trade_id} for unknown client id {ev.client_order_id}"
            )
            return
        o = replace(o, filled=o.filled + ev.fill.qty, fills=o.fills + 1)
        if o.in_flight and o.order_id is not None and o.qty is not None and o.filled >= o.qty:
            # its fills complete it, as they move the order machine to filled: nothing is in flight any more
            o = replace(
                o,
                phase=OrderPhase.RESOLVED,
                status=OrderStatus.FILLED,
                venue_filled=max(o.venue_filled or _ZERO, o.filled),
            )
        self.orders[ev.client_order_id] = o

    # -- queries -------------------------------------------------------------------------------------------

    def in_flight(self) -> list[OrderEntry]:
        """Orders not known to be terminal, in submit order."""
        return [o for o in self.orders.values() if o.in_flight]

    def by_order_id(self) -> dict[VenueOrderId, OrderEntry]:
        """Orders the venue acknowledged, by their venue id in its id space (an algo id for a conditional),
        and triggered conditionals also by the regular order they became (whose fills are theirs)."""
        out: dict[VenueOrderId, OrderEntry] = {}
        for o in self.orders.values():
            if o.order_id is not None:
                space = IdSpace.ALGO if o.conditional else IdSpace.ORDER
                out[VenueOrderId(o.symbol, space, o.order_id)] = o
            if o.triggered_order_id is not None:
                out[VenueOrderId(o.symbol, IdSpace.ORDER, o.triggered_order_id)] = o
        return out

    def trade_ids(self, symbol: str) -> set[str]:
        """Journaled trade ids of ``symbol``."""
        return {t for s, t in self.fills if s == symbol}

    def position_qty(self, symbol: str) -> Decimal:
        """Signed position size from the fills (0 when none)."""
        pos = self.positions.get(symbol)
        return pos.qty if pos is not None else _ZERO
