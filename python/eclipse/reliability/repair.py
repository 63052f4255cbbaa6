"""Repairs of reconcile findings, through the engine (its journal, order machines, book and protection).

Every repair is idempotent and journaled, and none invents a fill of ours:

* ``order_unknown`` / ``missing_order``: one lookup by client id (no retry inside a cycle; at most
  ``max_lookups`` per cycle, the rest wait); found: the venue's report is journaled and its fills synced; not
  found for an order the venue never acknowledged: it never landed (``OrderResolved(rejected)``); else the
  finding stays (debt) for the next cycle;
* ``orphan_order`` (our client id, unknown to the ledger): adopted with the records recovery writes
  (:func:`~eclipse.execution.journal.adoption.adoption_records`), then its fills synced;
* ``position_mismatch``: repaired from the venue's fills: fills of the symbol that no order of ours owns and
  that close (part of) the book's position (a liquidation's ``autoclose-`` order, a manual close) are booked
  to an adopted venue-side FLATTEN order when they explain the whole difference; otherwise entries on the
  symbol stay blocked (``position_mismatch``) and the debt stays;
* ``foreign_order`` / ``unknown_position``: the policy ``RECONCILE_FOREIGN_POLICY``: ``block`` touches
  nothing (entries on the symbol stay blocked while it is there); ``protect`` adopts the position (an
  ``A-<SYM>-<ts>`` adoption order booked at the venue's entry price, marked ``adopted``) so the protection
  manager places its stop; ``flatten`` also cancels the foreign orders and closes the adopted position with a
  reduce-only market order;
* ``unprotected_position``: the engine's protection check (re-places what is missing).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from eclipse.contracts import (
    IntentCreated,
    IntentKind,
    JournalEvent,
    OrderAcked,
    OrderResolved,
    OrderSubmitting,
)
from eclipse.execution.journal.adoption import adoption_records
from eclipse.execution.journal.client_ids import parse_client_id
from eclipse.execution.router import LookupState
from eclipse.reliability.findings import INFLIGHT_STATES, Finding, VenueEvidence, ours_unsettled
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.types import Fill, OrderReport, OrderStatus, OrderType, Side

if TYPE_CHECKING:
    from eclipse.execution.engine import ExecutionEngine

__all__ = ["FILL_SLACK_MS", "RepairOutcome", "Repairer"]

_MAX_ORDERS = 10
FILL_SLACK_MS = 60_000
"""A position mismatch is looked for in the venue's fills from this long before the book's position opened."""

Emit = Callable[..., None]


@dataclass(slots=True)
class RepairOutcome:
    """What one cycle's repairs did: attempted and succeeded repairs, lookups used, resolution times."""

    attempted: int = 0
    succeeded: int = 0
    lookups: int = 0
    deferred: int = 0
    failed: list[str] = field(default_factory=list)
    venue_errors: int = 0
    """Repairs that failed because the venue failed (the cycle backs off)."""
    done: set[str] = field(default_factory=set)
    """Keys of the findings repaired (or found settled)."""
    protection_checked: bool = False

    def ok(self, n: int = 1) -> None:
        """Count a successful repair."""
        self.attempted += n
        self.succeeded += n

    def fail(self, what: str) -> None:
        """Count a repair that did not succeed (its finding stays)."""
        self.attempted += 1
        self.failed.append(what)


