"""The router's settings loaded from an env mapping through the registry (``ROUTER_*`` knobs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from eclipse.config.settings import load_param
from eclipse.errors import ConfigError
from eclipse.execution.router.policy import RetryPolicy, RetryTable

__all__ = ["LANDING_MARGIN_MS", "RouterSettings", "load_router_settings"]

LANDING_MARGIN_MS = 1_000
"""Clock margin on top of the venue's receive window (our clock against the venue's)."""


@dataclass(frozen=True, slots=True)
class RouterSettings:
    """Per-order notional cap (0 = off), retry policy (with the per-request time budget) and replace
    budget."""

    max_notional: Decimal
    policy: RetryPolicy
    replace_max_attempts: int
    landing_window_ms: int = 0
    """How long after a send the request may still land (``VENUE_RECV_WINDOW_MS`` + a second of clock
    margin): a lookup's "not found" before then proves nothing, so nothing is resent until it has passed."""


def load_router_settings(env: Mapping[str, str], profile: str = "micro") -> RouterSettings:
    """The router knobs from ``env`` (legacy alias ``ROUTER_NOTIONAL_CAP`` included); ConfigError when the
    base delay exceeds the max delay."""
    cap = load_param(env, "ROUTER_MAX_NOTIONAL_USDT", profile)
    table = load_param(env, "ROUTER_RETRY_POLICY", profile)
    base = load_param(env, "ROUTER_RETRY_BASE_SEC", profile)
    max_delay = load_param(env, "ROUTER_RETRY_MAX_DELAY_SEC", profile)
    attempts = load_param(env, "ROUTER_REPLACE_MAX_ATTEMPTS", profile)
    budget = load_param(env, "ROUTER_RETRY_BUDGET_SEC", profile)
    recv_window = load_param(env, "VENUE_RECV_WINDOW_MS", profile)
    assert isinstance(cap, float)
    assert isinstance(table, RetryTable)
    assert isinstance(base, float)
    assert isinstance(max_delay, float)
    assert isinstance(attempts, int)
    assert isinstance(budget, float)
    assert isinstance(recv_window, int)
    if base > max_delay:
        raise ConfigError(
            "ROUTER_RETRY_BASE_SEC", base, f"at most ROUTER_RETRY_MAX_DELAY_SEC ({max_delay:g})"
        )
    return RouterSettings(
        Decimal(repr(cap)),
        RetryPolicy(table, base, max_delay, budget),
        attempts,
        landing_window_ms=recv_window + LANDING_MARGIN_MS,
    )
