"""The running reconcile of the daemon: an instance of the compiled ``specs/reconcile.toml`` machine driving
bounded checks against the venue, feeding the belief debt and the ``specs/posture.toml`` machine.

:meth:`ReliabilityLoop.run_cycle` (the daemon calls it every ``RECONCILE_INFLIGHT_CHECK_SEC``) runs the checks
that are due, each with its period: in-flight orders (``RECONCILE_INFLIGHT_CHECK_SEC``), open orders
(``RECONCILE_ORDERS_CHECK_SEC``), positions (``RECONCILE_INTERVAL_SEC``; it also lists every symbol's orders),
protection (``PROTECTION_CHECK_SEC``). One cycle is ``start -> fetched -> diffed(clean|dirty) -> repaired``
on the machine; a failed venue read is ``fetch_failed`` (nothing is repaired from a partial snapshot) and a
repair the venue failed is ``repair_failed``: both back off (capped exponential, the machine's ``tick`` leaves
backoff when due), and the next cycle after a failure runs every check.

Findings (:mod:`.findings`) become contradictions in the :class:`~eclipse.machines.debt.BeliefDebt` (opened
when first seen, resolved when a check that covers them no longer sees them); the
:class:`~eclipse.machines.posture.PostureController` maps debt and growth to the posture's knobs. Orders and
positions that are not ours are *acknowledged*, not debt (a user's manual trade must not lock the account):
under ``block`` they keep entries on their symbol blocked while they are there.

Completeness: a symbol is tradeable only while its last positions check completed (no read failed, nothing
left unrepaired on it) within ``RECONCILE_STALE_SEC``; otherwise :meth:`ReliabilityLoop.knobs` blocks entries
there (``reconcile_pending``, ``reconcile_stale``, ``reconcile_failing``, ``position_mismatch``,
``foreign_position``, ``foreign_order``). Exits and protection never ask.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eclipse.contracts import GuardKnobs
from eclipse.machines.debt import BeliefDebt
from eclipse.machines.posture import Posture, PostureController
from eclipse.machines.reconcile import ReconcileCycle
from eclipse.machines.table import CompiledMachine
from eclipse.reliability.findings import POSITIONS_KEY, Finding, VenueEvidence, diff, gather
from eclipse.reliability.kpis import ReliabilityKpis
from eclipse.reliability.repair import Repairer, RepairOutcome
from eclipse.reliability.settings import ReliabilitySettings

if TYPE_CHECKING:
    from eclipse.execution.engine import ExecutionEngine

__all__ = ["CHECKS", "ReconcileSummary", "ReliabilityLoop"]

CHECKS = ("inflight", "orders", "positions", "protection")
ROUTER_EVENTS = frozenset({"order.create.retry_alert", "order.create.unresolved"})
"""The router's evidence of venue trouble: repeated errors, an order whose outcome it could not settle."""
ROUTER_QUIET_MS = 300_000
"""The router's debt item is resolved after this long without such an event (market time)."""
_COVERS: Mapping[str, frozenset[str]] = {
    "inflight": frozenset({"order_unknown"}),
    "orders": frozenset({"missing_order", "orphan_order", "foreign_order"}),
    "positions": frozenset({"position_mismatch", "unknown_position"}),
    "protection": frozenset({"unprotected_position"}),
}
_SYMBOL_BLOCKS = ("position_mismatch", "unknown_position", "foreign_order", "orphan_order")
_BLOCK_CODE = {"unknown_position": "foreign_position"}
_SEVERITY = {"unknown_position": "critical", "position_mismatch": "critical", "unprotected_position": "high"}
Emit = Callable[..., None]


@dataclass(frozen=True, slots=True)
class ReconcileSummary:
    """One reconcile cycle (emitted as ``reconcile.summary``)."""

    ts_ms: int
    cycle: int
    checks: tuple[str, ...]
    complete: bool
    state: str
    findings: Mapping[str, int]
    repaired: int
    failed: int
    lookups: int
    deferred: int
    debt: float
    posture: str
    blocked: Mapping[str, str]
    error: str = ""

    def fields(self) -> dict[str, object]:
        """The telemetry fields (counts flattened)."""
        return {
            "cycle": self.cycle,
            "checks": ",".join(self.checks),
            "complete": self.complete,
            "state": self.state,
            "findings": sum(self.findings.values()),
            **{f"n_{k}": v for k, v in sorted(self.findings.items())},
            "repaired": self.repaired,
            "failed": self.failed,
            "lookups": self.lookups,
            "deferred": self.deferred,
            "debt": round(self.debt, 4),
            "posture": self.posture,
            "blocked": ",".join(f"{s}:{r}" for s, r in sorted(self.blocked.items())),
            "error": self.error,
        }