class Repairer:
    """Applies one cycle's findings to the engine (module docstring)."""

    def __init__(self, engine: ExecutionEngine, emit: Emit, *, policy: str, max_lookups: int) -> None:
        self._engine = engine
        self._emit = emit
        self.policy = policy
        self._max_lookups = max_lookups

    async def repair(self, findings: Sequence[Finding], evidence: VenueEvidence) -> RepairOutcome:
        """Repair what may be repaired; return the outcome."""
        out = RepairOutcome()
        reports: dict[str, OrderReport] = {}
        for listed in evidence.orders.values():
            for r in listed:
                reports[r.order_id] = r
                if r.client_order_id:
                    reports[r.client_order_id] = r
        for f in findings:
            before = out.succeeded
            try:
                await self._one(f, evidence, reports, out)
            except VenueError as err:
                out.venue_errors += 1
                out.fail(f"{f.key}: {err.kind.value}")
            if out.succeeded > before:
                out.done.add(f.key)
        return out

    async def _one(
        self, f: Finding, ev: VenueEvidence, reports: Mapping[str, OrderReport], out: RepairOutcome
    ) -> None:
        engine = self._engine
        if f.kind in ("order_unknown", "missing_order"):
            if out.lookups >= self._max_lookups:
                out.deferred += 1
                return
            await self._lookup(f, out)
        elif f.kind == "orphan_order":
            report = reports.get(f.subject)
            parsed = parse_client_id(f.subject)
            if report is None or parsed is None:
                out.fail(f.key)
                return
            known = {parsed.intent_id} if engine.orders.has_intent(parsed.intent_id) else set()
            now = engine.clock.now_ms()
            for rec in adoption_records(report, parsed, known, now, "adopted by reconcile"):
                engine.recorder.append(rec)
            await engine.sync_fills(f.symbol)
            self._emit("reconcile.adopted", symbol=f.symbol, client_order_id=f.subject, status=report.status)
            out.ok()
        elif f.kind == "position_mismatch":
            if await self._from_venue_fills(f.symbol, ev.signed(f.symbol), out):
                out.ok()
            else:
                engine.blocked.setdefault(f.symbol, "position_mismatch")
                out.fail(f.key)
        elif f.kind == "unprotected_position":
            if not out.protection_checked:  # one protection check per cycle re-places every missing stop
                out.protection_checked = True
                await engine.check_protection()
            if engine.protection.tracker(f.symbol).covered:
                out.ok()
            else:
                out.fail(f.key)
        elif f.kind == "foreign_order" and self.policy == "flatten":
            report = reports.get(f.subject)
            try:
                await engine.venue.cancel_order(
                    f.symbol, order_id=f.subject, conditional=bool(report and report.conditional)
                )
            except VenueError as err:
                if err.kind is not VenueErrorKind.ORDER_NOT_FOUND:
                    raise
            self._emit("reconcile.foreign_canceled", symbol=f.symbol, order_id=f.subject)
            out.ok()
        elif f.kind == "unknown_position" and self.policy in ("protect", "flatten") and ev.positions:
            if not await self._adopt_position(f.symbol, ev):
                out.fail(f.key)
                return
            if self.policy == "flatten":
                await engine.flatten(f.symbol, "foreign_position")
            out.ok()

    async def _lookup(self, f: Finding, out: RepairOutcome) -> None:
        engine = self._engine
        order = engine.orders.orders.get(f.subject)
        if order is None or not order.live:
            out.done.add(f.key)  # settled meanwhile (a fill, the protection check): nothing to repair
            return
        was_inflight = order.state in INFLIGHT_STATES
        now = engine.clock.now_ms()
        out.lookups += 1
        found = await engine.router.lookup(
            order.symbol,
            order.client_order_id,
            conditional=order.conditional,
            intent_id=order.intent_id,
            stage="reconcile",
            deadline_ms=now,
        )
        if found.report is not None:
            await engine.record_report(order, found.report, "settled by reconcile")
            await engine.sync_fills(order.symbol)
        elif found.state is LookupState.NOT_FOUND and engine.router.may_still_land(order.client_order_id):
            out.deferred += 1  # sent moments ago: it may still land; looked up again next cycle
            return
        elif found.state is LookupState.NOT_FOUND and was_inflight:
            engine.recorder.append(
                OrderResolved(
                    now,
                    order.client_order_id,
                    OrderStatus.REJECTED,
                    error_kind=VenueErrorKind.ORDER_NOT_FOUND,
                    detail="not on the venue at reconcile",
                    filled=Decimal(0),
                )
            )
        else:
            why = found.error.kind.value if found.error is not None else found.state.value
            if found.state is LookupState.FAILED:
                out.venue_errors += 1
            out.fail(f"{f.key}: lookup {why}")
            return
        out.ok()

    async def _from_venue_fills(self, symbol: str, venue_qty: Decimal, out: RepairOutcome) -> bool:
        """Book the venue's fills of no order of ours that close the book's position, when together they
        make the book equal the venue; True when the book now agrees. Never while an order of ours there is
        unsettled (its fills may be the difference), and each stray fill's order is looked up first: one
        with our client id is never someone else's."""
        engine = self._engine
        await engine.sync_fills(symbol)
        snap = engine.book.snapshot(symbol)
        book = snap.qty
        if book == venue_qty:
            return True
        if book == 0 or (venue_qty != 0 and (venue_qty > 0) != (book > 0)) or abs(venue_qty) > abs(book):
            return False  # not a (partial) close of our position: never guessed
        if ours_unsettled(engine, symbol):
            return False  # wait: the difference may be our own order's fill
        since = max(0, (snap.opened_ms or engine.clock.now_ms()) - FILL_SLACK_MS)
        closing = Side.SELL if book > 0 else Side.BUY
        strays: dict[str, Fill] = {}
        for fl in await engine.fetch_fills(symbol, since):
            theirs = engine.orders.owner(fl) is None and not engine.book.has_fill(symbol, fl.trade_id)
            if theirs and fl.side is closing and fl.ts_ms >= since:
                strays.setdefault(fl.trade_id, fl)  # pages overlap at their boundary: one per trade id
        by_order = _explaining_orders(strays.values(), abs(book) - abs(venue_qty))
        if by_order is None:
            return False
        for oid in by_order:
            if out.lookups >= self._max_lookups:
                return False
            out.lookups += 1
            rep = await engine.venue.fetch_order(symbol, order_id=oid)
            if parse_client_id(rep.client_order_id) is not None:
                return False  # ours after all (e.g. an order the ledger has not linked yet): never adopted
        now = engine.clock.now_ms()
        for oid, group in by_order.items():
            qty = sum((fl.qty for fl in group), Decimal(0))
            cid = group[0].client_order_id or f"V-{oid}"
            intent = f"V-{symbol.split(':')[0].replace('/', '')}-{oid}"
            for rec in _venue_close_records(intent, cid, oid, symbol, closing, qty, group[0].price, now):
                engine.recorder.append(rec)
            for fl in group:
                await engine.apply_fill(fl if fl.client_order_id else _with_cid(fl, cid))
            self._emit(
                "reconcile.venue_close_adopted", symbol=symbol, order_id=oid, client_order_id=cid, qty=qty
            )
        return engine.book.snapshot(symbol).qty == venue_qty

    async def _adopt_position(self, symbol: str, ev: VenueEvidence) -> bool:
        """Book the part of the venue's position of ``symbol`` the book lacks (all of it, or what someone
        added to ours) as adopted: an adoption order and its one fill at the venue's entry price, fee 0, so
        protection covers it. Checked again now (an earlier repair of this cycle may have booked it): only
        while the book is flat or on the venue's side with less, and nothing of ours is unsettled there."""
        engine = self._engine
        assert ev.positions is not None
        p = ev.positions[symbol]
        await engine.sync_fills(symbol)
        book = engine.book.snapshot(symbol).qty
        there = ev.signed(symbol)
        same_side = book == 0 or (book > 0) == (there > 0)
        if not same_side or abs(there) <= abs(book) or ours_unsettled(engine, symbol):
            return False
        qty = abs(there) - abs(book)
        now = engine.clock.now_ms()
        base = symbol.split(":")[0].replace("/", "")
        intent = cid = f"A-{base}-{now}"
        oid = f"adopted-{now}"
        events: list[JournalEvent] = [
            IntentCreated(now, intent, IntentKind.ENTRY, symbol, p.side, qty, p.entry_price),
            OrderSubmitting(
                now, intent, cid, IntentKind.ENTRY, symbol, p.side, OrderType.MARKET, qty, None, None,
                False, False, 0, recovered=True,
            ),
            OrderAcked(now, cid, oid, OrderStatus.FILLED, qty),
            OrderResolved(now, cid, OrderStatus.FILLED, detail="foreign position adopted", filled=qty),
        ]  # fmt: skip
        for rec in events:
            engine.recorder.append(rec)
        fill = Fill(f"adopt-{now}", oid, symbol, p.side, p.entry_price, qty, Decimal(0), "", now, False,
                    Decimal(0), cid)  # fmt: skip
        await engine.apply_fill(fill)
        self._emit(
            "reconcile.position_adopted", symbol=symbol, qty=qty, side=p.side, entry_price=p.entry_price,
            policy=self.policy, severity="high",
        )  # fmt: skip
        return True


