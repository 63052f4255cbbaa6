"""Post-submit partial-fill resolver (``ENTRY_PARTIAL_*``).

When an entry's order report shows ``0 < filled / qty < ENTRY_PARTIAL_MIN_FILL_RATIO``:

1. the live remainder is canceled (``ENTRY_PARTIAL_CANCEL``; up to ``_CANCEL_RETRIES`` tries,
   ``_CANCEL_DELAY_SEC`` apart; an order already terminal has no remainder);
2. the symbol's entries are blocked for ``_BACKOFF_SEC``;
3. the hit is counted: ``_ESCALATE_COUNT`` hits within ``_ESCALATE_WINDOW_SEC`` extend the block to at least
   ``_ESCALATE_BACKOFF_SEC``, reset the count and emit ``entry.partial_fill_escalation`` (at most once per
   ``_ESCALATE_TELEM_CD_SEC`` per symbol);
4. the filled part is closed with a reduce-only flatten (``_FORCE_FLATTEN``; up to ``_FLATTEN_RETRIES``
   tries);
5. ``entry.partial_fill_state`` is emitted with ``outcome`` ``partial_forced_flatten`` (flattened and no
   remainder left live) or ``partial_stuck`` (anything else: the position or a remainder may remain).

An entry with nothing filled is not a partial fill (``no_fill``) and one at or above the ratio is ``ok``;
neither triggers anything. The resolver acts through :class:`PartialFillActions`, so it needs no router.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Protocol, runtime_checkable

from eclipse.clock import Clock
from eclipse.contracts import IntentKind, OrderReport, RouterRequest
from eclipse.execution.entries.throttle import EntryBackoff
from eclipse.execution.entries.values import symbol_key
from eclipse.telemetry import Telemetry

__all__ = [
    "FORCED_FLATTEN",
    "NO_FILL",
    "OK",
    "STUCK",
    "PartialFillActions",
    "PartialFillResolver",
    "PartialOutcome",
    "PartialSettings",
]

_LOG = logging.getLogger(__name__)
OK = "ok"
NO_FILL = "no_fill"
FORCED_FLATTEN = "partial_forced_flatten"
STUCK = "partial_stuck"


@runtime_checkable
class PartialFillActions(Protocol):
    """What the resolver needs from the router."""

    async def cancel(self, client_order_id: str) -> bool:
        """Cancel the order; True when it is canceled or already terminal."""
        ...

    async def flatten(self, symbol: str) -> bool:
        """Close ``symbol``'s position with a reduce-only market order; True when it is flat."""
        ...


@dataclass(frozen=True, slots=True)
class PartialSettings:
    """The ``ENTRY_PARTIAL_*`` knobs (original defaults)."""

    min_fill_ratio: float = 0.5
    cancel: bool = True
    backoff_sec: float = 10.0
    escalate_window_sec: float = 600.0
    escalate_count: int = 3
    escalate_backoff_sec: float = 120.0
    escalate_telem_cd_sec: float = 300.0
    cancel_retries: int = 2
    cancel_delay_sec: float = 0.25
    force_flatten: bool = True
    flatten_retries: int = 2


@dataclass(frozen=True, slots=True)
class PartialOutcome:
    """What the resolver found and did for one entry order."""

    symbol: str
    client_order_id: str
    requested: Decimal
    filled: Decimal
    ratio: float
    outcome: str
    cancel_attempted: bool = False
    cancel_ok: bool = False
    flatten_attempted: bool = False
    flatten_ok: bool = False
    backoff_until_ms: int | None = None
    escalated: bool = False


