"""Value parsers: accepted spellings, bounds, hour ranges and the ConfigError messages."""

from __future__ import annotations

import pytest

from eclipse.config.parsers import (
    bool_parser,
    choice_parser,
    float_parser,
    format_value,
    hours_parser,
    int_parser,
    path_parser,
)
from eclipse.errors import ConfigError, EclipseError
from eclipse.strategy.sessions import SessionHours


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("0", False),
        ("true", True),
        ("FALSE", False),
        ("yes", True),
        ("No", False),
        ("on", True),
        ("off", False),
        (" 1 ", True),
    ],
)
def test_bool_accepts_the_documented_spellings(raw: str, expected: bool) -> None:
    assert bool_parser().parse("SCALPER_AUDIT", raw) is expected


@pytest.mark.parametrize("raw", ["2", "maybe", "", "y", "tru"])
def test_bool_rejects_anything_else_naming_the_knob(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        bool_parser().parse("SCALPER_AUDIT", raw)
    msg = str(info.value)
    assert msg.startswith(f"SCALPER_AUDIT={raw!r}: expected a boolean")
    assert "1/0, true/false, yes/no or on/off" in msg
    assert info.value.knob == "SCALPER_AUDIT"
    assert isinstance(info.value, EclipseError)


def test_int_parser_bounds_and_format() -> None:
    p = int_parser(0)
    assert p.parse("K", "7") == 7
    assert p.parse("K", "0") == 0
    for raw in ("-1", "1.5", "abc", "1e3", ""):
        with pytest.raises(ConfigError, match=r"K='.*': expected an integer >= 0"):
            p.parse("K", raw)


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "NaN", "abc", "", "1,5"])
def test_float_parser_rejects_non_finite_and_garbage(raw: str) -> None:
    with pytest.raises(ConfigError, match="expected a finite number"):
        float_parser().parse("DYN_MOM_MULT", raw)


def test_float_parser_bounds_are_inclusive_and_described() -> None:
    p = float_parser(0.0, 1.0)
    assert p.parse("X", "0") == 0.0
    assert p.parse("X", "1.0") == 1.0
    assert p.parse("X", "1e-3") == 0.001
    with pytest.raises(ConfigError, match=r"X='1.01': expected a finite number in \[0, 1\]"):
        p.parse("X", "1.01")
    with pytest.raises(ConfigError, match=r"expected a finite number >= 0"):
        float_parser(0.0).parse("X", "-0.5")


def test_choice_is_case_insensitive_and_lists_the_choices() -> None:
    p = choice_parser(("gate", "vote"))
    assert p.parse("M", " VOTE ") == "vote"
    with pytest.raises(ConfigError, match=r"M='veto': expected one of gate\|vote"):
        p.parse("M", "veto")


def test_hours_parse_ranges_inclusive_and_wrapping() -> None:
    p = hours_parser()
    hours = p.parse("SCALPER_SESSION_UTC", "13-17,19-23")
    assert hours.hours == frozenset({13, 14, 15, 16, 17, 19, 20, 21, 22, 23})
    assert p.parse("S", "22-2").hours == frozenset({22, 23, 0, 1, 2})
    assert p.parse("S", "8").hours == frozenset({8})
    assert p.parse("S", " 8-12 , 14-14 ").hours == frozenset({8, 9, 10, 11, 12, 14})
    assert p.parse("S", "0-23").hours == frozenset(range(24))
    off = p.parse("S", "")
    assert not off.enabled
    assert off == SessionHours()


@pytest.mark.parametrize("raw", ["25-3", "abc", "3-", "13-17,,", "-5", "1-2-3", "13-24", "a-b", ",", "1.5-3"])
def test_hours_reject_bad_ranges_with_the_expected_format(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        hours_parser().parse("SCALPER_SESSION_UTC", raw)
    assert str(info.value) == (
        f"SCALPER_SESSION_UTC={raw!r}: expected comma-separated UTC hour ranges like "
        '"13-17,19-23" (hours 0-23)'
    )


def test_the_example_message_from_the_spec() -> None:
    with pytest.raises(ConfigError) as info:
        hours_parser().parse("SCALPER_SESSION_UTC", "25-3")
    assert str(info.value) == (
        "SCALPER_SESSION_UTC='25-3': expected comma-separated UTC hour ranges like "
        '"13-17,19-23" (hours 0-23)'
    )


def test_secret_values_are_never_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        int_parser().parse("API_PORT", "hunter2", secret=True)
    assert "hunter2" not in str(info.value)
    assert "API_PORT='***'" in str(info.value)
    assert info.value.value == "***"
    direct = ConfigError("API_SECRET", "s3cr3t", "a key", secret=True)
    assert "s3cr3t" not in str(direct)
    assert "'***'" in str(direct)


def test_path_parser_rejects_empty() -> None:
    assert str(path_parser().parse("P", "logs/a.csv")) == "logs/a.csv"
    with pytest.raises(ConfigError, match="expected a file path"):
        path_parser().parse("P", "  ")


def test_format_value_round_trips_through_the_parsers() -> None:
    assert format_value(True) == "1"
    assert format_value(False) == "0"
    assert float_parser().parse("X", format_value(0.0015)) == 0.0015
    hours = hours_parser().parse("S", "22-2,5-6")
    assert hours_parser().parse("S", format_value(hours)) == hours
    assert format_value(SessionHours()) == ""
    assert hours_parser().parse("S", format_value(SessionHours())) == SessionHours()
