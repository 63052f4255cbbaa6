"""Configuration sources (TOML < .env < environment) and whole-configuration validation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eclipse.config.names import PROJECT_PREFIXES, is_known, split_suffix, suggest
from eclipse.config.settings import load_param
from eclipse.config.sources import (
    ENVIRONMENT,
    ConfigProblem,
    ConfigProblems,
    LoadedConfig,
    load_config,
    validate,
)
from eclipse.errors import ConfigError
from eclipse.execution.engine_settings import EngineSettings
from eclipse.venues.ccxt_factory import load_venue_settings

SECRET = "S3CRET-do-not-print-0123456789"


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def load(
    tmp_path: Path, env: dict[str, str] | None = None, toml: str | None = None, dotenv: str | None = None
) -> LoadedConfig:
    config = write(tmp_path / "eclipse.toml", toml) if toml is not None else None
    env_file = write(tmp_path / ".env", dotenv) if dotenv is not None else tmp_path / "absent.env"
    return load_config(env or {}, config_path=config, dotenv_path=env_file)


def by_knob(problems: tuple[ConfigProblem, ...] | list[ConfigProblem]) -> dict[str, ConfigProblem]:
    return {p.knob: p for p in problems}


# --- precedence ------------------------------------------------------------------------------------------


def test_environment_beats_dotenv_beats_toml(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        env={"LEVERAGE": "4", "HOME": "/home/x", "PATH": "/bin"},
        toml="LEVERAGE = 2\nFIXED_NOTIONAL_USDT = 5\nEXIT_MAX_HOLD_SEC = 100\n",
        dotenv="LEVERAGE=3\nFIXED_NOTIONAL_USDT=6\nBINANCE_API_KEY=abc\n",
    )
    assert dict(loaded.env) == {
        "LEVERAGE": "4",
        "FIXED_NOTIONAL_USDT": "6",
        "EXIT_MAX_HOLD_SEC": "100",
        "BINANCE_API_KEY": "abc",
    }
    toml = str(tmp_path / "eclipse.toml")
    dotenv = str(tmp_path / ".env")
    assert loaded.origin == {
        "LEVERAGE": ENVIRONMENT,
        "FIXED_NOTIONAL_USDT": dotenv,
        "EXIT_MAX_HOLD_SEC": toml,
        "BINANCE_API_KEY": dotenv,
    }
    assert loaded.source_of("LEVERAGE_MAX") == "default"
    assert loaded.check() == ()
    assert load_param(loaded.env, "LEVERAGE") == 4
    settings = EngineSettings.load(loaded.env)
    assert settings.exits.base.max_hold_sec == 100.0
    assert str(settings.entries.sizing.fixed_notional) == "6.0"


def test_a_higher_layer_replaces_every_spelling_of_a_knob(tmp_path: Path) -> None:
    loaded = load(tmp_path, env={"MIN_CONFIDENCE": "0.6"}, toml="ENTRY_MIN_CONFIDENCE = 0.5\n")
    assert dict(loaded.env) == {"MIN_CONFIDENCE": "0.6"}
    assert loaded.check() == ()  # no "two spellings with different values" conflict
    assert load_param(loaded.env, "ENTRY_MIN_CONFIDENCE") == 0.6


def test_an_empty_value_does_not_replace_a_lower_layer_except_for_hours(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        env={"LEVERAGE": "  ", "SCALPER_SESSION_UTC": ""},
        toml='LEVERAGE = 7\nSCALPER_SESSION_UTC = "13-17"\n',
    )
    assert loaded.env["LEVERAGE"] == "7"
    assert loaded.env["SCALPER_SESSION_UTC"] == ""  # empty hours = "off", so it wins
    assert loaded.origin["SCALPER_SESSION_UTC"] == ENVIRONMENT


def test_only_known_names_are_taken_from_the_environment(tmp_path: Path) -> None:
    loaded = load(
        tmp_path, env={"HOME": "/x", "MAXIMUM": "1", "LEVERAGE_BTCUSDT": "5", "COINBASE_API_KEY": "k"}
    )
    assert set(loaded.env) == {"LEVERAGE_BTCUSDT", "COINBASE_API_KEY"}
    assert loaded.problems == ()  # HOME and MAXIMUM have no project prefix: none of our business


def test_no_dotenv_file_is_fine(tmp_path: Path) -> None:
    loaded = load(tmp_path, env={"LEVERAGE": "2"})
    assert loaded.dotenv_path is None
    assert loaded.warnings == ()
    assert loaded.check() == ()


# --- names -----------------------------------------------------------------------------------------------


def test_prefixes_come_from_the_registry() -> None:
    for prefix in (
        "SCALPER_",
        "ENTRY_",
        "EXIT_",
        "ROUTER_",
        "VENUE_",
        "LEVERAGE_",
        "FIXED_",
        "CORR_",
        "MAX_",
    ):
        assert prefix in PROJECT_PREFIXES
    assert {"BINANCE_", "COINBASE_", "KILL_", "STATUS_", "FIRST_"} <= set(PROJECT_PREFIXES)
    assert "HOME_" not in PROJECT_PREFIXES


def test_suffix_forms_and_suggestions() -> None:
    assert split_suffix("LEVERAGE_BTCUSDT") == ("LEVERAGE", "BTCUSDT")
    assert split_suffix("LEVERAGE_MAX") is None  # a registered knob, not an override
    assert split_suffix("EXIT_STOP_LOSS_PCT_DOGE") == ("EXIT_STOP_LOSS_PCT", "DOGE")
    assert is_known("BINANCE_API_SECRET")
    assert is_known("MIN_CONFIDENCE")
    assert not is_known("SCALPER_NOPE")
    assert suggest("SCALPER_SESION_UTC") == "SCALPER_SESSION_UTC"
    assert suggest("LEVERAGE_MAXX") == "LEVERAGE_MAX"
    assert suggest("leverage") == "LEVERAGE"
    assert suggest("FIXED_NOTIONAL_USDT_DOGE") is None  # not a misspelled FIXED_NOTIONAL_USDT
    assert suggest("TOTALLY_UNRELATED") is None


@pytest.mark.parametrize("where", ["environment", "dotenv", "toml"])
def test_near_miss_name_is_a_problem_with_a_suggestion(tmp_path: Path, where: str) -> None:
    if where == "environment":
        loaded = load(tmp_path, env={"SCALPER_SESION_UTC": "13-17"})
    elif where == "dotenv":
        loaded = load(tmp_path, dotenv="SCALPER_SESION_UTC=13-17\n")
    else:
        loaded = load(tmp_path, toml='SCALPER_SESION_UTC = "13-17"\n')
    (problem,) = loaded.check()
    assert problem.knob == "SCALPER_SESION_UTC"
    assert problem.suggestion == "SCALPER_SESSION_UTC"
    assert "did you mean SCALPER_SESSION_UTC?" in str(problem)
    assert "SCALPER_SESION_UTC" not in loaded.env


def test_any_unknown_name_in_a_file_is_a_problem_but_not_in_the_environment(tmp_path: Path) -> None:
    loaded = load(tmp_path, env={"EDITOR": "vi"}, dotenv="FOO=1\n", toml="BAR = 2\n")
    assert set(by_knob(loaded.check())) == {"FOO", "BAR"}
    assert by_knob(loaded.check())["BAR"].source == str(tmp_path / "eclipse.toml")


# --- every problem at once -------------------------------------------------------------------------------


def test_every_bad_knob_is_listed_at_once(tmp_path: Path) -> None:
    loaded = load(tmp_path, env={"LEVERAGE": "abc", "EXIT_MAX_HOLD_SEC": "-1", "SCALPER_SESSION_UTC": "25-3"})
    problems = loaded.check()
    assert [p.knob for p in problems] == ["SCALPER_SESSION_UTC", "LEVERAGE", "EXIT_MAX_HOLD_SEC"]
    with pytest.raises(ConfigProblems) as info:
        loaded.require_valid()
    text = str(info.value)
    lines = text.splitlines()
    assert lines[0] == "3 configuration problems:"
    assert len(lines) == 4
    assert all(line.startswith("  - ") for line in lines[1:])
    assert "LEVERAGE='abc' (environment): expected an integer in [1, 125]" in text


def test_cross_knob_checks_are_all_collected(tmp_path: Path) -> None:
    env = {
        "LEVERAGE_MIN": "10",
        "LEVERAGE_MAX": "5",
        "SCALPER_COOLDOWN_LOSSES": "2",
        "SCALPER_TREND_CONFIRM_FAST": "50",
        "SCALPER_TREND_CONFIRM_SLOW": "20",
        "EXCHANGE_ADAPTER": "sim",
    }
    problems = by_knob(validate(env))
    assert "below LEVERAGE_MAX" in problems["LEVERAGE_MIN"].expected
    assert problems["SCALPER_COOLDOWN_MINUTES"].source == "default"
    assert "SCALPER_TREND_CONFIRM_SLOW" in problems["SCALPER_TREND_CONFIRM_FAST"].expected
    assert "simulator" in problems["VENUE_API_URL"].expected
    with pytest.raises(ConfigError, match="SCALPER_COOLDOWN_MINUTES"):  # the loader alone stops at its first
        EngineSettings.load(env)


def test_a_value_problem_is_not_reported_twice_by_the_loaders() -> None:
    problems = validate({"LEVERAGE": "0"})
    assert [p.knob for p in problems] == ["LEVERAGE"]


def test_profile_comes_from_scalper_mode() -> None:
    env = {
        "SCALPER_MODE": "production",
        "SCALPER_DEBUG_FORCE_ENTRY": "long",
        "SCALPER_SIGNAL_PROFILE": "production",
    }
    assert [p.knob for p in validate(env)] == ["SCALPER_DEBUG_FORCE_ENTRY"]
    assert validate({"SCALPER_DEBUG_FORCE_ENTRY": "long"}) == []


# --- per-symbol knobs ------------------------------------------------------------------------------------


def test_per_symbol_value_is_checked(tmp_path: Path) -> None:
    loaded = load(tmp_path, env={"LEVERAGE_BTCUSDT": "abc", "EXIT_MAX_HOLD_SEC_DOGE": "soon"})
    problems = by_knob(loaded.check())
    assert problems["LEVERAGE_BTCUSDT"].expected == "an integer in [1, 125]"
    assert problems["LEVERAGE_BTCUSDT"].value == "abc"
    assert "number" in problems["EXIT_MAX_HOLD_SEC_DOGE"].expected


def test_per_symbol_suffix_judgement() -> None:
    env = {
        "ACTIVE_SYMBOLS": "BTCUSDT,DOGEUSDT",
        "FIXED_NOTIONAL_USDT_DOGE": "3",  # base asset of an active symbol
        "FIXED_QTY_DOGEUSDT": "10",  # active symbol
        "LEVERAGE_ETH": "2",  # widely traded base asset
        "LEVERAGE_QQQZ": "2",  # not close to anything: kept for a symbol not traded today
        "FIXED_NOTIONAL_USDT_DOGEE": "5",
        "LEVERAGE_BTCUSTD": "3",
        "LEVERAGE_MAXX": "3",
        "LEVERAGE_btcusdt": "3",
        "LEVERAGE_BTC_USDT": "3",
        "LEVERAGE_5": "3",
    }
    problems = by_knob(validate(env))
    assert set(problems) == {
        "FIXED_NOTIONAL_USDT_DOGEE",
        "LEVERAGE_BTCUSTD",
        "LEVERAGE_MAXX",
        "LEVERAGE_btcusdt",
        "LEVERAGE_BTC_USDT",
        "LEVERAGE_5",
    }
    assert problems["FIXED_NOTIONAL_USDT_DOGEE"].suggestion == "FIXED_NOTIONAL_USDT_DOGE"
    assert problems["LEVERAGE_BTCUSTD"].suggestion == "LEVERAGE_BTCUSDT"
    assert problems["LEVERAGE_MAXX"].suggestion == "LEVERAGE_MAX"
    assert problems["LEVERAGE_btcusdt"].suggestion == "LEVERAGE_BTCUSDT"
    assert "letters and digits" in problems["LEVERAGE_BTC_USDT"].expected


def test_a_suffix_naming_an_active_symbol_is_accepted_even_near_a_knob() -> None:
    assert [p.knob for p in validate({"LEVERAGE_MINA": "2"})] == ["LEVERAGE_MINA"]  # near LEVERAGE_MIN
    assert validate({"LEVERAGE_MINA": "2", "ACTIVE_SYMBOLS": "MINAUSDT"}) == []


# --- TOML ------------------------------------------------------------------------------------------------


def test_toml_types_become_environment_strings(tmp_path: Path) -> None:
    toml = """
