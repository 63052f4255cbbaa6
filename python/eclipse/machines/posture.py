"""Risk posture (``specs/posture.toml``): GREEN, YELLOW, ORANGE, RED_LOCK and POST_RED_WARMUP, driven by the
belief debt (:mod:`eclipse.machines.debt`), mapped to entry knobs.

:class:`PostureMachine` is the declarative definition, :data:`POSTURE` its compiled table and
:class:`PostureController` drives it through a :class:`~eclipse.machines.table.Runner`.

Rules (each :meth:`PostureController.update` fires at most one transition):

* the target level is the higher of the debt level and the growth level (:meth:`PostureThresholds.level`);
* escalation is immediate and may skip levels;
* de-escalation goes one level down, only after every update for ``hysteresis_sec`` saw the target below the
  current level; the window starts at the later of the last change and the first calm update, so each step
  down takes a full window (no flapping);
* RED_LOCK only releases to POST_RED_WARMUP (same hysteresis rule); POST_RED_WARMUP ends ``warmup_sec`` after
  it was entered, on the level the debt calls for then (GREEN when calm), unless a new RED relapses into
  RED_LOCK;
* RED_LOCK entries since the last completed warmup form a streak; each entry with a streak of at least
  ``red_lock_critical_streak`` (RECOVERY_RED_LOCK_CRITICAL_STREAK, default 2) emits
  ``posture.red_lock_critical``;
* every change emits ``posture.changed``; the posture never blocks exits or protection (:class:`GuardKnobs`
  has them as constant True properties).

Defaults (weights in :data:`~eclipse.machines.debt.DEFAULT_WEIGHTS`: low 1, medium 2, high 4, critical 8;
debt aging 10 min, growth over a 60 s window):

* debt: YELLOW >= 2 (one medium contradiction), ORANGE >= 6 (a high and a medium), RED >= 12 (e.g. a critical
  left open for 5 minutes, or three highs);
* growth: YELLOW >= 2/min, ORANGE >= 5/min, RED >= 10/min (a critical and a medium within a minute). Aging
  alone grows the debt by total_weight/10 per minute, so it reaches a growth threshold only once the debt is
  already past the same level;
* hysteresis 120 s (two reconcile cycles of 60 s must agree before a step down), warmup 300 s.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from statemachine import State, StateMachine

from eclipse.clock import Clock
from eclipse.contracts import GuardKnobs
from eclipse.machines.debt import BeliefDebt
from eclipse.machines.table import CompiledMachine, Outcome, Refusal, Runner, compile_class

__all__ = [
    "DEFAULT_RED_LOCK_CRITICAL_STREAK",
    "KNOBS",
    "LEVEL",
    "POSTURE",
    "GuardKnobs",
    "OnEvent",
    "Posture",
    "PostureController",
    "PostureMachine",
    "PostureThresholds",
]

OnEvent = Callable[[Mapping[str, object]], None]
"""Telemetry sink: receives one structured event (``{"event": "<machine>.<name>", ...}``)."""

DEFAULT_RED_LOCK_CRITICAL_STREAK: Final = 2
"""RED_LOCK entries since the last completed warmup that make an entry critical (``red_lock_critical_streak``
in ``specs/posture.toml``; ``eclipse specs check`` compares the two)."""


class Posture(enum.StrEnum):
    """The postures, by their telemetry names; :attr:`state` is the machine's state id."""

    GREEN = "GREEN"
    YELLOW = "YELLOW"
    ORANGE = "ORANGE"
    RED_LOCK = "RED_LOCK"
    POST_RED_WARMUP = "POST_RED_WARMUP"

    @property
    def state(self) -> str:
        """The state id in the spec (lower case)."""
        return self.value.lower()

    @classmethod
    def of_state(cls, state: str) -> Posture:
        """The posture of a state id."""
        return cls(state.upper())


LEVEL: Final[Mapping[Posture, int]] = MappingProxyType(
    {Posture.GREEN: 0, Posture.YELLOW: 1, Posture.ORANGE: 2, Posture.RED_LOCK: 3}
)
"""Order of the target levels (POST_RED_WARMUP is a recovery stage, not a target)."""


class PostureMachine(StateMachine):
    """Risk posture; mirrors ``specs/posture.toml`` row for row. Guards test the target level's state id,
    passed as ``level`` (python-statemachine reserves ``target`` for the transition's target state)."""

    NAME = "posture"
    TERMINAL: frozenset[str] = frozenset()
    IN_FLIGHT: frozenset[str] = frozenset()

    green = State(initial=True)
    yellow = State()
    orange = State()
    red_lock = State()
    post_red_warmup = State()

    escalate = (
        green.to(yellow, cond="to_yellow")
        | green.to(orange, cond="to_orange")
        | green.to(red_lock, cond="to_red")
        | yellow.to(orange, cond="to_orange")
        | yellow.to(red_lock, cond="to_red")
        | orange.to(red_lock, cond="to_red")
        | post_red_warmup.to(red_lock, cond="to_red")
    )
    relax = yellow.to(green) | orange.to(yellow)
    release = red_lock.to(post_red_warmup)
    warmup_done = (
        post_red_warmup.to(green, cond="to_green")
        | post_red_warmup.to(yellow, cond="to_yellow")
        | post_red_warmup.to(orange, cond="to_orange")
    )

    def to_green(self, level: str = "") -> bool:
        """Guard: the target level is GREEN."""
        return level == "green"

    def to_yellow(self, level: str = "") -> bool:
        """Guard: the target level is YELLOW."""
        return level == "yellow"

    def to_orange(self, level: str = "") -> bool:
        """Guard: the target level is ORANGE."""
        return level == "orange"

    def to_red(self, level: str = "") -> bool:
        """Guard: the target level is RED."""
        return level == "red_lock"


