"""The fault plan and injector on their own: parsing, validation, determinism, scripts, listings and the
engine-facing protocol (no server here; the HTTP faults are exercised in test_server_faults.py)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from eclipse.venues.sim.faults import Fault, FaultInjector, FaultPlan, load_fault_plan
from eclipse.venues.sim.model import EngineFaults, OrderView
from eclipse.venues.types import OrderType, Side

PLAN = {
    "seed": 7,
    "clock_skew_ms": -2500,
    "random": [
        {"on": "order_create", "fault": "unknown_503", "p": 0.3},
        {"on": "*", "fault": "latency", "p": 0.5, "ms": 10, "jitter_ms": 5},
        {"on": "market_data", "fault": "http_429", "p": 0.2, "retry_after_s": 3},
    ],
    "script": [
        {"on": "order_create", "fault": "unknown_503"},
        {"on": "order_create", "fault": "lost_response", "hold_ms": 900},
        {"on": "order_cancel", "fault": "unavailable_503", "count": 2},
    ],
    "engine": {
        "partial_fills": {"p": 1.0, "slices": 4, "interval_ms": 250},
        "reduce_only_shrink": {"ratio": 0.5},
    },
    "trades": {"duplicate": 0.5, "missing": 0.5, "out_of_order": 0.5},
}


def _order(qty: str = "0.010", reduce_only: bool = True) -> OrderView:
    return OrderView(
        order_id=1,
        client_id="c1",
        symbol="BTCUSDT",
        side=Side.SELL,
        type=OrderType.MARKET,
        status="NEW",
        qty=Decimal(qty),
        price=None,
        trigger_price=None,
        filled=Decimal(0),
        cum_quote=Decimal(0),
        avg_price=Decimal(0),
        reduce_only=reduce_only,
        close_position=False,
        time_in_force=None,
        conditional=False,
        created_ms=0,
        updated_ms=0,
    )


def _sequence(inj: FaultInjector, classes: list[str]) -> list[tuple[int, str | None]]:
    out = []
    for cls in classes:
        d = inj.decide(cls)
        out.append((d.delay_ms, d.spec.fault.value if d.spec else None))
    return out


def test_plan_round_trips_through_json() -> None:
    plan = FaultPlan.from_dict(PLAN)
    again = FaultPlan.from_json(json.dumps(plan.to_dict()))
    assert again == plan
    assert plan.clock_skew_ms == -2500
    assert plan.script[1].spec.hold_ms == 900
    assert plan.engine.partial_p == 1.0
    assert plan.engine.slices == 4
    assert plan.engine.shrink_p == 1.0
    assert plan.engine.cancel_race_p == 0.0


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"random": [{"on": "order_create", "fault": "explode"}]}, "unknown fault 'explode'"),
        ({"random": [{"on": "orders", "fault": "http_429"}]}, "unknown endpoint class 'orders'"),
        ({"random": [{"fault": "http_429", "p": 1.5}]}, "random[0].p must be 0..1, got 1.5"),
        ({"script": [{"fault": "http_429", "count": 0}]}, "script[0].count must be 1..1e+06, got 0"),
        ({"script": [{"fault": "http_429", "colour": "red"}]}, "unknown key(s) ['colour']"),
        ({"seed": "x"}, "seed must be an integer"),
        ({"clock_skew_ms": 1.5}, "clock_skew_ms must be an integer"),
        ({"engine": {"partial_fills": {"slices": 1}}}, "engine.partial_fills.slices must be 2..1000"),
        # non-finite or absurd numbers: a clear refusal, never an overflow later
        ({"random": [{"fault": "latency", "ms": float("inf")}]}, "random[0].ms must be a finite number"),
        ({"random": [{"fault": "latency", "ms": float("nan")}]}, "random[0].ms must be a finite number"),
        ({"random": [{"fault": "latency", "ms": 10**400}]}, "random[0].ms must be 0..8.64e+07"),
        ({"script": [{"fault": "lost_response", "hold_ms": 1e300}]}, "script[0].hold_ms must be 0..8.64e+07"),
        ({"script": [{"fault": "http_418", "retry_after_s": 10**9}]}, "script[0].retry_after_s must be"),
        ({"engine": {"partial_fills": {"slices": 1e12}}}, "engine.partial_fills.slices must be 2..1000"),
        ({"engine": {"partial_fills": {"interval_ms": -1}}}, "engine.partial_fills.interval_ms must be"),
        ({"clock_skew_ms": 10**40}, "clock_skew_ms must be within"),
        ({"trades": {"dup": 1}}, "unknown key(s) ['dup']"),
        ({"unknown": 1}, "unknown key(s) ['unknown']"),
        ([], "must be a JSON object"),
    ],
)
def test_bad_plans_are_refused_with_the_reason(raw: object, needle: str) -> None:
    with pytest.raises(ValueError) as info:  # noqa: PT011 - the message is checked below
        FaultPlan.from_dict(raw)
    assert needle in str(info.value)


def test_load_fault_plan_reads_inline_json_and_files(tmp_path: Path) -> None:
    assert load_fault_plan(json.dumps(PLAN)) == FaultPlan.from_dict(PLAN)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(PLAN), encoding="utf-8")
    assert load_fault_plan(str(path)) == FaultPlan.from_dict(PLAN)
    with pytest.raises(ValueError, match="cannot read fault plan"):
        load_fault_plan(str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="not valid JSON"):
        load_fault_plan("{nope")


def test_same_seed_same_requests_same_faults() -> None:
    classes = ["order_create", "market_data", "order_cancel", "account", "order_query"] * 40
    a = _sequence(FaultInjector(FaultPlan.from_dict(PLAN)), classes)
    b = _sequence(FaultInjector(FaultPlan.from_dict(PLAN)), classes)
    assert a == b
    other = FaultPlan.from_dict({**PLAN, "seed": 8})
    assert _sequence(FaultInjector(other), classes) != a
    faults = {f for _, f in a if f}
    assert {"unknown_503", "lost_response", "unavailable_503", "http_429"} <= faults
    assert any(delay >= 10 for delay, _ in a)


def test_install_restarts_the_rng_so_a_plan_replays() -> None:
    inj = FaultInjector(FaultPlan.from_dict(PLAN))
    classes = ["order_create", "market_data"] * 30
    first = _sequence(inj, classes)
    inj.install(FaultPlan.from_dict(PLAN))
    assert _sequence(inj, classes) == first


def test_plan_seed_overrides_server_seed_and_server_seed_applies_otherwise() -> None:
    no_seed = {k: v for k, v in PLAN.items() if k != "seed"}
    classes = ["order_create"] * 50
    a = _sequence(FaultInjector(FaultPlan.from_dict(no_seed), seed=1), classes)
    b = _sequence(FaultInjector(FaultPlan.from_dict(no_seed), seed=2), classes)
    assert a != b
    c = _sequence(FaultInjector(FaultPlan.from_dict(PLAN), seed=1), classes)
    d = _sequence(FaultInjector(FaultPlan.from_dict(PLAN), seed=2), classes)
    assert c == d


def test_script_is_consumed_in_order_per_endpoint_class_before_random_rules() -> None:
    plan = FaultPlan.from_dict(
        {
            "script": [
                {"on": "order_create", "fault": "unknown_503"},
                {"on": "order_create", "fault": "lost_response"},
                {"on": "order_cancel", "fault": "http_418", "count": 2},
                {"on": "*", "fault": "internal_error"},
            ]
        }
    )
    inj = FaultInjector(plan)

    def fault(cls: str) -> Fault | None:
        spec = inj.decide(cls).spec
        return spec.fault if spec else None

    assert fault("market_data") is Fault.INTERNAL_ERROR  # the "*" step goes to the first request of any class
    assert fault("order_cancel") is Fault.HTTP_418
    assert fault("order_create") is Fault.UNKNOWN_503
    assert fault("order_cancel") is Fault.HTTP_418
    assert fault("order_create") is Fault.LOST_RESPONSE
    assert fault("order_create") is None
    assert fault("order_cancel") is None
    assert inj.remaining_script() == []
    assert inj.injected == {"internal_error": 1, "http_418": 2, "unknown_503": 1, "lost_response": 1}


def test_no_plan_means_no_faults_and_no_rng_use() -> None:
    inj = FaultInjector()
    assert all(inj.decide(c).spec is None and inj.decide(c).delay_ms == 0 for c in ["order_create"] * 20)
    assert inj.fill_slices(_order()) == (1, 0)
    assert inj.cancel_races_fill(_order()) is False
    assert inj.reduce_only_shrink(_order()) is None
    rows = [1, 2, 3]
    assert inj.mangle_trades(rows) == rows


def test_trade_listing_faults_duplicate_drop_and_reorder() -> None:
    always = FaultPlan.from_dict({"trades": {"duplicate": 1.0}})
    inj = FaultInjector(always)
    rows = list(range(10))
    out = inj.mangle_trades(rows)
    assert len(out) == 11
    assert sorted(set(out)) == rows
    assert rows == list(range(10))
    inj.install(FaultPlan.from_dict({"trades": {"missing": 1.0}}))
    out = inj.mangle_trades(rows)
    assert len(out) == 9
    assert set(out) < set(rows)
    inj.install(FaultPlan.from_dict({"trades": {"out_of_order": 1.0}}))
    out = inj.mangle_trades(rows)
    assert sorted(out) == rows
    assert out != rows
    assert inj.mangle_trades([]) == []


def test_engine_faults_follow_the_protocol() -> None:
    inj: EngineFaults = FaultInjector(FaultPlan.from_dict(PLAN), step_of=lambda s: Decimal("0.001"))
    assert inj.fill_slices(_order()) == (4, 250)
    assert inj.cancel_races_fill(_order()) is False
    assert inj.reduce_only_shrink(_order("0.011")) == Decimal("0.005")  # half, rounded down to the step
    assert inj.reduce_only_shrink(_order("0.001")) is None  # would round to nothing
    assert inj.reduce_only_shrink(_order("0.010", reduce_only=False)) is None
    race = FaultInjector(FaultPlan.from_dict({"engine": {"cancel_race": {"p": 1.0}}}))
    assert race.cancel_races_fill(_order()) is True
    assert race.fill_slices(_order()) == (1, 0)


def test_describe_shows_plan_remaining_script_and_counts() -> None:
    inj = FaultInjector(FaultPlan.from_dict(PLAN))
    inj.decide("order_cancel")
    desc = inj.describe()
    assert desc["plan"]["seed"] == 7
    assert {"on": "order_cancel", "fault": "unavailable_503", "count": 1} in desc["remaining_script"]
    assert desc["injected"]["unavailable_503"] == 1
    inj.clear()
    assert inj.describe()["remaining_script"] == []
    assert inj.clock_skew_ms == 0
