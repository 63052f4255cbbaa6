"""The risk posture machine (``specs/posture.toml``) composed with the order model: abstract belief debt, the
controller's rules over abstract ticks, and the posture invariants the model check verifies.

* Abstract debt: the open contradictions visible in a world, per attempt: its outcome is ``unknown``; its
  belief names another state than the venue's truth (an order with a request in flight is not counted: it
  waits for an answer); its applied trade ids differ from the units the venue filled.
* Target level, with tiny thresholds so that every posture is reachable: YELLOW at debt >= 1, ORANGE at >= 2,
  RED at >= 3 (:data:`DEBT_LEVELS`).
* The controller (:meth:`PostureModel.update` mirrors ``PostureController.update``): after every action the
  posture is updated without time passing (escalation at once, possibly skipping levels; a target equal to
  the posture resets the calm count); the ``time passes`` action is an update one abstract tick later: a calm
  tick (target below the posture) is counted, and after :data:`HYSTERESIS` calm ticks ``relax`` (or
  ``release`` out of RED_LOCK) fires and the count restarts; in POST_RED_WARMUP a tick is counted toward
  :data:`WARMUP`, then ``warmup_done`` lands on the target level; a RED target there relapses (``escalate``).
  Every event goes through the table compiled from the spec (first row whose guard holds wins), so a broken
  posture spec is what gets explored. The RED_LOCK critical streak is not modelled.

Invariants (the spec's names), each checked by a registered checker (:mod:`eclipse.machines.checkers`) when
the spec declares it: ``never_blocks_exits_or_protection`` (whatever the posture, the model offers
``cancel_request`` on every attempt whose state has such a row), ``escalation_immediate`` (after every step
the posture's knobs are at least as strict as the target's: RED_LOCK whenever debt >= RED), ``no_flapping``
(a step down is ``step_down_levels`` level(s), and only on a tick that completes a window of
:data:`HYSTERESIS` calm ticks) and ``warmup_before_normal`` (RED_LOCK leaves only to POST_RED_WARMUP, which
reaches a normal level only after :data:`WARMUP` ticks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from eclipse.machines.checkers import register
from eclipse.machines.modelcheck.model import Model, ModelError
from eclipse.machines.modelcheck.world import UNKNOWN, V_NONE, V_OPEN, Attempt, Fault, World
from eclipse.machines.posture import KNOBS, Posture
from eclipse.machines.spec import Spec
from eclipse.machines.table import CompiledMachine, compile_spec

__all__ = [
    "DEBT_LEVELS",
    "HYSTERESIS",
    "POSTURES",
    "WARMUP",
    "PostureModel",
    "PostureState",
    "cancels_offered",
    "escalation_step",
    "flapping_step",
    "warmup_step",
]

GREEN, YELLOW, ORANGE, RED, WARMUP_STATE = "green", "yellow", "orange", "red_lock", "post_red_warmup"
POSTURES: Final = (GREEN, YELLOW, ORANGE, RED, WARMUP_STATE)
"""The posture states the model needs (``PostureModel.of`` checks the spec has exactly these)."""
RANK: Final[Mapping[str, int]] = MappingProxyType({GREEN: 0, YELLOW: 1, ORANGE: 2, RED: 3})
"""Order of the normal levels and RED_LOCK (POST_RED_WARMUP is a recovery stage between RED and the rest)."""
DEBT_LEVELS: Final = ((3, RED), (2, ORANGE), (1, YELLOW))
"""Abstract thresholds, highest first: the target is the first level whose debt threshold is reached."""
HYSTERESIS: Final = 2
"""H: calm ticks before a step down."""
WARMUP: Final = 1
"""Ticks in POST_RED_WARMUP before ``warmup_done``."""
_GUARDS: Final[Mapping[str, str]] = MappingProxyType(
    {"to_green": GREEN, "to_yellow": YELLOW, "to_orange": ORANGE, "to_red": RED}
)
_EVENTS: Final = frozenset({"escalate", "relax", "release", "warmup_done"})


def target_of(debt: int) -> str:
    """The level the abstract debt calls for."""
    for threshold, level in DEBT_LEVELS:
        if debt >= threshold:
            return level
    return GREEN


PostureState = tuple[str, int, int]
"""The posture part of a world: (state, calm ticks, warmup ticks)."""
Update = tuple[PostureState, tuple[Fault, ...], tuple[str, ...]]
"""What one controller update does: the next posture state, the invariants broken, the log."""


@dataclass(frozen=True, slots=True)
class PostureModel:
    """The posture machine compiled from ``spec``, driven over abstract debt and ticks. ``checks`` maps the
    model-check checkers the specs declare to their invariants (a check not declared is not run); ``step``
    is the spec's ``step_down_levels``."""

    spec: Spec
    machine: CompiledMachine
    checks: Mapping[str, str] = field(default_factory=dict)
    step: int = 1
    memo: dict[tuple[PostureState, int, bool], Update] = field(
        default_factory=dict, compare=False, repr=False
    )
    strict: dict[tuple[str, int], tuple[Fault, ...]] = field(default_factory=dict, compare=False, repr=False)
    owed: dict[Attempt, int] = field(default_factory=dict, compare=False, repr=False)  # contradictions memo

    @classmethod
    def of(cls, spec: Spec, checks: Mapping[str, str] | None = None) -> PostureModel:
        """The model of the posture spec; ModelError when its states, events or guards are not the model's.
        ``checks`` defaults to the model-check checkers ``spec`` declares."""
        where = spec.path or spec.name
        if set(spec.states) != set(POSTURES):
            raise ModelError(f"{where}: the model check needs exactly the posture states {list(POSTURES)}")
        guards = sorted(set(spec.guards) - set(_GUARDS))
        events = sorted(set(spec.events) - _EVENTS)
        if guards or events:
            raise ModelError(f"{where}: the model check cannot drive guards {guards} / events {events}")
        declared = dict(spec.checkers) if checks is None else dict(checks)
        step = 1
        if "posture.model_check.no_flapping" in declared:
            step = int(spec.constant("step_down_levels"))
        return cls(spec, compile_spec(spec), declared, step)

    def initial(self, model: Model, w: World) -> World:
        """``w`` with the posture at the machine's initial state, brought up to date with its debt."""
        (p, calm, warm), _, _ = self.update((self.machine.initial, 0, 0), self.debt(model, w), False)
        return World(w.attempts, w.channel, p, calm, warm)

    # --- abstract debt --------------------------------------------------------------------------------------
    @staticmethod
    def contradictions(model: Model, a: Attempt) -> int:
        """Open contradictions of one attempt: unknown outcome, state disagreement, fill disagreement."""
        if a.local == UNKNOWN:
            n = 1
        elif a.local in model.machine.in_flight:
            n = 0
        elif a.venue == V_NONE:
            n = int(a.local not in (model.machine.initial, "absent"))
        elif a.venue == V_OPEN:
            n = int(a.local != ("accepted" if a.vfilled == 0 else "partially_filled"))
        else:
            n = int(a.local != a.venue)
        return n + int(a.applied != tuple(range(1, a.vfilled + 1)))

    def debt(self, model: Model, w: World) -> int:
        """The abstract belief debt of ``w``: its open contradictions."""
        owed = self.owed
        total = 0
        for a in w.attempts:
            n = owed.get(a)
            if n is None:
                n = owed[a] = self.contradictions(model, a)
            total += n
        return total

    # --- the controller -------------------------------------------------------------------------------------
    def update(self, ps: PostureState, debt: int, tick: bool) -> Update:
        """One controller update of the posture state ``ps`` for ``debt`` (``tick``: one abstract tick passed
        since the previous update), firing at most one event: the next posture state, the transition
        invariants the taken row breaks and what happened. Memoized (the inputs are few)."""
        key = (ps, debt, tick)
        hit = self.memo.get(key)
        if hit is None:
            faults: list[Fault] = []
            log: list[str] = []
            nxt = self._update(ps, target_of(debt), debt, tick, faults, log)
            hit = self.memo[key] = (nxt, tuple(faults), tuple(log))
        return hit

    def _update(
        self, ps: PostureState, want: str, debt: int, tick: bool, faults: list[Fault], log: list[str]
    ) -> PostureState:
        p, calm, warm = ps
        if p == WARMUP_STATE:
            if want == RED:
                return self._fire(ps, "escalate", want, debt, tick, faults, log)
            if tick:
                warm = min(warm + 1, WARMUP)
                if warm >= WARMUP:
                    return self._fire((p, calm, warm), "warmup_done", want, debt, tick, faults, log)
            return (p, calm, warm)
        if RANK[want] > RANK[p]:
            return self._fire(ps, "escalate", want, debt, tick, faults, log)
        if RANK[want] == RANK[p]:
            return (p, 0, warm)
        if tick:
            calm = min(calm + 1, HYSTERESIS)
            if calm >= HYSTERESIS:
                event = "release" if p == RED else "relax"
                return self._fire((p, calm, warm), event, want, debt, tick, faults, log)
        return (p, calm, warm)

    def _fire(
        self,
        ps: PostureState,
        event: str,
        want: str,
        debt: int,
        tick: bool,
        faults: list[Fault],
        log: list[str],
    ) -> PostureState:
        for row in self.machine.rows_for.get((ps[0], event), ()):
            if row.guard is None or _GUARDS[row.guard] == want:
                log.append(f"posture {event} (debt {debt}): {ps[0]} -> {row.target}")
                inv = self.checks.get("posture.model_check.warmup_before_normal")
                if inv is not None:
                    faults.extend(Fault(inv, d) for d in warmup_step(ps, row.target))
                inv = self.checks.get("posture.model_check.no_flapping")
                if inv is not None:
                    faults.extend(Fault(inv, d) for d in flapping_step(ps, row.target, tick, self.step))
                return (row.target, 0, 0)
        log.append(f"posture {event} (debt {debt}) refused in {ps[0]}")
        return ps

    # --- invariants of one world ----------------------------------------------------------------------------
    def state_faults(self, model: Model, w: World, debt: int, cancels: frozenset[int]) -> list[Fault]:
        """The posture invariants of one world; ``cancels`` are the attempts (0-based) the model offered a
        ``cancel_request`` for in it."""
        out = list(self.escalation_faults(w.posture, debt))
        inv = self.checks.get("posture.model_check.never_blocks_exits_or_protection")
        if inv is not None:
            out.extend(Fault(inv, d) for d in cancels_offered(model, w, cancels))
        return out

    def escalation_faults(self, posture: str, debt: int) -> tuple[Fault, ...]:
        """``escalation_immediate`` in a world with ``posture`` and ``debt`` (memoized)."""
        key = (posture, debt)
        hit = self.strict.get(key)
        if hit is None:
            inv = self.checks.get("posture.model_check.escalation_immediate")
            hit = () if inv is None else tuple(Fault(inv, d) for d in escalation_step(posture, debt))
            self.strict[key] = hit
        return hit

    @staticmethod
    def exits_allowed(posture: str) -> bool:
        """The gate the model's bot consults before an exit or protective command."""
        return KNOBS[Posture.of_state(posture)].exits_allowed


