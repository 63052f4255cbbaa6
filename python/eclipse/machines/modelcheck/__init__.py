"""Exhaustive bounded model check of the order lifecycle (``specs/order.toml``) under a faulty venue channel.

What is explored (the abstract state is in :mod:`~eclipse.machines.modelcheck.world`, the rules in
:mod:`~eclipse.machines.modelcheck.model`): one intent's orders, each driven by the order machine's table
compiled *from the spec*, next to an abstract venue holding the truth. Every sequence of at most ``depth``
actions is explored breadth first, so the first violation found of each invariant has a shortest trace:

* the bot: ``submit`` (the venue accepts, rejects, or never gets the request), ``cancel_request`` (the venue
  cancels; or fills the rest first and still confirms the cancel, the race behind the late-fill rows; or
  answers ``cancel_rejected`` for an order no longer open; or the request is lost), ``lookup`` (answered
  ``lookup_found`` / ``lookup_absent`` from the venue's truth), a ``transport_error`` on the request of an
  in-flight order, a resubmission (a new attempt for the unfilled rest, allowed only when every attempt is
  terminal: no live order, none unknown), and a reconcile cycle;
* the venue: fill one unit, cancel on its own, expire, reject after accepting (before any fill), shrink a
  reduce-only quantity, re-send an already sent trade id;
* the channel (a multiset of at most 3 reports): deliver any report (reordering), lose one, duplicate one.

Checked in every reachable state or transition, the spec's invariants: ``one_live_order_per_intent`` (at
most one attempt open at the venue), ``filled_qty_monotonic_and_bounded``, ``trade_id_applied_once``,
``terminal_states_absorb`` (a row leaving a terminal state must be a documented late ``fill`` or
``qty_reduced`` row into a terminal state: a late report is recorded, it never reopens an order),
``unknown_resolved_before_resubmit`` (no resubmission while an attempt is unknown or was made terminal by a
transport error) and ``transport_errors_never_definitive``; and the model's ``reconcile_converges``: from
every reachable state, once faults stop (the reports in flight delayed past the horizon, no new faults, the
venue still), at most K = 2 reconcile cycles make each attempt's belief (state, trade ids, open quantity)
equal the venue's truth. A report delivered later leads to another reachable state, checked the same way.
Advisories are properties the spec does not promise (yet); they are reported and do not fail the check.

Depth. Measured on the 2-core machine over the spec as of this writing (states: distinct abstract states
within the depth; one run per row)::

    depth    states  transitions   seconds
        4       315          643       0.0
        8     9,270       29,281       0.3
       10    45,790      165,470       1.9
       12   137,000      660,863       6.1
       14   218,103    1,352,816      15.8
       16   249,319    1,702,211      18.6
       20   254,197    1,806,479      18.4   (no new state at depth 21: the diameter is 20)
       24   254,197    1,806,511      17.0   exhausted

Growth is ~3x per level up to depth 12 and then saturates: the bounded abstraction (2 units, 2 attempts,
3 reports in flight) has ~254,000 reachable states, all within 20 actions. DEFAULT_DEPTH = 24 therefore
explores *every* reachable state (the report says "state space exhausted"), i.e. every interleaving of every
sequence of actions, not merely those of length <= D, in ~20 s, with 4 levels of margin for spec edits that
lengthen the longest path; when a change makes the space grow past the bound the report says "bounded".
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eclipse.machines.modelcheck.model import Model, ModelError
from eclipse.machines.modelcheck.world import RECONCILE_CYCLES, Fault, World, render_world
from eclipse.machines.spec import SpecError, find_spec_dir, load_spec

__all__ = [
    "DEFAULT_DEPTH",
    "ModelError",
    "Report",
    "Step",
    "Violation",
    "check",
    "main",
    "render_report",
    "render_violation",
]

DEFAULT_DEPTH = 24
"""Exhausts the reachable state space (diameter 20; see the module docstring for the measurement)."""

CONVERGENCE = "reconcile_converges"


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a trace: the action taken and the abstract state it led to."""

    action: str
    state: World


