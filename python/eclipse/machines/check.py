"""``eclipse specs``: verify that the machines in code equal their specs, that every invariant is bound to the
registered checkers that enforce it (both ways) and every spec constant to the code, run the conformance
checkers and the bounded model check (regular and conditional orders), and render the specs as tables,
Mermaid diagrams and the generated ``specs/README.md``. :func:`run_check` tells a :class:`CheckProgress` which
stage runs (:class:`ProgressLine` shows it on a terminal or a log)."""

from __future__ import annotations

import importlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from eclipse.machines import render
from eclipse.machines.checkers import binding_problems, constant_problems, registry
from eclipse.machines.conformance import differences
from eclipse.machines.spec import Spec, SpecError, load_specs
from eclipse.machines.table import CompiledMachine, compile_class

if TYPE_CHECKING:
    from eclipse.machines.modelcheck import Progress

__all__ = [
    "MACHINE_CLASSES",
    "CheckProgress",
    "CheckReport",
    "MachineCheck",
    "ModelSummary",
    "ProgressLine",
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
    """Conformance result of one machine: the graph (``differences``) and its conformance checkers
    (``checker_problems``, each line naming the checker and its invariant)."""

    name: str
    states: int
    transitions: int
    invariants: int
    differences: tuple[str, ...]
    has_code: bool
    checkers: int = 0
    checker_problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """The class exists, describes the spec's graph and passes its conformance checkers."""
        return self.has_code and not self.differences and not self.checker_problems


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """The bounded model check of one configuration."""

    configuration: str
    depth: int
    states: int
    transitions: int
    exhausted: bool
    seconds: float
    violations: tuple[str, ...]
    advisories: tuple[str, ...] = ()
    max_reconcile_cycles: int = 0
    k_cycles: int | None = None


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Everything ``eclipse specs check`` verified."""

    machines: tuple[MachineCheck, ...]
    models: tuple[ModelSummary, ...]
    bindings: tuple[str, ...] = ()  # invariants <-> registered checkers, spec constants <-> code
    checkers_registered: int = 0

    @property
    def model_violations(self) -> tuple[str, ...]:
        """Every configuration's violations."""
        return tuple(v for m in self.models for v in m.violations)

    @property
    def ok(self) -> bool:
        """True when every machine conforms (graph and conformance checkers), every invariant and constant is
        bound, and the model check found no violation."""
        return all(m.ok for m in self.machines) and not self.bindings and not self.model_violations


class CheckProgress(Protocol):
    """Where :func:`run_check` is: a ``stage`` starts (conformance of a machine, the bindings, the model
    check); within the model check, each configuration's progress is an ``update`` (``final``: it ended)."""

    def stage(self, text: str) -> None:
        """A new stage starts."""

    def update(self, key: str, text: str, *, final: bool = False) -> None:
        """The progress of ``key`` (a model-check configuration) within the current stage."""


@dataclass
class ProgressLine:
    """:class:`CheckProgress` on a stream (stderr): one line redrawn in place on a terminal (``tty``), else
    plain lines: every stage, each key's updates at most every ``interval`` seconds, and its final one.
    :meth:`close` clears the redrawn line."""

    stream: TextIO
    tty: bool
    interval: float = 10.0
    timer: Callable[[], float] = time.perf_counter
    _stage: str = ""
    _status: dict[str, str] = field(default_factory=dict)
    _printed: dict[str, float] = field(default_factory=dict)
    _drawn: bool = False
    _last: str = ""

    def stage(self, text: str) -> None:
        """Show that the stage ``text`` runs."""
        self._stage, self._status = text, {}
        if self.tty:
            self._draw()
        else:
            self._line(text)

    def update(self, key: str, text: str, *, final: bool = False) -> None:
        """Show ``key``'s progress ``text`` (a plain line only every ``interval`` seconds, or when final)."""
        if self.tty:
            self._status[key] = text
            self._draw()
            return
        now = self.timer()
        last = self._printed.get(key)
        if final or last is None or now - last >= self.interval:
            self._printed[key] = now
            self._line(f"  {text}")

    def close(self) -> None:
        """Clear the redrawn line (a terminal), so the report starts on a clean line."""
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn, self._last = False, ""

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _draw(self) -> None:
        text = " | ".join((self._stage, *self._status.values()))
        width = shutil.get_terminal_size((100, 24)).columns - 1
        if len(text) > width:
            text = text[: max(0, width - 3)] + "..."
        if text != self._last:
            self.stream.write(f"\r{text}\x1b[K")
            self.stream.flush()
            self._last, self._drawn = text, True


def _model_progress(progress: CheckProgress) -> Callable[[Progress], None]:
    """A model-check progress callback that reports to ``progress``."""

    def tell(event: Progress) -> None:
        if event.done:
            bound = "exhausted" if event.exhausted else "bounded"
            text = f"{event.configuration}: done, {event.states:,} states ({bound}), {event.seconds:.1f} s"
        else:
            text = (
                f"{event.configuration} {event.level}/{event.depth}: {event.states:,} states, "
                f"{event.seconds:.0f} s"
            )
        progress.update(event.configuration, text, final=event.done)

    return tell


def run_check(spec_dir: Path, depth: int | None = None, progress: CheckProgress | None = None) -> CheckReport:
    """Conformance of every spec in ``spec_dir`` against its class, the bindings of invariants to checkers and
    of constants to code, the declared conformance checkers on the code's tables, then the model check of
    each configuration to ``depth`` (default: each configuration's own). ``progress`` is told each stage."""
    specs = load_specs(spec_dir)
    if not specs:
        raise SpecError(f"{spec_dir}: no *.toml specs")
    reg = registry()
    machines = []
    for i, (name, spec) in enumerate(specs.items(), 1):
        if progress is not None:
            progress.stage(f"specs check: conformance of {name} ({i}/{len(specs)})")
        code = code_machine(name)
        diffs = tuple(differences(spec, code)) if code is not None else (f"{name}: no class in the code",)
        problems: list[str] = []
        declared = [(c, inv) for c, inv in spec.checkers.items() if ".conformance." in c and c in reg]
        if code is not None:
            for checker, inv in declared:
                problems.extend(f"{name}: {checker} ({inv}): {p}" for p in reg[checker].func(code))
        machines.append(
            MachineCheck(
                name,
                len(spec.states),
                len(spec.rows),
                len(spec.invariants),
                diffs,
                code is not None,
                len(spec.checkers),
                tuple(problems),
            )
        )
    if progress is not None:
        progress.stage("specs check: checkers and constants bound to the invariants")
    bindings = (*binding_problems(specs, reg), *constant_problems(specs))
    from eclipse.machines import modelcheck

    models = []
    relay = None
    if progress is not None:
        progress.stage("specs check: model check")
        relay = _model_progress(progress)
    for report in modelcheck.check_all(spec_dir, depth, progress=relay):
        models.append(
            ModelSummary(
                report.configuration,
                report.depth,
                report.states_explored,
                report.transitions,
                report.exhausted,
                report.seconds,
                tuple(modelcheck.render_violation(v) for v in report.violations),
                tuple(modelcheck.render_advisory(v) for v in report.advisories),
                report.max_reconcile_cycles,
                report.k_cycles,
            )
        )
    return CheckReport(tuple(machines), tuple(models), tuple(bindings), len(reg))


def render_check(report: CheckReport) -> str:
    """The report as text: one line per machine, the bindings, each model check's figures and the verdict."""
    lines = [
        f"{'machine':<12} {'states':>6} {'transitions':>11} {'invariants':>10} {'checkers':>8}  conformance"
    ]
    for m in report.machines:
        bad = len(m.differences) + len(m.checker_problems)
        verdict = "ok" if m.ok else f"FAILED ({bad})"
        lines.append(
            f"{m.name:<12} {m.states:>6} {m.transitions:>11} {m.invariants:>10} {m.checkers:>8}  {verdict}"
        )
        lines.extend(f"  - {d}" for d in (*m.differences, *m.checker_problems))
    declared = sum(m.checkers for m in report.machines)
    if report.bindings:
        lines.append(f"bindings: FAILED ({len(report.bindings)})")
        lines.extend(f"  - {b}" for b in report.bindings)
    else:
        lines.append(
            f"bindings: ok ({declared} checkers declared by the invariants, {report.checkers_registered} "
            "registered; every spec constant read or equal to the code's)"
        )
    for mc in report.models:
        bound = "exhausted" if mc.exhausted else "bounded"
        k = (
            "convergence not checked"
            if mc.k_cycles is None
            else (
                f"converges within {mc.max_reconcile_cycles} repairing cycle(s) + a clean one "
                f"(K={mc.k_cycles})"
            )
        )
        lines.append(
            f"model check ({mc.configuration}): depth {mc.depth} ({bound}), {mc.states:,} states, "
            f"{mc.transitions:,} transitions, {mc.seconds:.1f} s, {k}, {len(mc.violations)} violation(s)"
        )
        lines.extend(mc.violations)
        if mc.advisories:
            lines.append(f"advisories (reported, not failures): {len(mc.advisories)}")
            lines.extend(mc.advisories)
    advisories = sum(len(mc.advisories) for mc in report.models)
    note = (
        f" ({advisories} {'advisory' if advisories == 1 else 'advisories'}, not failures)"
        if advisories
        else ""
    )
    lines.append(f"result: OK{note}" if report.ok else "result: FAILED")
    return "\n".join(lines)


README_HEAD = """# specs/: the state machines of Eclipse

Each machine is declared once here, in TOML: states (initial, terminal, in flight), events, transitions with
named guards (the first row whose guard holds wins), the invariants that concern it, each with the suites
that enforce it and the registered checkers that do (`checkers`, `<machine>.<suite>.<check>`), and the
numbers its text states (`[constants]`, written into the text as `{name}`). The python-statemachine classes
in `python/eclipse/machines/` must describe the same graph; `eclipse specs check` verifies that both ways,
verifies that every checker an invariant names is registered in the code
(`python/eclipse/machines/checkers.py`) and every registered checker is named by an invariant, compares each
constant with the code constants it names (or makes sure a checker reads it), runs the conformance checkers
and the bounded model check (regular orders with the posture, and conditional orders) and prints the result.
At run time the machines execute as tables compiled from those classes (one dict lookup per event).

This file is generated: `eclipse specs readme --write` rewrites it, and a test fails when it is out of date.
"""


def _section(spec: Spec) -> str:
    inv = "\n".join(
        f"- `{i.name}` ({', '.join(i.suites)}): {i.statement}. "
        f"Checkers: {', '.join(f'`{c}`' for c in i.checkers)}"
        for i in spec.invariants
    )
    consts = "\n".join(
        f"- `{c.name}` = {c.value}: {c.meaning}"
        + (f" (equals {', '.join(f'`{r}`' for r in c.code)})" if c.code else "")
        for c in spec.constants
    )
    terminal = ", ".join(f"`{s}`" for s in sorted(spec.terminal)) or "none"
    in_flight = ", ".join(f"`{s}`" for s in sorted(spec.in_flight)) or "none"
    flags = f"Initial: `{spec.initial}`. Terminal: {terminal}. In flight: {in_flight}."
    return (
        f"## {spec.name}\n\n{spec.description}\n\n{flags}\n\n```mermaid\n{render.mermaid(spec)}\n```\n\n"
        f"{render.table(spec)}\n\nInvariants:\n\n{inv or '- none'}\n\nConstants:\n\n{consts or '- none'}\n"
    )


def readme_text(spec_dir: Path) -> str:
    """The generated ``specs/README.md``."""
    specs = load_specs(spec_dir)
    return README_HEAD + "\n" + "\n".join(_section(s) for s in specs.values())