@register("posture.model_check.never_blocks_exits_or_protection")
def cancels_offered(model: Model, w: World, cancels: frozenset[int]) -> list[str]:
    """never_blocks_exits_or_protection: in ``w``'s posture the model offered ``cancel_request`` (the exit
    and protection command) for every live attempt whose state has such a row (``cancels``: those offered)."""
    rows = model.machine.rows_for
    return [
        f"#{i + 1} in {a.local}: no cancel_request offered in posture {w.posture}"
        for i, a in enumerate(w.attempts)
        if a.local not in model.machine.terminal and (a.local, "cancel_request") in rows and i not in cancels
    ]


@register("posture.model_check.escalation_immediate")
def escalation_step(posture: str, debt: int) -> list[str]:
    """escalation_immediate: the posture's knobs are at least as strict as those the debt calls for."""
    want = target_of(debt)
    if debt >= DEBT_LEVELS[0][0] and posture != RED:
        return [f"debt {debt} >= RED threshold, posture {posture}"]
    if not KNOBS[Posture.of_state(posture)].at_least_as_strict_as(KNOBS[Posture.of_state(want)]):
        return [f"debt {debt} calls for {want}, posture {posture}"]
    return []


@register("posture.model_check.warmup_before_normal")
def warmup_step(ps: PostureState, target: str) -> list[str]:
    """warmup_before_normal: a row taken from ``ps`` leaves RED_LOCK only to POST_RED_WARMUP, and
    POST_RED_WARMUP for a normal level only after :data:`WARMUP` ticks."""
    source, _, warm = ps
    where = f"{source} -> {target}"
    out = []
    if source == RED and target not in (RED, WARMUP_STATE):
        out.append(f"{where}: RED_LOCK leaves only to POST_RED_WARMUP")
    if source == WARMUP_STATE and target in (GREEN, YELLOW, ORANGE) and warm < WARMUP:
        out.append(f"{where} after {warm} of {WARMUP} warmup tick(s)")
    return out


@register("posture.model_check.no_flapping", reads=("step_down_levels",))
def flapping_step(ps: PostureState, target: str, tick: bool, step: int) -> list[str]:
    """no_flapping: a step down from ``ps`` is ``step`` level(s) (or RED_LOCK to POST_RED_WARMUP), on a tick
    completing :data:`HYSTERESIS` calm ticks."""
    source, calm, _ = ps
    down = RANK[target] < RANK[source] if source in RANK and target in RANK else source == RED
    if not down:
        return []
    one = target == WARMUP_STATE or RANK[target] == RANK[source] - step
    if tick and calm >= HYSTERESIS and one:
        return []
    return [
        f"{source} -> {target}: a step down must be {step} level(s), on a tick completing {HYSTERESIS} calm "
        f"ticks (calm {calm}{', on a tick' if tick else ', no tick'})"
    ]
