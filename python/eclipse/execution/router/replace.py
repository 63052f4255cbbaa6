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
without touching the live order. Replacement client ids are ``<root>.r<n>`` (same root, attempt ``n``),
so a replayed replace reuses the same id.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from eclipse.contracts import RouterOutcome, RouterRequest, RouterResult
from eclipse.execution.router.cancel import CancelResult, cancel_order
from eclipse.execution.router.executor import Router
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
    PLACE_FAILED = "place_failed"  # old order gone, the replacement was blocked/rejected/unresolved


@dataclass(frozen=True, slots=True)
class ReplaceResult:
    """A replace's end: the cancel, the replacement's router result (if one was sent), the attempt."""

    outcome: ReplaceOutcome
    attempt: int
    cancel: CancelResult | None = None
    placed: RouterResult | None = None
    filled: Decimal = Decimal(0)
    why: str = ""


def replacement_id(client_order_id: str, attempt: int) -> str:
    """``<root>.r<attempt>`` where root is ``client_order_id`` without a previous ``.r<n>`` suffix."""
    root, sep, tail = client_order_id.rpartition(".r")
    base = root if sep and tail.isdigit() else client_order_id
    return f"{base}.r{attempt}"


class ReplaceManager:
    """Replaces orders through ``router`` with at most ``max_attempts`` replaces per intent."""

    def __init__(self, router: Router, max_attempts: int = DEFAULT_REPLACE_MAX_ATTEMPTS) -> None:
        if max_attempts < 0:
            raise ValueError(f"max_attempts must be >= 0, got {max_attempts}")
        self._router = router
        self._max = max_attempts
        self._attempts: Counter[str] = Counter()

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
            client_order_id=replacement_id(live.client_order_id, attempt),
            qty=new_qty,
            price=price if price is not None else live.price,
            trigger_price=trigger_price if trigger_price is not None else live.trigger_price,
            ref_price=ref_price if ref_price is not None else live.ref_price,
        )
        placed = await self._router.submit(new)
        if placed.outcome is not RouterOutcome.PLACED:
            self._emit(
                "order.replace.failed",
                live,
                attempt,
                why=f"place_{placed.outcome.value}",
                new_client_order_id=new.client_order_id,
                filled=filled,
            )
            return ReplaceResult(
                ReplaceOutcome.PLACE_FAILED, attempt, cancel, placed, filled, f"place_{placed.outcome.value}"
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
