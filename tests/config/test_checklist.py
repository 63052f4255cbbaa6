"""The pre-live risk checklist and the limits a live start needs."""

from __future__ import annotations

from eclipse.config.checklist import LIVE_LIMITS, ChecklistItem, is_live, missing_live_limits, risk_checklist

LIMITS = {
    "MAX_DAILY_LOSS_PCT": "0.03",
    "MAX_DRAWDOWN_PCT": "0.1",
    "KILL_DAILY_HALT_SEC": "3600",
    "KILL_DRAWDOWN_HALT_SEC": "7200",
    "FIRST_LIVE_SYMBOLS": "BTCUSDT",
}
LIVE_READY = {"SCALPER_DRY_RUN": "0", "SCALPER_AUDIT": "1", **LIMITS}


def items(env: dict[str, str], live: bool | None = None) -> dict[str, ChecklistItem]:
    return {i.name: i for i in risk_checklist(env, "micro", live=live)}


def failed(env: dict[str, str], live: bool | None = None) -> set[str]:
    return {name for name, item in items(env, live).items() if not item.ok}


def test_missing_live_limits() -> None:
    assert missing_live_limits({}) == [*LIVE_LIMITS, "FIRST_LIVE_SYMBOLS"]
    assert missing_live_limits(LIMITS) == []
    assert missing_live_limits({**LIMITS, "MAX_DRAWDOWN_PCT": "0"}) == ["MAX_DRAWDOWN_PCT"]
    assert missing_live_limits({**LIMITS, "KILL_DAILY_HALT_SEC": "soon"}) == ["KILL_DAILY_HALT_SEC"]
    without_allowlist = {k: v for k, v in LIMITS.items() if k != "FIRST_LIVE_SYMBOLS"}
    assert missing_live_limits(without_allowlist) == ["FIRST_LIVE_SYMBOLS"]
    assert missing_live_limits({**without_allowlist, "FIRST_LIVE_SAFE": "0"}) == []


def test_is_live() -> None:
    assert not is_live({})
    assert is_live({"SCALPER_DRY_RUN": "0"})
    assert is_live({"SCALPER_DRY_RUN": "maybe"})  # unparseable: the stricter reading


def test_dry_run_passes_but_reports_unset_limits() -> None:
    checklist = items({})
    assert list(checklist) == [
        "SCALPER_DRY_RUN",
        "FIRST_LIVE_SAFE",
        "FIRST_LIVE_SYMBOLS",
        "FIXED_NOTIONAL_USDT",
        "LEVERAGE",
        *LIVE_LIMITS,
        "CORR_GROUP_*",
        "TELEMETRY_PATH",
        "SCALPER_AUDIT",
    ]
    assert failed({}) == set()
    assert "unset" in checklist["MAX_DAILY_LOSS_PCT"].note
    assert checklist["SCALPER_DRY_RUN"].value == "1"


def test_live_without_limits_fails_them() -> None:
    assert failed({"SCALPER_DRY_RUN": "0"}) == {*LIVE_LIMITS, "FIRST_LIVE_SYMBOLS", "SCALPER_AUDIT"}
    assert failed({}, live=True) == {*LIVE_LIMITS, "FIRST_LIVE_SYMBOLS", "SCALPER_AUDIT"}  # judged as live
    assert "LIVE" in items({"SCALPER_DRY_RUN": "0"})["SCALPER_DRY_RUN"].note


def test_a_ready_live_configuration_passes() -> None:
    checklist = items(LIVE_READY)
    assert failed(LIVE_READY) == set()
    assert checklist["MAX_DAILY_LOSS_PCT"].note.startswith("entries halt at a daily loss of 3%")
    assert checklist["KILL_DRAWDOWN_HALT_SEC"].value == "7200.0"


def test_first_live_safe_off_fails_live() -> None:
    env = {**LIVE_READY, "FIRST_LIVE_SAFE": "0"}
    assert failed(env) == {"FIRST_LIVE_SAFE"}
    assert items(env)["FIRST_LIVE_SYMBOLS"].ok


def test_correlation_caps_with_several_symbols() -> None:
    several = {**LIVE_READY, "ACTIVE_SYMBOLS": "BTCUSDT,ETHUSDT,DOGEUSDT"}
    assert failed(several) == {"CORR_GROUP_*"}
    assert failed({**several, "SCALPER_DRY_RUN": "1"}) == set()
    capped = {**several, "CORR_GROUPS": "MAJOR:BTCUSDT,ETHUSDT", "CORR_GROUP_MAX_POSITIONS": "1"}
    assert failed(capped) == set()
    assert items(capped)["CORR_GROUP_*"].value == "1 group, capped"


def test_invalid_values_fail_with_what_was_expected() -> None:
    checklist = items({"LEVERAGE": "lots", "FIXED_NOTIONAL_USDT": "-5"})
    assert not checklist["LEVERAGE"].ok
    assert checklist["LEVERAGE"].value == "(invalid)"
    assert checklist["LEVERAGE"].note == "invalid: expected an integer in [1, 125]"
    assert not checklist["FIXED_NOTIONAL_USDT"].ok


def test_per_symbol_overrides_are_counted() -> None:
    checklist = items({"LEVERAGE_BTCUSDT": "5", "LEVERAGE_ETH": "3", "FIXED_QTY": "0.01"})
    assert checklist["LEVERAGE"].note.endswith("(+2 per-symbol)")
    assert "FIXED_QTY=0.01 is used instead" in checklist["FIXED_NOTIONAL_USDT"].note
