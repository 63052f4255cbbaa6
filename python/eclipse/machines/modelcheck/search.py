"""The breadth-first search of the model check over interned states.

A state of the search is one int: ``part * slots + posture``, where ``part`` numbers the order part of the
world (the attempts and the reports in flight, a :class:`~eclipse.machines.modelcheck.world.World` with empty
posture fields, interned once in :attr:`Search.parts`) and ``posture`` numbers the posture part (state, calm
ticks, warmup ticks; always 0 without the posture) and ``slots`` is how many posture parts there can be. The
search remembers every state it reached as ``parent[state] = (previous state, action)``; the hot path (a
successor already known, nothing broken) costs one dict lookup of an int and builds nothing. Worlds are
rebuilt from the two numbers only for a trace.

The successors of an order part are computed once per posture gate and reused for every posture part it meets
(the posture does not change what the order part can do, except the gate on ``cancel_request``); the order
invariants and convergence are judged once per distinct attempts (they read nothing else), at the first
world that has them, so the first violation of each invariant keeps a shortest trace.

Exploration order, and so every count and trace, is deterministic: levels in order, within a level the order
parts in the order the previous level reached them, the postures in that order, the successors in the
model's order.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eclipse.machines.modelcheck.model import Model
from eclipse.machines.modelcheck.posture import HYSTERESIS, WARMUP, PostureModel, PostureState
from eclipse.machines.modelcheck.world import Attempt, Fault, Successor, World

__all__ = ["Search", "Step", "Violation"]

_GROUPS_PER_CLOCK_READ = 512  # frontier groups expanded between two looks at the timer


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
    configuration: str = "regular"


Expansion = tuple[frozenset[int], int, list[tuple[Successor, int, int]], bool]
"""An order part's successors under one gate: the attempts offered a cancel, the debt, each successor with its
debt and its state number at posture 0, and whether the gate withheld a cancel of a live attempt."""


@dataclass
class Search:
    """One run of the model check: ``model`` (the order rules), ``pm`` (the posture composed, or None),
    ``convergence`` (the invariant convergence failures are reported under; "" when not checked)."""

    model: Model
    pm: PostureModel | None
    configuration: str
    convergence: str
    k_cycles: int | None
    found: dict[str, Violation] = field(default_factory=dict)
    advised: dict[str, Violation] = field(default_factory=dict)
    parts: list[World] = field(default_factory=list)  # order part number -> the order part
    part_ids: dict[World, int] = field(default_factory=dict)
    debts: list[int] = field(default_factory=list)  # order part number -> abstract debt (with the posture)
    postures: list[PostureState] = field(default_factory=list)  # posture number -> (state, calm, warm)
    posture_ids: dict[PostureState, int] = field(default_factory=dict)
    gates: list[bool] = field(default_factory=list)  # posture number -> the bot may cancel (exit, protect)
    # posture number -> debt -> the posture's update when an order move leads to that debt (no time passing):
    # what it broke and logged (updates), the posture number after it (shifts); the debts whose update breaks
    # something (loud)
    updates: list[dict[int, tuple[tuple[Fault, ...], tuple[str, ...]]]] = field(default_factory=list)
    shifts: list[dict[int, int]] = field(default_factory=list)
    loud: list[set[int]] = field(default_factory=list)
    parent: dict[int, tuple[int, str]] = field(default_factory=dict)
    judged: set[tuple[Attempt, ...]] = field(default_factory=set)
    levels: list[int] = field(default_factory=list)
    transitions: int = 0
    most_cycles: int = 0
    exhausted: bool = False
    slots: int = field(init=False)  # posture parts there can be: states x calm ticks x warmup ticks

    def __post_init__(self) -> None:
        self.slots = 1 if self.pm is None else len(self.pm.spec.states) * (HYSTERESIS + 1) * (WARMUP + 1)

    # --- interning --------------------------------------------------------------------------------------
    def part(self, w: World) -> int:
        """The number of order part ``w`` (numbered on first sight)."""
        n = self.part_ids.get(w)
        if n is None:
            n = self.part_ids[w] = len(self.parts)
            self.parts.append(w)
            if self.pm is not None:
                self.debts.append(self.pm.debt(self.model, w))
        return n

    def posture(self, ps: PostureState) -> int:
        """The number of posture part ``ps`` (numbered on first sight)."""
        n = self.posture_ids.get(ps)
        if n is None:
            n = self.posture_ids[ps] = len(self.postures)
            if n >= self.slots:  # pragma: no cover - calm <= HYSTERESIS, warm <= WARMUP
                raise RuntimeError(f"more than {self.slots} posture parts")
            self.postures.append(ps)
            self.gates.append(self.pm is None or self.pm.exits_allowed(ps[0]))
            self.updates.append({})
            self.shifts.append({})
            self.loud.append(set())
        return n

    def world(self, state: int) -> World:
        """The world of state number ``state``."""
        part, posture = divmod(state, self.slots)
        w = self.parts[part]
        p, calm, warm = self.postures[posture]
        return World(w.attempts, w.channel, p, calm, warm) if p else w

    def trace(self, state: int) -> list[Step]:
        """The steps from the initial state to ``state``."""
        steps: list[Step] = []
        while state >= 0:
            prev, action = self.parent[state]
            steps.append(Step(action, self.world(state)))
            state = prev
        steps.reverse()
        return steps

    # --- judging ----------------------------------------------------------------------------------------
    def record(self, f: Fault, state: int, action: str = "", nxt: int | None = None) -> None:
        """Keep ``f`` unless its invariant already has a (shorter or equal) counterexample."""
        if f.invariant not in self.found:
            steps = self.trace(state)
            if nxt is not None:
                steps.append(Step(action, self.world(nxt)))
            self.found[f.invariant] = Violation(f.invariant, tuple(steps), f.detail, self.configuration)

    def judge(self, state: int) -> None:
        """The order invariants, advisories and convergence of a new state's attempts (once per attempts)."""
        bare = self.parts[state // self.slots]
        if bare.attempts in self.judged:
            return
        self.judged.add(bare.attempts)
        model, found = self.model, self.found
        for f in model.state_faults(bare):
            self.record(f, state)
        for f in model.advisories(bare):
            if f.invariant not in self.advised:
                trace = tuple(self.trace(state))
                self.advised[f.invariant] = Violation(f.invariant, trace, f.detail, self.configuration)
        cycles, steps = model.converge(bare)
        if cycles is None:
            if self.convergence not in found:
                trace = (*self.trace(state), *(Step(a, s) for a, s in steps))
                detail = (
                    f"belief still differs from the venue's truth after {max(0, (self.k_cycles or 0) - 1)} "
                    f"repairing reconcile cycle(s): no clean diff within K={self.k_cycles} cycles"
                )
                found[self.convergence] = Violation(self.convergence, trace, detail, self.configuration)
        else:
            self.most_cycles = max(self.most_cycles, cycles)
        settled = None if self.k_cycles is None else (steps[-1][1] if steps else bare)
        for f in model.settled_faults(bare, settled):
            if f.invariant not in found:
                trace = (*self.trace(state), *(Step(a, s) for a, s in steps))
                found[f.invariant] = Violation(f.invariant, trace, f.detail, self.configuration)

    def visit(self, state: int, action: str | Successor, nxt: int, faults: tuple[Fault, ...]) -> bool:
        """One transition from ``state`` to ``nxt``: record what it broke; True when ``nxt`` is new."""
        self.transitions += 1
        if faults:
            label = action if isinstance(action, str) else action.label
            for f in faults:
                self.record(f, state, label, nxt)
        if nxt in self.parent:
            return False
        self.parent[nxt] = (state, action if isinstance(action, str) else action.label)
        self.judge(nxt)
        return True

    # --- the search -------------------------------------------------------------------------------------
    def run(
        self, init: World, depth: int, tell: Callable[[int], None] | None = None, interval: float = 1.0
    ) -> None:
        """Explore from ``init`` to ``depth`` actions (or until no new state); ``tell(level)`` is called after
        each level and about every ``interval`` seconds within one."""
        collecting = gc.isenabled()
        gc.disable()  # millions of tuples live to the end: the cyclic collector would rescan them all, often
        try:
            self._run(init, depth, tell, interval)
        finally:
            if collecting:
                gc.enable()

    def _run(self, init: World, depth: int, tell: Callable[[int], None] | None, interval: float) -> None:
        start = self.part(init.orders) * self.slots + self.posture((init.posture, init.calm, init.warm))
        self.parent[start] = (-1, "initial")
        self.judge(start)
        frontier = [start]
        self.levels = [1]
        expansions: dict[int, Expansion] = {}
        if tell is not None:
            tell(0)
        for level in range(1, depth + 1):
            nxt = self.expand_level(frontier, level, expansions, tell, interval)
            frontier = nxt
            if not nxt:
                self.exhausted = True
                break
            self.levels.append(len(nxt))
            if tell is not None:
                tell(level)

    def expand_level(
        self,
        frontier: list[int],
        level: int,
        expansions: dict[int, Expansion],
        tell: Callable[[int], None] | None,
        interval: float = 1.0,
    ) -> list[int]:
        """The new states one action away from ``frontier`` (in a deterministic order)."""
        pm, model, parts, gates = self.pm, self.model, self.parts, self.gates
        groups: dict[int, list[int]] = {}  # (order part, gate) -> the posture parts it has in the frontier
        for state in frontier:
            part, posture = divmod(state, self.slots)
            groups.setdefault(part * 2 + gates[posture], []).append(posture)
        nxt: list[int] = []
        last = time.perf_counter()
        for n, (group, members) in enumerate(groups.items(), 1):
            if (
                tell is not None
                and n % _GROUPS_PER_CLOCK_READ == 0
                and time.perf_counter() - last >= interval
            ):
                tell(level)
                last = time.perf_counter()
            part, exits = divmod(group, 2)
            bare = parts[part]
            if pm is None:
                state = part * self.slots
                for s in model.successors(bare, bool(exits)):
                    after = self.part(s.world) * self.slots
                    if self.visit(state, s, after, s.faults):
                        nxt.append(after)
                continue
            cached = expansions.get(group)
            if cached is None:  # an order part reached again at a later level (with another posture part)
                succ = model.successors(bare, bool(exits))
                cancels = cancels_in(succ)
                moves = []
                for s in succ:
                    m = self.part(s.world)
                    moves.append((s, self.debts[m], m * self.slots))
                blocked = any(i not in cancels for i in model.live(bare))
                cached = expansions[group] = (cancels, self.debts[part], moves, blocked)
            self.expand_postures(part, members, cached, nxt)
        return nxt

    def expand_postures(self, part: int, members: list[int], cached: Expansion, nxt: list[int]) -> None:
        """The successors of order part ``part`` with each of the posture parts ``members``: each move of the
        order part then the posture's update for the debt it leads to (no time passing); time passing."""
        pm, parent = self.pm, self.parent
        assert pm is not None
        cancels, debt, moves, blocked = cached
        debts = {d for _, d, _ in moves}
        for posture in members:
            state = part * self.slots + posture
            ps = self.postures[posture]
            if blocked:
                for f in pm.state_faults(self.model, self.world(state), debt, cancels):
                    self.record(f, state)
            else:
                for f in pm.escalation_faults(ps[0], debt):
                    self.record(f, state)
            updates, shift, loud = self.updates[posture], self.shifts[posture], self.loud[posture]
            for d in debts - shift.keys():
                after_ps, pf, plog = pm.update(ps, d, False)
                updates[d] = (pf, plog)
                shift[d] = self.posture(after_ps)
                if pf:
                    loud.add(d)
            # the hot path, a known state where nothing is broken, costs one lookup and builds nothing
            fresh = [
                (s, d, after)
                for s, d, base in moves
                if (after := base + shift[d]) not in parent or d in loud or s.faults
            ]
            self.transitions += len(moves) - len(fresh)
            for s, d, after in fresh:
                faults, log = updates[d]
                label = f"{s.label}; {'; '.join(log)}" if log else s.label
                if self.visit(state, label, after, (*s.faults, *faults)):
                    nxt.append(after)
            (p, calm, warm), faults, log = pm.update(ps, debt, True)
            if (p, calm, warm) != ps or faults:
                after = part * self.slots + self.posture((p, calm, warm))
                label = f"time passes (debt {debt}): " + ("; ".join(log) or f"calm {calm}, warmup {warm}")
                if self.visit(state, label, after, faults):
                    nxt.append(after)


def cancels_in(succ: list[Successor]) -> frozenset[int]:
    """The attempts (0-based) a ``cancel_request`` is offered for among ``succ``."""
    return frozenset(int(s.action[8:].split(" ", 1)[0]) - 1 for s in succ if s.action.startswith("cancel #"))
