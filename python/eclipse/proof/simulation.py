"""Deterministic simulation of the whole daemon: one seed -> one world (a stretch of the market data, the
in-process exchange with its matching engine, seeded venue faults, engine faults, changes made under the
daemon, crashes of the daemon at named points and restarts on the same run directory), run in simulated
time and judged by :func:`~eclipse.proof.checkers.check_run`. Same seed, same bytes: every failure is a seed
that replays.

A seed's run: ``bars`` bars with faults, then ``quiet_bars`` without (the venue answers, nothing changes
under the daemon, no crash): K reconcile cycles of quiet, after which belief must equal the venue's truth.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import shutil
import tempfile
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from eclipse.clock import SimClock, perf_ns
from eclipse.errors import EclipseError
from eclipse.market.bars import BAR_MS, OhlcvFrame, embedded_dataset
from eclipse.proof.checkers import ProofReport, Violation, check_run
from eclipse.proof.evidence import RunEvidence, VenueTruth, read_telemetry
from eclipse.runtime.crashpoints import POINTS, CrashPlan, SimulatedCrash
from eclipse.runtime.daemon import Daemon, RunOptions
from eclipse.runtime.loops import run_simulated
from eclipse.runtime.setup import HISTORY_BARS, RunMode, VenueSetup, unified_symbol
from eclipse.venues.faulty import Fault, FaultPlan, FaultyVenue
from eclipse.venues.paper import PaperVenue
from eclipse.venues.replay_source import ReplaySource
from eclipse.venues.sim.faults import FaultInjector
from eclipse.venues.sim.faults import FaultPlan as EngineFaultsPlan
from eclipse.venues.sim.model import EngineReject, PlaceRequest
from eclipse.venues.types import OrderType, Side

__all__ = ["SIMTEST_KNOBS", "SeedResult", "SimtestConfig", "World", "run_seed", "seed_plan"]

SIMTEST_KNOBS: Final = {"ENTRY_MIN_CONFIDENCE": "0.15", "FIXED_NOTIONAL_USDT": "200"}
"""The daemon's knobs in a simulation (it trades often, so the order path is exercised); the environment's
knobs are not read: a seed replays the same anywhere. ``eclipse simtest --knob`` overrides."""
_MAX_START_FAILURES: Final = 30
_START_RETRY_MS: Final = 10_000


@dataclass(frozen=True, slots=True)
class SimtestConfig:
    """What every seed of a simulation run shares."""

    bars: int = 180
    """Bars with faults (then the quiet ones)."""
    quiet_bars: int = 8
    """Bars without faults at the end: K reconcile cycles of quiet and margin."""
    faults: bool = True
    crashes: bool = True
    changes: bool = True
    """Changes made under the daemon (a stop removed, a position closed by hand)."""
    env: Mapping[str, str] = field(default_factory=lambda: dict(SIMTEST_KNOBS))
    """Knobs for the daemon (registry defaults for the rest)."""
    frames: Mapping[str, OhlcvFrame] | None = None
    """Bars by symbol (``BTCUSDT``); None: the embedded BTC month. The daemon trades them all."""
    sample_every: int = 0
    """Sample this process's resident memory every that many bars (0: never; the soak run)."""


@dataclass(frozen=True, slots=True)
class Change:
    """A change made under the daemon at market time ``at_ms``: ``stop_removed`` or ``position_closed``."""

    at_ms: int
    kind: str


@dataclass(frozen=True, slots=True)
class SeedPlan:
    """Everything a seed decides, up front (so the run is a pure function of the seed)."""

    seed: int
    start_ms: int
    end_ms: int
    quiet_ms: int
    venue_faults: FaultPlan
    engine_faults: dict[str, Any]
    crashes: tuple[tuple[str, int, int], ...]
    """(point, pass, downtime ms) for each daemon life in turn."""
    changes: tuple[Change, ...]


def _frames(config: SimtestConfig) -> dict[str, OhlcvFrame]:
    given = config.frames if config.frames is not None else {"BTCUSDT": embedded_dataset()}
    return {unified_symbol(s): f for s, f in given.items()}


