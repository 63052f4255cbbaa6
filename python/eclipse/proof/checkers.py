"""The promise as checkers over a run's evidence (journal, telemetry, the venue's own state): no client order
id placed twice; at most one live order per intent; an intent never filled beyond its quantity; no fill lost
or counted twice; every open position covered by exactly one live stop within T_protect; exits never
blocked; belief equal to the venue's truth once the run ends quiet.

Each checker is registered in the spec checker registry (suite ``run``, e.g.
``order.run.client_order_id_placed_once``) and named by its invariant in ``specs/*.toml``; each takes a
:class:`~eclipse.proof.evidence.RunEvidence` and returns its problems as readable lines. :func:`check_run`
runs them all and measures the run (protection gaps, unknown-order resolution, repairs, debt peak).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from statistics import median
from typing import Final

from eclipse.contracts import (
    FillRecorded,
    IntentCreated,
    IntentKind,
    OrderAcked,
    OrderResolved,
    OrderSubmitting,
    OrderUnknown,
)
from eclipse.execution.journal.client_ids import ClientId, parse_client_id
from eclipse.execution.journal.state import JournalState
from eclipse.machines.checkers import register, registry
from eclipse.proof.evidence import RunEvidence, symbol_key
from eclipse.venues.sim.model import OrderView
from eclipse.venues.types import Side

__all__ = ["RUN_CHECKERS", "ProofReport", "RunMeasures", "Violation", "check_run", "protection_gaps"]

_OPEN: Final = frozenset({"NEW", "PARTIALLY_FILLED"})
_END: Final = 1 << 62
_QTY_EPS: Final = Decimal("1e-12")

RUN_CHECKERS: Final = (
    "order.run.client_order_id_placed_once",
    "order.run.one_live_order_per_intent",
    "order.run.intent_filled_within_quantity",
    "order.run.no_fill_counted_twice",
    "order.run.no_fill_lost",
    "protection.run.one_stop_within_t_protect",
    "protection.run.exits_never_blocked",
    "reconcile.run.belief_equals_venue",
)
"""Every run checker, in the order :func:`check_run` runs them."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken promise: the checker that saw it and what it saw."""

    checker: str
    detail: str

    def __str__(self) -> str:
        return f"{self.checker}: {self.detail}"


@dataclass(frozen=True, slots=True)
class RunMeasures:
    """What the run measured (the chaos scenarios and ``eclipse simtest`` report these)."""

    orders: int = 0
    fills: int = 0
    positions: int = 0
    """Position episodes (open to flat) on the venue."""
    protection_gaps_ms: tuple[int, ...] = ()
    """Each stretch an open position spent without a live stop (downtime excluded)."""
    unknown_resolution_ms: tuple[int, ...] = ()
    """Unknown outcome -> resolved, per order."""
    unresolved_unknown: int = 0
    repairs: int = 0
    debt_peak: float = 0.0

    @property
    def longest_gap_s(self) -> float:
        """The longest protection gap, seconds."""
        return max(self.protection_gaps_ms, default=0) / 1000.0

    @property
    def gap_total_s(self) -> float:
        """All protection gaps together, seconds."""
        return sum(self.protection_gaps_ms) / 1000.0

    @property
    def unknown_p50_ms(self) -> float | None:
        """Median unknown-order resolution time."""
        return float(median(self.unknown_resolution_ms)) if self.unknown_resolution_ms else None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready figures."""
        return {
            "orders": self.orders,
            "fills": self.fills,
            "positions": self.positions,
            "protection_gap_longest_s": self.longest_gap_s,
            "protection_gap_total_s": self.gap_total_s,
            "unknown_resolved": len(self.unknown_resolution_ms),
            "unknown_resolution_p50_ms": self.unknown_p50_ms,
            "unknown_resolution_max_ms": max(self.unknown_resolution_ms, default=None),
            "unresolved_unknown": self.unresolved_unknown,
            "repairs": self.repairs,
            "debt_peak": self.debt_peak,
        }


@dataclass(frozen=True, slots=True)
class ProofReport:
    """The checkers' verdict on one run, with its measures."""

    violations: tuple[Violation, ...]
    measures: RunMeasures = field(default_factory=RunMeasures)

    @property
    def ok(self) -> bool:
        """No invariant was broken."""
        return not self.violations


# --- the venue's orders, ours -------------------------------------------------------------------------------


