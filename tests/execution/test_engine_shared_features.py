"""The exit rules read the signal engine's own FeatureState (one feature pass per bar, no second state in the
execution engine), and an entry carries its ATR% so ``EXIT_STOP_LOSS_ATR`` stops are placed at the ATR
distance, also after a restart."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

from eclipse import _core
from eclipse.clock import SimClock
from eclipse.contracts import IntentCreated, IntentKind, Side
from eclipse.execution.engine import ExecutionEngine
from eclipse.execution.exits import ExitEngine
from eclipse.execution.exits.protection import protection_triggers
from eclipse.execution.journal import Journal, JournalState
from eclipse.execution.journal.codec import decode_event, encode_event
from eclipse.execution.positions import PositionBook
from eclipse.execution.router import sim_sleep
from eclipse.strategy.engine import SignalEngine
from eclipse.telemetry import MemorySink, Telemetry
from eclipse.venues.types import Fill

from .test_engine_kit import SYM, bar, drive, engine, frame, run, settings, world

WARM = 40
FEATURE_EXITS = {
    "EXIT_MAX_HOLD_SEC": "0",
    "EXIT_MOM_ENABLED": "1",
    "EXIT_VWAP_ENABLED": "1",
    "EXIT_STAGNATION_SEC": "600",
    "EXIT_ATR_TF": "5m",
    "EXIT_ATR_SCALE_ENABLED": "1",
}
ATR_ENV = {
    "EXIT_STOP_LOSS_PCT": "0.05",  # far: the ATR distance (min of both) must win
    "EXIT_STOP_LOSS_ATR": "1.0",
    "EXIT_MAX_HOLD_SEC": "100000",
}


def test_the_execution_engine_keeps_no_feature_state_of_its_own() -> None:
    w = world()
    eng, _, _ = engine(w)
    run(drive(eng, w, 0, 5))
    assert not [v for v in vars(eng).values() if isinstance(v, dict | _core.FeatureState) and _has_state(v)]
    state = eng.signals.features(SYM)
    assert state is not None
    assert state.bars("1m") == 5
    assert eng.signals.features("ETH/USDT:USDT") is None


def _has_state(v: object) -> bool:
    if isinstance(v, _core.FeatureState):
        return True
    return isinstance(v, dict) and any(isinstance(x, _core.FeatureState) for x in v.values())


def test_exit_decisions_match_a_separate_feature_state_over_the_embedded_data() -> None:
    """advance + on_bar (the shared state) vs a private FeatureState: same scores, same exit decisions."""
    n = 3000
    f = frame()
    clock = SimClock(int(f.ts_ms[0]))
    st = settings(FEATURE_EXITS)  # the feature rules decide, not the clock
    shared = SignalEngine(st.strategy, clock)
    single = SignalEngine(st.strategy, clock)  # the old way: one step() per bar, its state untouched
    own = _core.FeatureState(st.strategy.features)
    sinks = (MemorySink(), MemorySink())
    exits = []
    for sink in sinks:
        book = PositionBook(clock)
        b0 = bar(0)
        price = Decimal(repr(b0.close))
        book.apply(Fill("t0", "o0", SYM, Side.BUY, price, Decimal("0.01"), Decimal(0), "USDT", b0.close_ms()))
        exits.append(ExitEngine(st.exits, book, clock, Telemetry(sink, clock)))
    ex_a, ex_b = exits
    fired = 0
    for i in range(n):
        b = bar(i)
        clock.set_ms(b.close_ms())
        state = shared.advance(SYM, b)
        own.update(b.ts_ms, b.open, b.high, b.low, b.close, b.volume)
        req_a, req_b = ex_a.on_bar(SYM, state), ex_b.on_bar(SYM, own)
        assert req_a == req_b, i
        if req_a is not None:
            fired += 1
            ex_a.exit_resolved(SYM)
            ex_b.exit_resolved(SYM)
        da, db = shared.on_bar(SYM, b), single.on_bar(SYM, b)
        assert (da.direction, da.confidence, da.blocked_by) == (db.direction, db.confidence, db.blocked_by)
    assert fired > 0
    events_a = [(e["event"], e.get("reason")) for e in sinks[0].events]
    assert events_a == [(e["event"], e.get("reason")) for e in sinks[1].events]
    assert {e for e, _ in events_a} - {"exit.atr_scaled"}
    assert shared.save_state(SYM) == single.save_state(SYM)


def test_a_bar_applied_by_advance_is_not_applied_twice() -> None:
    clock = SimClock(int(frame().ts_ms[0]))
    eng = SignalEngine(settings().strategy, clock)
    b = bar(0)
    eng.advance(SYM, b)
    eng.on_bar(SYM, b)
    state = eng.features(SYM)
    assert state is not None
    assert state.bars("1m") == 1


async def _warm_then_enter(eng: ExecutionEngine, w: object) -> None:
    for i in range(WARM):  # warm the features (ATR) without trading, then the forced entry on bar WARM
        eng.signals.on_bar(SYM, bar(i))
    await drive(eng, w, WARM, WARM + 1)  # type: ignore[arg-type]


def _atr(eng: ExecutionEngine) -> float:
    state = eng.signals.features(SYM)
    assert state is not None
    knobs = eng.settings.exits.for_symbol(SYM)
    return state.features(knobs.atr_tf)["atr_pct"]


def test_an_entry_with_stop_loss_atr_gets_its_stop_at_the_atr_distance(tmp_path: Path) -> None:
    async def go() -> None:
        w = world()
        path = tmp_path / "j.sqlite"
        j = Journal.open(path)
        eng, _, _ = engine(w, ATR_ENV, journal=j)
        await _warm_then_enter(eng, w)
        intent_id, atr = eng.entry_of[SYM]
        assert atr is not None
        assert math.isfinite(atr)
        (created,) = [e for e in JournalState.replay(j).intents.values() if e.kind is IntentKind.ENTRY]
        assert created.intent_id == intent_id
        assert created.atr_pct == atr
        snap = eng.book.snapshot(SYM)
        assert snap.side is not None
        assert snap.qty != 0
        knobs = eng.settings.exits.for_symbol(SYM)
        want, _ = protection_triggers(snap.side, snap.avg_entry, knobs, atr)
        pct, _ = protection_triggers(snap.side, snap.avg_entry, knobs, None)
        assert want != pct
        stop = eng.protection.active(SYM)[0]
        assert stop.kind is IntentKind.STOP_LOSS
        assert stop.trigger_price is not None
        assert abs(stop.trigger_price - want) < abs(stop.trigger_price - pct)
        dist = abs(stop.trigger_price / snap.avg_entry - 1)
        assert math.isclose(float(dist), atr, rel_tol=0.02)
        j.close()

        j = Journal.open(path)  # restart: the ATR distance is kept
        eng2, _ = await ExecutionEngine.resume(
            j, w.paper, w.clock, Telemetry(MemorySink(), w.clock), settings(ATR_ENV), sleep=sim_sleep(w.clock)
        )
        assert eng2.entry_of[SYM] == (intent_id, atr)
        stop2 = eng2.protection.active(SYM)[0]
        assert stop2.client_order_id == stop.client_order_id  # the working stop is adopted, not replaced
        assert stop2.trigger_price is not None
        assert abs(stop2.trigger_price - stop.trigger_price) < Decimal("0.1")  # as the venue rounded it
        want2, _ = protection_triggers(snap.side, snap.avg_entry, knobs, eng2.entry_of[SYM][1])
        assert want2 == want  # a re-placement would keep the ATR distance
        j.close()

    run(go())


def test_old_intent_records_without_atr_decode() -> None:
    ev = IntentCreated(1, "E-X", IntentKind.ENTRY, SYM, Side.BUY, Decimal(1), Decimal(2), 0.5, 0.0031)
    name, payload = encode_event(ev)
    assert decode_event(name, payload) == ev
    old = payload.replace(',"atr_pct":0.0031', "")
    assert old != payload
    assert decode_event(name, old) == IntentCreated(
        1, "E-X", IntentKind.ENTRY, SYM, Side.BUY, Decimal(1), Decimal(2), 0.5
    )
