"""The chaos catalogue's harness: one exchange simulator per scenario (the embedded BTC month replayed behind
a real HTTP server; its faults installed through ``/_sim/faults``, its books changed from its own thread),
``eclipse run`` in a subprocess against it through the real ccxt client, restarted on the same run directory
where a scenario kills it. Every scenario ends quiet (faults off, then the market frozen, then a graceful
stop) and is judged by :func:`eclipse.proof.checkers.check_run` on the venue's own truth. No tests here.

The scenarios do not share a simulator: the checkers read every order and trade the venue ever held, so a
second scenario on the same venue would be judged with the first one's orders (ours by their client ids).
Times in the evidence are the simulator's market time, ``speed`` times the wall clock: the slack on top of
T_protect is one wall second of market time; intervals when no daemon ran are declared downtime.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import pytest
from tests.runtime.daemon_kit import RAW, daemon_env, spawn, start_sim, status

from eclipse.contracts import IntentKind, JournalEvent
from eclipse.execution.journal.client_ids import parse_client_id
from eclipse.proof.checkers import ProofReport, check_run
from eclipse.proof.evidence import RunEvidence, VenueTruth, read_telemetry
from eclipse.venues.sim.engine import MatchingEngine
from eclipse.venues.sim.model import OrderView
from eclipse.venues.sim.runner import SimServerThread

__all__ = [
    "FORCED",
    "KNOBS",
    "RAW",
    "RESULTS",
    "SCENARIOS",
    "T_PROTECT_MS",
    "Chaos",
    "Scenario",
    "live",
    "ours",
    "report_lines",
]

SPEED: Final = 120.0
"""Two bars a wall second."""
T_PROTECT_MS: Final = 15_000
"""``EXIT_PROTECT_GRACE_SEC`` (its default)."""
KNOBS: Final = {"ENTRY_MIN_CONFIDENCE": "0.15", "FIXED_NOTIONAL_USDT": "200"}
"""Knobs that make the daemon trade often (0.004 BTC an entry)."""
FORCED: Final = {"SCALPER_DEBUG_FORCE_ENTRY": "long", "EXIT_MAX_HOLD_SEC": "100000"}
"""An entry at the first bar after startup, held (under its stop and take-profit) until told otherwise."""
UP_TIMEOUT_S: Final = 40.0
QUIET_WALL_S: Final = 1.5
"""The end of every scenario: this long with faults off (several reconcile cycles), then the market frozen."""
RESULTS: Final = Path(__file__).parent / "results" / "catalogue.json"
_LINES: list[str] = []


@dataclass(frozen=True, slots=True)
class Scenario:
    """One row of the catalogue: how the fault is applied and the outcome it must have."""

    id: str
    name: str
    fault: str
    expected: str
    speed: float = SPEED
    wall_slack_s: float = 1.0
    """Wall seconds of slack on top of T_protect (times the speed in market time)."""


def _table() -> dict[str, Scenario]:
    rows = [
        (
            "1",
            "acknowledgement lost after placing",
            "script: the entry's POST /fapi/v1/order is executed, then its connection held 40 ms and dropped "
            "(lost_response)",
            "the entry is journaled unknown and settled by one lookup by client id (acked), never resent; "
            "the position gets its stop",
        ),
        (
            "2",
            "503 'unknown' after placing",
            "script: the entry, its stop and its take-profit are executed, then answered 503 without a code, "
            "-1006 and -1007",
            "each is journaled unknown and settled by lookup as placed, each client id sent once; the "
            "position is protected",
        ),
        (
            "3",
            "duplicate client id (a resend overtaken by the original)",
            "x20, VENUE_TIMEOUT_MS=300, VENUE_RECV_WINDOW_MS=1000; script latency: the stop's create held "
            "600 ms (timed out, looked up: not there yet); a resend now would meet the original's id",
            "no resend inside the landing window (receive window + 1 s): the lookup after it finds the "
            "late original, adopted; sent once, one stop under that id (the duplicate refusal, -4116, is "
            "the venue's second line; the simulation's executed_duplicate fault exercises its handling)",
        ),
        (
            "3b",
            "duplicate client id, the original already filled",
            "as 3 on the market entry: the original fills before the resend arrives, so the venue no longer "
            "holds the id (client ids are unique among open orders only) and takes the resend",
            "the promise: one order per client id (the router looks again once the landing window, "
            "VENUE_RECV_WINDOW_MS + 1 s, has passed, and finds the original), an intent never filled beyond "
            "its quantity, every fill journaled, belief equal to the venue; the position the unknown entry "
            "opened is protected once it is found (slack: the 2 s wall landing window + 1 s)",
        ),
        (
            "4",
            "partial fills below the ratio",
            "engine: every fill in 3 slices 60 s apart (an entry's first slice 0.001 of 0.004: 0.25 < "
            "ENTRY_PARTIAL_MIN_FILL_RATIO 0.5)",
            "each entry's remainder canceled and its filled part flattened (partial_forced_flatten), nothing "
            "stuck; the third in the window escalates the backoff",
        ),
        (
            "5",
            "a cancel racing a fill",
            "engine: 3 slices 60 s apart, cancel_race p=1 on regular orders (the entry's remainder): the "
            "cancel loses, the remainder fills first",
            "the lost race is read from the venue (already filled), every slice booked once, the whole "
            "position (not the stale partial) flattened, belief equal to the venue",
        ),
        (
            "6",
            "reconcile contradictions",
            "in the simulator's thread: the stop canceled; then the take-profit canceled; then the position "
            "closed by a reduce-only market order that is not ours",
            "each missing leg found and placed again (the stop within T_protect); the venue-side close "
            "adopted (a repair), the position's legs canceled, trading resumes",
        ),
        (
            "7",
            "a 429 storm, then 418",
            "random: every request 429 (Retry-After 1 s) for 2 s; then one 418; a graceful stop under the "
            "ban and a restart (the daemon's ban lasts >= 120 s of wall time)",
            "Retry-After waited out (a few requests in the storm), nothing sent once banned, entries "
            "blocked, a clean stop with the stop left on the venue, a clean restart",
        ),
        (
            "8",
            "clock skew (-1021) and resync",
            "clock_skew_ms +7000 (our timestamps too old), 2 s, then -3000 (too new), 2 s, then none",
            "a -1021 or two per step, the offset resynced each time, the refused request resent and placed "
            "once, trading goes on",
        ),
        (
            "9",
            "stale market data",
            "the replay stalled 1.5 s (POST /_sim/stall); then every market-data request 503 for 2.5 s (5 "
            "minutes of market time) while the venue moves on",
            "no bar and no order while stalled; during the outage no bar and no entry, the stop stays; after "
            "it every missing bar once, in order, and no entry on a stale bar",
        ),
        (
            "10",
            "protection missing",
            "script: the stop's create refused 503 then -1001 (not executed); engine: reduce_only_shrink "
            "ratio 0.5 until it has shrunk one stop",
            "the refused stop given up and placed again at the next check; the shrunk stop seen as missing "
            "protection and replaced by one of the full quantity",
        ),
        (
            "11",
            "a simulator restart mid-session",
            "the simulator stopped for 1.5 s and started again on its SQLite store and port (its books and "
            "market time continue)",
            "requests fail as never sent (no unknown outcome), reconcile backs off and blocks entries; after "
            "the restart it recovers, the same stop protects the position, bars resume",
        ),
        (
            "12",
            "a liquidation",
            "in the simulator's thread: the position liquidated (autoclose-, open orders canceled)",
            "the venue-side close adopted from the venue's fills (a repair), the position's legs canceled, "
            "the symbol ready again",
        ),
        (
            "13",
            "a stop, then a take-profit, triggers while the daemon is down",
            "algo ids coincide with order ids (both start at 1); kill -9, the stop fired in the simulator's "
            "thread, restart; again with the take-profit",
            "recovery finds the fired leg (TRIGGERED, its actualOrderId in the other id sequence), books its "
            "fill once, cancels the other leg, the book is flat",
        ),
        (
            "14",
            "kill -9 between a replacement stop and the old one's cancel, again and again",
            "engine: 3 slices 30 s apart (each slice grows the position: the stop is replaced); "
            "CHAOS_CRASH_AT=protect.sent:N at a replacement, 4 lives on one run directory",
            "every kill leaves two live stops; each restart keeps one covering the position (surplus "
            "canceled), checked after every restart and at the end",
        ),
    ]
    speeds = {"3": 20.0, "3b": 20.0}
    slack = {"3": 3.0, "3b": 3.0}
    return {
        r[0]: Scenario(*r, speed=speeds.get(r[0], SPEED), wall_slack_s=slack.get(r[0], 1.0)) for r in rows
    }


SCENARIOS: Final[Mapping[str, Scenario]] = _table()
"""The catalogue, by id."""


def ours(o: OrderView, kind: IntentKind | None = None) -> bool:
    """True for one of our orders (of ``kind``)."""
    cid = parse_client_id(o.client_id)
    return cid is not None and (kind is None or cid.kind is kind)


def live(o: OrderView) -> bool:
    """True while the order works on the venue."""
    return o.status in ("NEW", "PARTIALLY_FILLED")


@dataclass(slots=True)
class Chaos:
    """One scenario's world: its simulator, the daemon's run directory and lives, the downtime. A context
    manager: the daemon and the simulator are stopped whatever happens."""

    scenario: Scenario
    root: Path
    knobs: dict[str, str] = field(default_factory=dict)
    db: bool = False
    algo_ids: str = "apart"
    sim: SimServerThread = field(init=False)
    proc: subprocess.Popen[str] | None = None
    downtime: list[tuple[int, int]] = field(default_factory=list)
    lives: int = 0
    checks: int = 0
    notes: dict[str, Any] = field(default_factory=dict)
    """The scenario's own figures (written with the checkers' measures)."""
    expectations: list[tuple[str, bool]] = field(default_factory=list)
    _down_since: int | None = None
    t0: float = field(default_factory=time.monotonic)

    @property
    def run_dir(self) -> Path:
        """The daemon's run directory (shared by its lives)."""
        return self.root / "run"

    @property
    def slack_ms(self) -> int:
        """The scenario's wall slack (one second unless stated) in market time."""
        return round(self.scenario.speed * self.scenario.wall_slack_s * 1000)

    def __enter__(self) -> Chaos:
        self.root.mkdir(parents=True, exist_ok=True)
        self.sim = start_sim(self.scenario.speed, db_path=self._db_path(), algo_ids=self.algo_ids)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        self.sim.stop()

    def _db_path(self) -> Path | None:
        return self.root / "sim.sqlite" if self.db else None

    # --- the simulator ------------------------------------------------------------------------------------

    def market_ms(self) -> int:
        """The simulator's market time now."""
        now: int = self.sim.call(lambda: self.sim.ctx.futures.now_ms())
        return now

    def on_engine(self, fn: Callable[[MatchingEngine], Any]) -> Any:
        """``fn(the futures engine)`` on the simulator's thread, the engine brought up to now first."""

        def run() -> Any:
            eng = self.sim.ctx.futures
            eng.sync()
            return fn(eng)

        return self.sim.call(run)

    def orders(self) -> list[OrderView]:
        """Every order the venue holds (both books, finished ones too)."""
        views: list[OrderView] = self.on_engine(
            lambda eng: [o.view() for book in (eng.regular, eng.algo) for o in book.orders.values()]
        )
        return views

    def legs(self, kind: IntentKind) -> list[OrderView]:
        """Our live orders of ``kind`` on the venue."""
        return [o for o in self.orders() if live(o) and ours(o, kind)]

    def position(self) -> Decimal:
        """The venue's position."""
        qty: Decimal = self.on_engine(lambda eng: eng.pos_state[RAW].qty)
        return qty

    def protected(self, legs: int = 2) -> bool:
        """True while the venue holds a position and ``legs`` live legs of ours (stop, take-profit)."""
        return self.position() != 0 and len([o for o in self.orders() if live(o) and o.conditional]) >= legs

    def faults(self, plan: Mapping[str, Any]) -> None:
        """Install a fault plan (see :mod:`eclipse.venues.sim.faults`)."""
        self.sim.control("POST", "/_sim/faults", dict(plan))

    def clear_faults(self) -> None:
        """No faults any more."""
        self.sim.control("DELETE", "/_sim/faults")

    def injected(self) -> dict[str, int]:
        """What the simulator injected since its plan was installed (by fault)."""
        got: dict[str, int] = self.sim.control("GET", "/_sim/faults")["injected"]
        return got

    def stall(self, on: bool) -> None:
        """Freeze or resume the replay's market time."""
        self.sim.control("POST", "/_sim/stall", {"stalled": on})

    def requests(self, since: int = 0, **query: str) -> list[dict[str, Any]]:
        """The simulator's request journal after ``since`` (filters: ``path``, ``method``, ...)."""
        qs = "&".join(f"{k}={v}" for k, v in {"since": str(since), **query}.items())
        got: list[dict[str, Any]] = self.sim.control("GET", f"/_sim/requests?{qs}")["requests"]
        return got

    def last_seq(self) -> int:
        """The request journal's last sequence number."""
        total: int = self.sim.control("GET", "/_sim/requests?limit=1")["total"]
        return total

    def restart_sim(self, down_s: float) -> None:
        """Stop the simulator, wait ``down_s`` wall seconds, start it again on its store and port."""
        assert self.db, "a simulator restart needs its store"
        port = int(self.sim.url.rsplit(":", 1)[1])
        self.sim.stop()
        time.sleep(down_s)
        self.sim = start_sim(self.scenario.speed, db_path=self._db_path(), port=port, algo_ids=self.algo_ids)

    # --- the daemon ---------------------------------------------------------------------------------------

    def spawn(self, **extra: str) -> subprocess.Popen[str]:
        """Start a daemon on the run directory (knobs: the catalogue's, the scenario's, ``extra``), not
        waiting for it."""
        assert self.proc is None or self.proc.poll() is not None, "a daemon is running"
        self.proc = spawn(self.run_dir, daemon_env(self.sim, **{**KNOBS, **self.knobs, **extra}))
        self.lives += 1
        return self.proc

    def start(self, **extra: str) -> None:
        """Start a daemon and wait until it serves its status (its startup reconcile is done)."""
        self.spawn(**extra)
        self.wait("the daemon up", self.is_up, UP_TIMEOUT_S)

    def is_up(self) -> bool:
        """True once the running daemon serves its status (closes the downtime)."""
        snap = status(self.run_dir)
        if snap is None:
            return False
        if self._down_since is not None:
            self.downtime.append((self._down_since, max(self._down_since, int(snap["started_ms"]))))
            self._down_since = None
        return True

    def died(self) -> None:
        """Account a daemon that is gone: downtime from now until the next one is up."""
        if self._down_since is None:
            self._down_since = self.market_ms()

    def wait(self, what: str, pred: Callable[[], bool], timeout: float = 30.0) -> None:
        """Poll ``pred`` until true; AssertionError with the daemon's output when it dies or time runs out."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return
            if self.proc is not None and self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(
                    f"#{self.scenario.id}: the daemon exited ({self.proc.returncode}) before {what}:\n"
                    f"{out[-1500:]}\n{err[-3000:]}"
                )
            time.sleep(0.03)
        tail = ""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            tail = self.proc.communicate()[1][-3000:]
        raise AssertionError(f"#{self.scenario.id}: timed out ({timeout:g}s) waiting for {what}\n{tail}")

    def kill(self) -> None:
        """SIGKILL the daemon (downtime starts)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.communicate()
        self.died()

    def stop(self) -> tuple[int, str, str]:
        """SIGTERM and wait: (exit code, stdout, stderr); downtime starts."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"#{self.scenario.id}: the daemon did not stop:\n{err[-3000:]}") from None
        self.died()
        return self.proc.returncode, out, err

    def finish(self) -> str:
        """The quiet end: faults off for :data:`QUIET_WALL_S`, the market frozen, a graceful stop (exit 0
        asserted); the daemon's stderr."""
        self.clear_faults()
        time.sleep(QUIET_WALL_S)
        self.stall(True)
        time.sleep(0.3)
        code, _, err = self.stop()
        assert code == 0, f"#{self.scenario.id}: the final stop exited {code}:\n{err[-3000:]}"
        return err

    # --- what the daemon wrote ------------------------------------------------------------------------

    def events(self, name: str) -> list[dict[str, Any]]:
        """Telemetry records named ``name``."""
        return [r for r in read_telemetry(self.run_dir / "telemetry.jsonl") if r.get("event") == name]

    def journal(self) -> list[JournalEvent]:
        """The journal's events, in order."""
        return [rec.event for rec in self.evidence(settled=False, venue=False).journal]

    def snapshot(self) -> dict[str, Any]:
        """The running daemon's status (empty without one)."""
        return status(self.run_dir) or {}

    def kpis(self) -> dict[str, Any]:
        """The reliability KPIs of the last run summary."""
        summary = json.loads((self.run_dir / "summary.json").read_text())
        kpis: dict[str, Any] = summary["reliability"]["kpis"]
        return kpis

    # --- the verdict ------------------------------------------------------------------------------------

    def evidence(self, settled: bool, venue: bool = True) -> RunEvidence:
        """The run's evidence: the journal and telemetry first, the venue's truth after (a fill journaled in
        between is a venue trade too). A store is folded first: its last writes are not in its tables."""
        ev = RunEvidence.from_run_dir(
            self.run_dir,
            VenueTruth((), (), {}, 0),
            t_protect_ms=T_PROTECT_MS,
            slack_ms=self.slack_ms,
            downtime=list(self.downtime),
            settled=settled,
        )
        if not venue:
            return ev
        if self.db:
            store = self.sim.ctx.store
            assert store is not None
            self.sim.call(store.compact)
            truth = VenueTruth.from_sim_db(self.root / "sim.sqlite")
        else:
            truth = self.sim.call(lambda: VenueTruth.from_engine(self.sim.ctx.futures))
        return dataclasses.replace(ev, venue=truth)

    def check(self, when: str) -> None:
        """The checkers now, the run not settled (after a restart): AssertionError on any violation."""
        report = check_run(self.evidence(settled=False))
        self.checks += 1
        assert report.ok, f"#{self.scenario.id} {when}: " + "; ".join(map(str, report.violations))

    def expect(self, held: bool, what: str) -> None:
        """Note one expected outcome and whether it held (judged by :meth:`conclude`)."""
        self.expectations.append((what, bool(held)))

    def conclude(self) -> ProofReport:
        """The checkers' verdict on the settled run; the figures recorded (results file, report line); then
        AssertionError naming every expectation that did not hold and every violation."""
        report = check_run(self.evidence(settled=True))
        record(self, report)
        broken = [what for what, held in self.expectations if not held]
        problems = [f"expected: {what}" for what in broken] + [f"violation: {v}" for v in report.violations]
        assert not problems, f"#{self.scenario.id} {self.scenario.name}:\n  " + "\n  ".join(problems)
        assert self.expectations, f"#{self.scenario.id}: no expected outcome was checked"
        return report


