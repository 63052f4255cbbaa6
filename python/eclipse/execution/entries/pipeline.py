"""The entry path in one call per closed bar: scanner -> gate -> sizing -> group notional cap -> leverage.

The result is an :class:`EntryPlan` (the router request and the leverage / margin mode to set first) or
None; every stop on the way has already been emitted (``entry.blocked`` / ``entry.near_miss``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from eclipse.contracts import EntryIntent, PositionSnapshot, RouterRequest
from eclipse.execution.entries.gate import EntryGate, GateVerdict
from eclipse.execution.entries.leverage import LeverageDecision, LeverageSettings, resolve_leverage
from eclipse.execution.entries.scanner import EntryScanner, ScanResult
from eclipse.execution.entries.sizing import Sizer, SizeResult
from eclipse.market.bars import Bar
from eclipse.venues.types import Market

__all__ = ["EntryPipeline", "EntryPlan", "PlanStep"]


@dataclass(frozen=True, slots=True)
class EntryPlan:
    """An entry ready for the router: set ``leverage`` on the venue, then send ``request``."""

    intent: EntryIntent
    request: RouterRequest
    leverage: LeverageDecision
    size: SizeResult


@dataclass(frozen=True, slots=True)
class PlanStep:
    """Where one bar's entry attempt ended: ``plan`` when it got through, else the stage and reason."""

    scan: ScanResult
    plan: EntryPlan | None = None
    stage: str = "scan"
    reason: str | None = None


class EntryPipeline:
    """Wires the scanner, the gate, the sizer and the leverage settings together."""

    def __init__(
        self, scanner: EntryScanner, gate: EntryGate, sizer: Sizer, leverage: LeverageSettings
    ) -> None:
        self.scanner = scanner
        self.gate = gate
        self.sizer = sizer
        self.leverage = leverage

    def on_bar(
        self,
        symbol: str,
        bar: Bar,
        market: Market,
        positions: Sequence[PositionSnapshot],
        equity: Decimal,
    ) -> PlanStep:
        """Run one closed bar of ``symbol`` through the whole entry path."""
        scan = self.scanner.on_bar(symbol, bar)
        if scan.intent is None:
            return PlanStep(scan, reason=scan.skipped or scan.decision.blocked_by)
        return self.plan(scan, market, positions, equity)

    def plan(
        self, scan: ScanResult, market: Market, positions: Sequence[PositionSnapshot], equity: Decimal
    ) -> PlanStep:
        """Gate, size and lever the intent of ``scan`` (which must have one)."""
        intent = scan.intent
        if intent is None:
            raise ValueError("plan() needs a scan result with an intent")
        verdict: GateVerdict = self.gate.admit(intent, positions)
        if not verdict.ok:
            return PlanStep(scan, stage="gate", reason=verdict.reason)
        knobs = self.gate.guard.current(intent.symbol)
        size = self.sizer.size(intent, market, positions, knobs)
        if size.request is None:
            return PlanStep(scan, stage="sizing", reason=size.reason)
        verdict = self.gate.admit_request(size.request, positions)
        if not verdict.ok:
            return PlanStep(scan, stage="gate", reason=verdict.reason)
        lev = resolve_leverage(intent.symbol, self.leverage, positions, equity, knobs.leverage_scale)
        return PlanStep(scan, EntryPlan(intent, size.request, lev, size), stage="ready")
