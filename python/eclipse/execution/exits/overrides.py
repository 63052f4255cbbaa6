"""Exit knobs as a typed value per symbol: the base knobs of the registry plus ``_<SYMBOL>`` overrides.

``EXIT_MAX_HOLD_SEC_DOGE=900`` overrides ``EXIT_MAX_HOLD_SEC`` for ``DOGE/USDT:USDT``. Only the knobs in
:data:`~eclipse.config.exit_knobs.SYMBOL_OVERRIDABLE` accept a suffix; the suffix is the base asset
(``_DOGE``) or base and quote without separators (``_DOGEUSDT``, which wins over ``_DOGE`` when both are
set). Every override is parsed with its base knob's parser, so a bad value raises ConfigError naming the
suffixed variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType

from eclipse.config.exit_knobs import SYMBOL_OVERRIDABLE
from eclipse.config.parsers import format_value
from eclipse.config.registry import get_param
from eclipse.config.settings import load_param
from eclipse.errors import ConfigError

__all__ = ["KNOB_OF_FIELD", "ExitKnobs", "ExitSettings", "load_exit_settings", "symbol_keys"]

_SUFFIX = re.compile(r"^[A-Z0-9]+$")


@dataclass(frozen=True, slots=True)
class ExitKnobs:
    """Every exit and protection knob, resolved for one symbol (see ``eclipse.config.exit_knobs``)."""

    mom_enabled: bool = False
    mom_min: float = 0.0015
    mom_require_both: bool = True
    vwap_enabled: bool = False
    vwap_tf: str = "5m"
    vwap_window: int = 240
    vwap_require_cross: bool = True
    max_hold_sec: float = 0.0
    stagnation_sec: float = 0.0
    stagnation_atr: float = 0.5
    atr_tf: str = "1m"
    atr_scale_enabled: bool = False
    atr_scale_ref_pct: float = 0.003
    atr_scale_min: float = 0.6
    atr_scale_max: float = 1.6
    stop_loss_pct: float = 0.01
    stop_loss_atr: float = 0.0
    take_profit_pct: float = 0.015
    take_profit_atr: float = 0.0
    protect_grace_sec: float = 15.0
    protect_close_position: bool = False

    def __post_init__(self) -> None:
        if self.atr_scale_min > self.atr_scale_max:
            raise ConfigError(
                "EXIT_ATR_SCALE_MIN",
                format_value(self.atr_scale_min),
                f"a value <= EXIT_ATR_SCALE_MAX ({format_value(self.atr_scale_max)})",
            )


KNOB_OF_FIELD: Mapping[str, str] = MappingProxyType(
    {
        "mom_enabled": "EXIT_MOM_ENABLED",
        "mom_min": "EXIT_MOM_MIN",
        "mom_require_both": "EXIT_MOM_REQUIRE_BOTH",
        "vwap_enabled": "EXIT_VWAP_ENABLED",
        "vwap_tf": "EXIT_VWAP_TF",
        "vwap_window": "EXIT_VWAP_WINDOW",
        "vwap_require_cross": "EXIT_VWAP_REQUIRE_CROSS",
        "max_hold_sec": "EXIT_MAX_HOLD_SEC",
        "stagnation_sec": "EXIT_STAGNATION_SEC",
        "stagnation_atr": "EXIT_STAGNATION_ATR",
        "atr_tf": "EXIT_ATR_TF",
        "atr_scale_enabled": "EXIT_ATR_SCALE_ENABLED",
        "atr_scale_ref_pct": "EXIT_ATR_SCALE_REF_PCT",
        "atr_scale_min": "EXIT_ATR_SCALE_MIN",
        "atr_scale_max": "EXIT_ATR_SCALE_MAX",
        "stop_loss_pct": "EXIT_STOP_LOSS_PCT",
        "stop_loss_atr": "EXIT_STOP_LOSS_ATR",
        "take_profit_pct": "EXIT_TAKE_PROFIT_PCT",
        "take_profit_atr": "EXIT_TAKE_PROFIT_ATR",
        "protect_grace_sec": "EXIT_PROTECT_GRACE_SEC",
        "protect_close_position": "EXIT_PROTECT_CLOSE_POSITION",
    }
)
"""ExitKnobs field -> env var of the registry."""

_FIELD_OF_KNOB = {v: k for k, v in KNOB_OF_FIELD.items()}


def symbol_keys(symbol: str) -> tuple[str, ...]:
    """Override suffixes of ``symbol``, most specific first.

    ``DOGE/USDT:USDT`` -> ``("DOGEUSDT", "DOGE")``."""
    if "/" in symbol:
        base, rest = symbol.split("/", 1)
        quote = rest.split(":", 1)[0]
        keys: tuple[str, ...] = (f"{base}{quote}".upper(), base.upper())
    else:
        keys = (symbol.replace("-", "").replace("_", "").upper(),)
    return tuple(dict.fromkeys(k for k in keys if _SUFFIX.match(k)))


@dataclass(frozen=True, slots=True)
class ExitSettings:
    """Base exit knobs and the per-symbol overrides found in the environment.

    ``overrides`` maps a suffix (``DOGE``) to ``{ExitKnobs field: value}``.
    """

    base: ExitKnobs
    overrides: Mapping[str, Mapping[str, object]] = field(default_factory=lambda: MappingProxyType({}))

    def for_symbol(self, symbol: str) -> ExitKnobs:
        """The knobs of ``symbol``: the base values with its overrides applied (``_DOGEUSDT`` beats
        ``_DOGE``)."""
        changes: dict[str, object] = {}
        for key in reversed(symbol_keys(symbol)):
            changes.update(self.overrides.get(key, {}))
        return replace(self.base, **changes) if changes else self.base  # type: ignore[arg-type]


def _override_of(env_name: str) -> tuple[str, str] | None:
    """``(base knob, suffix)`` when ``env_name`` is an override of an overridable knob."""
    for base in sorted(SYMBOL_OVERRIDABLE, key=len, reverse=True):
        if env_name.startswith(base + "_"):
            suffix = env_name[len(base) + 1 :]
            if _SUFFIX.match(suffix):
                return base, suffix
    return None


def load_exit_settings(env: Mapping[str, str], profile: str = "micro") -> ExitSettings:
    """Read every exit knob and every ``_<SYMBOL>`` override from ``env`` (ConfigError on a bad value)."""
    values = {f.name: load_param(env, KNOB_OF_FIELD[f.name], profile) for f in fields(ExitKnobs)}
    base = ExitKnobs(**values)  # type: ignore[arg-type]
    found: dict[str, dict[str, object]] = {}
    for name in sorted(env):
        hit = _override_of(name)
        raw = env[name]
        if hit is None or not raw.strip():
            continue
        knob, suffix = hit
        found.setdefault(suffix, {})[_FIELD_OF_KNOB[knob]] = get_param(knob).parse(raw, source=name)
    settings = ExitSettings(base, MappingProxyType({k: MappingProxyType(v) for k, v in found.items()}))
    for suffix, changes in found.items():
        try:
            replace(base, **changes)  # type: ignore[arg-type]
        except ConfigError as exc:
            raise ConfigError(f"{exc.knob}_{suffix}", exc.value, exc.expected) from None
    return settings
