"""The machine framework: spec loading and validation, the table runner, conformance and rendering."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from eclipse.cli import main
from eclipse.machines import render
from eclipse.machines.conformance import differences
from eclipse.machines.spec import Row, SpecError, find_spec_dir, load_spec, load_specs
from eclipse.machines.table import Refusal, Runner, compile_spec

SPECS = find_spec_dir(Path(__file__))

TOY = """
[machine]
name = "toy"
description = "a toy"
initial = "a"
states = ["a", "b", "done"]
terminal = ["done"]
in_flight = ["b"]

[[transition]]
source = "a"
event = "go"
target = "b"
guard = "first"

[[transition]]
source = "a"
event = "go"
target = "done"
guard = "second"

[[transition]]
source = "b"
event = "finish"
target = "done"

[[invariant]]
name = "ends"
statement = "it ends within {steps} steps"
suites = ["property"]
checkers = ["toy.property.ends"]

[constants]
steps = { value = 2, meaning = "steps to the end" }
"""


def write(tmp_path: Path, text: str, name: str = "toy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_toy_spec_loads(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, TOY))
    assert spec.events == ("go", "finish")
    assert spec.guards == ("first", "second")
    assert spec.terminal == {"done"}
    assert spec.invariants[0].checkers == ("toy.property.ends",)
    assert spec.checkers == {"toy.property.ends": "ends"}
    assert spec.invariants[0].statement == "it ends within 2 steps"  # the constant written into the text
    assert spec.constant("steps") == 2
    assert spec.constants[0].code == ()
    with pytest.raises(SpecError, match="no constant 'nope'"):
        spec.constant("nope")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('target = "done"\n\n[[invariant]]', 'target = "nowhere"\n\n[[invariant]]'),
            "unknown state nowhere",
        ),
        (('terminal = ["done"]', 'terminal = ["ghost"]'), "terminal names unknown states"),
        (('in_flight = ["b"]', 'in_flight = ["done"]'), "both terminal and in flight"),
        (('suites = ["property"]', 'suites = ["vibes"]'), "suites must name"),
        (('initial = "a"', "initial = 3"), "initial must be a non-empty string"),
        (("[machine]", "[machin]"), r"missing \[machine\] table"),
        (('states = ["a", "b", "done"]', 'states = ["a", "b", "done", "a"]'), "listed twice"),
        (('checkers = ["toy.property.ends"]', "checkers = []"), "checkers must name the registered"),
        (('checkers = ["toy.property.ends"]', 'checkers = ["ends"]'), "<machine>.<suite>.<check>"),
        (
            ('checkers = ["toy.property.ends"]', 'checkers = ["toy.property.ends", "toy.conformance.x"]'),
            "every suite listed needs a checker",
        ),
        (('checkers = ["toy.property.ends"]', 'checkers = ["other.property.ends"]'), "another machine"),
        (("within {steps} steps", "within {stops} steps"), r"\{stops\}, which is not in \[constants\]"),
        (("value = 2,", 'value = "2",'), "value must be a number"),
        (("value = 2,", "value = true,"), "value must be a number"),
        (('meaning = "steps to the end"', 'meaning = "x", code = ["nope"]'), "module:NAME"),
        (('meaning = "steps to the end"', 'meaning = "x", unit = "s"'), "unknown fields"),
    ],
)
def test_bad_specs_name_the_problem(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = TOY.replace(*change)
    assert text != TOY
    with pytest.raises(SpecError, match=message):
        load_spec(write(tmp_path, text))


def test_a_row_leaving_a_terminal_state_needs_a_note(tmp_path: Path) -> None:
    leave = '\n[[transition]]\nsource = "done"\nevent = "go"\ntarget = "a"\n'
    with pytest.raises(SpecError, match="needs a note"):
        load_spec(write(tmp_path, TOY + leave))
    load_spec(write(tmp_path, TOY + leave + 'note = "documented"\n'))


def test_runner_takes_the_first_row_whose_guard_holds(tmp_path: Path) -> None:
    machine = compile_spec(load_spec(write(tmp_path, TOY)))
    seen: list[Refusal] = []
    guards = {"first": lambda ctx: ctx == 1, "second": lambda ctx: ctx == 2}
    r = Runner(machine, guards, seen.append)
    assert r.fire("go", 2).target == "done"
    r = Runner(machine, guards, seen.append)
    out = r.fire("go", 1)
    assert (out.accepted, out.source, out.target, r.state) == (True, "a", "b", "b")


def test_refusals_leave_the_state_and_say_why(tmp_path: Path) -> None:
    machine = compile_spec(load_spec(write(tmp_path, TOY)))
    seen: list[Refusal] = []
    r = Runner(machine, {"first": lambda _: False, "second": lambda _: False}, seen.append)
    assert r.fire("go").refusal == Refusal("toy", "a", "go", "guard_failed")
    assert r.fire("finish").refusal == Refusal("toy", "a", "finish", "not_accepted")
    r.state = "done"
    out = r.fire("finish")
    assert out.refusal is not None
    assert out.refusal.reason == "stale_for_terminal"
    assert r.state == "done"
    assert r.terminal
    assert [x.reason for x in seen] == ["guard_failed", "not_accepted", "stale_for_terminal"]


def test_runner_refuses_missing_guards_and_unknown_states(tmp_path: Path) -> None:
    machine = compile_spec(load_spec(write(tmp_path, TOY)))
    with pytest.raises(ValueError, match="no predicate for guards"):
        Runner(machine, {"first": lambda _: True})
    with pytest.raises(ValueError, match="unknown state"):
        Runner(machine, {"first": lambda _: True, "second": lambda _: True}, state="zzz")


def test_conformance_sees_every_kind_of_difference(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, TOY))
    same = compile_spec(spec)
    assert differences(spec, same) == []
    rows = (*spec.rows[:2], Row("b", "finish", "a"))
    assert any(
        "b --finish[None]--> done is in the spec" in d
        for d in differences(spec, compile_spec(dataclasses.replace(spec, rows=rows)))
    )
    swapped = dataclasses.replace(spec, rows=(spec.rows[1], spec.rows[0], spec.rows[2]))
    assert any("guard order" in d for d in differences(spec, compile_spec(swapped)))
    other = dataclasses.replace(spec, terminal=frozenset(), in_flight=frozenset({"b", "done"}))
    found = differences(spec, compile_spec(other))
    assert any("terminal state 'done'" in d for d in found)
    assert any("in-flight state 'done'" in d for d in found)


def test_repo_specs_load() -> None:
    specs = load_specs(SPECS)
    assert "order" in specs
    assert all(spec.invariants for spec in specs.values())
    assert all(inv.checkers for spec in specs.values() for inv in spec.invariants)


def test_a_checker_named_by_two_invariants_is_refused(tmp_path: Path) -> None:
    twice = TOY + '\n[[invariant]]\nname = "again"\nstatement = "x"\nsuites = ["property"]\n'
    twice += 'checkers = ["toy.property.ends"]\n'
    with pytest.raises(SpecError, match="named by more than one invariant"):
        load_spec(write(tmp_path, twice))


def test_rendering_covers_every_row(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, TOY))
    assert render.table(spec).count("\n") == 1 + len(spec.rows)
    diagram = render.mermaid(spec)
    assert "a --> b: go [first]" in diagram
    assert "done --> [*]" in diagram


def test_specs_readme_is_up_to_date() -> None:
    from eclipse.machines.check import readme_text

    assert (SPECS / "README.md").read_text(encoding="utf-8") == readme_text(SPECS), (
        "specs/README.md is out of date: run `eclipse specs readme --write`"
    )


def test_cli_table_and_diagram(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["specs", "--specs", str(SPECS), "table", "order"]) == 0
    assert "| unknown | lookup_absent |  | absent |" in capsys.readouterr().out
    assert main(["specs", "--specs", str(SPECS), "diagram", "order"]) == 0
    assert capsys.readouterr().out.startswith("stateDiagram-v2")
    assert main(["specs", "--specs", str(SPECS), "table", "nope"]) == 2
    assert "no machine 'nope'" in capsys.readouterr().err
