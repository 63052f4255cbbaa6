"""The daemon: startup in a fixed order, the loops (wall clock: supervised tasks; simulated time: one
deterministic stepper), graceful stop, status and control. See ``docs/daemon.md``.

Startup, each failure a clear one-line error: settings validated (before this class) -> the run directory
locked -> venue opened -> clock skew measured (refused above ``CLOCK_SKEW_MAX_MS``) -> markets loaded and the
symbols resolved -> equity read from the venue (capped by ``EQUITY_CAP_USDT``) -> ``ExecutionEngine.resume``
-> the reliability loop's startup reconcile (before any entry) -> features warmed up (saved state when
recent, else fetched history) -> loops.

Stop (SIGINT / SIGTERM, ``--max-bars`` / ``--duration``, the control endpoint, the end of a replay): entries
stop, resting entry orders are canceled, protective stops stay on the venue, the journal and telemetry are
flushed, feature states saved, the run summary written. A second signal stops at once (the journal is always
consistent: that is what ``resume`` is for).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from eclipse import __version__
from eclipse.clock import perf_ns
from eclipse.contracts import IntentKind
from eclipse.errors import ConfigError, EclipseError
from eclipse.execution.engine import EngineSettings, ExecutionEngine
from eclipse.execution.journal import Journal
from eclipse.execution.router.policy import sim_sleep
from eclipse.machines.table import CompiledMachine
from eclipse.market.bars import Bar, OhlcvFrame
from eclipse.reliability.guards import GuardEvent, GuardSet, GuardSettings, GuardStateStore
from eclipse.reliability.loop import ReliabilityLoop
from eclipse.reliability.provider import ReliabilityGuard
from eclipse.reliability.settings import ReliabilitySettings
from eclipse.runtime.crashpoints import CrashPlan, parse_crash_at
from eclipse.runtime.guard import DaemonGuard
from eclipse.runtime.http import StatusServer, StatusServerError
from eclipse.runtime.identity import check_identity
from eclipse.runtime.metrics import DaemonMetrics
from eclipse.runtime.observer import RunObserver
from eclipse.runtime.reliability import start_reliability
from eclipse.runtime.report import build_snapshot, build_summary, publish
from eclipse.runtime.rundir import RunDir, RunDirLock
from eclipse.runtime.settings import RuntimeSettings
from eclipse.runtime.setup import RunMode, VenueSetup, open_run_venue, unified_symbol
from eclipse.runtime.snapshot import StatusSnapshot
from eclipse.runtime.summary_text import render_summary_markdown
from eclipse.runtime.taps import JournalTap, VenueProbe
from eclipse.runtime.warmup import warm_up
from eclipse.telemetry import JsonlSink, Scalar, Telemetry
from eclipse.venues.errors import VenueError
from eclipse.venues.protocol import Venue
from eclipse.venues.types import MarketKind

__all__ = ["Daemon", "RunOptions"]

_LOG = logging.getLogger("eclipse.runtime")
_LOOPS = ("bars", "tick", "reconcile", "telemetry", "status")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What the command line decides (the knobs decide the rest)."""

    run_dir: Path = Path("eclipse-run")
    live: bool = False
    sim_clock: bool = False
    speed: float | None = None
    """Replay speed of a built-in simulator (None: 60); simulated time always runs as fast as it can."""
    seed: int = 0
    max_bars: int | None = None
    duration_sec: float | None = None
    data: tuple[tuple[str, str], ...] = ()
    frames: Mapping[str, OhlcvFrame] | None = None
    """Bars by symbol (``BTCUSDT``) for simulated time, instead of files (benches, backtests)."""


