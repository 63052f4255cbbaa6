"""The checks can fail: break one row of a copy of specs/order.toml and the model check must report it with a
counterexample, and conformance must report the spec no longer matches the original's table; change K in a
copy of specs/reconcile.toml and the model check, which reads K from it, must report the convergence it no
longer has; break one rule of the model (a resubmission sized from the fills the bot has applied, a fill
counted twice) and the model check must report the intent overfilled.

The mutants are checked at depth 8 (10 for conditional orders), not the default: their shortest
counterexamples take 2 to 8 actions, so these depths find them in about a second (the full depths are
exercised by test_modelcheck.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from eclipse.machines.conformance import differences
from eclipse.machines.modelcheck import Report, Violation, check, render_report, render_violation
from eclipse.machines.modelcheck.model import Model
from eclipse.machines.modelcheck.world import QUANTITY, Attempt, Fault
from eclipse.machines.spec import load_spec
from eclipse.machines.table import compile_spec

from .kit import SPECS, chunks, copy_specs, drop_row, is_row, set_constant

DEPTH = 8
CONDITIONAL = 10
_chunks, _is_row = chunks, is_row


def mutate(tmp_path: Path, edit: str) -> Path:
    """Copy specs/ to ``tmp_path`` and apply one edit to the copy's order.toml; the copy's directory."""
    spec_dir = tmp_path / "specs"
    shutil.copytree(SPECS, spec_dir)
    path = spec_dir / "order.toml"
    chunks = _chunks(path.read_text(encoding="utf-8"))
    if edit == "drop_late_fill":
        kept = [c for c in chunks if not _is_row(c, "canceled", "fill", "filled", "completes")]
        assert len(kept) == len(chunks) - 1
        chunks = kept
    elif edit == "filled_to_accepted":
        chunks.append(
            '\n[[transition]]\nsource = "filled"\nevent = "ack"\ntarget = "accepted"\n'
            'note = "a late ack after a fill before ack"\n'
        )
    elif edit == "cancel_taken_as_confirmed":
        hits = [
            i
            for i, c in enumerate(chunks)
            if _is_row(c, "partially_filled", "cancel_request", "pending_cancel")
        ]
        assert len(hits) == 1
        chunks[hits[0]] = chunks[hits[0]].replace('target = "pending_cancel"', 'target = "canceled"')
    elif edit == "transport_rejects":
        hits = [i for i, c in enumerate(chunks) if _is_row(c, "submitting", "transport_error", "unknown")]
        assert len(hits) == 1
        chunks[hits[0]] = chunks[hits[0]].replace('target = "unknown"', 'target = "rejected"')
    else:
        raise AssertionError(edit)
    path.write_text("".join(chunks), encoding="utf-8")
    return spec_dir


def violation(report: Report, invariant: str) -> Violation:
    """The report's violation of ``invariant`` (fails the test, showing the report, when there is none)."""
    for v in report.violations:
        if v.invariant == invariant:
            return v
    pytest.fail(f"no {invariant} violation:\n{render_report(report)}")


def changed_rows(spec_dir: Path) -> list[str]:
    """Conformance of the broken spec against the original spec's compiled table."""
    original = compile_spec(load_spec(SPECS / "order.toml"))
    return differences(load_spec(spec_dir / "order.toml"), original)


def test_unbroken_copy_has_none_of_the_mutants_violations(tmp_path: Path) -> None:
    spec_dir = tmp_path / "specs"
    shutil.copytree(SPECS, spec_dir)
    report = check(spec_dir, DEPTH)
    found = {v.invariant for v in report.violations}
    assert not found & {"terminal_states_absorb", "transport_errors_never_definitive"}
    assert not found & {"one_live_order_per_intent", "unknown_resolved_before_resubmit"}
    assert "intent_filled_within_quantity" not in found
    for v in report.violations:
        assert "fill refused in canceled" not in render_violation(v)
    assert not changed_rows(spec_dir)


def test_removing_the_late_fill_row_breaks_reconcile_convergence(tmp_path: Path) -> None:
    spec_dir = mutate(tmp_path, "drop_late_fill")
    report = check(spec_dir, DEPTH)
    v = violation(report, "converges_within_k_cycles")
    text = render_violation(v)
    # the venue filled the order after confirming the cancel; the bot is canceled and refuses the last fill
    last = v.trace[-1].state.attempts[0]
    assert (last.local, last.venue) == ("canceled", "filled")
    assert len(last.applied) < last.vfilled
    assert "fill refused in canceled" in v.trace[-1].action, text
    assert any("then confirms the cancel" in s.action for s in v.trace), text
    assert v.trace[0].action == "initial"
    # caught by convergence and by the fill the machine refused, not by the row checks
    assert {x.invariant for x in report.violations} == {"converges_within_k_cycles", "venue_fills_never_lost"}
    lost = violation(report, "venue_fills_never_lost")
    assert "refused in canceled although the venue filled it" in lost.detail
    assert changed_rows(spec_dir) == [
        "order: transition canceled --fill[completes]--> filled is in the code but not in the spec"
    ]


