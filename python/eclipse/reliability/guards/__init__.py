"""The daemon's entry guards: kill switch (daily loss, drawdown), data quality and staleness, adaptive
confidence raise, anomaly pause and stop-breach cooldown, combined by :class:`GuardSet` into one
:class:`~eclipse.contracts.GuardKnobs` per symbol. They only ever restrict entries: exits and protection are
not knobs. See ``docs/guards.md``.
"""

from __future__ import annotations

from eclipse.reliability.guards.base import ActiveGuard, GuardEvent
from eclipse.reliability.guards.guard_set import GuardSet
from eclipse.reliability.guards.settings import GuardSettings
from eclipse.reliability.guards.store import GuardStateError, GuardStateStore

__all__ = ["ActiveGuard", "GuardEvent", "GuardSet", "GuardSettings", "GuardStateError", "GuardStateStore"]