POSTURE: Final[CompiledMachine] = compile_class(PostureMachine)
"""The compiled table of :class:`PostureMachine` (compiled once at import)."""

_GUARDS: Final[Mapping[str, Callable[[object], bool]]] = {
    "to_green": lambda t: t == "green",
    "to_yellow": lambda t: t == "yellow",
    "to_orange": lambda t: t == "orange",
    "to_red": lambda t: t == "red_lock",
}


KNOBS: Final[Mapping[Posture, GuardKnobs]] = MappingProxyType(
    {
        Posture.GREEN: GuardKnobs(reason="posture GREEN", code="posture_green"),
        Posture.YELLOW: GuardKnobs(
            notional_scale=0.5,
            qty_scale=0.5,
            min_confidence_delta=0.05,
            reason="posture YELLOW",
            code="posture_yellow",
        ),
        Posture.ORANGE: GuardKnobs(
            notional_scale=0.25,
            qty_scale=0.25,
            min_confidence_delta=0.10,
            reason="posture ORANGE",
            code="posture_orange",
        ),
        Posture.POST_RED_WARMUP: GuardKnobs(
            notional_scale=0.25,
            qty_scale=0.25,
            min_confidence_delta=0.10,
            reason="posture POST_RED_WARMUP",
            code="posture_post_red_warmup",
        ),
        Posture.RED_LOCK: GuardKnobs(
            notional_scale=0.0,
            qty_scale=0.0,
            entry_block=True,
            min_confidence_delta=1.0,
            reason="posture RED_LOCK",
            code="posture_red_lock",
        ),
    }
)
"""Entry knobs per posture (:class:`eclipse.contracts.GuardKnobs`, the type the entry gate reads): the
confidence delta is added to the strategy's minimum confidence, the notional and quantity scales multiply the
position size. The warmup re-enters as cautiously as ORANGE."""


@dataclass(frozen=True, slots=True)
class PostureThresholds:
    """Levels of debt (units, see :mod:`eclipse.machines.debt`) and of growth (units per minute)."""

    debt_yellow: float = 2.0
    debt_orange: float = 6.0
    debt_red: float = 12.0
    growth_yellow: float = 2.0
    growth_orange: float = 5.0
    growth_red: float = 10.0

    def __post_init__(self) -> None:
        for kind, a, b, c in (
            ("debt", self.debt_yellow, self.debt_orange, self.debt_red),
            ("growth", self.growth_yellow, self.growth_orange, self.growth_red),
        ):
            if not 0 < a <= b <= c:
                raise ValueError(
                    f"{kind} thresholds must satisfy 0 < yellow <= orange <= red, got {a}, {b}, {c}"
                )

    def level(self, debt: float, growth_per_min: float) -> Posture:
        """The target level: the higher of the debt's and the growth's (thresholds are inclusive)."""

        def one(x: float, y: float, o: float, r: float) -> int:
            return 3 if x >= r else 2 if x >= o else 1 if x >= y else 0

        n = max(
            one(debt, self.debt_yellow, self.debt_orange, self.debt_red),
            one(growth_per_min, self.growth_yellow, self.growth_orange, self.growth_red),
        )
        return (Posture.GREEN, Posture.YELLOW, Posture.ORANGE, Posture.RED_LOCK)[n]


