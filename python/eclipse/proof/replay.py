"""Replay of an incident (research brief 9.4): a recorded session's venue interactions pushed back through the
daemon itself (router, reconcile, guards, strategy) in simulated time, deterministically, to reproduce an
incident and to test a fix against it.

:func:`replay_run` reads a run directory (:class:`~eclipse.proof.recording.Recording`: the bars of
``data.bar``, the journal, the telemetry), runs a :class:`~eclipse.runtime.daemon.Daemon` over the recorded
bars of the window against a :class:`~eclipse.proof.recorded.RecordedVenue` into a fresh run directory, then
compares the replayed journal with the recorded one record by record and runs the proof checkers on the
replayed evidence with the recorded venue's truth. Same run directory and knobs, same bytes. A
simulated-time recording is stepped as ``eclipse run --clock sim`` steps; a wall-clock one on its recorded
schedule (when each bar was taken, when each reconcile cycle ran).

A window that starts after the recording's first bar is replayed as a restart at that bar: the recorded
journal up to there is copied, and the features are rebuilt exactly from the history and the recorded bars
before it (the entry guards, the loss cooldown and the scorer start afresh, as after any restart).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np

from eclipse.clock import SimClock
from eclipse.config.settings import load_param
from eclipse.contracts import IntentKind
from eclipse.errors import EclipseError
from eclipse.execution.engine import EngineSettings
from eclipse.execution.journal import Journal, JournalRecord, encode_event
from eclipse.market.bars import BAR_MS, Bar, OhlcvFrame
from eclipse.proof.checkers import RUN_CHECKERS, ProofReport, check_run
from eclipse.proof.evidence import RunEvidence, read_telemetry, symbol_key
from eclipse.proof.recorded import RecordedVenue
from eclipse.proof.recording import Recording, ReplayDataError, format_ms, frames, history, window
from eclipse.runtime.daemon import Daemon, RunOptions
from eclipse.runtime.identity import check_identity
from eclipse.runtime.loops import run_simulated
from eclipse.runtime.observer import RunObserver
from eclipse.runtime.rundir import RunDir
from eclipse.runtime.settings import RuntimeSettings
from eclipse.runtime.setup import HISTORY_BARS, RunMode, VenueSetup
from eclipse.strategy.engine import SignalEngine
from eclipse.telemetry import Scalar
from eclipse.venues.replay_source import ReplaySource

__all__ = ["ReplayConfig", "ReplayDataError", "ReplayResult", "format_ms", "parse_time", "replay_run"]

_WALL_KEYS: Final = frozenset({"ts_ms", "updated_ms", "opened_ms"})
"""Fields of a wall-clock recording that depend on when the daemon got to them (not compared)."""
_DROPPED: Final = ("CHAOS_CRASH_AT", "TELEMETRY_PATH")
_SHOW: Final = 300
_TOO_MANY: Final = "the replay diverged too often"


def parse_time(text: str) -> int:
    """``--from`` / ``--to``: Unix ms, or ISO-8601 (UTC unless it names its offset); ValueError otherwise."""
    t = text.strip()
    if t.isdigit():
        return int(t)
    try:
        when = datetime.fromisoformat(t.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected Unix ms or ISO-8601 UTC like 2022-01-10T12:00Z, got {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    """What a replay is asked for."""

    from_ms: int | None = None
    """First bar (open time) to replay; None: the recording's first."""
    to_ms: int | None = None
    """Last bar (open time) to replay; None: the recording's last (then the daemon stops as it did)."""
    out: Path | None = None
    """The replayed run directory (must be new or empty); None: a temporary one."""
    keep: bool = False
    """Keep a temporary run directory."""
    env: Mapping[str, str] = field(default_factory=dict)
    """The knobs, as ``eclipse run`` reads them (the recording does not hold its knobs)."""
    knobs: Mapping[str, str] = field(default_factory=dict)
    """Overrides (``--knob``): the fix to test."""
    embedded_defaults: Mapping[str, str] = field(default_factory=dict)
    """Knob defaults when the recording ran on the embedded month (``eclipse run``'s demo defaults)."""
    history: Mapping[str, OhlcvFrame] = field(default_factory=dict)
    """1m bars before the recording by symbol (``BTCUSDT``): what the recorded daemon warmed up on."""
    seed: int = 0
    """The recorded run's ``--seed`` (router jitter)."""