def seed_plan(seed: int, config: SimtestConfig, frames: Mapping[str, OhlcvFrame]) -> SeedPlan:
    """What ``seed`` decides: where in the data, which faults how often, the crashes, the changes."""
    rng = random.Random(seed)
    shortest = min(len(f) for f in frames.values())
    span = config.bars + config.quiet_bars + 2
    first = HISTORY_BARS + 10
    if shortest < first + span:
        raise EclipseError(f"the data has {shortest} bars; a seed needs {first + span} (history + run)")
    base = max(int(f.ts_ms[0]) for f in frames.values())
    start_ms = base + rng.randrange(first, shortest - span) * BAR_MS
    quiet_ms = start_ms + config.bars * BAR_MS
    end_ms = quiet_ms + config.quiet_bars * BAR_MS
    scale = rng.choice((0.0, 0.5, 1.0, 1.0, 2.0)) if config.faults else 0.0
    rules = FaultPlan()
    engine: dict[str, Any] = {}
    if scale > 0:
        for op, faults in _VENUE_FAULTS.items():
            rules = rules + FaultPlan.random(op, [(f, min(1.0, p * scale)) for f, p in faults])
        engine = {
            "partial_fills": {"p": min(1.0, 0.3 * scale), "slices": rng.randint(2, 4), "interval_ms": 700},
            "cancel_race": {"p": min(1.0, 0.3 * scale)},
            "reduce_only_shrink": {"p": min(1.0, 0.1 * scale), "ratio": 0.5},
        }
    crashes: list[tuple[str, int, int]] = []
    if config.crashes:
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            point = rng.choice(POINTS)
            n = 1 if point == "shutdown" else rng.randint(1, 3)  # a life passes its shutdown once
            crashes.append((point, n, rng.choice((0, 5_000, 30_000, 120_000))))
    changes: list[Change] = []
    if config.changes and rng.random() < 0.5:
        for _ in range(rng.randint(1, 2)):
            at = start_ms + rng.randrange(10, max(11, config.bars - 10)) * BAR_MS + rng.randrange(0, BAR_MS)
            changes.append(Change(at, rng.choice(("stop_removed", "position_closed"))))
    return SeedPlan(
        seed,
        start_ms,
        end_ms,
        quiet_ms,
        rules,
        engine,
        tuple(crashes),
        tuple(sorted(changes, key=lambda c: c.at_ms)),
    )


_VENUE_FAULTS: Final[dict[str, list[tuple[Fault, float]]]] = {
    "create_order": [
        (Fault.EXECUTED_UNKNOWN, 0.05),
        (Fault.LOST_REQUEST, 0.03),
        (Fault.EXECUTED_DUPLICATE, 0.02),
        (Fault.RATE_LIMITED, 0.02),
        (Fault.EXCHANGE_BUSY, 0.02),
        (Fault.TIMESTAMP, 0.01),
        (Fault.NETWORK, 0.02),
    ],
    "cancel_order": [(Fault.EXECUTED_UNKNOWN, 0.05), (Fault.LOST_REQUEST, 0.03), (Fault.NETWORK, 0.03)],
    "fetch_order": [(Fault.NETWORK, 0.03), (Fault.RATE_LIMITED, 0.01)],
    "fetch_open_orders": [(Fault.NETWORK, 0.03), (Fault.EXCHANGE_BUSY, 0.02)],
    "fetch_positions": [(Fault.NETWORK, 0.03), (Fault.RATE_LIMITED, 0.01)],
    "fetch_fills": [(Fault.NETWORK, 0.03), (Fault.EXCHANGE_BUSY, 0.01)],
    "fetch_ohlcv": [(Fault.NETWORK, 0.01)],
    "fetch_balance": [(Fault.NETWORK, 0.02)],
}
"""The venue faults a seed draws from (probabilities before the seed's scale); with the engine faults they
cover the simulator's fault table: unknown outcomes and lost responses (executed_unknown, duplicate), lost
requests, 503/-1001/-1008 (exchange_busy), 429/418 (rate_limited), -1021 (timestamp), transport errors."""