def figures(chaos: Chaos, report: ProofReport) -> dict[str, Any]:
    """A scenario's row of figures."""
    m = report.measures
    s = chaos.scenario
    try:
        kpis = chaos.kpis()
    except (OSError, KeyError, ValueError):
        kpis = {}
    return {
        "id": s.id,
        "name": s.name,
        "fault": s.fault,
        "expected": s.expected,
        "speed": s.speed,
        "slack_s": chaos.slack_ms / 1000,
        "ok": report.ok and all(held for _, held in chaos.expectations),
        "checkers_ok": report.ok,
        "violations": [str(v) for v in report.violations],
        "expectations": [{"what": what, "held": held} for what, held in chaos.expectations],
        "unknown_resolved": len(m.unknown_resolution_ms),
        "unknown_resolution_p50_ms": m.unknown_p50_ms,
        "unknown_resolution_max_ms": max(m.unknown_resolution_ms, default=None),
        "unresolved_unknown": m.unresolved_unknown,
        "protection_gap_longest_s": m.longest_gap_s,
        "protection_gap_total_s": round(m.gap_total_s, 3),
        "repairs": m.repairs,
        "debt_peak": m.debt_peak,
        "orders": m.orders,
        "fills": m.fills,
        "positions": m.positions,
        "lives": chaos.lives,
        "checks": chaos.checks + 1,
        "downtime_s": round(sum(b - a for a, b in chaos.downtime) / 1000, 1),
        "daemon_kpis": kpis,
        "notes": chaos.notes,
        "wall_s": round(time.monotonic() - chaos.t0, 1),
        "run_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def record(chaos: Chaos, report: ProofReport) -> None:
    """Write the scenario's figures into :data:`RESULTS` (one file, every scenario by id) and keep its
    report line."""
    row = figures(chaos, report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        data = {}
    data.setdefault("scenarios", {})[row["id"]] = row
    data["t_protect_s"] = T_PROTECT_MS / 1000
    RESULTS.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
    _LINES.append(line(row))


def line(row: Mapping[str, Any]) -> str:
    """One report line of a scenario's figures."""
    p50 = row["unknown_resolution_p50_ms"]
    unknown = (
        f"{row['unknown_resolved']} p50 {p50:g} max {row['unknown_resolution_max_ms']} ms"
        if p50 is not None
        else "none"
    )
    return (
        f"#{row['id']:<3}{row['name'][:46]:<47}{'ok ' if row['ok'] else 'BAD'} | unknown {unknown}"
        f" | gap longest {row['protection_gap_longest_s']:g}s total {row['protection_gap_total_s']:g}s"
        f" | repairs {row['repairs']} | debt peak {row['debt_peak']:g} | orders {row['orders']}"
        f" | x{row['speed']:g} {row['wall_s']:g}s"
    )


@pytest.fixture(scope="module")
def report_lines(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """A module's scenario lines, printed at its end (in the terminal report, ``-q`` too)."""
    yield _LINES
    plugins = request.config.pluginmanager
    reporter, capture = plugins.getplugin("terminalreporter"), plugins.getplugin("capturemanager")
    if reporter is not None and capture is not None and _LINES:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_sep("-", "chaos catalogue (market-time figures)")
            for text in _LINES:
                reporter.write_line(text)
    _LINES.clear()