@dataclass(frozen=True, slots=True)
class Divergence:
    """The first journal record where the replay differs from the recording."""

    seq: int
    recorded: str
    replayed: str
    fields: tuple[str, ...]
    """The fields that differ (``fill.price`` for a nested one), when both are the same kind of record."""
    changes: tuple[str, ...] = ()
    """``field: recorded -> replayed`` for the first few of them."""


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay found (:meth:`lines` prints it; :meth:`to_dict` for ``--json``)."""

    run_dir: Path
    mode: str
    symbols: tuple[str, ...]
    window: tuple[int, int]
    recorded_window: tuple[int, int]
    bars: int
    history: str
    knobs: Mapping[str, str]
    first_seq: int
    recorded_records: int
    replayed_records: int
    divergence: Divergence | None
    venue_divergences: tuple[str, ...]
    failures: tuple[int, int]
    """(injected, recorded in the window)."""
    orders: int
    fills: int
    report: ProofReport
    notes: tuple[str, ...]
    error: str = ""
    out_dir: Path | None = None

    @property
    def reproduced(self) -> bool:
        """The replayed journal equals the recorded one and the venue saw nothing the recording did not."""
        return self.divergence is None and not self.venue_divergences and not self.error

    @property
    def ok(self) -> bool:
        """Reproduced, and every checker holds (exit 0)."""
        return self.reproduced and self.report.ok

    def lines(self) -> list[str]:
        """The report, deterministic (no wall time, no temporary path)."""
        (a, b), (ra, rb) = self.window, self.recorded_window
        out = [f"replay of {self.run_dir}: {self.mode or 'unknown mode'} run, {', '.join(self.symbols)}"]
        out.append(
            f"  window       {format_ms(a)} .. {format_ms(b)} ({self.bars} bars; recorded "
            f"{format_ms(ra)} .. {format_ms(rb)})"
        )
        out.append(f"  history      {self.history}")
        if self.knobs:
            out.append("  knobs        " + ", ".join(f"{k}={v}" for k, v in sorted(self.knobs.items())))
        last = self.first_seq + max(self.recorded_records, self.replayed_records) - 1
        out.append(
            f"  journal      seq {self.first_seq}..{last}: {self.recorded_records} recorded, "
            f"{self.replayed_records} replayed"
        )
        out.append(
            f"  venue        {self.orders} orders, {self.fills} fills answered from the recording; failures "
            f"injected {self.failures[0]}/{self.failures[1]}; divergences {len(self.venue_divergences)}"
        )
        m = self.report.measures
        if self.report.ok:
            gap = f"longest protection gap {m.longest_gap_s:g}s"
            out.append(f"  checkers     ok ({len(RUN_CHECKERS)} checkers; {gap})")
        else:
            out.append(f"  checkers     {len(self.report.violations)} violation(s)")
            out.extend(f"    {v}" for v in self.report.violations[:10])
        out.extend(f"  note         {n}" for n in self.notes)
        if self.error:
            out.append(f"result: FAILED: the replayed daemon stopped: {self.error}")
        elif self.divergence is None and not self.venue_divergences:
            out.append(f"result: reproduced ({self.recorded_records} journal records identical)")
        else:
            d = self.divergence
            out.append(f"result: DIVERGED at seq {d.seq}" if d else "result: DIVERGED (journal identical)")
            if d is not None:
                out.append(f"  recorded     {d.recorded}")
                out.append(f"  replayed     {d.replayed}")
                if d.fields == ("ts_ms",):
                    out.append(
                        "  differs in   ts_ms only (when it happened: a retry or lookup timed differently)"
                    )
                elif d.fields:
                    out.append(f"  differs in   {', '.join(d.fields)}")
                out.extend(f"    {c}" for c in d.changes)
            if self.venue_divergences:
                out.append(f"  venue        {self.venue_divergences[0]}")
            if not self.knobs:
                out.append("  hint         a run directory does not hold its knobs: give the recorded run's")
                out.append("               (environment, --config, --env-file, --knob)")
        return out

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        d = self.divergence
        return {
            "run_dir": str(self.run_dir),
            "mode": self.mode,
            "symbols": list(self.symbols),
            "window": list(self.window),
            "recorded_window": list(self.recorded_window),
            "bars": self.bars,
            "history": self.history,
            "knobs": dict(self.knobs),
            "reproduced": self.reproduced,
            "ok": self.ok,
            "first_seq": self.first_seq,
            "recorded_records": self.recorded_records,
            "replayed_records": self.replayed_records,
            "divergence": None
            if d is None
            else {
                "seq": d.seq,
                "recorded": d.recorded,
                "replayed": d.replayed,
                "fields": list(d.fields),
                "changes": list(d.changes),
            },
            "venue_divergences": list(self.venue_divergences),
            "failures_injected": self.failures[0],
            "failures_recorded": self.failures[1],
            "orders": self.orders,
            "fills": self.fills,
            "violations": [str(v) for v in self.report.violations],
            "measures": self.report.measures.to_dict(),
            "notes": list(self.notes),
            "error": self.error,
        }


# --- the window, the history, the knobs ---------------------------------------------------------------------


def _env(rec: Recording, config: ReplayConfig, embedded: bool) -> dict[str, str]:
    env = {**config.embedded_defaults, **config.env} if embedded else dict(config.env)
    env.update(config.knobs)
    for name in _DROPPED:
        env.pop(name, None)
    env["ACTIVE_SYMBOLS"] = ",".join(symbol_key(s) for s in rec.symbols)
    problems = []
    for name, value in config.knobs.items():
        try:
            load_param({name: value}, name)
        except EclipseError as exc:
            problems.append(str(exc))
        except KeyError:
            problems.append(f"no knob named {name} (see `eclipse params`)")
    if problems:
        raise ReplayDataError("--knob: " + "; ".join(problems))
    return env


class _Counting(RunObserver):
    """The daemon's observer, counting the telemetry records (the recorded failures wait for theirs)."""

    def __init__(self) -> None:
        super().__init__()
        self.emitted = 0

    def on_telemetry(self, record: Mapping[str, Scalar]) -> None:
        """Count, then observe."""
        self.emitted += 1
        super().on_telemetry(record)


