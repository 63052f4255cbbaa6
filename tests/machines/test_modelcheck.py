"""The bounded model check of the order lifecycle: the real spec at the default depth (which exhausts the
reachable state space of the order machine composed with the posture, ~780,000 states in ~60 s on the
2-core machine), the report, the rendering, and the
model's machine semantics against the run-time Runner."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from eclipse.machines.modelcheck import (
    DEFAULT_DEPTH,
    Report,
    Step,
    Violation,
    check,
    main,
    render_report,
    render_violation,
)
from eclipse.machines.modelcheck.model import Model, ModelError
from eclipse.machines.modelcheck.world import GUARDS, Attempt, World
from eclipse.machines.spec import SpecError, find_spec_dir, load_spec
from eclipse.machines.table import Runner

SPECS = find_spec_dir(Path(__file__))
SPEC_INVARIANTS = {
    i.name
    for name in ("order.toml", "posture.toml")
    for i in load_spec(SPECS / name).invariants
    if "model_check" in i.suites
}


@pytest.fixture(scope="module")
def current() -> Report:
    """The real specs/order.toml at the default depth (one run shared by the tests of this module)."""
    return check(SPECS, DEFAULT_DEPTH)


def test_report_has_the_expected_fields(current: Report) -> None:
    assert current.depth == DEFAULT_DEPTH
    assert current.states_explored > 500_000  # measured: ~780,000 (the whole reachable space)
    assert current.transitions > current.states_explored
    assert current.exhausted, "the default depth should exhaust the reachable state space"
    assert sum(current.states_per_level) == current.states_explored
    assert current.states_per_level[0] == 1
    assert isinstance(current.violations, tuple)
    assert all(isinstance(v, Violation) for v in (*current.violations, *current.advisories))
    with pytest.raises(dataclasses.FrozenInstanceError):
        current.depth = 1  # type: ignore[misc]


def test_current_spec_keeps_every_spec_invariant(current: Report) -> None:
    """Every invariant of specs/order.toml holds in every reachable state (reconcile convergence aside)."""
    broken = {v.invariant for v in current.violations} & SPEC_INVARIANTS
    assert not broken, "\n".join(render_violation(v) for v in current.violations)


def test_current_spec_passes(current: Report) -> None:
    """specs/order.toml keeps every invariant and reconcile converges within K=2 from every reachable state
    (it failed before the late-reduction rows out of canceled were added: the model check found that gap)."""
    assert current.ok, render_report(current)
    assert current.exhausted
    assert 1 <= current.max_reconcile_cycles <= 2


def test_small_depth_is_fast_and_bounded() -> None:
    report = check(SPECS, 3)
    assert report.depth == 3
    assert not report.exhausted
    assert len(report.states_per_level) == 4
    assert report.states_per_level[:2] == (1, 3)  # initial; submit accepted, rejected or lost


def test_render_report_and_violation() -> None:
    report = check(SPECS, 4)
    text = render_report(report)
    assert "depth 4" in text
    assert f"{report.states_explored:,} states" in text
    assert text.splitlines()[-1] in ("result: OK", f"result: FAILED ({len(report.violations)} invariant(s))")
    w = Model.of(load_spec(SPECS / "order.toml")).initial()
    v = Violation("x", (Step("initial", w), Step("submit #1", w)), "why")
    lines = render_violation(v).splitlines()
    assert lines[0] == "VIOLATION x: why"
    assert lines[1].strip() == "0. initial"
    assert lines[2].strip().startswith("=> #1 bot created 0/2 | venue none 0/2")
    assert lines[3].strip() == "1. submit #1"


def test_main_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--specs", str(SPECS), "--depth", "3"])
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert out.startswith("order model check: depth 3")


def test_main_reports_a_missing_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--specs", str(tmp_path), "--depth", "1"]) == 2
    assert "no order.toml" in capsys.readouterr().err


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="depth"):
        check(SPECS, -1)
    with pytest.raises(SpecError, match=r"no order\.toml"):
        check(tmp_path, 1)


def test_model_refuses_a_spec_it_cannot_drive(tmp_path: Path) -> None:
    text = (SPECS / "order.toml").read_text(encoding="utf-8")
    path = tmp_path / "order.toml"
    path.write_text(text.replace('guard = "has_fills"', 'guard = "is_tuesday"'), encoding="utf-8")
    with pytest.raises(ModelError, match="is_tuesday"):
        Model.of(load_spec(path))


def test_model_fires_like_the_runner() -> None:
    """The model's table semantics equal the run-time Runner's for every state, event and small quantity."""
    spec = load_spec(SPECS / "order.toml")
    model = Model.of(spec)
    for state, event, (filled, qty) in itertools.product(
        spec.states, spec.events, [(f, q) for q in (1, 2) for f in range(q + 1)]
    ):
        runner = Runner(model.machine, GUARDS, state=state)
        expected = runner.fire(event, (filled, qty)).target
        a = Attempt(state, qty, (), False, "none", qty, 0)
        got = model.fire(a, 0, event, (filled, qty), [], []).local
        assert got == expected, (state, event, filled, qty)


def test_reconcile_brings_a_missed_fill() -> None:
    model = Model.of(load_spec(SPECS / "order.toml"))
    a = Attempt("accepted", 2, (), False, "open", 2, 1)  # the venue filled t1; the report was lost
    w = World((a,), ())
    cycles, steps = model.converge(w)
    assert cycles == 1
    assert steps[-1][1].attempts[0] == Attempt("partially_filled", 2, (1,), False, "open", 2, 1)


def test_posture_composed_and_every_posture_visited(current: Report) -> None:
    """The posture machine from specs/posture.toml is composed in: every posture is reached, and its
    model_check invariants (never_blocks_exits_or_protection, escalation_immediate, no_flapping,
    warmup_before_normal) hold in every reachable state."""
    assert current.postures_visited == ("green", "yellow", "orange", "red_lock", "post_red_warmup")
    assert "postures visited: green, yellow, orange, red_lock, post_red_warmup" in render_report(current)
    posture = {i.name for i in load_spec(SPECS / "posture.toml").invariants if "model_check" in i.suites}
    assert posture == {
        "never_blocks_exits_or_protection",
        "escalation_immediate",
        "no_flapping",
        "warmup_before_normal",
    }
    assert not {v.invariant for v in current.violations} & posture


def test_without_posture_spec_the_order_machine_alone_is_checked(tmp_path: Path) -> None:
    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    (spec_dir / "order.toml").write_text((SPECS / "order.toml").read_text(encoding="utf-8"), encoding="utf-8")
    report = check(spec_dir, 6)
    assert report.postures_visited == ()
    assert report.ok
