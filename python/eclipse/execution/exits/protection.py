"""Protective orders: a reduce-only STOP_MARKET (stop-loss) and TAKE_PROFIT_MARKET (take-profit) on the venue
for every open position, placed as soon as a fill opens it, re-sized when it grows, re-placed when missing,
canceled when it is flat.

Trigger distances from the average entry (knobs of ``eclipse.config.exit_knobs``, per-symbol overridable):

* stop-loss: ``EXIT_STOP_LOSS_PCT``; with ``EXIT_STOP_LOSS_ATR`` > 0 and a known ATR%,
  ``min(EXIT_STOP_LOSS_PCT, EXIT_STOP_LOSS_ATR x ATR%)`` (the percent caps the worst loss per trade);
* take-profit: ``EXIT_TAKE_PROFIT_ATR x ATR%`` when that knob is > 0 and ATR% is known, else
  ``EXIT_TAKE_PROFIT_PCT``; 0 places no take-profit. The router rounds triggers to the tick.

Orders carry the filled quantity with ``reduce_only`` (or ``close_position`` with
``EXIT_PROTECT_CLOSE_POSITION``); client ids are ``<intent_id>-sl-<n>`` / ``<intent_id>-tp-<n>``, ``n``
counting the placements of that leg for the intent, so a replay gives the same ids. A re-size places the new
legs before it cancels the old ones (the position is never uncovered; two reduce-only stops cannot flip it):
an old leg is *retired* and its cancel carries ``after`` = the replacement's client id, to be sent only once
that replacement is confirmed; while it is not, the old leg stays working (and is never treated as stale).

A leg the venue refused definitively (:meth:`ProtectionManager.failed` with ``refused``) is never resent with
an unchanged trigger and quantity; a stop-loss refused because the price is already beyond its trigger
(``breached``) puts the symbol in :attr:`ProtectionPlan.flatten`: the caller closes the position at market.

Each symbol's :class:`~eclipse.machines.protection.ProtectionTracker` (T_protect =
``EXIT_PROTECT_GRACE_SEC``) runs the whole protection machine: the position's own orders (an entry submitted
or ended unfilled, an exit submitted or ended with the position open: :meth:`ProtectionManager.entering` and
the like, called by the engine), fills (the kind of the order a fill belongs to tells a stop or take-profit
hit from an exit's fill), venue confirmations (:meth:`ProtectionManager.placed`), failures and the periodic
:meth:`ProtectionManager.check`; :meth:`ProtectionManager.entries_blocked` tells the entry gate when a
position stayed uncovered past T_protect. Its refusals go to telemetry and to ``on_refusal`` (journaled by the
engine). After a restart, :meth:`ProtectionManager.adopt_live` makes the legs working on the venue current
and names the surplus to cancel. Nothing here is ever blocked by a guard or posture.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import replace
from decimal import Decimal

from eclipse.clock import Clock
from eclipse.contracts import IntentKind, PositionSnapshot, ProtectionEvent, ProtectionState, RouterRequest
from eclipse.execution.exits.legs import (
    OUR_LEG,
    CancelRequest,
    Cover,
    Leg,
    LegState,
    ProtectionPlan,
    protection_triggers,
    symbol_tag,
)
from eclipse.execution.exits.overrides import ExitSettings
from eclipse.execution.journal.client_ids import parse_client_id
from eclipse.machines.protection import ProtectionTracker
from eclipse.machines.table import CompiledMachine
from eclipse.telemetry import Telemetry
from eclipse.venues.types import Fill, OrderReport, OrderType, Side

__all__ = ["CancelRequest", "ProtectionManager", "ProtectionPlan", "protection_triggers"]


class ProtectionManager:
    """Protective orders and protection trackers of every symbol."""

    def __init__(
        self,
        settings: ExitSettings,
        clock: Clock,
        telemetry: Telemetry | None = None,
        *,
        on_refusal: Callable[[Mapping[str, object]], None] | None = None,
        table: CompiledMachine | None = None,
    ) -> None:
        self._settings = settings
        self._table = table
        self._clock = clock
        self._telemetry = telemetry
        self.on_refusal = on_refusal
        """Receives each protection machine refusal (the engine journals it); None: telemetry only."""
        self._covers: dict[str, Cover] = {}
        self._trackers: dict[str, ProtectionTracker] = {}
        self._owner: dict[str, str] = {}  # client id -> symbol

    # --- queries --------------------------------------------------------------------------------------------
    def tracker(self, symbol: str) -> ProtectionTracker:
        """The protection tracker of ``symbol`` (created flat on first use)."""
        tr = self._trackers.get(symbol)
        if tr is None:
            grace = self._settings.for_symbol(symbol).protect_grace_sec
            tr = ProtectionTracker(symbol, self._clock, grace, self._machine_event, table=self._table)
            self._trackers[symbol] = tr
        return tr

    def _machine_event(self, record: Mapping[str, object]) -> None:
        """A protection tracker's event: to telemetry, and a refusal also to ``on_refusal``."""
        if self._telemetry is not None:
            self._telemetry.sink(record)
        if self.on_refusal is not None and record.get("event") == "protection.transition_refused":
            self.on_refusal(record)

    def trackers(self) -> tuple[ProtectionTracker, ...]:
        """Every symbol's protection tracker created so far."""
        return tuple(self._trackers.values())

    def entries_blocked(self, symbol: str) -> bool:
        """True while ``symbol``'s position has been uncovered for longer than T_protect."""
        tr = self._trackers.get(symbol)
        return tr is not None and tr.entries_blocked()

    def active(self, symbol: str) -> tuple[RouterRequest, ...]:
        """The current protective requests of ``symbol`` (stop first)."""
        cover = self._covers.get(symbol)
        if cover is None:
            return ()
        return tuple(
            cover.legs[k].request for k in (IntentKind.STOP_LOSS, IntentKind.TAKE_PROFIT) if k in cover.legs
        )

    # --- fills ----------------------------------------------------------------------------------------------
    def on_fill(
        self,
        fill: Fill,
        position: PositionSnapshot,
        intent_id: str | None = None,
        atr_pct: float | None = None,
        *,
        owner: str | None = None,
        owner_kind: IntentKind | None = None,
    ) -> ProtectionPlan:
        """React to ``fill`` given ``position`` (the book's snapshot after it).

        Protects a new position, re-sizes a grown one, cancels what is left once flat. ``intent_id`` names
        the entry (default ``P-<sym>-<opened>``) and ``atr_pct`` its ATR% (for ATR distances); ``owner`` /
        ``owner_kind`` are the client id and kind of the order the fill belongs to (a venue's fill may carry
        no client id: Binance's trades of a triggered stop name only the order it became)."""
        symbol = position.symbol
        tr = self.tracker(symbol)
        cover = self._covers.get(symbol)
        if position.side is None:
            return self._flat(symbol, tr, owner if owner is not None else fill.client_order_id, owner_kind)
        if cover is not None and cover.side is position.side and abs(position.qty) <= cover.qty:
            return ProtectionPlan()  # reduced (or unchanged): the reduce-only legs still cover it
        tr.entry_filled()
        if cover is None or cover.side is not position.side:
            prev = self._ids(cover)
            fresh = Cover(intent_id or self._default_intent(position), position.side, Decimal(0), atr_pct)
            if cover is not None and cover.intent_id == fresh.intent_id:
                fresh.counts = dict(cover.counts)  # never reuse a client id
            self._covers[symbol] = fresh
            fresh.qty = abs(position.qty)
            place = self._place_legs(fresh, position, (IntentKind.STOP_LOSS, IntentKind.TAKE_PROFIT))
            return ProtectionPlan(place, tuple(CancelRequest(symbol, cid, True, "resize") for cid in prev))
        if atr_pct is not None:
            cover.atr_pct = atr_pct
        cover.qty = abs(position.qty)
        self._retire(cover)
        place = self._place_legs(cover, position, (IntentKind.STOP_LOSS, IntentKind.TAKE_PROFIT))
        return ProtectionPlan(place, self._retired_cancels(cover, symbol))

    # --- the position's own orders (entries and exits): the rest of the protection machine ------------------
    def entering(self, symbol: str) -> None:
        """An entry order of ``symbol`` was submitted (``enter`` when flat)."""
        tr = self.tracker(symbol)
        if tr.state == "flat":
            tr.enter()

    def entry_failed(self, symbol: str) -> None:
        """An entry order of ``symbol`` ended with no fill (``entry_failed`` while entering)."""
        tr = self.tracker(symbol)
        if tr.state == "entering":
            tr.entry_failed()

    def exiting(self, symbol: str) -> None:
        """An exit order (rule, forced, flatten) of ``symbol`` was submitted (``exit`` while open)."""
        tr = self.tracker(symbol)
        if tr.is_open and tr.state != "exiting":
            tr.exit()

    def exit_failed(self, symbol: str) -> None:
        """An exit of ``symbol`` ended with the position still open (``exit_failed`` while exiting: back to
        protected when a stop covers the position, else to open_unprotected, the T_protect clock running)."""
        tr = self.tracker(symbol)
        if tr.state == "exiting":
            tr.exit_failed()

    # --- venue answers --------------------------------------------------------------------------------------
    def placed(self, client_order_id: str) -> ProtectionEvent | None:
        """The venue confirmed the protective order ``client_order_id``; the journal event (None if it is not
        a current leg)."""
        found = self._leg(client_order_id)
        if found is None:
            return None
        symbol, kind, leg = found
        if leg.state is LegState.CONFIRMED:
            return None
        leg.state = LegState.CONFIRMED
        leg.since_ms = self._clock.now_ms()
        if kind is IntentKind.STOP_LOSS:
            self.tracker(symbol).protection_placed()
        self._emit(
            "protection",
            symbol=symbol,
            state=ProtectionState.PLACED,
            leg=kind,
            client_order_id=client_order_id,
        )
        return ProtectionEvent(self._clock.now_ms(), symbol, ProtectionState.PLACED, client_order_id)

    def shrunk(self, client_order_id: str, qty: Decimal, position_qty: Decimal | None = None) -> bool:
        """The venue took the stop-loss ``client_order_id`` for less than asked (a reduce-only shrink): the
        position is only partly covered, so the tracker is uncovered again (``protection_missing``, the
        T_protect clock starts) and the cover counts only ``qty``: :meth:`regrow` (at once) or the next
        :meth:`check` protects the whole position anew. ``position_qty``: the book's position (a stop that
        still covers it is not shrunk, whatever the cover asked for). True when it changed anything."""
        found = self._leg(client_order_id)
        if found is None:
            return False
        symbol, kind, _ = found
        cover = self._covers.get(symbol)
        if kind is not IntentKind.STOP_LOSS or cover is None or qty >= cover.qty:
            return False
        if position_qty is not None and qty >= abs(position_qty):
            cover.qty = qty  # the venue cut it to the position: it covers all of it
            return False
        self._emit(
            "protection.shrunk", symbol=symbol, client_order_id=client_order_id, qty=qty, wanted=cover.qty
        )
        cover.qty = qty
        tr = self.tracker(symbol)
        if tr.state == "protected":
            tr.protection_missing()
        return True

    def regrow(self, position: PositionSnapshot) -> ProtectionPlan:
        """The legs again at the whole position's size when the cover counts less than the position (a
        shrunk stop): replacements placed now, the old legs canceled once they are confirmed. Empty when the
        cover covers it (or there is none: the check adopts the position)."""
        cover = self._covers.get(position.symbol)
        if position.side is None or cover is None or cover.side is not position.side:
            return ProtectionPlan()
        if abs(position.qty) <= cover.qty:
            return ProtectionPlan()
        cover.qty = abs(position.qty)
        self._retire(cover)
        place = self._place_legs(cover, position, (IntentKind.STOP_LOSS, IntentKind.TAKE_PROFIT))
        return ProtectionPlan(place, self._retired_cancels(cover, position.symbol))

    def failed(self, client_order_id: str, *, refused: bool = False, breached: bool = False) -> None:
        """Placing ``client_order_id`` failed (rejected, unresolved): the next :meth:`check` re-places it.

        ``refused``: the venue refused it definitively; the check re-places that leg only once its trigger or
        quantity changed. ``breached`` (a refused stop-loss whose trigger the price already passed): the check
        asks for the position to be closed (:attr:`ProtectionPlan.flatten`) instead."""
        found = self._leg(client_order_id)
        if found is None:
            return
        symbol, kind, leg = found
        leg.state = LegState.REFUSED if refused or breached else LegState.FAILED
        leg.breached = breached
        leg.since_ms = self._clock.now_ms()
        if kind is IntentKind.STOP_LOSS:
            self.tracker(symbol).protection_failed()

    def confirmed(self, client_order_id: str) -> bool:
        """True when ``client_order_id`` is a current leg the venue confirmed."""
        found = self._leg(client_order_id)
        return found is not None and found[2].state is LegState.CONFIRMED

    def retired(self, symbol: str) -> tuple[str, ...]:
        """Client ids of ``symbol``'s superseded legs not yet canceled."""
        cover = self._covers.get(symbol)
        return () if cover is None else tuple(c for ids in cover.retired.values() for c in ids)

    def forget(self, client_order_id: str) -> None:
        """A retired leg is gone from the venue (canceled, filled or never placed): stop tracking it."""
        for cover in self._covers.values():
            for ids in cover.retired.values():
                if client_order_id in ids:
                    ids.remove(client_order_id)
                    self._owner.pop(client_order_id, None)

    def renumber(self, client_order_id: str, new_id: str) -> RouterRequest | None:
        """The current leg ``client_order_id`` collided with a used client id: it becomes ``new_id`` (a fresh
        ``<intent>-sl|tp-<n>``; the leg counter moves past ``n``). The new request, None if not a leg."""
        found = self._leg(client_order_id)
        if found is None:
            return None
        symbol, kind, leg = found
        cover = self._covers[symbol]
        leg.request = replace(leg.request, client_order_id=new_id)
        self._owner.pop(client_order_id, None)
        self._owner[new_id] = symbol
        m = OUR_LEG.search(new_id)
        if m is not None:
            cover.counts[kind] = max(cover.counts.get(kind, 0), int(m.group(2)))
        return leg.request

    def resume_counts(self, used: Iterable[str]) -> None:
        """After a restart: move every cover's leg counters past the highest ``<intent>-sl|tp-<n>`` in
        ``used`` (the journaled client ids), so no new leg walks through ids already sent."""
        ids = list(used)
        for cover in self._covers.values():
            for cid in ids:
                m = OUR_LEG.search(cid)
                if m is None or cid[: m.start()] != cover.intent_id:
                    continue
                kind = IntentKind.STOP_LOSS if m.group(1) == "sl" else IntentKind.TAKE_PROFIT
                cover.counts[kind] = max(cover.counts.get(kind, 0), int(m.group(2)))

    def adopt_live(
        self, open_orders: Iterable[OrderReport], positions: Mapping[str, PositionSnapshot]
    ) -> tuple[CancelRequest, ...]:
        """After a restart, before anything is placed: the protective legs of ours working on the venue for an
        open position become its current legs (confirmed, never re-derived and replaced), one per kind; the
        other working legs (a replacement placed just before a crash, with the old leg not canceled yet) are
        returned as cancels, to be sent before any placement. A completed resume thus leaves one stop (and one
        take-profit) per position, and never adds one to those already working.

        A leg is ours when its client id parses as a protective leg of that symbol (``<intent>-sl|tp-<n>``),
        it is on the closing side and reduce-only (or close-position). The keeper of a kind is one that covers
        the whole position if any does, the newest (highest ``n``) first; a keeper smaller than the position
        is resized by the next check (a replacement placed, then the keeper canceled once it is confirmed)."""
        found: dict[tuple[str, IntentKind], list[tuple[bool, int, OrderReport, str]]] = {}
        for o in open_orders:
            pos = positions.get(o.symbol)
            cid = o.client_order_id
            if pos is None or pos.side is None or cid is None or o.status.terminal:
                continue
            parsed = parse_client_id(cid)
            m = OUR_LEG.search(cid)
            if parsed is None or m is None or not parsed.matches(o.symbol):
                continue
            closing = Side.SELL if pos.side is Side.BUY else Side.BUY
            if o.side is not closing or not (o.reduce_only or o.close_position):
                continue
            covers = o.close_position or (o.qty is not None and o.qty >= abs(pos.qty))
            kind = IntentKind.STOP_LOSS if m.group(1) == "sl" else IntentKind.TAKE_PROFIT
            found.setdefault((o.symbol, kind), []).append((covers, int(m.group(2)), o, parsed.intent_id))
        now = self._clock.now_ms()
        cancels: list[CancelRequest] = []
        sized: dict[str, Decimal] = {}  # symbol -> the quantity its adopted legs cover
        for (symbol, kind), legs in sorted(found.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
            pos = positions[symbol]
            size = abs(pos.qty)
            legs.sort(key=lambda x: (x[0], x[1]), reverse=True)
            covers, _, keep, intent = legs[0]
            cancels.extend(
                CancelRequest(symbol, str(o.client_order_id), True, "surplus") for _, _, o, _ in legs[1:]
            )
            cover = self._covers.get(symbol)
            if cover is None or cover.side is not pos.side:
                cover = Cover(intent, pos.side or Side.BUY, size, None)
                self._covers[symbol] = cover
            old = cover.legs.get(kind)
            if old is not None and old.request.client_order_id != keep.client_order_id:
                self._owner.pop(old.request.client_order_id, None)
            for cid in cover.retired.pop(kind, []):
                self._owner.pop(cid, None)
            req = RouterRequest(
                intent_id=intent,
                kind=kind,
                symbol=symbol,
                side=keep.side,
                type=keep.type,
                qty=keep.qty,
                client_order_id=str(keep.client_order_id),
                ref_price=keep.trigger_price or Decimal(0),
                trigger_price=keep.trigger_price,
                reduce_only=keep.reduce_only,
                close_position=keep.close_position,
            )
            cover.legs[kind] = Leg(req, LegState.CONFIRMED, now)
            self._owner[req.client_order_id] = symbol
            q = size if covers else (keep.qty or size)
            sized[symbol] = min(sized.get(symbol, q), q)
            if kind is IntentKind.STOP_LOSS:
                tr = self.tracker(symbol)
                if covers:
                    tr.protection_placed()
                elif tr.covered:
                    tr.protection_missing()  # the working stop does not cover the whole position
        for symbol, q in sized.items():
            self._covers[symbol].qty = q
        return tuple(cancels)

    # --- periodic check -------------------------------------------------------------------------------------
    def check(
        self,
        open_orders: Iterable[OrderReport],
        positions: Mapping[str, PositionSnapshot],
        skip: Collection[str] = (),
    ) -> ProtectionPlan:
        """Compare the venue's open (conditional) orders with the positions: re-place missing protection
        (a ``protection`` event with state ``missing`` per leg), protect positions with no cover (adopted),
        cancel protection left on flat symbols and retired legs whose replacement is confirmed, ask for a
        breached position to be closed; also runs each tracker's T_protect check. Symbols in ``skip`` (their
        open orders could not be listed) are left alone."""
        orders = [o for o in open_orders if not o.status.terminal and o.symbol not in skip]
        live = {o.client_order_id for o in orders if o.client_order_id is not None}
        now = self._clock.now_ms()
        place: list[RouterRequest] = []
        cancel: list[CancelRequest] = []
        events: list[ProtectionEvent] = []
        flatten: list[str] = []
        open_syms = {s for s, p in positions.items() if p.side is not None and s not in skip}
        for symbol in sorted(open_syms):
            position = positions[symbol]
            cover = self._covers.get(symbol)
            if cover is None or cover.side is not position.side or abs(position.qty) > cover.qty:
                events.append(ProtectionEvent(now, symbol, ProtectionState.MISSING, None))
                self._emit(
                    "protection",
                    symbol=symbol,
                    state=ProtectionState.MISSING,
                    leg="all",
                    client_order_id=None,
                )
                tr = self.tracker(symbol)
                if not tr.is_open:
                    tr.position_found()
                plan = self._adopt(position, cover)
                place.extend(plan.place)
                cancel.extend(plan.cancel)
                continue
            if self._check_legs(symbol, cover, position, live, now, place, cancel, events):
                flatten.append(symbol)
            cancel.extend(self._retired_cancels(cover, symbol))
        for symbol in sorted(set(self._covers) - open_syms - set(skip)):
            plan = self._flat(symbol, self.tracker(symbol), None)
            cancel.extend(plan.cancel)
        current = {c for s in self._covers for c in (*self._ids(self._covers[s]), *self.retired(s))}
        queued = {c.client_order_id for c in cancel}
        for o in sorted(orders, key=lambda r: (r.symbol, r.client_order_id or "", r.order_id)):
            cid = o.client_order_id
            if not o.conditional and not o.type.conditional:
                continue
            if cid is None or cid in current or cid in queued:
                continue
            leftover = o.symbol not in open_syms and (o.reduce_only or o.close_position)
            stale_ours = OUR_LEG.search(cid) is not None
            if leftover or stale_ours:
                cancel.append(CancelRequest(o.symbol, cid, True, "leftover"))
        for tr in self._trackers.values():
            tr.check()
        return ProtectionPlan(tuple(place), tuple(cancel), tuple(events), tuple(flatten))

    # --- internals ------------------------------------------------------------------------------------------
    def _check_legs(
        self,
        symbol: str,
        cover: Cover,
        position: PositionSnapshot,
        live: set[str],
        now: int,
        place: list[RouterRequest],
        cancel: list[CancelRequest],
        events: list[ProtectionEvent],
    ) -> bool:
        """Check each leg of ``cover``; True when the position must be closed (its stop is breached)."""
        grace_ms = round(self._settings.for_symbol(symbol).protect_grace_sec * 1000)
        tr = self.tracker(symbol)
        breached = False
        for kind, leg in sorted(cover.legs.items()):
            cid = leg.request.client_order_id
            if cid in live:
                confirmed = self.placed(cid) if leg.state is not LegState.CONFIRMED else None
                if confirmed is not None:
                    events.append(confirmed)
                continue
            if leg.state is LegState.REFUSED:
                if leg.breached and kind is IntentKind.STOP_LOSS:
                    breached = True
                    continue
                if self._unchanged(cover, position, kind, leg):
                    continue  # never resend what the venue refused definitively
            overdue = leg.state is LegState.REQUESTED and now - leg.since_ms > grace_ms
            if leg.state is LegState.REQUESTED and not overdue:
                continue  # still in flight at the router
            events.append(ProtectionEvent(now, symbol, ProtectionState.MISSING, cid))
            self._emit(
                "protection", symbol=symbol, state=ProtectionState.MISSING, leg=kind, client_order_id=cid
            )
            if kind is IntentKind.STOP_LOSS and tr.covered:
                tr.protection_missing()
            cancel.append(CancelRequest(symbol, cid, True, "missing"))
            place.extend(self._place_legs(cover, position, (kind,)))
        return breached

    def _unchanged(self, cover: Cover, position: PositionSnapshot, kind: IntentKind, leg: Leg) -> bool:
        stop, take = protection_triggers(
            cover.side, position.avg_entry, self._settings.for_symbol(position.symbol), cover.atr_pct
        )
        trigger = stop if kind is IntentKind.STOP_LOSS else take
        req = leg.request
        return trigger == req.trigger_price and (req.qty is None or req.qty == cover.qty)

    @staticmethod
    def _retire(cover: Cover) -> None:
        for kind, leg in cover.legs.items():
            ids = cover.retired.setdefault(kind, [])
            if leg.state is not LegState.REFUSED and leg.request.client_order_id not in ids:
                ids.append(leg.request.client_order_id)

    def _retired_cancels(self, cover: Cover, symbol: str) -> tuple[CancelRequest, ...]:
        """Cancels of the retired legs, each to be sent once its kind's current leg is confirmed."""
        out: list[CancelRequest] = []
        for kind in sorted(cover.retired):
            leg = cover.legs.get(kind)
            after = leg.request.client_order_id if leg is not None else None
            out.extend(CancelRequest(symbol, cid, True, "resize", after) for cid in cover.retired[kind])
        return tuple(out)

    def _adopt(self, position: PositionSnapshot, old: Cover | None) -> ProtectionPlan:
        same_side = old is not None and old.side is position.side
        cover = Cover(
            old.intent_id if old is not None and same_side else self._default_intent(position),
            position.side or Side.BUY,
            abs(position.qty),
            old.atr_pct if old is not None else None,
        )
        if old is not None and old.intent_id == cover.intent_id:
            cover.counts = dict(old.counts)  # never reuse a client id
        self._covers[position.symbol] = cover
        if old is not None and same_side:  # grown: the old legs keep working until replaced
            cover.legs, cover.retired = old.legs, old.retired
            self._retire(cover)
            place = self._place_legs(cover, position, (IntentKind.STOP_LOSS, IntentKind.TAKE_PROFIT))
            return ProtectionPlan(place, self._retired_cancels(cover, position.symbol))
        place = self._place_legs(cover, position, (IntentKind.STOP_LOSS, IntentKind.TAKE_PROFIT))
        cancel = tuple(CancelRequest(position.symbol, cid, True, "resize") for cid in self._ids(old))
        return ProtectionPlan(place, cancel)

    def _flat(
        self,
        symbol: str,
        tr: ProtectionTracker,
        trigger_id: str | None,
        trigger_kind: IntentKind | None = None,
    ) -> ProtectionPlan:
        cover = self._covers.pop(symbol, None)
        if tr.is_open or tr.state == "entering":
            kind = trigger_kind if trigger_kind is not None else self._owner_kind(cover, trigger_id)
            if kind is IntentKind.STOP_LOSS and tr.state in ("protected", "exiting"):
                tr.stop_hit()
            elif kind is IntentKind.TAKE_PROFIT and tr.state in ("protected", "exiting"):
                tr.take_profit_hit()
            elif kind in (IntentKind.EXIT, IntentKind.FLATTEN) and tr.state == "exiting":
                tr.exit_filled()
            else:
                tr.position_closed()
        every = [*self._ids(cover), *(c for ids in (cover.retired if cover else {}).values() for c in ids)]
        ids = [cid for cid in every if cid != trigger_id]
        for cid in every:
            self._owner.pop(cid, None)
        return ProtectionPlan((), tuple(CancelRequest(symbol, cid, True, "flat") for cid in ids))

    @staticmethod
    def _owner_kind(cover: Cover | None, client_id: str | None) -> IntentKind | None:
        if cover is None or client_id is None:
            return None
        retired = next((k for k, ids in cover.retired.items() if client_id in ids), None)
        return next((k for k, leg in cover.legs.items() if leg.request.client_order_id == client_id), retired)

    def _place_legs(
        self, cover: Cover, position: PositionSnapshot, kinds: tuple[IntentKind, ...]
    ) -> tuple[RouterRequest, ...]:
        knobs = self._settings.for_symbol(position.symbol)
        stop, take = protection_triggers(cover.side, position.avg_entry, knobs, cover.atr_pct)
        exit_side = Side.SELL if cover.side is Side.BUY else Side.BUY
        out: list[RouterRequest] = []
        now = self._clock.now_ms()
        for kind in kinds:
            trigger = stop if kind is IntentKind.STOP_LOSS else take
            if trigger is None:
                cover.legs.pop(kind, None)
                continue
            n = cover.counts.get(kind, 0) + 1
            cover.counts[kind] = n
            tag = "sl" if kind is IntentKind.STOP_LOSS else "tp"
            close = knobs.protect_close_position
            req = RouterRequest(
                intent_id=cover.intent_id,
                kind=kind,
                symbol=position.symbol,
                side=exit_side,
                type=OrderType.STOP_MARKET if kind is IntentKind.STOP_LOSS else OrderType.TAKE_PROFIT_MARKET,
                qty=None if close else cover.qty,
                client_order_id=f"{cover.intent_id}-{tag}-{n}",
                ref_price=trigger,
                trigger_price=trigger,
                reduce_only=not close,
                close_position=close,
            )
            cover.legs[kind] = Leg(req, LegState.REQUESTED, now)
            self._owner[req.client_order_id] = position.symbol
            out.append(req)
        return tuple(out)

    @staticmethod
    def _ids(cover: Cover | None) -> list[str]:
        if cover is None:
            return []
        return [cover.legs[k].request.client_order_id for k in sorted(cover.legs)]

    def _leg(self, client_order_id: str) -> tuple[str, IntentKind, Leg] | None:
        symbol = self._owner.get(client_order_id)
        cover = self._covers.get(symbol) if symbol is not None else None
        if symbol is None or cover is None:
            return None
        for kind, leg in cover.legs.items():
            if leg.request.client_order_id == client_order_id:
                return symbol, kind, leg
        return None

    @staticmethod
    def _default_intent(position: PositionSnapshot) -> str:
        return (
            f"P-{symbol_tag(position.symbol)}-{position.opened_ms if position.opened_ms is not None else 0}"
        )

    def _emit(self, event: str, **fields: object) -> None:
        if self._telemetry is not None:
            self._telemetry.emit(event, **fields)