SCALPER_DRY_RUN = true
ENTRY_BLOCK_ON_ERRORS = false
LEVERAGE = 3
EXIT_STOP_LOSS_PCT = 0.02
ACTIVE_SYMBOLS = ["BTCUSDT", "DOGEUSDT"]
LEVERAGE_BY_SYMBOL = { BTCUSDT = 10, DOGEUSDT = 2 }
CORR_GROUPS = { MEME = ["DOGEUSDT"], MAJOR = ["BTCUSDT"] }

[entries]
FIXED_NOTIONAL_USDT = 7.5

[symbols.BTCUSDT]
LEVERAGE = 5
EXIT_MAX_HOLD_SEC = 900

[symbols."DOGE/USDT:USDT"]
FIXED_QTY = 100
"""
    loaded = load(tmp_path, toml=toml)
    assert loaded.check() == ()
    assert dict(loaded.env) == {
        "SCALPER_DRY_RUN": "1",
        "ENTRY_BLOCK_ON_ERRORS": "0",
        "LEVERAGE": "3",
        "EXIT_STOP_LOSS_PCT": "0.02",
        "ACTIVE_SYMBOLS": "BTCUSDT,DOGEUSDT",
        "LEVERAGE_BY_SYMBOL": "BTCUSDT=10,DOGEUSDT=2",
        "CORR_GROUPS": "MEME:DOGEUSDT;MAJOR:BTCUSDT",
        "FIXED_NOTIONAL_USDT": "7.5",
        "LEVERAGE_BTCUSDT": "5",
        "EXIT_MAX_HOLD_SEC_BTCUSDT": "900",
        "FIXED_QTY_DOGEUSDT": "100",
    }
    settings = EngineSettings.load(loaded.env)
    assert settings.exits.for_symbol("BTC/USDT:USDT").max_hold_sec == 900.0


def test_toml_problems(tmp_path: Path) -> None:
    toml = """
