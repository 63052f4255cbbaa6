"""The order router: validation and intent shaping, retry policy by taxonomy class, an exactly-once
executor over the Venue protocol, idempotent cancel and a replace manager, with journal and telemetry hooks.

``eclipse.execution.router.settings`` (knob loading) is not imported here: it depends on the config
registry, which imports :mod:`.policy` for the ``ROUTER_RETRY_POLICY`` parser.
"""

from __future__ import annotations

from eclipse.execution.router.cancel import CancelResult, cancel_order
from eclipse.execution.router.executor import Lookup, LookupState, Router
from eclipse.execution.router.journal import JournalSink, MemoryJournal
from eclipse.execution.router.policy import (
    RetryBudget,
    RetryPolicy,
    RetryRule,
    RetryTable,
    Sleep,
    asyncio_sleep,
    sim_sleep,
)
from eclipse.execution.router.replace import ReplaceManager, ReplaceOutcome, ReplaceResult
from eclipse.execution.router.validation import Refusal, Shaped, validate

__all__ = [
    "CancelResult",
    "JournalSink",
    "Lookup",
    "LookupState",
    "MemoryJournal",
    "Refusal",
    "ReplaceManager",
    "ReplaceOutcome",
    "ReplaceResult",
    "RetryBudget",
    "RetryPolicy",
    "RetryRule",
    "RetryTable",
    "Router",
    "Shaped",
    "Sleep",
    "asyncio_sleep",
    "cancel_order",
    "sim_sleep",
    "validate",
]
