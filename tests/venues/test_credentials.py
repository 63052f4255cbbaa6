"""Credentials: env mapping first, then .env; masked everywhere; a missing key names the variable."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from eclipse.errors import ConfigError
from eclipse.venues.credentials import Credentials, load_credentials

KEY = "key-AAAAAAAAAAAA"
SECRET = "secret-BBBBBBBBBBBB"


def test_from_env_mapping() -> None:
    env = {"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": f"  {SECRET}\n"}
    for venue in ("binanceusdm", "binance"):
        creds = load_credentials(venue, env, dotenv_path=None)
        assert (creds.api_key, creds.secret, creds.passphrase) == (KEY, SECRET, None)


def test_from_dotenv_without_touching_the_process_environment(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        f"COINBASE_API_KEY={KEY}\nCOINBASE_API_SECRET='{SECRET}'\nCOINBASE_API_PASSPHRASE=pp-CCCC\n"
    )
    before = dict(os.environ)
    creds = load_credentials("coinbase", {}, dotenv_path=dotenv)
    assert (creds.api_key, creds.secret, creds.passphrase) == (KEY, SECRET, "pp-CCCC")
    assert dict(os.environ) == before


def test_env_mapping_wins_over_dotenv_and_blank_values_fall_through(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"BINANCE_API_KEY=from-file-key\nBINANCE_API_SECRET={SECRET}\n")
    creds = load_credentials("binanceusdm", {"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": "  "}, dotenv)
    assert creds.api_key == KEY
    assert creds.secret == SECRET


def test_missing_variable_names_it_and_the_fix_but_never_a_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_credentials("binanceusdm", {"BINANCE_API_KEY": KEY}, dotenv_path=tmp_path / "absent.env")
    text = str(info.value)
    assert info.value.knob == "BINANCE_API_SECRET"
    assert "BINANCE_API_SECRET" in text
    assert "SCALPER_DRY_RUN=1" in text
    assert KEY not in text
    with pytest.raises(ConfigError, match="COINBASE_API_KEY"):
        load_credentials("coinbase", {}, dotenv_path=None)


def test_unknown_venue_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="EXCHANGE_ADAPTER"):
        load_credentials("kraken", {}, dotenv_path=None)


def test_passphrase_is_optional_for_coinbase() -> None:
    creds = load_credentials("coinbase", {"COINBASE_API_KEY": KEY, "COINBASE_API_SECRET": SECRET}, None)
    assert creds.passphrase is None


def test_no_secret_in_repr_str_format_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    creds = Credentials(KEY, SECRET, "pp-CCCCCC")
    texts = [repr(creds), str(creds), f"{creds}", f"{creds!r}", repr([creds]), repr({"c": creds})]
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("eclipse.test").info("creds %s %r", creds, creds)
    texts.append(caplog.text)
    for text in texts:
        for secret in (KEY, SECRET, "pp-CCCCCC"):
            assert secret not in text
    assert "***" in repr(creds)
    assert set(creds.secrets) == {KEY, SECRET, "pp-CCCCCC"}


def test_credentials_are_frozen() -> None:
    creds = Credentials(KEY, SECRET)
    with pytest.raises(AttributeError):
        creds.secret = "x"  # type: ignore[misc]
