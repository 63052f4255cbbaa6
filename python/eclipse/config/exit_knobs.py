"""Knobs of the exit layer of the execution engine (concatenated into the registry's REGISTRY).

Names and defaults of ``EXIT_MOM_*``, ``EXIT_VWAP_*`` and ``EXIT_ATR_SCALE_*`` are the original bot's. The
original gives no defaults for the time exits (``EXIT_MAX_HOLD_SEC``, ``EXIT_STAGNATION_SEC``,
``EXIT_STAGNATION_ATR``) nor any knob for the protective orders; those are Eclipse's choices, documented in
``docs/exits.md``. Knobs in :data:`SYMBOL_OVERRIDABLE` accept a per-symbol override written with a
``_<SYMBOL>`` suffix (``EXIT_MAX_HOLD_SEC_DOGE``), parsed with the base knob's parser
(:mod:`eclipse.execution.exits.overrides`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eclipse import _core
from eclipse.config.parsers import Parser, bool_parser, choice_parser, float_parser, int_parser

if TYPE_CHECKING:
    from eclipse.config.registry import Param, Safety

__all__ = ["SYMBOL_OVERRIDABLE", "exit_params"]

_EXITS = "execution.exits"
_PROTECT = "execution.exits.protection"

SYMBOL_OVERRIDABLE: tuple[str, ...] = (
    "EXIT_MAX_HOLD_SEC",
    "EXIT_STAGNATION_SEC",
    "EXIT_STAGNATION_ATR",
    "EXIT_ATR_SCALE_REF_PCT",
    "EXIT_ATR_SCALE_MIN",
    "EXIT_ATR_SCALE_MAX",
    "EXIT_MOM_MIN",
    "EXIT_STOP_LOSS_PCT",
    "EXIT_STOP_LOSS_ATR",
    "EXIT_TAKE_PROFIT_PCT",
    "EXIT_TAKE_PROFIT_ATR",
)
"""Knobs that accept a ``_<SYMBOL>`` suffix override (``_DOGE`` or ``_DOGEUSDT``)."""


def exit_params(param: type[Param]) -> tuple[Param, ...]:
    """The exit knobs, built with the registry's ``Param`` class (passed in to avoid an import cycle)."""
    boolean = bool_parser()
    nonneg = float_parser(0.0)
    positive = float_parser(1e-9)
    tf = choice_parser(tuple(_core.TIMEFRAMES))

    def exit_(name: str, parser: Parser[Any], default: object, doc: str) -> Param:
        return param(name, parser, default, _EXITS, "exit", doc)

    def protect(name: str, parser: Parser[Any], default: object, safety: Safety, doc: str) -> Param:
        return param(name, parser, default, _PROTECT, safety, doc)

    return (
        # --- momentum fade ---
        exit_("EXIT_MOM_ENABLED", boolean, False, "exit when 5m/15m momentum turns against"),
        exit_("EXIT_MOM_MIN", nonneg, 0.0015,
            "momentum fade threshold: a long exits at momentum <= -min, a short at >= +min"),
        exit_("EXIT_MOM_REQUIRE_BOTH", boolean, True,
            "momentum fade needs both 5m and 15m momentum past the threshold (0: either one)"),
        # --- VWAP cross ---
        exit_("EXIT_VWAP_ENABLED", boolean, False, "exit when price crosses VWAP against"),
        exit_("EXIT_VWAP_TF", tf, "5m", "timeframe of the VWAP of the VWAP-cross exit"),
        exit_("EXIT_VWAP_WINDOW", int_parser(1), 240,
            "rolling VWAP window in bars of EXIT_VWAP_TF (the feature state must use the same window)"),
        exit_("EXIT_VWAP_REQUIRE_CROSS", boolean, True,
            "require a cross on the last closed bar instead of a simple below/above check"),
        # --- time exits ---
        exit_("EXIT_MAX_HOLD_SEC", nonneg, 0.0,
            "close a position held this many seconds (ATR-scaled when enabled; 0 = off)"),
        exit_("EXIT_STAGNATION_SEC", nonneg, 0.0,
            "close a position that moved < EXIT_STAGNATION_ATR x ATR% after this many seconds (0 = off)"),
        exit_("EXIT_STAGNATION_ATR", nonneg, 0.5,
            "stagnation band: |price / entry - 1| below this multiple of ATR% counts as no progress"),
        exit_("EXIT_ATR_TF", tf, "1m",
            "timeframe of the ATR% used by ATR scaling, stagnation and ATR protection distances"),
        # --- ATR scaling of the time exits ---
        exit_("EXIT_ATR_SCALE_ENABLED", boolean, False,
            "scale max-hold and stagnation times by entry ATR% / EXIT_ATR_SCALE_REF_PCT"),
        exit_("EXIT_ATR_SCALE_REF_PCT", positive, 0.003,
            "reference ATR% (fraction) at which the time multiplier is 1"),
        exit_("EXIT_ATR_SCALE_MIN", positive, 0.6, "lowest ATR time multiplier (clamp)"),
        exit_("EXIT_ATR_SCALE_MAX", positive, 1.6, "highest ATR time multiplier (clamp)"),
        # --- protective orders ---
        protect("EXIT_STOP_LOSS_PCT", float_parser(0.0005, 0.5), 0.01, "risk",
            "protective stop distance from entry as a fraction; also the cap of the ATR distance"),
        protect("EXIT_STOP_LOSS_ATR", nonneg, 0.0, "risk",
            "stop distance as a multiple of ATR% (capped by EXIT_STOP_LOSS_PCT; 0 = percent only)"),
        protect("EXIT_TAKE_PROFIT_PCT", float_parser(0.0, 5.0), 0.015, "exit",
            "protective take-profit distance from entry as a fraction (0 = no take-profit order)"),
        protect("EXIT_TAKE_PROFIT_ATR", nonneg, 0.0, "exit",
            "take-profit distance as a multiple of ATR% (0 = use EXIT_TAKE_PROFIT_PCT)"),
        protect("EXIT_PROTECT_GRACE_SEC", nonneg, 15.0, "risk",
            "T_protect: seconds a position may lack a venue-confirmed stop before its entries are blocked"),
        protect("EXIT_PROTECT_CLOSE_POSITION", boolean, False, "risk",
            "protective orders close the whole position (closePosition) instead of a reduce-only qty"),
    )  # fmt: skip
