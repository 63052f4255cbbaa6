"""Router knobs and retry policy: ROUTER_RETRY_POLICY parsing, backoff, budgets, settings loading."""

from __future__ import annotations

import random

import pytest

from eclipse.config.registry import get_param
from eclipse.errors import ConfigError
from eclipse.execution.router.policy import (
    DEFAULT_RETRY_RULES,
    FALLBACK_EXTRA,
    FALLBACK_MAX,
    RetryBudget,
    RetryPolicy,
    RetryRule,
    RetryTable,
    parse_retry_table,
)
from eclipse.execution.router.settings import load_router_settings

ROUTER_KNOBS = (
    "ROUTER_MAX_NOTIONAL_USDT",
    "ROUTER_RETRY_POLICY",
    "ROUTER_RETRY_BASE_SEC",
    "ROUTER_RETRY_MAX_DELAY_SEC",
    "ROUTER_REPLACE_MAX_ATTEMPTS",
    "ROUTER_RETRY_BUDGET_SEC",
)


def test_knobs_are_registered_with_owner_safety_and_doc() -> None:
    for name in ROUTER_KNOBS:
        p = get_param(name)
        assert p.owner == "execution.router"
        assert p.safety in {"sizing", "risk", "exit"}
        assert p.doc
        assert len(p.doc) <= 120
    assert get_param("ROUTER_MAX_NOTIONAL_USDT").aliases == ("ROUTER_NOTIONAL_CAP",)


def test_defaults_are_the_original_ones_and_round_trip() -> None:
    s = load_router_settings({})
    assert s.max_notional == 0
    assert s.replace_max_attempts == 3
    assert str(s.policy.table) == "network=8:0.35:3:2,exchange_busy=7:0.45:4:2,timestamp=4:0.3:2:1"
    assert dict(s.policy.table.rules) == dict(DEFAULT_RETRY_RULES)
    p = get_param("ROUTER_RETRY_POLICY")
    assert p.parse(str(p.default)) == p.default


def test_an_entry_replaces_its_reason_and_keeps_the_other_defaults() -> None:
    table = parse_retry_table(" rate_limited=3:1.5:10:0 , network = 2:0.1:0.5:1")
    assert table.get("network") == RetryRule(2, 0.1, 0.5, 1)
    assert table.get("rate_limited") == RetryRule(3, 1.5, 10.0, 0)
    assert table.get("exchange_busy") == DEFAULT_RETRY_RULES["exchange_busy"]
    assert parse_retry_table(str(table)) == table


