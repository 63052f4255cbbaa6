"""Compiled machines: the python-statemachine classes are the declarative definition; at run time a machine is
a transition table looked up with one dict access per event (python-statemachine 3 costs ~100 us per
transition, too slow for the order path's 250 us budget), driven by :class:`Runner`.

An event the current state does not accept never raises: the state is unchanged, the refusal is logged and
handed to the ``on_refuse`` hook (which emits the telemetry event), and a report arriving for a terminal state
is classified as stale.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from statemachine import StateMachine

from eclipse.machines.spec import Row, Spec

__all__ = ["CompiledMachine", "Outcome", "Refusal", "Runner", "compile_class", "compile_spec"]

_LOG = logging.getLogger(__name__)

RefusalReason = Literal["not_accepted", "guard_failed", "stale_for_terminal"]


@dataclass(frozen=True, slots=True)
class CompiledMachine:
    """A machine as a table: ``rows_for[(state, event)]`` lists candidate rows in guard-precedence order."""

    name: str
    states: tuple[str, ...]
    initial: str
    terminal: frozenset[str]
    in_flight: frozenset[str]
    rows: tuple[Row, ...]
    rows_for: Mapping[tuple[str, str], tuple[Row, ...]] = field(repr=False)
    guard_names: frozenset[str] = field(default=frozenset(), repr=False)
    """The guards its rows name (filled by the compile functions; a runner checks it has them all)."""

    @property
    def events(self) -> tuple[str, ...]:
        """Events in order of first appearance."""
        return tuple(dict.fromkeys(r.event for r in self.rows))


def _index(rows: tuple[Row, ...]) -> Mapping[tuple[str, str], tuple[Row, ...]]:
    table: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        table.setdefault((row.source, row.event), []).append(row)
    # A plain dict behind the Mapping type: the runner's lookup is on every event.
    return {k: tuple(v) for k, v in table.items()}


def _guards(rows: tuple[Row, ...]) -> frozenset[str]:
    return frozenset(r.guard for r in rows if r.guard)


def compile_spec(spec: Spec) -> CompiledMachine:
    """The table of a spec (used by the model check, which explores the spec itself)."""
    return CompiledMachine(
        spec.name,
        spec.states,
        spec.initial,
        spec.terminal,
        spec.in_flight,
        spec.rows,
        _index(spec.rows),
        _guards(spec.rows),
    )


def compile_class(cls: type[StateMachine]) -> CompiledMachine:
    """The table of a python-statemachine class.

    The class declares ``NAME``, ``TERMINAL`` and ``IN_FLIGHT`` (terminal states are not ``final=True`` in
    python-statemachine terms: the documented late-fill row leaves one). Guards are the ``cond=`` names.
    """
    rows: list[Row] = []
    for state in cls.states:
        for t in state.transitions:
            conds = [str(c) for c in t.cond]
            if len(conds) > 1:
                raise ValueError(
                    f"{cls.__name__}: {t.source.id} --{t.event}--> {t.target.id} has several guards"
                )
            for event in str(t.event).split():
                rows.append(Row(t.source.id, event, t.target.id, conds[0] if conds else None))
    initial = [s.id for s in cls.states if s.initial]
    if len(initial) != 1:
        raise ValueError(f"{cls.__name__}: expected one initial state, got {initial}")
    name: str = getattr(cls, "NAME")  # noqa: B009 - declared by every machine class
    terminal: frozenset[str] = getattr(cls, "TERMINAL")  # noqa: B009
    in_flight: frozenset[str] = getattr(cls, "IN_FLIGHT")  # noqa: B009
    frozen = tuple(rows)
    return CompiledMachine(
        name,
        tuple(s.id for s in cls.states),
        initial[0],
        terminal,
        in_flight,
        frozen,
        _index(frozen),
        _guards(frozen),
    )


class Refusal(NamedTuple):
    """An event the machine did not take; the state is unchanged."""

    machine: str
    state: str
    event: str
    reason: RefusalReason


class Outcome(NamedTuple):
    """Result of one :meth:`Runner.fire`: the row taken, or the refusal (a tuple: cheap per event)."""

    source: str
    target: str
    row: Row | None
    refusal: Refusal | None

    @property
    def accepted(self) -> bool:
        """True when a transition was taken."""
        return self.refusal is None


Guard = Callable[[Any], bool]


class Runner:
    """Drives one instance of a compiled machine. ``guards`` maps guard names to predicates of the event's
    context; ``on_refuse`` receives every refusal (the telemetry hook)."""

    __slots__ = ("_guards", "_machine", "_on_refuse", "state")

    def __init__(
        self,
        machine: CompiledMachine,
        guards: Mapping[str, Guard],
        on_refuse: Callable[[Refusal], None] | None = None,
        state: str | None = None,
    ) -> None:
        names = machine.guard_names or _guards(machine.rows)  # computed once, at compile time
        if not names <= guards.keys():
            missing = sorted(names - guards.keys())
            raise ValueError(f"machine {machine.name}: no predicate for guards {missing}")
        self._machine = machine
        self._guards = guards
        self._on_refuse = on_refuse
        self.state = state if state is not None else machine.initial
        if self.state not in machine.states:
            raise ValueError(f"machine {machine.name}: unknown state {self.state!r}")

    @property
    def machine(self) -> CompiledMachine:
        """The compiled machine."""
        return self._machine

    @property
    def terminal(self) -> bool:
        """True in a terminal state."""
        return self.state in self._machine.terminal

    def fire(self, event: str, ctx: Any = None) -> Outcome:
        """Apply ``event``: the first row of (state, event) whose guard holds for ``ctx``, else a refusal."""
        source = self.state
        rows = self._machine.rows_for.get((source, event))
        if rows:
            for row in rows:
                if row.guard is None or self._guards[row.guard](ctx):
                    self.state = row.target
                    return Outcome(source, row.target, row, None)
            reason: RefusalReason = "guard_failed"
        else:
            reason = "stale_for_terminal" if source in self._machine.terminal else "not_accepted"
        refusal = Refusal(self._machine.name, source, event, reason)
        _LOG.info("machine %s refused %s in %s (%s)", refusal.machine, event, source, reason)
        if self._on_refuse is not None:
            self._on_refuse(refusal)
        return Outcome(source, source, None, refusal)
