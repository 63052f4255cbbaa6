"""The execution engine's protection work: executing a :class:`~eclipse.execution.exits.ProtectionPlan`
(places, stop-breach flattening, cancels) and the periodic check against the venue's open orders. Called by
:class:`~eclipse.execution.engine.ExecutionEngine` (``_run_protection``, ``check_protection``).

* A protective client id already used (e.g. before a restart) is never resent: the leg takes the next free
  ``<intent>-sl|tp-<n>`` at once (:meth:`OrderTracker.fresh_id`, :meth:`ProtectionManager.renumber`).
* A definitive venue refusal (non-retryable error) marks the leg refused: it is not resent with an
  unchanged trigger. A stop-loss refused because the price is already beyond it (Binance ``-2021`` "would
  immediately trigger", or the book's mark at / through the trigger) is *breached*: the critical
  ``protection.stop_breached`` event is emitted and the position is closed at once with a reduce-only
  FLATTEN market order (retried by every check while the position stays open).
* Cancels that wait for nothing (legs found missing, leftovers, legs of a flat or flipped position, surplus)
  are sent before any placement; a cancel with ``after`` (an old leg superseded by a re-size) is sent only
  once that replacement is confirmed, and until then the old leg keeps working. So a position never has more
  than its working stop and one replacement (see :mod:`.engine_restore` for the bound while down).
* The check settles tracked orders the venue no longer lists by a lookup; a triggered conditional is followed
  to the regular order it became (:meth:`ExecutionEngine.follow_trigger`) until that order ends.
* A symbol whose entries are blocked because its position differed from the venue's is checked against the
  venue's positions; it is unblocked once they agree.
* The check lists each symbol's open orders on its own: a symbol whose listing fails is skipped (and
  reported) without aborting the others.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from eclipse.contracts import (
    IntentCreated,
    IntentKind,
    OrderResolved,
    RouterOutcome,
    RouterRequest,
    RouterResult,
)
from eclipse.execution.exits import CancelRequest, ProtectionPlan
from eclipse.execution.router import LookupState, cancel_order
from eclipse.venues.errors import VenueError, error_class
from eclipse.venues.types import OrderReport, OrderStatus, Side, VenueOrderId

if TYPE_CHECKING:
    from eclipse.execution.engine import ExecutionEngine

__all__ = ["WOULD_TRIGGER_CODES", "check_protection", "run_protection", "stop_breached"]

WOULD_TRIGGER_CODES: frozenset[int | str] = frozenset({-2021, "-2021"})
"""Venue codes meaning "the order would immediately trigger" (Binance futures)."""


def stop_breached(req: RouterRequest, result: RouterResult, mark: Decimal | None) -> bool:
    """True when the stop-loss ``req`` was refused because the price is already beyond its trigger: the venue
    said so (``-2021``), or it refused definitively and ``mark`` is at or through the trigger."""
    if req.kind is not IntentKind.STOP_LOSS or result.outcome is not RouterOutcome.REJECTED:
        return False
    if result.error_code in WOULD_TRIGGER_CODES:
        return True
    trig = req.trigger_price
    if mark is None or trig is None or not _refused(result):
        return False
    return mark <= trig if req.side is Side.SELL else mark >= trig


def _refused(result: RouterResult) -> bool:
    """A definitive refusal: REJECTED for a non-retryable reason (resending the same order cannot help)."""
    kind = result.error_kind
    return result.outcome is RouterOutcome.REJECTED and kind is not None and not error_class(kind).retryable


_REGROW_ROUNDS = 3
"""How many times in a row a stop the venue shrank is placed again at once (then the periodic check)."""


async def run_protection(engine: ExecutionEngine, plan: ProtectionPlan, _round: int = 0) -> None:
    """Journal the plan's events, send the cancels that wait for nothing, place its orders, close breached
    positions, then send the cancels that wait for a confirmed replacement. A stop the venue took for less
    than the position (a reduce-only shrink) is placed again at the whole size at once: re-protecting does
    not wait for the next check, which needs the venue's open orders listed."""
    for ev in plan.events:
        engine.recorder.append(ev)
    for c in plan.cancel:
        if c.after is None:
            await _cancel(engine, c)
    breached = list(plan.flatten)
    for req in plan.place:
        if req.symbol in breached:
            engine.protection.failed(req.client_order_id)  # the position is being closed
            continue
        if engine.orders.used(req.client_order_id):
            cid = req.client_order_id
            fresh = engine.protection.renumber(cid, engine.orders.fresh_id(cid))
            if fresh is None:
                continue
            req = fresh
        if await _place(engine, req):
            breached.append(req.symbol)
    for symbol in dict.fromkeys(breached):
        if engine.book.snapshot(symbol).qty != 0:
            await engine.flatten(symbol, "stop_breached")
    for c in plan.cancel:
        if c.after is None:
            continue
        if not engine.protection.confirmed(c.after):
            continue  # its replacement is not working yet: the old leg stays (canceled at a later check)
        await _cancel(engine, c)
    if _round < _REGROW_ROUNDS:
        for symbol in dict.fromkeys(r.symbol for r in plan.place if r.kind is IntentKind.STOP_LOSS):
            again = engine.protection.regrow(engine.book.snapshot(symbol))
            if again.place:
                await run_protection(engine, again, _round + 1)