def _ours(ev: RunEvidence) -> list[tuple[OrderView, ClientId]]:
    """Our orders on the venue (by client id), without the market orders triggered conditionals became
    (those are their conditional's)."""
    products = {o.triggered_order_id for o in ev.venue.orders if o.conditional and o.triggered_order_id}
    out = []
    for o in ev.venue.orders:
        if not o.conditional and o.order_id in products:
            continue
        cid = parse_client_id(o.client_id)
        if cid is not None:
            out.append((o, cid))
    return out


def _live_until(o: OrderView) -> int:
    return _END if o.status in _OPEN else o.updated_ms


def _our_regular_ids(ev: RunEvidence) -> set[int]:
    """Regular order ids whose trades are ours: our regular orders and the products of our conditionals."""
    ids = {o.order_id for o, _ in _ours(ev) if not o.conditional}
    ids.update(
        o.triggered_order_id for o, _ in _ours(ev) if o.conditional and o.triggered_order_id is not None
    )
    return ids


# --- order ---------------------------------------------------------------------------------------------


@register("order.run.client_order_id_placed_once")
def client_order_id_placed_once(ev: RunEvidence) -> list[str]:
    """client_order_id_placed_once: the venue never holds two orders under one of our client ids."""
    counts = Counter(o.client_id for o, _ in _ours(ev))
    return [
        f"client order id {cid} placed {n} times on the venue" for cid, n in sorted(counts.items()) if n > 1
    ]


@register("order.run.one_live_order_per_intent")
def one_live_order_per_intent(ev: RunEvidence) -> list[str]:
    """one_live_order_per_intent: the venue's orders of one entry or exit intent never overlap in time."""
    groups: dict[tuple[str, IntentKind], list[OrderView]] = defaultdict(list)
    for o, cid in _ours(ev):
        if cid.kind in (IntentKind.ENTRY, IntentKind.EXIT, IntentKind.FLATTEN):
            groups[(cid.intent_id, cid.kind)].append(o)
    out = []
    for (intent, kind), orders in sorted(groups.items()):
        orders.sort(key=lambda o: (o.created_ms, o.order_id))
        end, holder = -1, ""
        for o in orders:
            if o.created_ms < end:
                out.append(
                    f"intent {intent} ({kind}): {o.client_id} went live at {o.created_ms} while {holder} was "
                    "still live"
                )
            if _live_until(o) > end:
                end, holder = _live_until(o), o.client_id
    return out


@register("order.run.intent_filled_within_quantity")
def intent_filled_within_quantity(ev: RunEvidence) -> list[str]:
    """intent_filled_within_quantity: an entry intent's orders together never fill beyond its quantity."""
    wanted: dict[str, Decimal] = {}
    for rec in ev.journal:
        e = rec.event
        if isinstance(e, IntentCreated) and e.qty is not None and e.kind is IntentKind.ENTRY:
            wanted[e.intent_id] = e.qty  # the intent's own quantity
        elif isinstance(e, OrderSubmitting) and e.kind is IntentKind.ENTRY and e.qty is not None:
            wanted.setdefault(e.intent_id, e.qty)  # no intent record: its first order's quantity
    filled: dict[str, Decimal] = defaultdict(Decimal)
    for o, cid in _ours(ev):
        if cid.kind is IntentKind.ENTRY:
            filled[cid.intent_id] += o.filled
    return [
        f"intent {intent}: the venue filled {qty} of {wanted[intent]}"
        for intent, qty in sorted(filled.items())
        if intent in wanted and qty > wanted[intent] + _QTY_EPS
    ]


def _journal_fills(ev: RunEvidence) -> Counter[tuple[str, str]]:
    return Counter(
        (symbol_key(rec.event.fill.symbol), rec.event.fill.trade_id)
        for rec in ev.journal
        if isinstance(rec.event, FillRecorded)
    )


@register("order.run.no_fill_counted_twice")
def no_fill_counted_twice(ev: RunEvidence) -> list[str]:
    """trade_id_applied_once: each venue trade is journaled at most once, and every journaled fill is a
    trade the venue made (none invented)."""
    fills = _journal_fills(ev)
    venue = {(t.symbol, str(t.trade_id)) for t in ev.venue.trades}
    out = [f"trade {sym} #{tid} journaled {n} times" for (sym, tid), n in sorted(fills.items()) if n > 1]
    out.extend(
        f"trade {sym} #{tid} journaled but the venue has no such trade"
        for (sym, tid) in sorted(fills)
        if (sym, tid) not in venue
    )
    return out