# --- the replayed run ---------------------------------------------------------------------------------------


def _out_dir(config: ReplayConfig) -> tuple[Path, Path | None]:
    """The replayed run directory and the temporary directory to remove afterwards (None: keep)."""
    if config.out is not None:
        if config.out.exists() and (not config.out.is_dir() or any(config.out.iterdir())):
            raise ReplayDataError(f"--out {config.out} is not empty; give a new directory")
        return config.out, None
    tmp = Path(tempfile.mkdtemp(prefix="eclipse-replay-"))
    return tmp / "run", None if config.keep else tmp


def _prepare(out: Path, env: Mapping[str, str], prefix: Sequence[JournalRecord]) -> None:
    """A run directory for a simulated-time daemon that resumes after ``prefix`` (the recorded journal
    before the window)."""
    run_dir = RunDir(out)
    run_dir.create()
    check_identity(run_dir, env, RunMode.SIMULATED, resuming=True)
    if prefix:
        journal = Journal.open(run_dir.journal, durable_submits=False)
        try:
            journal.append_many([r.event for r in prefix], durable=False)
        finally:
            journal.close()


def _warm_features(
    out: Path,
    env: Mapping[str, str],
    frames: Mapping[str, OhlcvFrame],
    first: int,
    start: int,
    clock: SimClock,
) -> None:
    """The features a daemon that ran since ``first`` has at bar ``start``: its warm-up history and the
    recorded bars before ``start``, saved where a restarted daemon restores them."""
    settings = EngineSettings.load(env, RuntimeSettings.load(env).profile)
    engine = SignalEngine(settings.strategy, clock)
    run_dir = RunDir(out)
    for sym, f in frames.items():
        lo = int(np.searchsorted(f.ts_ms, first - HISTORY_BARS * BAR_MS))
        hi = int(np.searchsorted(f.ts_ms, start))
        for bar in f.slice(lo, hi).bars():
            engine.advance(sym, bar)
        if hi > lo:
            run_dir.feature_state(sym).write_bytes(engine.save_state(sym))