class Daemon:
    """One run of ``eclipse run`` (see the module docstring). Implements the status server's
    :class:`~eclipse.runtime.snapshot.DaemonControl`."""

    def __init__(
        self,
        env: Mapping[str, str],
        options: RunOptions,
        *,
        on_event: Callable[[str], None] | None = None,
        crash: CrashPlan | None = None,
        venue_setup: Callable[[], Awaitable[VenueSetup]] | None = None,
    ) -> None:
        self.env = env
        self.options = options
        self.settings = RuntimeSettings.load(env)
        self.crash = crash
        """Crash points (the proof suites): None, or from ``CHAOS_CRASH_AT`` (SIGKILL) when given."""
        if crash is None and self.settings.crash_at:
            self.crash = CrashPlan(parse_crash_at(self.settings.crash_at))
        self._venue_setup = venue_setup
        """An externally owned venue (the deterministic simulation: it outlives the daemon across crashes);
        with it a run directory's journal is resumed in simulated time too."""
        self.engine_settings = EngineSettings.load(env, self.settings.profile)
        self.run_dir = RunDir(options.run_dir)
        self.mode = RunMode.SIMULATED  # set by start()
        self.metrics = DaemonMetrics(loops=_LOOPS)
        self.observer = RunObserver(self.metrics)
        self.status_server: StatusServer | None = None
        self.guard = DaemonGuard(one_position=self._one_position)
        self.reliability_settings = ReliabilitySettings.load(env, self.settings.profile)
        self.guard_settings = GuardSettings.load(env, self.settings.profile)
        self.guards: GuardSet | None = None
        """The entry guards (kill switch, data quality, adaptive, anomaly, breach cooldown), set at start."""
        self.provider = ReliabilityGuard(self.guard)
        """What the entry gate reads: the daemon's blocks, the reliability loop, the entry guards."""
        self.reliability: ReliabilityLoop | None = None
        self.reconcile_table: CompiledMachine | None = None
        self.posture_table: CompiledMachine | None = None
        """The reconcile and posture machines to run (None: the code's; a test may set spec-compiled ones)."""
        self.bar_started_ns: int | None = None
        self.symbols: tuple[str, ...] = ()
        self.setup: VenueSetup | None = None
        self.engine: ExecutionEngine | None = None
        self.journal: Journal | None = None
        self.telemetry: Telemetry | None = None
        self._sink: JsonlSink | None = None
        self._lock = RunDirLock(self.run_dir)
        self.engine_lock = asyncio.Lock()
        self.stop_event = asyncio.Event()
        self.stop_reason = ""
        self.started_ms = 0
        self.start_equity = Decimal(0)
        self._base_realized = Decimal(0)
        self.spot = False
        """A spot venue: no positions to reconcile (balances are the truth there)."""
        self._base_fees = Decimal(0)
        self._on_event = on_event
        self.health: Callable[[], tuple[bool, str]] = lambda: (True, "ok")
        self.loops_view: Callable[[], tuple[Any, ...]] = tuple
        self.clock_skew_ms = 0
        """Venue time minus the local clock at startup (0 in simulated time)."""
        self.feed_start: dict[str, int] = {}
        """symbol -> open time of the last bar the features have seen (the feed starts after it)."""
        self.max_drawdown = 0.0

    # --- startup ----------------------------------------------------------------------------------------
    async def start(self, mode: RunMode) -> None:
        """Everything before the first loop (module docstring order); EclipseError on what must stop."""
        self.mode = mode
        if mode is RunMode.LIVE and self.crash is not None:
            raise ConfigError("CHAOS_CRASH_AT", self.settings.crash_at, "empty in live mode (testing only)")
        self.run_dir.create()
        self._lock.acquire()
        check_identity(self.run_dir, self.env, mode, resuming=self._venue_setup is not None)
        if self._venue_setup is not None:
            setup = await self._venue_setup()
        else:
            setup = await open_run_venue(
                mode,
                self.env,
                self.run_dir,
                symbols=self._wanted_symbols(mode),
                speed=self.options.speed,
                data=self.options.data,
                frames=self.options.frames,
                seed=self.options.seed,
            )
        self.setup = setup
        await self._check_skew(setup)
        markets = await self._load_markets(setup)
        self.symbols = markets
        path = Path(self.settings.telemetry_path) if self.settings.telemetry_path else self.run_dir.telemetry
        try:
            self._sink = JsonlSink(path, flush_each=False)
        except OSError as exc:
            raise ConfigError(
                "TELEMETRY_PATH", str(path), f"a writable file path ({exc.strerror or exc})"
            ) from None
        self.telemetry = Telemetry(self._tee, setup.market)
        # the guards' state (halts, cooldowns, pauses) survives a restart: it lives in the run directory
        store = GuardStateStore(self.run_dir.guards, durable=mode is RunMode.LIVE)  # as the journal
        self.guards = GuardSet(self.guard_settings, setup.market, store)
        self.provider.guards = self.guards
        self.started_ms = setup.market.now_ms()
        equity = await self._equity(setup)
        self.start_equity = equity
        settings = replace(
            self.engine_settings, equity=equity, protection_check_sec=self.settings.protection_check_sec
        )
        if mode is RunMode.LIVE and self.settings.first_live_safe:
            cap = Decimal(repr(self.settings.first_live_max_notional))
            current = settings.router.max_notional
            capped = cap if current is None or current <= 0 else min(cap, current)
            settings = replace(settings, router=replace(settings.router, max_notional=capped))
        # live: every submit is fsynced before the venue call (a power loss loses no order); paper, sim and
        # simulated time keep their venue's state no more durably than the page cache, so an fsync would only
        # put the journal ahead of that venue (docs/journal.md, "Durability per mode"); kill -9 loses nothing
        self.journal = Journal.open(self.run_dir.journal, durable_submits=mode is RunMode.LIVE)
        sleep = sim_sleep(setup.sim_clock) if setup.sim_clock is not None else asyncio.sleep
        engine, report = await ExecutionEngine.resume(
            self.journal,
            cast(Venue, VenueProbe(setup.venue, self)),
            setup.market,
            self.telemetry,
            settings,
            sleep=sleep,
            rng=random.Random(self.options.seed),
            guard=self.provider,
            symbols=self.symbols,
            check_positions=not self.spot,
            wall=setup.wall,
        )
        engine.journal = JournalTap(self.journal, self.observer, self.crash)
        self.engine = engine
        self._base_realized = engine.book.realized_pnl()
        self._base_fees = engine.book.total_fees()
        if not report.clean:
            self.event(f"resume: {report}")
        self.telemetry.emit(
            "runtime.started",
            mode=mode.value,
            venue=setup.name,
            symbols=",".join(self.symbols),
            equity=equity,
            profile=self.settings.profile,
            clock_skew_ms=self.clock_skew_ms,
            version=__version__,
        )
        self.reliability = await start_reliability(self)  # before any entry: venue truth vs the journal
        await warm_up(self, setup, engine)
        self.metrics = DaemonMetrics(self.symbols, loops=_LOOPS)
        self.metrics.set_versions({"eclipse": __version__})
        self.observer.metrics = self.metrics
        if self.settings.status_http and mode is not RunMode.SIMULATED:
            await self._start_status_server()

    async def _start_status_server(self) -> None:
        """Serve /healthz, /status, /metrics and control; a busy port falls back to a free one."""
        s = self.settings
        server = StatusServer(
            self, self.metrics, host=s.status_host, port=s.status_port, token=s.status_token
        )
        try:
            url = await server.start()
        except StatusServerError as exc:
            if not exc.in_use:
                raise
            server = StatusServer(self, self.metrics, host=s.status_host, port=0, token=s.status_token)
            url = await server.start()
            self.event(f"status port {s.status_port} is busy; serving on {url} instead")
        self.status_server = server
        self.run_dir.status_url.write_text(url + "\n", encoding="utf-8")
        self.event(f"status: {url}/status  health: {url}/healthz  metrics: {url}/metrics")

    def _wanted_symbols(self, mode: RunMode) -> tuple[str, ...]:
        symbols = self.settings.symbols
        if mode is RunMode.LIVE and self.settings.first_live_safe:
            allowed = set(self.settings.first_live_symbols)
            kept = tuple(s for s in symbols if s in allowed)
            if not kept:
                raise EclipseError(
                    "FIRST_LIVE_SAFE=1 allows no symbol of ACTIVE_SYMBOLS "
                    f"({','.join(symbols)}); FIRST_LIVE_SYMBOLS is "
                    f"{','.join(self.settings.first_live_symbols)}"
                )
            symbols = kept
        spot = mode in (RunMode.LIVE, RunMode.PAPER) and self.env.get("EXCHANGE_ADAPTER", "") in (
            "binance",
            "coinbase",
        )
        return tuple(unified_symbol(s, linear=not spot) for s in symbols)

    async def _check_skew(self, setup: VenueSetup) -> None:
        if setup.mode is RunMode.SIMULATED:
            return
        try:
            venue_ms = await setup.venue.fetch_time_ms()
        except VenueError as err:
            raise EclipseError(f"the venue {setup.name} does not answer: {err}") from None
        skew = venue_ms - setup.wall.now_ms()
        self.clock_skew_ms = skew
        if setup.mode in (RunMode.LIVE, RunMode.PAPER) and setup.resync is not None:
            await setup.resync()
        _LOG.info("clock skew against %s: %d ms", setup.name, skew)
        if abs(skew) > self.settings.clock_skew_max_ms:
            raise EclipseError(
                f"the local clock is {skew:+d} ms off the venue's (more than CLOCK_SKEW_MAX_MS="
                f"{self.settings.clock_skew_max_ms}); synchronize it (e.g. chrony / systemd-timesyncd)"
            )

    async def _load_markets(self, setup: VenueSetup) -> tuple[str, ...]:
        try:
            markets = await setup.venue.load_markets()
        except VenueError as err:
            raise EclipseError(f"cannot load the markets of {setup.name}: {err}") from None
        wanted = self._wanted_symbols(setup.mode)
        missing = [s for s in wanted if s not in markets]
        self.spot = bool(wanted) and all(markets[s].kind is MarketKind.SPOT for s in wanted if s in markets)
        if missing:
            raise EclipseError(
                f"{setup.name} has no market {', '.join(missing)} (ACTIVE_SYMBOLS); "
                f"known e.g.: {', '.join(sorted(markets)[:8])}"
            )
        return wanted

    async def _equity(self, setup: VenueSetup) -> Decimal:
        markets = await setup.venue.load_markets()
        quote = markets[self.symbols[0]].settle or markets[self.symbols[0]].quote
        try:
            balances = await setup.venue.fetch_balance()
        except VenueError as err:
            raise EclipseError(f"cannot read the balance on {setup.name}: {err}") from None
        bal = balances.get(quote)
        equity = bal.total if bal is not None else Decimal(0)
        if self.settings.equity_cap > 0:
            equity = min(equity, Decimal(repr(self.settings.equity_cap)))
        if equity <= 0:
            raise EclipseError(f"the {quote} balance on {setup.name} is {equity}: nothing to trade with")
        return equity

    # --- the bar ---------------------------------------------------------------------------------------
    async def handle_bar(self, symbol: str, bar: Bar, speed: float | None = 1.0) -> None:
        """One closed bar through the engine (the caller holds :attr:`engine_lock`). Its lag is measured from
        the bar's close (market time, converted to wall time at ``speed``) to the end of its handling; in
        simulated time (``speed`` None) it is the wall time the handling took."""
        engine = self.engine
        assert engine is not None
        if self.crash is not None:
            self.crash.hit("bar")
        if self.guards is not None:  # data quality and staleness see the bar before the entry does
            self.guard_events(self.guards.on_bar(symbol, bar))
        started = self.bar_started_ns = perf_ns()
        await engine.on_bar(symbol, bar)
        self.bar_started_ns = None
        close = bar.close_ms()
        if speed is None:
            lag = (perf_ns() - started) / 1e6
        else:
            lag = max(0.0, (engine.clock.now_ms() - close) / speed)
        self.observer.bar_handled(symbol, close, lag)
        if self.options.max_bars is not None and self.observer.bars >= self.options.max_bars:
            self.request_stop(f"--max-bars {self.options.max_bars} reached")

    def bar_failed(self, symbol: str, bar: Bar, exc: Exception) -> None:
        """A bar's handling raised: logged with its traceback, emitted (``runtime.bar_failed``); the next
        symbols' bars of the close are still handled."""
        _LOG.error("bar %s %s failed: %s", symbol, bar.ts_ms, exc, exc_info=exc)
        if self.telemetry is not None:
            self.telemetry.emit(
                "runtime.bar_failed",
                symbol=symbol,
                bar_ts_ms=bar.ts_ms,
                error=type(exc).__name__,
                detail=str(exc)[:300],
                severity="error",
            )

    def before_close(self) -> None:
        """Before the bars of one close are handled: the kill switch on equity now and the guards' timed
        work (once per close, not per symbol)."""
        if self.engine is not None and self.guards is not None:
            self.guard_events(self.guards.check_risk(self.equity_now()))
            self.guards_tick()

    def after_close(self) -> None:
        """After the bars of one close: the drawdown the summary reports."""
        self.track_drawdown()

    def _one_position(self) -> bool:
        engine = self.engine
        basic = self.settings.entry_loop_mode == "basic"
        return basic and engine is not None and bool(engine.book.open_positions())

    def guard_events(self, events: list[GuardEvent]) -> None:
        """Emit what the entry guards asked for; halts, pauses and alerts also go to the terminal."""
        telemetry = self.telemetry
        if telemetry is None:
            return
        for ev in events:
            telemetry.emit(ev.name, **ev.fields)
            f = ev.fields
            if ev.name == "kill.halted":
                self.event(f"entries halted: {f.get('kind')} ({f.get('detail')})")
            elif ev.name == "kill.halt_lifted":
                self.event(f"entries no longer halted: {f.get('kind')} ({f.get('how')})")
            elif ev.name == "anomaly.detected":
                self.event(f"entries paused: anomaly {f.get('kinds')} ({f.get('detail')})")
            elif ev.name == "data.quality.roll_alert":
                self.event(f"{f.get('symbol')}: entries blocked, data quality {f.get('roll_score')}")

    def guards_tick(self) -> None:
        """Time-driven guard work (expiries, rolling scores, anomaly detection); between bars too."""
        if self.guards is not None:
            self.guard_events(self.guards.evaluate())

    # --- telemetry and events --------------------------------------------------------------------------
    def _tee(self, record: Mapping[str, Scalar]) -> None:
        if self._sink is not None:
            self._sink(record)
        self.observer.on_telemetry(record)
        if self.guards is not None:
            self.guards.observe(record)
        if self.reliability is not None:
            self.reliability.observe(record)

    def event(self, text: str) -> None:
        """A line for the operator (terminal / log)."""
        _LOG.info("%s", text)
        if self._on_event is not None:
            self._on_event(text)

    def flush_telemetry(self) -> None:
        """Hand buffered telemetry to the OS."""
        if self._sink is not None:
            self._sink.flush()

    # --- control (DaemonControl) -------------------------------------------------------------------------
    def pause_entries(self, reason: str) -> None:
        """Stop new entries until :meth:`resume_entries` (exits and protection carry on)."""
        self.guard.block("pause", reason or "paused by the operator")
        if self.telemetry is not None:
            self.telemetry.emit("runtime.paused", reason=reason)

    def resume_entries(self) -> None:
        """Lift an operator pause."""
        self.guard.unblock("pause")
        if self.telemetry is not None:
            self.telemetry.emit("runtime.resumed")

    async def flatten(self, symbol: str) -> bool:
        """Close ``symbol`` with a reduce-only market order (entries there stay as they are)."""
        if self.engine is None or symbol not in self.symbols or self.stop_event.is_set():
            return False
        async with self.engine_lock:
            if self.stop_event.is_set():  # stopping: the venue and the journal are closing
                return False
            return await self.engine.flatten(symbol, "operator")

    def request_stop(self, reason: str = "stop requested") -> None:
        """Begin a graceful stop."""
        if not self.stop_event.is_set():
            self.stop_reason = reason
            self.stop_event.set()

    def lift_guard(self, code: str, symbol: str | None = None) -> bool:
        """Lift an entry guard's halt or pause by its code (the operator's decision; logged and emitted)."""
        if self.guards is None:
            return False
        lifted = self.guards.lift(code, symbol)
        self.guards_tick()  # the guard's own lifted event goes out now
        if lifted:
            self.event(f"guard {code} lifted by the operator" + (f" on {symbol}" if symbol else ""))
        return lifted

    def crash_limit(self, loop: str) -> None:
        """A loop crashed too often: entries stop (exits and protection carry on)."""
        self.guard.block("crash_limit", f"loop {loop} keeps crashing")
        self.event(f"entries stopped: loop {loop} keeps crashing")

    # --- status ------------------------------------------------------------------------------------------
    def snapshot(self) -> StatusSnapshot:
        """The daemon's status now."""
        return build_snapshot(self)

    def publish(self, snap: StatusSnapshot) -> None:
        """Gauges of ``/metrics`` from a snapshot (the status loop calls it)."""
        publish(self, snap)

    def summary(self) -> dict[str, Any]:
        """The run summary (JSON-ready)."""
        return build_summary(self)

    def run_pnl(self) -> tuple[Decimal, Decimal, Decimal]:
        """(realized, fees, unrealized) of this run: the book replays the whole journal, and the venue
        balance read at start already holds what earlier runs made, so their part is taken out."""
        engine = self.engine
        if engine is None:
            return Decimal(0), Decimal(0), Decimal(0)
        book = engine.book
        realized = book.realized_pnl() - self._base_realized
        return realized, book.total_fees() - self._base_fees, book.unrealized_pnl()

    def equity_now(self) -> Decimal:
        """The start's venue balance plus this run's net PnL (the balance excludes unrealized PnL)."""
        realized, fees, unrealized = self.run_pnl()
        return self.start_equity + realized - fees + unrealized

    def track_drawdown(self) -> None:
        """Keep the largest drawdown seen (called after each bar)."""
        engine = self.engine
        if engine is None:
            return
        self.max_drawdown = max(self.max_drawdown, engine.book.drawdown_pct(self.equity_now()))

    # --- stop ----------------------------------------------------------------------------------------------
    async def shutdown(self) -> dict[str, Any]:
        """Graceful stop (module docstring); the summary written."""
        engine = self.engine
        if engine is not None:
            self.guard.block("stopping", "the daemon is stopping")
            async with self.engine_lock:
                for order in list(engine.orders.orders.values()):
                    if order.kind is IntentKind.ENTRY and order.live:
                        try:
                            await engine.cancel(order.client_order_id)
                        except VenueError as err:
                            self.event(f"could not cancel entry {order.client_order_id}: {err}")
                with contextlib.suppress(VenueError, OSError):
                    await engine.sync_fills()
                    await engine.check_protection()  # every open position leaves with its stop on the venue
            if self.crash is not None:
                self.crash.hit("shutdown")
            unprotected = [
                sym
                for sym in engine.book.open_positions()
                if engine.protection.tracker(sym).state != "protected"
            ]
            if unprotected and self.telemetry is not None:
                self.telemetry.emit(
                    "runtime.stopped_unprotected", symbols=",".join(unprotected), severity="critical"
                )
                self.event(f"WARNING: stopped with {', '.join(unprotected)} not covered by a stop")
            for symbol in self.symbols:
                try:
                    blob = engine.signals.save_state(symbol)
                except (EclipseError, ValueError, KeyError):
                    continue
                try:
                    self.run_dir.feature_state(symbol).write_bytes(blob)
                except OSError as exc:
                    self.event(f"{symbol}: feature state not saved ({exc.strerror or exc})")
        if self.guards is not None:
            try:
                self.guards.save()  # the guards' bookkeeping too, not only their decisions
            except OSError as exc:
                self.event(f"guard state not saved to {self.run_dir.guards}: {exc.strerror or exc}")
        summary = self.summary()
        if self.telemetry is not None:
            self.telemetry.emit(
                "runtime.stopped",
                reason=self.stop_reason,
                bars=summary["bars"],
                trades=summary["trades"],
                net_pnl=summary["net_pnl"],
            )
        try:
            self.run_dir.summary_json.write_text(json.dumps(summary, indent=2, default=str) + "\n")
            self.run_dir.summary_md.write_text(render_summary_markdown(summary))
        except OSError as exc:  # the summary is still printed; the journal holds everything it says
            self.event(f"run summary not written to {self.run_dir.root}: {exc.strerror or exc}")
        await self.close()
        return summary

    def abandon(self) -> None:
        """The process died here (the deterministic simulation's crash): the journal's connection, the
        telemetry file and the lock are released and nothing else is written (buffered telemetry is lost,
        as a kill loses it); the venue is the harness's and stays as it is."""
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if self._sink is not None:
            self._sink.abandon()
            self._sink = None
        self.setup = None
        self._lock.release()

    async def close(self) -> None:
        """Release everything (idempotent): status server, venue, simulator, journal, telemetry, lock."""
        if self.status_server is not None:
            await self.status_server.stop()
            self.status_server = None
            self.run_dir.status_url.unlink(missing_ok=True)  # ours: a refused second daemon leaves it alone
        if self.setup is not None:
            with contextlib.suppress(VenueError, OSError):
                await self.setup.close()
            self.setup = None
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if self._sink is not None:
            self._sink.close()
            self._sink = None
        self._lock.release()