async def _cancel(engine: ExecutionEngine, c: CancelRequest) -> None:
    if c.client_order_id in engine.orders.orders:
        ok = await engine.cancel(c.client_order_id)
    else:  # a leftover on the venue this run never placed (e.g. from before a restart)
        res = await cancel_order(engine.router, c.symbol, c.client_order_id, conditional=c.conditional)
        ok = res.confirmed
        if ok:
            engine.orders.remember(c.client_order_id)
    if ok:
        engine.protection.forget(c.client_order_id)


async def _place(engine: ExecutionEngine, req: RouterRequest) -> bool:
    """Place one protective leg; True when it is a stop-loss that cannot be placed (breached or refused for
    good): the position must be closed."""
    if not engine.orders.has_intent(req.intent_id):
        engine.recorder.append(
            IntentCreated(
                engine.clock.now_ms(), req.intent_id, req.kind, req.symbol, req.side, req.qty, req.ref_price
            )
        )
    result = await engine._submit(req)
    rep = result.report
    if result.outcome is RouterOutcome.PLACED and rep is not None and not rep.status.terminal:
        placed = engine.protection.placed(req.client_order_id)
        if placed is not None:
            engine.recorder.append(placed)
        if req.qty is not None and rep.qty is not None and rep.qty < req.qty:
            # partly covered: placed again at once (regrow) or by the next check
            engine.protection.shrunk(req.client_order_id, rep.qty, engine.book.snapshot(req.symbol).qty)
        return False
    mark = engine.book.snapshot(req.symbol).mark
    breached = stop_breached(req, result, mark)
    refused = _refused(result)
    # A stop-loss the venue refuses for good (breached, or any other definitive reason) can never protect the
    # position: close it now rather than leave it unprotected. A refused take-profit only loses the target.
    unprotectable = breached or (refused and req.kind is IntentKind.STOP_LOSS)
    engine.protection.failed(req.client_order_id, refused=refused, breached=unprotectable)
    if breached or refused:
        engine.telemetry.emit(
            "protection.stop_breached" if breached else "protection.refused",
            severity="critical" if breached or req.kind is IntentKind.STOP_LOSS else "high",
            symbol=req.symbol,
            leg=req.kind,
            client_order_id=req.client_order_id,
            trigger=req.trigger_price,
            mark=mark,
            error_kind=result.error_kind,
            code=result.error_code,
            action="flatten" if unprotectable else "no_resend_unchanged",
        )
    return unprotectable


async def check_protection(engine: ExecutionEngine) -> None:
    """Settle tracked orders the venue no longer lists, then compare protection with the venue (see the
    module docstring); a symbol whose open orders cannot be listed is skipped this round."""
    symbols = sorted({o.symbol for o in engine.orders.live()} | set(engine.book.open_positions()))
    open_orders: list[OrderReport] = []
    failed: set[str] = set()
    for symbol in symbols:
        try:
            regular = await engine.venue.fetch_open_orders(symbol)
            conditional = await engine.venue.fetch_open_orders(symbol, conditional=True)
            listed = {o.venue_id for o in [*regular, *conditional]}
            await _settle_missing(engine, symbol, listed)
        except VenueError as err:
            failed.add(symbol)
            engine.telemetry.emit(
                "protection.check_failed", symbol=symbol, error_kind=err.kind, detail=str(err)
            )
            continue
        open_orders.extend(regular)
        open_orders.extend(conditional)
    await engine.sync_fills()
    if engine.blocked:
        await _recheck_blocked(engine)
    plan = engine.protection.check(open_orders, engine.book.open_positions(), skip=failed)
    await run_protection(engine, plan)


async def _settle_missing(engine: ExecutionEngine, symbol: str, listed: set[VenueOrderId]) -> None:
    """Tracked live orders the venue no longer lists as open: look them up and record what the venue says;
    a triggered conditional is followed to the order it became."""
    for order in engine.orders.live(symbol):
        if order.state == "triggered":
            await engine.follow_trigger(order)
            continue
        if order.venue_id is not None and order.venue_id in listed:
            continue
        cid = order.client_order_id
        found = await engine.router.lookup(
            symbol, cid, conditional=order.conditional, intent_id=order.intent_id
        )
        if found.report is not None:
            if found.report.venue_id in listed:
                await engine.record_report(order, found.report, "listed open at check")
                continue
            await engine.record_report(order, found.report, "settled at check")
            if not order.live:
                if order.kind is IntentKind.ENTRY:
                    await engine.sync_fills()
                    await engine._settle_entry(order, found.report)
                elif order.kind in (IntentKind.EXIT, IntentKind.FLATTEN):
                    engine.exits.exit_resolved(symbol)
        elif found.error is not None and found.state is LookupState.NOT_FOUND:
            engine.recorder.append(
                OrderResolved(
                    engine.clock.now_ms(),
                    cid,
                    OrderStatus.REJECTED,
                    error_kind=found.error.kind,
                    detail="not on the venue at check",
                    filled=Decimal(0),
                )
            )


async def _recheck_blocked(engine: ExecutionEngine) -> None:
    """Unblock the symbols whose book position now equals the venue's (a failing read leaves them blocked)."""
    try:
        positions = await engine.venue.fetch_positions()
    except VenueError:
        return
    venue: dict[str, Decimal] = {}
    for p in positions:
        venue[p.symbol] = venue.get(p.symbol, Decimal(0)) + (p.qty if p.side is Side.BUY else -p.qty)
    for symbol in sorted(engine.blocked):
        if engine.book.snapshot(symbol).qty == venue.get(symbol, Decimal(0)):
            reason = engine.blocked.pop(symbol)
            engine.telemetry.emit("entry.unblocked", symbol=symbol, reason=reason)
