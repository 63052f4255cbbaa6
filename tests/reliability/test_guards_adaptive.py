"""The adaptive guard: each trigger raises the minimum confidence by its delta for its duration, per symbol or
for all, overlapping raises merge (max delta, latest expiry), expiry, the gate's floor, persistence."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tests.reliability.guards_kit import guard_set, rec

from eclipse.clock import SimClock
from eclipse.contracts import EntryIntent, Side
from eclipse.execution.entries.gate import EntryGate, GateSettings
from eclipse.reliability.guards import GuardEvent, GuardSet, GuardSettings, GuardStateStore
from eclipse.telemetry import MemorySink, Telemetry

T0 = 1_700_000_000_000
BASE = {"ENTRY_DATA_MAX_STALE_SEC": "0"}
TRIGGERS = [
    ("entry.partial_fill_escalation", "PARTIAL_ESCALATE", 0.2, 900),
    ("order.create.retry_alert", "RETRY", 0.15, 600),
    ("telemetry.confidence_drift", "DRIFT", 0.1, 900),
    ("exit.signal_issue", "EXIT", 0.1, 600),
    ("exit.telemetry_guard", "TELEMETRY", 0.15, 600),
]


def make(
    env: dict[str, str] | None = None, store: GuardStateStore | None = None
) -> tuple[GuardSet, SimClock]:
    return guard_set(T0, BASE, env, store)


def adaptive(events: list[GuardEvent]) -> list[dict[str, object]]:
    return [dict(e.fields) for e in events if e.name == "guard.adaptive"]


@pytest.mark.parametrize(("event", "knob", "delta", "duration"), TRIGGERS)
def test_each_trigger_raises_its_symbol_by_its_delta_for_its_duration(
    event: str, knob: str, delta: float, duration: int
) -> None:
    guards, clock = make()
    guards.observe(rec(clock, event, symbol="DOGE/USDT:USDT"))
    knobs = guards.knobs("DOGEUSDT")
    assert knobs.min_confidence_delta == delta
    assert knobs.code == "adaptive_guard"
    assert not knobs.entry_block
    assert guards.knobs("BTCUSDT").min_confidence_delta == 0
    assert guards.knobs(None).min_confidence_delta == 0
    [started] = adaptive(guards.evaluate())
    until = T0 + duration * 1000
    assert started == {
        "symbol": "DOGEUSDT",
        "trigger": event,
        "delta": delta,
        "until_ms": until,
        "action": "start",
    }
    clock.set_ms(until - 1)
    assert guards.evaluate() == []
    clock.set_ms(until)
    assert guards.knobs("DOGEUSDT").min_confidence_delta == 0
    [expired] = adaptive(guards.evaluate())
    assert expired["action"] == "expired"
    assert expired["symbol"] == "DOGEUSDT"


@pytest.mark.parametrize(("event", "knob", "delta", "duration"), TRIGGERS)
def test_the_knobs_set_delta_and_duration(event: str, knob: str, delta: float, duration: int) -> None:
    guards, clock = make(
        {f"ADAPTIVE_GUARD_{knob}_DELTA": "0.33", f"ADAPTIVE_GUARD_{knob}_DURATION_SEC": "10"}
    )
    guards.observe(rec(clock, event))
    assert guards.knobs("BTCUSDT").min_confidence_delta == 0.33
    clock.advance(10)
    assert guards.knobs("BTCUSDT").min_confidence_delta == 0


def test_a_duration_of_zero_means_adaptive_guard_duration_sec() -> None:
    guards, clock = make({"ADAPTIVE_GUARD_RETRY_DURATION_SEC": "0", "ADAPTIVE_GUARD_DURATION_SEC": "30"})
    guards.observe(rec(clock, "order.create.retry_alert"))
    assert adaptive(guards.evaluate())[0]["until_ms"] == T0 + 30_000


def test_a_delta_of_zero_ignores_the_trigger_and_other_events_do_nothing() -> None:
    guards, clock = make({"ADAPTIVE_GUARD_RETRY_DELTA": "0"})
    guards.observe(rec(clock, "order.create.retry_alert", symbol="BTCUSDT"))
    guards.observe(rec(clock, "entry.blocked", symbol="BTCUSDT", reason="partial_fill"))
    assert guards.knobs("BTCUSDT").min_confidence_delta == 0
    assert guards.evaluate() == []


def test_an_event_without_symbol_raises_every_symbol() -> None:
    guards, clock = make()
    guards.observe(rec(clock, "telemetry.confidence_drift"))
    assert guards.knobs("BTCUSDT").min_confidence_delta == 0.1
    assert guards.knobs("ETHUSDT").min_confidence_delta == 0.1
    assert guards.knobs(None).min_confidence_delta == 0.1
    assert adaptive(guards.evaluate())[0]["symbol"] == "*"
    [active] = guards.active()
    assert active.symbol is None
    assert active.guard == "adaptive"


def test_overlapping_raises_take_the_larger_delta_and_the_later_expiry() -> None:
    guards, clock = make()
    guards.observe(rec(clock, "entry.partial_fill_escalation", symbol="BTCUSDT"))  # 0.2 for 900 s
    clock.advance(400)
    guards.observe(rec(clock, "order.create.retry_alert", symbol="BTCUSDT"))  # 0.15 for 600 s
    events = adaptive(guards.evaluate())
    assert [e["action"] for e in events] == ["start", "extend"]
    assert events[1]["delta"] == 0.2
    assert events[1]["until_ms"] == T0 + 1_000_000
    guards.observe(rec(clock, "exit.signal_issue", symbol="BTCUSDT"))  # 0.1 until T0+1_000_000: no change
    assert guards.evaluate() == []
    clock.set_ms(T0 + 999_999)
    assert guards.knobs("BTCUSDT").min_confidence_delta == 0.2


def test_a_symbol_raise_and_the_global_one_combine_by_max() -> None:
    guards, clock = make()
    guards.observe(rec(clock, "exit.signal_issue"))  # 0.1 everywhere
    guards.observe(rec(clock, "entry.partial_fill_escalation", symbol="BTCUSDT"))  # 0.2 on BTC
    assert guards.knobs("BTCUSDT").min_confidence_delta == 0.2
    assert guards.knobs("ETHUSDT").min_confidence_delta == 0.1
    assert "entry.partial_fill_escalation" in guards.knobs("BTCUSDT").reason


def test_the_gate_adds_the_delta_to_entry_min_confidence() -> None:
    guards, clock = make()
    sink = MemorySink()
    gate = EntryGate(GateSettings(base_min_confidence=0.5), guards, Telemetry(sink, clock), clock)
    intent = EntryIntent(
        EntryIntent.make_id("BTCUSDT", Side.BUY, T0), "BTCUSDT", Side.BUY, T0, 0.6, Decimal(100)
    )
    assert gate.admit(intent, []).ok
    guards.observe(rec(clock, "order.create.retry_alert", symbol="BTCUSDT"))  # floor 0.65
    verdict = gate.admit(intent, [])
    assert verdict.reason == "guard_min_confidence"
    assert sink.named("entry.blocked")[0]["guard"] == "adaptive_guard"


def test_disabled_the_guard_does_nothing() -> None:
    guards, clock = make({"ADAPTIVE_GUARD_ENABLED": "0"})
    guards.observe(rec(clock, "order.create.retry_alert"))
    assert guards.knobs("BTCUSDT").min_confidence_delta == 0
    assert guards.evaluate() == []


def test_old_records_do_not_start_an_expired_raise() -> None:
    guards, clock = make()
    clock.advance(3600)
    guards.observe({"event": "order.create.retry_alert", "ts_ms": T0})
    assert guards.knobs("BTCUSDT").min_confidence_delta == 0


def test_lift_drops_one_symbol_or_every_raise() -> None:
    guards, clock = make()
    guards.observe(rec(clock, "exit.signal_issue"))
    guards.observe(rec(clock, "exit.signal_issue", symbol="BTCUSDT"))
    guards.observe(rec(clock, "exit.signal_issue", symbol="ETHUSDT"))
    guards.evaluate()
    assert guards.lift("adaptive_guard", "BTCUSDT") is True
    assert [e["symbol"] for e in adaptive(guards.evaluate())] == ["BTCUSDT"]
    assert guards.knobs("BTCUSDT").min_confidence_delta == 0.1  # the global raise stays
    assert guards.lift("adaptive_guard") is True
    assert guards.knobs("ETHUSDT").min_confidence_delta == 0
    assert {e["action"] for e in adaptive(guards.evaluate())} == {"lifted"}
    assert guards.lift("adaptive_guard") is False


def test_raises_survive_a_restart_and_expired_ones_are_dropped(tmp_path: Path) -> None:
    store = GuardStateStore(tmp_path / "guards.json")
    guards, clock = make(store=store)
    guards.observe(rec(clock, "order.create.retry_alert", symbol="BTCUSDT"))  # 600 s
    guards.observe(rec(clock, "entry.partial_fill_escalation"))  # 900 s, everywhere
    clock.advance(300)
    again = GuardSet(GuardSettings.load(BASE), clock, store)
    assert again.knobs("BTCUSDT").min_confidence_delta == 0.2
    assert again.adaptive.dump() == guards.adaptive.dump()
    clock.advance(400)
    third = GuardSet(GuardSettings.load(BASE), clock, store)
    assert set(third.adaptive.dump()) == {"*"}
