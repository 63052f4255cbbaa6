"""Position protection per symbol (``specs/protection.toml``): every open position is covered by a protective
stop within ``T_protect``, or entries for that symbol are blocked and the gap counts as debt.

:class:`ProtectionMachine` is the declarative definition (python-statemachine 3); :data:`PROTECTION` is its
compiled table, and :class:`ProtectionTracker` drives one symbol's instance through a
:class:`~eclipse.machines.table.Runner` and keeps the T_protect clock:

* "covered" means a stop confirmed by the venue covers the whole position. The flag follows the venue's facts,
  not only the machine's transitions: a fill that grows the position (``entry_filled``) or the stop going
  missing (``protection_missing``) uncovers the position even when the machine refuses the event (a refused
  report is still a fact: the position did grow, the stop is gone); only an accepted ``protection_placed``
  covers it, and leaving the open states uncovers it;
* the gap clock runs whenever the machine is in an open state and the position is not covered: it starts when
  that first holds and stops only when the position is covered again or flat (failed placements, further
  entry fills and failed exits never restart it), whatever the machine did with the event;
* past ``T_protect`` (strictly longer), :meth:`ProtectionTracker.entries_blocked` is True and
  :meth:`ProtectionTracker.unprotected_debt_sec` reports the overrun (seconds beyond ``T_protect``; the grace
  window itself is not debt);
* exits and stop placement are never blocked (:meth:`ProtectionTracker.exits_allowed` and
  :meth:`ProtectionTracker.protection_allowed` are constant True).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from statemachine import State, StateMachine

from eclipse.clock import Clock
from eclipse.machines.table import CompiledMachine, Outcome, Refusal, Runner, compile_class

__all__ = [
    "OPEN_STATES",
    "PROTECTION",
    "OnEvent",
    "ProtectionMachine",
    "ProtectionSnapshot",
    "ProtectionTracker",
]

OnEvent = Callable[[Mapping[str, object]], None]
"""Telemetry sink: receives one structured event (``{"event": "<machine>.<name>", ...}``)."""

OPEN_STATES: Final = frozenset({"open_unprotected", "protected", "exiting"})
"""States in which the symbol has an open position on the venue."""


class ProtectionMachine(StateMachine):
    """Protection of one symbol's position; mirrors ``specs/protection.toml`` row for row."""

    NAME = "protection"
    TERMINAL: frozenset[str] = frozenset()
    IN_FLIGHT = frozenset({"entering", "exiting"})

    flat = State(initial=True)
    entering = State()
    open_unprotected = State()
    protected = State()
    exiting = State()

    enter = flat.to(entering)
    position_found = flat.to(open_unprotected)
    entry_filled = (
        flat.to(open_unprotected)
        | entering.to(open_unprotected)
        | open_unprotected.to(open_unprotected)
        | protected.to(open_unprotected)
        | exiting.to(exiting)
    )
    entry_failed = entering.to(flat)
    position_closed = entering.to(flat) | open_unprotected.to(flat) | protected.to(flat) | exiting.to(flat)
    protection_placed = open_unprotected.to(protected) | protected.to(protected) | exiting.to(exiting)
    protection_failed = open_unprotected.to(open_unprotected) | exiting.to(exiting)
    protection_missing = protected.to(open_unprotected) | exiting.to(exiting)
    stop_hit = protected.to(flat) | exiting.to(flat)
    take_profit_hit = protected.to(flat) | exiting.to(flat)
    exit = open_unprotected.to(exiting) | protected.to(exiting)
    exit_filled = exiting.to(flat)
    exit_failed = exiting.to(protected, cond="covered") | exiting.to(open_unprotected)

    def covered(self, covered: bool = False) -> bool:
        """Guard: a venue-confirmed stop still covers the whole position."""
        return covered


PROTECTION: Final[CompiledMachine] = compile_class(ProtectionMachine)
"""The compiled table of :class:`ProtectionMachine` (compiled once at import)."""

_GUARDS: Final[Mapping[str, Callable[[object], bool]]] = {"covered": bool}
_UNCOVERING: Final = frozenset({"entry_filled", "protection_missing"})
"""Events that uncover the position whatever the machine does with them (venue facts)."""


