"""Idempotent cancel: asking twice, or for an order that already finished, is success -- once the venue
confirms that nothing is live.

:func:`cancel_order` journals ``CancelRecorded(requested=True)``, asks the venue to cancel by client order
id, and settles every doubtful answer by a lookup:

* the cancel is acknowledged with a terminal status -> confirmed (``canceled``);
* ``ORDER_NOT_FOUND`` / ``OUTCOME_UNKNOWN`` -> look the order up: terminal (filled, canceled, expired,
  triggered: the report names the order it became) -> confirmed (``already_terminal``, the report says how
  much filled); never seen by the venue -> confirmed (``unknown_to_venue``, journaled as rejected /
  ``order_not_found``: proven absent); still open -> cancel again (counts as a ``network`` failure);
* retryable refusals -> wait and retry under the policy; non-retryable ones, exhausted retries, the time
  budget (``ROUTER_RETRY_BUDGET_SEC``, shared with the lookups) ending, or failing lookups -> NOT
  confirmed: the order may still be live and the caller must not act as if it were gone.

On confirmation ``OrderResolved`` (final status) then ``CancelRecorded(requested=False)`` are journaled and
``order.cancel`` is emitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from eclipse.contracts import CancelRecorded, OrderResolved
from eclipse.execution.router.executor import LookupState, Router
from eclipse.execution.router.policy import RetryBudget, reason_for
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.types import OrderReport, OrderStatus

__all__ = ["CancelResult", "cancel_order"]

_K = VenueErrorKind


@dataclass(frozen=True, slots=True)
class CancelResult:
    """The end of a cancel: ``confirmed`` = the order is certainly not live (``report`` = its final venue
    view, None when the venue never knew it); ``why`` says how it ended."""

    client_order_id: str
    confirmed: bool
    why: str
    report: OrderReport | None = None
    error: VenueError | None = None
    tries: int = 0
    lookups: int = 0

    @property
    def filled(self) -> Decimal:
        """Venue-confirmed filled quantity (0 when the venue never knew the order)."""
        return self.report.filled if self.report is not None else Decimal(0)


async def cancel_order(
    router: Router,
    symbol: str,
    client_order_id: str,
    *,
    conditional: bool = False,
    intent_id: str = "",
) -> CancelResult:
    """Cancel ``client_order_id`` idempotently through ``router``'s venue (see the module docstring)."""
    clock, journal = router.clock, router.journal
    journal.append(CancelRecorded(clock.now_ms(), client_order_id, requested=True))
    budget = RetryBudget(router.policy, clock.now_ms())
    tries = lookups = 0

    def done(why: str, report: OrderReport | None) -> CancelResult:
        if report is None:  # the venue never had it: proven absent
            journal.append(
                OrderResolved(
                    clock.now_ms(),
                    client_order_id,
                    OrderStatus.REJECTED,
                    error_kind=_K.ORDER_NOT_FOUND,
                    detail=f"cancel: {why}",
                    filled=Decimal(0),
                )
            )
            status = OrderStatus.CANCELED
        else:
            status = report.status
            journal.append(
                OrderResolved(
                    clock.now_ms(),
                    client_order_id,
                    status,
                    detail=f"cancel: {why}",
                    filled=report.filled,
                    triggered_order_id=report.triggered_order_id,
                )
            )
        filled = report.filled if report is not None else Decimal(0)
        journal.append(CancelRecorded(clock.now_ms(), client_order_id, requested=False))
        router.telemetry.emit(
            "order.cancel",
            why=why,
            status=status,
            filled=filled,
            tries=tries,
            lookups=lookups,
            symbol=symbol,
            intent_id=intent_id,
            client_order_id=client_order_id,
        )
        return CancelResult(client_order_id, True, why, report, None, tries, lookups)

    def failed(why: str, err: VenueError | None) -> CancelResult:
        router.telemetry.emit(
            "order.cancel.unconfirmed",
            why=why,
            error_kind=err.kind if err is not None else None,
            code=err.code if err is not None else None,
            tries=tries,
            lookups=lookups,
            symbol=symbol,
            intent_id=intent_id,
            client_order_id=client_order_id,
        )
        return CancelResult(client_order_id, False, why, None, err, tries, lookups)

    while True:
        tries += 1
        err: VenueError
        try:
            rep = await router.venue.cancel_order(
                symbol, client_order_id=client_order_id, conditional=conditional
            )
            if rep.status.terminal:
                return done("canceled", rep)
            err = VenueError(_K.OUTCOME_UNKNOWN, f"cancel answered {rep.status.value}", operation="cancel")
        except VenueError as exc:
            err = exc
        if err.kind in (_K.ORDER_NOT_FOUND, _K.OUTCOME_UNKNOWN):
            found = await router.lookup(
                symbol,
                client_order_id,
                conditional=conditional,
                intent_id=intent_id,
                stage="cancel_lookup",
                deadline_ms=budget.deadline_ms,
            )
            lookups += found.tries
            if found.state is LookupState.NOT_FOUND:
                return done("unknown_to_venue", None)
            if found.state is LookupState.FAILED or found.report is None:
                return failed("lookup_failed", found.error or err)
            if found.report.status.terminal:
                why = "canceled" if found.report.status is OrderStatus.CANCELED else "already_terminal"
                return done(why, found.report)
            reason = "network"  # still open: the cancel did not take; ask again
        elif err.retryable and (r := reason_for(err.kind)) is not None:
            reason = r
        else:
            return failed(err.kind.value, err)
        step = budget.record(reason)
        if step.alert:
            router.alert(
                "cancel", step.tries, reason, err, step.extra_left, symbol, intent_id, client_order_id
            )
        if step.exhausted:
            return failed("retries_exhausted", err)
        delay = router.policy.delay(reason, step.tries, router.rng, err.retry_after_s)
        if router.out_of_time(budget, delay, "cancel", step, err, symbol, intent_id, client_order_id):
            return failed("retry_budget", err)
        await router.sleep(delay)
