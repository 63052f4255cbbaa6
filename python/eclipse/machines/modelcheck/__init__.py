"""Exhaustive bounded model check of the order lifecycle (``specs/order.toml``) under a faulty venue channel,
in two configurations: regular orders composed with the risk posture (``specs/posture.toml``), and
conditional orders (stop-loss / take-profit orders the venue triggers).

What is explored (the abstract state is in :mod:`~eclipse.machines.modelcheck.world`, the rules in
:mod:`~eclipse.machines.modelcheck.model`): one intent's orders, each driven by the order machine's table
compiled *from the spec*, next to an abstract venue holding the truth. Every sequence of at most ``depth``
actions is explored breadth first, so the first violation found of each invariant has a shortest trace:

* the bot: ``submit`` (the venue accepts, rejects, or never gets the request), ``cancel_request`` (the venue
  cancels; or fills the rest first and still confirms the cancel, the race behind the late-fill rows; a
  conditional may instead trigger first, the cancel then rejected; or the venue answers ``cancel_rejected``
  for an order no longer open; or the request is lost), ``lookup`` (answered ``lookup_found`` /
  ``lookup_absent`` from the venue's truth, or for a conditional that triggered: ``trigger``), a
  ``transport_error`` on the request of an in-flight order, a resubmission (a new attempt, allowed only when
  every attempt is terminal: no live order, none unknown; for the intent's quantity less what the venue
  confirms the earlier attempts filled, as ``ReplaceManager`` sizes a replacement from the cancel's final
  report, not less what the bot has applied: a fill may still be in flight), and a reconcile cycle;
* the venue: fill one unit, cancel on its own, expire, reject after accepting (before any fill), shrink a
  reduce-only quantity, re-send an already sent trade id; a conditional is first triggered (report
  ``trigger``), and only then does the order it became fill, shrink or expire;
* the channel (a multiset of at most 3 reports): deliver any report (reordering), lose one, duplicate one;
  for conditional orders also a restart: every report in flight is lost, and with them the trigger links
  the journal does not hold (a conditional not in ``triggered``). A conditional's fill is applied only once
  the bot knows the trigger link (from the report, a lookup or reconcile); before that it is not
  attributed (the engine re-fetches fills later).

Checked in every reachable state or transition: the model-check checkers the specs' invariants declare
(:mod:`~eclipse.machines.modelcheck.checks`, :mod:`~eclipse.machines.modelcheck.posture`, registered in
:mod:`eclipse.machines.checkers`; a violation is named after the declaring invariant):
``one_live_order_per_intent`` (at most ``max_live_orders_per_intent`` attempts live at the venue),
``intent_filled_within_quantity`` (the attempts of the intent filled at most its quantity between them, at the
venue and in the bot's books), ``filled_qty_monotonic_and_bounded``, ``trade_id_applied_once``,
``venue_fills_never_lost`` (the machine refused a fill the venue made), ``terminal_states_absorb`` (a row
leaving a terminal state must be a documented late ``fill`` or ``qty_reduced`` row into a terminal state),
``unknown_resolved_before_resubmit``, ``transport_errors_never_definitive``,
``trigger_fills_belong_to_the_order`` (conditional orders), and reconcile's ``converges_within_k_cycles`` with
K read from ``specs/reconcile.toml``: from every reachable state, once faults stop (the reports in flight
delayed past the horizon, no new faults, the venue still), at most K - 1 repairing reconcile cycles make each
attempt's belief (state, trade ids, open quantity) equal the venue's truth, so the K-th cycle diffs clean. A
report delivered later leads to another reachable state, checked the same way. Advisories are properties the
spec does not promise (yet); they are reported and do not fail the check (there are none today).

Posture. When ``posture.toml`` is in the spec directory, the regular configuration composes the risk posture
machine compiled from it (:mod:`~eclipse.machines.modelcheck.posture`): an abstract belief debt (open
contradictions in the world) drives the posture as ``PostureController`` does, a ``time passes`` action counts
calm and warmup ticks, and its invariants ``never_blocks_exits_or_protection``, ``escalation_immediate``,
``no_flapping`` and ``warmup_before_normal`` are checked in every reachable state or transition. The report
names the postures visited. The order invariants and convergence read the attempts alone, so each distinct
attempts is judged once (the first world that has them). The conditional configuration leaves the posture out
(it would triple its states and check nothing new).

Search (:mod:`~eclipse.machines.modelcheck.search`). A state is one int, the number of its order part
(interned once) times the number of posture parts there can be, plus the number of its posture part, so a
transition to a known state costs one int lookup; the order part's successors are assembled from memoized
pieces (:class:`~eclipse.machines.modelcheck.model.Memo`: an attempt's moves, a delivery, the channel's
faults, resubmission, restart and reconcile) and computed once per order part and posture gate; the cyclic
garbage collector is paused during the search (millions of tuples live to its end). Nothing is pruned: the
states and transitions are those of the plain search (the same counts and shortest traces, checked against it
on the real specs and mutants when this was written).

Depth. Measured on the 2-core machine over the specs as of this writing (states: distinct abstract states
within the depth; the regular order machine alone has 121,795 states)::

    depth    regular x posture    conditional
        4            360               251
        8         14,274             8,822
       12        171,447           122,778
       16        313,537           301,741
       20        321,638           309,930   (conditional: no new state at depth 20, diameter 19)
       22        321,654                     (regular: no new state at depth 23, diameter 22)
       24        321,654                     exhausted, 2,294,145 transitions, ~9 s
    conditional at 22:             309,930   exhausted, 2,457,013 transitions, ~11 s

The posture part multiplies the order part by ~2.6 (posture, calm ticks 0..H-1, warmup ticks), so the whole
regular space (~320,000 states, all within 22 actions) is explored by DEFAULT_DEPTH = 24, and the conditional
space (~310,000 states, within 19 actions) by CONDITIONAL_DEPTH = 22. :func:`check_all` runs the two in
separate processes at once (two CPUs: ~12 s wall for both, ``eclipse specs check`` included). Before the
resubmission was sized from the venue's confirmed fills the spaces were 779,763 and 424,102 states (and took
~85 s and ~65 s before the search interned its states, 17-23 s and 12-15 s after). When a change makes a space
grow past the bound the report says "bounded" instead of "state space exhausted".

Progress. :func:`check` and :func:`check_all` take a ``progress`` callback that receives a :class:`Progress`
(states explored, depth reached, seconds) after each level and about every second within one, then a final
one (``done``); :func:`check_all` relays its worker processes' progress through a queue.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from eclipse.machines.modelcheck.model import Model, ModelError
from eclipse.machines.modelcheck.posture import POSTURES, PostureModel
from eclipse.machines.modelcheck.search import Search, Step, Violation
from eclipse.machines.modelcheck.world import render_world
from eclipse.machines.spec import Spec, SpecError, find_spec_dir, load_specs

__all__ = [
    "CONDITIONAL_DEPTH",
    "CONFIGURATIONS",
    "DEFAULT_DEPTH",
    "ModelError",
    "Progress",
    "Report",
    "Step",
    "Violation",
    "check",
    "check_all",
    "main",
    "render_advisory",
    "render_report",
    "render_violation",
]

DEFAULT_DEPTH = 24
"""Exhausts the reachable state space of regular orders with the posture (diameter 22; module docstring)."""
CONDITIONAL_DEPTH = 22
"""Exhausts the reachable state space of conditional orders (diameter 20; see the module docstring)."""
CONFIGURATIONS: Final = ("regular", "conditional")
"""The configurations :func:`check_all` runs."""

_CONVERGES = "reconcile.model_check.belief_converges"
PROGRESS_INTERVAL = 1.0
"""Seconds between two progress reports within one level."""


@dataclass(frozen=True, slots=True)
class Progress:
    """Where one configuration's model check stands: ``level`` of ``depth`` levels explored (the level being
    expanded while not ``done``), the states found so far, the seconds since it started."""

    configuration: str
    level: int
    depth: int
    states: int
    transitions: int
    seconds: float
    done: bool = False
    exhausted: bool = False

    @classmethod
    def of(cls, report: Report) -> Progress:
        """The final progress of a finished check."""
        return cls(
            report.configuration,
            len(report.states_per_level) - 1,
            report.depth,
            report.states_explored,
            report.transitions,
            report.seconds,
            done=True,
            exhausted=report.exhausted,
        )


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class Report:
    """Result of one bounded model check of one configuration."""

    depth: int
    states_explored: int
    transitions: int
    violations: tuple[Violation, ...]
    advisories: tuple[Violation, ...] = ()  # properties not (yet) in the spec; they do not fail the check
    exhausted: bool = False  # the state space ended before the depth bound
    max_reconcile_cycles: int = 0  # most repairing cycles any reachable state needed to converge
    states_per_level: tuple[int, ...] = ()
    seconds: float = 0.0
    postures_visited: tuple[str, ...] = ()  # posture states reached (empty without posture.toml)
    configuration: str = "regular"  # regular orders (with the posture) or conditional orders
    k_cycles: int | None = None  # K of converges_within_k_cycles (None: convergence not checked)
    convergence: str = ""  # the invariant convergence violations are reported under

    @property
    def ok(self) -> bool:
        """True when no invariant was violated."""
        return not self.violations


def _model_checks(specs: Mapping[str, Spec]) -> dict[str, str]:
    """Every model-check checker the specs declare -> the invariant that declares it."""
    return {
        name: inv for spec in specs.values() for name, inv in spec.checkers.items() if ".model_check." in name
    }


def check(
    spec_dir: Path,
    depth: int | None = None,
    *,
    conditional: bool = False,
    progress: ProgressCallback | None = None,
) -> Report:
    """Explore every sequence of at most ``depth`` actions (default: the configuration's, which exhausts it)
    over the order spec in ``spec_dir``: regular orders composed with the posture spec (when
    ``posture.toml`` is there), or conditional orders (``conditional``). The checks run are the model-check
    checkers the specs declare; K of reconcile convergence is read from ``reconcile.toml`` (no convergence
    check without it). The first violation of each invariant comes with a shortest trace. ``progress``, when
    given, is told how far the exploration is (:class:`Progress`)."""
    if depth is None:
        depth = CONDITIONAL_DEPTH if conditional else DEFAULT_DEPTH
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    if not (spec_dir / "order.toml").is_file():
        raise SpecError(f"{spec_dir}: no order.toml (the order machine) to check")
    specs = load_specs(spec_dir)
    order = specs.get("order")
    if order is None:
        raise SpecError(f"{spec_dir}: order.toml does not declare the machine 'order'")
    declared = _model_checks(specs)
    k_cycles = None
    if _CONVERGES in declared and "reconcile" in specs:
        k_cycles = int(specs["reconcile"].constant("k_cycles"))
    convergence = declared.get(_CONVERGES, "")
    model = Model.of(order, declared, k_cycles=k_cycles, conditional=conditional)
    posture_spec = specs.get("posture")
    pm = None if conditional or posture_spec is None else PostureModel.of(posture_spec, declared)
    configuration = "conditional" if conditional else "regular"
    started = time.perf_counter()
    search = Search(model, pm, configuration, convergence, k_cycles)

    def tell(level: int) -> None:
        if progress is not None:
            seconds = time.perf_counter() - started
            progress(Progress(configuration, level, depth, len(search.parent), search.transitions, seconds))

    init = model.initial() if pm is None else pm.initial(model, model.initial())
    search.run(init, depth, tell if progress is not None else None, PROGRESS_INTERVAL)
    report = Report(
        depth=depth,
        states_explored=len(search.parent),
        transitions=search.transitions,
        violations=tuple(search.found.values()),
        advisories=tuple(search.advised.values()),
        exhausted=search.exhausted,
        max_reconcile_cycles=search.most_cycles,
        states_per_level=tuple(search.levels),
        seconds=time.perf_counter() - started,
        postures_visited=tuple(p for p in POSTURES if p in {ps[0] for ps in search.postures}),
        configuration=configuration,
        k_cycles=k_cycles,
        convergence=convergence,
    )
    if progress is not None:
        progress(Progress.of(report))
    return report


def check_all(
    spec_dir: Path,
    depth: int | None = None,
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[Report, ...]:
    """:func:`check` of every configuration (regular orders with the posture, then conditional orders), each
    to ``depth`` (default: its own). The configurations run in ``workers`` processes at once (default: one per
    configuration, at most one per CPU; 1 runs them here, one after the other, as does a platform where
    worker processes cannot start). ``progress`` receives every configuration's :class:`Progress`, in this
    process, ending with one ``done`` report per configuration."""
    jobs = [(spec_dir, depth, c == "conditional") for c in CONFIGURATIONS]
    n = min(len(jobs), os.cpu_count() or 1) if workers is None else workers
    if n > 1:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        events: Any = None
        try:
            if progress is not None:
                events = ctx.Queue()
            with ProcessPoolExecutor(
                max_workers=n, mp_context=ctx, initializer=_init_worker, initargs=(events,)
            ) as pool:
                futures = [pool.submit(_check_job, *job) for job in jobs]
                if progress is not None:
                    _relay(events, futures, progress)
                return tuple(f.result() for f in futures)
        except (OSError, BrokenProcessPool):
            pass  # no worker processes here: run them in this process
        finally:
            if events is not None:
                events.close()
    return tuple(check(s, d, conditional=c, progress=progress) for s, d, c in jobs)


_EVENTS: Any = None  # a worker process's progress queue (None: no progress wanted)


def _init_worker(events: Any) -> None:
    global _EVENTS
    _EVENTS = events
    if events is not None:
        events.cancel_join_thread()  # a worker never waits at exit for progress nobody reads any more


def _check_job(spec_dir: Path, depth: int | None, conditional: bool) -> Report:
    tell = None if _EVENTS is None else _EVENTS.put
    return check(spec_dir, depth, conditional=conditional, progress=tell)


def _relay(events: Any, futures: list[Future[Report]], progress: ProgressCallback) -> None:
    """Hand the workers' progress to ``progress`` until every future is done; a finished configuration's last
    word is its report's."""
    finished: set[str] = set()
    pending = dict(zip(CONFIGURATIONS, futures, strict=True))
    while pending:
        try:
            event: Progress | None = events.get(timeout=0.2)
        except queue.Empty:
            event = None
        if event is not None and not event.done and event.configuration not in finished:
            progress(event)
        for configuration, f in list(pending.items()):
            if f.done():
                del pending[configuration]
                finished.add(configuration)
                if f.exception() is None:
                    progress(Progress.of(f.result()))


def render_violation(v: Violation, kind: str = "VIOLATION") -> str:
    """The violation and its trace, one numbered step per line (the action, then the resulting state)."""
    where = " [conditional orders]" if v.configuration == "conditional" else ""
    lines = [f"{kind} {v.invariant}{where}: {v.detail}" if v.detail else f"{kind} {v.invariant}{where}"]
    for n, step in enumerate(v.trace):
        lines.append(f"  {n:>2}. {step.action}")
        lines.append(f"      => {render_world(step.state)}")
    return "\n".join(lines)


ADVISORY_NOTE = "(not promised by the spec: reported, not a failure)"


def render_advisory(v: Violation) -> str:
    """An advisory and its trace, labelled so that it never reads as a violation."""
    head, _, trace = render_violation(v, "advisory:").partition("\n")
    return f"{head} {ADVISORY_NOTE}" + (f"\n{trace}" if trace else "")


def render_report(report: Report) -> str:
    """The report as text: depth, states, transitions, time, then each violation with its trace."""
    bound = "state space exhausted" if report.exhausted else "bounded"
    what = "conditional orders" if report.configuration == "conditional" else "order"
    lines = [
        f"{what} model check: depth {report.depth} ({bound}), {report.states_explored:,} states, "
        f"{report.transitions:,} transitions, {report.seconds:.1f} s",
    ]
    if report.k_cycles is None:
        lines.append("reconcile: convergence not checked (no converges_within_k_cycles in the specs)")
    elif report.convergence in {v.invariant for v in report.violations}:
        lines.append(f"reconcile: does NOT converge within K={report.k_cycles} cycles from some state")
    else:
        n = report.max_reconcile_cycles
        lines.append(
            f"reconcile: every reachable state converges: at most {n} repairing cycle(s), then a clean one "
            f"({n + 1} <= K={report.k_cycles})"
        )
    if report.postures_visited:
        lines.append(f"posture: composed; postures visited: {', '.join(report.postures_visited)}")
    lines.extend(render_violation(v) for v in report.violations)
    lines.extend(render_advisory(v) for v in report.advisories)
    lines.append("result: OK" if report.ok else f"result: FAILED ({len(report.violations)} invariant(s))")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m eclipse.machines.modelcheck [--specs DIR] [--depth N] [--configuration C]``: print the
    report(s); 1 on a violation, 2 on a bad spec."""
    parser = argparse.ArgumentParser(prog="python -m eclipse.machines.modelcheck", description=__doc__)
    parser.add_argument("--specs", type=Path, default=None, help="the specs/ directory (default: found)")
    parser.add_argument(
        "--depth", type=int, default=None, help=f"default {DEFAULT_DEPTH} (conditional: {CONDITIONAL_DEPTH})"
    )
    parser.add_argument("--configuration", choices=(*CONFIGURATIONS, "all"), default="all")
    args = parser.parse_args(argv)
    try:
        spec_dir = args.specs or find_spec_dir()
        if args.configuration == "all":
            reports = check_all(spec_dir, args.depth)
        else:
            reports = (check(spec_dir, args.depth, conditional=args.configuration == "conditional"),)
    except (SpecError, ModelError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(render_report(r) for r in reports))
    return 0 if all(r.ok for r in reports) else 1
