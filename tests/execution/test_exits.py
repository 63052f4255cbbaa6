"""Exit knobs, per-symbol overrides, the pure exit rules, ATR scaling and the exit engine."""

from __future__ import annotations

import inspect
import math
import typing
from collections.abc import Callable
from decimal import Decimal

import pytest

from eclipse.clock import SimClock
from eclipse.config.exit_knobs import SYMBOL_OVERRIDABLE
from eclipse.config.registry import get_param
from eclipse.contracts import GuardKnobs, IntentKind, PositionSnapshot
from eclipse.errors import ConfigError
from eclipse.execution.exits import (
    ExitEngine,
    ExitFeatures,
    ExitKnobs,
    ExitRule,
    ExitSettings,
    atr_scale,
    decide_exit,
    exit_request,
    load_exit_settings,
    symbol_keys,
)
from eclipse.execution.exits import engine as engine_mod
from eclipse.execution.exits import rules as rules_mod
from eclipse.execution.exits.overrides import KNOB_OF_FIELD
from eclipse.execution.positions import PositionBook
from eclipse.telemetry import MemorySink, Telemetry
from eclipse.venues.types import Fill, OrderType, Side

D = Decimal
SYM = "DOGE/USDT:USDT"
NAN = math.nan


def pos(qty: str = "100", entry: str = "0.1", opened: int | None = 0, symbol: str = SYM) -> PositionSnapshot:
    return PositionSnapshot(symbol, D(qty), D(entry), D(0), D(0), opened, opened or 0)


def feats(
    close: float = 0.1,
    mom_fast: float = 0.0,
    mom_slow: float = 0.0,
    vwap_dist: float = 0.0,
    prev: float | None = None,
    atr_pct: float = 0.003,
) -> ExitFeatures:
    return ExitFeatures(close, mom_fast, mom_slow, vwap_dist, prev, atr_pct)


# --- knobs ------------------------------------------------------------------------------------------------


def test_defaults_match_the_original_readme_and_every_field_has_a_knob() -> None:
    s = load_exit_settings({})
    k = s.base
    assert (k.mom_enabled, k.mom_min, k.mom_require_both) == (False, 0.0015, True)
    assert (k.vwap_enabled, k.vwap_tf, k.vwap_window, k.vwap_require_cross) == (False, "5m", 240, True)
    assert (k.atr_scale_enabled, k.atr_scale_ref_pct, k.atr_scale_min, k.atr_scale_max) == (
        False,
        0.003,
        0.6,
        1.6,
    )
    assert k == ExitKnobs()  # the dataclass defaults are the registry's
    for name in KNOB_OF_FIELD.values():
        param = get_param(name)
        assert param.owner.startswith("execution.exits")
        assert param.safety in ("exit", "risk")
    assert set(SYMBOL_OVERRIDABLE) <= set(KNOB_OF_FIELD.values())


def test_env_values_are_parsed_and_bad_values_name_the_knob() -> None:
    s = load_exit_settings({"EXIT_MOM_ENABLED": "1", "EXIT_MOM_MIN": "0.002", "EXIT_VWAP_TF": "15m"})
    assert (s.base.mom_enabled, s.base.mom_min, s.base.vwap_tf) == (True, 0.002, "15m")
    with pytest.raises(ConfigError, match="EXIT_VWAP_TF"):
        load_exit_settings({"EXIT_VWAP_TF": "2m"})
    with pytest.raises(ConfigError, match="EXIT_STOP_LOSS_PCT"):
        load_exit_settings({"EXIT_STOP_LOSS_PCT": "0"})  # a stop cannot be turned off
    with pytest.raises(ConfigError, match="EXIT_ATR_SCALE_MIN"):
        load_exit_settings({"EXIT_ATR_SCALE_MIN": "2", "EXIT_ATR_SCALE_MAX": "1.5"})