@pytest.mark.parametrize(
    "raw",
    [
        "network=8:0.35:3",  # three fields
        "netwrk=8:0.35:3:2",  # unknown reason
        "network=0:0.35:3:2",  # max < 1
        "network=8:0.35:3:-1",  # extra < 0
        "network=8:5:3:2",  # delay > max_delay
        "network=8:x:3:2",
        "network=8:nan:3:2",
        "network=8:0.35:3:2,network=1:0.1:1:0",  # twice
        "network",
        ",",
    ],
)
def test_bad_policies_name_the_knob_and_the_format(raw: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_router_settings({"ROUTER_RETRY_POLICY": raw})
    msg = str(exc.value)
    assert msg.startswith("ROUTER_RETRY_POLICY=")
    assert "reason=max:delay:max_delay:extra" in msg


def test_notional_cap_legacy_alias_and_conflicts() -> None:
    assert load_router_settings({"ROUTER_NOTIONAL_CAP": "250"}).max_notional == 250
    assert load_router_settings({"ROUTER_MAX_NOTIONAL_USDT": "99.5"}).max_notional == pytest.approx(99.5)
    with pytest.raises(ConfigError, match="ROUTER_NOTIONAL_CAP"):
        load_router_settings({"ROUTER_MAX_NOTIONAL_USDT": "100", "ROUTER_NOTIONAL_CAP": "200"})
    with pytest.raises(ConfigError, match="ROUTER_MAX_NOTIONAL_USDT"):
        load_router_settings({"ROUTER_MAX_NOTIONAL_USDT": "-1"})


def test_base_delays_and_replace_attempts() -> None:
    s = load_router_settings(
        {
            "ROUTER_RETRY_BASE_SEC": "0.2",
            "ROUTER_RETRY_MAX_DELAY_SEC": "2",
            "ROUTER_REPLACE_MAX_ATTEMPTS": "5",
        }
    )
    assert s.replace_max_attempts == 5
    # rate_limited has no entry by default: the fallback built from the base knobs
    assert s.policy.rule("rate_limited") == RetryRule(FALLBACK_MAX, 0.2, 2.0, FALLBACK_EXTRA)
    assert s.policy.rule("network") == DEFAULT_RETRY_RULES["network"]
    with pytest.raises(ConfigError, match="ROUTER_RETRY_BASE_SEC"):
        load_router_settings({"ROUTER_RETRY_BASE_SEC": "3", "ROUTER_RETRY_MAX_DELAY_SEC": "2"})
    with pytest.raises(ConfigError, match="ROUTER_REPLACE_MAX_ATTEMPTS"):
        load_router_settings({"ROUTER_REPLACE_MAX_ATTEMPTS": "-1"})


def test_backoff_is_exponential_capped_jittered_and_seeded() -> None:
    policy = RetryPolicy(RetryTable((("network", RetryRule(9, 0.5, 3.0, 0)),)))
    rng = random.Random(1)
    for k in range(1, 9):
        raw = min(3.0, 0.5 * 2 ** (k - 1))
        waits = [policy.delay("network", k, rng) for _ in range(200)]
        assert all(raw * 0.5 <= w <= raw for w in waits)
        assert max(waits) - min(waits) > raw * 0.3  # really jittered
    a = [policy.delay("network", 3, random.Random(5)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    # retry_after_s is a floor, even above max_delay
    assert policy.delay("network", 1, rng, retry_after_s=7.0) == 7.0
    assert policy.delay("network", 9, rng, retry_after_s=0.01) >= 1.5


def test_budget_alerts_at_max_and_gives_up_after_extra() -> None:
    budget = RetryBudget(RetryPolicy(RetryTable((("network", RetryRule(3, 0.1, 1.0, 2)),))))
    steps = [budget.record("network") for _ in range(5)]
    assert [s.alert for s in steps] == [False, False, True, False, False]
    assert [s.exhausted for s in steps] == [False, False, False, False, True]
    assert [s.extra_left for s in steps] == [4, 3, 2, 1, 0]
    assert budget.record("timestamp").tries == 1  # counted per reason
    assert budget.total == 6
    zero_extra = RetryBudget(RetryPolicy(RetryTable((("network", RetryRule(1, 0.1, 1.0, 0)),))))
    first = zero_extra.record("network")
    assert first.alert
    assert first.exhausted


@pytest.mark.parametrize(
    "raw",
    [
        "network=100000000:0.35:3:2",  # a retry storm
        "network=51:0.35:3:2",
        "network=8:0.35:3:21",
        "network=8:0.35:61:2",
        "network=8:61:61:2",
    ],
)
def test_retry_policy_is_bounded_and_the_error_names_the_limits(raw: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_router_settings({"ROUTER_RETRY_POLICY": raw})
    msg = str(exc.value)
    assert msg.startswith("ROUTER_RETRY_POLICY=")
    assert "max <= 50" in msg
    assert "extra <= 20" in msg
    assert "max_delay <= 60 seconds" in msg
    edge = load_router_settings({"ROUTER_RETRY_POLICY": "network=50:60:60:20"}).policy.rule("network")
    assert edge == RetryRule(50, 60.0, 60.0, 20)
    with pytest.raises(ValueError, match="max <= 50"):
        RetryRule(51, 0.1, 1.0, 0)
    with pytest.raises(ConfigError, match="ROUTER_RETRY_MAX_DELAY_SEC"):
        load_router_settings({"ROUTER_RETRY_MAX_DELAY_SEC": "61"})


def test_retry_time_budget_knob() -> None:
    assert load_router_settings({}).policy.budget_s == 10.0
    assert get_param("ROUTER_RETRY_BUDGET_SEC").safety == "risk"
    assert load_router_settings({"ROUTER_RETRY_BUDGET_SEC": "3.5"}).policy.budget_s == 3.5
    for bad in ("0", "15", "-1", "nan"):  # must end below the 15 s protection grace
        with pytest.raises(ConfigError, match="ROUTER_RETRY_BUDGET_SEC"):
            load_router_settings({"ROUTER_RETRY_BUDGET_SEC": bad})
    budget = RetryBudget(RetryPolicy(budget_s=2.0), now_ms=1_000)
    assert budget.deadline_ms == 3_000
    assert budget.fits(1_000, 2.0)
    assert not budget.fits(1_500, 2.0)
    assert RetryBudget(RetryPolicy(), now_ms=0, deadline_ms=500).deadline_ms == 500  # shared deadline
