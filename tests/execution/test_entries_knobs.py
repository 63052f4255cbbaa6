"""Entry knobs: registration, structured parsers, original defaults, suffix overrides, cross-knob checks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eclipse.config.parsers import format_value
from eclipse.config.registry import REGISTRY, get_param
from eclipse.errors import ConfigError
from eclipse.execution.entries.settings import load_entry_settings, suffix_overrides
from eclipse.execution.entries.values import (
    CorrGroups,
    NamedNumbers,
    base_asset,
    corr_groups_parser,
    named_numbers_parser,
    symbol_key,
)
from eclipse.venues.types import MarginMode

# Defaults the original README documents.
README_DEFAULTS: dict[str, object] = {
    "ENTRY_BLOCK_ON_ROUTER_BLOCK": True,
    "ENTRY_BLOCK_ROUTER_WINDOW_SEC": 60.0,
    "ENTRY_BLOCK_ROUTER_THRESHOLD": 1,
    "ENTRY_BLOCK_ROUTER_BACKOFF_SEC": 10.0,
    "ENTRY_BLOCK_ON_ERRORS": False,
    "ENTRY_BLOCK_ERRORS_WINDOW_SEC": 60.0,
    "ENTRY_BLOCK_ERRORS_THRESHOLD": 3,
    "ENTRY_BLOCK_ERRORS_BACKOFF_SEC": 15.0,
    "ENTRY_PARTIAL_MIN_FILL_RATIO": 0.5,
    "ENTRY_PARTIAL_CANCEL": True,
    "ENTRY_PARTIAL_BACKOFF_SEC": 10.0,
    "ENTRY_PARTIAL_ESCALATE_WINDOW_SEC": 600.0,
    "ENTRY_PARTIAL_ESCALATE_COUNT": 3,
    "ENTRY_PARTIAL_ESCALATE_BACKOFF_SEC": 120.0,
    "ENTRY_PARTIAL_ESCALATE_TELEM_CD_SEC": 300.0,
    "ENTRY_PARTIAL_CANCEL_RETRIES": 2,
    "ENTRY_PARTIAL_CANCEL_DELAY_SEC": 0.25,
    "ENTRY_PARTIAL_FORCE_FLATTEN": True,
    "ENTRY_PARTIAL_FLATTEN_RETRIES": 2,
    "ENTRY_CONF_SCALE_ENABLED": False,
    "ENTRY_CONF_SCALE_MIN_CONF": 0.35,
    "ENTRY_CONF_SCALE_MAX_CONF": 0.75,
    "ENTRY_CONF_SCALE_MIN": 0.5,
    "ENTRY_CONF_SCALE_MAX": 1.0,
    "CORR_GROUP_EXPOSURE_SCALE_ENABLED": False,
    "CORR_GROUP_EXPOSURE_SCALE": 0.7,
    "CORR_GROUP_EXPOSURE_SCALE_MIN": 0.25,
    "CORR_GROUP_EXPOSURE_REF_NOTIONAL": 0.0,
    "LEVERAGE_GROUP_SCALE": 0.7,
    "LEVERAGE_GROUP_SCALE_MIN": 1.0,
    "LEVERAGE_GROUP_EXCLUDE_SELF": True,
    "LEVERAGE_GROUP_EXPOSURE_REF_PCT": 0.10,
}
OWNERS = {"execution.entries", "execution.sizing", "execution.leverage"}


def entry_knobs() -> list[str]:
    return [p.name for p in REGISTRY if p.owner in OWNERS]


def test_every_entry_knob_is_registered_once_with_owner_and_doc() -> None:
    names = entry_knobs()
    assert len(names) == len(set(names)) == 52
    for name in [*README_DEFAULTS, "CORR_GROUPS", "CORR_GROUP_LIMITS", "LEVERAGE_BY_SYMBOL", "MARGIN_MODE"]:
        assert name in names
    for p in REGISTRY:
        if p.owner in OWNERS:
            assert p.doc.strip()
            assert len(p.doc) <= 120
            assert "\n" not in p.doc
            assert p.safety in {"none", "entry", "sizing", "risk"}


@pytest.mark.parametrize("name", sorted(README_DEFAULTS))
def test_defaults_match_the_original_readme(name: str) -> None:
    assert get_param(name).default_for("micro") == README_DEFAULTS[name]
    assert get_param(name).default_for("production") == README_DEFAULTS[name]


@pytest.mark.parametrize("name", entry_knobs())
def test_defaults_round_trip_through_their_parser(name: str) -> None:
    p = get_param(name)
    assert p.parse(format_value(p.default_for("micro"))) == p.default_for("micro")


def test_corr_groups_parse_and_render() -> None:
    parser = corr_groups_parser()
    g = parser.parse("CORR_GROUPS", " meme:dogeusdt, SHIBUSDT ;MAJOR:BTC/USDT:USDT,ETHUSDT; ")
    assert g.names == ("MEME", "MAJOR")
    assert g.members("MEME") == ("DOGEUSDT", "SHIBUSDT")
    assert g.groups_of("BTC/USDT:USDT") == ("MAJOR",)
    assert g.groups_of("XRPUSDT") == ()
    assert str(g) == "MEME:DOGEUSDT,SHIBUSDT;MAJOR:BTCUSDT,ETHUSDT"
    assert parser.parse("CORR_GROUPS", "") == CorrGroups()
    both = parser.parse("CORR_GROUPS", "A:BTCUSDT;B:BTCUSDT,ETHUSDT")
    assert both.groups_of("BTCUSDT") == ("A", "B")


@pytest.mark.parametrize("raw", ["MEME", "MEME:", ":BTCUSDT", "A:BTCUSDT;A:ETHUSDT", "A:BTC USDT", "A:X,X"])
def test_bad_corr_groups_name_the_knob_and_the_format(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"CORR_GROUPS=.*expected groups like") as info:
        load_entry_settings({"CORR_GROUPS": raw})
    assert info.value.knob == "CORR_GROUPS"


def test_named_numbers_parse_render_and_reject() -> None:
    p = named_numbers_parser("symbol", min_value=1, max_value=125, integer=True)
    v = p.parse("LEVERAGE_BY_SYMBOL", "btcusdt=10, ETH/USDT:USDT=5")
    assert v.items == (("BTCUSDT", 10.0), ("ETHUSDT", 5.0))
    assert v.get("ethusdt") == 5.0
    assert v.get("XRPUSDT") is None
    assert str(v) == "BTCUSDT=10,ETHUSDT=5"
    for bad in ("BTCUSDT", "BTCUSDT=x", "BTCUSDT=0", "BTCUSDT=2.5", "BTCUSDT=200", "A=1,A=2", "BTCUSDT=nan"):
        with pytest.raises(ConfigError, match="LEVERAGE_BY_SYMBOL"):
            p.parse("LEVERAGE_BY_SYMBOL", bad)
    assert named_numbers_parser("group").parse("X", "MEME=2.5").get("MEME") == 2.5


@given(
    st.dictionaries(st.from_regex(r"[A-Z][A-Z0-9]{0,6}", fullmatch=True), st.integers(0, 10**6), max_size=5)
)
def test_named_numbers_round_trip(values: dict[str, int]) -> None:
    nn = NamedNumbers(tuple((k, float(v)) for k, v in values.items()))
    assert named_numbers_parser("group").parse("K", str(nn)) == nn


def test_symbol_keys() -> None:
    assert symbol_key("btc/usdt:usdt") == "BTCUSDT"
    assert base_asset("DOGE/USDT:USDT") == "DOGE"
    assert base_asset("DOGEUSDT") == "DOGE"
    assert base_asset("1000SHIBUSDC") == "1000SHIB"
    assert base_asset("XYZ") == "XYZ"


def test_default_settings() -> None:
    s = load_entry_settings({})
    assert s.sizing.fixed_notional == Decimal(6)
    assert s.sizing.fixed_qty == 0
    assert s.leverage.base == 1
    assert (s.leverage.min, s.leverage.max) == (1, 125)
    assert s.leverage.margin_mode is MarginMode.ISOLATED
    assert s.gate.router.enabled
    assert not s.gate.errors.enabled
    assert s.partial.min_fill_ratio == 0.5


def test_loaded_settings_carry_every_value() -> None:
    env = {
        "CORR_GROUPS": "MEME:DOGEUSDT,SHIBUSDT;MAJOR:BTCUSDT,ETHUSDT",
        "CORR_GROUP_MAX_POSITIONS": "1",
        "CORR_GROUP_MAX_NOTIONAL_USDT": "50",
        "CORR_GROUP_LIMITS": "MEME=1,MAJOR=2",
        "CORR_GROUP_NOTIONAL": "MEME=25,MAJOR=100",
        "ENTRY_BLOCK_ROUTER_THRESHOLD": "2",
        "ENTRY_BLOCK_ERRORS_BACKOFF_SEC": "20",
        "MARGIN_MODE": "CROSS",
        "LEVERAGE": "20",
        "LEVERAGE_BTCUSDT": "10",
        "LEVERAGE_MAX": "50",
        "FIXED_NOTIONAL_USDT_DOGE": "5",
        "FIXED_QTY_BTCUSDT": "0.002",
        "ENTRY_PARTIAL_FORCE_FLATTEN": "0",
    }
    s = load_entry_settings(env)
    caps = s.gate.caps
    assert caps.position_cap("MEME") == 1
    assert caps.position_cap("MAJOR") == 2
    assert caps.notional_cap("MAJOR") == Decimal(100)
    assert caps.max_notional == Decimal(50)
    assert s.gate.router.threshold == 2
    assert s.gate.errors.backoff_sec == 20.0
    assert s.leverage.margin_mode is MarginMode.CROSS
    assert s.leverage.base == 20
    assert s.leverage.symbol_overrides == {"BTCUSDT": 10}
    assert s.leverage.max == 50
    assert s.sizing.notional_overrides == {"DOGE": Decimal(5)}
    assert s.sizing.qty_overrides == {"BTCUSDT": Decimal("0.002")}
    assert not s.partial.force_flatten


def test_suffix_overrides_ignore_registered_knobs_and_validate_with_the_base_parser() -> None:
    env = {"LEVERAGE_MAX": "20", "LEVERAGE_GROUP_SCALE": "0.5", "LEVERAGE_DOGE": "3", "LEVERAGE_X_Y": "1"}
    assert suffix_overrides(env, "LEVERAGE") == {"DOGE": 3}
    with pytest.raises(ConfigError, match=r"LEVERAGE_DOGE='500': expected an integer in \[1, 125\]"):
        load_entry_settings({"LEVERAGE_DOGE": "500"})
    with pytest.raises(ConfigError, match="FIXED_NOTIONAL_USDT_DOGE='-1'"):
        load_entry_settings({"FIXED_NOTIONAL_USDT_DOGE": "-1"})
    with pytest.raises(KeyError, match="no _<SYMBOL> suffix"):
        suffix_overrides(env, "LEVERAGE_MAX")
    assert suffix_overrides({"FIXED_QTY_DOGE": "  "}, "FIXED_QTY") == {}


@pytest.mark.parametrize(
    ("env", "knob"),
    [
        ({"ENTRY_CONF_SCALE_MIN_CONF": "0.8"}, "ENTRY_CONF_SCALE_MIN_CONF"),
        ({"ENTRY_CONF_SCALE_MIN_CONF": "0.75"}, "ENTRY_CONF_SCALE_MIN_CONF"),
        ({"ENTRY_CONF_SCALE_MIN": "0.9", "ENTRY_CONF_SCALE_MAX": "0.8"}, "ENTRY_CONF_SCALE_MIN"),
        ({"LEVERAGE_MIN": "10", "LEVERAGE_MAX": "5"}, "LEVERAGE_MIN"),
        ({"CORR_GROUPS": "MEME:DOGEUSDT", "CORR_GROUP_LIMITS": "MAJOR=1"}, "CORR_GROUP_LIMITS"),
        ({"LEVERAGE_BY_GROUP": "MEME=3"}, "LEVERAGE_BY_GROUP"),
        ({"ADAPTIVE_GUARD_NOTIONAL_SCALE": "0"}, "ADAPTIVE_GUARD_NOTIONAL_SCALE"),
        ({"ADAPTIVE_GUARD_QTY_SCALE": "1.5"}, "ADAPTIVE_GUARD_QTY_SCALE"),
        ({"LEVERAGE_GROUP_EXPOSURE_REF_PCT": "0"}, "LEVERAGE_GROUP_EXPOSURE_REF_PCT"),
        ({"MARGIN_MODE": "portfolio"}, "MARGIN_MODE"),
        ({"ENTRY_BLOCK_ROUTER_THRESHOLD": "0"}, "ENTRY_BLOCK_ROUTER_THRESHOLD"),
    ],
)
def test_inconsistent_or_bad_values_are_config_errors_naming_the_knob(env: dict[str, str], knob: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_entry_settings(env)
    assert info.value.knob == knob