@dataclass(frozen=True, slots=True)
class ProtectionSnapshot:
    """One symbol's protection status at ``ts_ms`` (what the entry gate and the debt ledger read)."""

    symbol: str
    ts_ms: int
    state: str
    covered: bool
    unprotected_sec: float
    debt_sec: float
    entries_blocked: bool


class ProtectionTracker:
    """Protection machine of one symbol plus its T_protect clock.

    Every event method returns the :class:`~eclipse.machines.table.Outcome`; a refused event never raises,
    leaves the state unchanged and is reported to ``on_event`` as ``protection.transition_refused``.
    :meth:`check` (call it from the periodic loop) reports ``protection.overdue`` once per gap when the gap
    passes T_protect, and ``protection.gap_closed`` when an overdue gap closes.
    """

    __slots__ = (
        "_clock",
        "_covered",
        "_gap_since_ms",
        "_on_event",
        "_overdue_reported",
        "_runner",
        "_t_ms",
        "gap_count",
        "gap_longest_ms",
        "gap_total_ms",
        "symbol",
    )

    def __init__(
        self,
        symbol: str,
        clock: Clock,
        t_protect_sec: float,
        on_event: OnEvent | None = None,
        *,
        table: CompiledMachine | None = None,
    ) -> None:
        if not t_protect_sec >= 0:
            raise ValueError(f"t_protect_sec must be >= 0, got {t_protect_sec}")
        self.symbol = symbol
        self._clock = clock
        self._t_ms = round(t_protect_sec * 1000)
        self._on_event = on_event
        self._covered = False
        self._gap_since_ms: int | None = None
        self._overdue_reported = False
        self._runner = Runner(table if table is not None else PROTECTION, _GUARDS, self._refused)
        self.gap_count = 0
        """Gaps (an open position without a working stop, from the moment it is known) that closed."""
        self.gap_total_ms = 0
        """Their total length."""
        self.gap_longest_ms = 0
        """The longest of them."""

    # --- state ----------------------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """Current state of the machine."""
        return self._runner.state

    @property
    def table(self) -> CompiledMachine:
        """The compiled machine this tracker runs (:data:`PROTECTION` unless another was given)."""
        return self._runner.machine

    @property
    def is_open(self) -> bool:
        """True while the symbol has an open position (uncovered, protected or exiting)."""
        return self._runner.state in OPEN_STATES

    @property
    def covered(self) -> bool:
        """True while a venue-confirmed stop covers the whole open position."""
        return self._covered

    @property
    def t_protect_sec(self) -> float:
        """The configured T_protect."""
        return self._t_ms / 1000.0

    @property
    def gap_since_ms(self) -> int | None:
        """When the current protection gap opened (None when covered or not open)."""
        return self._gap_since_ms

    def unprotected_sec(self) -> float:
        """Seconds the open position has been uncovered so far (0 when covered or not open)."""
        if self._gap_since_ms is None:
            return 0.0
        return max(0, self._clock.now_ms() - self._gap_since_ms) / 1000.0

    def unprotected_debt_sec(self) -> float:
        """Seconds of the current gap beyond T_protect (the debt); 0 within the grace window."""
        if self._gap_since_ms is None:
            return 0.0
        return max(0, self._clock.now_ms() - self._gap_since_ms - self._t_ms) / 1000.0

    def entries_blocked(self) -> bool:
        """True while the position has been open and uncovered for longer than T_protect."""
        return self._gap_since_ms is not None and self._clock.now_ms() - self._gap_since_ms > self._t_ms

    def exits_allowed(self) -> bool:
        """Always True: protection never blocks an exit."""
        return True

    def protection_allowed(self) -> bool:
        """Always True: placing or replacing a stop is never blocked."""
        return True

    def snapshot(self) -> ProtectionSnapshot:
        """The status now, as a frozen value."""
        return ProtectionSnapshot(
            self.symbol,
            self._clock.now_ms(),
            self._runner.state,
            self._covered,
            self.unprotected_sec(),
            self.unprotected_debt_sec(),
            self.entries_blocked(),
        )

    def check(self) -> bool:
        """Periodic check: emits ``protection.overdue`` once per gap that passed T_protect; returns
        :meth:`entries_blocked`."""
        blocked = self.entries_blocked()
        if blocked and not self._overdue_reported:
            self._overdue_reported = True
            self._emit("protection.overdue", unprotected_sec=self.unprotected_sec(), state=self._runner.state)
        return blocked

    # --- events ---------------------------------------------------------------------------------------------
    def enter(self) -> Outcome:
        """An entry order was submitted (flat only)."""
        return self._fire("enter")

    def entry_filled(self) -> Outcome:
        """A fill of the entry order (the first one opens the position; later ones grow it)."""
        return self._fire("entry_filled")

    def entry_failed(self) -> Outcome:
        """The entry ended with zero fills (rejected, canceled, expired)."""
        return self._fire("entry_failed")

    def position_found(self) -> Outcome:
        """Reconcile found a venue position this tracker did not open (adopted as uncovered)."""
        return self._fire("position_found")

    def position_closed(self) -> Outcome:
        """Reconcile proved the venue position flat."""
        return self._fire("position_closed")

    def protection_placed(self) -> Outcome:
        """The venue confirmed a stop covering the whole position."""
        return self._fire("protection_placed")

    def protection_failed(self) -> Outcome:
        """A stop placement failed; the gap clock keeps running."""
        return self._fire("protection_failed")

    def protection_missing(self) -> Outcome:
        """The stop is gone (canceled, expired, not found by reconcile)."""
        return self._fire("protection_missing")

    def stop_hit(self) -> Outcome:
        """The stop triggered and closed the position."""
        return self._fire("stop_hit")

    def take_profit_hit(self) -> Outcome:
        """The take-profit triggered and closed the position."""
        return self._fire("take_profit_hit")

    def exit(self) -> Outcome:
        """An exit order was submitted (never blocked)."""
        return self._fire("exit")

    def exit_filled(self) -> Outcome:
        """The exit completed: the venue position is zero."""
        return self._fire("exit_filled")

    def exit_failed(self) -> Outcome:
        """The exit failed with the position still open."""
        return self._fire("exit_failed")

    def fire(self, event: str) -> Outcome:
        """Apply any event of the spec by name (the named methods are the usual entry points)."""
        return self._fire(event)

    # --- internals ------------------------------------------------------------------------------------------
    def _fire(self, event: str) -> Outcome:
        out = self._runner.fire(event, self._covered)
        if event in _UNCOVERING:
            self._covered = (
                False  # a fact, accepted or not: the position grew past the stop, or the stop is gone
            )
        elif event == "protection_placed" and out.accepted:
            self._covered = True
        if out.target not in OPEN_STATES:
            self._covered = False
        now = self._clock.now_ms()
        gap = out.target in OPEN_STATES and not self._covered
        if gap and self._gap_since_ms is None:
            self._gap_since_ms = now
        elif not gap and self._gap_since_ms is not None:
            if self._overdue_reported or now - self._gap_since_ms > self._t_ms:
                self._emit(
                    "protection.gap_closed",
                    unprotected_sec=(now - self._gap_since_ms) / 1000.0,
                    debt_sec=max(0, now - self._gap_since_ms - self._t_ms) / 1000.0,
                    trigger=event,
                )
            length = now - self._gap_since_ms
            if length > 0:
                self.gap_count += 1
                self.gap_total_ms += length
                self.gap_longest_ms = max(self.gap_longest_ms, length)
            self._gap_since_ms = None
            self._overdue_reported = False
        return out

    def _refused(self, refusal: Refusal) -> None:
        self._emit(
            "protection.transition_refused", state=refusal.state, trigger=refusal.event, reason=refusal.reason
        )

    def _emit(self, name: str, **fields: object) -> None:
        if self._on_event is not None:
            self._on_event({"event": name, "symbol": self.symbol, "ts_ms": self._clock.now_ms(), **fields})
