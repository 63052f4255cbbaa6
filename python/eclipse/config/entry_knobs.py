"""Knobs of the entry layer of the execution engine (concatenated into the registry's REGISTRY).

Names and defaults are the original bot's where its README gives them. Choices where it is silent (see
``docs/entries.md``): FIXED_NOTIONAL_USDT=6 (its safer run profile), FIXED_QTY=0 (off), LEVERAGE=1,
LEVERAGE_MIN=1, LEVERAGE_MAX=125 and LEVERAGE_GROUP_DYNAMIC=1 (its router's defaults), MARGIN_MODE=isolated,
CORR_GROUP_MAX_POSITIONS=0 and CORR_GROUP_MAX_NOTIONAL_USDT=0 (off). ``ADAPTIVE_GUARD_*_SCALE`` were on/off
flags in the original; here they are static scales in (0, 1] so that the original's ``1`` keeps its meaning.

``FIXED_NOTIONAL_USDT``, ``FIXED_QTY`` and ``LEVERAGE`` accept a per-symbol ``_<SYMBOL>`` suffix
(``FIXED_NOTIONAL_USDT_DOGE``, ``LEVERAGE_BTCUSDT``): see :data:`SUFFIX_KNOBS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eclipse.config.parsers import Parser, bool_parser, choice_parser, float_parser, int_parser
from eclipse.execution.entries.values import (
    CorrGroups,
    NamedNumbers,
    corr_groups_parser,
    named_numbers_parser,
)

if TYPE_CHECKING:
    from eclipse.config.registry import Param

__all__ = ["MARGIN_MODES", "SUFFIX_KNOBS", "entry_params", "positive_float_parser", "scale_parser"]

MARGIN_MODES: tuple[str, ...] = ("isolated", "cross")
SUFFIX_KNOBS: tuple[str, ...] = ("FIXED_NOTIONAL_USDT", "FIXED_QTY", "LEVERAGE")
"""Knobs a ``_<SYMBOL>`` (full symbol like ``BTCUSDT`` or base asset like ``DOGE``) suffix overrides."""

_ENTRIES = "execution.entries"
_SIZING = "execution.sizing"
_LEVERAGE = "execution.leverage"
_MAX_LEVERAGE = 125


def positive_float_parser() -> Parser[float]:
    """Finite numbers > 0."""
    base = float_parser(0.0)

    def convert(text: str) -> float:
        value = base.convert(text)
        if value <= 0:
            raise ValueError(text)
        return value

    return Parser("float", "a finite number > 0", convert)


def scale_parser() -> Parser[float]:
    """A multiplier in (0, 1]: 1 = unchanged; a scale never increases size."""
    base = float_parser(0.0, 1.0)

    def convert(text: str) -> float:
        value = base.convert(text)
        if value <= 0:
            raise ValueError(text)
        return value

    return Parser("float", "a finite number in (0, 1] (1 = no scaling)", convert)


def entry_params(param: type[Param]) -> tuple[Param, ...]:
    """The entry knobs, built with the registry's ``Param`` class (passed in to avoid an import cycle)."""
    b, sec, unit = bool_parser(), float_parser(0.0), float_parser(0.0, 1.0)
    count, usdt, scale = int_parser(1), float_parser(0.0), scale_parser()
    lev = int_parser(1, _MAX_LEVERAGE)
    groups = corr_groups_parser()
    g_int = named_numbers_parser("group", integer=True)
    g_num = named_numbers_parser("group")
    g_scale = named_numbers_parser("group", max_value=1.0)
    return (
        # --- router-block and error throttles ---
        param("ENTRY_BLOCK_ON_ROUTER_BLOCK", b, True, _ENTRIES, "entry",
              "block a symbol's entries after router blocks of its orders (see ENTRY_BLOCK_ROUTER_*)"),
        param("ENTRY_BLOCK_ROUTER_WINDOW_SEC", sec, 60.0, _ENTRIES, "entry",
              "window in seconds in which router blocks of one symbol are counted"),
        param("ENTRY_BLOCK_ROUTER_THRESHOLD", count, 1, _ENTRIES, "entry",
              "router blocks within the window that start the symbol's entry backoff"),
        param("ENTRY_BLOCK_ROUTER_BACKOFF_SEC", sec, 10.0, _ENTRIES, "entry",
              "seconds a symbol's entries stay blocked after the router-block threshold is reached"),
        param("ENTRY_BLOCK_ON_ERRORS", b, False, _ENTRIES, "entry",
              "block every entry after too many entry errors (rejects, unresolved orders) in a window"),
        param("ENTRY_BLOCK_ERRORS_WINDOW_SEC", sec, 60.0, _ENTRIES, "entry",
              "window in seconds in which entry errors are counted"),
        param("ENTRY_BLOCK_ERRORS_THRESHOLD", count, 3, _ENTRIES, "entry",
              "entry errors within the window that start the entry backoff"),
        param("ENTRY_BLOCK_ERRORS_BACKOFF_SEC", sec, 15.0, _ENTRIES, "entry",
              "seconds all entries stay blocked after the error threshold is reached"),
        # --- correlation groups (caps) ---
        param("CORR_GROUPS", groups, CorrGroups(), _ENTRIES, "entry",
              'correlated symbol groups "NAME:SYM,SYM;NAME:SYM" used by caps, exposure scaling and leverage'),
        param("CORR_GROUP_MAX_POSITIONS", int_parser(0), 0, _ENTRIES, "entry",
              "max open positions per correlation group, this entry included (0 = no cap)"),
        param("CORR_GROUP_MAX_NOTIONAL_USDT", usdt, 0.0, _ENTRIES, "entry",
              "max open notional per correlation group in USDT, this entry included (0 = no cap)"),
        param("CORR_GROUP_LIMITS", g_int, NamedNumbers(), _ENTRIES, "entry",
              'per-group max positions "MEME=1,MAJOR=2" (overrides CORR_GROUP_MAX_POSITIONS)'),
        param("CORR_GROUP_NOTIONAL", g_num, NamedNumbers(), _ENTRIES, "entry",
              'per-group max notional in USDT "MEME=25,MAJOR=100" (overrides CORR_GROUP_MAX_NOTIONAL_USDT)'),
        # --- partial-fill resolver ---
        param("ENTRY_PARTIAL_MIN_FILL_RATIO", unit, 0.5, _ENTRIES, "risk",
              "an entry that ends filled below this share of its qty is a partial fill to resolve"),
        param("ENTRY_PARTIAL_CANCEL", b, True, _ENTRIES, "risk",
              "cancel the live remainder of a partially filled entry"),
        param("ENTRY_PARTIAL_BACKOFF_SEC", sec, 10.0, _ENTRIES, "entry",
              "seconds the symbol's entries are blocked after a partial fill"),
        param("ENTRY_PARTIAL_ESCALATE_WINDOW_SEC", sec, 600.0, _ENTRIES, "entry",
              "window in seconds in which a symbol's partial fills are counted for escalation"),
        param("ENTRY_PARTIAL_ESCALATE_COUNT", count, 3, _ENTRIES, "entry",
              "partial fills within the window that escalate (longer backoff + escalation event)"),
        param("ENTRY_PARTIAL_ESCALATE_BACKOFF_SEC", sec, 120.0, _ENTRIES, "entry",
              "minimum entry block in seconds for the symbol after an escalation"),
        param("ENTRY_PARTIAL_ESCALATE_TELEM_CD_SEC", sec, 300.0, _ENTRIES, "none",
              "minimum seconds between two entry.partial_fill_escalation events of one symbol"),
        param("ENTRY_PARTIAL_CANCEL_RETRIES", count, 2, _ENTRIES, "risk",
              "attempts to cancel the remainder of a partial fill"),
        param("ENTRY_PARTIAL_CANCEL_DELAY_SEC", sec, 0.25, _ENTRIES, "none",
              "seconds between two cancel attempts"),
        param("ENTRY_PARTIAL_FORCE_FLATTEN", b, True, _ENTRIES, "risk",
              "close the filled part of a below-threshold entry with a reduce-only market order"),
        param("ENTRY_PARTIAL_FLATTEN_RETRIES", count, 2, _ENTRIES, "risk",
              "attempts of the reduce-only flatten of a partial fill"),
        # --- sizing ---
        param("FIXED_NOTIONAL_USDT", usdt, 6.0, _SIZING, "sizing",
              "entry notional in USDT (FIXED_NOTIONAL_USDT_<SYMBOL> overrides it for one symbol)"),
        param("FIXED_QTY", usdt, 0.0, _SIZING, "sizing",
              "entry qty in base units, used instead of the notional when > 0 (0 = off; FIXED_QTY_<SYMBOL>)"),
        param("ENTRY_CONF_SCALE_ENABLED", b, False, _SIZING, "sizing",
              "scale the entry size linearly with signal confidence (ENTRY_CONF_SCALE_*)"),
        param("ENTRY_CONF_SCALE_MIN_CONF", unit, 0.35, _SIZING, "sizing",
              "confidence at or below which the size scale is ENTRY_CONF_SCALE_MIN"),
        param("ENTRY_CONF_SCALE_MAX_CONF", unit, 0.75, _SIZING, "sizing",
              "confidence at or above which the size scale is ENTRY_CONF_SCALE_MAX"),
        param("ENTRY_CONF_SCALE_MIN", unit, 0.5, _SIZING, "sizing", "size scale at low confidence"),
        param("ENTRY_CONF_SCALE_MAX", unit, 1.0, _SIZING, "sizing", "size scale at high confidence"),
        param("ADAPTIVE_GUARD_NOTIONAL_SCALE", scale, 1.0, _SIZING, "sizing",
              "static notional scale, multiplied by the guard's notional_scale (1 = none)"),
        param("ADAPTIVE_GUARD_QTY_SCALE", scale, 1.0, _SIZING, "sizing",
              "static fixed-qty scale, multiplied by the guard's qty_scale (1 = none)"),
        param("CORR_GROUP_EXPOSURE_SCALE_ENABLED", b, False, _SIZING, "sizing",
              "shrink entries as their correlation group's notional grows (CORR_GROUP_EXPOSURE_*)"),
        param("CORR_GROUP_EXPOSURE_SCALE", scale, 0.7, _SIZING, "sizing",
              "size scale = this ** ((group notional + entry) / reference notional)"),
        param("CORR_GROUP_EXPOSURE_SCALE_MIN", unit, 0.25, _SIZING, "sizing",
              "floor of the correlation exposure scale"),
        param("CORR_GROUP_EXPOSURE_REF_NOTIONAL", usdt, 0.0, _SIZING, "sizing",
              "reference group notional in USDT (0 = the group's, else the global, notional cap)"),
        param("CORR_GROUP_EXPOSURE_SCALE_BY_GROUP", g_scale, NamedNumbers(), _SIZING, "sizing",
              'per-group CORR_GROUP_EXPOSURE_SCALE "MEME=0.5"'),
        param("CORR_GROUP_EXPOSURE_SCALE_MIN_BY_GROUP", g_scale, NamedNumbers(), _SIZING, "sizing",
              'per-group CORR_GROUP_EXPOSURE_SCALE_MIN "MEME=0.2"'),
        param("CORR_GROUP_EXPOSURE_REF_NOTIONAL_BY_GROUP", g_num, NamedNumbers(), _SIZING, "sizing",
              'per-group CORR_GROUP_EXPOSURE_REF_NOTIONAL "MAJOR=100"'),
        # --- leverage ---
        param("LEVERAGE", lev, 1, _LEVERAGE, "risk",
              "entry leverage (LEVERAGE_<SYMBOL> overrides it for one symbol)"),
        param("LEVERAGE_BY_SYMBOL", named_numbers_parser("symbol", min_value=1, max_value=_MAX_LEVERAGE,
              integer=True), NamedNumbers(), _LEVERAGE, "risk",
              'per-symbol leverage "BTCUSDT=10,ETHUSDT=5" (beats LEVERAGE_<SYMBOL>)'),
        param("LEVERAGE_BY_GROUP", named_numbers_parser("group", min_value=1, max_value=_MAX_LEVERAGE,
              integer=True), NamedNumbers(), _LEVERAGE, "risk",
              'per-group leverage caps "MEME=3,MAJOR=10" (lowest of the symbol\'s groups wins)'),
        param("LEVERAGE_MIN", lev, 1, _LEVERAGE, "risk", "floor of the final leverage"),
        param("LEVERAGE_MAX", lev, _MAX_LEVERAGE, _LEVERAGE, "risk", "ceiling of the final leverage"),
        param("LEVERAGE_GROUP_DYNAMIC", b, True, _LEVERAGE, "risk",
              "lower leverage as the symbol's correlation groups fill up (LEVERAGE_GROUP_*)"),
        param("LEVERAGE_GROUP_SCALE", unit, 0.7, _LEVERAGE, "risk",
              "leverage multiplier per open symbol of the group (or per exposure step)"),
        param("LEVERAGE_GROUP_SCALE_MIN", float_parser(1.0), 1.0, _LEVERAGE, "risk",
              "floor of the dynamically scaled leverage (never above the unscaled leverage)"),
        param("LEVERAGE_GROUP_EXCLUDE_SELF", b, True, _LEVERAGE, "risk",
              "do not count the symbol's own open position in its group"),
        param("LEVERAGE_GROUP_EXPOSURE", b, False, _LEVERAGE, "risk",
              "scale by group notional / equity in steps of LEVERAGE_GROUP_EXPOSURE_REF_PCT, not by count"),
        param("LEVERAGE_GROUP_EXPOSURE_REF_PCT", positive_float_parser(), 0.10, _LEVERAGE, "risk",
              "exposure step as a fraction of equity (0.10 = each 10% of equity applies the scale once)"),
        param("MARGIN_MODE", choice_parser(MARGIN_MODES), "isolated", _LEVERAGE, "risk",
              "futures margin mode: isolated (loss capped at the position's margin) or cross"),
    )  # fmt: skip
