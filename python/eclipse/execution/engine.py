"""The execution engine: the loop body the daemon calls once per symbol and closed bar, plus fill handling,
protection and restart. See ``docs/execution.md``.

:meth:`ExecutionEngine.on_bar` runs, in this order:

1. **exits** (never gated: no guard, posture, throttle or knob is consulted): the bar is applied to the
   signal engine's FeatureState of the symbol (:meth:`SignalEngine.advance`; the one feature pass per bar,
   shared read-only with the exit rules), the exit rules run on the open position, a firing rule becomes a
   reduce-only MARKET order sent through the router;
2. **entries**: :class:`~eclipse.execution.entries.pipeline.EntryPipeline` (scanner -> gate -> sizing ->
   leverage); a plan sets leverage and margin mode on the venue (once per value), journals
   :class:`~eclipse.contracts.IntentCreated` and goes to :meth:`Router.submit`; BLOCKED feeds the gate's
   router-block throttle, REJECTED / UNRESOLVED its error throttle; an entry that ends partially filled goes
   to the partial-fill resolver (cancel through the router, reduce-only flatten);
3. :meth:`ExecutionEngine.sync_fills`: the venue's fills of our orders, deduplicated by trade id, journaled
   (:class:`~eclipse.contracts.FillRecorded`, then :class:`~eclipse.contracts.PositionChanged`) and applied
   to the :class:`~eclipse.execution.positions.PositionBook`; each fill drives the
   :class:`~eclipse.execution.exits.ProtectionManager` (stop-loss / take-profit placed as soon as an entry
   fills, resized, canceled once flat);
4. :meth:`ExecutionEngine.check_protection` every ``protection_check_sec``: the venue's open orders against
   the tracked ones (terminal ones settled by lookup) and the positions (missing protection re-placed,
   leftovers canceled, a breached stop's position closed; see :mod:`.engine_protection`).

Between bars the daemon calls :meth:`ExecutionEngine.tick` at least every ``protection_check_sec``: fills and
the protection check when due, never exits or entries.

Orders: every order is an instance of the order machine (``specs/order.toml``), driven by the journal records
the engine's parts write through :class:`~eclipse.execution.engine_orders.Recorder` (the router's submits,
acknowledgements and lookups, cancels, fills, venue reports); a fill is booked to its order by client id, else
by its venue id, and the regular order a triggered stop or take-profit became is linked to it (see
:mod:`.engine_orders`). The protection machine of each symbol runs whole: entries and exits submitted and
ended drive it besides fills and protective legs.

:meth:`ExecutionEngine.resume` rebuilds an engine after a restart: :func:`recover` settles the journal
against the venue (following triggers, repairing positions from the venue's fills), the order machines, the
book and protection are rebuilt by replaying the journal, the protective legs working on the venue are
adopted (any surplus canceled first) and protection is checked before any new entry; a symbol whose position
still disagrees with the venue's stays blocked for entries.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from eclipse.clock import Clock
from eclipse.contracts import (
    FillRecorded,
    IntentCreated,
    IntentKind,
    JournalEvent,
    PositionChanged,
    PositionSnapshot,
    RouterOutcome,
    RouterRequest,
    RouterResult,
    TransitionRefused,
)
from eclipse.execution.engine_leverage import prepare_leverage, set_entry_leverage
from eclipse.execution.engine_orders import (
    Recorder,
    chase_triggers,
    follow_trigger,
    order_changed,
    protection_refused,
    record_report,
    refused,
)
from eclipse.execution.engine_protection import check_protection, run_protection
from eclipse.execution.engine_restore import adopt_live_legs, restore_from_journal
from eclipse.execution.engine_settings import EngineSettings
from eclipse.execution.entries.gate import EntryGate, GuardKnobsProvider, StaticGuardProvider
from eclipse.execution.entries.partial import PartialFillResolver
from eclipse.execution.entries.pipeline import EntryPipeline, EntryPlan
from eclipse.execution.entries.scanner import EntryScanner
from eclipse.execution.entries.sizing import Sizer
from eclipse.execution.exits import (
    ExitEngine,
    ProtectionManager,
    ProtectionPlan,
)
from eclipse.execution.journal import Journal, JournalSource, RecoveryReport, recover
from eclipse.execution.positions import PositionBook
from eclipse.execution.router import JournalSink, Router, cancel_order
from eclipse.execution.tracking import OrderLedger, TrackedOrder
from eclipse.machines.table import CompiledMachine
from eclipse.market.bars import Bar
from eclipse.strategy.engine import SignalEngine
from eclipse.telemetry import Telemetry
from eclipse.venues.errors import VenueError
from eclipse.venues.protocol import Venue
from eclipse.venues.types import Fill, OrderReport

__all__ = ["EngineSettings", "ExecutionEngine"]


Sleep = Callable[[float], Awaitable[None]]
FILL_SLACK_MS = 60_000
"""Fills are fetched from this long before the oldest order that may still have unseen fills."""
_FILL_PAGE = 500
_MAX_PAGES = 50
_STRAYS_KEPT = 10_000
"""Fills of no known order already chased (a manual trade is looked into once), at most this many kept."""


class _Actions:
    """The partial-fill resolver's hands: cancel and flatten through the engine's router."""

    def __init__(self, engine: ExecutionEngine) -> None:
        self._engine = engine

    async def cancel(self, client_order_id: str) -> bool:
        """Cancel the entry remainder; True when the venue confirms nothing is live."""
        return await self._engine.cancel(client_order_id)

    async def flatten(self, symbol: str) -> bool:
        """Close ``symbol`` with a reduce-only market order; True once the book is flat."""
        return await self._engine.flatten(symbol, "partial_fill")


class ExecutionEngine:
    """One account's execution loop over a venue (see the module docstring).

    ``journal`` is the SQLite :class:`Journal` in production (needed by :meth:`resume`) or any
    :class:`JournalSink` in tests; ``sleep`` / ``rng`` drive the router's backoff (inject a simulated sleep
    under a simulated clock). ``order_table`` / ``protection_table`` are the order and protection machines to
    run (default: the code's; a test may run ones compiled from a changed spec).
    """

    def __init__(
        self,
        venue: Venue,
        journal: JournalSink,
        clock: Clock,
        telemetry: Telemetry,
        settings: EngineSettings,
        *,
        sleep: Sleep,
        rng: random.Random | None = None,
        guard: GuardKnobsProvider | None = None,
        order_table: CompiledMachine | None = None,
        protection_table: CompiledMachine | None = None,
        wall: Clock | None = None,
    ) -> None:
        self.venue, self.journal, self.clock, self.telemetry = venue, journal, clock, telemetry
        self.settings = settings
        self.equity = settings.equity
        self.orders = OrderLedger(order_table, self._refused)
        """Every order, each an instance of the order machine driven by its journal records."""
        self.recorder = Recorder(self)
        """Where the engine's parts write the journal: the store, then the order machines."""
        rs = settings.router
        self.router = Router(
            venue,
            self.recorder,
            telemetry,
            clock,
            rs.policy,
            sleep,
            rng or random.Random(0),
            max_notional=rs.max_notional,
            landing_window_ms=rs.landing_window_ms,
            wall=wall,
        )
        self.book = PositionBook(clock, telemetry.sink)
        es = settings.entries
        self.gate = EntryGate(es.gate, guard or StaticGuardProvider(), telemetry, clock)
        self.signals = SignalEngine(settings.strategy, clock)
        """The strategy engine; its FeatureState of each symbol is also what the exit rules read."""
        scanner = EntryScanner(
            self.signals, self, telemetry, lambda symbol: settings.exits.for_symbol(symbol).atr_tf
        )
        self.entries = EntryPipeline(scanner, self.gate, Sizer(es.sizing, telemetry), es.leverage)
        self.partial = PartialFillResolver(
            es.partial, _Actions(self), self.gate.backoff, telemetry, clock, sleep
        )
        self.exits = ExitEngine(settings.exits, self.book, clock, telemetry)
        self.protection = ProtectionManager(
            settings.exits, clock, telemetry, on_refusal=self._protection_refused, table=protection_table
        )
        self.leverage_set: dict[str, tuple[int, str]] = {}
        """symbol -> (leverage, margin mode) in force on the venue (set once per value)."""
        self.entry_of: dict[str, tuple[str, float | None]] = {}
        self._trip_start: dict[str, Decimal] = {}  # net PnL (realized - fees) when the round trip opened
        """symbol -> (intent id, ATR%) of its latest entry (names the protective orders)."""
        self._last_check_ms: int | None = None
        self.entries_enabled = True
        self.blocked: dict[str, str] = {}
        """symbol -> why entries there are blocked (its position differs from the venue): never exits."""
        self._strays: dict[tuple[str, str], None] = {}
        self.fills_failed: set[str] = set()
        """Symbols whose last fill fetch failed (the book may lag the venue there until one succeeds)."""

    # --- PositionView (the scanner's one-position-per-symbol rule) -----------------------------------------
    def has_position(self, symbol: str) -> bool:
        """True when the book holds a position in ``symbol``."""
        return self.book.snapshot(symbol).qty != 0

    def has_live_entry(self, symbol: str) -> bool:
        """True while an entry order of ``symbol`` is working or of unknown outcome."""
        return self.orders.has_live_entry(symbol)

    # --- the loop -------------------------------------------------------------------------------------------
    async def on_bar(self, symbol: str, bar: Bar) -> None:
        """Handle one closed 1m bar of ``symbol``: exits, entries, fills, protection (module docstring)."""
        if bar.close > 0:
            self.book.set_mark(symbol, Decimal(repr(bar.close)))
        # one feature pass per bar: the signal engine applies it now, the exits read that same state, and
        # the scanner (_entry, on every path) then only scores it
        state = self.signals.advance(symbol, bar)
        await self.sync_fills(symbol)
        exit_req = self.exits.on_bar(symbol, state)
        if exit_req is not None:
            await self.submit_reduce(exit_req)
        await self._entry(symbol, bar)
        await self.sync_fills(symbol)
        if self.check_due():
            await self.check_protection()

    async def tick(self) -> bool:
        """Between bars (the daemon calls it at least every ``protection_check_sec``): when the protection
        check is due, sync fills and run :meth:`check_protection`; never exits or entries. True if it ran."""
        if not self.check_due():
            return False
        await self.sync_fills()
        await self.check_protection()
        return True

    def check_due(self) -> bool:
        """True when ``protection_check_sec`` passed since the last protection check (or none ran yet)."""
        interval = round(self.settings.protection_check_sec * 1000)
        return self._last_check_ms is None or self.clock.now_ms() - self._last_check_ms >= interval

    async def _entry(self, symbol: str, bar: Bar) -> None:
        positions = list(self.book.open_positions().values())
        try:
            market = await self.router.market(symbol)
        except VenueError as err:
            self.entries.scanner.on_bar(symbol, bar)  # the features must still see every bar
            self.telemetry.emit("entry.blocked", symbol=symbol, reason="market_unavailable", detail=str(err))
            return
        step = self.entries.on_bar(symbol, bar, market, positions, self.equity)
        plan = step.plan
        if plan is None:
            return
        why = self._entry_veto(plan)
        if why is not None:
            self.telemetry.emit("entry.blocked", symbol=symbol, reason=why, intent_id=plan.intent.intent_id)
            return
        if not await set_entry_leverage(self, plan):
            return
        intent = plan.intent
        req = plan.request
        self.recorder.append(
            IntentCreated(
                self.clock.now_ms(),
                intent.intent_id,
                IntentKind.ENTRY,
                symbol,
                intent.side,
                req.qty,
                req.ref_price,
                intent.confidence,
                intent.atr_pct,
            )
        )
        self.entry_of[symbol] = (intent.intent_id, intent.atr_pct)
        self.exits.note_entry_atr(symbol, intent.atr_pct)
        self.telemetry.emit(
            "entry.submitted",
            symbol=symbol,
            side=intent.side,
            confidence=intent.confidence,
            intent_id=intent.intent_id,
            qty=req.qty,
            reason=intent.reason,
        )
        result = await self._submit(req)
        if result.outcome is RouterOutcome.BLOCKED:
            self.gate.record_router_block(symbol, detail=result.why)
        elif result.outcome in (RouterOutcome.REJECTED, RouterOutcome.UNRESOLVED):
            self.gate.record_error(symbol, detail=f"{result.outcome.value}: {result.why}")
        elif result.report is not None:
            await self.sync_fills(symbol)
            # post-submit: a market entry that did not fill completely at once goes to the resolver
            await self._settle_entry(self.orders.orders[req.client_order_id], result.report)

    def _entry_veto(self, plan: EntryPlan) -> str | None:
        if not self.entries_enabled:
            return "recovery_pending"
        if plan.intent.symbol in self.blocked:
            return self.blocked[plan.intent.symbol]
        if self.orders.has_intent(plan.intent.intent_id) or self.orders.used(plan.request.client_order_id):
            return "intent_exists"
        if self.protection.entries_blocked(plan.intent.symbol):
            return "protection_missing"
        return None

    async def prepare(self, symbol: str) -> bool:
        """Set ``symbol``'s leverage and margin mode on the venue before its first entry (as an entry would
        resolve them now), so that entry's path has no venue round trip for them. True when they are set;
        a failure is left to the entry, which sets them again when they differ."""
        return await prepare_leverage(self, symbol)

    async def _settle_entry(self, order: TrackedOrder, report: OrderReport) -> None:
        """An entry order reached a terminal status (or stays partially filled): run the partial resolver."""
        qty = order.qty or Decimal(0)
        if 0 < report.filled < qty:
            await self.partial.resolve(order.request, report)

    # --- submitting ---
    async def _submit(self, req: RouterRequest) -> RouterResult:
        """Send ``req`` through the router (its journal records create and drive the order's machine)."""
        result = await self.router.submit(req)
        if result.outcome is RouterOutcome.BLOCKED:
            self.orders.remember(req.client_order_id)  # refused before any venue call: never sent
        elif result.report is not None and result.report.triggered_order_id is not None:
            await follow_trigger(self, self.orders.orders[req.client_order_id])
        return result

    async def submit_reduce(self, req: RouterRequest) -> RouterResult | None:
        """Send a risk-reducing market order (rule exit, forced exit, flatten): never gated. A client id
        already used (e.g. before a restart) takes the next free one at once (``OrderLedger.fresh_id``).
        None when the request is not risk-reducing or reduce-only (refused: an exit must never open risk),
        or when an exit of the symbol is still live (working, or of unknown outcome: a second one would be
        a doubled order; the first one's end decides what comes next)."""
        if not req.kind.reduces_risk or not (req.reduce_only or req.close_position):
            self.telemetry.emit("exit.refused", symbol=req.symbol, why="not_reduce_only", kind=req.kind)
            return None
        if self.orders.has_live_exit(req.symbol):
            self.telemetry.emit("exit.in_flight", symbol=req.symbol, kind=req.kind, intent_id=req.intent_id)
            return None
        req = replace(req, client_order_id=self.orders.fresh_id(req.client_order_id))
        if not self.orders.has_intent(req.intent_id):
            self.recorder.append(
                IntentCreated(
                    self.clock.now_ms(), req.intent_id, req.kind, req.symbol, req.side, req.qty, req.ref_price
                )
            )
        result = await self._submit(req)
        if result.outcome is not RouterOutcome.PLACED:
            self.exits.exit_resolved(req.symbol)  # the rule may fire again on the next bar
        self.telemetry.emit(
            "exit.submitted",
            symbol=req.symbol,
            kind=req.kind,
            outcome=result.outcome,
            client_order_id=req.client_order_id,
            why=result.why,
        )
        await self.sync_fills(req.symbol)
        return result

    async def force_exit(self, symbol: str, reason: str) -> RouterResult | None:
        """Close ``symbol``'s position now with a reduce-only market order (None when flat)."""
        await self.sync_fills(symbol)
        req = self.exits.force_exit(symbol, reason)
        return await self.submit_reduce(req) if req is not None else None

    async def flatten(self, symbol: str, reason: str) -> bool:
        """Force-exit ``symbol`` (kind FLATTEN); True once the book is flat."""
        await self.sync_fills(symbol)
        req = self.exits.force_exit(symbol, reason)
        if req is not None:
            await self.submit_reduce(replace(req, kind=IntentKind.FLATTEN))
        return self.book.snapshot(symbol).qty == 0

    async def cancel(self, client_order_id: str) -> bool:
        """Cancel one of our orders idempotently; True when the venue confirms it is not live (a conditional
        found triggered is then followed to the order it became)."""
        order = self.orders.orders.get(client_order_id)
        if order is None or not order.live:  # not ours, or already ended: nothing to cancel
            return True
        res = await cancel_order(
            self.router,
            order.symbol,
            client_order_id,
            conditional=order.conditional,
            intent_id=order.intent_id,
        )
        if res.confirmed:
            if order.actual_id is not None:
                await follow_trigger(self, order)
            await self.sync_fills(order.symbol)
        return res.confirmed

    # --- fills ---
    async def sync_fills(self, symbol: str | None = None) -> int:
        """Fetch, journal and apply the new fills of our orders (of ``symbol`` only when given: a bar's own
        syncs stay O(1) in the number of symbols; the protection check syncs every symbol); drive
        protection. Returns fills applied.

        A fill of no known order on a symbol where a conditional of ours is working may be that conditional's
        execution (Binance lists it under the regular order the trigger placed, an id of another sequence):
        those conditionals are looked up at once (:func:`~eclipse.execution.engine_orders.chase_triggers`)
        and the fill is booked to the one that triggered, not left to the next protection check. Each such
        fill is chased once."""
        applied = 0
        wanted = self.orders.needs_fills(symbol)
        for sym, since in sorted(wanted.items()):
            try:
                fills = await self._fetch_fills(sym, since - FILL_SLACK_MS)
            except VenueError as err:
                self.fills_failed.add(sym)
                self.telemetry.emit("fills.fetch_failed", symbol=sym, error_kind=err.kind, detail=str(err))
                continue
            self.fills_failed.discard(sym)
            strays: list[Fill] = []
            for fill in sorted(fills, key=lambda f: (f.ts_ms, f.trade_id)):
                if await self._apply_fill(fill):
                    applied += 1
                elif self.orders.owner(fill) is None and (sym, fill.trade_id) not in self._strays:
                    strays.append(fill)
            if strays and await chase_triggers(self, sym):
                for fill in strays:
                    if await self._apply_fill(fill):
                        applied += 1
            for fill in strays:
                if self.orders.owner(fill) is None:
                    self._strays[(sym, fill.trade_id)] = None
            while len(self._strays) > _STRAYS_KEPT:
                del self._strays[next(iter(self._strays))]
        return applied

    async def fetch_fills(self, symbol: str, since: int) -> list[Fill]:
        """The venue's fills of ``symbol`` from ``since`` (paged; nothing applied)."""
        return await self._fetch_fills(symbol, since)

    async def apply_fill(self, fill: Fill) -> bool:
        """Journal and apply one venue fill of a known order (deduplicated by trade id); True if applied."""
        return await self._apply_fill(fill)

    async def _fetch_fills(self, symbol: str, since: int) -> list[Fill]:
        out: list[Fill] = []
        cursor = since
        for _ in range(_MAX_PAGES):
            page = await self.venue.fetch_fills(symbol, since_ms=cursor, limit=_FILL_PAGE)
            out.extend(page)
            if len(page) < _FILL_PAGE or page[-1].ts_ms <= cursor:
                break
            cursor = page[-1].ts_ms
        return out

    async def _apply_fill(self, fill: Fill) -> bool:
        order = self.orders.owner(fill)
        if order is None or self.book.has_fill(fill.symbol, fill.trade_id):
            return False
        now = self.clock.now_ms()
        cid = order.client_order_id
        self.recorder.append(FillRecorded(now, cid, fill))
        before = self.book.snapshot(fill.symbol)
        self.book.apply(fill)
        snap = self.book.snapshot(fill.symbol)
        self.recorder.append(PositionChanged(now, snap))
        self._round_trip(before, snap, now)
        self.telemetry.emit(
            "position.changed",
            symbol=fill.symbol,
            qty=snap.qty,
            avg_entry=snap.avg_entry,
            realized_pnl=snap.realized_pnl,
            fees=snap.fees,
            trade_id=fill.trade_id,
            kind=order.kind,
        )
        entry = self.entry_of.get(fill.symbol)
        intent_id = order.intent_id if order.kind is IntentKind.ENTRY else (entry[0] if entry else None)
        atr = entry[1] if entry is not None else None
        plan = self.protection.on_fill(fill, snap, intent_id, atr, owner=cid, owner_kind=order.kind)
        if snap.qty == 0 or not self.orders.has_live_exit(fill.symbol):
            self.exits.exit_resolved(fill.symbol)
        if order.kind in (IntentKind.EXIT, IntentKind.FLATTEN) and not order.live and snap.qty != 0:
            self.protection.exit_failed(fill.symbol)  # the exit is done and the position still open
        await self._run_protection(plan)
        return True

    def _round_trip(self, before: PositionSnapshot, after: PositionSnapshot, now: int) -> None:
        """On a position closing (or flipping), feed the round trip's net PnL (realized - fees, opening fee
        included) to the strategy's loss cooldown (``SCALPER_COOLDOWN_LOSSES`` / ``_MINUTES``) and emit
        ``position.closed``."""
        net = after.realized_pnl - after.fees
        opened = before.qty == 0 and after.qty != 0
        closed = before.qty != 0 and (after.qty == 0 or (after.qty > 0) != (before.qty > 0))
        if closed:
            start = self._trip_start.pop(after.symbol, None)
            if start is not None:
                pnl = net - start
                self.entries.scanner.engine.record_trade_result(after.symbol, float(pnl), now)
                self.telemetry.emit("position.closed", symbol=after.symbol, pnl=pnl, flipped=after.qty != 0)
            if after.qty != 0:  # a flip opens the next round trip at once
                self._trip_start[after.symbol] = net
        if opened:
            self._trip_start[after.symbol] = before.realized_pnl - before.fees

    # --- the order machines (engine_orders.py) --------------------------------------------------------------
    def _refused(self, refusal: TransitionRefused) -> None:
        refused(self, refusal)

    def _protection_refused(self, record: Mapping[str, object]) -> None:
        protection_refused(self, record)

    def order_changed(self, order: TrackedOrder, event: JournalEvent) -> None:
        """A journal record moved ``order``: drive its symbol's protection machine (see ``engine_orders``)."""
        order_changed(self, order, event)

    async def record_report(self, order: TrackedOrder, rep: OrderReport, detail: str) -> None:
        """Journal the venue's report of ``order``; a triggered conditional is followed (engine_orders)."""
        await record_report(self, order, rep, detail)

    async def follow_trigger(self, order: TrackedOrder) -> None:
        """Look up the regular order a triggered conditional became and journal what it did."""
        await follow_trigger(self, order)

    # --- protection (engine_protection.py) -----------------------------------------------------------------
    async def _run_protection(self, plan: ProtectionPlan) -> None:
        """Execute ``plan``: journal, cancel, place, close breached positions, cancel the replaced legs."""
        await run_protection(self, plan)

    async def check_protection(self) -> None:
        """Settle tracked orders the venue no longer lists, then compare protection with the venue: re-place
        what is missing, cancel leftovers, protect positions with no cover, close breached positions."""
        self._last_check_ms = self.clock.now_ms()
        await check_protection(self)

    # --- restart --------------------------------------------------------------------------------------------
    @classmethod
    async def resume(
        cls,
        journal: Journal,
        venue: Venue,
        clock: Clock,
        telemetry: Telemetry,
        settings: EngineSettings,
        *,
        sleep: Sleep,
        rng: random.Random | None = None,
        guard: GuardKnobsProvider | None = None,
        symbols: Sequence[str] = (),
        order_table: CompiledMachine | None = None,
        protection_table: CompiledMachine | None = None,
        check_positions: bool = True,
        wall: Clock | None = None,
    ) -> tuple[ExecutionEngine, RecoveryReport]:
        """Rebuild an engine after a restart on ``journal`` (see the module docstring); entries stay
        disabled (``entries_enabled`` False) when recovery left anything unresolved, and blocked on a symbol
        whose position still differs from the venue's after recovery's repair (:attr:`blocked`).

        ``symbols`` are the configured trading symbols: recovery also looks there for orders of ours the
        journal lost (a power loss with ``durable_submits=False``), not only where the journal or a venue
        position points. ``check_positions`` False on a spot venue (no positions to compare with). ``wall``:
        the wall clock when ``clock`` is market time at a replay speed (the router's landing window is wall
        time: the venue's receive window)."""
        report = await recover(
            journal,
            venue,
            clock,
            sleep=sleep,
            symbols=symbols,
            check_positions=check_positions,
            landing_window_ms=settings.router.landing_window_ms,
        )
        engine = cls(
            venue,
            journal,
            clock,
            telemetry,
            settings,
            sleep=sleep,
            rng=rng,
            guard=guard,
            order_table=order_table,
            protection_table=protection_table,
            wall=wall,
        )
        engine.restore(journal)
        for m in report.position_mismatches:
            engine.blocked[m.symbol] = "position_mismatch"
            telemetry.emit(
                "entry.blocked",
                symbol=m.symbol,
                reason="position_mismatch",
                detail=str(m),
                severity="critical",
            )
        await adopt_live_legs(engine)
        await engine.check_protection()
        engine.entries_enabled = not report.unresolved
        telemetry.emit(
            "engine.resumed",
            replayed_seq=report.replayed_seq,
            checked=report.checked,
            resolved=len(report.resolved),
            fills_added=len(report.fills_added),
            unresolved=len(report.unresolved),
            adopted=len(report.adopted),
            mismatches=len(report.position_mismatches),
            clean=report.clean,
        )
        return engine, report

    def restore(self, journal: JournalSource) -> None:
        """Rebuild the order machines, the book and the protection state by replaying ``journal`` (no venue
        calls; see ``engine_restore``)."""
        restore_from_journal(self, journal)
