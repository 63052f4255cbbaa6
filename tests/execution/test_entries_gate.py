"""The entry gate: guard knobs, router-block and error throttles, backoffs, correlation caps, exits never
blocked."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eclipse.clock import SimClock
from eclipse.contracts import GuardKnobs, IntentKind, RouterRequest, Side
from eclipse.execution.entries.gate import EntryGate, GateSettings, GuardKnobsProvider, StaticGuardProvider
from eclipse.execution.entries.groups import CorrCaps, check_corr_count, group_exposure
from eclipse.execution.entries.settings import load_entry_settings
from eclipse.execution.entries.throttle import EntryBackoff, ThrottleSettings, WindowThrottle
from eclipse.execution.entries.values import CorrGroups, NamedNumbers
from eclipse.telemetry import MemorySink
from eclipse.venues.types import OrderType

from .test_entries_kit import intent, pos, telemetry

GROUPS = CorrGroups((("MEME", ("DOGEUSDT", "SHIBUSDT", "PEPEUSDT")), ("MAJOR", ("BTCUSDT", "ETHUSDT"))))


def make_gate(
    settings: GateSettings | None = None, knobs: GuardKnobs | None = None
) -> tuple[EntryGate, MemorySink, SimClock]:
    tel, sink, clock = telemetry()
    gate = EntryGate(settings or GateSettings(), StaticGuardProvider(knobs), tel, clock)
    return gate, sink, clock


def blocked(sink: MemorySink) -> list[str]:
    return [str(e["reason"]) for e in sink.named("entry.blocked")]


def test_static_provider_satisfies_the_protocol_and_admits_by_default() -> None:
    assert isinstance(StaticGuardProvider(), GuardKnobsProvider)
    gate, sink, _ = make_gate()
    assert gate.admit(intent(), []).ok
    assert sink.events == []


def test_guard_entry_block_and_min_confidence() -> None:
    gate, sink, _ = make_gate(knobs=GuardKnobs(entry_block=True, reason="posture=halt"))
    v = gate.admit(intent(), [])
    assert (v.ok, v.reason) == (False, "guard_entry_block")
    assert "posture=halt" in v.detail
    gate, sink, _ = make_gate(knobs=GuardKnobs(min_confidence=0.7))
    assert gate.admit(intent(confidence=0.7), []).ok
    v = gate.admit(intent(confidence=0.69), [])
    assert v.reason == "guard_min_confidence"
    (event,) = sink.named("entry.blocked")
    assert event["symbol"] == "BTCUSDT"
    assert event["reason"] == "guard_min_confidence"
    assert event["intent_id"] == intent().intent_id
    assert "0.69" in str(event["detail"])


def test_router_block_throttle_threshold_window_and_backoff() -> None:
    s = GateSettings(router=ThrottleSettings(True, window_sec=60, threshold=2, backoff_sec=15))
    gate, sink, clock = make_gate(s)
    gate.record_router_block("BTCUSDT")
    assert gate.admit(intent(), []).ok  # one block < threshold 2
    clock.advance(61)
    gate.record_router_block("BTCUSDT")  # the first fell out of the window
    assert gate.admit(intent(), []).ok
    clock.advance(30)
    gate.record_router_block("BTC/USDT:USDT")  # same symbol key, second within 60 s
    assert sink.named("entry.backoff")[0]["reason"] == "router_block"
    assert gate.admit(intent(), []).reason == "router_block_backoff"
    assert gate.admit(intent("ETHUSDT"), []).ok  # per symbol
    clock.advance(14.999)
    assert not gate.admit(intent(), []).ok
    clock.advance(0.001)
    assert gate.admit(intent(), []).ok
    assert blocked(sink) == ["router_block_backoff", "router_block_backoff"]


def test_router_block_default_is_one_block_ten_seconds_and_can_be_disabled() -> None:
    gate, _, clock = make_gate(load_entry_settings({}).gate)
    gate.record_router_block("BTCUSDT")
    assert not gate.admit(intent(), []).ok
    clock.advance(10)
    assert gate.admit(intent(), []).ok
    gate, _, _ = make_gate(load_entry_settings({"ENTRY_BLOCK_ON_ROUTER_BLOCK": "0"}).gate)
    gate.record_router_block("BTCUSDT")
    assert gate.admit(intent(), []).ok


def test_error_throttle_blocks_every_symbol_when_enabled() -> None:
    env = {"ENTRY_BLOCK_ON_ERRORS": "1", "ENTRY_BLOCK_ERRORS_BACKOFF_SEC": "20"}
    gate, _sink, clock = make_gate(load_entry_settings(env).gate)
    for sym in ("BTCUSDT", "ETHUSDT"):
        gate.record_error(sym)
    assert gate.admit(intent(), []).ok
    gate.record_error()
    for sym in ("BTCUSDT", "DOGEUSDT"):
        assert gate.admit(intent(sym), []).reason == "error_backoff"
    clock.advance(20)
    assert gate.admit(intent(), []).ok
    gate, _, _ = make_gate(load_entry_settings({}).gate)  # off by default
    for _ in range(10):
        gate.record_error("BTCUSDT")
    assert gate.admit(intent(), []).ok


def test_error_window_counts_only_recent_errors() -> None:
    gate, _, clock = make_gate(load_entry_settings({"ENTRY_BLOCK_ON_ERRORS": "1"}).gate)
    gate.record_error()
    gate.record_error()
    clock.advance(61)
    gate.record_error()
    assert gate.admit(intent(), []).ok


def test_a_shared_backoff_blocks_with_its_own_reason() -> None:
    backoff = EntryBackoff()
    tel, _sink, clock = telemetry()
    gate = EntryGate(GateSettings(), StaticGuardProvider(), tel, clock, backoff)
    backoff.block("BTCUSDT", clock.now_ms() + 5_000, "partial_fill", "filled 1/10")
    backoff.block("BTCUSDT", clock.now_ms() + 1_000, "shorter")  # never shortens
    assert gate.admit(intent(), []).reason == "partial_fill"
    clock.advance(5)
    assert gate.admit(intent(), []).ok


def test_corr_group_position_caps_global_and_per_group() -> None:
    caps = CorrCaps(GROUPS, max_positions=1, limits=NamedNumbers((("MAJOR", 2.0),)))
    gate, sink, _ = make_gate(GateSettings(caps=caps))
    assert gate.admit(intent("DOGEUSDT"), [pos("BTCUSDT", "1")]).ok
    v = gate.admit(intent("DOGEUSDT"), [pos("SHIBUSDT", "-100", "0.01")])
    assert v.reason == "corr_group_positions"
    assert "MEME" in v.detail
    assert sink.named("entry.blocked")[-1]["group"] == "MEME"
    assert gate.admit(intent("ETHUSDT"), [pos("BTCUSDT", "1")]).ok  # MAJOR allows 2
    assert gate.admit(intent("ETHUSDT"), [pos("BTCUSDT", "1"), pos("ETHUSDT", "0")]).ok  # flat is not open
    assert gate.admit(intent("ETHUSDT"), [pos("BTCUSDT", "1"), pos("SHIBUSDT", "1")]).ok  # other group
    assert not gate.admit(intent("PEPEUSDT"), [pos("BTCUSDT", "1"), pos("SHIBUSDT", "1")]).ok
    three = [pos("BTCUSDT", "1"), pos("ETHUSDT", "1")]
    assert check_corr_count("BTCUSDT", three, caps) is None  # its own position is not counted
    assert gate.admit(intent("XRPUSDT"), three).ok  # in no group


def test_corr_group_notional_caps_need_the_size() -> None:
    caps = CorrCaps(GROUPS, max_notional=Decimal(50), notional=NamedNumbers((("MEME", 25.0),)))
    gate, sink, _ = make_gate(GateSettings(caps=caps))
    held = [pos("SHIBUSDT", "1000", "0.01", mark="0.02")]  # 20 USDT at mark
    assert group_exposure(GROUPS, "MEME", held).notional == Decimal("20.00")
    assert gate.admit_request(request("DOGEUSDT", "50", "0.1"), held).ok  # 5 -> 25 <= 25
    v = gate.admit_request(request("DOGEUSDT", "51", "0.1"), held)
    assert v.reason == "corr_group_notional"
    assert sink.named("entry.blocked")[-1]["notional"] == "5.1"
    assert gate.admit_request(request("BTCUSDT", "0.5", "100"), []).ok
    assert not gate.admit_request(request("BTCUSDT", "0.51", "100"), []).ok  # global 50


def request(symbol: str, qty: str, price: str, kind: IntentKind = IntentKind.ENTRY) -> RouterRequest:
    return RouterRequest(
        intent_id=f"X-{symbol}",
        kind=kind,
        symbol=symbol,
        side=Side.SELL,
        type=OrderType.MARKET,
        qty=Decimal(qty),
        client_order_id=f"X-{symbol}-0",
        ref_price=Decimal(price),
        reduce_only=kind.reduces_risk,
    )


@given(
    kind=st.sampled_from([k for k in IntentKind if k.reduces_risk]),
    qty=st.decimals(min_value=0, max_value=10**6, places=3),
)
def test_exits_and_protection_are_never_blocked(kind: IntentKind, qty: Decimal) -> None:
    caps = CorrCaps(GROUPS, max_positions=1, max_notional=Decimal(1))
    env = {"ENTRY_BLOCK_ON_ERRORS": "1", "ENTRY_BLOCK_ERRORS_THRESHOLD": "1"}
    settings = GateSettings(load_entry_settings(env).gate.router, load_entry_settings(env).gate.errors, caps)
    gate, sink, _ = make_gate(settings, GuardKnobs(entry_block=True, min_confidence=1.0))
    gate.record_error()
    gate.record_router_block("BTCUSDT")
    held = [pos("ETHUSDT", "100", "1000")]
    assert gate.admit_request(request("BTCUSDT", str(qty), "100", kind), held).ok
    assert sink.named("entry.blocked") == []
    assert not gate.admit_request(request("BTCUSDT", "1", "100"), held).ok


def test_throttle_settings_are_validated_and_disabled_throttles_count_nothing() -> None:
    with pytest.raises(ValueError, match="invalid throttle"):
        ThrottleSettings(True, 60, 0, 10)
    t = WindowThrottle(ThrottleSettings(False, 60, 1, 10))
    assert t.record("K", 0) is None
    assert t.recent("K") == 0
    t = WindowThrottle(ThrottleSettings(True, 60, 3, 10))
    assert t.record("K", 0) is None
    assert t.record("K", 1) is None
    assert t.recent("K") == 2
    assert t.record("K", 2) == 10_002
    assert t.recent("K") == 0


def test_guard_delta_is_added_to_the_strategy_minimum_and_the_code_names_the_block() -> None:
    """A guard's min_confidence_delta raises ENTRY_MIN_CONFIDENCE (the gate's base), and a blocking guard's
    code is the entry.blocked reason."""
    settings = GateSettings(base_min_confidence=0.6)
    gate, sink, _ = make_gate(settings, GuardKnobs(min_confidence_delta=0.1, reason="posture YELLOW"))
    assert not gate.admit(intent(confidence=0.65), []).ok
    assert gate.admit(intent(confidence=0.71), []).ok
    gate, sink, _ = make_gate(settings, GuardKnobs(entry_block=True, code="kill_daily_loss", reason="x"))
    verdict = gate.admit(intent(confidence=0.9), [])
    assert verdict.reason == "kill_daily_loss"
    assert [e["reason"] for e in sink.named("entry.blocked")] == ["kill_daily_loss"]


def test_tighten_keeps_the_strictest_of_each_knob() -> None:
    a = GuardKnobs(
        notional_scale=0.5, min_confidence_delta=0.05, reason="posture YELLOW", code="posture_yellow"
    )
    b = GuardKnobs(entry_block=True, qty_scale=0.2, reason="halt", code="kill_drawdown")
    both = a.tighten(b)
    assert both.entry_block
    assert both.code == "kill_drawdown"
    assert (both.notional_scale, both.qty_scale, both.min_confidence_delta) == (0.5, 0.2, 0.05)
    assert both.at_least_as_strict_as(a)
    assert both.at_least_as_strict_as(b)
    assert GuardKnobs().tighten(a) is a
    assert a.tighten(GuardKnobs()) is a
