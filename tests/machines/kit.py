"""Shared checks of the machine test suites: a broken copy of a spec is caught, every invariant is bound to
checkers the suites use, and mutated copies of specs/ (one row removed, one value changed) for the tests that
show a check failing."""

from __future__ import annotations

import dataclasses
import re
import shutil
import tomllib
from pathlib import Path

from statemachine import StateMachine
from statemachine.exceptions import TransitionNotAllowed

from eclipse.machines.checkers import registry
from eclipse.machines.conformance import differences
from eclipse.machines.spec import Row, Spec, find_spec_dir
from eclipse.machines.table import CompiledMachine, Runner, compile_spec

SPECS = find_spec_dir(Path(__file__))


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


def assert_checkers_bound(spec: Spec, code: CompiledMachine, property_tests: Path) -> None:
    """Every checker the spec's invariants name is used: a conformance checker passes on the code's table, a
    property checker is called by the property test module (its function is named there)."""
    reg = registry()
    props = property_tests.read_text(encoding="utf-8")
    for name, inv in spec.checkers.items():
        ch = reg[name]
        if ch.suite == "conformance":
            assert ch.func(code) == [], f"{inv}: {name} fails on the code's table"
        elif ch.suite == "property":
            assert re.search(rf"\b{ch.func.__name__}\(", props), (
                f"{inv}: {property_tests.name} never calls {name} ({ch.func.__name__})"
            )


def chunks(text: str) -> list[str]:
    """A spec file split before each ``[[...]]`` or ``[...]`` header (the first chunk is the preamble)."""
    return re.split(r"(?m)^(?=\[)", text)


def is_row(chunk: str, source: str, event: str, target: str, guard: str | None = None) -> bool:
    """``chunk`` is the ``[[transition]]`` source --event[guard]--> target."""
    if not chunk.startswith("[[transition]]"):
        return False
    t = tomllib.loads(chunk.replace("[[transition]]", "", 1))
    return (t["source"], t["event"], t["target"], t.get("guard")) == (source, event, target, guard)


def is_invariant(chunk: str, name: str) -> bool:
    """``chunk`` is the ``[[invariant]]`` named ``name``."""
    if not chunk.startswith("[[invariant]]"):
        return False
    return bool(tomllib.loads(chunk.replace("[[invariant]]", "", 1))["name"] == name)


def copy_specs(tmp_path: Path) -> Path:
    """A copy of specs/ under ``tmp_path``; its directory."""
    spec_dir = tmp_path / "specs"
    shutil.copytree(SPECS, spec_dir)
    return spec_dir


def drop_row(
    spec_dir: Path, machine: str, source: str, event: str, target: str, guard: str | None = None
) -> Path:
    """Remove one transition row from ``spec_dir/<machine>.toml``; the file's path."""
    path = spec_dir / f"{machine}.toml"
    parts = chunks(path.read_text(encoding="utf-8"))
    kept = [c for c in parts if not is_row(c, source, event, target, guard)]
    assert len(kept) == len(parts) - 1, (machine, source, event, target, guard)
    path.write_text("".join(kept), encoding="utf-8")
    return path


def drop_invariant(spec_dir: Path, machine: str, name: str) -> Path:
    """Remove the ``[[invariant]]`` ``name`` from ``spec_dir/<machine>.toml``; the file's path."""
    path = spec_dir / f"{machine}.toml"
    parts = chunks(path.read_text(encoding="utf-8"))
    kept = [c for c in parts if not is_invariant(c, name)]
    assert len(kept) == len(parts) - 1, (machine, name)
    path.write_text("".join(kept), encoding="utf-8")
    return path


def set_constant(spec_dir: Path, machine: str, name: str, value: int) -> Path:
    """Change the value of constant ``name`` in ``spec_dir/<machine>.toml``; the file's path."""
    path = spec_dir / f"{machine}.toml"
    text = path.read_text(encoding="utf-8")
    changed, n = re.subn(rf"(?m)^({name} = {{ value = )\d+", rf"\g<1>{value}", text)
    assert n == 1, (machine, name)
    path.write_text(changed, encoding="utf-8")
    return path


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