LEVERAGE = 2.5
EXIT_MAX_HOLD_SEC = 2024-01-01
FIXED_QTYY = 1
[entries]
ENTRY_BLOCK_ON_ERORRS = true
[entries.deeper]
X = 1
[symbols.BTCUSDT]
LEVERAGEE = 3
"""
    problems = by_knob(load(tmp_path, toml=toml).check())
    assert set(problems) == {
        "LEVERAGE",
        "EXIT_MAX_HOLD_SEC",
        "FIXED_QTYY",
        "ENTRY_BLOCK_ON_ERORRS",
        "deeper",
        "LEVERAGEE",
    }
    assert problems["LEVERAGE"].value == "2.5"  # a float for an integer knob
    assert problems["EXIT_MAX_HOLD_SEC"].value == "date"
    assert problems["FIXED_QTYY"].suggestion == "FIXED_QTY"
    assert problems["ENTRY_BLOCK_ON_ERORRS"].suggestion == "ENTRY_BLOCK_ON_ERRORS"
    assert "[entries]" in problems["ENTRY_BLOCK_ON_ERORRS"].expected
    assert problems["LEVERAGEE"].suggestion == "LEVERAGE"


def test_bad_or_missing_toml_file(tmp_path: Path) -> None:
    (problem,) = load(tmp_path, toml="LEVERAGE = [1\n").problems
    assert problem.knob == "--config"
    assert "valid TOML" in problem.expected
    (missing,) = load_config({}, config_path=tmp_path / "nope.toml", dotenv_path=None).problems
    assert missing.expected == "an existing TOML file"


# --- .env ------------------------------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_dotenv_readable_by_others_is_warned_about(tmp_path: Path) -> None:
    path = write(tmp_path / ".env", f"BINANCE_API_SECRET={SECRET}\n", 0o644)
    loaded = load_config({}, dotenv_path=path)
    (warning,) = loaded.warnings
    assert "0644" in warning
    assert "chmod 600" in warning
    assert SECRET not in warning
    path.chmod(0o600)
    assert load_config({}, dotenv_path=path).warnings == ()


def test_dotenv_credentials_reach_the_effective_env(tmp_path: Path) -> None:
    loaded = load(tmp_path, dotenv=f"export BINANCE_API_KEY=key\nBINANCE_API_SECRET='{SECRET}'\nLEVERAGE=2\n")
    assert loaded.env["BINANCE_API_SECRET"] == SECRET
    assert loaded.env["BINANCE_API_KEY"] == "key"
    assert load_venue_settings(loaded.env).credentials(loaded.env, None) is None  # dry run: no keys used


def test_dotenv_is_read_literally_and_bad_lines_are_problems(tmp_path: Path) -> None:
    loaded = load(tmp_path, env={"X": "1"}, dotenv=f"SCALPER_AUDIT_PATH=${{X}}/a.csv\n'{SECRET}\nLEVERAGE\n")
    assert loaded.env["SCALPER_AUDIT_PATH"] == "${X}/a.csv"
    (problem,) = loaded.problems
    assert problem.knob.endswith(".env:2")
    assert SECRET not in str(problem)
    assert any("LEVERAGE has no '=value'" in w for w in loaded.warnings)


# --- live and secrets ------------------------------------------------------------------------------------


def test_a_live_configuration_needs_keys_and_limits(tmp_path: Path) -> None:
    problems = by_knob(load(tmp_path, env={"SCALPER_DRY_RUN": "0"}).check())
    assert set(problems) == {
        "BINANCE_API_KEY",
        "BINANCE_API_SECRET",
        "MAX_DAILY_LOSS_PCT",
        "MAX_DRAWDOWN_PCT",
        "KILL_DAILY_HALT_SEC",
        "KILL_DRAWDOWN_HALT_SEC",
        "FIRST_LIVE_SYMBOLS",
    }
    ready = {
        "SCALPER_DRY_RUN": "0",
        "MAX_DAILY_LOSS_PCT": "0.03",
        "MAX_DRAWDOWN_PCT": "0.1",
        "KILL_DAILY_HALT_SEC": "3600",
        "KILL_DRAWDOWN_HALT_SEC": "3600",
        "FIRST_LIVE_SYMBOLS": "BTCUSDT",
    }
    assert load(tmp_path, env=ready, dotenv=f"BINANCE_API_KEY=k\nBINANCE_API_SECRET={SECRET}\n").check() == ()


def test_secrets_never_appear_in_problems(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        env={"STATUS_TOKEN": "short", "STATUS_TOKN": SECRET, "BINANCE_API_SECRT": SECRET},
        dotenv=f"COINBASE_API_PASSPHRSE={SECRET}\n",
        toml=f'STATUS_TOKEN_X = "{SECRET}"\n',
    )
    problems = loaded.check()
    assert {p.knob for p in problems} == {
        "STATUS_TOKEN",
        "STATUS_TOKN",
        "BINANCE_API_SECRT",
        "COINBASE_API_PASSPHRSE",
        "STATUS_TOKEN_X",
    }
    assert all(p.value == "***" for p in problems)
    assert by_knob(problems)["STATUS_TOKN"].suggestion == "STATUS_TOKEN"
    text = str(ConfigProblems(problems))
    assert SECRET not in text
    assert "short" not in text


def test_a_problem_is_one_line() -> None:
    problem = ConfigProblem("X", "a\nb", "one\nline", "src", "Y")
    assert "\n" not in str(problem)
    assert str(problem) == "X='a\\nb' (src): expected one line; did you mean Y?"
