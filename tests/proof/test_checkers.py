"""The run checkers on hand-made evidence: each sees the broken promise it is for, and a clean run passes."""

from __future__ import annotations

from dataclasses import replace

from tests.proof.evidence_kit import (
    ENTRY,
    acked,
    evidence,
    fill,
    intent,
    order,
    records,
    stop,
    submitted,
    trade,
)

from eclipse.contracts import IntentKind, JournalEvent
from eclipse.execution.journal.store import JournalRecord
from eclipse.machines.checkers import registry
from eclipse.machines.spec import find_spec_dir, load_specs
from eclipse.proof.checkers import RUN_CHECKERS, check_run, protection_gaps
from eclipse.proof.evidence import RunEvidence
from eclipse.venues.types import OrderStatus, Side

E0 = f"{ENTRY}-0"
E1 = f"{ENTRY}-1"
SL1 = f"{ENTRY}-sl-1"
SL2 = f"{ENTRY}-sl-2"


def _clean_journal(*more: JournalEvent) -> tuple[JournalRecord, ...]:
    return records(intent(), submitted(E0), acked(E0, 1), fill(E0, 1, 1), *more)


def _names(ev: RunEvidence) -> set[str]:
    return {v.checker for v in check_run(ev).violations}


def test_a_clean_protected_round_trip_passes_every_checker() -> None:
    ev = evidence(
        [order(1, E0, filled="0.004"), stop(1_000_000_001, SL1, created=60_500)],
        [trade(1, 1, E0)],
        _clean_journal(
            submitted(SL1, kind=IntentKind.STOP_LOSS),
            acked(SL1, 1_000_000_001, status=OrderStatus.OPEN, filled="0"),
        ),
        position="0.004",
        settled=True,
    )
    report = check_run(ev)
    assert report.ok, report.violations
    assert report.measures.positions == 1
    assert report.measures.protection_gaps_ms == (500,)


def test_every_run_checker_is_registered_and_named_by_an_invariant() -> None:
    reg = registry()
    named = {
        c for spec in load_specs(find_spec_dir()).values() for inv in spec.invariants for c in inv.checkers
    }
    for name in RUN_CHECKERS:
        assert reg[name].suite == "run"
        assert name in named


def test_a_client_id_placed_twice_is_seen() -> None:
    ev = evidence(
        [
            order(1, E0, filled="0.004"),
            order(2, E0, status="CANCELED"),
            stop(1_000_000_001, SL1, created=60_100),
        ],
        [trade(1, 1, E0)],
        _clean_journal(),
        position="0.004",
    )
    assert _names(ev) == {"order.run.client_order_id_placed_once"}


def test_two_live_orders_of_one_intent_are_seen() -> None:
    first = order(1, E0, status="CANCELED", qty="0.004", created=60_000, updated=90_000)
    second = order(2, E1, status="CANCELED", created=70_000, updated=80_000)
    ev = evidence([first, second], [], records(intent()))
    assert _names(ev) == {"order.run.one_live_order_per_intent"}
    back_to_back = order(2, E1, status="CANCELED", created=90_000, updated=95_000)
    assert check_run(evidence([first, back_to_back], [], records(intent()))).ok


def test_an_intent_filled_beyond_its_quantity_is_seen() -> None:
    a = order(1, E0, filled="0.003", status="CANCELED")
    b = order(2, E1, filled="0.002", created=61_000)
    ev = evidence(
        [a, b, stop(1_000_000_001, SL1, created=60_100, qty="0.005")],
        [trade(1, 1, E0, qty="0.003"), trade(2, 2, E1, qty="0.002", ts=61_000)],
        records(
            intent(), submitted(E0), fill(E0, 1, 1, qty="0.003"), submitted(E1), fill(E1, 2, 2, qty="0.002")
        ),
        position="0.005",
    )
    assert _names(ev) == {"order.run.intent_filled_within_quantity"}


def test_a_fill_counted_twice_or_invented_is_seen() -> None:
    twice = evidence(
        [order(1, E0, filled="0.004"), stop(1_000_000_001, SL1, created=60_100)],
        [trade(1, 1, E0)],
        records(intent(), submitted(E0), acked(E0, 1), fill(E0, 1, 1), fill(E0, 1, 1)),
        position="0.004",
    )
    assert "order.run.no_fill_counted_twice" in _names(twice)
    invented = evidence(
        [order(1, E0, filled="0.004"), stop(1_000_000_001, SL1, created=60_100)],
        [trade(1, 1, E0)],
        records(intent(), submitted(E0), acked(E0, 1), fill(E0, 1, 1), fill(E0, 7, 1, qty="0")),
        position="0.004",
    )
    assert "order.run.no_fill_counted_twice" in _names(invented)