class PartialFillResolver:
    """Resolves below-threshold entry fills; keeps per-symbol hit windows (no global state)."""

    def __init__(
        self,
        settings: PartialSettings,
        actions: PartialFillActions,
        backoff: EntryBackoff,
        telemetry: Telemetry,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._actions = actions
        self._backoff = backoff
        self._telemetry = telemetry
        self._clock = clock
        self._sleep = sleep
        self._hits: dict[str, deque[int]] = {}
        self._last_escalation_emit: dict[str, int] = {}

    async def resolve(self, request: RouterRequest, report: OrderReport) -> PartialOutcome:
        """Look at the entry ``request``'s ``report`` and resolve a below-threshold fill."""
        if request.kind is not IntentKind.ENTRY:
            raise ValueError(f"the partial-fill resolver only handles entries, got {request.kind}")
        s = self.settings
        symbol = symbol_key(request.symbol)
        requested = request.qty or Decimal(0)
        filled = report.filled
        ratio = float(filled / requested) if requested > 0 else 0.0
        base = PartialOutcome(symbol, request.client_order_id, requested, filled, ratio, OK)
        if filled <= 0:
            return replace(base, outcome=NO_FILL)
        if ratio >= s.min_fill_ratio:
            return base
        cancel_attempted = cancel_ok = False
        remainder_live = not report.status.terminal
        if remainder_live and s.cancel:
            cancel_attempted = True
            cancel_ok = await self._retry(
                "cancel",
                lambda: self._actions.cancel(request.client_order_id),
                s.cancel_retries,
                s.cancel_delay_sec,
            )
            remainder_live = not cancel_ok
        now = self._clock.now_ms()
        detail = f"filled {filled}/{requested} ({ratio:.2%} < {s.min_fill_ratio:.0%})"
        until = self._backoff.block(
            symbol, now + round(s.backoff_sec * 1000), "partial_fill", detail
        ).until_ms
        escalated = self._record_hit(symbol, now, ratio)
        if escalated:
            until = self._backoff.block(
                symbol, now + round(s.escalate_backoff_sec * 1000), "partial_fill_escalation", detail
            ).until_ms
        flatten_attempted = flatten_ok = False
        if s.force_flatten:
            flatten_attempted = True
            flatten_ok = await self._retry(
                "flatten", lambda: self._actions.flatten(request.symbol), s.flatten_retries, 0.0
            )
        outcome = FORCED_FLATTEN if flatten_ok and not remainder_live else STUCK
        result = PartialOutcome(
            symbol,
            request.client_order_id,
            requested,
            filled,
            ratio,
            outcome,
            cancel_attempted,
            cancel_ok,
            flatten_attempted,
            flatten_ok,
            until,
            escalated,
        )
        self._telemetry.emit(
            "entry.partial_fill_state",
            symbol=symbol,
            outcome=outcome,
            client_order_id=request.client_order_id,
            intent_id=request.intent_id,
            requested=requested,
            filled=filled,
            ratio=ratio,
            min_ratio=s.min_fill_ratio,
            cancel_attempted=cancel_attempted,
            cancel_ok=cancel_ok,
            remainder_live=remainder_live,
            flatten_attempted=flatten_attempted,
            flatten_ok=flatten_ok,
            backoff_until_ms=until,
            level="warning" if outcome == FORCED_FLATTEN else "critical",
        )
        return result

    def _record_hit(self, symbol: str, now: int, ratio: float) -> bool:
        s = self.settings
        hits = self._hits.setdefault(symbol, deque())
        hits.append(now)
        while hits and hits[0] < now - round(s.escalate_window_sec * 1000):
            hits.popleft()
        if len(hits) < s.escalate_count:
            return False
        count = len(hits)
        hits.clear()
        last = self._last_escalation_emit.get(symbol)
        if last is None or now - last >= round(s.escalate_telem_cd_sec * 1000):
            self._last_escalation_emit[symbol] = now
            self._telemetry.emit(
                "entry.partial_fill_escalation",
                symbol=symbol,
                count=count,
                window_sec=s.escalate_window_sec,
                backoff_sec=s.escalate_backoff_sec,
                ratio=ratio,
            )
        return True

    async def _retry(
        self, what: str, action: Callable[[], Awaitable[bool]], tries: int, delay_sec: float
    ) -> bool:
        for attempt in range(max(1, tries)):
            try:
                if await action():
                    return True
            except Exception as exc:  # a failed try is retried; the outcome says what is left
                _LOG.warning("partial-fill %s try %d failed: %s", what, attempt + 1, exc)
            if attempt + 1 < tries and delay_sec > 0:
                await self._sleep(delay_sec)
        return False
