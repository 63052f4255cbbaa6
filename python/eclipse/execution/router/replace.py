"""The replace manager: move an order to a new price or size without ever leaving two live orders for one
intent.

A replace is cancel-then-place. The replacement is sent only after :func:`~.cancel.cancel_order`
*confirmed* the old order terminal (or unknown to the venue); if the cancel cannot be confirmed nothing is
placed (``CANCEL_UNCONFIRMED``). If a fill raced the cancel, the replacement is sized from the
venue-confirmed filled quantity of the old order: ``new qty = target - filled`` (``target`` = the ``qty``
argument, or the old order's qty), and nothing is placed when that is <= 0 or the old order completed
(``COMPLETED``). A close-position conditional is moved as a close-position conditional.

Each intent gets at most ``max_attempts`` replaces (``ROUTER_REPLACE_MAX_ATTEMPTS``) in the manager's
lifetime; past that :meth:`ReplaceManager.replace` gives up (``GAVE_UP``, ``order.replace.gave_up``)
without touching the live order.

An unresolved replacement (its create's outcome unknown and the lookups failed: it may be live) is
``PLACE_UNRESOLVED`` and ``placed.request`` is the in-flight replacement. The manager remembers it, and
every further replace of that intent first looks it up by client id: still no answer -> refused
(``PLACE_UNRESOLVED``, why ``replacement_unresolved``, nothing touched, no attempt spent); found
(``OrderAcked`` journaled) -> it IS the live order: the replace cancels it, not the order the caller
passed, and sizes from both orders' fills; not found (``OrderResolved`` rejected journaled) -> the replace
proceeds with the caller's order. So an intent never gets a second replacement while one may be live.

Replacement client ids are ``<root>.r<n>`` with ``n`` one above every ``.r<n>`` of that root the manager
knows to be used: the ids it sent, the live order's own id, and ``used_client_ids`` given at construction.
After a restart pass the client ids the journal knows (every ``OrderSubmitting.client_order_id``, e.g. the
keys of ``JournalState.orders``) so no id, live or dead, is ever reused: a venue would refuse or (worse)
dedupe a reused id against the old order.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from eclipse.contracts import OrderAcked, OrderResolved, RouterOutcome, RouterRequest, RouterResult
from eclipse.execution.router.cancel import CancelResult, cancel_order
from eclipse.execution.router.executor import LookupState, Router
from eclipse.venues.errors import VenueErrorKind
from eclipse.venues.types import OrderStatus

__all__ = [
    "DEFAULT_REPLACE_MAX_ATTEMPTS",
    "ReplaceManager",
    "ReplaceOutcome",
    "ReplaceResult",
    "replacement_id",
]

DEFAULT_REPLACE_MAX_ATTEMPTS = 3
_DONE = frozenset({OrderStatus.FILLED, OrderStatus.TRIGGERED})


class ReplaceOutcome(StrEnum):
    """How a replace ended."""

    REPLACED = "replaced"  # old order confirmed terminal, replacement placed
    COMPLETED = "completed"  # the old order finished (filled / triggered) first: nothing left to place
    GAVE_UP = "gave_up"  # the intent's replace budget is spent; the live order was not touched
    CANCEL_UNCONFIRMED = "cancel_unconfirmed"  # the old order may be live: nothing placed
    PLACE_FAILED = "place_failed"  # old order gone, the replacement was blocked/rejected: nothing live
    PLACE_UNRESOLVED = "place_unresolved"  # old order gone, the replacement (placed.request) may be live


@dataclass(frozen=True, slots=True)
class ReplaceResult:
    """A replace's end: the cancel, the replacement's router result (if one was sent), the attempt."""

    outcome: ReplaceOutcome
    attempt: int
    cancel: CancelResult | None = None
    placed: RouterResult | None = None
    filled: Decimal = Decimal(0)
    why: str = ""


def split_id(client_order_id: str) -> tuple[str, int]:
    """``(root, n)`` of ``<root>.r<n>``; ``(client_order_id, 0)`` without such a suffix."""
    root, sep, tail = client_order_id.rpartition(".r")
    if sep and tail.isdigit():
        return root, int(tail)
    return client_order_id, 0


def replacement_id(client_order_id: str, attempt: int) -> str:
    """``<root>.r<attempt>`` where root is ``client_order_id`` without a previous ``.r<n>`` suffix."""
    return f"{split_id(client_order_id)[0]}.r{attempt}"


@dataclass(frozen=True, slots=True)
class _Pending:
    """An unresolved replacement: its router result and the fills of the order it replaced."""

    placed: RouterResult
    filled_before: Decimal


class ReplaceManager:
    """Replaces orders through ``router`` with at most ``max_attempts`` replaces per intent."""

    def __init__(
        self,
        router: Router,
        max_attempts: int = DEFAULT_REPLACE_MAX_ATTEMPTS,
        *,
        used_client_ids: Iterable[str] = (),
    ) -> None:
        if max_attempts < 0:
            raise ValueError(f"max_attempts must be >= 0, got {max_attempts}")
        self._router = router
        self._max = max_attempts
        self._attempts: Counter[str] = Counter()
        self._top: dict[str, int] = {}  # root -> highest .r<n> known to be used
        self._pending: dict[str, _Pending] = {}  # intent id -> unresolved replacement
        for cid in used_client_ids:
            self._use(cid)

    def _use(self, client_order_id: str) -> None:
        root, n = split_id(client_order_id)
        self._top[root] = max(self._top.get(root, 0), n)

    def next_id(self, client_order_id: str) -> str:
        """The next unused replacement id of ``client_order_id``'s root (see the module docstring)."""
        self._use(client_order_id)
        root = split_id(client_order_id)[0]
        return f"{root}.r{self._top[root] + 1}"

    def pending(self, intent_id: str) -> RouterRequest | None:
        """The unresolved replacement of ``intent_id`` (None: none)."""
        p = self._pending.get(intent_id)
        return p.placed.request if p is not None else None

    async def _settle(self, intent_id: str) -> tuple[LookupState, _Pending | None]:
        """Look up ``intent_id``'s unresolved replacement (NOT_FOUND with None when there is none)."""
        pending = self._pending.get(intent_id)
        if pending is None:
            return LookupState.NOT_FOUND, None
        req = pending.placed.request
        found = await self._router.lookup(
            req.symbol,
            req.client_order_id,
            conditional=req.type.conditional,
            intent_id=intent_id,
            stage="replace_lookup",
        )
        now = self._router.clock.now_ms()
        if found.state is LookupState.FOUND and found.report is not None:
            rep = found.report
            self._router.journal.append(
                OrderAcked(now, req.client_order_id, rep.order_id, rep.status, rep.filled)
            )
        elif found.state is LookupState.NOT_FOUND:
            self._router.journal.append(
                OrderResolved(
                    now,
                    req.client_order_id,
                    OrderStatus.REJECTED,
                    error_kind=VenueErrorKind.ORDER_NOT_FOUND,
                    detail="replace: the unresolved replacement never landed",
                    filled=Decimal(0),
                )
            )
        else:
            return LookupState.FAILED, pending
        del self._pending[intent_id]
        return found.state, pending

    def attempts(self, intent_id: str) -> int:
        """Replaces started for ``intent_id`` so far."""
        return self._attempts[intent_id]

    def _emit(self, event: str, live: RouterRequest, attempt: int, **fields: object) -> None:
        self._router.telemetry.emit(
            event,
            attempt=attempt,
            max_attempts=self._max,
            symbol=live.symbol,
            intent_id=live.intent_id,
            client_order_id=live.client_order_id,
            **fields,
        )

    async def replace(
        self,
        live: RouterRequest,
        *,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        qty: Decimal | None = None,
        ref_price: Decimal | None = None,
    ) -> ReplaceResult:
        """Replace the live order ``live`` (as it was submitted) with one at ``price`` / ``trigger_price`` /
        target ``qty`` (each defaults to the old value); see the module docstring."""
        attempt = self._attempts[live.intent_id] + 1
        if attempt > self._max:
            self._emit("order.replace.gave_up", live, attempt - 1, why="max_attempts")
            return ReplaceResult(ReplaceOutcome.GAVE_UP, attempt - 1, why="max_attempts")
        state, pending = await self._settle(live.intent_id)
        if state is LookupState.FAILED and pending is not None:
            why = "replacement_unresolved"
            self._emit(
                "order.replace.failed",
                live,
                attempt - 1,
                why=why,
                new_client_order_id=pending.placed.request.client_order_id,
            )
            return ReplaceResult(
                ReplaceOutcome.PLACE_UNRESOLVED, attempt - 1, None, pending.placed, pending.filled_before, why
            )
        if state is LookupState.FOUND and pending is not None:
            # the unresolved replacement is the live order; a caller's qty targets the order it passed
            live = pending.placed.request
            if qty is not None:
                qty -= pending.filled_before
        self._attempts[live.intent_id] = attempt
        cancel = await cancel_order(
            self._router,
            live.symbol,
            live.client_order_id,
            conditional=live.type.conditional,
            intent_id=live.intent_id,
        )
        if not cancel.confirmed:
            self._emit("order.replace.failed", live, attempt, why="cancel_unconfirmed", cancel_why=cancel.why)
            return ReplaceResult(ReplaceOutcome.CANCEL_UNCONFIRMED, attempt, cancel, why=cancel.why)
        filled = cancel.filled
        target = qty if qty is not None else live.qty
        new_qty = None if target is None else target - filled
        status = cancel.report.status if cancel.report is not None else None
        if status in _DONE or (new_qty is not None and new_qty <= 0):
            self._emit("order.replace.completed", live, attempt, filled=filled, status=status)
            return ReplaceResult(ReplaceOutcome.COMPLETED, attempt, cancel, filled=filled, why="completed")
        new = dataclasses.replace(
            live,
            client_order_id=self.next_id(live.client_order_id),
            qty=new_qty,
            price=price if price is not None else live.price,
            trigger_price=trigger_price if trigger_price is not None else live.trigger_price,
            ref_price=ref_price if ref_price is not None else live.ref_price,
        )
        self._use(new.client_order_id)
        placed = await self._router.submit(new)
        if placed.outcome is RouterOutcome.UNRESOLVED:
            self._pending[live.intent_id] = _Pending(placed, filled)
        if placed.outcome is not RouterOutcome.PLACED:
            unresolved = placed.outcome is RouterOutcome.UNRESOLVED
            self._emit(
                "order.replace.failed",
                live,
                attempt,
                why=f"place_{placed.outcome.value}",
                new_client_order_id=new.client_order_id,
                filled=filled,
            )
            return ReplaceResult(
                ReplaceOutcome.PLACE_UNRESOLVED if unresolved else ReplaceOutcome.PLACE_FAILED,
                attempt,
                cancel,
                placed,
                filled,
                f"place_{placed.outcome.value}",
            )
        self._emit(
            "order.replaced",
            live,
            attempt,
            new_client_order_id=new.client_order_id,
            filled=filled,
            qty=new_qty,
            price=new.price,
            trigger_price=new.trigger_price,
        )
        return ReplaceResult(ReplaceOutcome.REPLACED, attempt, cancel, placed, filled, "replaced")