def test_a_lost_fill_is_seen_once_the_run_is_settled() -> None:
    ev = evidence(
        [order(1, E0, filled="0.004"), stop(1_000_000_001, SL1, created=60_100)],
        [trade(1, 1, E0, qty="0.002"), trade(2, 1, E0, qty="0.002", ts=60_050)],
        records(intent(), submitted(E0), acked(E0, 1), fill(E0, 1, 1, qty="0.002")),
        position="0.004",
        settled=True,
    )
    assert "order.run.no_fill_lost" in _names(ev)
    assert "order.run.no_fill_lost" not in _names(replace(ev, settled=False))


def test_a_triggered_stops_market_order_is_the_stops_not_a_second_placement() -> None:
    trig = replace(
        stop(1_000_000_001, SL1, created=60_100, updated=120_000, status="TRIGGERED"), triggered_order_id=2
    )
    product = order(2, SL1, side=Side.SELL, filled="0.004", created=120_000)
    ev = evidence(
        [order(1, E0, filled="0.004"), trig, product],
        [trade(1, 1, E0), trade(2, 2, SL1, side=Side.SELL, ts=120_000)],
        _clean_journal(fill(SL1, 2, 2, side=Side.SELL, ts=120_000)),
        position="0",
    )
    names = _names(ev)
    assert "order.run.client_order_id_placed_once" not in names
    assert "order.run.no_fill_lost" not in names


def test_a_position_without_a_stop_beyond_t_protect_is_seen_and_downtime_is_excused() -> None:
    late = evidence(
        [order(1, E0, filled="0.004"), stop(1_000_000_001, SL1, created=90_000)],
        [trade(1, 1, E0)],
        _clean_journal(),
        position="0.004",
    )
    assert _names(late) == {"protection.run.one_stop_within_t_protect"}
    assert check_run(replace(late, slack_ms=20_000)).ok
    assert check_run(replace(late, downtime=((59_000, 80_000),))).ok


def test_a_stop_smaller_than_the_position_does_not_cover_it() -> None:
    ev = evidence(
        [order(1, E0, filled="0.004"), stop(1_000_000_001, SL1, created=60_100, qty="0.002")],
        [trade(1, 1, E0)],
        _clean_journal(),
        position="0.004",
    )
    gaps, _, _ = protection_gaps(ev)["BTCUSDT"]
    assert gaps == [(60_000, 600_000)]
    assert _names(ev) == {"protection.run.one_stop_within_t_protect"}


def test_two_live_stops_for_long_are_seen() -> None:
    ev = evidence(
        [
            order(1, E0, filled="0.004"),
            stop(1_000_000_001, SL1, created=60_100),
            stop(1_000_000_002, SL2, created=61_000),
        ],
        [trade(1, 1, E0)],
        _clean_journal(),
        position="0.004",
    )
    assert _names(ev) == {"protection.run.one_stop_within_t_protect"}


def test_a_blocked_exit_is_seen_and_a_blocked_entry_is_not() -> None:
    blocked = (
        {"event": "order.blocked", "kind": "entry", "client_order_id": E0, "why": "max_notional"},
        {"event": "order.blocked", "kind": "stop_loss", "client_order_id": SL1, "why": "max_notional"},
    )
    ev = evidence([], [], (), telemetry=blocked)
    assert [v.checker for v in check_run(ev).violations] == ["protection.run.exits_never_blocked"]


def test_belief_must_equal_the_venue_once_settled() -> None:
    ev = evidence(
        [order(1, E0, filled="0.004"), stop(1_000_000_001, SL1, created=60_100)],
        [trade(1, 1, E0)],
        _clean_journal(),
        position="0.006",  # the venue holds more than the journal's fills make
        settled=True,
    )
    assert "reconcile.run.belief_equals_venue" in _names(ev)
    live_in_journal = evidence(
        [order(1, E0, filled="0", status="CANCELED")],
        [],
        records(intent(), submitted(E0), acked(E0, 1, status=OrderStatus.OPEN, filled="0")),
        settled=True,
    )
    lines = [str(v) for v in check_run(live_in_journal).violations]
    assert lines == [
        f"reconcile.run.belief_equals_venue: order {E0} is live in the journal (acked), CANCELED on the venue"
    ]
    assert check_run(replace(live_in_journal, settled=False)).ok


def test_an_excuse_is_for_its_own_symbol_only() -> None:
    late = evidence(
        [order(1, E0, filled="0.004"), stop(1_000_000_001, SL1, created=90_000)],
        [trade(1, 1, E0)],
        _clean_journal(),
        position="0.004",
    )
    assert not check_run(replace(late, excused=(("ETHUSDT", 59_000, 80_000),))).ok
    assert check_run(replace(late, excused=(("BTCUSDT", 59_000, 80_000),))).ok
