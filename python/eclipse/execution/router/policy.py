"""Retry policy of the router: per taxonomy class, how often to retry, how long to wait, when to alert.

``ROUTER_RETRY_POLICY`` is a comma-separated list of ``reason=max:delay:max_delay:extra`` entries, reasons
``network``, ``exchange_busy``, ``timestamp`` and ``rate_limited``. Entries given replace that reason's
default; reasons not given keep theirs (original defaults ``network=8:0.35:3:2``,
``exchange_busy=7:0.45:4:2``, ``timestamp=4:0.3:2:1``). A reason with no entry at all (``rate_limited`` by
default) gets ``FALLBACK_MAX:ROUTER_RETRY_BASE_SEC:ROUTER_RETRY_MAX_DELAY_SEC:FALLBACK_EXTRA``.

Semantics of one entry, counted per request and per reason (failures of other reasons do not count):

* ``max``: failed attempts of this reason after which ``order.create.retry_alert`` is emitted (once, with
  ``tries``, ``reason``, ``code``);
* ``extra``: further attempts granted *after* the alert (so dashboards and the adaptive guard see the storm
  while retries are still in flight); when they fail too the request is given up, so at most
  ``max + extra`` failures of one reason are tolerated (``extra = 0``: give up at the alert);
* ``delay`` / ``max_delay``: the k-th failure waits ``min(max_delay, delay * 2**(k-1))`` seconds times a
  jitter factor drawn uniformly from [0.5, 1] with the injected RNG ("equal jitter": spreads the resends
  of many requests without ever collapsing to 0); a venue's ``retry_after_s`` is a floor on the wait.

An outcome-unknown send that a lookup proved never landed counts as a ``network`` failure.

Bounds (a retry storm must stay short): ``1 <= max <= 50``, ``0 <= extra <= 20`` and
``0 <= delay <= max_delay <= 60`` seconds; larger values are a ConfigError naming ``ROUTER_RETRY_POLICY``
and the limits. On top of the per-reason counts, every request (a create with its lookups, a cancel, a
market fetch) has a total time budget, ``ROUTER_RETRY_BUDGET_SEC`` (default 10 s, at most 14 s: below the
15 s ``EXIT_PROTECT_GRACE_SEC`` so a retry run ends before the protection watchdog escalates): a backoff
that would end past the budget is not slept, the request ends instead (see :class:`RetryBudget`).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from eclipse.clock import SimClock
from eclipse.venues.errors import VenueErrorKind

if TYPE_CHECKING:
    from eclipse.config.parsers import Parser

__all__ = [
    "DEFAULT_RETRY_BUDGET_S",
    "DEFAULT_RETRY_RULES",
    "FALLBACK_EXTRA",
    "FALLBACK_MAX",
    "MAX_DELAY_LIMIT_S",
    "MAX_EXTRA_LIMIT",
    "MAX_RETRY_BUDGET_S",
    "MAX_TRIES_LIMIT",
    "REASONS",
    "RETRY_POLICY_EXPECTED",
    "BudgetStep",
    "RetryBudget",
    "RetryPolicy",
    "RetryRule",
    "RetryTable",
    "Sleep",
    "asyncio_sleep",
    "parse_retry_table",
    "reason_for",
    "retry_table_parser",
    "sim_sleep",
]

Sleep = Callable[[float], Awaitable[None]]
"""An async sleep of some seconds (``asyncio.sleep`` live; a SimClock-advancing one in tests)."""

REASONS: tuple[str, ...] = ("network", "exchange_busy", "timestamp", "rate_limited")
FALLBACK_MAX = 5
FALLBACK_EXTRA = 1
MAX_TRIES_LIMIT = 50
MAX_EXTRA_LIMIT = 20
MAX_DELAY_LIMIT_S = 60.0
DEFAULT_RETRY_BUDGET_S = 10.0
MAX_RETRY_BUDGET_S = 14.0  # below the 15 s EXIT_PROTECT_GRACE_SEC default
RETRY_POLICY_EXPECTED = (
    "comma-separated reason=max:delay:max_delay:extra entries, reason one of "
    + "|".join(REASONS)
    + f", integers 1 <= max <= {MAX_TRIES_LIMIT} and 0 <= extra <= {MAX_EXTRA_LIMIT},"
    + f" 0 <= delay <= max_delay <= {MAX_DELAY_LIMIT_S:g} seconds (e.g. network=8:0.35:3:2)"
)

_REASON_OF: dict[VenueErrorKind, str] = {
    VenueErrorKind.NETWORK: "network",
    VenueErrorKind.EXCHANGE_BUSY: "exchange_busy",
    VenueErrorKind.TIMESTAMP: "timestamp",
    VenueErrorKind.RATE_LIMITED: "rate_limited",
    VenueErrorKind.OUTCOME_UNKNOWN: "network",
    VenueErrorKind.DUPLICATE_CLIENT_ID: "network",
}


def reason_for(kind: VenueErrorKind) -> str | None:
    """The policy reason a failure of ``kind`` counts against (None: not retried)."""
    return _REASON_OF.get(kind)


def _num(x: float) -> str:
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True, slots=True)
class RetryRule:
    """One reason's budget: alert after ``max_tries`` failures, give up ``extra`` failures later."""

    max_tries: int
    delay_s: float
    max_delay_s: float
    extra: int

    def __post_init__(self) -> None:
        if not (1 <= self.max_tries <= MAX_TRIES_LIMIT and 0 <= self.extra <= MAX_EXTRA_LIMIT):
            raise ValueError(
                f"need 1 <= max <= {MAX_TRIES_LIMIT} and 0 <= extra <= {MAX_EXTRA_LIMIT},"
                f" got {self.max_tries} and {self.extra}"
            )
        if not 0.0 <= self.delay_s <= self.max_delay_s <= MAX_DELAY_LIMIT_S:
            raise ValueError(
                f"need 0 <= delay <= max_delay <= {MAX_DELAY_LIMIT_S:g},"
                f" got {self.delay_s} and {self.max_delay_s}"
            )

    def __str__(self) -> str:
        return f"{self.max_tries}:{_num(self.delay_s)}:{_num(self.max_delay_s)}:{self.extra}"


