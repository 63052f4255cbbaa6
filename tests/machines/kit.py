"""Shared checks of the machine test suites: a broken copy of a spec is caught, every invariant is covered."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from statemachine import StateMachine
from statemachine.exceptions import TransitionNotAllowed

from eclipse.machines.conformance import differences
from eclipse.machines.spec import Row, Spec
from eclipse.machines.table import CompiledMachine, Runner, compile_spec


def retarget(rows: tuple[Row, ...], event: str, target: str) -> tuple[Row, ...]:
    """Every row of ``event`` sent to ``target`` instead."""
    return tuple(dataclasses.replace(r, target=target) if r.event == event else r for r in rows)


def rename_guard(rows: tuple[Row, ...], old: str | None, new: str | None) -> tuple[Row, ...]:
    """Every row guarded by ``old`` guarded by ``new`` instead."""
    return tuple(dataclasses.replace(r, guard=new) if r.guard == old else r for r in rows)


def assert_broken_copy_caught(spec: Spec, code: CompiledMachine, rows: tuple[Row, ...]) -> None:
    """A copy of ``spec`` with ``rows`` differs from the spec and from the code, both ways."""
    broken = dataclasses.replace(spec, rows=rows)
    assert differences(spec, compile_spec(broken)) != []
    assert differences(broken, code) != []


def assert_invariants_covered(spec: Spec, conformance_tests: Path, property_tests: Path) -> None:
    """Every invariant is named in the test file of each suite the spec assigns it to."""
    here = conformance_tests.read_text(encoding="utf-8")
    props = property_tests.read_text(encoding="utf-8")
    for inv in spec.invariants:
        if "conformance" in inv.suites:
            assert inv.name in here, f"{inv.name}: no conformance test names it"
        if "property" in inv.suites:
            assert inv.name in props, f"{inv.name}: no property test names it"


def assert_runner_matches_class(
    sm: StateMachine, runner: Runner, event: str, ctx: object, **kwargs: object
) -> None:
    """One step of the differential test: the table runner and python-statemachine's own ``send`` accept or
    refuse ``event`` alike and end in the same state (``kwargs`` are what the class's guards receive)."""
    out = runner.fire(event, ctx)
    try:
        sm.send(event, **kwargs)
        accepted = True
    except TransitionNotAllowed:
        accepted = False
    assert accepted == out.accepted, (event, ctx, out)
    assert [s.id for s in sm.configuration] == [runner.state]
