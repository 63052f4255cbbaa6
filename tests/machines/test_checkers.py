"""Invariants are bound to the code both ways, as the graph is: every checker an invariant names is registered
(python/eclipse/machines/checkers.py), every registered checker is named by an invariant, and every spec
constant is read by a checker or equal to the code constant it names. Removing an invariant from a copy of
specs/ (``trade_id_applied_once``, ``venue_flat_always_wins``) or changing a number (K) fails the check,
naming what came loose.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eclipse.machines.check import render_check, run_check
from eclipse.machines.checkers import Checker, binding_problems, constant_problems, register, registry
from eclipse.machines.spec import load_spec, load_specs

from .kit import SPECS, copy_specs, drop_invariant, set_constant

SMALL = 2  # model-check depth for run_check on mutated copies: the bindings are what these tests are about


def test_every_invariant_and_constant_is_bound() -> None:
    specs = load_specs(SPECS)
    assert binding_problems(specs) == []
    assert constant_problems(specs) == []
    reg = registry()
    declared = {name for spec in specs.values() for name in spec.checkers}
    assert declared == set(reg)
    for name, ch in reg.items():
        machine, suite, _ = name.split(".")
        assert (ch.machine, ch.suite) == (machine, suite)
        assert callable(ch.func), name
        assert ch.func.__doc__, name


def test_every_suite_an_invariant_lists_has_a_checker_of_that_suite() -> None:
    for spec in load_specs(SPECS).values():
        for inv in spec.invariants:
            assert {c.split(".")[1] for c in inv.checkers} == set(inv.suites), inv.name


@pytest.mark.parametrize(
    ("machine", "invariant", "checkers"),
    [
        (
            "order",
            "trade_id_applied_once",
            [
                "order.model_check.trade_id_applied_once",
                "order.property.trade_id_applied_once",
                "order.run.no_fill_counted_twice",
            ],
        ),
        ("order", "client_order_id_placed_once", ["order.run.client_order_id_placed_once"]),
        ("protection", "venue_flat_always_wins", ["protection.conformance.position_closed_leads_to_flat"]),
    ],
)
def test_removing_an_invariant_leaves_its_checkers_undeclared(
    tmp_path: Path, machine: str, invariant: str, checkers: list[str]
) -> None:
    spec_dir = copy_specs(tmp_path)
    drop_invariant(spec_dir, machine, invariant)
    problems = binding_problems(load_specs(spec_dir))
    assert len(problems) == len(checkers)
    for name, problem in zip(sorted(checkers), problems, strict=True):
        assert problem.startswith(f"{machine}: checker {name} (")
        assert f"is undeclared: no invariant of {spec_dir / f'{machine}.toml'} names it" in problem
    report = run_check(spec_dir, SMALL)
    assert not report.ok
    text = render_check(report)
    assert f"bindings: FAILED ({len(checkers)})" in text
    assert all(name in text for name in checkers)
    assert text.endswith("result: FAILED")


def test_the_real_specs_pass_run_check_at_a_small_depth() -> None:
    report = run_check(SPECS, SMALL)
    assert report.ok, render_check(report)
    text = render_check(report)
    assert "bindings: ok (" in text
    assert "model check (regular): depth 2" in text
    assert "model check (conditional): depth 2" in text
    assert [m.configuration for m in report.models] == ["regular", "conditional"]


def test_a_checker_the_code_does_not_register_is_named(tmp_path: Path) -> None:
    spec_dir = copy_specs(tmp_path)
    path = spec_dir / "reconcile.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(
            'checkers = ["reconcile.conformance.failures_reach_backoff"]',
            'checkers = ["reconcile.conformance.failures_reach_backoff", "reconcile.conformance.ghost"]',
        ),
        encoding="utf-8",
    )
    assert binding_problems(load_specs(spec_dir)) == [
        "reconcile: invariant failures_reach_backoff names checker reconcile.conformance.ghost, which the "
        "code does not register (see eclipse.machines.checkers)"
    ]


def test_a_constant_nothing_reads_or_compares_is_named(tmp_path: Path) -> None:
    spec_dir = copy_specs(tmp_path)
    path = spec_dir / "order.toml"
    path.write_text(path.read_text(encoding="utf-8") + 'spare = { value = 7, meaning = "unused" }\n', "utf-8")
    assert binding_problems(load_specs(spec_dir)) == [
        "order: constant spare is neither read by a declared checker nor bound to a code constant "
        "(code = [...])"
    ]


def test_a_checker_reading_a_constant_the_spec_lacks_is_named() -> None:
    specs = load_specs(SPECS)
    reg = dict(registry())
    ch = reg["order.model_check.one_live_order"]
    reg[ch.name] = Checker(ch.name, ch.machine, ch.suite, ch.func, ("ghost",))
    assert binding_problems(specs, reg) == [
        "order: checker order.model_check.one_live_order reads constant ghost, which the spec does not define"
    ]


@pytest.mark.parametrize("k", [1, 3])
def test_changing_k_in_reconcile_toml_fails_the_check(tmp_path: Path, k: int) -> None:
    """K of converges_within_k_cycles is a typed constant: the check compares it with the code's K_CYCLES, the
    model check and the property suite read it (test_mutations.py, test_reconcile_properties.py)."""
    spec_dir = copy_specs(tmp_path)
    set_constant(spec_dir, "reconcile", "k_cycles", k)
    spec = load_spec(spec_dir / "reconcile.toml")
    assert f"K={k}" in spec.description
    assert f"K={k}" in next(i.statement for i in spec.invariants if i.name == "converges_within_k_cycles")
    assert constant_problems(load_specs(spec_dir)) == [
        f"reconcile: constant k_cycles = {k} in the spec, but eclipse.machines.reconcile:K_CYCLES = 2 in "
        "the code"
    ]
    report = run_check(spec_dir, SMALL)
    assert not report.ok
    assert "eclipse.machines.reconcile:K_CYCLES = 2" in render_check(report)


def test_changing_the_backoff_factor_fails_the_check(tmp_path: Path) -> None:
    spec_dir = copy_specs(tmp_path)
    set_constant(spec_dir, "reconcile", "backoff_factor", 3)
    assert "base_backoff * 3^(n-1)" in render_check_statement(spec_dir)
    assert constant_problems(load_specs(spec_dir)) == [
        "reconcile: constant backoff_factor = 3 in the spec, but "
        "eclipse.machines.reconcile:BACKOFF_FACTOR = 2 in the code"
    ]


def render_check_statement(spec_dir: Path) -> str:
    spec = load_spec(spec_dir / "reconcile.toml")
    return next(i.statement for i in spec.invariants if i.name == "backoff_capped_exponential")


def test_a_failing_conformance_checker_fails_run_check(tmp_path: Path) -> None:
    """run_check runs every declared conformance checker on the code's table; a spec whose invariant names a
    conformance checker that does not hold for the code (posture's red_lock rule checked on the reconcile
    table, say) fails, naming it."""
    spec_dir = copy_specs(tmp_path)
    path = spec_dir / "reconcile.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            'checkers = ["reconcile.conformance.failures_reach_backoff"]',
            'checkers = ["reconcile.conformance.failures_reach_backoff", '
            '"reconcile.conformance.always_fails"]',
        ),
        encoding="utf-8",
    )

    @register("reconcile.conformance.always_fails")
    def always_fails(table: object) -> list[str]:
        """A checker that finds a problem everywhere."""
        return ["broken on purpose"]

    try:
        report = run_check(spec_dir, SMALL)
        assert not report.ok
        assert any(
            "reconcile.conformance.always_fails (failures_reach_backoff): broken on purpose" in p
            for m in report.machines
            for p in m.checker_problems
        )
    finally:
        from eclipse.machines import checkers

        del checkers._REGISTRY["reconcile.conformance.always_fails"]


def test_register_refuses_bad_names_and_a_second_function() -> None:
    with pytest.raises(ValueError, match="not <machine>"):
        register("nope")

    def other(table: object) -> list[str]:
        return []

    with pytest.raises(ValueError, match="registered twice"):
        register("order.conformance.trigger_rows")(other)
