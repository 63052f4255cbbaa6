"""The post-submit partial-fill resolver: cancel remainder, backoff, escalation, forced flatten, outcome."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from decimal import Decimal

import pytest

from eclipse.clock import SimClock
from eclipse.contracts import IntentKind, OrderReport, RouterRequest, Side
from eclipse.execution.entries.partial import (
    FORCED_FLATTEN,
    NO_FILL,
    OK,
    STUCK,
    PartialFillActions,
    PartialFillResolver,
    PartialOutcome,
    PartialSettings,
)
from eclipse.execution.entries.settings import load_entry_settings
from eclipse.execution.entries.throttle import EntryBackoff
from eclipse.telemetry import MemorySink
from eclipse.venues.types import OrderStatus, OrderType

from .test_entries_kit import T0, telemetry


@dataclass
class FakeActions:
    """Scripted cancel / flatten answers (True, False or an exception), recording every call."""

    cancel_results: list[bool | Exception] = field(default_factory=lambda: [True])
    flatten_results: list[bool | Exception] = field(default_factory=lambda: [True])
    calls: list[str] = field(default_factory=list)

    async def cancel(self, client_order_id: str) -> bool:
        self.calls.append(f"cancel:{client_order_id}")
        return self._next(self.cancel_results)

    async def flatten(self, symbol: str) -> bool:
        self.calls.append(f"flatten:{symbol}")
        return self._next(self.flatten_results)

    @staticmethod
    def _next(results: list[bool | Exception]) -> bool:
        r = results.pop(0) if len(results) > 1 else results[0]
        if isinstance(r, Exception):
            raise r
        return r


REQ = RouterRequest(
    intent_id="E-BTCUSDT-b-1",
    kind=IntentKind.ENTRY,
    symbol="BTCUSDT",
    side=Side.BUY,
    type=OrderType.LIMIT,
    qty=Decimal("1.0"),
    client_order_id="E-BTCUSDT-b-1-0",
    ref_price=Decimal(100),
    price=Decimal(100),
)


def report(filled: str, status: OrderStatus = OrderStatus.PARTIALLY_FILLED) -> OrderReport:
    return OrderReport(
        symbol="BTCUSDT",
        order_id="1",
        client_order_id=REQ.client_order_id,
        side=Side.BUY,
        type=OrderType.LIMIT,
        status=status,
        qty=REQ.qty,
        filled=Decimal(filled),
        avg_price=Decimal(100),
        price=REQ.price,
        trigger_price=None,
        reduce_only=False,
        close_position=False,
        ts_ms=T0,
        update_ms=T0,
    )


def make(
    settings: PartialSettings | None = None, actions: FakeActions | None = None
) -> tuple[PartialFillResolver, FakeActions, EntryBackoff, MemorySink, SimClock, list[float]]:
    tel, sink, clock = telemetry()
    acts = actions or FakeActions()
    backoff = EntryBackoff()
    slept: list[float] = []

    async def sleep(sec: float) -> None:
        slept.append(sec)
        clock.advance(sec)

    resolver = PartialFillResolver(settings or PartialSettings(), acts, backoff, tel, clock, sleep)
    return resolver, acts, backoff, sink, clock, slept


def run(resolver: PartialFillResolver, rep: OrderReport, req: RouterRequest = REQ) -> PartialOutcome:
    return asyncio.run(resolver.resolve(req, rep))


def test_fills_at_or_above_the_ratio_and_no_fill_do_nothing() -> None:
    resolver, acts, backoff, sink, clock, _ = make()
    assert isinstance(acts, PartialFillActions)
    assert run(resolver, report("0.5", OrderStatus.FILLED)).outcome == OK
    assert run(resolver, report("0", OrderStatus.EXPIRED)).outcome == NO_FILL
    assert acts.calls == []
    assert sink.events == []
    assert backoff.active("BTCUSDT", clock.now_ms()) is None


def test_below_ratio_cancels_remainder_backs_off_and_flattens() -> None:
    resolver, acts, backoff, sink, clock, _ = make()
    out = run(resolver, report("0.2"))
    assert out.outcome == FORCED_FLATTEN
    assert out.ratio == pytest.approx(0.2)
    assert acts.calls == ["cancel:E-BTCUSDT-b-1-0", "flatten:BTCUSDT"]
    assert (out.cancel_ok, out.flatten_ok, out.escalated) == (True, True, False)
    held = backoff.active("BTCUSDT", clock.now_ms())
    assert held is not None
    assert held.reason == "partial_fill"
    assert held.until_ms == T0 + 10_000
    (ev,) = sink.named("entry.partial_fill_state")
    assert ev["outcome"] == "partial_forced_flatten"
    assert ev["symbol"] == "BTCUSDT"
    assert ev["filled"] == "0.2"
    assert ev["level"] == "warning"


def test_terminal_order_has_no_remainder_to_cancel() -> None:
    resolver, acts, _, _, _, _ = make()
    out = run(resolver, report("0.2", OrderStatus.EXPIRED))
    assert acts.calls == ["flatten:BTCUSDT"]
    assert not out.cancel_attempted
    assert out.outcome == FORCED_FLATTEN


def test_cancel_retries_with_delay_and_stuck_when_the_remainder_stays_live() -> None:
    acts = FakeActions(cancel_results=[RuntimeError("timeout"), False, True])
    resolver, acts, _, sink, _, slept = make(PartialSettings(cancel_retries=3), acts)
    out = run(resolver, report("0.1"))
    assert out.cancel_ok
    assert acts.calls.count("cancel:E-BTCUSDT-b-1-0") == 3
    assert slept == [0.25, 0.25]
    acts = FakeActions(cancel_results=[False])
    resolver, acts, _, sink, _, slept = make(None, acts)
    out = run(resolver, report("0.1"))
    assert acts.calls.count("cancel:E-BTCUSDT-b-1-0") == 2
    assert slept == [0.25]
    assert out.flatten_ok
    assert out.outcome == STUCK
    assert sink.named("entry.partial_fill_state")[0]["remainder_live"] is True


def test_cancel_disabled_leaves_the_remainder() -> None:
    resolver, acts, _, _, _, _ = make(PartialSettings(cancel=False))
    out = run(resolver, report("0.1"))
    assert acts.calls == ["flatten:BTCUSDT"]
    assert out.outcome == STUCK


def test_flatten_retries_then_stuck_and_can_be_disabled() -> None:
    acts = FakeActions(flatten_results=[False, RuntimeError("boom"), True])
    resolver, acts, _, sink, _, _ = make(None, acts)
    out = run(resolver, report("0.1", OrderStatus.EXPIRED))
    assert acts.calls == ["flatten:BTCUSDT", "flatten:BTCUSDT"]
    assert out.outcome == STUCK
    ev = sink.named("entry.partial_fill_state")[0]
    assert ev["outcome"] == "partial_stuck"
    assert ev["level"] == "critical"
    resolver, acts, _, _, _, _ = make(PartialSettings(force_flatten=False, flatten_retries=5))
    out = run(resolver, report("0.1", OrderStatus.EXPIRED))
    assert acts.calls == []
    assert not out.flatten_attempted
    assert out.outcome == STUCK
    resolver, acts, _, _, _, _ = make(
        PartialSettings(flatten_retries=3), FakeActions(flatten_results=[False])
    )
    run(resolver, report("0.1", OrderStatus.EXPIRED))
    assert acts.calls.count("flatten:BTCUSDT") == 3


def test_escalation_after_count_hits_in_window_with_throttled_event() -> None:
    s = load_entry_settings({"ENTRY_PARTIAL_ESCALATE_COUNT": "2"}).partial
    resolver, _, backoff, sink, clock, _ = make(s)
    rep = report("0.1", OrderStatus.EXPIRED)
    assert not run(resolver, rep).escalated
    clock.advance(60)
    out = run(resolver, rep)
    assert out.escalated
    assert out.backoff_until_ms == clock.now_ms() + 120_000
    held = backoff.active("BTCUSDT", clock.now_ms())
    assert held is not None
    assert held.reason == "partial_fill_escalation"
    (esc,) = sink.named("entry.partial_fill_escalation")
    assert esc["count"] == 2
    assert esc["symbol"] == "BTCUSDT"
    clock.advance(60)
    assert not run(resolver, rep).escalated  # the count was reset
    assert run(resolver, rep).escalated  # escalates again, but the event is throttled (300 s)
    assert len(sink.named("entry.partial_fill_escalation")) == 1
    clock.advance(300)
    run(resolver, rep)
    assert run(resolver, rep).escalated
    assert len(sink.named("entry.partial_fill_escalation")) == 2


def test_hits_outside_the_window_do_not_escalate() -> None:
    resolver, _, _, sink, clock, _ = make(PartialSettings(escalate_count=2, escalate_window_sec=100))
    rep = report("0.1", OrderStatus.EXPIRED)
    run(resolver, rep)
    clock.advance(101)
    assert not run(resolver, rep).escalated
    assert sink.named("entry.partial_fill_escalation") == []


def test_ratio_threshold_is_configurable_and_only_entries_are_handled() -> None:
    resolver, _acts, _, _, _, _ = make(load_entry_settings({"ENTRY_PARTIAL_MIN_FILL_RATIO": "0.6"}).partial)
    assert run(resolver, report("0.6", OrderStatus.FILLED)).outcome == OK
    assert run(resolver, report("0.59", OrderStatus.EXPIRED)).outcome == FORCED_FLATTEN
    with pytest.raises(ValueError, match="only handles entries"):
        run(resolver, report("0.1"), replace(REQ, kind=IntentKind.EXIT))
