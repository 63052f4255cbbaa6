"""The router's executor: places one :class:`~eclipse.contracts.RouterRequest` on the venue exactly once.

For each request: local validation (:mod:`.validation`; a refusal is ``BLOCKED`` and ``order.blocked``),
then a send loop over the :class:`~eclipse.venues.protocol.Venue` protocol:

* ``OrderSubmitting`` is journaled BEFORE every venue call, and every resend carries the SAME client
  order id;
* success -> ``OrderAcked``, outcome ``PLACED``;
* ``OUTCOME_UNKNOWN`` / ``DUPLICATE_CLIENT_ID`` -> ``OrderUnknown``, then a lookup by client order id
  (retried under the policy when the lookup itself fails): found -> ``PLACED``; ``ORDER_NOT_FOUND`` ->
  the send never landed (``OrderResolved`` rejected / ``order_not_found``: proven absent) and may be resent
  as a new attempt with the same client id (it counts as a ``network`` failure); lookups run out ->
  ``UNRESOLVED`` and nothing is ever resent blindly (reconciliation settles it later);
* a definitive retryable refusal (network, exchange busy, timestamp, rate limit) -> wait (see
  :mod:`.policy`) and resend; ``order.create.retry_alert`` when a reason's ``max`` is reached; give up
  (``REJECTED``, ``OrderResolved``, ``order.create.gave_up``) after its ``extra`` tries;
* a definitive non-retryable refusal -> ``REJECTED`` with ``OrderResolved``;
* the request's time budget (``ROUTER_RETRY_BUDGET_SEC``, shared by its lookups) ends the retries: a
  backoff that would end past it is not slept. A definitive retryable failure then gives up (``REJECTED``,
  why ``retry_budget``, ``order.create.gave_up``); an unknown outcome whose lookups are cut short stays
  ``UNRESOLVED`` (never resent blindly). ``order.create.retry_alert`` is emitted as before at a reason's
  ``max``, and once with ``why="retry_budget"`` when the budget ends a request that had not alerted yet.

A local refusal (``BLOCKED``) writes nothing to the journal: no order exists for it.

A request still in flight when its lookup answers "not found" may land later: "not found" proves the send
never landed only once its landing window has passed (``landing_window_ms``: ``VENUE_RECV_WINDOW_MS`` and a
second, after which the venue refuses the request as too old). Before that the lookup waits out the window
and looks again; when the window outlasts the request's time budget the request is ``UNRESOLVED`` (why
``may_still_land``), never resent. (The same client id would make the venue refuse a resend only while the
first order is open: a market order that already filled would be placed twice; chaos scenario 3b.)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from eclipse.clock import Clock
from eclipse.contracts import (
    OrderAcked,
    OrderResolved,
    OrderSubmitting,
    OrderUnknown,
    RouterOutcome,
    RouterRequest,
    RouterResult,
)
from eclipse.execution.router.journal import JournalSink
from eclipse.execution.router.policy import BudgetStep, RetryBudget, RetryPolicy, Sleep, reason_for
from eclipse.execution.router.validation import Refusal, validate
from eclipse.telemetry import Telemetry
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.protocol import Venue
from eclipse.venues.types import Market, OrderReport, OrderStatus

__all__ = ["Lookup", "LookupState", "Router"]

_K = VenueErrorKind
_UNCERTAIN = frozenset({_K.OUTCOME_UNKNOWN, _K.DUPLICATE_CLIENT_ID})


class LookupState(StrEnum):
    """What a lookup by client order id established."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    FAILED = "failed"
    TOO_EARLY = "too_early"
    """Not found, but the send may still land (its landing window outlasts the request's time budget)."""


@dataclass(frozen=True, slots=True)
class Lookup:
    """A lookup's answer: the venue's report when found, the last error when it failed; venue calls made."""

    state: LookupState
    report: OrderReport | None = None
    error: VenueError | None = None
    tries: int = 0