class PostureController:
    """Drives the posture machine from a :class:`~eclipse.machines.debt.BeliefDebt`.

    ``table`` is the compiled machine to run (default :data:`POSTURE`; a test may run one compiled from a
    changed spec, and the daemon then behaves as that spec says).

    Call :meth:`update` after every change of the debt (``add_contradiction`` and ``resolve_contradiction``
    do) and periodically (aging crosses thresholds between events; once a second is plenty).
    """

    __slots__ = (
        "_belief",
        "_calm_since_ms",
        "_clock",
        "_critical",
        "_entered_ms",
        "_hyst_ms",
        "_on_event",
        "_runner",
        "_streak",
        "_thresholds",
        "_warmup_ms",
    )

    def __init__(
        self,
        clock: Clock,
        thresholds: PostureThresholds | None = None,
        hysteresis_sec: float = 120.0,
        warmup_sec: float = 300.0,
        red_lock_critical_streak: int = DEFAULT_RED_LOCK_CRITICAL_STREAK,
        *,
        belief: BeliefDebt | None = None,
        on_event: OnEvent | None = None,
        table: CompiledMachine | None = None,
    ) -> None:
        if not hysteresis_sec >= 0 or not warmup_sec >= 0 or red_lock_critical_streak < 1:
            raise ValueError(
                "need hysteresis_sec >= 0, warmup_sec >= 0, red_lock_critical_streak >= 1, got "
                f"{hysteresis_sec}, {warmup_sec}, {red_lock_critical_streak}"
            )
        self._clock = clock
        self._thresholds = thresholds if thresholds is not None else PostureThresholds()
        self._hyst_ms = round(hysteresis_sec * 1000)
        self._warmup_ms = round(warmup_sec * 1000)
        self._critical = red_lock_critical_streak
        self._belief = belief if belief is not None else BeliefDebt(clock)
        self._on_event = on_event
        self._runner = Runner(table if table is not None else POSTURE, _GUARDS, self._refused)
        self._entered_ms = clock.now_ms()
        self._calm_since_ms: int | None = None
        self._streak = 0

    # --- reads ----------------------------------------------------------------------------------------------
    @property
    def posture(self) -> Posture:
        """The current posture."""
        return Posture.of_state(self._runner.state)

    @property
    def belief(self) -> BeliefDebt:
        """The debt ledger this controller reads."""
        return self._belief

    @property
    def thresholds(self) -> PostureThresholds:
        """The thresholds in use."""
        return self._thresholds

    @property
    def entered_ms(self) -> int:
        """When the current posture was entered."""
        return self._entered_ms

    @property
    def red_lock_streak(self) -> int:
        """RED_LOCK entries since the last completed warmup."""
        return self._streak

    def target(self) -> Posture:
        """The level the debt and growth call for now."""
        return self._thresholds.level(self._belief.debt(), self._belief.growth_per_min())

    def knobs(self) -> GuardKnobs:
        """Entry knobs of the current posture."""
        return KNOBS[self.posture]

    def exits_allowed(self) -> bool:
        """Always True: no posture blocks an exit."""
        return True

    def protection_allowed(self) -> bool:
        """Always True: no posture blocks placing or replacing a stop."""
        return True

    # --- writes ---------------------------------------------------------------------------------------------
    def add_contradiction(self, key: str, kind: str, weight: float | None = None) -> Posture:
        """Open a contradiction in the ledger, then :meth:`update`."""
        self._belief.add(key, kind, weight)
        return self.update()

    def resolve_contradiction(self, key: str) -> Posture:
        """Resolve a contradiction in the ledger, then :meth:`update`."""
        self._belief.resolve(key)
        return self.update()

    def update(self) -> Posture:
        """Re-evaluate the posture now (at most one transition); returns the posture."""
        now = self._clock.now_ms()
        debt, growth = self._belief.debt(), self._belief.growth_per_min()
        target = self._thresholds.level(debt, growth)
        current = self.posture
        if current is Posture.POST_RED_WARMUP:
            if target is Posture.RED_LOCK:
                self._fire("escalate", target, debt, growth, now)
            elif now - self._entered_ms >= self._warmup_ms:
                self._fire("warmup_done", target, debt, growth, now)
            return self.posture
        level, want = LEVEL[current], LEVEL[target]
        if want > level:
            self._fire("escalate", target, debt, growth, now)
        elif want < level:
            if self._calm_since_ms is None:
                self._calm_since_ms = now
            if now - self._calm_since_ms >= self._hyst_ms:
                self._fire("release" if current is Posture.RED_LOCK else "relax", target, debt, growth, now)
                after = self.posture
                if after in LEVEL and want < LEVEL[after]:
                    self._calm_since_ms = now  # this update saw calm: the next step's window starts here
        else:
            self._calm_since_ms = None
        return self.posture

    # --- internals ------------------------------------------------------------------------------------------
    def _fire(self, event: str, target: Posture, debt: float, growth: float, now: int) -> Outcome:
        out = self._runner.fire(event, target.state)
        if not out.accepted:
            return out
        self._entered_ms = now
        self._calm_since_ms = None
        source, dest = Posture.of_state(out.source), Posture.of_state(out.target)
        if event == "warmup_done":
            self._streak = 0
        if dest is Posture.RED_LOCK:
            self._streak += 1
        self._emit(
            "posture.changed",
            {
                "from": source.value,
                "to": dest.value,
                "debt": debt,
                "growth_per_min": growth,
                "trigger": event,
            },
        )
        if dest is Posture.RED_LOCK and self._streak >= self._critical:
            self._emit("posture.red_lock_critical", {"streak": self._streak, "debt": debt})
        return out

    def _refused(self, refusal: Refusal) -> None:
        self._emit(
            "posture.transition_refused",
            {"state": refusal.state, "trigger": refusal.event, "reason": refusal.reason},
        )

    def _emit(self, name: str, fields: Mapping[str, object]) -> None:
        if self._on_event is not None:
            self._on_event({"event": name, "ts_ms": self._clock.now_ms(), **fields})