@register("order.run.no_fill_lost")
def no_fill_lost(ev: RunEvidence) -> list[str]:
    """venue_fills_never_lost: once the run ends quiet, every trade of our orders is in the journal."""
    if not ev.settled:
        return []
    fills = _journal_fills(ev)
    ours = _our_regular_ids(ev)
    return [
        f"trade {t.symbol} #{t.trade_id} of order {t.order_id} ({t.client_id}) is not in the journal"
        for t in ev.venue.trades
        if t.order_id in ours and (t.symbol, str(t.trade_id)) not in fills
    ]


# --- protection -------------------------------------------------------------------------------------------


def _blind(ev: RunEvidence, sym: str) -> list[tuple[int, int]]:
    """The stretches ``sym``'s protection could not be acted on: downtime, and its own excused ones."""
    return [*ev.downtime, *((a, b) for s, a, b in ev.excused if s == sym)]


@dataclass(slots=True)
class _Run:
    """An open stretch of one condition (uncovered, or doubly covered) on one symbol."""

    start: int | None = None
    found: list[tuple[int, int]] = field(default_factory=list)

    def step(self, on: bool, t0: int) -> None:
        if on and self.start is None:
            self.start = t0
        elif not on and self.start is not None:
            self.found.append((self.start, t0))
            self.start = None

    def close(self, t: int) -> None:
        if self.start is not None:
            self.found.append((self.start, t))
            self.start = None


def protection_gaps(ev: RunEvidence) -> dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]], int]]:
    """Per symbol key: (stretches an open position was not covered by its live stops of the closing side
    (by quantity: a stop shrunk below the position covers only part of it), stretches it had more than
    one, position episodes). Downtime cuts a stretch: the clock starts again at the restart."""
    stops: dict[str, list[tuple[Side, int, int, Decimal | None]]] = defaultdict(list)
    for o, cid in _ours(ev):
        if o.conditional and cid.kind is IntentKind.STOP_LOSS:
            size = None if o.close_position or o.qty is None else o.qty
            stops[o.symbol].append((o.side, o.created_ms, min(_live_until(o), ev.venue.now_ms), size))
    steps: dict[str, list[tuple[int, Decimal]]] = defaultdict(list)
    for t in sorted(ev.venue.trades, key=lambda t: (t.ts_ms, t.trade_id)):
        steps[t.symbol].append((t.ts_ms, t.qty if t.side is Side.BUY else -t.qty))
    out: dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]], int]] = {}
    for sym, moves in steps.items():
        blind = _blind(ev, sym)
        points = sorted(
            {t for t, _ in moves}
            | {t for _, a, b, _ in stops[sym] for t in (a, b)}
            | {t for a, b in blind for t in (a, b)}
            | {ev.venue.now_ms}
        )
        points = [p for p in points if p <= ev.venue.now_ms]
        uncovered, doubled = _Run(), _Run()
        pos, i, episodes = Decimal(0), 0, 0
        for k, t0 in enumerate(points):
            was_flat = pos == 0
            while i < len(moves) and moves[i][0] <= t0:
                pos += moves[i][1]
                i += 1
            if was_flat and pos != 0:
                episodes += 1
            t1 = points[k + 1] if k + 1 < len(points) else t0
            if t1 <= t0:
                continue
            close_side = Side.SELL if pos > 0 else Side.BUY
            working = [q for side, a, b, q in stops[sym] if side is close_side and a <= t0 and t1 <= b]
            live = len(working)
            covers = any(q is None for q in working) or sum(q for q in working if q is not None) >= abs(pos)
            if any(a <= t0 and t1 <= b for a, b in blind):
                uncovered.close(t0)
                doubled.close(t0)
                continue
            uncovered.step(pos != 0 and not covers, t0)
            doubled.step(pos != 0 and live > 1, t0)
        end = ev.venue.now_ms
        uncovered.close(end)
        doubled.close(end)
        out[sym] = (uncovered.found, doubled.found, episodes)
    return out


@register("protection.run.one_stop_within_t_protect")
def one_stop_within_t_protect(ev: RunEvidence) -> list[str]:
    """protected_within_t_protect_or_entries_blocked: on the venue, every open position is covered by exactly
    one live stop within T_protect (plus the harness's slack) of opening, of a restart, or of losing it."""
    limit = ev.t_protect_ms + ev.slack_ms
    out: list[str] = []
    for sym, (gaps, doubles, _) in sorted(protection_gaps(ev).items()):
        out.extend(
            f"{sym}: a position went {(b - a) / 1000:g}s without a live stop (from {a}; "
            f"limit {limit / 1000:g}s)"
            for a, b in gaps
            if b - a > limit
        )
        out.extend(
            f"{sym}: two live stops for {(b - a) / 1000:g}s (from {a}; limit {limit / 1000:g}s)"
            for a, b in doubles
            if b - a > limit
        )
    return out


