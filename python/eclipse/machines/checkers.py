"""The checkers registry: the code that enforces each invariant of ``specs/*.toml``, by name, bound both ways.

Every ``[[invariant]]`` of a spec names its checkers (``<machine>.<suite>.<check>``, e.g.
``checkers = ["order.model_check.one_live_order", ...]``). The modules in :data:`CHECKER_MODULES` register
each checker with :func:`register` where it is implemented:

* ``conformance``: a function of the code's compiled table (``CompiledMachine -> list[str]`` of problems),
  run by ``eclipse specs check`` on every machine (:mod:`eclipse.machines.invariants.conformance`);
* ``property``: a function the property suites (``tests/machines/test_*_properties.py``) call after every
  step, comparing the tracker with the test's own record of what happened (``-> list[str]`` of problems;
  :mod:`eclipse.machines.invariants`);
* ``model_check``: a check the bounded model check runs in every reachable state or transition
  (:mod:`eclipse.machines.modelcheck.checks`, :mod:`eclipse.machines.modelcheck.posture`);
* ``run``: a function of a whole run's evidence (journal, telemetry, the venue's own state), run by the
  chaos scenarios, the crash suite and ``eclipse simtest`` (:mod:`eclipse.proof.checkers`; imported by
  name only: the formal core does not depend on the layers above it).

:func:`binding_problems` is the two-way check, as conformance is for the graph: every checker a spec names is
registered, of that machine and suite, and every registered checker is named by an invariant of its machine's
spec (removing an invariant from a spec leaves its checkers undeclared, and the check fails naming them). A
checker that reads spec constants declares them (``reads``); each constant must exist, and a spec constant is
either read by a declared checker or compared with the code constants its ``code`` names
(:func:`constant_problems`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, TypeVar

from eclipse.machines.spec import Spec, checker_parts

__all__ = [
    "CHECKER_MODULES",
    "Checker",
    "binding_problems",
    "constant_problems",
    "register",
    "registry",
]

CHECKER_MODULES: Final = (
    "eclipse.machines.invariants.conformance",
    "eclipse.machines.invariants.order",
    "eclipse.machines.invariants.protection",
    "eclipse.machines.invariants.reconcile",
    "eclipse.machines.invariants.posture",
    "eclipse.machines.modelcheck.checks",
    "eclipse.machines.modelcheck.posture",
    "eclipse.proof.checkers",
)
"""The modules that register checkers (imported by :func:`registry`)."""


@dataclass(frozen=True, slots=True)
class Checker:
    """One registered checker: its name's parts, the function, and the spec constants it reads."""

    name: str
    machine: str
    suite: str
    func: Callable[..., Any]
    reads: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """``module.function`` of the implementation (for messages)."""
        return f"{self.func.__module__}.{self.func.__qualname__}"


_REGISTRY: dict[str, Checker] = {}

F = TypeVar("F", bound=Callable[..., Any])


def register(name: str, *, reads: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Decorator: register the function as checker ``name`` (``<machine>.<suite>.<check>``); ``reads`` names
    the spec constants of that machine it reads. The function is returned unchanged."""
    parts = checker_parts(name)
    if parts is None:
        raise ValueError(
            f"checker name {name!r} is not <machine>.<conformance|property|model_check|run>.<check>"
        )

    def deco(func: F) -> F:
        old = _REGISTRY.get(name)
        if old is not None and (old.func.__module__, old.func.__qualname__) != (
            func.__module__,
            func.__qualname__,
        ):
            raise ValueError(f"checker {name!r} is registered twice: {old.where} and {func.__qualname__}")
        _REGISTRY[name] = Checker(name, parts[0], parts[1], func, reads)
        return func

    return deco


def registry() -> Mapping[str, Checker]:
    """Every registered checker by name (imports :data:`CHECKER_MODULES` first)."""
    for module in CHECKER_MODULES:
        importlib.import_module(module)
    return MappingProxyType(_REGISTRY)


def binding_problems(specs: Mapping[str, Spec], registered: Mapping[str, Checker] | None = None) -> list[str]:
    """Every broken binding between the specs' invariants and the registered checkers, as readable lines:
    a named checker the code does not register, a registered checker no invariant names (undeclared), a
    checker reading a constant its spec lacks, a spec constant neither read by a checker nor bound to code."""
    reg = registry() if registered is None else registered
    out: list[str] = []
    declared: dict[str, tuple[str, str]] = {}
    for spec in specs.values():
        for inv in spec.invariants:
            for name in inv.checkers:
                declared[name] = (spec.name, inv.name)
                if name not in reg:
                    out.append(
                        f"{spec.name}: invariant {inv.name} names checker {name}, which the code does not "
                        f"register (see eclipse.machines.checkers)"
                    )
    for name, ch in sorted(reg.items()):
        owner = specs.get(ch.machine)
        if owner is None or name not in declared:
            where = f"specs/{ch.machine}.toml" if owner is None else str(owner.path or owner.name)
            missing = " (no spec for that machine)" if owner is None else ""
            out.append(
                f"{ch.machine}: checker {name} ({ch.where}) is undeclared: no invariant of {where}{missing} "
                "names it"
            )
            continue
        names = {c.name for c in owner.constants}
        out.extend(
            f"{ch.machine}: checker {name} reads constant {const}, which the spec does not define"
            for const in ch.reads
            if const not in names
        )
    for spec in specs.values():
        read = {c for name in spec.checkers if name in reg for c in reg[name].reads}
        out.extend(
            f"{spec.name}: constant {const.name} is neither read by a declared checker nor bound to a code "
            "constant (code = [...])"
            for const in spec.constants
            if not const.code and const.name not in read
        )
    return out


def constant_problems(specs: Mapping[str, Spec]) -> list[str]:
    """Every spec constant whose ``code`` constants are missing or differ from the spec's value."""
    out: list[str] = []
    for spec in specs.values():
        for const in spec.constants:
            for ref in const.code:
                module, attr = ref.split(":")
                try:
                    value = getattr(importlib.import_module(module), attr)
                except (ImportError, AttributeError) as exc:
                    out.append(f"{spec.name}: constant {const.name}: code constant {ref} not found ({exc})")
                    continue
                if isinstance(value, bool) or not isinstance(value, int | float) or value != const.value:
                    out.append(
                        f"{spec.name}: constant {const.name} = {const.value} in the spec, but "
                        f"{ref} = {value!r} in the code"
                    )
    return out