def _explaining_orders(strays: Iterable[Fill], gap: Decimal) -> dict[str, list[Fill]] | None:
    """The venue orders whose fills close exactly ``gap`` of the position: all of the strays when they do,
    else the most recent subset of at most :data:`_MAX_ORDERS` orders that does (a user's older trade in the
    window is not part of the close); None when none does."""
    by_order: dict[str, list[Fill]] = {}
    for fl in sorted(strays, key=lambda x: (x.ts_ms, x.trade_id)):
        by_order.setdefault(fl.order_id, []).append(fl)
    qty = {oid: sum((fl.qty for fl in group), Decimal(0)) for oid, group in by_order.items()}
    if not by_order or gap <= 0:
        return None
    if sum(qty.values(), Decimal(0)) == gap:
        return by_order
    recent = list(by_order)[-_MAX_ORDERS:][::-1]  # latest first
    for size in range(1, len(recent) + 1):
        for combo in itertools.combinations(recent, size):  # latest orders tried first
            if sum((qty[o] for o in combo), Decimal(0)) == gap:
                return {o: by_order[o] for o in by_order if o in combo}
    return None


def _venue_close_records(
    intent: str, cid: str, oid: str, symbol: str, side: Side, qty: Decimal, price: Decimal, now: int
) -> list[JournalEvent]:
    return [
        IntentCreated(now, intent, IntentKind.FLATTEN, symbol, side, qty, price),
        OrderSubmitting(
            now, intent, cid, IntentKind.FLATTEN, symbol, side, OrderType.MARKET, qty, None, None, True,
            False, 0, recovered=True,
        ),
        OrderAcked(now, cid, oid, OrderStatus.FILLED, qty),
        OrderResolved(now, cid, OrderStatus.FILLED, detail="venue-side close adopted", filled=qty),
    ]  # fmt: skip


def _with_cid(fill: Fill, cid: str) -> Fill:
    return Fill(
        fill.trade_id, fill.order_id, fill.symbol, fill.side, fill.price, fill.qty, fill.fee, fill.fee_asset,
        fill.ts_ms, fill.maker, fill.realized_pnl, cid,
    )  # fmt: skip
