"""The abstract world the model check explores: one intent's orders, the venue's truth and a faulty channel.

Everything is a small immutable tuple so that a state hashes fast and the search can remember millions:

* :class:`Attempt`: one venue order of the intent: the bot's belief (the order machine's state, the quantity,
  the trade ids applied, whether it knows the trigger link) next to the venue's truth (status, quantity, units
  filled). The order quantity is abstracted to :data:`QUANTITY` units; the venue fills one unit at a time,
  unit ``k`` carrying trade id ``tk`` (trade ids are per attempt). In the conditional configuration the
  attempts are conditional orders: the venue status ``triggered`` (:data:`V_TRIG`) is a conditional that
  triggered and became a regular order, which is working; the units filled are that order's fills.
* :class:`Msg`: one venue report on its way to the bot; :class:`World` holds the reports in flight as a
  sorted tuple (a multiset: any of them may be delivered next, so the channel reorders) of at most
  :data:`CHANNEL_BOUND`; the channel also loses and duplicates them, and the venue may re-send a trade id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, NamedTuple

__all__ = [
    "CHANNEL_BOUND",
    "CONDITIONAL_STATES",
    "GUARDS",
    "LIVE_AT_VENUE",
    "MAX_ATTEMPTS",
    "QUANTITY",
    "Attempt",
    "Ctx",
    "Fault",
    "Msg",
    "Successor",
    "World",
    "emit",
    "put",
    "remove",
    "render_msg",
    "render_world",
    "triggered_at_venue",
]

QUANTITY: Final = 2
"""Abstract order quantity in units (fills are one unit each: trade ids t1, t2)."""
MAX_ATTEMPTS: Final = 2
"""Venue orders per intent: the first submission and one resubmission."""
CHANNEL_BOUND: Final = 3
"""Reports in flight at most; a report emitted into a full channel is lost (a fault the model has anyway)."""
# The order machine's vocabulary the model speaks (Model.of checks the spec has these states).
CREATED, SUBMITTING, UNKNOWN, ACCEPTED = "created", "submitting", "unknown", "accepted"
PARTIAL, PENDING_CANCEL, TRIGGERED = "partially_filled", "pending_cancel", "triggered"
FILLED, CANCELED, REJECTED, EXPIRED, ABSENT = "filled", "canceled", "rejected", "expired", "absent"
STATES: Final = (CREATED, SUBMITTING, UNKNOWN, ACCEPTED, PARTIAL, PENDING_CANCEL, FILLED, CANCELED, REJECTED,
                 EXPIRED, ABSENT)  # fmt: skip
CONDITIONAL_STATES: Final = (*STATES, TRIGGERED)
"""The states the conditional configuration needs besides the regular ones."""
TRANSPORT_ERROR, FILL, QTY_REDUCED, TRIGGER = "transport_error", "fill", "qty_reduced", "trigger"

# The venue's status of one order besides filled, canceled, expired and rejected: none (never placed), open
# (working; a conditional not yet triggered), triggered (a conditional that triggered: the order it became
# works).
V_NONE, V_OPEN, V_TRIG = "none", "open", "triggered"
LIVE_AT_VENUE: Final = frozenset({V_OPEN, V_TRIG})
"""Venue statuses of an order that can still fill, cancel or expire."""

Ctx = tuple[int, int]
"""Guard context: (filled units, order quantity) as they would be after the event, as in OrderTracker."""

GUARDS: Final[Mapping[str, Callable[[Ctx], bool]]] = MappingProxyType(
    {
        "completes": lambda c: c[0] >= c[1],
        "now_complete": lambda c: c[0] >= c[1],
        "leaves_remainder": lambda c: c[0] < c[1],
        "has_fills": lambda c: c[0] > 0,
        "no_fills": lambda c: c[0] <= 0,
    }
)
"""The spec's guards evaluated on abstract integer quantities."""


class Attempt(NamedTuple):
    """One venue order of the intent: the bot's belief, then the venue's truth."""

    local: str  # the order machine's state
    qty: int  # the bot's order quantity
    applied: tuple[int, ...]  # trade units applied, sorted (a repeat would be a double application)
    doubt: bool  # a terminal state reached by a transport error (no definitive answer)
    venue: str  # none, open, triggered, filled, canceled, expired, rejected
    vqty: int
    vfilled: int  # units the venue filled: trade ids t1..t<vfilled>
    linked: bool = False  # a conditional: the bot knows the trigger link (the order it became is this one)