def test_symbol_suffix_overrides_use_the_base_parser() -> None:
    env = {
        "EXIT_MAX_HOLD_SEC": "600",
        "EXIT_MAX_HOLD_SEC_DOGE": "900",
        "EXIT_STAGNATION_ATR_DOGEUSDT": "0.8",
        "EXIT_STAGNATION_ATR_DOGE": "0.7",
        "EXIT_ATR_SCALE_REF_PCT_DOGE": "0.006",
    }
    s = load_exit_settings(env)
    doge = s.for_symbol(SYM)
    assert (doge.max_hold_sec, doge.stagnation_atr, doge.atr_scale_ref_pct) == (900.0, 0.8, 0.006)
    btc = s.for_symbol("BTC/USDT:USDT")
    assert (btc.max_hold_sec, btc.stagnation_atr, btc.atr_scale_ref_pct) == (600.0, 0.5, 0.003)
    assert symbol_keys(SYM) == ("DOGEUSDT", "DOGE")
    assert symbol_keys("BTCUSDT") == ("BTCUSDT",)
    with pytest.raises(ConfigError, match="EXIT_MAX_HOLD_SEC_DOGE"):
        load_exit_settings({"EXIT_MAX_HOLD_SEC_DOGE": "-1"})
    with pytest.raises(ConfigError, match="EXIT_ATR_SCALE_MIN_DOGE"):
        load_exit_settings({"EXIT_ATR_SCALE_MIN_DOGE": "1.7"})
    # a non-overridable knob with a suffix is not an override
    assert load_exit_settings({"EXIT_MOM_ENABLED_DOGE": "1"}).for_symbol(SYM).mom_enabled is False


# --- ATR scaling ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("atr", "mult"), [(0.003, 1.0), (0.0015, 0.6), (0.0006, 0.6), (0.0036, 1.2), (0.009, 1.6)]
)
def test_atr_scale_multiplier_is_clamped(atr: float, mult: float) -> None:
    k = ExitKnobs(atr_scale_enabled=True, max_hold_sec=1000, stagnation_sec=100)
    sc = atr_scale(k, atr)
    assert sc.applied
    assert sc.multiplier == pytest.approx(mult)
    assert (sc.max_hold_sec, sc.stagnation_sec) == pytest.approx((1000 * mult, 100 * mult))


def test_atr_scale_off_or_without_atr_is_one() -> None:
    k = ExitKnobs(max_hold_sec=1000)
    assert atr_scale(k, 0.009).multiplier == 1.0
    on = ExitKnobs(atr_scale_enabled=True, max_hold_sec=1000)
    for atr in (None, NAN, 0.0):
        sc = atr_scale(on, atr)
        assert (sc.applied, sc.multiplier, sc.max_hold_sec) == (False, 1.0, 1000)


# --- rules ------------------------------------------------------------------------------------------------


def test_mom_fade_long_and_short_and_require_both() -> None:
    k = ExitKnobs(mom_enabled=True)
    long_, short = pos("100"), pos("-100")
    assert decide_exit(long_, feats(mom_fast=-0.002, mom_slow=-0.0015), 0, k) is not None
    assert decide_exit(long_, feats(mom_fast=-0.002, mom_slow=-0.001), 0, k) is None
    assert decide_exit(short, feats(mom_fast=0.002, mom_slow=0.0016), 0, k) is not None
    assert decide_exit(short, feats(mom_fast=-0.002, mom_slow=-0.002), 0, k) is None
    either = ExitKnobs(mom_enabled=True, mom_require_both=False)
    d = decide_exit(long_, feats(mom_fast=-0.002, mom_slow=0.01), 0, either)
    assert d is not None
    assert d.rule is ExitRule.MOM_FADE
    assert "5m=-0.00200" in d.reason
    assert decide_exit(long_, feats(mom_fast=NAN, mom_slow=NAN), 0, either) is None  # warming up
    assert decide_exit(long_, feats(mom_fast=-1, mom_slow=-1), 0, ExitKnobs()) is None  # disabled
    assert decide_exit(pos("0"), feats(mom_fast=-1, mom_slow=-1), 0, k) is None  # flat


def test_vwap_cross_requires_the_cross_unless_told_otherwise() -> None:
    k = ExitKnobs(vwap_enabled=True)
    long_, short = pos("1"), pos("-1")
    d = decide_exit(long_, feats(vwap_dist=-0.001, prev=0.002), 0, k)
    assert d is not None
    assert d.rule is ExitRule.VWAP_CROSS
    assert decide_exit(long_, feats(vwap_dist=-0.001, prev=-0.002), 0, k) is None  # already below
    assert decide_exit(long_, feats(vwap_dist=-0.001, prev=None), 0, k) is None
    assert decide_exit(short, feats(vwap_dist=0.001, prev=-0.001), 0, k) is not None
    assert decide_exit(short, feats(vwap_dist=-0.001, prev=0.001), 0, k) is None
    simple = ExitKnobs(vwap_enabled=True, vwap_require_cross=False)
    assert decide_exit(long_, feats(vwap_dist=-0.001, prev=-0.002), 0, simple) is not None
    assert decide_exit(long_, feats(vwap_dist=NAN, prev=0.1), 0, simple) is None