class Router:
    """Validation, retries and exactly-once placement over one venue (see the module docstring).

    ``max_notional`` is ``ROUTER_MAX_NOTIONAL_USDT`` (0 = off). ``sleep`` and ``rng`` are injected so tests
    run the backoff on a simulated clock, deterministically.
    """

    def __init__(
        self,
        venue: Venue,
        journal: JournalSink,
        telemetry: Telemetry,
        clock: Clock,
        policy: RetryPolicy,
        sleep: Sleep,
        rng: random.Random,
        *,
        max_notional: Decimal = Decimal(0),
        landing_window_ms: int = 0,
        wall: Clock | None = None,
    ) -> None:
        if landing_window_ms < 0:
            raise ValueError(f"landing_window_ms must be >= 0, got {landing_window_ms}")
        self.landing_window_ms = landing_window_ms
        self._sent_wall: dict[str, int] = {}
        """client id -> wall time of its latest send (pruned once past the landing window)."""
        self.wall = wall or clock
        """The clock of the landing window (the venue's receive window is wall time; ``clock`` may be
        market time running faster at a replay speed)."""
        if max_notional < 0:
            raise ValueError(f"max_notional must be >= 0 (0 = off), got {max_notional}")
        self.venue = venue
        self.journal = journal
        self.telemetry = telemetry
        self.clock = clock
        self.policy = policy
        self.sleep = sleep
        self.rng = rng
        self.max_notional = max_notional
        self._markets: dict[str, Market] = {}

    # --- shared helpers (also used by cancel and replace) ----------------------------------------

    async def market(self, symbol: str) -> Market:
        """The venue's market for ``symbol`` (cached; retryable failures retried under the policy)."""
        cached = self._markets.get(symbol)
        if cached is not None:
            return cached
        budget = RetryBudget(self.policy, self.clock.now_ms())
        while True:
            try:
                m = await self.venue.market(symbol)
                self._markets[symbol] = m
                return m
            except VenueError as err:
                reason = reason_for(err.kind) if err.retryable else None
                if reason is None:
                    raise
                step = budget.record(reason)
                delay = self.policy.delay(reason, step.tries, self.rng, err.retry_after_s)
                if step.exhausted or not budget.fits(self.clock.now_ms(), delay):
                    raise
                await self.sleep(delay)

    async def lookup(
        self,
        symbol: str,
        client_order_id: str,
        *,
        conditional: bool = False,
        intent_id: str = "",
        stage: str = "lookup",
        deadline_ms: int | None = None,
    ) -> Lookup:
        """Look an order up by client order id, retrying failed lookups under the policy.

        A failed lookup (a read: nothing to resolve) of any retryable or unknown kind counts against its
        reason; a non-retryable error, the reason's budget running out, or the time budget ending (the
        request's ``deadline_ms`` when given, else ``ROUTER_RETRY_BUDGET_SEC`` from now) is FAILED (with
        ``order.create.retry_alert`` at the reason's ``max``).
        """
        budget = RetryBudget(self.policy, self.clock.now_ms(), deadline_ms)
        tries = 0
        while True:
            tries += 1
            try:
                rep = await self.venue.fetch_order(
                    symbol, client_order_id=client_order_id, conditional=conditional
                )
                return Lookup(LookupState.FOUND, rep, tries=tries)
            except VenueError as err:
                if err.kind is _K.ORDER_NOT_FOUND:
                    return Lookup(LookupState.NOT_FOUND, error=err, tries=tries)
                reason = reason_for(err.kind) if (err.retryable or err.kind in _UNCERTAIN) else None
                if reason is None:
                    return Lookup(LookupState.FAILED, error=err, tries=tries)
                step = budget.record(reason)
                if step.alert:
                    self.alert(
                        stage, step.tries, reason, err, step.extra_left, symbol, intent_id, client_order_id
                    )
                if step.exhausted:
                    return Lookup(LookupState.FAILED, error=err, tries=tries)
                delay = self.policy.delay(reason, step.tries, self.rng, err.retry_after_s)
                if self.out_of_time(budget, delay, stage, step, err, symbol, intent_id, client_order_id):
                    return Lookup(LookupState.FAILED, error=err, tries=tries)
                await self.sleep(delay)

    def _sent(self, client_order_id: str, wall_ms: int) -> None:
        sent = self._sent_wall
        sent.pop(client_order_id, None)
        sent[client_order_id] = wall_ms  # insertion order is time order
        while sent:
            first = next(iter(sent))
            if sent[first] + self.landing_window_ms > wall_ms:
                break
            del sent[first]

    def may_still_land(self, client_order_id: str) -> bool:
        """True while the latest send of ``client_order_id`` is inside its landing window: a lookup's "not
        found" proves nothing yet (reconcile defers it)."""
        sent = self._sent_wall.get(client_order_id)
        return sent is not None and self.wall.now_ms() < sent + self.landing_window_ms

    async def _settled_lookup(self, req: RouterRequest, sent_ms: int, budget: RetryBudget) -> Lookup:
        """A lookup after an unknown outcome whose "not found" proves the send never landed. Before the
        landing window since the send has passed (``landing_window_ms``: the venue's receive window and a
        margin), a request still in flight may land after the lookup: "not found" then waits out the rest
        of the window and looks again. When the window outlasts the request's time budget the answer is
        ``TOO_EARLY``: unresolved, never resent (reconciliation settles it)."""
        tries = 0
        while True:
            found = await self.lookup(
                req.symbol,
                req.client_order_id,
                conditional=req.type.conditional,
                intent_id=req.intent_id,
                deadline_ms=budget.deadline_ms,
            )
            tries += found.tries
            if found.state is not LookupState.NOT_FOUND:
                return replace(found, tries=tries)
            wait_ms = sent_ms + self.landing_window_ms - self.wall.now_ms()
            if wait_ms <= 0:
                return replace(found, tries=tries)
            if not budget.fits(self.clock.now_ms(), wait_ms / 1000.0):
                return Lookup(LookupState.TOO_EARLY, error=found.error, tries=tries)
            await self.sleep(wait_ms / 1000.0)

    def alert(
        self,
        stage: str,
        tries: int,
        reason: str,
        err: VenueError,
        extra_left: int,
        symbol: str,
        intent_id: str,
        client_order_id: str,
        **more: object,
    ) -> None:
        """Emit ``order.create.retry_alert`` (a reason's ``max`` failures reached at ``stage``)."""
        self.telemetry.emit(
            "order.create.retry_alert",
            **more,
            tries=tries,
            reason=reason,
            code=err.code if err.code is not None else err.kind.value,
            stage=stage,
            extra_left=extra_left,
            symbol=symbol,
            intent_id=intent_id,
            client_order_id=client_order_id,
        )

    def out_of_time(
        self,
        budget: RetryBudget,
        delay: float,
        stage: str,
        step: BudgetStep,
        err: VenueError,
        symbol: str,
        intent_id: str,
        client_order_id: str,
    ) -> bool:
        """True when waiting ``delay`` seconds would overrun ``budget``'s time budget: the caller ends the
        request instead of sleeping. Alerts (``why="retry_budget"``) unless this request alerted already."""
        if budget.fits(self.clock.now_ms(), delay):
            return False
        if not budget.alerted:
            budget.alerted = True
            self.alert(
                stage, step.tries, reason=step.reason, err=err, extra_left=step.extra_left, symbol=symbol,
                intent_id=intent_id, client_order_id=client_order_id, why="retry_budget",
            )  # fmt: skip
        return True

    # --- submit ----------------------------------------------------------------------------------

    def _blocked(self, request: RouterRequest, refusal: Refusal) -> RouterResult:
        self.telemetry.emit(
            "order.blocked",
            why=refusal.why,
            symbol=request.symbol,
            kind=request.kind,
            intent_id=request.intent_id,
            client_order_id=request.client_order_id,
            notional=refusal.notional,
            cap=refusal.cap,
            detail=refusal.detail,
        )
        return RouterResult(request, RouterOutcome.BLOCKED, why=refusal.why)

    def _submitting(self, req: RouterRequest, attempt: int) -> None:
        self.journal.append(
            OrderSubmitting(
                self.clock.now_ms(),
                req.intent_id,
                req.client_order_id,
                req.kind,
                req.symbol,
                req.side,
                req.type,
                req.qty,
                req.price,
                req.trigger_price,
                req.reduce_only,
                req.close_position,
                attempt,
            )
        )

    def _placed(self, req: RouterRequest, rep: OrderReport, tries: int, lookups: int) -> RouterResult:
        self.journal.append(
            OrderAcked(
                self.clock.now_ms(),
                req.client_order_id,
                rep.order_id,
                rep.status,
                rep.filled,
                rep.qty,
                rep.triggered_order_id,
            )
        )
        return RouterResult(req, RouterOutcome.PLACED, report=rep, tries=tries, lookups=lookups)

    def _rejected(
        self, req: RouterRequest, err: VenueError, why: str, tries: int, lookups: int
    ) -> RouterResult:
        self.journal.append(
            OrderResolved(
                self.clock.now_ms(),
                req.client_order_id,
                OrderStatus.REJECTED,
                error_kind=err.kind,
                error_code=err.code,
                detail=f"{why}: {err.message}",
                filled=Decimal(0),
            )
        )
        self.telemetry.emit(
            "order.create.gave_up" if why in ("retries_exhausted", "retry_budget") else "order.rejected",
            why=why,
            error_kind=err.kind,
            code=err.code,
            tries=tries,
            symbol=req.symbol,
            intent_id=req.intent_id,
            client_order_id=req.client_order_id,
        )
        return RouterResult(
            req,
            RouterOutcome.REJECTED,
            error_kind=err.kind,
            error_code=err.code,
            why=why,
            tries=tries,
            lookups=lookups,
        )

    async def submit(self, request: RouterRequest) -> RouterResult:
        """Validate and place ``request`` exactly once (see the module docstring)."""
        market = self._markets.get(request.symbol)  # the cache hit of self.market(), without a coroutine
        if market is None:
            try:
                market = await self.market(request.symbol)
            except VenueError as err:
                return self._blocked(request, Refusal("market_unavailable", err.message))
        checked = validate(request, market, self.max_notional, self.venue.name)
        if isinstance(checked, Refusal):
            return self._blocked(request, checked)
        req, venue_req = checked.request, checked.venue_request
        started_ms = self.clock.now_ms()
        budget: RetryBudget | None = None  # built at the first failure, with the deadline counted from here
        tries = lookups = 0
        while True:
            tries += 1
            self._submitting(req, tries)
            sent_ms = self.wall.now_ms()
            self._sent(req.client_order_id, sent_ms)
            try:
                rep = await self.venue.create_order(venue_req)
            except VenueError as err:
                if budget is None:
                    budget = RetryBudget(self.policy, started_ms)
                if err.kind in _UNCERTAIN:
                    self.journal.append(
                        OrderUnknown(self.clock.now_ms(), req.client_order_id, err.kind, err.message)
                    )
                    found = await self._settled_lookup(req, sent_ms, budget)
                    lookups += found.tries
                    if found.state is LookupState.FOUND and found.report is not None:
                        return self._placed(req, found.report, tries, lookups)
                    if found.state is LookupState.FAILED or found.state is LookupState.TOO_EARLY:
                        last = found.error or err
                        self.telemetry.emit(
                            "order.create.unresolved",
                            error_kind=last.kind,
                            code=last.code,
                            tries=tries,
                            lookups=lookups,
                            symbol=req.symbol,
                            intent_id=req.intent_id,
                            client_order_id=req.client_order_id,
                        )
                        return RouterResult(
                            req,
                            RouterOutcome.UNRESOLVED,
                            error_kind=err.kind,
                            error_code=err.code,
                            why="lookup_failed" if found.state is LookupState.FAILED else "may_still_land",
                            tries=tries,
                            lookups=lookups,
                        )
                    # proven not to have landed (journaled: the order machine's lookup_absent); resend it,
                    # with the same client id, as the next attempt
                    self.journal.append(
                        OrderResolved(
                            self.clock.now_ms(),
                            req.client_order_id,
                            OrderStatus.REJECTED,
                            error_kind=_K.ORDER_NOT_FOUND,
                            detail="lookup: not on the venue; sent again",
                            filled=Decimal(0),
                        )
                    )
                    reason = "network"
                elif err.retryable and (reason_or := reason_for(err.kind)) is not None:
                    reason = reason_or
                else:
                    return self._rejected(req, err, err.kind.value, tries, lookups)
                step = budget.record(reason)
                if step.alert:
                    self.alert(
                        "create",
                        step.tries,
                        reason,
                        err,
                        step.extra_left,
                        req.symbol,
                        req.intent_id,
                        req.client_order_id,
                    )
                if step.exhausted:
                    return self._rejected(req, err, "retries_exhausted", tries, lookups)
                delay = self.policy.delay(reason, step.tries, self.rng, err.retry_after_s)
                if self.out_of_time(
                    budget, delay, "create", step, err, req.symbol, req.intent_id, req.client_order_id
                ):
                    return self._rejected(req, err, "retry_budget", tries, lookups)
                self.telemetry.emit(
                    "order.create.retry",
                    reason=reason,
                    attempt=tries,
                    delay_s=round(delay, 4),
                    code=err.code,
                    client_order_id=req.client_order_id,
                )
                await self.sleep(delay)
                continue
            return self._placed(req, rep, tries, lookups)