class ReliabilityLoop:
    """Reconcile -> debt -> posture for one account (module docstring).

    ``reconcile_table`` / ``posture_table``: the compiled machines to run (default: the code's; a test may
    run ones compiled from a changed spec, and the daemon then does what that spec says)."""

    def __init__(
        self,
        engine: ExecutionEngine,
        symbols: Sequence[str],
        settings: ReliabilitySettings,
        emit: Emit,
        *,
        spot: bool = False,
        reconcile_table: CompiledMachine | None = None,
        posture_table: CompiledMachine | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.symbols = tuple(symbols)
        self.settings = settings
        self.spot = spot
        self._emit = emit
        self._on_line = on_line
        clock = engine.clock
        self.cycle = ReconcileCycle(
            clock, settings.backoff_base_sec, settings.backoff_max_sec, self._machine_event, reconcile_table
        )
        self.debt = BeliefDebt(clock, aging_min=settings.debt_aging_min)
        self.posture = PostureController(
            clock,
            hysteresis_sec=settings.hysteresis_sec,
            warmup_sec=settings.warmup_sec,
            red_lock_critical_streak=settings.red_lock_critical_streak,
            belief=self.debt,
            on_event=self._machine_event,
            table=posture_table,
        )
        self.kpis = ReliabilityKpis(clock, engine.protection.trackers)
        self.repairer = Repairer(
            engine, emit, policy=settings.foreign_policy, max_lookups=settings.max_lookups
        )
        self._last_run: dict[str, int] = {}
        self._full_next = True
        self._failing = False
        self._key_symbol: dict[str, str] = {}  # contradiction key -> its symbol
        self._router_alert_ms: int | None = None
        self.failing_symbols: set[str] = set()
        """Symbols whose orders or fills could not be read by the last cycle (left out of it)."""
        self.last_complete_ms: dict[str, int] = {}
        """symbol -> when its last positions check completed with nothing left on it."""
        self.blocks: dict[str, str] = {}
        """symbol -> why entries there are blocked by reconcile (besides staleness)."""
        self.acknowledged: dict[str, Finding] = {}
        """Foreign orders and positions known and left alone (no debt), by key."""
        self.last_summary: ReconcileSummary | None = None
        self.cycle_period_ms = 0
        """Market time between two calls of :meth:`run_cycle` by the driver (a fast replay stretches it): a
        symbol is stale only past three of those, whatever ``RECONCILE_STALE_SEC`` says."""
        self.cycles = 0

    # --- reads ----------------------------------------------------------------------------------------------
    def symbol_block(self, symbol: str) -> str | None:
        """Why entries on ``symbol`` are blocked by reconcile now (None: tradeable)."""
        if symbol in self.blocks:
            return self.blocks[symbol]
        if self._failing or symbol in self.failing_symbols:
            return "reconcile_failing"
        last = self.last_complete_ms.get(symbol)
        if last is None:
            return "reconcile_pending"
        positions_ms = max(round(self.settings.positions_check_sec * 1000), self.cycle_period_ms)
        if self.engine.clock.now_ms() - last > max(round(self.settings.stale_sec * 1000), 3 * positions_ms):
            return "reconcile_stale"
        return None

    def knobs(self, symbol: str | None = None) -> GuardKnobs:
        """The posture's knobs, tightened by ``symbol``'s reconcile block."""
        knobs = self.posture.knobs()
        if symbol is None:
            return knobs
        why = self.symbol_block(symbol)
        if why is None:
            return knobs
        block = GuardKnobs(entry_block=True, reason=f"reconcile: {symbol} {why}", code=why)
        return knobs.tighten(block)

    @property
    def current_posture(self) -> Posture:
        """The posture now."""
        return self.posture.posture

    # --- the cycle ------------------------------------------------------------------------------------------
    def due(self) -> tuple[str, ...]:
        """The checks due now (all of them after a failure or at the first cycle)."""
        now = self.engine.clock.now_ms()
        if self._full_next:
            return CHECKS
        s = self.settings
        period = {
            "inflight": s.inflight_check_sec,
            "orders": s.orders_check_sec,
            "positions": s.positions_check_sec,
            "protection": s.protection_check_sec,
        }
        return tuple(
            c for c in CHECKS if c not in self._last_run or now - self._last_run[c] >= round(period[c] * 1000)
        )

    async def run_cycle(self, *, force: bool = False) -> ReconcileSummary | None:
        """Run the due checks as one cycle of the machine; None when nothing ran (nothing due, or backing
        off). ``force`` runs every check (startup). An unexpected exception ends the cycle on the machine
        (a failure: backoff, the next cycle runs every check) before it propagates to the supervisor."""
        self.cycle.tick()
        if not self.cycle.can_start():
            self.tick()
            return None
        checks = CHECKS if force else self.due()
        if not checks:
            self.tick()
            return None
        self.cycle.start()
        self.cycles += 1
        before = {symbol: self.symbol_block(symbol) for symbol in self.symbols}
        try:
            summary = await self._cycle(checks)
            self._announce(before)
            return summary
        except BaseException:
            if self.cycle.state == "fetching":
                self.cycle.fetch_failed()
            elif self.cycle.state == "diffing":
                self.cycle.diffed(clean=False)
            if self.cycle.state == "repairing":
                self.cycle.repair_failed()
            self._full_next = self._failing = True
            raise

    async def _cycle(self, checks: tuple[str, ...]) -> ReconcileSummary:
        engine = self.engine
        now = engine.clock.now_ms()
        positions = "positions" in checks
        listing = positions or "orders" in checks
        symbols = sorted(
            set(self.symbols) | {o.symbol for o in engine.orders.live()} | set(engine.book.open_positions())
        )
        await engine.sync_fills()  # fills the venue made since the last sync are not a mismatch
        evidence = await gather(
            engine, symbols if listing else (), positions=positions and not self.spot, now_ms=now
        )
        for c in checks:
            self._last_run[c] = now
        if POSITIONS_KEY in evidence.failed or (evidence.failed and not positions):
            return self._fetch_failed(checks, evidence)
        # a symbol whose orders or fills could not be read is left out of this cycle (its last state stands,
        # it is blocked as failing); the others are diffed and repaired
        failed = set(evidence.failed) | (engine.fills_failed & set(symbols))
        self.failing_symbols = failed
        self.cycle.fetched()
        findings = [
            f
            for f in diff(
                engine,
                evidence,
                self.symbols,
                inflight_age_ms=round(self.settings.inflight_age_sec * 1000),
                check_inflight="inflight" in checks,
                check_protection="protection" in checks,
            )
            if f.symbol not in failed
        ]
        actionable = self._classify(findings)
        self._update_debt(checks, evidence, findings, actionable, failed)
        self.cycle.diffed(clean=not actionable)
        outcome = RepairOutcome()
        if actionable:
            outcome = await self.repairer.repair(actionable, evidence)
            if outcome.venue_errors:
                self.cycle.repair_failed()
                self._full_next = True
            else:
                self.cycle.repaired()
            for key in outcome.done:
                self._key_symbol.pop(key, None)
                if self.debt.is_open(key):
                    self.posture.resolve_contradiction(key)
            self.kpis.repairs(outcome.attempted, outcome.succeeded)
        if outcome.venue_errors == 0:
            self._full_next = bool(failed)
        if positions or (self.spot and listing):
            self._completeness([s for s in symbols if s not in failed], findings, outcome)
        self.tick()
        error = "; ".join(f"{k}: {v}" for k, v in sorted(evidence.failed.items()))
        return self._summary(checks, not failed, findings, outcome, error)

    def observe(self, record: Mapping[str, object]) -> None:
        """Every telemetry record (cheap): the router's alerts are evidence of venue trouble, booked as debt
        by the next :meth:`tick` (never from inside an emit)."""
        if record.get("event") in ROUTER_EVENTS:
            self._router_alert_ms = self.engine.clock.now_ms()

    def tick(self) -> None:
        """Between cycles: the router's evidence booked, the posture re-evaluated (debt ages), KPIs read."""
        key = "venue_errors:router"
        alert = self._router_alert_ms
        now = self.engine.clock.now_ms()
        if alert is not None and now - alert < ROUTER_QUIET_MS:
            if not self.debt.is_open(key):
                self.posture.add_contradiction(key, "venue_errors")
        elif self.debt.is_open(key):
            self.posture.resolve_contradiction(key)
        self.posture.update()
        self.kpis.sample_debt(bool(self.debt.open_contradictions()))
        unknown = {o.client_order_id: o.placed_ms for o in self.engine.orders.live() if o.state == "unknown"}
        self.kpis.sample_unknown(unknown)

    # --- internals ------------------------------------------------------------------------------------------
    def _classify(self, findings: Sequence[Finding]) -> list[Finding]:
        """Foreign orders / positions the policy leaves alone are acknowledged (no debt, symbol blocked)."""
        policy = self.settings.foreign_policy
        actionable: list[Finding] = []
        for f in findings:
            leave = (f.kind == "foreign_order" and policy != "flatten") or (
                f.kind == "unknown_position" and policy == "block"
            )
            if leave:
                if f.key not in self.acknowledged:
                    self._emit(
                        "reconcile.foreign", symbol=f.symbol, kind=f.kind, detail=f.detail, policy=policy,
                        severity="high",
                    )  # fmt: skip
                    self._line(
                        f"{f.symbol}: {f.kind.replace('_', ' ')} not ours ({f.detail}); policy {policy}"
                    )
                self.acknowledged[f.key] = f
            else:
                actionable.append(f)
        return actionable

    def _update_debt(
        self,
        checks: Sequence[str],
        ev: VenueEvidence,
        findings: Sequence[Finding],
        actionable: Sequence[Finding],
        failed: set[str],
    ) -> None:
        seen = {f.key for f in findings}
        covered = frozenset().union(*(_COVERS[c] for c in checks if c != "orders" or ev.listed))
        for c in self.debt.open_contradictions():
            left_out = self._key_symbol.get(c.key) in failed  # a symbol not read this cycle keeps its debt
            if c.kind in covered and c.key not in seen and not left_out:
                self.posture.resolve_contradiction(c.key)
                self._key_symbol.pop(c.key, None)
        for key in [
            k
            for k, f in self.acknowledged.items()
            if k not in seen and f.symbol not in failed and _covered(f, checks, ev)
        ]:
            del self.acknowledged[key]
        for f in actionable:
            if not self.debt.is_open(f.key):
                self._key_symbol[f.key] = f.symbol
                self.posture.add_contradiction(f.key, f.kind)
                self._emit(
                    "reconcile.mismatch" if f.kind in _SEVERITY else "reconcile.finding",
                    symbol=f.symbol, kind=f.kind, key=f.key, detail=f.detail,
                    severity=_SEVERITY.get(f.kind, "medium"),
                )  # fmt: skip
        if self.debt.is_open("venue_errors:reconcile"):
            self.posture.resolve_contradiction("venue_errors:reconcile")

    def _fetch_failed(self, checks: Sequence[str], ev: VenueEvidence) -> ReconcileSummary:
        self.cycle.fetch_failed()
        self._full_next = True
        self._failing = True
        if self.cycle.consecutive_failures >= 2 and not self.debt.is_open("venue_errors:reconcile"):
            self.posture.add_contradiction("venue_errors:reconcile", "venue_errors")
        error = "; ".join(f"{k}: {v}" for k, v in sorted(ev.failed.items()))
        self.tick()
        return self._summary(checks, False, (), RepairOutcome(), error)

    def _completeness(self, symbols: Sequence[str], findings: Sequence[Finding], out: RepairOutcome) -> None:
        now = self.engine.clock.now_ms()
        self._failing = False
        left: dict[str, str] = {}
        for f in findings:
            if f.kind in _SYMBOL_BLOCKS and f.key not in out.done and f.symbol not in left:
                left[f.symbol] = _BLOCK_CODE.get(f.kind, f.kind)
        for symbol in symbols:
            if symbol in left:
                self.blocks[symbol] = left[symbol]
            else:
                self.blocks.pop(symbol, None)
                self.last_complete_ms[symbol] = now

    def _announce(self, before: Mapping[str, str | None]) -> None:
        """``reconcile.symbol_blocked`` / ``reconcile.symbol_ready`` for each configured symbol changed."""
        for symbol, was in before.items():
            now = self.symbol_block(symbol)
            if now == was:
                continue
            if now is None:
                self._emit("reconcile.symbol_ready", symbol=symbol, was=was or "")
            else:
                self._emit("reconcile.symbol_blocked", symbol=symbol, reason=now, severity="high")
                self._line(f"{symbol}: entries blocked ({now.replace('_', ' ')})")

    def _summary(
        self,
        checks: Sequence[str],
        complete: bool,
        findings: Sequence[Finding],
        out: RepairOutcome,
        error: str = "",
    ) -> ReconcileSummary:
        blocked = {s: why for s in self.symbols if (why := self.symbol_block(s)) is not None}
        summary = ReconcileSummary(
            self.engine.clock.now_ms(), self.cycles, tuple(checks), complete, self.cycle.state,
            dict(Counter(f.kind for f in findings)), out.succeeded, len(out.failed), out.lookups,
            out.deferred, self.debt.debt(), self.current_posture.value, blocked, error,
        )  # fmt: skip
        self.last_summary = summary
        self._emit("reconcile.summary", **summary.fields())
        return summary

    def _machine_event(self, record: Mapping[str, object]) -> None:
        fields = {k: v for k, v in record.items() if k not in ("event", "ts_ms")}
        name = str(record.get("event", ""))
        self._emit(name, **fields)
        if name == "posture.changed":
            debt = float(str(fields.get("debt")))
            self._line(f"posture {fields.get('from')} -> {fields.get('to')} (debt {debt:.1f})")
        elif name == "posture.red_lock_critical":
            self._line(f"CRITICAL: RED_LOCK streak {fields.get('streak')}")

    def _line(self, text: str) -> None:
        if self._on_line is not None:
            self._on_line(text)


def _covered(f: Finding, checks: Sequence[str], ev: VenueEvidence) -> bool:
    if f.kind == "foreign_order":
        return f.symbol in ev.listed
    return "positions" in checks and ev.positions is not None