def _schedule(rec: Recording, first: int, last: int, start: int) -> list[tuple[int, list[tuple[str, Bar]]]]:
    """A wall-clock recording's steps: when its daemon took each bar of the window (``data.bar``), and when it
    ran a reconcile cycle (no bars)."""
    unified = {symbol_key(s): s for s in rec.symbols}
    steps: dict[int, list[tuple[str, Bar]]] = {}
    for r in rec.telemetry:
        ts, name = int(str(r.get("ts_ms", 0))), r.get("event")
        if name == "reconcile.summary" and ts > start and r.get("cycle") != 1:
            steps.setdefault(ts, [])
        bar_ts = r.get("bar_ts_ms")
        if name == "data.bar" and isinstance(bar_ts, int) and first <= bar_ts <= last:
            ohlcv = [float(str(r.get(k))) for k in ("open", "high", "low", "close", "volume")]
            steps.setdefault(ts, []).append((unified[symbol_key(str(r.get("symbol")))], Bar(bar_ts, *ohlcv)))
    return sorted(steps.items())


async def _run_recorded(
    daemon: Daemon, venue: RecordedVenue, steps: Sequence[tuple[int, list[tuple[str, Bar]]]]
) -> None:
    """Step a wall-clock recording in simulated time: bars handed when the recorded daemon took them,
    reconcile cycles when it ran them, and between them the protection check every ``PROTECTION_CHECK_SEC``
    while a position is not covered or an entry or exit order works (as the wall-clock tick loop does)."""
    setup, engine, reliability = daemon.setup, daemon.engine, daemon.reliability
    assert setup is not None
    assert setup.sim_clock is not None
    assert engine is not None
    assert reliability is not None
    clock, check = setup.sim_clock, max(1, round(daemon.settings.protection_check_sec * 1000))
    reliability.cycle_period_ms = _cycle_period(daemon, steps)
    horizon = [0, 0]  # the next step; the next step or tick
    venue.pace_until, venue.answer_until = (lambda: horizon[0]), (lambda: horizon[1])
    for i, (t, bars) in enumerate(steps):
        horizon[0] = steps[i + 1][0] if i + 1 < len(steps) else t + BAR_MS
        while clock.now_ms() + check < t and not daemon.stop_event.is_set():  # the wall tick loop's checks
            clock.set_ms(clock.now_ms() + check)
            horizon[1] = min(t, clock.now_ms() + check)
            await engine.tick()
            daemon.guards_tick()
        if daemon.stop_event.is_set():
            return
        clock.set_ms(max(t, clock.now_ms()))
        horizon[1] = min(horizon[0], clock.now_ms() + check)
        if not bars:
            await reliability.run_cycle()
            continue
        daemon.before_close()
        for symbol, bar in bars:
            await daemon.handle_bar(symbol, bar, None)
        daemon.after_close()
    daemon.request_stop("the replay reached the end of its window")


def _cycle_period(daemon: Daemon, steps: Sequence[tuple[int, list[tuple[str, Bar]]]]) -> int:
    """Market time between two reconcile cycles of the recorded wall-clock loop: its wall period at the
    recorded replay speed (``x600`` in the venue's name; a real venue: 1), else the shortest spacing."""
    setup = daemon.setup
    assert setup is not None
    period = daemon.reliability_settings.inflight_check_sec
    found = re.search(r" x(\d+(?:\.\d+)?)$", setup.name)
    if found is not None or not setup.name.startswith("sim "):
        speed = float(found.group(1)) if found is not None else 1.0
        return round(max(0.5, period / speed) * speed * 1000)
    cycles = [t for t, bars in steps if not bars]
    return min((b - a for a, b in itertools.pairwise(cycles)), default=round(period * 1000))