DEFAULT_RETRY_RULES: Mapping[str, RetryRule] = MappingProxyType(
    {
        "network": RetryRule(8, 0.35, 3.0, 2),
        "exchange_busy": RetryRule(7, 0.45, 4.0, 2),
        "timestamp": RetryRule(4, 0.3, 2.0, 1),
    }
)
"""The original bot's defaults."""


@dataclass(frozen=True, slots=True)
class RetryTable:
    """The parsed value of ``ROUTER_RETRY_POLICY``: rules by reason (defaults merged in)."""

    rules: tuple[tuple[str, RetryRule], ...]

    @classmethod
    def default(cls) -> RetryTable:
        """The original defaults."""
        return cls(tuple(DEFAULT_RETRY_RULES.items()))

    def get(self, reason: str) -> RetryRule | None:
        """The rule of ``reason`` (None when not listed)."""
        return dict(self.rules).get(reason)

    def __str__(self) -> str:
        return ",".join(f"{reason}={rule}" for reason, rule in self.rules)


def _float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def parse_retry_table(text: str) -> RetryTable:
    """Parse ``reason=max:delay:max_delay:extra,...`` over the defaults; ValueError when malformed."""
    merged = dict(DEFAULT_RETRY_RULES)
    seen: set[str] = set()
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        reason, sep, spec = entry.partition("=")
        reason = reason.strip().lower()
        fields = spec.split(":")
        if not sep or reason not in REASONS or reason in seen or len(fields) != 4:
            raise ValueError(entry)
        seen.add(reason)
        merged[reason] = RetryRule(
            int(fields[0].strip(), 10), _float(fields[1]), _float(fields[2]), int(fields[3].strip(), 10)
        )
    if not seen:
        raise ValueError(text)
    return RetryTable(tuple((r, merged[r]) for r in REASONS if r in merged))


