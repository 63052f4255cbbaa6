"""Typed entry settings (gate, sizing, leverage, partial fills) loaded from an env mapping through the
registry, including the per-symbol ``_<SYMBOL>`` suffix knobs and the checks that span several knobs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from eclipse.config.entry_knobs import SUFFIX_KNOBS
from eclipse.config.parsers import format_value
from eclipse.config.registry import REGISTRY, get_param
from eclipse.config.settings import load_param, lookup_env
from eclipse.errors import ConfigError
from eclipse.execution.entries.gate import GateSettings
from eclipse.execution.entries.groups import CorrCaps, CorrExposureScale
from eclipse.execution.entries.leverage import LeverageSettings
from eclipse.execution.entries.partial import PartialSettings
from eclipse.execution.entries.sizing import ConfidenceScale, SizingSettings
from eclipse.execution.entries.throttle import ThrottleSettings
from eclipse.execution.entries.values import CorrGroups, NamedNumbers
from eclipse.venues.types import MarginMode

__all__ = ["EntrySettings", "load_entry_settings", "suffix_overrides"]

_SUFFIX = re.compile(r"^[A-Z0-9]+$")
_GROUP_MAPS = (
    "CORR_GROUP_LIMITS",
    "CORR_GROUP_NOTIONAL",
    "CORR_GROUP_EXPOSURE_SCALE_BY_GROUP",
    "CORR_GROUP_EXPOSURE_SCALE_MIN_BY_GROUP",
    "CORR_GROUP_EXPOSURE_REF_NOTIONAL_BY_GROUP",
    "LEVERAGE_BY_GROUP",
)


@dataclass(frozen=True, slots=True)
class EntrySettings:
    """Everything the entry path needs."""

    gate: GateSettings = field(default_factory=GateSettings)
    sizing: SizingSettings = field(default_factory=SizingSettings)
    leverage: LeverageSettings = field(default_factory=LeverageSettings)
    partial: PartialSettings = field(default_factory=PartialSettings)


def suffix_overrides(env: Mapping[str, str], knob: str) -> dict[str, object]:
    """``{SUFFIX: value}`` for every ``<knob>_<SUFFIX>`` in ``env`` (suffix = a symbol or base asset, letters
    and digits only), each parsed by ``knob``'s parser; ConfigError naming the full variable when invalid.

    Registered knobs that share the prefix (``LEVERAGE_MAX`` ...) and empty values are ignored.
    """
    if knob not in SUFFIX_KNOBS:
        raise KeyError(f"{knob} takes no _<SYMBOL> suffix; those that do: {', '.join(SUFFIX_KNOBS)}")
    param = get_param(knob)
    registered = {s for p in REGISTRY for s in (p.name, *p.aliases)}
    prefix = knob + "_"
    out: dict[str, object] = {}
    for name, raw in env.items():
        if not name.startswith(prefix) or name in registered or not raw.strip():
            continue
        suffix = name[len(prefix) :]
        if _SUFFIX.match(suffix):
            out[suffix] = param.parse(raw, source=name)
    return out


def _raw(env: Mapping[str, str], name: str, value: object) -> str:
    hit = lookup_env(env, get_param(name))
    return hit[1] if hit is not None else format_value(value)


def _dec(value: object) -> Decimal:
    return Decimal(str(value))


def _check_groups(env: Mapping[str, str], groups: CorrGroups, maps: Mapping[str, NamedNumbers]) -> None:
    for name, values in maps.items():
        unknown = [k for k in values.keys if k not in groups.names]
        if unknown:
            known = ",".join(groups.names) or "none defined"
            raise ConfigError(name, _raw(env, name, values), f"group names defined in CORR_GROUPS ({known})")


def load_entry_settings(env: Mapping[str, str], profile: str = "micro") -> EntrySettings:
    """Build :class:`EntrySettings` from ``env`` (never reads the process environment itself)."""

    def v(name: str) -> object:
        return load_param(env, name, profile)

    def f(name: str) -> float:
        value = v(name)
        assert isinstance(value, int | float)
        return float(value)

    def i(name: str) -> int:
        return int(f(name))

    def b(name: str) -> bool:
        return bool(v(name))

    def nn(name: str) -> NamedNumbers:
        value = v(name)
        assert isinstance(value, NamedNumbers)
        return value

    groups = v("CORR_GROUPS")
    assert isinstance(groups, CorrGroups)
    _check_groups(env, groups, {name: nn(name) for name in _GROUP_MAPS})
    caps = CorrCaps(
        groups,
        i("CORR_GROUP_MAX_POSITIONS"),
        _dec(v("CORR_GROUP_MAX_NOTIONAL_USDT")),
        nn("CORR_GROUP_LIMITS"),
        nn("CORR_GROUP_NOTIONAL"),
    )
    gate = GateSettings(
        router=ThrottleSettings(
            b("ENTRY_BLOCK_ON_ROUTER_BLOCK"),
            f("ENTRY_BLOCK_ROUTER_WINDOW_SEC"),
            i("ENTRY_BLOCK_ROUTER_THRESHOLD"),
            f("ENTRY_BLOCK_ROUTER_BACKOFF_SEC"),
        ),
        errors=ThrottleSettings(
            b("ENTRY_BLOCK_ON_ERRORS"),
            f("ENTRY_BLOCK_ERRORS_WINDOW_SEC"),
            i("ENTRY_BLOCK_ERRORS_THRESHOLD"),
            f("ENTRY_BLOCK_ERRORS_BACKOFF_SEC"),
        ),
        caps=caps,
    )
    for lo, hi in (
        ("ENTRY_CONF_SCALE_MIN_CONF", "ENTRY_CONF_SCALE_MAX_CONF"),
        ("LEVERAGE_MIN", "LEVERAGE_MAX"),
    ):
        if f(lo) > f(hi) or (lo.endswith("_CONF") and f(lo) == f(hi)):
            raise ConfigError(lo, _raw(env, lo, v(lo)), f"a value below {hi} ({format_value(v(hi))})")
    if f("ENTRY_CONF_SCALE_MIN") > f("ENTRY_CONF_SCALE_MAX"):
        raw = _raw(env, "ENTRY_CONF_SCALE_MIN", v("ENTRY_CONF_SCALE_MIN"))
        expected = f"a value <= ENTRY_CONF_SCALE_MAX ({format_value(v('ENTRY_CONF_SCALE_MAX'))})"
        raise ConfigError("ENTRY_CONF_SCALE_MIN", raw, expected)
    sizing = SizingSettings(
        fixed_notional=_dec(v("FIXED_NOTIONAL_USDT")),
        fixed_qty=_dec(v("FIXED_QTY")),
        notional_overrides={k: _dec(x) for k, x in suffix_overrides(env, "FIXED_NOTIONAL_USDT").items()},
        qty_overrides={k: _dec(x) for k, x in suffix_overrides(env, "FIXED_QTY").items()},
        confidence=ConfidenceScale(
            b("ENTRY_CONF_SCALE_ENABLED"),
            f("ENTRY_CONF_SCALE_MIN_CONF"),
            f("ENTRY_CONF_SCALE_MAX_CONF"),
            f("ENTRY_CONF_SCALE_MIN"),
            f("ENTRY_CONF_SCALE_MAX"),
        ),
        adaptive_notional_scale=f("ADAPTIVE_GUARD_NOTIONAL_SCALE"),
        adaptive_qty_scale=f("ADAPTIVE_GUARD_QTY_SCALE"),
        exposure=CorrExposureScale(
            b("CORR_GROUP_EXPOSURE_SCALE_ENABLED"),
            f("CORR_GROUP_EXPOSURE_SCALE"),
            f("CORR_GROUP_EXPOSURE_SCALE_MIN"),
            f("CORR_GROUP_EXPOSURE_REF_NOTIONAL"),
            nn("CORR_GROUP_EXPOSURE_SCALE_BY_GROUP"),
            nn("CORR_GROUP_EXPOSURE_SCALE_MIN_BY_GROUP"),
            nn("CORR_GROUP_EXPOSURE_REF_NOTIONAL_BY_GROUP"),
        ),
        caps=caps,
    )
    leverage = LeverageSettings(
        base=i("LEVERAGE"),
        symbol_overrides={k: int(str(x)) for k, x in suffix_overrides(env, "LEVERAGE").items()},
        by_symbol=nn("LEVERAGE_BY_SYMBOL"),
        by_group=nn("LEVERAGE_BY_GROUP"),
        groups=groups,
        min=i("LEVERAGE_MIN"),
        max=i("LEVERAGE_MAX"),
        group_dynamic=b("LEVERAGE_GROUP_DYNAMIC"),
        group_scale=f("LEVERAGE_GROUP_SCALE"),
        group_scale_min=f("LEVERAGE_GROUP_SCALE_MIN"),
        exclude_self=b("LEVERAGE_GROUP_EXCLUDE_SELF"),
        exposure=b("LEVERAGE_GROUP_EXPOSURE"),
        exposure_ref_pct=f("LEVERAGE_GROUP_EXPOSURE_REF_PCT"),
        margin_mode=MarginMode(str(v("MARGIN_MODE"))),
    )
    partial = PartialSettings(
        min_fill_ratio=f("ENTRY_PARTIAL_MIN_FILL_RATIO"),
        cancel=b("ENTRY_PARTIAL_CANCEL"),
        backoff_sec=f("ENTRY_PARTIAL_BACKOFF_SEC"),
        escalate_window_sec=f("ENTRY_PARTIAL_ESCALATE_WINDOW_SEC"),
        escalate_count=i("ENTRY_PARTIAL_ESCALATE_COUNT"),
        escalate_backoff_sec=f("ENTRY_PARTIAL_ESCALATE_BACKOFF_SEC"),
        escalate_telem_cd_sec=f("ENTRY_PARTIAL_ESCALATE_TELEM_CD_SEC"),
        cancel_retries=i("ENTRY_PARTIAL_CANCEL_RETRIES"),
        cancel_delay_sec=f("ENTRY_PARTIAL_CANCEL_DELAY_SEC"),
        force_flatten=b("ENTRY_PARTIAL_FORCE_FLATTEN"),
        flatten_retries=i("ENTRY_PARTIAL_FLATTEN_RETRIES"),
    )
    return EntrySettings(gate, sizing, leverage, partial)
