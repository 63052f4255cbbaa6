"""The kill -9 crash suite's harness: ``eclipse run`` in a subprocess against one exchange simulator (its
venue state persists across the daemon's lives), killed with SIGKILL at seeded moments and restarted on the
same run directory; after every restart (once reconciled) and at the end (graceful stop, a frozen market)
the run's evidence is judged by :func:`eclipse.proof.checkers.check_run`. No tests here.

A life dies in one of three ways: at a named crash point (``CHAOS_CRASH_AT=point:n``: the daemon sends itself
SIGKILL the n-th time it passes there; ``shutdown`` is reached by a SIGTERM from the harness), by an external
``os.kill(pid, SIGKILL)`` after a seeded delay, or, when its point is not reached in time, by an external
kill (a fallback, counted and reported). Times in the evidence are the simulator's market time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from tests.runtime.daemon_kit import daemon_env, status

from eclipse.contracts import IntentKind, OrderAcked, OrderResolved, OrderSubmitting
from eclipse.execution.journal.client_ids import parse_client_id
from eclipse.proof.checkers import ProofReport, check_run
from eclipse.proof.evidence import RunEvidence, VenueTruth, read_telemetry
from eclipse.runtime.crashpoints import POINTS
from eclipse.venues.sim.runner import SimServerThread
from eclipse.venues.types import Side

__all__ = [
    "KNOBS",
    "RESULTS",
    "SPEED",
    "Kill9Error",
    "Kill9Run",
    "LifePlan",
    "parse_plan",
    "plan_lives",
    "restart_figures",
]

SPEED: Final = 120.0
"""Two bars a wall second: an entry every few seconds, a life of a few seconds spans several bars."""
KNOBS: Final = {
    "ENTRY_MIN_CONFIDENCE": "0.15",
    "FIXED_NOTIONAL_USDT": "200",
    "EXIT_MAX_HOLD_SEC": "600",
    "SCALPER_DEBUG_FORCE_ENTRY": "alternate",
}
"""Knobs that make the daemon trade often: a low entry bar; positions closed after 10 bars at most, long
enough to outlive a restart's downtime (two to three wall seconds, 250-350 s of market time) by more than
T_protect + slack, so a restart that leaves a position bare fails the protection checker."""
T_PROTECT_MS: Final = 15_000
"""``EXIT_PROTECT_GRACE_SEC`` (its default)."""
SLACK_WALL_S: Final = 1.0
"""Wall seconds allowed on top of T_protect (startup reconcile, two busy cores, the harness's polling):
120 s of market time at :data:`SPEED`; the gaps measured are a few seconds."""
LIFE_TIMEOUT_S: Final = 15.0
"""A crash point not reached in this many wall seconds after the spawn: killed from outside instead."""
UP_TIMEOUT_S: Final = 40.0
"""The final life must serve its status within this many wall seconds."""
QUIET_WALL_S: Final = 2.5
"""The final life runs this long (five bars, several reconcile cycles) before the market is frozen."""
POLL_S: Final = 0.02
RESULTS: Final = Path(__file__).parent / "results" / "kill9.json"
"""The last run's figures, plan and kill sequence (the directory is git-ignored; CI keeps it)."""

MAX_PASS: Final = {
    "submit.journaled": 2,
    "submit.sent": 2,
    "protect.sent": 3,
    "cancel.sent": 2,
    "fill.journaled": 2,
    "reconcile.fetched": 4,
    "bar": 6,
    "shutdown": 1,
}
"""The highest pass drawn per crash point (``reconcile.fetched:1`` is the startup reconcile)."""


@dataclass(frozen=True, slots=True)
class LifePlan:
    """How one life ends: ``point`` (crash point ``point`` at pass ``n``; for ``shutdown`` a SIGTERM after
    ``delay_s`` wall seconds of being up), ``external`` (SIGKILL ``delay_s`` after the spawn) or ``final``
    (a graceful stop after a quiet stretch)."""

    kind: str
    point: str = ""
    n: int = 0
    delay_s: float = 0.0

    @property
    def label(self) -> str:
        """E.g. ``submit.sent:2``, ``shutdown:1@1.20s`` (SIGTERM 1.2 s after up), ``external@3.10s``,
        ``final``; :func:`parse_plan` reads it back."""
        if self.kind == "point":
            return f"{self.point}:{self.n}" + (f"@{self.delay_s:.2f}s" if self.delay_s else "")
        if self.kind == "external":
            return f"external@{self.delay_s:.2f}s"
        return "final"


def plan_lives(seed: int, kills: int) -> list[LifePlan]:
    """``kills`` lives that die, then the final one: every crash point at least once (when ``kills``
    allows), the rest half crash points, half external kills, in a seeded order."""
    rng = random.Random(seed)

    def point(name: str) -> LifePlan:
        delay = round(rng.uniform(0.2, 3.0), 2) if name == "shutdown" else 0.0
        return LifePlan("point", name, rng.randint(1, MAX_PASS[name]), delay)

    def external() -> LifePlan:
        return LifePlan("external", delay_s=round(rng.uniform(0.5, 8.0), 2))

    plans = [point(p) for p in POINTS][:kills]
    while len(plans) < kills:
        plans.append(point(rng.choice(POINTS)) if rng.random() < 0.5 else external())
    rng.shuffle(plans)
    return [*plans, LifePlan("final")]


def parse_plan(text: str) -> list[LifePlan]:
    """Lives from their labels (``fill.journaled:1,external@2.5s,shutdown:1@1s``), then the final one;
    ValueError on what is not a label."""
    plans = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        head, _, delay = part.partition("@")
        seconds = float(delay.removesuffix("s")) if delay else 0.0
        if head == "external":
            plans.append(LifePlan("external", delay_s=seconds))
            continue
        name, _, n = head.partition(":")
        if name not in POINTS:
            raise ValueError(f"{part!r}: not a crash point ({', '.join(POINTS)}) nor external@SECONDS")
        if name == "shutdown" and not seconds:
            seconds = 1.0
        plans.append(LifePlan("point", name, int(n or 1), seconds))
    return [*plans, LifePlan("final")]


def restart_figures(ev: RunEvidence) -> dict[str, Any]:
    """What the kills left for the restarts (market time): orders in flight at a kill (submitted, no answer
    journaled) and how long after the restart each was resolved; positions open at a kill, and those found
    without a live stop at the restart with the time until a stop was placed or the position closed (-1:
    neither by the end); the venue's fills while no daemon ran (a stop or take-profit that triggered during
    the downtime)."""
    answered: dict[str, list[int]] = {}
    submitted: dict[str, int] = {}
    for rec in ev.journal:
        e = rec.event
        if isinstance(e, OrderSubmitting):
            submitted.setdefault(e.client_order_id, e.ts_ms)
        elif isinstance(e, OrderAcked | OrderResolved):
            answered.setdefault(e.client_order_id, []).append(e.ts_ms)
    in_flight, resolve_ms, unresolved = 0, [], 0
    for down, up in ev.downtime:
        for coid, t in submitted.items():
            times = answered.get(coid, [])
            if t > down or any(a <= down for a in times):
                continue
            in_flight += 1
            later = [a for a in times if a > down]
            if later:
                resolve_ms.append(max(0, min(later) - up))
            else:
                unresolved += 1
    stops = [
        (o.created_ms, o.updated_ms if o.status not in ("NEW", "PARTIALLY_FILLED") else 1 << 62)
        for o in ev.venue.orders
        if o.conditional and (parsed := parse_client_id(o.client_id)) and parsed.kind is IntentKind.STOP_LOSS
    ]

    steps: list[tuple[int, Decimal]] = []
    pos = Decimal(0)
    for tr in sorted(ev.venue.trades, key=lambda x: (x.ts_ms, x.trade_id)):
        pos += tr.qty if tr.side is Side.BUY else -tr.qty
        steps.append((tr.ts_ms, pos))

    def position(at: int) -> Decimal:
        return next((q for ts, q in reversed(steps) if ts <= at), Decimal(0))

    open_at_kill, bare, protect_ms = 0, 0, []
    for down, up in ev.downtime:
        open_at_kill += position(down) != 0
        if position(up) != 0 and not any(a <= up < b for a, b in stops):
            bare += 1  # covered by a stop, or closed (a stop the venue refuses as breached: flattened)
            ends = [a for a, _ in stops if a > up] + [ts for ts, q in steps if ts > up and q == 0]
            protect_ms.append(min(ends) - up if ends else -1)
    while_down = sum(1 for t in ev.venue.trades if any(a < t.ts_ms < b for a, b in ev.downtime))
    return {
        "venue_fills_while_down": while_down,
        "in_flight_at_kill": in_flight,
        "in_flight_resolved_after_restart_max_s": max(resolve_ms, default=0) / 1000,
        "in_flight_unresolved": unresolved,
        "open_at_kill": open_at_kill,
        "bare_at_restart": bare,
        "bare_covered_or_closed_after_s": [round(ms / 1000, 1) for ms in protect_ms],
    }


@dataclass(slots=True)
class Life:
    """What one daemon did: its plan, how it ended, when (market time) it started and died."""

    index: int
    plan: LifePlan
    pid: int = 0
    outcome: str = ""
    exit_code: int | None = None
    started_ms: int | None = None
    died_ms: int | None = None
    up: bool = False
    """It served its status (so its startup reconcile was done) and was checked."""
    wall_s: float = 0.0

    def line(self) -> str:
        """One line of the kill sequence."""
        up = "reconciled" if self.up else "never up"
        return (
            f"life {self.index:>3} pid {self.pid:<7} plan {self.plan.label:<22} -> {self.outcome} "
            f"[{up}; started {self.started_ms}, died {self.died_ms}, {self.wall_s:.1f}s wall]"
        )


class Kill9Error(AssertionError):
    """A broken promise or a daemon that ended in a way no kill explains: the message has the seed, the
    kill sequence and the command that replays the plan."""


@dataclass(slots=True)
class Kill9Run:
    """One crash-suite run: the seeded plan of lives against ``sim`` on ``run_dir`` (see the module
    docstring). :meth:`run` returns the final verdict or raises :class:`Kill9Error`."""

    sim: SimServerThread
    run_dir: Path
    seed: int
    kills: int
    speed: float = SPEED
    knobs: dict[str, str] = field(default_factory=lambda: dict(KNOBS))
    plans: list[LifePlan] | None = None
    """The lives to run (None: :func:`plan_lives` of the seed)."""
    lives: list[Life] = field(default_factory=list)
    downtime: list[tuple[int, int]] = field(default_factory=list)
    checks: int = 0
    wall_s: float = 0.0
    restarts: dict[str, Any] = field(default_factory=dict)
    _down_since: int | None = None

    @property
    def slack_ms(self) -> int:
        """:data:`SLACK_WALL_S` as market time."""
        return round(SLACK_WALL_S * self.speed * 1000)

    # --- the run -------------------------------------------------------------------------------------------

    def run(self) -> ProofReport:
        """Every planned life in turn, checking after each restart; the final settled verdict."""
        t0 = time.monotonic()
        if self.plans is None:
            self.plans = plan_lives(self.seed, self.kills)
        self.kills = len(self.plans) - 1
        for index, plan in enumerate(self.plans):
            life = Life(index, plan)
            self.lives.append(life)
            self._live(life)
        report = self.check(settled=True, when="at the end (graceful stop, market frozen)")
        self.wall_s = time.monotonic() - t0
        self.restarts = restart_figures(self.evidence(settled=True))
        self._record(self.figures(report, self.restarts))
        return report

    def _record(self, figures: dict[str, Any], error: str = "") -> None:
        """Write :data:`RESULTS`."""
        data = {
            **figures,
            "ok": not error,
            "error": error,
            "repro": self.repro(),
            "lives_detail": [life.line() for life in self.lives],
            "downtime_ms": self.downtime,
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(data, indent=1, default=str) + "\n")

    def market_ms(self) -> int:
        """The simulator's market time now."""
        now: int = self.sim.call(lambda: self.sim.ctx.futures.now_ms())
        return now

    def _live(self, life: Life) -> None:
        plan = life.plan
        env = daemon_env(self.sim, **self.knobs)
        if plan.kind == "point":
            env["CHAOS_CRASH_AT"] = f"{plan.point}:{plan.n}"
        t0 = time.monotonic()
        proc = self._spawn(life, env)
        life.pid = proc.pid
        sigterm_at: float | None = None
        try:
            while proc.poll() is None:
                now = time.monotonic()
                if not life.up:
                    self._maybe_up(life)
                    if life.up and plan.kind == "point" and plan.point == "shutdown":
                        sigterm_at = time.monotonic() + plan.delay_s
                    if life.up and plan.kind == "final":
                        self._final_stop(life, proc)
                        break
                if plan.kind == "external" and now - t0 >= plan.delay_s:
                    os.kill(proc.pid, signal.SIGKILL)
                    life.outcome = f"SIGKILL from outside after {now - t0:.2f}s"
                    break
                if sigterm_at is not None and now >= sigterm_at:
                    proc.send_signal(signal.SIGTERM)
                    sigterm_at = None
                    life.outcome = "SIGTERM"
                limit = UP_TIMEOUT_S if plan.kind == "final" else LIFE_TIMEOUT_S
                if now - t0 > limit:
                    if plan.kind == "final":
                        self._fail(f"the final daemon was not up after {limit:g}s", life, proc)
                    os.kill(proc.pid, signal.SIGKILL)
                    life.outcome = f"fallback: SIGKILL from outside ({plan.label} not reached in {limit:g}s)"
                    break
                time.sleep(POLL_S)
            proc.wait(timeout=60)
        except BaseException:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise
        err = self._log(life)
        life.exit_code = proc.returncode
        life.wall_s = time.monotonic() - t0
        if plan.kind == "final":
            if proc.returncode != 0:
                self._fail(f"the final graceful stop exited with {proc.returncode}", life, None, err)
            life.outcome = "graceful stop (exit 0)"
            return
        life.died_ms = self.market_ms()
        self._died(life, err)

    def _maybe_up(self, life: Life) -> None:
        """The daemon serves its status (its startup reconcile is done): close the downtime, check."""
        snap = status(self.run_dir)
        if snap is None:
            return
        life.up = True
        life.started_ms = int(snap["started_ms"])
        self._close_downtime(life.started_ms)
        if life.index > 0:
            self.check(settled=False, when=f"after restart {life.index} (reconciled)", life=life)

    def _close_downtime(self, started_ms: int) -> None:
        if self._down_since is not None:
            self.downtime.append((self._down_since, max(self._down_since, started_ms)))
            self._down_since = None

    def _spawn(self, life: Life, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """``eclipse run --dir RUN_DIR --plain`` with its output in ``logs/life-N.log`` next to the run
        directory (a file never fills up and blocks the daemon as a pipe can)."""
        logs = self.run_dir.parent / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with (logs / f"life-{life.index}.log").open("wb") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "eclipse.cli", "run", "--dir", str(self.run_dir), "--plain"],
                env=env,
                cwd=self.run_dir.parent,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def _log(self, life: Life) -> str:
        """A life's output (stdout and stderr)."""
        path = self.run_dir.parent / "logs" / f"life-{life.index}.log"
        return path.read_text(errors="replace") if path.is_file() else ""

    def _died(self, life: Life, err: str) -> None:
        """Account a death: it must be a SIGKILL; a life never seen up may still have started (telemetry)."""
        code = life.exit_code
        if code != -signal.SIGKILL:
            self._fail(f"the daemon exited with {code}, not killed", life, None, err)
        plan = life.plan
        if plan.kind == "point" and not life.outcome.startswith("fallback"):
            at = f"{plan.point}:{plan.n}"
            life.outcome = f"{life.outcome + ', then ' if life.outcome else ''}killed itself at {at}"
        if not life.up:
            since = self._down_since if self._down_since is not None else 0
            assert life.died_ms is not None
            starts = [
                int(str(r["ts_ms"]))
                for r in read_telemetry(self.run_dir / "telemetry.jsonl")
                if r.get("event") == "runtime.started" and since < int(str(r.get("ts_ms", 0))) <= life.died_ms
            ]
            if starts:
                life.started_ms = starts[0]
                self._close_downtime(starts[0])
        if self._down_since is None:
            self._down_since = life.died_ms

    def _final_stop(self, life: Life, proc: subprocess.Popen[bytes]) -> None:
        """Quiet, the market frozen (nothing moves while no daemon runs), then SIGTERM."""
        end = time.monotonic() + QUIET_WALL_S
        while time.monotonic() < end:
            if proc.poll() is not None:
                return
            time.sleep(0.1)
        self.sim.control("POST", "/_sim/stall", {"stalled": True})
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)

    # --- the verdict ------------------------------------------------------------------------------------

    def evidence(self, settled: bool) -> RunEvidence:
        """The run's evidence now: the journal and telemetry first, the venue after (a fill the daemon
        journals in between is then still a venue trade)."""
        placeholder = VenueTruth((), (), {}, 0)
        ev = RunEvidence.from_run_dir(
            self.run_dir,
            placeholder,
            t_protect_ms=T_PROTECT_MS,
            slack_ms=self.slack_ms,
            downtime=list(self.downtime),
            settled=settled,
        )
        venue: VenueTruth = self.sim.call(lambda: VenueTruth.from_engine(self.sim.ctx.futures))
        return dataclasses.replace(ev, venue=venue)

    def check(self, *, settled: bool, when: str, life: Life | None = None) -> ProofReport:
        """Judge the run now; :class:`Kill9Error` on any violation."""
        report = check_run(self.evidence(settled))
        self.checks += 1
        if not report.ok:
            lines = "\n".join(f"  {v}" for v in report.violations)
            self._fail(f"{len(report.violations)} violation(s) {when}:\n{lines}", life, None)
        return report

    def _fail(
        self, what: str, life: Life | None, proc: subprocess.Popen[bytes] | None, tail: str = ""
    ) -> None:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if life is not None:
            tail = tail or self._log(life)
        where = f" (life {life.index}, plan {life.plan.label})" if life is not None else ""
        self._record({"seed": self.seed, "kills_planned": self.kills, "lives": len(self.lives)}, what)
        raise Kill9Error(
            f"kill -9 suite, seed {self.seed}{where}: {what}\n{self.describe()}"
            + (f"\nthe daemon's output (tail):\n{tail[-2500:]}" if tail else "")
        )

    def describe(self) -> str:
        """The seed, the kill sequence, the downtime and the command that replays the plan."""
        seq = "\n".join(f"  {life.line()}" for life in self.lives)
        return (
            f"seed {self.seed}, {self.kills} kills planned, replay speed {self.speed:g}x, "
            f"T_protect {T_PROTECT_MS / 1000:g}s + slack {self.slack_ms / 1000:g}s (market time), "
            f"run dir {self.run_dir} (daemon output: {self.run_dir.parent / 'logs'})\n"
            f"kill sequence:\n{seq}\ndowntime (market ms): {self.downtime}\n"
            f"reproduce:\n  {self.repro()}\n"
            "(the same plan of kills; the wall-clock interleaving can differ)"
        )

    def repro(self) -> str:
        """The command that runs this plan again."""
        labels = ",".join(p.label for p in self.plans or [] if p.kind != "final")
        return (
            f"ECLIPSE_KILL9_SEED={self.seed} ECLIPSE_KILL9_PLAN='{labels}' "
            "python -m pytest tests/chaos/test_kill9.py -k crash_suite -s"
        )

    def figures(self, report: ProofReport, restarts: dict[str, Any] | None = None) -> dict[str, Any]:
        """The run's figures: kills, lives, crash points reached, the checkers' measures and what the
        restarts found (:func:`restart_figures`)."""
        dead = [life for life in self.lives if life.plan.kind != "final"]
        reached = Counter(
            life.plan.point for life in dead if life.plan.kind == "point" and "fallback" not in life.outcome
        )
        m = report.measures
        return {
            "seed": self.seed,
            "kills_survived": len(dead),
            "lives": len(self.lives),
            "checks": self.checks,
            "points_reached": dict(sorted(reached.items())),
            "external_kills": sum(1 for life in dead if life.plan.kind == "external"),
            "fallback_kills": sum(1 for life in dead if "fallback" in life.outcome),
            "never_up": sum(1 for life in dead if not life.up),
            "downtime_s": round(sum(b - a for a, b in self.downtime) / 1000, 1),
            **m.to_dict(),
            **(restarts or {}),
            "violations": len(report.violations),
            "wall_s": round(self.wall_s, 1),
        }

    def summary(self, report: ProofReport, restarts: dict[str, Any] | None = None) -> str:
        """One line for the terminal summary."""
        return "kill -9 suite: " + json.dumps(self.figures(report, restarts), default=str)
