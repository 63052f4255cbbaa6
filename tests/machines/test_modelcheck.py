"""The bounded model check of the order lifecycle: the real specs at the default depths, which exhaust the
reachable state spaces of both configurations (regular orders composed with the posture: 321,654 states;
conditional orders: 309,930 states; the two run at once, ~12 s on the 2-core machine), the report, the
rendering, the conditional orders' rules, the sizing of a resubmission, and the model's machine semantics
against the run-time Runner."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from eclipse.machines.modelcheck import (
    CONDITIONAL_DEPTH,
    DEFAULT_DEPTH,
    Report,
    Step,
    Violation,
    check,
    check_all,
    main,
    render_report,
    render_violation,
)
from eclipse.machines.modelcheck.checks import intent_filled_within_quantity
from eclipse.machines.modelcheck.model import Model, ModelError
from eclipse.machines.modelcheck.world import GUARDS, Attempt, Msg, World
from eclipse.machines.spec import SpecError, find_spec_dir, load_spec, load_specs
from eclipse.machines.table import Runner

SPECS = find_spec_dir(Path(__file__))
SPEC_INVARIANTS = {
    i.name for spec in load_specs(SPECS).values() for i in spec.invariants if "model_check" in i.suites
}
ORDER = load_spec(SPECS / "order.toml")
K = int(load_spec(SPECS / "reconcile.toml").constant("k_cycles"))


@pytest.fixture(scope="module")
def reports() -> tuple[Report, ...]:
    """Both configurations of the real specs at their default depths, run at once (shared by the module)."""
    return check_all(SPECS)


@pytest.fixture(scope="module")
def current(reports: tuple[Report, ...]) -> Report:
    """Regular orders composed with the posture."""
    return reports[0]


@pytest.fixture(scope="module")
def conditional(reports: tuple[Report, ...]) -> Report:
    """Conditional orders."""
    return reports[1]


def test_report_has_the_expected_fields(current: Report) -> None:
    assert current.depth == DEFAULT_DEPTH
    assert current.states_explored > 250_000  # measured: 321,654 (the whole reachable space)
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
    assert (current.configuration, current.k_cycles) == ("regular", K)
    assert current.max_reconcile_cycles == K - 1  # one repairing cycle, then a clean one
    assert current.convergence == "converges_within_k_cycles"
    assert current.advisories == ()  # intent_filled_within_quantity, the last advisory, is an invariant now


def test_intent_filled_within_quantity_is_a_model_checked_invariant(
    current: Report, conditional: Report
) -> None:
    """The orders of one intent never fill more than its quantity between them (the spec's invariant, no
    longer an advisory): checked in every reachable state of both configurations, and none breaks it."""
    assert "intent_filled_within_quantity" in SPEC_INVARIANTS
    inv = next(i for i in ORDER.invariants if i.name == "intent_filled_within_quantity")
    assert "order.model_check.intent_filled_within_quantity" in inv.checkers
    for report in (current, conditional):
        assert "intent_filled_within_quantity" not in {
            v.invariant for v in (*report.violations, *report.advisories)
        }


def test_conditional_orders_pass_and_are_exhausted(conditional: Report) -> None:
    """Conditional orders (trigger, the order it became filling unit by unit, fills attributed only once the
    trigger link is known, restarts, cancels racing triggers): every invariant holds, the state space is
    exhausted within CONDITIONAL_DEPTH, and every reachable state converges within K."""
    assert conditional.ok, render_report(conditional)
    assert conditional.exhausted
    assert conditional.depth == CONDITIONAL_DEPTH
    assert conditional.states_explored > 250_000  # measured: 309,930
    assert (conditional.configuration, conditional.k_cycles, conditional.max_reconcile_cycles) == (
        "conditional",
        K,
        K - 1,
    )
    assert conditional.postures_visited == ()
    assert render_report(conditional).startswith("conditional orders model check: depth")


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
    model = Model.of(ORDER, k_cycles=K)
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


# --- the conditional orders' rules ------------------------------------------------------------------------
def cond() -> Model:
    return Model.of(ORDER, k_cycles=K, conditional=True)


def after(model: Model, w: World, prefix: str) -> World:
    """The world the first successor whose action starts with ``prefix`` leads to."""
    for s in model.successors(w):
        if s.action.startswith(prefix):
            return s.world
    raise AssertionError(f"no action {prefix!r} among {[s.action for s in model.successors(w)]}")


def test_a_fill_before_the_trigger_link_is_known_is_not_applied_then_reconcile_applies_it() -> None:
    model = cond()
    a = Attempt(
        "accepted", 2, (), False, "triggered", 2, 1
    )  # triggered and filled t1; the trigger report lost
    w = after(model, World((a,), (Msg(0, "fill", 1),)), "deliver fill#1 t1")
    assert w.attempts[0] == a  # not attributed: the bot does not know the order it became
    cycles, steps = model.converge(w)
    assert cycles == 1
    assert steps[-1][1].attempts[0] == Attempt("triggered", 2, (1,), False, "triggered", 2, 1, True)


def test_a_restart_forgets_the_links_not_journaled_and_reconcile_finds_them() -> None:
    model = cond()
    a = Attempt("canceled", 2, (), False, "canceled", 2, 1, True)  # link learned, trigger refused (stale)
    b = Attempt("triggered", 2, (1,), False, "triggered", 2, 1, True)
    for attempt, kept in ((a, False), (b, True)):
        w = after(model, World((attempt,), (Msg(0, "ack"),)), "restart")
        assert w.channel == ()
        assert w.attempts[0].linked is kept
    restarted = World((a._replace(linked=False),), ())
    cycles, steps = model.converge(restarted)
    assert cycles == 1  # the lookup finds it triggered, learns the link, applies t1 as a late fill
    assert steps[-1][1].attempts[0].applied == (1,)


def test_a_cancel_races_the_trigger() -> None:
    model = cond()
    w = World((Attempt("accepted", 2, (), False, "open", 2, 0),), ())
    raced = after(model, w, "cancel #1 (the venue triggers it first")
    assert raced.attempts[0].local == "pending_cancel"
    assert raced.attempts[0].venue == "triggered"
    assert sorted(m.event for m in raced.channel) == ["cancel_rejected", "trigger"]
    for first in ("deliver trigger#1", "deliver cancel_rejected#1"):
        w2 = after(model, raced, first)
        w3 = after(model, w2, "deliver trigger#1" if "cancel" in first else "deliver cancel_rejected#1")
        assert w3.attempts[0].local == "triggered"
        assert w3.attempts[0].linked


def test_an_untriggered_conditional_never_fills() -> None:
    model = cond()
    w = World((Attempt("accepted", 2, (), False, "open", 2, 0),), ())
    actions = [s.action for s in model.successors(w)]
    assert "venue triggers #1" in actions
    assert not any(a.startswith("venue fills") for a in actions)
    trig = after(model, w, "venue triggers #1")
    assert any(s.action.startswith("venue fills t1") for s in model.successors(trig))


# --- one intent's quantity --------------------------------------------------------------------------------
def test_intent_filled_within_quantity_counts_every_attempt_at_the_venue_and_in_the_books() -> None:
    first = Attempt("canceled", 2, (1,), False, "canceled", 2, 1)
    second = Attempt("filled", 1, (1,), False, "filled", 1, 1)
    assert intent_filled_within_quantity((first, second), 2) == []
    assert intent_filled_within_quantity((first._replace(vfilled=2), second), 2) == [
        "the venue filled 3 units for an intent of 2 (#1 2, #2 1)"
    ]
    assert intent_filled_within_quantity((first._replace(applied=(1, 2), vfilled=2), second), 2) == [
        "the venue filled 3 units for an intent of 2 (#1 2, #2 1)",
        "the bot applied 3 units for an intent of 2 (#1 2, #2 1)",
    ]


def resubmissions(model: Model, w: World) -> list[str]:
    return [s.action for s in model.successors(w) if s.action.startswith("resubmit")]


def test_a_resubmission_is_sized_from_the_venue_confirmed_fills_not_the_applied_ones() -> None:
    """A cancel raced by fills: the cancel is confirmed while the fills are still in flight. The bot has
    applied none of them; the venue's final report says how much filled, and that sizes the next order."""
    model = Model.of(ORDER, k_cycles=K)
    raced = Attempt("canceled", 2, (), False, "filled", 2, 2)
    in_flight = (Msg(0, "fill", 1), Msg(0, "fill", 2))
    assert resubmissions(model, World((raced,), in_flight)) == []  # the venue filled it all
    partly = Attempt("canceled", 2, (), False, "canceled", 2, 1)
    assert resubmissions(model, World((partly,), in_flight[:1])) == ["resubmit: attempt #2 for 1"]
    never = Attempt("canceled", 2, (), False, "canceled", 2, 0)
    assert resubmissions(model, World((never,), ())) == ["resubmit: attempt #2 for 2"]
    assert model.resubmit_quantity((raced,)) == 0
