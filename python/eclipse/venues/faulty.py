"""A :class:`~eclipse.venues.protocol.Venue` wrapper that injects taxonomy faults, deterministically per seed.

:class:`FaultyVenue` forwards every call to an inner venue, except that a :class:`FaultPlan` may turn a
call into a failure of one :class:`Fault` kind:

* ``executed_unknown``: the inner call runs (the order lands, the cancel happens), then
  ``VenueError(OUTCOME_UNKNOWN)`` is raised -- a timeout after the venue acted;
* ``executed_duplicate``: the inner call runs, then ``DUPLICATE_CLIENT_ID`` -- the venue saw the request
  twice (a resend overtaken by the original);
* ``lost_request``: ``OUTCOME_UNKNOWN`` without calling the inner venue -- a timeout before it acted;
* ``network`` / ``exchange_busy`` / ``timestamp`` / ``rate_limited``: definitive refusals, the inner venue
  is not called (``rate_limited`` carries the rule's ``retry_after_s``).

Rules match an operation name (``create_order``, ``cancel_order``, ``fetch_order``, ...) and fire either on
listed call numbers of that operation (1-based, a *script*) or with probability ``p`` (from a
``random.Random(seed)`` owned by the wrapper: same seed and calls, same faults). The first matching rule
wins. Every injected fault is recorded in :attr:`FaultyVenue.injected`.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.protocol import Venue
from eclipse.venues.types import (
    Balance,
    Candle,
    Fill,
    MarginMode,
    Market,
    OrderReport,
    OrderRequest,
    Position,
    Ticker,
)

__all__ = ["Fault", "FaultPlan", "FaultRule", "FaultyVenue", "InjectedFault"]

T = TypeVar("T")


class Fault(StrEnum):
    """One kind of injected failure (see the module docstring)."""

    EXECUTED_UNKNOWN = "executed_unknown"
    EXECUTED_DUPLICATE = "executed_duplicate"
    LOST_REQUEST = "lost_request"
    NETWORK = "network"
    EXCHANGE_BUSY = "exchange_busy"
    TIMESTAMP = "timestamp"
    RATE_LIMITED = "rate_limited"

    @property
    def executes(self) -> bool:
        """True when the inner call runs before the error is raised."""
        return self in (Fault.EXECUTED_UNKNOWN, Fault.EXECUTED_DUPLICATE)

    @property
    def error_kind(self) -> VenueErrorKind:
        """The taxonomy kind the caller sees."""
        return _KINDS[self]


_KINDS: dict[Fault, VenueErrorKind] = {
    Fault.EXECUTED_UNKNOWN: VenueErrorKind.OUTCOME_UNKNOWN,
    Fault.EXECUTED_DUPLICATE: VenueErrorKind.DUPLICATE_CLIENT_ID,
    Fault.LOST_REQUEST: VenueErrorKind.OUTCOME_UNKNOWN,
    Fault.NETWORK: VenueErrorKind.NETWORK,
    Fault.EXCHANGE_BUSY: VenueErrorKind.EXCHANGE_BUSY,
    Fault.TIMESTAMP: VenueErrorKind.TIMESTAMP,
    Fault.RATE_LIMITED: VenueErrorKind.RATE_LIMITED,
}

_OPERATIONS = frozenset(
    {
        "load_markets",
        "market",
        "fetch_time_ms",
        "fetch_ohlcv",
        "fetch_ticker",
        "fetch_balance",
        "fetch_positions",
        "set_leverage",
        "set_margin_mode",
        "create_order",
        "cancel_order",
        "fetch_order",
        "fetch_open_orders",
        "fetch_fills",
    }
)


@dataclass(frozen=True, slots=True)
class FaultRule:
    """Inject ``fault`` into calls of ``operation``: on the listed 1-based ``calls``, else with probability
    ``p``."""

    operation: str
    fault: Fault
    p: float = 0.0
    calls: frozenset[int] = frozenset()
    retry_after_s: float | None = None

    def __post_init__(self) -> None:
        if self.operation not in _OPERATIONS:
            raise ValueError(f"unknown operation {self.operation!r}; expected one of {sorted(_OPERATIONS)}")
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {self.p}")
        if any(c < 1 for c in self.calls):
            raise ValueError(f"call numbers are 1-based, got {sorted(self.calls)}")


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """An ordered set of rules (the first matching rule fires)."""

    rules: tuple[FaultRule, ...] = ()

    @classmethod
    def script(
        cls, steps: Mapping[str, Sequence[Fault | None]], *, retry_after_s: float | None = 0.0
    ) -> FaultPlan:
        """Per operation, the fault of its 1st, 2nd, ... call (None = pass through; later calls pass)."""
        rules = [
            FaultRule(op, fault, calls=frozenset({i + 1}), retry_after_s=retry_after_s)
            for op, seq in steps.items()
            for i, fault in enumerate(seq)
            if fault is not None
        ]
        return cls(tuple(rules))

    @classmethod
    def random(
        cls, operation: str, faults: Iterable[tuple[Fault, float]], *, retry_after_s: float | None = 0.0
    ) -> FaultPlan:
        """``operation`` fails with each ``(fault, p)`` in turn (p of the calls the earlier ones spared)."""
        return cls(tuple(FaultRule(operation, f, p=p, retry_after_s=retry_after_s) for f, p in faults))

    def __add__(self, other: FaultPlan) -> FaultPlan:
        return FaultPlan(self.rules + other.rules)


@dataclass(frozen=True, slots=True)
class InjectedFault:
    """A fault that fired: operation, its call number, the fault and the client order id (if any)."""

    operation: str
    call: int
    fault: Fault
    client_order_id: str | None


class FaultyVenue:
    """``inner`` with the faults of ``plan`` (deterministic per ``seed``); see the module docstring."""

    def __init__(self, inner: Venue, plan: FaultPlan, seed: int = 0) -> None:
        self._inner = inner
        self._plan = plan
        self._rng = random.Random(seed)
        self.calls: Counter[str] = Counter()
        """Calls made to this wrapper, by operation."""
        self.inner_calls: Counter[str] = Counter()
        """Calls that reached the inner venue, by operation."""
        self.injected: list[InjectedFault] = []
        """Every fault injected, in order."""

    @property
    def inner(self) -> Venue:
        """The wrapped venue."""
        return self._inner

    @property
    def plan(self) -> FaultPlan:
        """The faults in force; replace it to change them mid-test (e.g. faults, then quiet)."""
        return self._plan

    @plan.setter
    def plan(self, plan: FaultPlan) -> None:
        self._plan = plan

    @property
    def name(self) -> str:
        """``faulty:<inner>``."""
        return f"faulty:{self._inner.name}"

    @property
    def dry_run(self) -> bool:
        """The inner venue's."""
        return self._inner.dry_run

    def _decide(self, operation: str) -> FaultRule | None:
        n = self.calls[operation]
        for rule in self._plan.rules:
            if rule.operation != operation:
                continue
            if n in rule.calls:
                return rule
            if rule.p > 0.0 and self._rng.random() < rule.p:
                return rule
        return None

    async def _call(
        self, operation: str, fn: Callable[[], Awaitable[T]], client_order_id: str | None = None
    ) -> T:
        self.calls[operation] += 1
        rule = self._decide(operation)
        if rule is None:
            self.inner_calls[operation] += 1
            return await fn()
        fault = rule.fault
        self.injected.append(InjectedFault(operation, self.calls[operation], fault, client_order_id))
        if fault.executes:
            self.inner_calls[operation] += 1
            await fn()  # the venue acts (an error of the inner call itself wins: it is what really happened)
        raise VenueError(
            fault.error_kind,
            f"injected {fault.value} on {operation} call {self.calls[operation]}",
            venue=self.name,
            operation=operation,
            code=f"injected:{fault.value}",
            retry_after_s=rule.retry_after_s if fault is Fault.RATE_LIMITED else None,
        )

    async def _by_id(
        self,
        operation: str,
        method: Callable[..., Awaitable[OrderReport]],
        symbol: str,
        order_id: str | None,
        client_order_id: str | None,
        conditional: bool,
    ) -> OrderReport:
        """``method`` (an order-by-id call of the inner venue) through :meth:`_call`."""
        return await self._call(
            operation,
            lambda: method(
                symbol, order_id=order_id, client_order_id=client_order_id, conditional=conditional
            ),
            client_order_id,
        )

    async def load_markets(self, reload: bool = False) -> Mapping[str, Market]:
        """Forwarded (faultable)."""
        return await self._call("load_markets", lambda: self._inner.load_markets(reload))

    async def market(self, symbol: str) -> Market:
        """Forwarded (faultable)."""
        return await self._call("market", lambda: self._inner.market(symbol))

    async def fetch_time_ms(self) -> int:
        """Forwarded (faultable)."""
        return await self._call("fetch_time_ms", self._inner.fetch_time_ms)

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since_ms: int | None = None, limit: int = 500
    ) -> list[Candle]:
        """Forwarded (faultable)."""
        return await self._call(
            "fetch_ohlcv", lambda: self._inner.fetch_ohlcv(symbol, timeframe, since_ms, limit)
        )

    async def fetch_ticker(self, symbol: str) -> Ticker:
        """Forwarded (faultable)."""
        return await self._call("fetch_ticker", lambda: self._inner.fetch_ticker(symbol))

    async def fetch_balance(self) -> Mapping[str, Balance]:
        """Forwarded (faultable)."""
        return await self._call("fetch_balance", self._inner.fetch_balance)

    async def fetch_positions(self, symbols: Sequence[str] | None = None) -> list[Position]:
        """Forwarded (faultable)."""
        return await self._call("fetch_positions", lambda: self._inner.fetch_positions(symbols))

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        """Forwarded (faultable)."""
        await self._call("set_leverage", lambda: self._inner.set_leverage(symbol, leverage))

    async def set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        """Forwarded (faultable)."""
        await self._call("set_margin_mode", lambda: self._inner.set_margin_mode(symbol, mode))

    async def create_order(self, request: OrderRequest) -> OrderReport:
        """Forwarded (faultable)."""
        return await self._call(
            "create_order", lambda: self._inner.create_order(request), request.client_order_id
        )

    async def cancel_order(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        conditional: bool = False,
    ) -> OrderReport:
        """Forwarded (faultable)."""
        return await self._by_id(
            "cancel_order", self._inner.cancel_order, symbol, order_id, client_order_id, conditional
        )

    async def fetch_order(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        conditional: bool = False,
    ) -> OrderReport:
        """Forwarded (faultable)."""
        return await self._by_id(
            "fetch_order", self._inner.fetch_order, symbol, order_id, client_order_id, conditional
        )

    async def fetch_open_orders(
        self, symbol: str | None = None, *, conditional: bool = False
    ) -> list[OrderReport]:
        """Forwarded (faultable)."""
        return await self._call(
            "fetch_open_orders", lambda: self._inner.fetch_open_orders(symbol, conditional=conditional)
        )

    async def fetch_fills(self, symbol: str, since_ms: int | None = None, limit: int = 500) -> list[Fill]:
        """Forwarded (faultable)."""
        return await self._call("fetch_fills", lambda: self._inner.fetch_fills(symbol, since_ms, limit))

    async def close(self) -> None:
        """Close the inner venue (never faulted)."""
        await self._inner.close()