def _at_stake(daemon: Daemon) -> bool:
    """A position without a confirmed stop, or an entry or exit order still working."""
    engine = daemon.engine
    assert engine is not None
    if any(o.kind in (IntentKind.ENTRY, IntentKind.EXIT, IntentKind.FLATTEN) for o in engine.orders.live()):
        return True
    return any(engine.protection.tracker(s).state != "protected" for s in engine.book.open_positions())


async def _drive(
    daemon: Daemon,
    venue: RecordedVenue,
    graceful: bool,
    steps: Sequence[tuple[int, list[tuple[str, Bar]]]] | None,
) -> str:
    """Run ``daemon`` over the window (``steps``: a wall-clock recording's); the error that stopped it."""
    try:
        await daemon.start(RunMode.SIMULATED)
        await (run_simulated(daemon) if steps is None else _run_recorded(daemon, venue, steps))
        if graceful and daemon.stop_reason != _TOO_MANY:
            await daemon.shutdown()
            return ""
    except EclipseError as exc:
        daemon.flush_telemetry()
        daemon.abandon()
        return str(exc)
    daemon.flush_telemetry()  # the window ends here, not the recorded run: no graceful stop to compare
    daemon.abandon()
    return ""


def _payload(rec: JournalRecord, wall: bool) -> dict[str, Any]:
    name, text = encode_event(rec.event)
    body: dict[str, Any] = {"event": name, **json.loads(text)}
    return _strip(body) if wall else body


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _WALL_KEYS}
    return value


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _show(rec: JournalRecord | None) -> str:
    if rec is None:
        return "(none: no more records)"
    name, text = encode_event(rec.event)
    line = f"{name} {text}"
    return line if len(line) <= _SHOW else line[: _SHOW - 3] + "..."


def _compare(
    recorded: Sequence[JournalRecord], replayed: Sequence[JournalRecord], wall: bool
) -> Divergence | None:
    for i in range(max(len(recorded), len(replayed))):
        a = recorded[i] if i < len(recorded) else None
        b = replayed[i] if i < len(replayed) else None
        pa = _payload(a, wall) if a is not None else None
        pb = _payload(b, wall) if b is not None else None
        if pa == pb:
            continue
        seq = (a or b).seq if (a or b) is not None else 0  # type: ignore[union-attr]
        fields: tuple[str, ...] = ()
        changes: tuple[str, ...] = ()
        if pa is not None and pb is not None and pa["event"] == pb["event"]:
            fa, fb = _flat(pa), _flat(pb)
            fields = tuple(k for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k))
            changes = tuple(f"{k}: {fa.get(k)} -> {fb.get(k)}" for k in fields[:6])
        return Divergence(seq, _show(a), _show(b), fields, changes)
    return None


def _read_journal(path: Path) -> list[JournalRecord]:
    with Journal.open_reader(path) as reader:
        return list(reader.records())


def _slack_ms(env: Mapping[str, str]) -> tuple[int, int]:
    grace = float(str(load_param(env, "EXIT_PROTECT_GRACE_SEC")))
    check = float(str(load_param(env, "PROTECTION_CHECK_SEC")))
    settle = float(str(load_param(env, "RUN_BAR_SETTLE_SEC")))
    return round(grace * 1000), round((check + settle) * 1000)


