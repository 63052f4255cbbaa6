"""Entry sizing: fixed notional / qty with per-symbol overrides, confidence, adaptive and correlation scales,
venue rounding and minimums, the router request."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eclipse.contracts import GuardKnobs, IntentKind, PositionSnapshot, Side
from eclipse.execution.entries.groups import CorrCaps, CorrExposureScale
from eclipse.execution.entries.settings import load_entry_settings
from eclipse.execution.entries.sizing import (
    ConfidenceScale,
    Sizer,
    SizeResult,
    SizingSettings,
    client_order_id,
    round_down,
)
from eclipse.execution.entries.values import CorrGroups, NamedNumbers
from eclipse.telemetry import MemorySink
from eclipse.venues.types import OrderType

from .test_entries_kit import intent, market, pos, telemetry

GROUPS = CorrGroups((("MEME", ("DOGEUSDT", "SHIBUSDT")), ("MAJOR", ("BTCUSDT", "ETHUSDT"))))
NO_GUARD = GuardKnobs()


def size_with(
    env: dict[str, str],
    symbol: str = "BTCUSDT",
    price: str = "100",
    confidence: float = 0.8,
    guard: GuardKnobs = NO_GUARD,
    positions: Sequence[PositionSnapshot] = (),
    **mkt: Any,
) -> tuple[SizeResult, MemorySink]:
    tel, sink, _ = telemetry()
    sizer = Sizer(load_entry_settings(env).sizing, tel)
    res = sizer.size(
        intent(symbol, confidence=confidence, price=price),
        market(symbol, **mkt),
        list(positions),
        guard,
    )
    return res, sink


def test_default_is_six_usdt_market_buy_with_a_deterministic_client_id() -> None:
    res, sink = size_with({})
    assert res.ok
    assert res.mode == "notional"
    assert res.base == Decimal(6)
    req = res.request
    assert req is not None
    assert (req.kind, req.type, req.side, req.reduce_only) == (
        IntentKind.ENTRY,
        OrderType.MARKET,
        Side.BUY,
        False,
    )
    assert req.qty == Decimal("0.060")
    assert req.notional == Decimal("6.000")
    assert req.client_order_id == client_order_id(intent().intent_id) == intent().intent_id + "-0"
    assert sink.events == []  # no scale applied, nothing blocked


def test_fixed_qty_beats_fixed_notional_and_symbol_overrides_beat_both() -> None:
    res, _ = size_with({"FIXED_QTY": "0.02", "FIXED_NOTIONAL_USDT": "50"})
    assert (res.mode, res.qty) == ("qty", Decimal("0.020"))
    res, _ = size_with({"FIXED_QTY": "0.02", "FIXED_NOTIONAL_USDT_BTC": "10"})
    assert (res.mode, res.qty) == ("notional", Decimal("0.100"))
    res, _ = size_with({"FIXED_NOTIONAL_USDT_BTC": "10", "FIXED_QTY_BTCUSDT": "0.05"})
    assert (res.mode, res.qty) == ("qty", Decimal("0.050"))
    env = {"FIXED_NOTIONAL_USDT": "10", "FIXED_NOTIONAL_USDT_DOGE": "5", "FIXED_NOTIONAL_USDT_DOGEUSDT": "7"}
    res, _ = size_with(env, "DOGEUSDT", price="0.1", step="1", min_qty="1")
    assert res.qty == Decimal(70)  # full symbol key beats the base asset
    res, _ = size_with(
        {"FIXED_NOTIONAL_USDT": "10", "FIXED_NOTIONAL_USDT_DOGE": "5"}, "DOGEUSDT", "0.1", step="1"
    )
    assert res.qty == Decimal(50)
    res, _ = size_with({"FIXED_NOTIONAL_USDT_DOGE": "5"}, "ETHUSDT")
    assert res.base == Decimal(6)  # other symbols keep the global size


def test_qty_rounds_down_to_the_step_and_is_capped_at_max_qty() -> None:
    res, _ = size_with({"FIXED_NOTIONAL_USDT": "10"}, price="3", step="0.01")
    assert res.qty == Decimal("3.33")
    res, _ = size_with({"FIXED_NOTIONAL_USDT": "1000"}, step="0.01", max_qty="2.5")
    assert res.qty == Decimal("2.50")
    assert round_down(Decimal("0.0999"), Decimal("0.05")) == Decimal("0.05")
    assert round_down(Decimal("1.23"), Decimal(0)) == Decimal("1.23")


@pytest.mark.parametrize(
    ("env", "mkt", "reason"),
    [
        ({"FIXED_NOTIONAL_USDT": "4"}, {}, "size_below_min_notional"),
        ({"FIXED_NOTIONAL_USDT": "20"}, {"step": "1", "min_qty": "1"}, "size_below_min_qty"),
        ({"FIXED_QTY": "0.0004"}, {}, "size_below_min_qty"),
        ({}, {"active": False}, "market_inactive"),
    ],
)
def test_sizes_below_the_venue_minimum_are_blocked_not_rounded_up(
    env: dict[str, str], mkt: dict[str, Any], reason: str
) -> None:
    tel, sink, _ = telemetry()
    res = Sizer(load_entry_settings(env).sizing, tel).size(intent(), market(**mkt), [], NO_GUARD)
    assert not res.ok
    assert res.reason == reason
    (event,) = sink.named("entry.blocked")
    assert event["reason"] == reason
    assert event["symbol"] == "BTCUSDT"


def test_confidence_scale_is_linear_between_the_bounds() -> None:
    cs = ConfidenceScale(True, 0.40, 0.75, 0.60, 1.00)
    assert cs.factor(0.1) == 0.6
    assert cs.factor(0.40) == 0.6
    assert cs.factor(0.575) == pytest.approx(0.8)
    assert cs.factor(0.75) == 1.0
    assert cs.factor(0.99) == 1.0
    assert cs.factor(float("nan")) == 0.6
    assert ConfidenceScale(False).factor(0.0) == 1.0
    with pytest.raises(ValueError, match="min_conf"):
        ConfidenceScale(True, 0.5, 0.5)
    env = {"ENTRY_CONF_SCALE_ENABLED": "1", "FIXED_NOTIONAL_USDT": "10"}
    res, sink = size_with(env, confidence=0.55)  # (0.55-0.35)/0.4 = 0.5 -> 0.75
    assert res.notional == Decimal("7.500")
    (ev,) = sink.named("entry.notional_scaled")
    assert (ev["reason"], ev["scale"], ev["before"], ev["after"]) == ("confidence", 0.75, "10.0", "7.500")


@given(
    conf=st.floats(0, 1),
    lo=st.floats(0, 1),
    hi=st.floats(0, 1),
    cmin=st.floats(0, 0.49),
    cmax=st.floats(0.5, 1),
)
def test_confidence_scale_stays_within_min_and_max(
    conf: float, lo: float, hi: float, cmin: float, cmax: float
) -> None:
    lo, hi = min(lo, hi), max(lo, hi)
    factor = ConfidenceScale(True, cmin, cmax, lo, hi).factor(conf)
    assert lo <= factor <= hi


def test_adaptive_scales_multiply_the_static_knob_and_the_guard() -> None:
    env = {"ADAPTIVE_GUARD_NOTIONAL_SCALE": "0.5", "FIXED_NOTIONAL_USDT": "20"}
    res, sink = size_with(env, guard=GuardKnobs(notional_scale=0.8, reason="drawdown"))
    assert res.notional == Decimal("8.000")
    (ev,) = sink.named("entry.notional_scaled")
    assert (ev["reason"], ev["scale"], ev["detail"]) == ("adaptive", 0.4, "drawdown")
    res, sink = size_with({"FIXED_QTY": "1"}, guard=GuardKnobs(qty_scale=0.25, notional_scale=0.1))
    assert res.qty == Decimal("0.250")
    assert [e["reason"] for e in sink.named("entry.qty_scaled")] == ["adaptive"]
    assert sink.named("entry.notional_scaled") == []
    res, sink = size_with({"ADAPTIVE_GUARD_QTY_SCALE": "0.5", "FIXED_QTY": "1"})
    assert res.qty == Decimal("0.500")
    res, _ = size_with({}, guard=GuardKnobs(notional_scale=3.0))  # a guard can only shrink
    assert res.notional == Decimal("6.000")
    res, _ = size_with({}, guard=GuardKnobs(notional_scale=0.0))
    assert res.reason == "size_below_min_qty"


def exposure_sizer(scale: CorrExposureScale, caps: CorrCaps) -> tuple[Sizer, MemorySink]:
    tel, sink, _ = telemetry()
    return Sizer(SizingSettings(fixed_notional=Decimal(50), exposure=scale, caps=caps), tel), sink


def test_correlation_exposure_scale() -> None:
    caps = CorrCaps(GROUPS)
    sizer, sink = exposure_sizer(CorrExposureScale(True, 0.5, 0.25, ref_notional=100.0), caps)
    held = [pos("ETHUSDT", "0.5", "100")]  # 50 open + 50 planned = 100 = 1 x ref -> 0.5
    res = sizer.size(intent(), market(), held, NO_GUARD)
    assert res.notional == Decimal("25.000")
    (ev,) = sink.named("entry.notional_scaled")
    assert ev["reason"] == "corr_group_exposure"
    assert "MAJOR" in str(ev["detail"])
    held = [pos("ETHUSDT", "3.5", "100")]  # 400 / 100 -> 0.5^4 = 0.0625 -> floor 0.25
    assert sizer.size(intent(), market(), held, NO_GUARD).notional == Decimal("12.500")
    assert sizer.size(intent("XRPUSDT"), market("XRPUSDT"), held, NO_GUARD).notional == Decimal("50.000")
    off, _ = exposure_sizer(CorrExposureScale(False, 0.5, 0.25, ref_notional=100.0), caps)
    assert off.size(intent(), market(), held, NO_GUARD).notional == Decimal("50.000")


def test_correlation_exposure_reference_and_per_group_overrides() -> None:
    held = [pos("ETHUSDT", "0.5", "100")]
    caps = CorrCaps(GROUPS, notional=NamedNumbers((("MAJOR", 200.0),)), max_notional=Decimal(400))
    scale = CorrExposureScale(True, 0.5, 0.1)  # no ref: the group's cap 200 -> 0.5^(100/200)
    sizer, _ = exposure_sizer(scale, caps)
    assert sizer.size(intent(), market(), held, NO_GUARD).qty == Decimal("0.353")  # 35.355 USDT, step
    no_ref, _ = exposure_sizer(scale, CorrCaps(GROUPS))
    assert no_ref.size(intent(), market(), held, NO_GUARD).notional == Decimal("50.000")
    by_group = CorrExposureScale(
        True,
        0.5,
        0.1,
        ref_notional=100.0,
        scale_by_group=NamedNumbers((("MAJOR", 0.8),)),
        min_by_group=NamedNumbers((("MAJOR", 0.7),)),
        ref_by_group=NamedNumbers((("MAJOR", 50.0),)),
    )
    sizer, _ = exposure_sizer(by_group, CorrCaps(GROUPS))  # 0.8^(100/50) = 0.64 -> floor 0.7
    assert sizer.size(intent(), market(), held, NO_GUARD).notional == Decimal("35.000")


@given(
    base=st.floats(0.0, 1.0),
    floor=st.floats(0.0, 1.0),
    ref=st.floats(1.0, 1e6),
    held=st.integers(0, 10**6),
    planned=st.integers(0, 10**6),
)
def test_correlation_scale_stays_within_min_and_one(
    base: float, floor: float, ref: float, held: int, planned: int
) -> None:
    caps = CorrCaps(GROUPS)
    scale = CorrExposureScale(True, base, floor, ref_notional=ref)
    factor, _ = scale.factor("BTCUSDT", Decimal(planned), [pos("ETHUSDT", str(held), "1")], caps)
    assert floor <= factor <= 1.0 or factor == 1.0


@given(
    notional=st.decimals(min_value=0, max_value=10**5, places=2),
    price=st.decimals(min_value="0.0001", max_value=10**5, places=4),
    conf=st.floats(0, 1),
    g=st.floats(0, 1),
    step=st.sampled_from(["1", "0.1", "0.001", "0.000001"]),
)
def test_sized_qty_is_on_the_step_and_never_above_the_unscaled_size(
    notional: Decimal, price: Decimal, conf: float, g: float, step: str
) -> None:
    env = {"FIXED_NOTIONAL_USDT": str(notional), "ENTRY_CONF_SCALE_ENABLED": "1"}
    res, _ = size_with(env, price=str(price), confidence=conf, guard=GuardKnobs(notional_scale=g), step=step)
    assert res.qty % Decimal(step) == 0
    assert res.qty * price <= notional
    if res.ok:
        assert res.request is not None
        assert res.request.qty == res.qty
        assert res.qty >= Decimal("0.001")
        assert res.notional >= 5


def test_market_must_match_the_intent() -> None:
    tel, _, _ = telemetry()
    with pytest.raises(ValueError, match="does not match"):
        Sizer(SizingSettings(), tel).size(intent("BTCUSDT"), market("ETHUSDT"), [], NO_GUARD)
