"""Knobs of the router layer of the execution engine (concatenated into the registry's REGISTRY).

``ROUTER_RETRY_BASE_SEC`` / ``ROUTER_RETRY_MAX_DELAY_SEC`` have no documented original default; 0.5 s and
5 s are chosen (they only apply to reasons ``ROUTER_RETRY_POLICY`` does not list, ``rate_limited`` by
default). ``ROUTER_REPLACE_MAX_ATTEMPTS`` is new (default 3 replaces per intent).

``ROUTER_RETRY_BUDGET_SEC`` is new: the total time one router request (a create with its lookups, a cancel)
may spend retrying, default 10 s, at most 14 s so a retry run always ends below the 15 s
``EXIT_PROTECT_GRACE_SEC``. ``ROUTER_RETRY_POLICY`` entries are bounded (max <= 50, extra <= 20, delays
<= 60 s) and ``ROUTER_RETRY_MAX_DELAY_SEC`` to 60 s, so no setting can produce a retry storm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eclipse.config.parsers import float_parser, int_parser
from eclipse.execution.router.policy import (
    DEFAULT_RETRY_BUDGET_S,
    MAX_DELAY_LIMIT_S,
    MAX_RETRY_BUDGET_S,
    RetryTable,
    retry_table_parser,
)

if TYPE_CHECKING:
    from eclipse.config.registry import Param

__all__ = ["router_params"]

_OWNER = "execution.router"


def router_params(param: type[Param]) -> tuple[Param, ...]:
    """The router knobs, built with the registry's ``Param`` class (passed in to avoid an import cycle)."""
    return (
        param(
            "ROUTER_MAX_NOTIONAL_USDT",
            float_parser(0.0),
            0.0,
            _OWNER,
            "sizing",
            "per-order notional cap in USDT on entries, never on exits; above it: order.blocked (0 = off)",
            aliases=("ROUTER_NOTIONAL_CAP",),
        ),
        param(
            "ROUTER_RETRY_POLICY",
            retry_table_parser(),
            RetryTable.default(),
            _OWNER,
            "risk",
            "per-reason retries reason=max:delay:max_delay:extra (alert after max, give up after extra more)",
        ),
        param(
            "ROUTER_RETRY_BASE_SEC",
            float_parser(0.0, 60.0),
            0.5,
            _OWNER,
            "risk",
            "base backoff in seconds for retry reasons ROUTER_RETRY_POLICY does not list",
        ),
        param(
            "ROUTER_RETRY_MAX_DELAY_SEC",
            float_parser(0.0, MAX_DELAY_LIMIT_S),
            5.0,
            _OWNER,
            "risk",
            "backoff ceiling in seconds for retry reasons ROUTER_RETRY_POLICY does not list",
        ),
        param(
            "ROUTER_RETRY_BUDGET_SEC",
            float_parser(0.1, MAX_RETRY_BUDGET_S),
            DEFAULT_RETRY_BUDGET_S,
            _OWNER,
            "risk",
            "seconds one order request may spend retrying, then rejected/unresolved; < 15 s protect grace",
        ),
        param(
            "ROUTER_REPLACE_MAX_ATTEMPTS",
            int_parser(0, 100),
            3,
            _OWNER,
            "exit",
            "replaces (cancel-then-place) allowed per intent before the replace manager gives up",
        ),
    )