async def _replay(rec: Recording, config: ReplayConfig) -> ReplayResult:
    first, last, rec_first, rec_last = window(rec, config.from_ms, config.to_ms)
    past, history_text, embedded = history(rec, config.history)
    env = _env(rec, config, embedded)
    notes: list[str] = []
    frames_all = frames(rec, past, rec_last)
    steps_frames = frames(rec, past, last)
    restart = first > rec_first
    settle = round(float(str(load_param(env, "RUN_BAR_SETTLE_SEC"))) * 1000)
    # the warm-up ends where the recorded bars begin (a wall-clock daemon warms up a little after it starts)
    start = first + BAR_MS if restart else max(rec.started_ms, min(first + settle, first + BAR_MS - 1))
    prefix = [r for r in rec.journal if r.ts_ms < start] if restart else []
    graceful = last == rec_last and rec.stopped
    handled = [
        int(str(t.get("ts_ms")))
        for t in rec.telemetry
        if t.get("event") == "data.bar" and t.get("bar_ts_ms") == last
    ]
    cut = max(handled, default=0)
    recorded = [r for r in rec.journal if r.seq > len(prefix) and (graceful or r.ts_ms <= cut)]
    later = [t for t in rec.lives[1:] if start < t <= cut or (graceful and t > start)]
    if later:
        notes.append(
            f"the recorded daemon restarted at {', '.join(format_ms(t) for t in later)}; the replay runs one "
            "daemon, so the records after a restart may differ"
        )
    if restart:
        notes.append(f"the window starts after the recording's: replayed as a restart at {format_ms(first)}")
    warmed = [
        t for t in rec.telemetry if t.get("event") == "runtime.warmed_up" and t.get("how") == "restored"
    ]
    if warmed:
        notes.append(
            "the recorded daemon restored saved features at its start: the replay warms up on history"
        )
    out, tmp = _out_dir(config)
    clock = SimClock(start)
    try:
        _prepare(out, env, prefix)
        if restart:
            _warm_features(out, env, frames_all, rec_first, first, clock)
        market = ReplaySource(clock, frames_all, partial_forming=True)
        steps = ReplaySource(clock, steps_frames, partial_forming=True)
        venue_id = "binanceusdm" if rec.venue_id.startswith(("builtin-sim", "sim@")) else rec.venue_id
        name = "paper" if rec.mode in ("simulated-time", "paper") else (venue_id.split("@")[0] or "paper")
        venue = RecordedVenue(rec, market, clock, start_ms=start, name=name)

        async def setup() -> VenueSetup:
            return VenueSetup(
                RunMode.SIMULATED, venue, rec.setup_name, clock, clock, None, sim_clock=clock, replay=steps
            )

        daemon = Daemon(env, RunOptions(run_dir=out, sim_clock=True, seed=config.seed), venue_setup=setup)
        venue.cursor = lambda: daemon.journal.last_seq() if daemon.journal is not None else 0
        venue.on_limit = lambda: daemon.request_stop(_TOO_MANY)
        counter = daemon.observer = _Counting()
        venue.emitted = lambda: counter.emitted
        venue.telemetry_base = None if restart else rec.telemetry_base
        wall = None if rec.simulated else _schedule(rec, first, last, start)
        error = await _drive(daemon, venue, graceful, wall)
        if daemon.stop_reason == _TOO_MANY:
            notes.append(f"stopped after {venue.max_divergences} requests the recording never saw")
        journal = _read_journal(RunDir(out).journal)
        replayed = [r for r in journal if r.seq > len(prefix)]
        t_protect, slack = _slack_ms(env)
        evidence = RunEvidence(
            tuple(journal),
            tuple(read_telemetry(RunDir(out).telemetry)),
            venue.truth(),
            t_protect_ms=t_protect,
            slack_ms=slack,
            settled=graceful and not error,
        )
        truth = evidence.venue
        bars = sum(int(((f.ts_ms >= first) & (f.ts_ms <= last)).sum()) for f in rec.bars.values())
        return ReplayResult(
            run_dir=rec.run_dir,
            mode=rec.mode,
            symbols=rec.symbols,
            window=(first, last),
            recorded_window=(rec_first, rec_last),
            bars=bars,
            history=history_text,
            knobs=dict(config.knobs),
            first_seq=len(prefix) + 1,
            recorded_records=len(recorded),
            replayed_records=len(replayed),
            divergence=_compare(recorded, replayed, wall=not rec.simulated),
            venue_divergences=tuple(venue.divergences),
            failures=(venue.failures_injected, venue.failures_total),
            orders=sum(1 for o in truth.orders),
            fills=len(truth.trades),
            report=check_run(evidence),
            notes=tuple(notes),
            error=error,
            out_dir=None if tmp is not None else out,
        )
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def replay_run(run_dir: Path, config: ReplayConfig | None = None) -> ReplayResult:
    """Replay the session recorded in ``run_dir`` (see the module docstring); :class:`ReplayDataError` (one
    line) when it cannot be replayed as asked."""
    config = config or ReplayConfig()
    rec = Recording.load(run_dir)
    return asyncio.run(_replay(rec, config))
