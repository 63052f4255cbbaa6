"""Conformance: a machine's spec and its python-statemachine class describe the same graph, both ways:
states, initial, terminal and in-flight sets, every transition with its guard, guard precedence per event."""

from __future__ import annotations

from eclipse.machines.spec import Spec
from eclipse.machines.table import CompiledMachine

__all__ = ["differences"]


def differences(spec: Spec, code: CompiledMachine) -> list[str]:
    """Every disagreement between ``spec`` and ``code`` as a readable line; empty when they conform."""
    out: list[str] = []
    where = f"{spec.name}"

    def sets(label: str, a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> None:
        for x in sorted(a - b):
            out.append(f"{where}: {label} {x!r} is in the spec but not in the code")
        for x in sorted(b - a):
            out.append(f"{where}: {label} {x!r} is in the code but not in the spec")

    if spec.name != code.name:
        out.append(f"{where}: the code's machine is named {code.name!r}")
    sets("state", set(spec.states), set(code.states))
    if spec.initial != code.initial:
        out.append(f"{where}: initial state is {spec.initial!r} in the spec, {code.initial!r} in the code")
    sets("terminal state", spec.terminal, code.terminal)
    sets("in-flight state", spec.in_flight, code.in_flight)
    fmt = "transition {0} --{1}[{3}]--> {2}"
    spec_rows = {r.key() for r in spec.rows}
    code_rows = {r.key() for r in code.rows}
    for key in sorted(spec_rows - code_rows, key=str):
        out.append(f"{where}: {fmt.format(*key)} is in the spec but not in the code")
    for key in sorted(code_rows - spec_rows, key=str):
        out.append(f"{where}: {fmt.format(*key)} is in the code but not in the spec")
    if spec_rows == code_rows:
        order_spec: dict[tuple[str, str], list[str | None]] = {}
        for r in spec.rows:
            order_spec.setdefault((r.source, r.event), []).append(r.guard)
        for (source, event), guards in order_spec.items():
            code_guards = [r.guard for r in code.rows_for.get((source, event), ())]
            if guards != code_guards:
                out.append(
                    f"{where}: guard order of {source} --{event}--> is {guards} in the spec, "
                    f"{code_guards} in the code"
                )
    return out
