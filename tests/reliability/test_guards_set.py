"""The guard set as a whole: how the guards' knobs combine, the state store (atomic save, corrupt files),
settings and registry knobs, telemetry-ready events, and properties over random event sequences."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.reliability.guards_kit import guard_set, rec

import eclipse.reliability.guards as guards_pkg
from eclipse.clock import SimClock
from eclipse.config.registry import REGISTRY, get_param
from eclipse.contracts import GuardKnobs
from eclipse.errors import ConfigError, EclipseError
from eclipse.market.bars import Bar
from eclipse.reliability.guards import GuardEvent, GuardSet, GuardSettings, GuardStateError, GuardStateStore
from eclipse.telemetry import MemorySink, Telemetry

T0 = 28_333_320 * 60_000  # minute-aligned
ENV = {"MAX_DAILY_LOSS_PCT": "0.02", "MAX_DRAWDOWN_PCT": "0.1"}


def make(
    env: dict[str, str] | None = None, store: GuardStateStore | None = None
) -> tuple[GuardSet, SimClock]:
    return guard_set(T0, ENV, env, store)


def good_bar(clock: SimClock) -> Bar:
    return Bar(clock.now_ms() // 60_000 * 60_000 - 60_000, 100.0, 101.0, 99.0, 100.0, 1.0)


# --- combination ------------------------------------------------------------------------------------------
def test_knobs_combine_global_and_per_symbol_restrictions_by_priority() -> None:
    guards, clock = make()
    guards.on_bar("BTCUSDT", good_bar(clock))
    guards.observe(rec(clock, "protection.stop_breached", symbol="BTCUSDT"))
    guards.observe(rec(clock, "order.create.retry_alert", symbol="BTCUSDT"))
    assert guards.knobs("BTCUSDT").code == "stop_breach_cooldown"
    assert guards.knobs("ETHUSDT").code == "data_stale"  # never received a bar
    guards.check_risk(Decimal(1000))
    guards.check_risk(Decimal(970))
    btc = guards.knobs("BTCUSDT")
    assert btc.code == "kill_daily_loss"
    assert btc.entry_block
    assert btc.min_confidence_delta == 0.15  # the adaptive raise is kept under the block
    assert "kill switch" in btc.reason
    assert "stop-loss breach" in btc.reason
    assert guards.knobs("ETHUSDT").code == "kill_daily_loss"
    assert guards.knobs(None).code == "kill_daily_loss"
    assert guards.knobs(None).min_confidence_delta == 0  # the raise is BTC's only
    assert sorted(a.guard for a in guards.active()) == ["adaptive", "breach_cooldown", "kill_switch"]
    assert guards.lift("kill_daily_loss") is True
    assert guards.knobs("BTCUSDT").code == "stop_breach_cooldown"
    assert guards.current("BTCUSDT") == guards.knobs("BTCUSDT")


def test_no_restriction_gives_the_default_knobs() -> None:
    guards, _ = make({"ENTRY_DATA_MAX_STALE_SEC": "0"})
    assert guards.knobs("BTCUSDT") == GuardKnobs()
    assert guards.knobs() == GuardKnobs()
    assert guards.active() == []
    assert guards.lift("nothing") is False


def test_the_kill_switch_outranks_the_anomaly_pause_which_outranks_data_quality() -> None:
    guards, clock = make({"ANOMALY_RISK_EVENTS_MAX": "1"})
    guards.observe(rec(clock, "kill.halted", severity="critical"))
    guards.observe(rec(clock, "kill.halted", severity="critical"))
    guards.evaluate()
    assert guards.knobs("BTCUSDT").code == "anomaly_pause"  # and data_stale: no bar yet
    guards.check_risk(Decimal(1000))
    guards.check_risk(Decimal(900))
    assert guards.knobs("BTCUSDT").code == "kill_daily_loss"
    assert guards.knobs(None).code == "kill_daily_loss"


def test_every_event_can_be_emitted_as_telemetry() -> None:
    guards, clock = make({"ANOMALY_RISK_EVENTS_MAX": "1"})
    events = guards.on_bar("BTCUSDT", good_bar(clock))
    for name in ("protection.stop_breached", "order.create.retry_alert", "kill.halted"):
        guards.observe(rec(clock, name, symbol="BTCUSDT", severity="critical"))
    events += guards.check_risk(Decimal(1000)) + guards.check_risk(Decimal(800)) + guards.evaluate()
    sink = MemorySink()
    telemetry = Telemetry(sink, clock)
    for ev in events:
        assert isinstance(ev, GuardEvent)
        assert all(v is None or isinstance(v, str | int | float | bool) for v in ev.fields.values()), ev
        telemetry.emit(ev.name, **ev.fields)
    names = {e["event"] for e in sink.events}
    assert {
        "data.quality",
        "guard.breach_cooldown",
        "guard.adaptive",
        "kill.halted",
        "anomaly.detected",
    } <= names


# --- the store --------------------------------------------------------------------------------------------
def test_the_store_saves_atomically_and_round_trips(tmp_path: Path) -> None:
    store = GuardStateStore(tmp_path / "state" / "guards.json")
    assert store.load() is None
    guards, clock = make(store=store)
    guards.observe(rec(clock, "protection.stop_breached", symbol="BTCUSDT"))
    doc = json.loads(store.path.read_text(encoding="utf-8"))
    assert doc["version"] == 1
    assert set(doc) == {
        "version",
        "saved_ms",
        "kill_switch",
        "data_quality",
        "anomaly",
        "breach_cooldown",
        "adaptive",
    }
    assert store.load() == doc
    assert [p.name for p in store.path.parent.iterdir()] == ["guards.json"]  # no temporary file left
    guards.save()
    assert GuardSet(guards.settings, clock, store).state() == guards.state()


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[1, 2]",
        b"\xff\xfe\x00",
        b'{"version": 2}',
        b'{"kill_switch": {}}',
        b'{"version": 1, "breach_cooldown": []}',
        b'{"version": 1, "kill_switch": {"day_ref": "abc"}}',
        b'{"version": 1, "kill_switch": {"halts": {"kill_daily_loss": {"until_ms": "soon"}}}}',
        b'{"version": 1, "data_quality": {"BTCUSDT": {"samples": [[1, "x"]]}}}',
        b'{"version": 1, "adaptive": {"*": {"delta": 0.1}}}',
        b'{"version": 1, "anomaly": {"exit_codes": [1]}}',
    ],
)
def test_a_corrupt_store_raises_a_one_line_guard_state_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "guards.json"
    path.write_bytes(content)
    with pytest.raises(GuardStateError) as info:
        make(store=GuardStateStore(path))
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert "move it aside or delete it" in message
    assert isinstance(info.value, EclipseError)


def test_an_unreadable_store_raises_guard_state_error(tmp_path: Path) -> None:
    (tmp_path / "guards.json").mkdir()
    with pytest.raises(GuardStateError, match=r"guards\.json"):
        GuardStateStore(tmp_path / "guards.json").load()


def test_a_failed_automatic_save_is_reported_not_raised(tmp_path: Path) -> None:
    store = GuardStateStore(tmp_path / "state" / "guards.json")
    guards, clock = make(store=store)
    (tmp_path / "state").write_text("x", encoding="utf-8")  # the directory is now a file
    guards.observe(rec(clock, "protection.stop_breached", symbol="BTCUSDT"))
    guards.observe(rec(clock, "protection.stop_breached", symbol="ETHUSDT"))
    failed = [e for e in guards.evaluate() if e.name == "guard.state_save_failed"]
    assert len(failed) == 1
    assert failed[0].fields["severity"] == "high"
    assert guards.knobs("BTCUSDT").entry_block
    with pytest.raises((NotADirectoryError, FileExistsError)):
        guards.save()


# --- settings and knobs -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("KILL_DAILY_HALT_UNTIL_UTC", "25:00"),
        ("KILL_DAILY_HALT_UNTIL_UTC", "06:60"),
        ("KILL_DAILY_HALT_UNTIL_UTC", "6"),
        ("ADAPTIVE_GUARD_RETRY_DELTA", "2"),
        ("ANOMALY_PAUSE_SEC", "0"),
        ("ENTRY_DATA_QUALITY_WINDOW", "1"),
        ("STOP_BREACH_COOLDOWN_SEC", "-1"),
        ("MAX_DAILY_LOSS_PCT", "1.5"),
    ],
)
def test_a_bad_knob_raises_config_error_naming_it(knob: str, value: str) -> None:
    with pytest.raises(ConfigError, match=knob):
        GuardSettings.load({knob: value})


def test_settings_read_the_kill_switch_limits_of_the_runtime_knobs() -> None:
    s = GuardSettings.load(
        {**ENV, "KILL_DAILY_HALT_SEC": "60", "KILL_DAILY_HALT_UNTIL_UTC": "6:30"}, "production"
    )
    assert s.kill.max_daily_loss_pct == 0.02
    assert s.kill.daily_halt_sec == 60
    assert s.kill.daily_halt_until_min == 6 * 60 + 30
    assert GuardSettings.load({}).kill.daily_halt_until_min is None


def test_guard_knobs_are_registered_once_with_their_owner() -> None:
    mine = [p for p in REGISTRY if p.owner == "reliability.guards"]
    names = {p.name for p in mine}
    assert {"KILL_DAILY_HALT_UNTIL_UTC", "ENTRY_DATA_MAX_STALE_SEC", "ADAPTIVE_GUARD_ENABLED"} <= names
    assert {"ANOMALY_GUARD_ENABLED", "STOP_BREACH_COOLDOWN_SEC", "ENTRY_DATA_QUALITY_ROLL_MIN"} <= names
    assert get_param("MAX_DAILY_LOSS_PCT").owner == "runtime.risk"  # not redefined
    assert get_param("ADAPTIVE_GUARD_NOTIONAL_SCALE").owner == "execution.sizing"
    assert get_param("KILL_DAILY_HALT_UNTIL_UTC").parse("1") == "00:00"
    assert get_param("KILL_DAILY_HALT_UNTIL_UTC").parse("0") == ""


def test_the_package_reads_no_environment_and_no_wall_clock() -> None:
    for path in Path(guards_pkg.__file__).parent.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "os.environ" not in text, path.name
        assert "time.time" not in text, path.name
        assert len(text.splitlines()) < 300, path.name


# --- properties -------------------------------------------------------------------------------------------
_SYMBOLS = ("BTCUSDT", "ETHUSDT", None)
_RECORD = st.builds(
    lambda name, symbol, severity: {
        "event": name,
        **({"symbol": symbol} if symbol else {}),
        **({"severity": severity} if severity else {}),
        "qty": "1",
        "avg_entry": "100",
        "confidence": 0.5,
    },
    st.sampled_from(
        [
            "protection.stop_breached",
            "order.create.retry_alert",
            "entry.partial_fill_escalation",
            "telemetry.confidence_drift",
            "exit.signal_issue",
            "exit.telemetry_guard",
            "exit.max_hold",
            "exit.forced",
            "position.changed",
            "entry.submitted",
            "reconcile.mismatch",
            "entry.blocked",
        ]
    ),
    st.sampled_from(_SYMBOLS),
    st.sampled_from([None, "critical", "high"]),
)
_OP = st.one_of(
    st.tuples(st.just("observe"), _RECORD),
    st.tuples(st.just("risk"), st.integers(500, 1500)),
    st.tuples(st.just("bar"), st.sampled_from(_SYMBOLS[:2])),
    st.tuples(st.just("advance"), st.integers(0, 4000)),
    st.tuples(st.just("evaluate"), st.none()),
    st.tuples(
        st.just("lift"),
        st.sampled_from(
            ["kill_daily_loss", "kill_drawdown", "anomaly_pause", "stop_breach_cooldown", "adaptive_guard"]
        ),
    ),
)


@settings(max_examples=120, deadline=None)
@given(st.lists(_OP, max_size=40))
def test_knobs_never_block_exits_and_only_tighten_on_telemetry_and_equity(
    ops: list[tuple[str, object]],
) -> None:
    guards, clock = make({"ANOMALY_RISK_EVENTS_MAX": "2", "ANOMALY_MIN_EXITS": "1"})
    for op, arg in ops:
        before = {s: guards.knobs(s) for s in _SYMBOLS}
        if op == "observe":
            assert isinstance(arg, dict)
            guards.observe({**arg, "ts_ms": clock.now_ms()})
        elif op == "risk":
            assert isinstance(arg, int)
            guards.check_risk(Decimal(arg))
        elif op == "bar":
            guards.on_bar(str(arg), good_bar(clock))
        elif op == "advance":
            assert isinstance(arg, int)
            clock.advance(arg)
        elif op == "evaluate":
            guards.evaluate()
        else:
            guards.lift(str(arg))
        for s in _SYMBOLS:
            knobs = guards.knobs(s)
            assert type(knobs) is GuardKnobs
            assert knobs.exits_allowed
            assert knobs.protection_allowed
            if knobs.entry_block:
                assert knobs.code  # the entry.blocked reason
            if op in ("observe", "risk"):
                assert knobs.at_least_as_strict_as(before[s]), (op, arg, before[s], knobs)
