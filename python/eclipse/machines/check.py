"""``eclipse specs``: verify that the machines in code equal their specs, run the bounded model check, and
render the specs as tables, Mermaid diagrams and the generated ``specs/README.md``."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from eclipse.machines import render
from eclipse.machines.conformance import differences
from eclipse.machines.spec import Spec, SpecError, load_specs
from eclipse.machines.table import CompiledMachine, compile_class

__all__ = [
    "MACHINE_CLASSES",
    "CheckReport",
    "MachineCheck",
    "code_machine",
    "readme_text",
    "render_check",
    "run_check",
]

# machine name -> "module:ClassName" of its python-statemachine class
MACHINE_CLASSES: dict[str, str] = {
    "order": "eclipse.machines.order:OrderMachine",
    "protection": "eclipse.machines.protection:ProtectionMachine",
    "reconcile": "eclipse.machines.reconcile:ReconcileMachine",
    "posture": "eclipse.machines.posture:PostureMachine",
}


def code_machine(name: str) -> CompiledMachine | None:
    """The compiled table of the code's class for machine ``name`` (None when no class is registered)."""
    target = MACHINE_CLASSES.get(name)
    if target is None:
        return None
    module, cls = target.split(":")
    return compile_class(getattr(importlib.import_module(module), cls))


@dataclass(frozen=True, slots=True)
class MachineCheck:
    """Conformance result of one machine."""

    name: str
    states: int
    transitions: int
    invariants: int
    differences: tuple[str, ...]
    has_code: bool


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Everything ``eclipse specs check`` verified."""

    machines: tuple[MachineCheck, ...]
    model_depth: int
    model_states: int
    model_transitions: int
    model_violations: tuple[str, ...]
    model_advisories: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every machine conforms, has code, and the model check found no violation."""
        return all(m.has_code and not m.differences for m in self.machines) and not self.model_violations


def run_check(spec_dir: Path, depth: int | None = None) -> CheckReport:
    """Conformance of every spec in ``spec_dir`` against its class, then the model check to ``depth``."""
    specs = load_specs(spec_dir)
    if not specs:
        raise SpecError(f"{spec_dir}: no *.toml specs")
    machines = []
    for name, spec in specs.items():
        code = code_machine(name)
        diffs = tuple(differences(spec, code)) if code is not None else (f"{name}: no class in the code",)
        machines.append(
            MachineCheck(
                name, len(spec.states), len(spec.rows), len(spec.invariants), diffs, code is not None
            )
        )
    from eclipse.machines import modelcheck

    report = modelcheck.check(spec_dir, depth if depth is not None else modelcheck.DEFAULT_DEPTH)
    violations = tuple(modelcheck.render_violation(v) for v in report.violations)
    advisories = tuple(modelcheck.render_violation(v) for v in report.advisories)
    return CheckReport(
        tuple(machines), report.depth, report.states_explored, report.transitions, violations, advisories
    )


def render_check(report: CheckReport) -> str:
    """The report as text: one line per machine, the model check's figures and the verdict."""
    lines = [f"{'machine':<12} {'states':>6} {'transitions':>11} {'invariants':>10}  conformance"]
    for m in report.machines:
        verdict = "ok" if m.has_code and not m.differences else f"FAILED ({len(m.differences)})"
        lines.append(f"{m.name:<12} {m.states:>6} {m.transitions:>11} {m.invariants:>10}  {verdict}")
        lines.extend(f"  - {d}" for d in m.differences)
    lines.append(
        f"model check: depth {report.model_depth}, {report.model_states:,} states, "
        f"{report.model_transitions:,} transitions explored, {len(report.model_violations)} violation(s)"
    )
    lines.extend(report.model_violations)
    if report.model_advisories:
        lines.append(f"advisories (reported, not failures): {len(report.model_advisories)}")
        lines.extend(report.model_advisories)
    lines.append("result: OK" if report.ok else "result: FAILED")
    return "\n".join(lines)


README_HEAD = """# specs/: the state machines of Eclipse

Each machine is declared once here, in TOML: states (initial, terminal, in flight), events, transitions with
named guards (the first row whose guard holds wins), and the invariants that concern it, each with the suites
that enforce it. The python-statemachine classes in `python/eclipse/machines/` must describe the same graph;
`eclipse specs check` verifies that both ways, runs the bounded model check and prints the result. At run time
the machines execute as tables compiled from those classes (one dict lookup per event).

This file is generated: `eclipse specs readme --write` rewrites it, and a test fails when it is out of date.
"""


def _section(spec: Spec) -> str:
    inv = "\n".join(f"- `{i.name}` ({', '.join(i.suites)}): {i.statement}" for i in spec.invariants)
    terminal = ", ".join(f"`{s}`" for s in sorted(spec.terminal)) or "none"
    in_flight = ", ".join(f"`{s}`" for s in sorted(spec.in_flight)) or "none"
    flags = f"Initial: `{spec.initial}`. Terminal: {terminal}. In flight: {in_flight}."
    return (
        f"## {spec.name}\n\n{spec.description}\n\n{flags}\n\n```mermaid\n{render.mermaid(spec)}\n```\n\n"
        f"{render.table(spec)}\n\nInvariants:\n\n{inv or '- none'}\n"
    )


def readme_text(spec_dir: Path) -> str:
    """The generated ``specs/README.md``."""
    specs = load_specs(spec_dir)
    return README_HEAD + "\n" + "\n".join(_section(s) for s in specs.values())
