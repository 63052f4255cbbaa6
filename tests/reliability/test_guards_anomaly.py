"""The anomaly guard: exposure spike, confidence drop, risk-event surge and new exit code pause every entry;
no re-pause on the same evidence; expiry, lift, persistence; odd records are skipped."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.reliability.guards_kit import guard_set, rec

from eclipse.clock import SimClock
from eclipse.reliability.guards import GuardEvent, GuardSet, GuardSettings, GuardStateStore

T0 = 1_700_000_000_000
HOUR = 3600
BASE = {"ENTRY_DATA_MAX_STALE_SEC": "0", "ADAPTIVE_GUARD_ENABLED": "0", "STOP_BREACH_COOLDOWN_SEC": "0"}


def make(
    env: dict[str, str] | None = None, store: GuardStateStore | None = None
) -> tuple[GuardSet, SimClock]:
    return guard_set(T0, BASE, env, store)


def detected(events: list[GuardEvent]) -> list[dict[str, object]]:
    return [dict(e.fields) for e in events if e.name == "anomaly.detected"]


def position(clock: SimClock, symbol: str, qty: str, avg: str, kind: str = "entry") -> dict[str, object]:
    return rec(clock, "position.changed", symbol=symbol, qty=qty, avg_entry=avg, kind=kind)


def test_an_exposure_spike_over_the_window_pauses_every_entry() -> None:
    guards, clock = make()
    guards.observe(position(clock, "BTCUSDT", "1.0", "100"))
    clock.advance(HOUR + 1)
    assert detected(guards.evaluate()) == []
    guards.observe(position(clock, "ETHUSDT", "-2", "25.5"))  # 100 -> 151 > 150
    [ev] = detected(guards.evaluate())
    assert ev["kinds"] == "exposure_spike"
    assert ev["severity"] == "high"
    assert ev["until_ms"] == clock.now_ms() + 900_000
    knobs = guards.knobs("SOLUSDT")
    assert knobs.code == "anomaly_pause"
    assert knobs.exits_allowed
    assert guards.knobs(None).code == "anomaly_pause"
    [active] = guards.active()
    assert active.guard == "anomaly"


def test_exposure_within_the_spike_limit_or_from_flat_is_no_anomaly() -> None:
    guards, clock = make()
    guards.observe(position(clock, "BTCUSDT", "1", "100"))
    clock.advance(HOUR + 1)
    guards.observe(position(clock, "ETHUSDT", "2", "25"))  # exactly +50%
    assert detected(guards.evaluate()) == []
    guards, clock = make()
    guards.observe(position(clock, "BTCUSDT", "5", "100"))  # from flat: the level at the window start is 0
    guards.observe(position(clock, "ETHUSDT", "5", "100"))
    assert detected(guards.evaluate()) == []


def test_the_same_evidence_does_not_pause_again_after_the_pause() -> None:
    guards, clock = make()
    guards.observe(position(clock, "BTCUSDT", "1", "100"))
    clock.advance(HOUR + 1)
    guards.observe(position(clock, "ETHUSDT", "1", "100"))
    assert detected(guards.evaluate())
    clock.advance(900)
    events = guards.evaluate()
    assert [e.fields["how"] for e in events if e.name == "anomaly.pause_ended"] == ["expired"]
    assert detected(events) == []
    assert not guards.knobs("BTCUSDT").entry_block
    guards.observe(position(clock, "SOLUSDT", "1", "150"))  # +75% over the level when it fired
    assert detected(guards.evaluate())[0]["kinds"] == "exposure_spike"


def test_a_confidence_drop_against_the_window_before() -> None:
    guards, clock = make()
    for _ in range(5):
        guards.observe(rec(clock, "entry.submitted", symbol="BTCUSDT", confidence=0.8))
        clock.advance(1)
    clock.set_ms(T0 + HOUR * 1000)
    for _ in range(4):
        guards.observe(rec(clock, "entry.submitted", symbol="BTCUSDT", confidence=0.6))
        clock.advance(60)
    assert detected(guards.evaluate()) == []  # 4 entries: too few to judge
    guards.observe(rec(clock, "entry.submitted", symbol="BTCUSDT", confidence=0.6))
    [ev] = detected(guards.evaluate())
    assert ev["kinds"] == "confidence_drop"
    assert "0.600 < 0.800" in str(ev["detail"])


def test_a_small_confidence_drop_is_no_anomaly() -> None:
    guards, clock = make()
    for conf, start in ((0.8, T0), (0.7, T0 + HOUR * 1000)):
        clock.set_ms(start)
        for _ in range(6):
            guards.observe(rec(clock, "entry.submitted", confidence=conf))
    assert detected(guards.evaluate()) == []  # -12.5%


def test_a_risk_event_surge() -> None:
    guards, clock = make()
    guards.observe(rec(clock, "protection.stop_breached", symbol="BTCUSDT", severity="critical"))
    guards.observe(rec(clock, "reconcile.mismatch", symbol="BTCUSDT"))
    guards.observe(rec(clock, "runtime.loop_crash_limit", severity="critical"))
    guards.observe(rec(clock, "anomaly.detected", severity="high"))  # not a risk event
    assert detected(guards.evaluate()) == []
    guards.observe(rec(clock, "order.create.retry_alert", symbol="BTCUSDT"))
    [ev] = detected(guards.evaluate())
    assert ev["kinds"] == "risk_surge"


def test_risk_events_older_than_the_window_do_not_count() -> None:
    guards, clock = make()
    for _ in range(3):
        guards.observe(rec(clock, "kill.halted", severity="critical"))
    clock.advance(HOUR + 1)
    guards.observe(rec(clock, "kill.halted", severity="critical"))
    assert detected(guards.evaluate()) == []


def test_a_new_exit_code_after_min_exits() -> None:
    guards, clock = make()
    guards.observe(rec(clock, "exit.max_hold", symbol="BTCUSDT"))
    guards.observe(rec(clock, "exit.vwap_cross", symbol="BTCUSDT"))  # new, but only 1 exit seen
    for _ in range(8):
        guards.observe(rec(clock, "exit.max_hold", symbol="BTCUSDT"))
    guards.observe(rec(clock, "exit.submitted", symbol="BTCUSDT", kind="exit"))  # reports, not an exit
    guards.observe(position(clock, "BTCUSDT", "0", "0", kind="exit"))  # the exit's fill: counted above
    assert detected(guards.evaluate()) == []
    guards.observe(position(clock, "BTCUSDT", "0", "0", kind="stop_loss"))  # 11th exit, a new code
    [ev] = detected(guards.evaluate())
    assert ev["kinds"] == "new_exit_code"
    assert "stop_loss" in str(ev["detail"])
    guards.lift("anomaly_pause")
    guards.observe(position(clock, "BTCUSDT", "0", "0", kind="stop_loss"))
    assert detected(guards.evaluate()) == []


def test_several_kinds_in_one_detection() -> None:
    guards, clock = make({"ANOMALY_RISK_EVENTS_MAX": "1", "ANOMALY_MIN_EXITS": "1"})
    guards.observe(rec(clock, "exit.max_hold"))
    guards.observe(rec(clock, "exit.forced", severity="critical"))
    guards.observe(rec(clock, "kill.halted", severity="critical"))
    [ev] = detected(guards.evaluate())
    assert ev["kinds"] == "risk_surge,new_exit_code"


def test_zero_thresholds_and_disabled_are_off() -> None:
    env = {
        "ANOMALY_RISK_EVENTS_MAX": "0",
        "ANOMALY_MIN_EXITS": "0",
        "ANOMALY_EXPOSURE_SPIKE_PCT": "0",
        "ANOMALY_CONFIDENCE_DROP_PCT": "0",
    }
    for guards, clock in (make(env), make({"ANOMALY_GUARD_ENABLED": "0"})):
        guards.observe(position(clock, "BTCUSDT", "1", "100"))
        for _ in range(20):
            guards.observe(rec(clock, "exit.max_hold", severity="critical"))
        guards.observe(rec(clock, "exit.new_thing"))
        clock.advance(HOUR + 1)
        guards.observe(position(clock, "ETHUSDT", "10", "100"))
        assert detected(guards.evaluate()) == []
        assert not guards.knobs("BTCUSDT").entry_block


def test_the_operator_lifts_the_pause() -> None:
    guards, clock = make({"ANOMALY_RISK_EVENTS_MAX": "1"})
    guards.observe(rec(clock, "kill.halted", severity="critical"))
    guards.observe(rec(clock, "kill.halted", severity="critical"))
    guards.evaluate()
    assert guards.lift("anomaly_pause") is True
    assert not guards.knobs("BTCUSDT").entry_block
    assert [e.fields["how"] for e in guards.evaluate() if e.name == "anomaly.pause_ended"] == ["operator"]
    assert guards.lift("anomaly_pause") is False


def test_the_pause_and_the_exit_codes_survive_a_restart(tmp_path: Path) -> None:
    store = GuardStateStore(tmp_path / "guards.json")
    guards, clock = make({"ANOMALY_MIN_EXITS": "2"}, store)
    for name in ("exit.max_hold", "exit.max_hold", "exit.mom_fade"):
        guards.observe(rec(clock, name))
    guards.evaluate()
    clock.advance(60)
    again = GuardSet(GuardSettings.load({**BASE, "ANOMALY_MIN_EXITS": "2"}), clock, store)
    assert again.knobs("BTCUSDT").code == "anomaly_pause"
    again.lift("anomaly_pause")
    again.observe(rec(clock, "exit.mom_fade"))  # seen before the restart: not new
    assert detected(again.evaluate()) == []
    clock.advance(900)
    third = GuardSet(GuardSettings.load({**BASE, "ANOMALY_MIN_EXITS": "2"}), clock, store)
    assert not third.knobs("BTCUSDT").entry_block


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
)
_NAMES = st.sampled_from(
    [
        "position.changed",
        "entry.submitted",
        "exit.max_hold",
        "exit.submitted",
        "kill.halted",
        "protection.stop_breached",
        "order.create.retry_alert",
        "telemetry.confidence_drift",
        "entry.partial_fill_escalation",
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(
                ["event", "ts_ms", "symbol", "qty", "avg_entry", "confidence", "kind", "severity"]
            ),
            st.one_of(_VALUES, _NAMES),
        ),
        max_size=20,
    )
)
def test_odd_records_never_raise(records: list[dict[str, object]]) -> None:
    guards, clock = make({"ADAPTIVE_GUARD_ENABLED": "1", "STOP_BREACH_COOLDOWN_SEC": "900"})
    for record in records:
        guards.observe(record)
        clock.advance(1)
    for event in guards.evaluate():
        assert isinstance(event, GuardEvent)
    assert guards.knobs("BTCUSDT").exits_allowed


def test_a_guard_younger_than_its_window_evaluates_from_its_first_level() -> None:
    """Regression: a position in the first window of a new guard (the daemon's first hour) must not crash
    the exposure check (it had no level at or before the window start)."""
    guards, clock = make()
    clock.advance(60)
    guards.observe(position(clock, "BTCUSDT", "1.0", "100"))
    clock.advance(60)
    assert detected(guards.evaluate()) == []  # from flat (level 0 at the start) is never a spike