def retry_table_parser() -> Parser[RetryTable]:
    """The ``ROUTER_RETRY_POLICY`` parser (kind ``retry_policy``)."""
    # imported here: the config package imports this module (through router_knobs) while it loads
    from eclipse.config.parsers import Parser

    return Parser("retry_policy", RETRY_POLICY_EXPECTED, parse_retry_table)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The router's retry policy: the table, the base delays used by reasons it does not list, and the
    total time budget of one request in seconds (``ROUTER_RETRY_BUDGET_SEC``)."""

    table: RetryTable = field(default_factory=RetryTable.default)
    base_s: float = 0.5
    max_delay_s: float = 5.0
    budget_s: float = DEFAULT_RETRY_BUDGET_S

    def __post_init__(self) -> None:
        if not 0.0 <= self.base_s <= self.max_delay_s <= MAX_DELAY_LIMIT_S:
            raise ValueError(
                f"need 0 <= base <= max_delay <= {MAX_DELAY_LIMIT_S:g},"
                f" got {self.base_s} and {self.max_delay_s}"
            )
        if not 0.0 < self.budget_s <= MAX_RETRY_BUDGET_S:
            raise ValueError(f"need 0 < budget <= {MAX_RETRY_BUDGET_S:g}, got {self.budget_s}")

    def rule(self, reason: str) -> RetryRule:
        """The rule of ``reason`` (the fallback built from the base delays when not listed)."""
        rule = self.table.get(reason)
        if rule is None:
            return RetryRule(FALLBACK_MAX, self.base_s, self.max_delay_s, FALLBACK_EXTRA)
        return rule

    def delay(
        self, reason: str, failures: int, rng: random.Random, retry_after_s: float | None = None
    ) -> float:
        """Seconds to wait after the ``failures``-th failure of ``reason`` (see the module docstring)."""
        rule = self.rule(reason)
        raw = min(rule.max_delay_s, rule.delay_s * 2.0 ** max(0, failures - 1))
        wait = raw * (0.5 + 0.5 * rng.random())
        if retry_after_s is not None and retry_after_s > wait:
            wait = retry_after_s
        return wait


@dataclass(frozen=True, slots=True)
class BudgetStep:
    """What one failure means: ``tries`` so far of the reason, whether to alert now, whether to give up."""

    reason: str
    tries: int
    alert: bool
    exhausted: bool
    extra_left: int


class RetryBudget:
    """Failure counters of one request (or one lookup), by reason, and the request's time budget.

    ``deadline_ms`` (clock milliseconds) ends the request: :meth:`fits` says whether a backoff of some
    seconds, started at ``now_ms``, still ends within it. A lookup made for a request shares the request's
    deadline (pass it in); without one the budget starts at ``now_ms`` (None: no time budget, tests only).
    """

    def __init__(
        self, policy: RetryPolicy, now_ms: int | None = None, deadline_ms: int | None = None
    ) -> None:
        self._policy = policy
        self._failures: Counter[str] = Counter()
        if deadline_ms is None and now_ms is not None:
            deadline_ms = now_ms + round(policy.budget_s * 1000)
        self.deadline_ms = deadline_ms
        self.alerted = False

    def fits(self, now_ms: int, delay_s: float) -> bool:
        """True when waiting ``delay_s`` from ``now_ms`` ends within the time budget."""
        return self.deadline_ms is None or now_ms + round(delay_s * 1000) <= self.deadline_ms

    @property
    def total(self) -> int:
        """Failures recorded so far, all reasons."""
        return sum(self._failures.values())

    def record(self, reason: str) -> BudgetStep:
        """Count one failure of ``reason``."""
        self._failures[reason] += 1
        k = self._failures[reason]
        rule = self._policy.rule(reason)
        limit = rule.max_tries + rule.extra
        if k == rule.max_tries:
            self.alerted = True
        return BudgetStep(reason, k, k == rule.max_tries, k >= limit, max(0, limit - k))


async def asyncio_sleep(seconds: float) -> None:
    """The live sleep."""
    await asyncio.sleep(seconds)


def sim_sleep(clock: SimClock) -> Sleep:
    """A sleep that advances ``clock`` instead of waiting (tests, benches, replays)."""

    async def sleep(seconds: float) -> None:
        clock.advance(ms=max(0, round(seconds * 1000)))

    return sleep