@register("protection.run.exits_never_blocked")
def exits_never_blocked(ev: RunEvidence) -> list[str]:
    """exits_and_protection_never_blocked: no exit, flatten or protective order was refused by a guard."""
    entry = IntentKind.ENTRY.value
    return [
        f"{rec.get('kind')} order {rec.get('client_order_id')} on {rec.get('symbol')} blocked at "
        f"{rec.get('ts_ms')}: {rec.get('why')}"
        for rec in ev.telemetry
        if rec.get("event") == "order.blocked" and rec.get("kind") != entry
    ]


# --- reconcile --------------------------------------------------------------------------------------------


def _replay(ev: RunEvidence) -> JournalState:
    state = JournalState()
    for rec in ev.journal:
        state.apply(rec)
    return state


@register("reconcile.run.belief_equals_venue")
def belief_equals_venue(ev: RunEvidence) -> list[str]:
    """converges_within_k_cycles: once the run ends with K reconcile cycles of quiet, the journal's positions
    and live orders are the venue's."""
    if not ev.settled:
        return []
    state = _replay(ev)
    out: list[str] = []
    book: dict[str, Decimal] = defaultdict(Decimal)
    for p in state.positions.values():
        book[symbol_key(p.symbol)] += p.qty
    for sym in sorted(set(book) | set(ev.venue.positions)):
        if sym in ev.foreign_symbols:
            continue
        have, truth = book.get(sym, Decimal(0)), ev.venue.positions.get(sym, Decimal(0))
        if abs(have - truth) > _QTY_EPS:
            out.append(f"{sym}: the journal's position is {have}, the venue's {truth}")
    on_venue = {o.client_id: o for o, _ in _ours(ev)}
    venue_open = {cid for cid, o in on_venue.items() if o.status in _OPEN}
    believed = {o.client_order_id for o in state.in_flight()}
    for cid in sorted(venue_open - believed):
        out.append(f"order {cid} is open on the venue, the journal thinks it finished (or never saw it)")
    for cid in sorted(believed - venue_open):
        o = on_venue.get(cid)
        entry = state.orders[cid]
        if o is None and entry.order_id is None:
            out.append(
                f"order {cid} is still in flight in the journal ({entry.phase}) and never reached the venue"
            )
        elif o is not None:
            out.append(f"order {cid} is live in the journal ({entry.phase}), {o.status} on the venue")
    return out


# --- the whole run ------------------------------------------------------------------------------------------


def _measures(ev: RunEvidence) -> RunMeasures:
    pending: dict[str, int] = {}
    resolved: list[int] = []
    for rec in ev.journal:
        e = rec.event
        if isinstance(e, OrderUnknown):
            pending.setdefault(e.client_order_id, e.ts_ms)
        elif isinstance(e, OrderAcked | OrderResolved) and e.client_order_id in pending:
            resolved.append(e.ts_ms - pending.pop(e.client_order_id))
    gaps = protection_gaps(ev)
    summaries = [r for r in ev.telemetry if r.get("event") == "reconcile.summary"]
    return RunMeasures(
        orders=len(_ours(ev)),
        fills=sum(1 for rec in ev.journal if isinstance(rec.event, FillRecorded)),
        positions=sum(n for _, _, n in gaps.values()),
        protection_gaps_ms=tuple(b - a for g, _, _ in gaps.values() for a, b in g),
        unknown_resolution_ms=tuple(resolved),
        unresolved_unknown=len(pending),
        repairs=sum(_int(r.get("repaired")) for r in summaries),
        debt_peak=max((_float(r.get("debt")) for r in summaries), default=0.0),
    )


def _int(v: object) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _float(v: object) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0


def check_run(ev: RunEvidence, only: Iterable[str] | None = None) -> ProofReport:
    """Run every run checker (or the ``only`` ones) on ``ev``; the verdict with the run's measures."""
    reg = registry()
    names = tuple(only) if only is not None else RUN_CHECKERS
    found: list[Violation] = []
    for name in names:
        fn: Callable[[RunEvidence], list[str]] = reg[name].func
        found.extend(Violation(name, line) for line in fn(ev))
    return ProofReport(tuple(found), _measures(ev))


def by_checker(report: ProofReport) -> Mapping[str, int]:
    """Violations counted per checker."""
    return Counter(v.checker for v in report.violations)