class World:
    """The exchange of one seed: the replay, the matching engine (paper venue) with engine faults, and the
    venue faults in front of it; it outlives the daemons that crash and restart against it."""

    def __init__(self, plan: SeedPlan, frames: Mapping[str, OhlcvFrame], sample_every: int = 0) -> None:
        self.plan = plan
        self.clock = SimClock(plan.start_ms)
        self.source = ReplaySource(self.clock, _cut(frames, plan.end_ms), partial_forming=True)
        self.injector = FaultInjector(
            EngineFaultsPlan.from_dict({"engine": plan.engine_faults} if plan.engine_faults else {}),
            seed=plan.seed,
            step_of=self._step,
        )
        self.paper = PaperVenue(
            self.source, self.clock, refresh_ms=0, symbols=tuple(frames), faults=self.injector
        )
        self.faulty = FaultyVenue(self.paper, plan.venue_faults, seed=plan.seed)
        self.quiet = False
        self.changes = list(plan.changes)
        self.excused: list[tuple[str, int, int]] = []
        """Market-time stretches the daemon could not know of a change made under it (to its next check)."""
        self.applied: list[str] = []
        self.sample_ms = BAR_MS * sample_every if sample_every > 0 else 0
        self._next_sample = plan.start_ms
        self.rss: list[tuple[int, int]] = []
        """(bars since the start, resident bytes) every ``sample_every`` bars."""

    def _step(self, symbol: str) -> Any:
        return self.paper.engine.specs[symbol].step_size

    async def setup(self) -> VenueSetup:
        """The venue as a daemon opens it (the world owns it: a daemon's close leaves it working)."""
        return VenueSetup(
            RunMode.SIMULATED,
            _Front(self),
            "simulated exchange (seeded faults)",
            self.clock,
            self.clock,
            None,
            sim_clock=self.clock,
            replay=self.source,
        )

    def before_call(self) -> None:
        """Every call of the daemon's first: the quiet switch, and the changes now due."""
        now = self.clock.now_ms()
        if self.sample_ms and now >= self._next_sample:
            from eclipse.proof.soak import rss_bytes  # soak imports this module: imported here

            self.rss.append(((now - self.plan.start_ms) // BAR_MS, rss_bytes()))
            self._next_sample += self.sample_ms
        if not self.quiet and now >= self.plan.quiet_ms:
            self.quiet = True
            self.injector.clear()
        while self.changes and self.changes[0].at_ms <= now:
            self._apply(self.changes.pop(0))

    def _apply(self, change: Change) -> None:
        eng = self.paper.engine
        eng.sync()
        now = eng.now_ms()  # the venue's time (its last refresh): what its records of the change will say
        if change.kind == "stop_removed":
            stops = [o for o in eng.open_orders(conditional=True) if o.type is OrderType.STOP_MARKET]
            if not stops:
                return
            o = stops[0]
            sym = o.symbol
            try:
                eng.cancel(o.symbol, order_id=o.order_id, conditional=True)
            except EngineReject:  # it filled first (a cancel race): nothing was removed
                return
        else:
            held = [(s, st.qty) for s, st in eng.pos_state.items() if st.qty != 0]
            if not held:
                return
            sym, qty = held[0]
            side = Side.SELL if qty > 0 else Side.BUY
            eng.place(
                PlaceRequest(
                    sym, side, OrderType.MARKET, abs(qty), reduce_only=True, client_id=f"manual-{now}"
                )
            )
        # the daemon learns of it at its next protection check or reconcile: one bar and a check at most
        self.excused.append((sym, now, self.clock.now_ms() + BAR_MS + 10_000))
        self.applied.append(f"{change.kind}@{now}")


class _Front:
    """The daemon's venue: the faulty one until the quiet part, then the exchange itself."""

    def __init__(self, world: World) -> None:
        self._world = world

    def __getattr__(self, name: str) -> Any:
        w = self._world
        target = w.paper if w.quiet else w.faulty
        attr = getattr(target, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            w.before_call()
            return getattr(w.paper if w.quiet else w.faulty, name)(*args, **kwargs)

        return call

    async def close(self) -> None:
        """The world's venue stays open for the next daemon."""


def _cut(frames: Mapping[str, OhlcvFrame], end_ms: int) -> dict[str, OhlcvFrame]:
    out = {}
    for s, f in frames.items():
        n = int((f.ts_ms < end_ms).sum())
        out[s] = f.slice(0, n)
    return out


def _armed(world: World, *, at_end: bool) -> Callable[[], bool]:
    """Armed until the quiet end (a crash at the final shutdown: always)."""
    return lambda: at_end or not world.quiet


class _StartRefusedError(Exception):
    """The daemon refused to start (a clear error, as a user would see it)."""


@dataclass(frozen=True, slots=True)
class SeedResult:
    """One seed's verdict."""

    seed: int
    report: ProofReport
    digest: str
    """sha256 of the journal, the telemetry and the venue's orders and trades."""
    bars: int
    lives: int
    """Daemons started (1 + restarts)."""
    crashes: tuple[str, ...]
    faults: int
    changes: tuple[str, ...]
    seconds: float
    start_ms: int
    error: str = ""
    rss: tuple[tuple[int, int], ...] = ()
    """Resident memory samples (bars since the start, bytes), when asked for."""

    @property
    def ok(self) -> bool:
        """No violation and no harness error."""
        return self.report.ok and not self.error


async def _run(seed: int, run_dir: Path, config: SimtestConfig) -> SeedResult:
    t0 = perf_ns()
    frames = _frames(config)
    plan = seed_plan(seed, config, frames)
    if (run_dir / "journal.sqlite").exists():
        raise EclipseError(
            f"{run_dir} already holds a run; a seed starts from an empty directory (remove it, or --keep "
            "another directory)"
        )
    world = World(plan, frames, config.sample_every)
    env = dict(config.env)
    if config.frames is not None:
        env.setdefault("ACTIVE_SYMBOLS", ",".join(sorted(config.frames)))
    crashes = list(plan.crashes)
    crashed: list[str] = []
    downtime: list[tuple[int, int]] = []
    lives, bars, failures = 0, 0, 0
    error = ""
    while True:
        crash = None
        if crashes and not world.quiet:
            point, n, _ = crashes[0]
            # disarmed for the quiet end, except a crash during the final shutdown (reached only there:
            # the restarted daemon then resumes, reconciles in full at startup and stops again)
            crash = CrashPlan.simulated({point: n}, armed=_armed(world, at_end=point == "shutdown"))
        daemon = Daemon(
            env, RunOptions(run_dir=run_dir, sim_clock=True, seed=seed), crash=crash, venue_setup=world.setup
        )
        lives += 1
        try:
            try:
                await daemon.start(RunMode.SIMULATED)
            except EclipseError as exc:
                raise _StartRefusedError(str(exc)) from exc
            await run_simulated(daemon)
            await daemon.shutdown()
            bars += daemon.observer.bars
            break
        except SimulatedCrash as exc:
            bars += daemon.observer.bars
            daemon.abandon()
            _, _, down = crashes.pop(0)
            crashed.append(f"{exc.point}#{exc.hit}")
            now = world.clock.now_ms()
            if down and now + down < plan.quiet_ms:
                world.clock.set_ms(now + down)
                downtime.append((now, now + down))
        except _StartRefusedError as exc:  # the venue failing at startup: the daemon is started again later
            daemon.abandon()
            failures += 1
            if failures > _MAX_START_FAILURES:
                error = f"the daemon did not start in {failures} attempts: {exc}"
                break
            now = world.clock.now_ms()
            world.clock.set_ms(now + _START_RETRY_MS)
            downtime.append((now, now + _START_RETRY_MS))
        except Exception as exc:  # a bug: the seed fails with it and the batch goes on
            bars += daemon.observer.bars
            daemon.abandon()
            where = traceback.extract_tb(exc.__traceback__)[-1]
            error = f"the daemon raised {type(exc).__name__}: {exc} (at {where.filename}:{where.lineno})"
            break
    engine = world.paper.engine
    settings_ms = _t_protect_ms(env)
    evidence = RunEvidence.from_run_dir(
        run_dir,
        VenueTruth.from_engine(engine),
        t_protect_ms=settings_ms,
        slack_ms=_slack_ms(env),
        downtime=downtime,
        excused=world.excused,
        settled=not error,
    )
    report = check_run(evidence)
    if error:
        report = ProofReport((*report.violations, Violation("simtest.harness", error)), report.measures)
    return SeedResult(
        seed=seed,
        report=report,
        digest=_digest(run_dir, evidence),
        bars=bars,
        lives=lives,
        crashes=tuple(crashed),
        faults=len(world.faulty.injected) + sum(world.injector.injected.values()),
        changes=tuple(world.applied),
        seconds=(perf_ns() - t0) / 1e9,
        start_ms=plan.start_ms,
        error=error,
        rss=tuple(world.rss),
    )


def _t_protect_ms(env: Mapping[str, str]) -> int:
    from eclipse.config.settings import load_param

    return round(float(str(load_param(env, "EXIT_PROTECT_GRACE_SEC"))) * 1000)


def _slack_ms(env: Mapping[str, str]) -> int:
    """Simulated time acts at bar closes and protection checks: one check period and the bar's settle."""
    from eclipse.config.settings import load_param

    check = float(str(load_param(env, "PROTECTION_CHECK_SEC")))
    settle = float(str(load_param(env, "RUN_BAR_SETTLE_SEC")))
    return round((check + settle) * 1000)


def _digest(run_dir: Path, ev: RunEvidence) -> str:
    h = hashlib.sha256()
    for rec in ev.journal:
        h.update(f"{rec.seq}|{rec.ts_ms}|{rec.name}|{rec.event!r}\n".encode())
    for t in read_telemetry(run_dir / "telemetry.jsonl"):
        h.update(repr(sorted(t.items())).encode())
    for o in ev.venue.orders:
        h.update(repr(o).encode())
    for tr in ev.venue.trades:
        h.update(repr(tr).encode())
    return h.hexdigest()


def run_seed(
    seed: int,
    config: SimtestConfig | None = None,
    *,
    run_dir: Path | None = None,
    keep: Callable[[SeedResult], bool] | None = None,
) -> SeedResult:
    """Run one seed (in a temporary run directory unless ``run_dir``); a temporary directory is removed
    unless ``keep(result)`` says otherwise."""
    config = config or SimtestConfig()
    if run_dir is not None:
        return asyncio.run(_run(seed, run_dir, config))
    tmp = Path(tempfile.mkdtemp(prefix=f"eclipse-simtest-{seed}-"))
    result = asyncio.run(_run(seed, tmp / "run", config))
    if keep is None or not keep(result):
        shutil.rmtree(tmp, ignore_errors=True)
    return result