def test_a_row_from_filled_to_accepted_breaks_terminal_absorption(tmp_path: Path) -> None:
    spec_dir = mutate(tmp_path, "filled_to_accepted")
    report = check(spec_dir, DEPTH)
    v = violation(report, "terminal_states_absorb")
    assert "filled --ack--> accepted" in v.detail
    step = v.trace[-1]
    assert "ack: filled -> accepted" in step.action
    assert step.state.attempts[0].local == "accepted"
    assert v.trace[-2].state.attempts[0].local == "filled"
    assert changed_rows(spec_dir) == [
        "order: transition filled --ack[None]--> accepted is in the spec but not in the code"
    ]


def test_transport_error_to_rejected_is_caught_with_a_shortest_trace(tmp_path: Path) -> None:
    spec_dir = mutate(tmp_path, "transport_rejects")
    report = check(spec_dir, DEPTH)
    v = violation(report, "transport_errors_never_definitive")
    assert [s.action.split(":")[0] for s in v.trace] == [
        "initial",
        "submit #1 (venue accepts)",
        "transport error on #1's request",
    ]
    assert v.trace[-1].state.attempts[0].local == "rejected"
    # the consequences the other invariants see: a resubmission with the first order still open at the venue
    assert "rejected (by transport error)" in render_violation(
        violation(report, "unknown_resolved_before_resubmit")
    )
    live = violation(report, "one_live_order_per_intent").trace[-1].state
    assert [a.venue for a in live.attempts] == ["open", "open"]
    assert sorted(changed_rows(spec_dir)) == [
        "order: transition submitting --transport_error[None]--> rejected is in the spec but not in the code",
        "order: transition submitting --transport_error[None]--> unknown is in the code but not in the spec",
    ]


def test_mutation_edits_touch_one_row(tmp_path: Path) -> None:
    original = {r.key() for r in load_spec(SPECS / "order.toml").rows}
    edits = ("drop_late_fill", "filled_to_accepted", "transport_rejects", "cancel_taken_as_confirmed")
    for n, edit in enumerate(edits):
        rows = {r.key() for r in load_spec(mutate(tmp_path / str(n), edit) / "order.toml").rows}
        assert len(original ^ rows) in (1, 2), edit  # one row removed, added, or retargeted


# --- intent_filled_within_quantity: the orders of one intent never fill more than its quantity --------------
def sized_from_the_applied_fills(self: Model, attempts: tuple[Attempt, ...]) -> int:
    """The mutant's sizing: the intent's quantity less the fills the bot has applied (a fill in flight is
    not subtracted)."""
    return QUANTITY - sum(len(a.applied) for a in attempts)


def fill_counted_twice(
    self: Model, a: Attempt, i: int, unit: int, faults: list[Fault], log: list[str]
) -> Attempt:
    """The mutant tracker: no trade id deduplication, a re-sent or duplicated fill is applied again."""
    filled = len(a.applied) + 1
    if filled > a.qty:
        return a
    b = self.fire(a, i, "fill", (filled, a.qty), faults, log)
    return a if b is a else b._replace(applied=tuple(sorted((*a.applied, unit))))


def test_a_resubmission_sized_from_the_applied_fills_overfills_the_intent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cancel raced by fills is confirmed while the fills are in flight; a resubmission sized from what the
    bot has applied (none of them) sends the whole quantity again, and the venue fills 3 units of an intent
    of 2. Only intent_filled_within_quantity sees it: no other invariant breaks on the way."""
    monkeypatch.setattr(Model, "resubmit_quantity", sized_from_the_applied_fills)
    report = check(SPECS, DEPTH)
    assert {v.invariant for v in report.violations} == {"intent_filled_within_quantity"}, render_report(
        report
    )
    v = violation(report, "intent_filled_within_quantity")
    assert v.detail == "the venue filled 3 units for an intent of 2 (#1 2, #2 1)"
    assert [s.action.split(":")[0] for s in v.trace] == [
        "initial",
        "submit #1 (venue accepts)",
        "deliver ack#1",
        "cancel #1 (the venue fills the rest, then confirms the cancel)",
        "deliver cancel_confirmed#1",
        "resubmit",
        "submit #2 (venue accepts)",
        "venue fills t1 of #2",
    ]
    resubmitted = v.trace[5]
    assert resubmitted.action == "resubmit: attempt #2 for 2"
    assert resubmitted.state.attempts[0].applied == ()  # t1 and t2 still in flight
    assert [m.event for m in resubmitted.state.channel] == ["fill", "fill"]


def test_a_fill_counted_twice_overfills_the_intent(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tracker that applies a fill twice believes a half-filled order filled; the resubmission (sized from
    the venue's confirmed fills) goes out while the first order still works, and the intent overfills."""
    monkeypatch.setattr(Model, "apply_fill", fill_counted_twice)
    report = check(SPECS, DEPTH)
    v = violation(report, "intent_filled_within_quantity")
    assert v.detail == "the venue filled 3 units for an intent of 2 (#1 2, #2 1)"
    first = next(s.state.attempts[0] for s in v.trace if s.action.startswith("resubmit"))
    assert (first.local, first.applied, first.venue, first.vfilled) == ("filled", (1, 1), "open", 1)
    assert violation(report, "trade_id_applied_once")