@dataclass(frozen=True, slots=True)
class Violation:
    """An invariant and its shortest counterexample (the first step is the initial state)."""

    invariant: str
    trace: tuple[Step, ...]
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    """Result of one bounded model check."""

    depth: int
    states_explored: int
    transitions: int
    violations: tuple[Violation, ...]
    advisories: tuple[Violation, ...] = ()  # properties not (yet) in the spec; they do not fail the check
    exhausted: bool = False  # the state space ended before the depth bound
    max_reconcile_cycles: int = 0  # most cycles any reachable state needed to converge
    states_per_level: tuple[int, ...] = ()
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no invariant was violated."""
        return not self.violations


def _trace(parent: dict[World, tuple[World | None, str]], w: World) -> list[Step]:
    steps: list[Step] = []
    cur: World | None = w
    while cur is not None:
        prev, action = parent[cur]
        steps.append(Step(action, cur))
        cur = prev
    steps.reverse()
    return steps


def check(spec_dir: Path, depth: int = DEFAULT_DEPTH) -> Report:
    """Explore every sequence of at most ``depth`` actions over the order spec in ``spec_dir``; the first
    violation of each invariant comes with a shortest trace."""
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    path = spec_dir / "order.toml"
    if not path.is_file():
        raise SpecError(f"{spec_dir}: no order.toml (the order machine) to check")
    model = Model.of(load_spec(path))
    started = time.perf_counter()
    found: dict[str, Violation] = {}
    advised: dict[str, Violation] = {}
    init = model.initial()
    parent: dict[World, tuple[World | None, str]] = {init: (None, "initial")}
    most_cycles = 0

    def judge(w: World) -> None:
        nonlocal most_cycles
        for f in model.state_faults(w):
            if f.invariant not in found:
                found[f.invariant] = Violation(f.invariant, tuple(_trace(parent, w)), f.detail)
        for f in model.advisories(w):
            if f.invariant not in advised:
                advised[f.invariant] = Violation(f.invariant, tuple(_trace(parent, w)), f.detail)
        cycles, steps = model.converge(w)
        if cycles is None:
            if CONVERGENCE not in found:
                trace = (*_trace(parent, w), *(Step(a, s) for a, s in steps))
                detail = (
                    f"belief still differs from the venue's truth after {RECONCILE_CYCLES} reconcile cycles"
                )
                found[CONVERGENCE] = Violation(CONVERGENCE, trace, detail)
        else:
            most_cycles = max(most_cycles, cycles)

    def record(f: Fault, w: World, action: str, nxt: World) -> None:
        if f.invariant not in found:
            trace = (*_trace(parent, w), Step(action, nxt))
            found[f.invariant] = Violation(f.invariant, trace, f.detail)

    judge(init)
    frontier = [init]
    levels = [1]
    transitions = 0
    exhausted = False
    for _ in range(depth):
        nxt: list[World] = []
        for w in frontier:
            for s in model.successors(w):
                transitions += 1
                for f in s.faults:
                    record(f, w, s.action, s.world)
                if s.world not in parent:
                    parent[s.world] = (w, s.action)
                    judge(s.world)
                    nxt.append(s.world)
        frontier = nxt
        if not nxt:
            exhausted = True
            break
        levels.append(len(nxt))
    return Report(
        depth=depth,
        states_explored=len(parent),
        transitions=transitions,
        violations=tuple(found.values()),
        advisories=tuple(advised.values()),
        exhausted=exhausted,
        max_reconcile_cycles=most_cycles,
        states_per_level=tuple(levels),
        seconds=time.perf_counter() - started,
    )


def render_violation(v: Violation, kind: str = "VIOLATION") -> str:
    """The violation and its trace, one numbered step per line (the action, then the resulting state)."""
    lines = [f"{kind} {v.invariant}: {v.detail}" if v.detail else f"{kind} {v.invariant}"]
    for n, step in enumerate(v.trace):
        lines.append(f"  {n:>2}. {step.action}")
        lines.append(f"      => {render_world(step.state)}")
    return "\n".join(lines)


def render_report(report: Report) -> str:
    """The report as text: depth, states, transitions, time, then each violation with its trace."""
    bound = "state space exhausted" if report.exhausted else "bounded"
    lines = [
        f"order model check: depth {report.depth} ({bound}), {report.states_explored:,} states, "
        f"{report.transitions:,} transitions, {report.seconds:.1f} s",
        f"reconcile: every reachable state converges within {report.max_reconcile_cycles} cycle(s) "
        f"(bound {RECONCILE_CYCLES})"
        if CONVERGENCE not in {v.invariant for v in report.violations}
        else f"reconcile: does NOT converge within {RECONCILE_CYCLES} cycles from some state",
    ]
    lines.extend(render_violation(v) for v in report.violations)
    lines.extend(render_violation(v, "ADVISORY (not in the spec, does not fail)") for v in report.advisories)
    lines.append("result: OK" if report.ok else f"result: FAILED ({len(report.violations)} invariant(s))")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m eclipse.machines.modelcheck [--specs DIR] [--depth N]``: print the report; 1 on a
    violation, 2 on a bad spec."""
    parser = argparse.ArgumentParser(prog="python -m eclipse.machines.modelcheck", description=__doc__)
    parser.add_argument("--specs", type=Path, default=None, help="the specs/ directory (default: found)")
    parser.add_argument("--depth", type=int, default=DEFAULT_DEPTH, help=f"default {DEFAULT_DEPTH}")
    args = parser.parse_args(argv)
    try:
        report = check(args.specs or find_spec_dir(), args.depth)
    except (SpecError, ModelError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render_report(report))
    return 0 if report.ok else 1