class Msg(NamedTuple):
    """A venue report in flight: ``event`` for attempt ``attempt`` (0-based); ``arg`` is the unit of a fill,
    the new quantity of a ``qty_reduced``."""

    attempt: int
    event: str
    arg: int = 0


class World(NamedTuple):
    """One abstract state: the intent's attempts, oldest first, and the reports in flight (sorted); with the
    posture machine composed, its state, the calm ticks counted toward a step down and the warmup ticks
    (``posture`` is empty in the order machine's own worlds, see :mod:`~eclipse.machines.modelcheck.posture`).
    """

    attempts: tuple[Attempt, ...]
    channel: tuple[Msg, ...]
    posture: str = ""
    calm: int = 0
    warm: int = 0

    @property
    def orders(self) -> World:
        """The order part alone (the posture fields at their defaults)."""
        return World(self.attempts, self.channel) if self.posture else self


@dataclass(frozen=True, slots=True)
class Fault:
    """An invariant broken by one transition or in one state."""

    invariant: str
    detail: str


class Successor(NamedTuple):
    """One action from a world: the action, the next world, what it broke, and what the machine did (``log``:
    joined into :attr:`label` only when the search needs it, for a new state)."""

    action: str
    world: World
    faults: tuple[Fault, ...]
    log: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The action with what the machine did."""
        return f"{self.action}: {'; '.join(self.log)}" if self.log else self.action


def render_msg(m: Msg) -> str:
    """``fill#1 t2``, ``qty_reduced#1 ->1``, ``ack#2`` (attempts numbered from 1)."""
    if m.event == FILL:
        return f"fill#{m.attempt + 1} t{m.arg}"
    if m.event == QTY_REDUCED:
        return f"qty_reduced#{m.attempt + 1} ->{m.arg}"
    return f"{m.event}#{m.attempt + 1}"


def triggered_at_venue(a: Attempt) -> bool:
    """A conditional the venue triggered, as far as its truth shows: the order it became is working, or
    filled something (a conditional fills only through the order it became)."""
    return a.venue == V_TRIG or a.vfilled > 0


def render_world(w: World) -> str:
    """One line: each attempt's belief and the venue's truth, then the reports in flight."""
    parts = []
    for i, a in enumerate(w.attempts, 1):
        ids = ",".join(f"t{u}" for u in a.applied)
        doubt = " (by transport error)" if a.doubt else ""
        link = " (trigger known)" if a.linked else ""
        parts.append(
            f"#{i} bot {a.local}{doubt}{link} {len(a.applied)}/{a.qty}{f' [{ids}]' if ids else ''}"
            f" | venue {a.venue} {a.vfilled}/{a.vqty}"
        )
    channel = ", ".join(render_msg(m) for m in w.channel) or "empty"
    posture = f"; posture {w.posture} (calm {w.calm}, warmup {w.warm})" if w.posture else ""
    return "; ".join(parts) + f"; in flight: {channel}{posture}"


def put(w: World, i: int, a: Attempt) -> tuple[Attempt, ...]:
    """The attempts of ``w`` with attempt ``i`` replaced by ``a`` (the others are the same objects)."""
    return (*w.attempts[:i], a, *w.attempts[i + 1 :])


def emit(channel: tuple[Msg, ...], msgs: tuple[Msg, ...], log: list[str]) -> tuple[Msg, ...]:
    """``channel`` with ``msgs`` added; a report that finds the channel full is lost (noted in ``log``)."""
    out = list(channel)
    for m in msgs:
        if len(out) < CHANNEL_BOUND:
            out.append(m)
        else:
            log.append(f"{render_msg(m)} lost (channel full)")
    return tuple(sorted(out))


def remove(channel: tuple[Msg, ...], m: Msg) -> tuple[Msg, ...]:
    """``channel`` with one copy of ``m`` taken out."""
    i = channel.index(m)
    return channel[:i] + channel[i + 1 :]
