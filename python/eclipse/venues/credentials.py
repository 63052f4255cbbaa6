"""API credentials of a live venue, read from an env mapping with a ``.env`` file as fallback.

The original bot's variable names are kept: ``BINANCE_API_KEY`` / ``BINANCE_API_SECRET`` (Binance spot and
USD-M) and ``COINBASE_API_KEY`` / ``COINBASE_API_SECRET`` / ``COINBASE_API_PASSPHRASE`` (the passphrase is
optional: Coinbase Advanced Trade keys have none). The ``.env`` file is read with python-dotenv's
``dotenv_values``, so the process environment is never modified; the mapping passed in wins over
the file.

A :class:`Credentials` never shows a secret: ``repr``/``str`` are masked, and a missing variable raises
:class:`~eclipse.errors.ConfigError` naming the variable and the fix, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from eclipse.errors import SECRET_MASK, ConfigError

__all__ = ["ENV_NAMES", "Credentials", "EnvNames", "load_credentials"]


@dataclass(frozen=True, slots=True)
class EnvNames:
    """The env-var names of one venue's key, secret and (optional) passphrase."""

    api_key: str
    secret: str
    passphrase: str | None = None
    label: str = ""


_BINANCE = EnvNames("BINANCE_API_KEY", "BINANCE_API_SECRET", None, "Binance")
ENV_NAMES: Mapping[str, EnvNames] = {
    "binanceusdm": _BINANCE,
    "binance": _BINANCE,
    "coinbase": EnvNames("COINBASE_API_KEY", "COINBASE_API_SECRET", "COINBASE_API_PASSPHRASE", "Coinbase"),
}


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key, its secret and optional passphrase; masked in ``repr``/``str``."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    passphrase: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        extra = f", passphrase={SECRET_MASK}" if self.passphrase else ""
        return f"Credentials(api_key={SECRET_MASK}, secret={SECRET_MASK}{extra})"

    __str__ = __repr__

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value to scrub from text (for :func:`~eclipse.venues.errors.redact`)."""
        return tuple(v for v in (self.api_key, self.secret, self.passphrase) if v)


def _dotenv(path: Path | None) -> dict[str, str]:
    if path is None or not path.is_file():
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def _pick(name: str, env: Mapping[str, str], fallback: Mapping[str, str]) -> str | None:
    for source in (env, fallback):
        value = source.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


def load_credentials(
    exchange_id: str, env: Mapping[str, str], dotenv_path: Path | str | None = ".env"
) -> Credentials:
    """The credentials of ``exchange_id`` from ``env``, falling back to the ``dotenv_path`` file.

    ConfigError names the missing variable (its value is never shown) and how to fix it.
    """
    names = ENV_NAMES.get(exchange_id)
    if names is None:
        raise ConfigError(
            "EXCHANGE_ADAPTER", exchange_id, f"a venue with API credentials: {'|'.join(sorted(ENV_NAMES))}"
        )
    file_values = _dotenv(Path(dotenv_path) if dotenv_path is not None else None)
    where = f" or in {dotenv_path}" if dotenv_path is not None else ""
    found: dict[str, str] = {}
    for var in (names.api_key, names.secret):
        value = _pick(var, env, file_values)
        if value is None:
            raise ConfigError(
                var,
                "",
                f"the {names.label} API {'key' if var == names.api_key else 'secret'} for live trading on "
                f"{exchange_id}: set {var} in the environment{where}, or keep SCALPER_DRY_RUN=1 "
                "(paper trading needs no keys)",
            )
        found[var] = value
    passphrase = _pick(names.passphrase, env, file_values) if names.passphrase else None
    return Credentials(found[names.api_key], found[names.secret], passphrase)
