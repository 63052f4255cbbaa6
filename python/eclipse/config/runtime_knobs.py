"""Knobs of the daemon (``eclipse run``): profile and symbols, first-live safety, risk limits, loop timings,
the status server (concatenated into :data:`eclipse.config.registry.REGISTRY`).

Names are the original bot's where it had them (``SCALPER_MODE``, ``ENTRY_LOOP_MODE``, ``ACTIVE_SYMBOLS``,
``FIRST_LIVE_SAFE``, ``FIRST_LIVE_SYMBOLS``, ``MAX_DAILY_LOSS_PCT``, ``MAX_DRAWDOWN_PCT``,
``KILL_DAILY_HALT_SEC``, ``KILL_DRAWDOWN_HALT_SEC``, ``TELEMETRY_PATH``). A risk limit of 0 is *unset*: a
live start refuses to run with an unset limit (the original README's risk checklist), dry-run only reports it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from eclipse.config.parsers import Parser, bool_parser, choice_parser, float_parser, int_parser

if TYPE_CHECKING:
    from eclipse.config.registry import Param

__all__ = ["ENTRY_LOOP_MODES", "runtime_params", "symbols_parser"]

ENTRY_LOOP_MODES: tuple[str, ...] = ("full", "basic")
_RUN = "runtime.daemon"
_RISK = "runtime.risk"
_STATUS = "runtime.status"
_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}(/[A-Z0-9]{2,10}(:[A-Z0-9]{2,10})?)?$")


def _to_symbols(text: str) -> tuple[str, ...]:
    items = tuple(s.strip().upper() for s in text.split(",") if s.strip())
    if not items or any(not _SYMBOL.match(s) for s in items) or len(set(items)) != len(items):
        raise ValueError(text)
    return items


def symbols_parser() -> Parser[tuple[str, ...]]:
    """A comma-separated list of distinct symbols like ``BTCUSDT,ETHUSDT`` (or unified ``BTC/USDT:USDT``)."""
    return Parser("symbols", "comma-separated distinct symbols like BTCUSDT,ETHUSDT", _to_symbols)


def _to_crash_at(text: str) -> str:
    from eclipse.runtime.crashpoints import parse_crash_at  # a leaf module: no import cycle

    parse_crash_at(text)
    return text.strip()


def _to_optional_text(text: str) -> str:
    if "\x00" in text:
        raise ValueError(text)
    return text


def runtime_params(param: type[Param]) -> tuple[Param, ...]:
    """The daemon's knobs, built with the registry's ``Param`` class (passed in to avoid an import cycle)."""
    nonneg = float_parser(0.0)
    pct = float_parser(0.0, 1.0)
    return (
        param(
            "SCALPER_MODE",
            choice_parser(("micro", "production")),
            "micro",
            _RUN,
            "risk",
            "run profile of the daemon: the defaults of every knob (SCALPER_SIGNAL_PROFILE may differ)",
        ),
        param(
            "ENTRY_LOOP_MODE",
            choice_parser(ENTRY_LOOP_MODES),
            "full",
            _RUN,
            "entry",
            "full: every active symbol may hold a position; basic: one open position across all symbols",
        ),
        param(
            "ACTIVE_SYMBOLS",
            symbols_parser(),
            ("BTCUSDT",),
            _RUN,
            "entry",
            "symbols the daemon trades (BTCUSDT or BTC/USDT:USDT; the venue's quote and kind decide)",
        ),
        param(
            "FIRST_LIVE_SAFE",
            bool_parser(),
            True,
            _RISK,
            "risk",
            "live only: entries only on FIRST_LIVE_SYMBOLS, notional capped (FIRST_LIVE_MAX_NOTIONAL_USDT)",
        ),
        param(
            "FIRST_LIVE_SYMBOLS",
            symbols_parser(),
            ("BTCUSDT",),
            _RISK,
            "risk",
            "the allowlist of live entries while FIRST_LIVE_SAFE=1",
        ),
        param(
            "FIRST_LIVE_MAX_NOTIONAL_USDT",
            float_parser(1.0),
            25.0,
            _RISK,
            "sizing",
            "live order notional cap while FIRST_LIVE_SAFE=1 (USDT)",
        ),
        param(
            "EQUITY_CAP_USDT",
            nonneg,
            0.0,
            _RISK,
            "sizing",
            "equity used for sizing = min(venue balance, this); 0 = the venue balance",
        ),
        param(
            "MAX_DAILY_LOSS_PCT",
            pct,
            0.0,
            _RISK,
            "risk",
            "entries halt when the day's net PnL falls below -this x equity at the day's start (0 = unset)",
        ),
        param(
            "MAX_DRAWDOWN_PCT",
            pct,
            0.0,
            _RISK,
            "risk",
            "entries halt when equity falls this far below its peak of the run (0 = unset)",
        ),
        param(
            "KILL_DAILY_HALT_SEC",
            nonneg,
            0.0,
            _RISK,
            "risk",
            "seconds entries stay halted after the daily loss limit (0 = unset: until the next UTC day)",
        ),
        param(
            "KILL_DRAWDOWN_HALT_SEC",
            nonneg,
            0.0,
            _RISK,
            "risk",
            "seconds entries stay halted after the drawdown limit (0 = unset: until restarted)",
        ),
        param(
            "TELEMETRY_PATH",
            Parser("path", "a file path (empty = telemetry.jsonl in the run directory)", _to_optional_text),
            "",
            _RUN,
            "none",
            "telemetry JSONL file (empty = telemetry.jsonl in the run directory)",
        ),
        param(
            "PROTECTION_CHECK_SEC",
            float_parser(0.2, 60.0),
            5.0,
            _RUN,
            "exit",
            "seconds between protection checks against the venue's open orders (engine tick)",
        ),
        param(
            "RUN_BAR_SETTLE_SEC",
            float_parser(0.0, 30.0),
            1.5,
            _RUN,
            "entry",
            "seconds after a 1m bar's close before it is fetched (the venue finalizes the candle)",
        ),
        param(
            "RECONCILE_INTERVAL_SEC",
            float_parser(1.0, 3600.0),
            60.0,
            _RUN,
            "risk",
            "seconds between reconcile checks (in-flight orders, open orders, positions)",
        ),
        param(
            "RUN_LOOP_MAX_CRASHES",
            int_parser(1, 100),
            3,
            _RUN,
            "risk",
            "crashes of one loop within 10 minutes after which entries stop (critical event)",
        ),
        param(
            "CHAOS_CRASH_AT",
            Parser(
                "text",
                "empty, or point:n[,point:n] (submit.journaled, submit.sent, protect.sent, cancel.sent, "
                "fill.journaled, reconcile.fetched, bar, shutdown)",
                _to_crash_at,
            ),
            "",
            _RUN,
            "risk",
            "testing only (the kill -9 suite): the daemon SIGKILLs itself at the n-th pass of a crash point;"
            " refused in live mode",
        ),
        param(
            "CLOCK_SKEW_MAX_MS",
            int_parser(1, 60_000),
            1000,
            _RUN,
            "risk",
            "refuse to start when the local clock differs from the venue's by more than this (ms)",
        ),
        param(
            "FEATURE_STATE_MAX_AGE_SEC",
            nonneg,
            900.0,
            _RUN,
            "entry",
            "saved feature state older than this (market time) is not restored; history is fetched instead",
        ),
        param(
            "STATUS_HTTP",
            bool_parser(),
            True,
            _STATUS,
            "none",
            "serve /healthz, /status and /metrics on STATUS_HTTP_HOST:STATUS_HTTP_PORT",
        ),
        param(
            "STATUS_HTTP_HOST",
            choice_parser(("127.0.0.1", "localhost", "::1")),
            "127.0.0.1",
            _STATUS,
            "none",
            "interface of the status server (loopback only)",
        ),
        param(
            "STATUS_HTTP_PORT",
            int_parser(0, 65535),
            8787,
            _STATUS,
            "none",
            "port of the status server (0 = any free port; the URL is written to the run directory)",
        ),
        param(
            "STATUS_TOKEN",
            Parser("text", "a token of at least 16 characters (empty = control actions refused)", _to_token),
            "",
            _STATUS,
            "risk",
            "bearer token the control actions (pause, resume, flatten, stop) require; empty = refused",
            secret=True,
        ),
    )


def _to_token(text: str) -> str:
    if text and (len(text) < 16 or any(c.isspace() for c in text)):
        raise ValueError(text)
    return text