def test_max_hold_and_its_atr_scaling() -> None:
    k = ExitKnobs(max_hold_sec=600)
    p = pos(opened=1_000)
    assert decide_exit(p, feats(), 1_000 + 599_999, k) is None
    d = decide_exit(p, feats(), 1_000 + 600_000, k)
    assert d is not None
    assert d.rule is ExitRule.MAX_HOLD
    assert d.held_sec == 600
    scaled = ExitKnobs(max_hold_sec=600, atr_scale_enabled=True)
    assert decide_exit(p, feats(atr_pct=0.0045), 1_000 + 600_000, scaled) is None  # x1.5 -> 900 s
    assert decide_exit(p, feats(), 1_000 + 899_000, scaled, entry_atr_pct=0.0045) is None
    d = decide_exit(p, feats(), 1_000 + 900_000, scaled, entry_atr_pct=0.0045)
    assert d is not None
    assert d.scale is not None
    assert d.scale.multiplier == pytest.approx(1.5)
    assert decide_exit(p, feats(), 10**12, ExitKnobs()) is None  # 0 = off


def test_stagnation_needs_time_and_no_progress() -> None:
    k = ExitKnobs(stagnation_sec=300, stagnation_atr=0.5)
    p = pos(entry="100", opened=0)
    # band = 0.5 x 0.004 = 0.002
    assert decide_exit(p, feats(close=100.1, atr_pct=0.004), 299_000, k) is None
    d = decide_exit(p, feats(close=100.1, atr_pct=0.004), 300_000, k)
    assert d is not None
    assert d.rule is ExitRule.STAGNATION
    assert decide_exit(p, feats(close=100.3, atr_pct=0.004), 300_000, k) is None  # moved 0.003
    assert decide_exit(p, feats(close=99.7, atr_pct=0.004), 300_000, k) is None
    assert decide_exit(p, feats(close=100.1, atr_pct=NAN), 300_000, k) is None
    assert decide_exit(p, feats(close=100.1, atr_pct=0.004), 300_000, ExitKnobs()) is None


def test_exit_request_is_reduce_only_market_for_the_whole_position() -> None:
    req = exit_request(pos("-3", opened=42), D("0.11"), attempt=2)
    assert (req.kind, req.type, req.side, req.qty, req.reduce_only) == (
        IntentKind.EXIT,
        OrderType.MARKET,
        Side.BUY,
        D(3),
        True,
    )
    assert (
        req.client_order_id
        == "X-DOGEUSDT-42-2"
        == exit_request(pos("-3", opened=42), D(1), 2).client_order_id
    )
    assert req.kind.reduces_risk
    with pytest.raises(ValueError, match="no position"):
        exit_request(pos("0"), D(1))


def test_exits_take_no_guard_or_posture_input() -> None:
    """Structural: no function or method of the exit path accepts a guard, a posture or GuardKnobs."""
    banned = ("guard", "posture", "gate", "block", "allow")
    callables: list[Callable[..., object]] = [decide_exit, exit_request, rules_mod.features_from_state]
    callables += [rules_mod.mom_fade_exit]
    callables += [rules_mod.vwap_cross_exit, rules_mod.max_hold_exit, rules_mod.stagnation_exit]
    callables += [m for _, m in inspect.getmembers(ExitEngine, inspect.isfunction)]
    for fn in callables:
        hints = typing.get_type_hints(fn, vars(rules_mod) | vars(engine_mod))
        for name in inspect.signature(fn).parameters:
            assert not any(b in name.lower() for b in banned), (fn, name)
        assert GuardKnobs not in hints.values(), fn


# --- engine -----------------------------------------------------------------------------------------------


def _engine(env: dict[str, str], clock: SimClock) -> tuple[ExitEngine, PositionBook, MemorySink]:
    sink = MemorySink()
    book = PositionBook(clock)
    return ExitEngine(load_exit_settings(env), book, clock, Telemetry(sink, clock)), book, sink


def _open(book: PositionBook, side: Side = Side.BUY, qty: str = "100", ts: int = 0) -> None:
    book.apply(Fill(f"t{ts}{side}", "o1", SYM, side, D("0.1"), D(qty), D(0), "USDT", ts))


