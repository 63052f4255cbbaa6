"""The original bot's pre-live risk checklist, evaluated on a configuration (``eclipse doctor``; the daemon
refuses a live start while :func:`missing_live_limits` is not empty).

An item is judged for the mode in effect: in dry run an unset limit is reported in the note but passes; on a
live start (``SCALPER_DRY_RUN=0``, or ``live=True`` to check a configuration before switching) it fails. A
risk limit of 0 is *unset* (see :mod:`eclipse.config.runtime_knobs`). ``FIRST_LIVE_SYMBOLS`` counts as unset
while it is not written down explicitly: its default allowlist is a placeholder, not a decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from eclipse.config.names import split_suffix
from eclipse.config.parsers import format_value
from eclipse.config.problems import masked
from eclipse.config.registry import get_param
from eclipse.config.settings import load_param, lookup_env
from eclipse.errors import ConfigError

__all__ = ["LIVE_LIMITS", "ChecklistItem", "is_live", "missing_live_limits", "risk_checklist"]

LIVE_LIMITS: tuple[str, ...] = (
    "MAX_DAILY_LOSS_PCT",
    "MAX_DRAWDOWN_PCT",
    "KILL_DAILY_HALT_SEC",
    "KILL_DRAWDOWN_HALT_SEC",
)
"""Risk limits a live start needs set (> 0)."""

_LIMIT_NOTES = {
    "MAX_DAILY_LOSS_PCT": "entries halt at a daily loss of {pct} of the day's starting equity",
    "MAX_DRAWDOWN_PCT": "entries halt at a drawdown of {pct} from the run's equity peak",
    "KILL_DAILY_HALT_SEC": "entries stay halted {sec} s after the daily loss limit",
    "KILL_DRAWDOWN_HALT_SEC": "entries stay halted {sec} s after the drawdown limit",
}


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    """One line of the checklist: the knob(s), the value shown (``***`` for a secret), pass/fail and why."""

    name: str
    value: str
    ok: bool
    note: str


class _Invalid:
    """A value that does not parse (the checklist reports it, validation explains it)."""

    def __init__(self, expected: str) -> None:
        self.expected = expected


def _get(env: Mapping[str, str], name: str, profile: str = "micro") -> object:
    try:
        return load_param(env, name, profile)
    except ConfigError as exc:
        return _Invalid(exc.expected)


def _is_set(env: Mapping[str, str], name: str) -> bool:
    try:
        return lookup_env(env, get_param(name)) is not None
    except ConfigError:
        return True


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def is_live(env: Mapping[str, str]) -> bool:
    """True unless ``SCALPER_DRY_RUN`` is on (a value that does not parse counts as live: the stricter)."""
    return _get(env, "SCALPER_DRY_RUN") is not True


def missing_live_limits(env: Mapping[str, str]) -> list[str]:
    """The risk limits a live start needs that are unset (0, empty or invalid), in checklist order:
    :data:`LIVE_LIMITS`, then ``FIRST_LIVE_SYMBOLS`` when ``FIRST_LIVE_SAFE`` is on and no allowlist is
    written down."""
    missing = [name for name in LIVE_LIMITS if not _positive(_get(env, name))]
    safe = _get(env, "FIRST_LIVE_SAFE")
    symbols = _get(env, "FIRST_LIVE_SYMBOLS")
    if safe is not False and (not _is_set(env, "FIRST_LIVE_SYMBOLS") or isinstance(symbols, _Invalid)):
        missing.append("FIRST_LIVE_SYMBOLS")
    return missing


def _shown(name: str, value: object) -> str:
    if isinstance(value, _Invalid):
        return "(invalid)"
    return masked(name, format_value(value)) or '""'


def _item(name: str, value: object, ok: bool, note: str) -> ChecklistItem:
    if isinstance(value, _Invalid):
        return ChecklistItem(name, _shown(name, value), False, f"invalid: expected {value.expected}")
    return ChecklistItem(name, _shown(name, value), ok, note)


def _overrides(env: Mapping[str, str], base: str) -> str:
    count = sum(1 for n, v in env.items() if v.strip() and (split_suffix(n) or ("", ""))[0] == base)
    return f" (+{count} per-symbol)" if count else ""


def _symbols(value: object) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else ()


def risk_checklist(
    env: Mapping[str, str], profile: str = "micro", *, live: bool | None = None
) -> tuple[ChecklistItem, ...]:
    """The risk checklist of ``env`` under ``profile``'s defaults; ``live`` None judges the mode in effect
    (``SCALPER_DRY_RUN``), True judges as for a live start."""
    running_live = is_live(env)
    live = running_live if live is None else live

    def get(name: str) -> object:
        return _get(env, name, profile)

    items: list[ChecklistItem] = []
    dry = get("SCALPER_DRY_RUN")
    if running_live:
        note = "LIVE: real orders with real money; confirm this is intentional"
    elif live:
        note = "dry run now; judged as for a live start"
    else:
        note = "paper trading: real market data, simulated fills"
    items.append(_item("SCALPER_DRY_RUN", dry, True, note))

    safe, cap = get("FIRST_LIVE_SAFE"), get("FIRST_LIVE_MAX_NOTIONAL_USDT")
    if safe is True:
        note = f"live entries only on FIRST_LIVE_SYMBOLS, notional <= {_shown('', cap)} USDT"
    elif live:
        note = "off: every active symbol trades live at full size; keep it on until you trust the bot"
    else:
        note = "off (matters only live)"
    items.append(_item("FIRST_LIVE_SAFE", safe, safe is True or not live, note))

    first, active = get("FIRST_LIVE_SYMBOLS"), get("ACTIVE_SYMBOLS")
    explicit = _is_set(env, "FIRST_LIVE_SYMBOLS")
    if safe is not True:
        ok, note = True, "unused while FIRST_LIVE_SAFE is off"
    elif not explicit:
        ok = not live
        note = "not set: only the placeholder default applies; write the allowlist down for a live start"
    else:
        idle = [s for s in _symbols(first) if s not in _symbols(active)]
        ok, note = True, (f"not in ACTIVE_SYMBOLS: {','.join(idle)}" if idle else "allowlist set")
    items.append(_item("FIRST_LIVE_SYMBOLS", first, ok, note))

    qty = get("FIXED_QTY")
    note = "confirm it is sized for the account"
    if _positive(qty):
        note = f"FIXED_QTY={_shown('FIXED_QTY', qty)} is used instead; " + note
    notional = get("FIXED_NOTIONAL_USDT")
    items.append(_item("FIXED_NOTIONAL_USDT", notional, True, note + _overrides(env, "FIXED_NOTIONAL_USDT")))

    lev_max, margin = get("LEVERAGE_MAX"), get("MARGIN_MODE")
    note = f"max {_shown('', lev_max)}, {_shown('', margin)} margin; confirm it is sized for account risk"
    items.append(_item("LEVERAGE", get("LEVERAGE"), True, note + _overrides(env, "LEVERAGE")))

    for name in LIVE_LIMITS:
        value = get(name)
        if _positive(value):
            text = format_value(value)
            pct = f"{float(text) * 100:g}%" if name.endswith("_PCT") else text
            ok, note = True, _LIMIT_NOTES[name].format(pct=pct, sec=text)
        else:
            ok = not live
            note = "unset: a live start refuses to run" if live else "unset (a live start needs it)"
        items.append(_item(name, value, ok, note))

    items.append(_corr_item(get, live))
    telemetry = get("TELEMETRY_PATH")
    shown = "" if isinstance(telemetry, _Invalid) else str(telemetry)
    note = f"events written to {shown or 'telemetry.jsonl in the run dir'}"
    items.append(_item("TELEMETRY_PATH", telemetry, True, note))
    audit = get("SCALPER_AUDIT")
    path = get("SCALPER_AUDIT_PATH")
    if audit is True:
        note = f"signals and near-misses written to {_shown('', path)}"
    else:
        note = "off: no signal audit CSV" + ("; turn it on for a live start" if live else "")
    items.append(_item("SCALPER_AUDIT", audit, audit is True or not live, note))
    return tuple(items)


def _corr_item(get: Callable[[str], object], live: bool) -> ChecklistItem:
    groups, active = get("CORR_GROUPS"), get("ACTIVE_SYMBOLS")
    caps = [get(n) for n in ("CORR_GROUP_MAX_POSITIONS", "CORR_GROUP_MAX_NOTIONAL_USDT")]
    maps = [get(n) for n in ("CORR_GROUP_LIMITS", "CORR_GROUP_NOTIONAL")]
    bad = next((v for v in (groups, active, *caps, *maps) if isinstance(v, _Invalid)), None)
    if bad is not None:
        return _item("CORR_GROUP_*", bad, False, "")
    n_groups = len(getattr(groups, "groups", ()))
    capped = any(_positive(c) for c in caps) or any(bool(m) for m in maps)
    value = f"{n_groups} group{'' if n_groups == 1 else 's'}" + (", capped" if capped else ", no caps")
    n_active = len(_symbols(active))
    if n_active <= 1:
        return ChecklistItem("CORR_GROUP_*", value, True, "one active symbol: no correlation to cap")
    if n_groups and capped:
        return ChecklistItem("CORR_GROUP_*", value, True, f"caps set for {n_active} active symbols")
    note = f"{n_active} active symbols without correlation caps (CORR_GROUPS + CORR_GROUP_MAX_*)"
    return ChecklistItem("CORR_GROUP_*", value, not live, note)
