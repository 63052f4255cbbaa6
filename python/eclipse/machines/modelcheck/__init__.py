"""Exhaustive bounded model check of the order lifecycle (``specs/order.toml``) under a faulty venue channel,
composed with the risk posture (``specs/posture.toml``).

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

Posture. When ``posture.toml`` is in the spec directory, the risk posture machine compiled from it is composed
in (:mod:`~eclipse.machines.modelcheck.posture`): an abstract belief debt (open contradictions in the world)
drives the posture as ``PostureController`` does, a ``time passes`` action counts calm and warmup ticks, and
its invariants ``never_blocks_exits_or_protection``, ``escalation_immediate``, ``no_flapping`` and
``warmup_before_normal`` are checked in every reachable state or transition. The report names the postures
visited. The order invariants and convergence ignore the posture, so each order part is judged once.

Depth. Measured on the 2-core machine over the specs as of this writing (states: distinct abstract states
within the depth; the order machine alone had 254,197 states, diameter 20, ~18 s)::

    depth    states (order x posture)
        4       360
        8    14,870
       12   256,607
       16   707,493
       20   779,473
       22   779,763   (no new state at depth 23: the diameter is 22)
       24   779,763   exhausted, 5,921,517 transitions, 57 s

The posture part multiplies the order part by ~3 (posture, calm ticks 0..H-1, warmup ticks), so the whole
reachable space (~780,000 states, all within 22 actions) is explored by DEFAULT_DEPTH = 24 in just under a
minute (each order part's successors are computed once and reused for every posture part it meets); lowering
the depth would not help much (most states lie at depths 12-18). When a change makes the space grow past the
bound the report says "bounded" instead of "state space exhausted".
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eclipse.machines.modelcheck.model import Model, ModelError
from eclipse.machines.modelcheck.posture import POSTURES, PostureModel
from eclipse.machines.modelcheck.world import RECONCILE_CYCLES, Fault, Successor, World, render_world
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
"""Exhausts the reachable state space (diameter 22 with the posture; see the module docstring)."""

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
    postures_visited: tuple[str, ...] = ()  # posture states reached (empty without posture.toml)

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


def _cancels(succ: list[Successor]) -> frozenset[int]:
    """The attempts (0-based) a ``cancel_request`` is offered for among ``succ``."""
    return frozenset(int(s.action[8:].split(" ", 1)[0]) - 1 for s in succ if s.action.startswith("cancel #"))


def check(spec_dir: Path, depth: int = DEFAULT_DEPTH) -> Report:
    """Explore every sequence of at most ``depth`` actions over the order spec in ``spec_dir`` composed with
    its posture spec (when ``posture.toml`` is there); the first violation of each invariant comes with a
    shortest trace."""
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    path = spec_dir / "order.toml"
    if not path.is_file():
        raise SpecError(f"{spec_dir}: no order.toml (the order machine) to check")
    model = Model.of(load_spec(path))
    posture_path = spec_dir / "posture.toml"
    pm = PostureModel.of(load_spec(posture_path)) if posture_path.is_file() else None
    started = time.perf_counter()
    found: dict[str, Violation] = {}
    advised: dict[str, Violation] = {}
    init = model.initial() if pm is None else pm.initial(model, model.initial())
    parent: dict[World, tuple[World | None, str]] = {init: (None, "initial")}
    judged: set[World] = set()  # order parts already judged (the order invariants ignore the posture)
    most_cycles = 0

    def judge(w: World) -> None:
        nonlocal most_cycles
        bare = w.orders
        if bare in judged:
            return
        judged.add(bare)
        for f in model.state_faults(bare):
            record(f, w)
        for f in model.advisories(bare):
            if f.invariant not in advised:
                advised[f.invariant] = Violation(f.invariant, tuple(_trace(parent, w)), f.detail)
        cycles, steps = model.converge(bare)
        if cycles is None:
            if CONVERGENCE not in found:
                trace = (*_trace(parent, w), *(Step(a, s) for a, s in steps))
                detail = (
                    f"belief still differs from the venue's truth after {RECONCILE_CYCLES} reconcile cycles"
                )
                found[CONVERGENCE] = Violation(CONVERGENCE, trace, detail)
        else:
            most_cycles = max(most_cycles, cycles)

    def record(f: Fault, w: World, action: str = "", nxt: World | None = None) -> None:
        if f.invariant not in found:
            trace = _trace(parent, w) if nxt is None else (*_trace(parent, w), Step(action, nxt))
            found[f.invariant] = Violation(f.invariant, tuple(trace), f.detail)

    transitions = 0

    def visit(w: World, action: str, nxt: World, faults: tuple[Fault, ...]) -> bool:
        nonlocal transitions
        transitions += 1
        for f in faults:
            record(f, w, action, nxt)
        if nxt in parent:
            return False
        parent[nxt] = (w, action)
        judge(nxt)
        return True

    judge(init)
    # the hot path's view of ``parent``: (id of the order part, posture state, calm, warm) of each world seen
    ids: dict[World, int] = {init.orders: 0}
    seen = {(0, init.posture, init.calm, init.warm)}
    expansions: dict[
        tuple[World, bool], tuple[frozenset[int], int, list[tuple[Successor, int, int]], bool]
    ] = {}
    gates: dict[str, bool] = {}
    frontier = [init]
    levels = [1]
    visited: set[str] = {init.posture} if pm else set()
    exhausted = False
    for _ in range(depth):
        nxt: list[World] = []
        groups: dict[tuple[World, bool], list[World]] = {}
        for w in frontier:
            gate = gates.get(w.posture)
            if gate is None:
                gate = gates[w.posture] = pm is None or pm.exits_allowed(w.posture)
            groups.setdefault((w.orders, gate), []).append(w)
        for (bare, exits), members in groups.items():
            if pm is None:
                succ = model.successors(bare, exits)
                nxt.extend(s.world for s in succ if visit(bare, s.action, s.world, s.faults))
                continue
            cached = expansions.get((bare, exits))
            if cached is None:  # an order part reached again at a later level (with another posture part)
                succ = model.successors(bare, exits)
                cancels = _cancels(succ)
                cached = expansions[bare, exits] = (
                    cancels,
                    pm.debt(model, bare),
                    [(s, pm.debt(model, s.world), ids.setdefault(s.world, len(ids))) for s in succ],
                    any(i not in cancels for i in model.live(bare)),
                )
            cancels, debt, moves, blocked = cached
            for w in members:
                ps = (w.posture, w.calm, w.warm)
                for f in (
                    pm.state_faults(model, w, debt, cancels) if blocked else pm.escalation_faults(ps[0], debt)
                ):
                    record(f, w)
                for s, d, sid in moves:
                    (p, calm, warm), faults, log = pm.update(ps, d, False)
                    key = (sid, p, calm, warm)
                    if key in seen and not faults and not s.faults:
                        transitions += 1  # the hot path: a known state, nothing broken, nothing to build
                        continue
                    seen.add(key)
                    after = World(s.world.attempts, s.world.channel, p, calm, warm)
                    label = f"{s.action}; {'; '.join(log)}" if log else s.action
                    if visit(w, label, after, (*s.faults, *faults)):
                        nxt.append(after)
                (p, calm, warm), faults, log = pm.update(ps, debt, True)
                if (p, calm, warm) != ps or faults:
                    seen.add((ids[bare], p, calm, warm))
                    after = World(w.attempts, w.channel, p, calm, warm)
                    label = f"time passes (debt {debt}): " + ("; ".join(log) or f"calm {calm}, warmup {warm}")
                    if visit(w, label, after, faults):
                        nxt.append(after)
        visited.update(w.posture for w in nxt if w.posture)
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
        postures_visited=tuple(p for p in POSTURES if p in visited),
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
    if report.postures_visited:
        lines.append(f"posture: composed; postures visited: {', '.join(report.postures_visited)}")
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