def test_engine_emits_exit_event_once_while_in_flight_and_again_after_resolution() -> None:
    clock = SimClock(0)
    eng, book, sink = _engine({"EXIT_MOM_ENABLED": "1"}, clock)
    assert eng.evaluate(SYM, feats(mom_fast=-0.01, mom_slow=-0.01)) is None  # flat
    _open(book)
    req = eng.evaluate(SYM, feats(mom_fast=-0.01, mom_slow=-0.01))
    assert req is not None
    assert req.client_order_id == "X-DOGEUSDT-0-1"
    assert req.reduce_only
    assert eng.evaluate(SYM, feats(mom_fast=-0.01, mom_slow=-0.01)) is None  # in flight
    eng.exit_resolved(SYM)
    again = eng.evaluate(SYM, feats(mom_fast=-0.01, mom_slow=-0.01))
    assert again is not None
    assert again.client_order_id == "X-DOGEUSDT-0-2"
    events = sink.named("exit.mom_fade")
    assert len(events) == 2
    assert "momentum against buy" in str(events[0]["reason"])
    assert events[0]["client_order_id"] == "X-DOGEUSDT-0-1"


def test_engine_atr_scaled_event_once_per_position_with_the_multiplier() -> None:
    clock = SimClock(0)
    env = {"EXIT_MAX_HOLD_SEC": "600", "EXIT_ATR_SCALE_ENABLED": "1", "EXIT_ATR_SCALE_REF_PCT_DOGE": "0.002"}
    eng, book, sink = _engine(env, clock)
    eng.note_entry_atr(SYM, 0.003)  # x1.5 with the DOGE reference
    _open(book)
    clock.set_ms(899_000)
    assert eng.evaluate(SYM, feats()) is None
    clock.set_ms(900_000)
    req = eng.evaluate(SYM, feats())
    assert req is not None
    scaled = sink.named("exit.atr_scaled")
    assert len(scaled) == 1
    assert scaled[0]["multiplier"] == pytest.approx(1.5)
    assert scaled[0]["max_hold_sec"] == pytest.approx(900.0)
    assert sink.named("exit.max_hold")[0]["held_sec"] == 900.0


def test_force_exit_always_produces_a_reduce_only_exit() -> None:
    clock = SimClock(5_000)
    eng, book, sink = _engine({}, clock)
    assert eng.force_exit(SYM, "operator") is None
    _open(book, Side.SELL, "40", ts=1_000)
    first = eng.force_exit(SYM, "operator", D("0.1"))
    second = eng.force_exit(SYM, "kill switch")  # even with one in flight
    assert first is not None
    assert second is not None
    assert (first.side, first.qty, first.reduce_only, first.kind) == (Side.BUY, D(40), True, IntentKind.EXIT)
    assert [first.client_order_id, second.client_order_id] == ["X-DOGEUSDT-1000-1", "X-DOGEUSDT-1000-2"]
    assert [e["reason"] for e in sink.named("exit.forced")] == ["operator", "kill switch"]


def test_settings_for_symbol_without_overrides_is_the_base() -> None:
    s = ExitSettings(ExitKnobs(max_hold_sec=5))
    assert s.for_symbol(SYM) is s.base


def test_entry_atr_of_a_closed_position_does_not_leak_into_the_next() -> None:
    clock = SimClock(0)
    env = {"EXIT_MAX_HOLD_SEC": "600", "EXIT_ATR_SCALE_ENABLED": "1"}
    eng, book, sink = _engine(env, clock)
    eng.note_entry_atr(SYM, 0.0048)  # x1.6
    _open(book, ts=0)
    assert eng.evaluate(SYM, feats(atr_pct=0.003)) is None
    book.apply(Fill("close", "o2", SYM, Side.SELL, D("0.1"), D(100), D(0), "USDT", 1))
    assert eng.evaluate(SYM, feats(atr_pct=0.003)) is None  # flat: the entry ATR is forgotten
    _open(book, ts=2)
    clock.set_ms(600_002)
    req = eng.evaluate(SYM, feats(atr_pct=0.003))  # current ATR 0.003 -> x1: 600 s
    assert req is not None
    assert [e["multiplier"] for e in sink.named("exit.atr_scaled")] == [
        pytest.approx(1.6),
        pytest.approx(1.0),
    ]
