"""Knobs of the reliability loop (``python/eclipse/reliability/``): the running reconcile's checks, the policy
for orders and positions that are not ours, and the posture the belief debt drives (concatenated into
:data:`eclipse.config.registry.REGISTRY`). ``RECONCILE_INTERVAL_SEC`` (positions) and ``PROTECTION_CHECK_SEC``
(protection) are the daemon's (``config/runtime_knobs.py``); ``RECOVERY_RED_LOCK_CRITICAL_STREAK`` is the
original bot's name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eclipse.config.parsers import choice_parser, float_parser, int_parser

if TYPE_CHECKING:
    from eclipse.config.registry import Param

__all__ = ["FOREIGN_POLICIES", "reliability_params"]

FOREIGN_POLICIES: tuple[str, ...] = ("block", "protect", "flatten")
_REC = "reliability.reconcile"
_POS = "reliability.posture"


def reliability_params(param: type[Param]) -> tuple[Param, ...]:
    """The reliability loop's knobs, built with the registry's ``Param`` class (passed in: no cycle)."""
    sec = float_parser(0.5, 3600.0)
    return (
        param(
            "RECONCILE_FOREIGN_POLICY",
            choice_parser(FOREIGN_POLICIES),
            "block",
            _REC,
            "risk",
            "orders/positions not ours: block (report, no entries there), protect (adopt + stop), flatten",
        ),
        param(
            "RECONCILE_INFLIGHT_CHECK_SEC",
            sec,
            5.0,
            _REC,
            "risk",
            "seconds between in-flight checks (orders submitted or of unknown outcome get a lookup)",
        ),
        param(
            "RECONCILE_INFLIGHT_AGE_SEC",
            float_parser(0.0, 3600.0),
            10.0,
            _REC,
            "risk",
            "an order submitted or of unknown outcome longer than this is looked up by client id",
        ),
        param(
            "RECONCILE_MAX_LOOKUPS",
            int_parser(1, 1000),
            5,
            _REC,
            "risk",
            "at most this many lookups by client id per reconcile cycle (the rest wait for the next)",
        ),
        param(
            "RECONCILE_ORDERS_CHECK_SEC",
            sec,
            30.0,
            _REC,
            "risk",
            "seconds between open-order checks (ours the venue no longer lists, orders we do not know)",
        ),
        param(
            "RECONCILE_STALE_SEC",
            float_parser(5.0, 86_400.0),
            180.0,
            _REC,
            "entry",
            "a symbol is tradeable only while its last complete position reconcile is younger than this",
        ),
        param(
            "RECONCILE_BACKOFF_BASE_SEC",
            float_parser(0.1, 600.0),
            2.0,
            _REC,
            "risk",
            "delay after a failed reconcile cycle; doubles per consecutive failure up to the max",
        ),
        param(
            "RECONCILE_BACKOFF_MAX_SEC",
            float_parser(0.1, 3600.0),
            60.0,
            _REC,
            "risk",
            "cap of the reconcile backoff delay",
        ),
        param(
            "POSTURE_HYSTERESIS_SEC",
            float_parser(0.0, 86_400.0),
            120.0,
            _POS,
            "entry",
            "the debt must stay below a posture's level this long before the posture steps down one level",
        ),
        param(
            "POSTURE_WARMUP_SEC",
            float_parser(0.0, 86_400.0),
            300.0,
            _POS,
            "entry",
            "seconds POST_RED_WARMUP runs at reduced size after RED_LOCK before a normal posture",
        ),
        param(
            "POSTURE_DEBT_AGING_MIN",
            float_parser(0.1, 10_000.0),
            10.0,
            _POS,
            "entry",
            "an open contradiction counts one more weight every this many minutes (unbounded aging)",
        ),
        param(
            "RECOVERY_RED_LOCK_CRITICAL_STREAK",
            int_parser(1, 100),
            2,
            _POS,
            "risk",
            "RED_LOCK entries since the last completed warmup that raise posture.red_lock_critical",
        ),
    )