def test_a_cancel_taken_as_confirmed_overfills_the_intent(tmp_path: Path) -> None:
    """A spec row partially_filled --cancel_request--> canceled ends the order when the cancel is asked: the
    bot resubmits the rest while the first order still works at the venue, which fills both."""
    spec_dir = mutate(tmp_path, "cancel_taken_as_confirmed")
    report = check(spec_dir, DEPTH)
    v = violation(report, "intent_filled_within_quantity")
    assert v.detail == "the venue filled 3 units for an intent of 2 (#1 2, #2 1)"
    assert any("cancel_request: partially_filled -> canceled" in s.action for s in v.trace)
    assert "resubmit: attempt #2 for 1" in [s.action for s in v.trace]
    assert violation(report, "one_live_order_per_intent")
    assert sorted(changed_rows(spec_dir)) == [
        "order: transition partially_filled --cancel_request[None]--> canceled is in the spec but not in the "
        "code",
        "order: transition partially_filled --cancel_request[None]--> pending_cancel is in the code but not "
        "in the spec",
    ]


def test_orange_relaxing_straight_to_green_is_caught(tmp_path: Path) -> None:
    """A posture row ORANGE --relax--> GREEN (skipping YELLOW's hysteresis window) breaks no_flapping and
    leaves the posture below the level the debt calls for; conformance names the changed row."""
    spec_dir = tmp_path / "specs"
    shutil.copytree(SPECS, spec_dir)
    path = spec_dir / "posture.toml"
    chunks = _chunks(path.read_text(encoding="utf-8"))
    hits = [i for i, c in enumerate(chunks) if _is_row(c, "orange", "relax", "yellow")]
    assert len(hits) == 1
    chunks[hits[0]] = chunks[hits[0]].replace('target = "yellow"', 'target = "green"')
    path.write_text("".join(chunks), encoding="utf-8")
    report = check(spec_dir, DEPTH)
    v = violation(report, "no_flapping")
    assert "orange -> green" in v.detail
    assert v.trace[-2].state.posture == "orange"
    assert v.trace[-1].state.posture == "green"
    assert violation(report, "escalation_immediate")
    original = compile_spec(load_spec(SPECS / "posture.toml"))
    diffs = differences(load_spec(path), original)
    assert diffs
    assert any("orange" in d and "green" in d for d in diffs), diffs


def test_a_changed_k_is_read_by_the_model_check(tmp_path: Path) -> None:
    """K comes from reconcile.toml: with k_cycles = 1 no repairing cycle is allowed (the first cycle must diff
    clean), and the missed fill of the shortest trace breaks converges_within_k_cycles; K = 3 still passes
    here (the code constant comparison in test_checkers.py catches that one)."""
    spec_dir = copy_specs(tmp_path)
    set_constant(spec_dir, "reconcile", "k_cycles", 1)
    report = check(spec_dir, 4)
    v = violation(report, "converges_within_k_cycles")
    assert report.k_cycles == 1
    assert "no clean diff within K=1 cycles" in v.detail
    assert "does NOT converge within K=1" in render_report(report)
    set_constant(spec_dir, "reconcile", "k_cycles", 3)
    assert check(spec_dir, 4).ok


@pytest.mark.parametrize(
    ("row", "invariants"),
    [
        (
            ("triggered", "fill", "triggered", "leaves_remainder"),
            {"venue_fills_never_lost", "converges_within_k_cycles", "trigger_fills_belong_to_the_order"},
        ),
        (
            ("unknown", "trigger", "triggered", None),
            {"converges_within_k_cycles", "trigger_fills_belong_to_the_order"},
        ),
        (
            ("pending_cancel", "trigger", "triggered", None),
            {"converges_within_k_cycles", "trigger_fills_belong_to_the_order"},
        ),
    ],
    ids=["triggered-partial-fill", "unknown-trigger", "pending_cancel-trigger"],
)
def test_a_deleted_conditional_row_is_caught(
    tmp_path: Path, row: tuple[str, str, str, str | None], invariants: set[str]
) -> None:
    """Rows of the conditional lifecycle: deleting one is caught by the conditional configuration's model
    check (those invariants, with a shortest trace: a partial fill of the order it became refused; a lookup
    after an unknown outcome, or a cancel that lost the race, whose trigger the machine can no longer
    take), and the trigger rows also by the trigger_rows conformance checker (run by ``eclipse specs check``
    on the code's table; here on the mutant's)."""
    from eclipse.machines.invariants.conformance import trigger_rows

    spec_dir = copy_specs(tmp_path)
    path = drop_row(spec_dir, "order", *row)
    report = check(spec_dir, CONDITIONAL, conditional=True)
    assert {v.invariant for v in report.violations} == invariants, render_report(report)
    for v in report.violations:
        assert v.configuration == "conditional"
        assert "[conditional orders]" in render_violation(v)
    assert trigger_rows(compile_spec(load_spec(path))) != [] or row[1] == "fill"
