"""The venue of a recorded session (:class:`RecordedVenue`): it answers every call of the
:class:`~eclipse.venues.protocol.Venue` protocol as the recording (:mod:`eclipse.proof.recording`) says at the
current simulated time, for ``eclipse replay`` (:mod:`eclipse.proof.replay`).

The venue's state has two causes. What the daemon did (an order placed, a cancel) happens in the replay only
when the replayed daemon does it: an order exists once the replay sent the attempt that landed in the
recording, and is canceled once the replay asked. What the market did (fills, triggers, expiries, what the
recorded daemon's lookups found) happens at its recorded time; at the very same millisecond, in the order of
the recorded journal (the replayed journal's last seq is the cursor). Read failures are injected at their
recorded time (and after the telemetry that preceded them); a recorded send, lookup or cancel that took
retries fails until its recorded outcome, once, with ``retry_after_s`` up to then. A request the recording
never saw (the code now does something else) is a *divergence*: a ``VenueError`` that says so, counted, never
an invented answer.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from eclipse.clock import Clock, SimClock
from eclipse.contracts import FillRecorded, OrderAcked
from eclipse.proof.evidence import VenueTruth, symbol_key
from eclipse.proof.recording import OrderTrack, Recording, orders
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.replay_source import ReplaySource, replay_market
from eclipse.venues.sim.model import OrderView, TradeView
from eclipse.venues.types import (
    Balance,
    Candle,
    Fill,
    MarginMode,
    Market,
    OrderReport,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Ticker,
)

__all__ = ["RecordedVenue"]

_K = VenueErrorKind
_WORD: Final = {s: "NEW" if s is OrderStatus.OPEN else s.value.upper() for s in OrderStatus}
"""Order statuses in the simulator's (Binance's) words, as the checkers read a venue's orders."""


def _num_id(text: str) -> int:
    """A venue id as the checkers' integer (a non-numeric id gets a stable stand-in)."""
    return int(text) if text.isdigit() else zlib.crc32(text.encode())


def _from_reconcile() -> bool:
    """Whether the venue call being answered comes from the reconcile loop (its failures are the loop's)."""
    frame = sys._getframe(2)
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith("eclipse.reliability."):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


@dataclass(frozen=True, slots=True)
class _State:
    status: OrderStatus
    filled: Decimal
    qty: Decimal | None
    order_id: str
    triggered: str | None
    avg: Decimal | None
    changed_ms: int


class RecordedVenue:
    """The venue of a recorded session (see the module docstring); implements
    :class:`~eclipse.venues.protocol.Venue` over ``recording`` at ``clock``'s time.

    ``market`` serves the bars (and the forming bar's price); ``start_ms``: the replay begins there, so what
    the recorded daemon did before it has happened already (a replay of a window that starts later)."""

    def __init__(
        self, recording: Recording, market: ReplaySource, clock: Clock, *, start_ms: int, name: str = "paper"
    ) -> None:
        self._rec = recording
        self._market = market
        self._clock = clock
        self._name = name
        self._markets = {s: replay_market(s) for s in recording.symbols}
        self._orders = orders(recording.journal, recording.telemetry)
        self._fills: dict[tuple[str, str], tuple[str, Fill, int]] = {}
        self._booking: set[int] = set()
        """Seqs of fills and the position changes they made (what a fill fetch writes in one go)."""
        for rec in recording.journal:
            if isinstance(rec.event, FillRecorded):
                f = rec.event.fill
                self._fills.setdefault(
                    (symbol_key(f.symbol), f.trade_id), (rec.event.client_order_id, f, rec.seq)
                )
            if rec.name in ("order.fill", "position.changed"):
                self._booking.add(rec.seq)
        self._rows = sorted(self._fills.values(), key=lambda r: (r[1].ts_ms, _num_id(r[1].trade_id)))
        self._by_cid: dict[str, list[tuple[Fill, int]]] = {}
        for cid, f, seq in self._rows:
            self._by_cid.setdefault(cid, []).append((f, seq))
        self._failures = [f for f in recording.failures() if f.ts_ms >= start_ms]
        self.failures_total = len(self._failures)
        self.failures_injected = 0
        self.emitted: Callable[[], int] = lambda: 0
        """How many telemetry records the replayed daemon emitted (set by the replay)."""
        self.telemetry_base: int | None = None
        """Where the replayed daemon's first telemetry record is in the recording (None: not aligned, a
        window that starts later): read failures then also wait for the telemetry that preceded them."""
        self.cursor: Callable[[], int] = lambda: 1 << 62
        """The replayed journal's last seq (set by the replay): orders same-time observations."""
        self._record_ms = {r.seq: r.ts_ms for r in recording.journal}
        self.pace_until: Callable[[], int] | None = None
        """A wall-clock recording's next step (set by the replay): see :meth:`_pace`."""
        self.answer_until: Callable[[], int] | None = None
        """A wall-clock recording's next step or tick: an answer recorded before it may be the current one."""
        self.max_divergences = 50
        self.on_limit: Callable[[], None] = lambda: None
        """Called at the ``max_divergences``-th divergence (the replay stops there: nothing left to learn)."""
        self.divergences: list[str] = []
        """Requests the recording never saw, each ``at <ms>: <what>``."""
        self.leverage: dict[str, tuple[int | None, MarginMode | None]] = {}
        for o in self._orders.values():
            if o.adopted:  # found on the venue by recovery: there since its first trade, as first reported
                traded = [f.ts_ms for c, f, _ in self._fills.values() if c == o.sub.client_order_id]
                o.landed_ms = min([o.sub.ts_ms, *traded])
                first = next((e for _, _, e in o.seen if isinstance(e, OrderAcked)), None)
                o.landing = first
            for att in sorted(o.attempts.values(), key=lambda a: a.n):
                if att.ts_ms < start_ms:
                    o.sends = att.n
                    if att.ack is not None and o.landed_ms is None:
                        o.landed_ms, o.landing = att.ts_ms, att.ack
            prior = [c for c in o.cancels if c.ts_ms < start_ms]
            if prior:
                o.done_cancels, o.canceled, o.canceled_ms = len(prior), prior[-1], prior[-1].ts_ms

    # --- helpers ------------------------------------------------------------------------------------------
    def _diverge(self, operation: str, what: str) -> VenueError:
        now = self._clock.now_ms()
        self.divergences.append(f"at {now}: {operation} {what}")
        if len(self.divergences) == self.max_divergences:
            self.on_limit()
        return VenueError(
            _K.NOT_SUPPORTED, f"replay divergence: {what}", venue=self._name, operation=operation, local=True
        )

    def _wait(self, until_ms: int) -> float:
        """Seconds until ``until_ms``, a hair less (a backoff jittered to that millisecond stays as it is)."""
        return max(0.0, until_ms - self._clock.now_ms() - 0.4) / 1000

    def _not_yet(self, op: str, until_ms: int) -> VenueError:
        """The recorded tries failed until ``until_ms``: one failure that waits until then (the router backs
        off at least ``retry_after_s``)."""
        return VenueError(
            _K.NETWORK, "replayed: the recorded tries failed until then", venue=self._name, operation=op,
            retry_after_s=self._wait(until_ms),
        )  # fmt: skip

    def _pace(self) -> None:
        """A wall-clock recording: market time moved while its daemon waited for the venue. Before answering,
        the clock moves on to when the recorded daemon wrote its next record (journal, or telemetry when the
        two streams are aligned), if that is before the replay's next step (``pace_until``)."""
        if self.pace_until is None or not isinstance(self._clock, SimClock):
            return
        times = [self._record_ms.get(self.cursor() + 1)]
        if self.telemetry_base is not None:
            i = self.telemetry_base + self.emitted()
            times.append(
                int(str(self._rec.telemetry[i].get("ts_ms"))) if i < len(self._rec.telemetry) else None
            )
        now, found = self._clock.now_ms(), [t for t in times if t is not None]
        if found and now < min(found) < self.pace_until():
            self._clock.set_ms(min(found))

    def _fail(self, operation: str, symbol: str | None = None) -> None:
        self._pace()
        now, key = self._clock.now_ms(), symbol_key(symbol) if symbol else None
        for i, f in enumerate(self._failures):
            if f.ts_ms > now:
                break
            emitted = self.emitted() - self.telemetry_base if self.telemetry_base is not None else None
            if emitted is not None and not f.span[0] <= emitted <= f.span[1]:
                continue
            if f.ts_ms == now and f.operation in (None, operation) and f.symbol in (None, key):
                if f.reconcile != _from_reconcile():
                    continue
                del self._failures[i]
                self.failures_injected += 1
                raise VenueError(f.kind, f.message, venue=f.venue or self._name, operation=operation)

    def _find(self, symbol: str, oid: str | None, cid: str | None, conditional: bool) -> OrderTrack | None:
        if cid is not None:
            o = self._orders.get(cid)
            return o if o is not None and o.sub.symbol == symbol and o.landed_ms is not None else None
        for o in self._orders.values():
            if o.landed_ms is None or o.sub.symbol != symbol:
                continue
            st = self._state(o)
            if (o.conditional == conditional and st.order_id == oid) or (
                not conditional and st.triggered == oid
            ):
                return o
        return None

    def _answer_ahead(self, now: int, t: int) -> bool:
        """A wall-clock recording: ``t`` is after now but before the replay's next step, so what was recorded
        then may be the answer of the call being made (the recorded daemon got it later than it asked)."""
        return self.answer_until is not None and now < t < self.answer_until()

    def _made(self, f: Fill, seq: int) -> bool:
        """Whether a recorded fill has happened: earlier in market time, or at this very time and the replayed
        journal has reached the fetch that found it (only fills and their position changes lie between)."""
        now = self._clock.now_ms()
        if f.ts_ms != now and not self._answer_ahead(now, f.ts_ms):
            return f.ts_ms < now
        cursor = self.cursor()
        return all(q in self._booking for q in range(cursor + 1, seq))

    def _order_fills(self, cid: str, strict: bool = True) -> list[Fill]:
        """The fills of ``cid`` made by now (``strict``: same-time ones once the journal reached them)."""
        now = self._clock.now_ms()
        rows = self._by_cid.get(cid, [])
        return [f for f, seq in rows if (self._made(f, seq) if strict else f.ts_ms <= now)]

    def _sees(self, o: OrderTrack, t: int, seq: int, run: bool = False) -> bool:
        """Whether an observation recorded at (``t``, ``seq``) has happened: earlier in market time, or at
        this very time and already passed by the replayed journal, or the next record of this order (the
        answer of the call being made; ``run``: or in the run of this order's records that follows). A
        wall-clock recording's answers came after the request went out: a later one may be that answer."""
        now = self._clock.now_ms()
        if t != now and not self._answer_ahead(now, t):
            return t < now
        cursor = self.cursor()
        if seq <= cursor:
            return True
        if run:
            return all(q in o.seqs for q in range(cursor + 1, seq + 1))
        return next((q for q in o.seqs if q > cursor), None) == seq

    def _traded(self, o: OrderTrack, strict: bool = True) -> tuple[list[Fill], Decimal, Decimal | None]:
        """The order's fills made by now, their quantity and average price."""
        fills = self._order_fills(o.sub.client_order_id, strict)
        got = sum((f.qty for f in fills), Decimal(0))
        avg = sum((f.price * f.qty for f in fills), Decimal(0)) / got if got > 0 else None
        return fills, got, avg

    def _state(self, o: OrderTrack) -> _State:
        ack = o.landing
        status = ack.status if ack is not None else OrderStatus.OPEN
        filled = ack.filled if ack is not None else Decimal(0)
        qty = ack.qty if ack is not None and ack.qty is not None else o.sub.qty
        oid = ack.order_id if ack is not None else ""
        trig = ack.triggered_order_id if ack is not None else None
        changed = o.landed_ms or 0
        for t, seq, e in o.seen:
            if not self._sees(o, t, seq):
                continue
            changed = t
            if isinstance(e, OrderAcked):
                oid = e.order_id or oid
                qty = e.qty if e.qty is not None else qty
            if o.conditional and e.triggered_order_id:  # the rest describes the order it became
                status, trig = OrderStatus.TRIGGERED, e.triggered_order_id
                continue
            status = e.status
            filled = e.filled if e.filled is not None else filled
        fills, got, avg = self._traded(o)
        last = max((f.ts_ms for f in fills), default=changed)
        if o.conditional:
            if got > 0 and not status.terminal:
                status, trig, changed = OrderStatus.TRIGGERED, fills[0].order_id, max(changed, last)
            avg = None
        elif got > filled:
            filled, changed = got, max(changed, last)
            if not status.terminal:
                full = qty is not None and filled >= qty
                status = OrderStatus.FILLED if full else OrderStatus.PARTIALLY_FILLED
        if o.canceled is not None and o.canceled_ms is not None and not status.terminal:
            status, changed = o.canceled.status, o.canceled_ms
            filled = o.canceled.filled if o.canceled.filled is not None else filled
        return _State(status, filled, qty, oid, trig, avg, changed)

    def _product(self, o: OrderTrack, st: _State) -> OrderReport:
        """The regular order a triggered conditional became: its fills, or what the recorded lookups of it
        said (``the order it became``)."""
        fills, got, avg = self._traded(o, strict=False)
        s = o.sub
        status = OrderStatus.FILLED if s.qty is None or got >= s.qty else OrderStatus.PARTIALLY_FILLED
        qty = s.qty or got
        for t, seq, e in o.seen:  # a lookup of it is journaled as an ack, then a resolution once it ended
            if e.triggered_order_id != st.triggered or not self._sees(o, t, seq, run=True):
                continue
            if isinstance(e, OrderAcked) or e.detail == "the order it became":
                got = e.filled if e.filled is not None else got
            if isinstance(e, OrderAcked):
                qty = e.qty if e.qty is not None else qty
            elif e.detail == "the order it became":
                status = e.status
        return OrderReport(
            s.symbol, st.triggered or "", s.client_order_id, s.side, OrderType.MARKET, status, qty, got,
            avg, None, None, s.reduce_only, s.close_position, st.changed_ms,
            max((f.ts_ms for f in fills), default=st.changed_ms),
        )  # fmt: skip

    def _report(self, o: OrderTrack, st: _State | None = None) -> OrderReport:
        st = st or self._state(o)
        s = o.sub
        return OrderReport(
            s.symbol, st.order_id, s.client_order_id, s.side, s.type, st.status, st.qty, st.filled, st.avg,
            s.price, s.trigger_price, s.reduce_only, s.close_position, o.landed_ms or 0, st.changed_ms,
            conditional=o.conditional, triggered_order_id=st.triggered,
        )  # fmt: skip

    # --- Venue: market data -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The recorded venue's name."""
        return self._name

    @property
    def dry_run(self) -> bool:
        """A replay never reaches an account."""
        return True

    async def load_markets(self, reload: bool = False) -> Mapping[str, Market]:
        """The recorded symbols (default filters: :func:`~eclipse.venues.replay_source.replay_market`)."""
        return dict(self._markets)

    async def market(self, symbol: str) -> Market:
        """One recorded market."""
        m = self._markets.get(symbol)
        if m is None:
            raise VenueError(
                _K.INVALID_ORDER, f"{symbol} was not recorded", venue=self._name, operation="market"
            )
        return m

    async def fetch_time_ms(self) -> int:
        """The simulated time."""
        return self._clock.now_ms()

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since_ms: int | None = None, limit: int = 500
    ) -> list[Candle]:
        """The recorded bars (and the history before them) as seen now."""
        return await self._market.fetch_ohlcv(symbol, timeframe, since_ms, limit)

    async def fetch_ticker(self, symbol: str) -> Ticker:
        """The forming bar's price now."""
        return await self._market.fetch_ticker(symbol)

    # --- Venue: account -----------------------------------------------------------------------------------
    def _visible(self) -> list[tuple[str, Fill]]:
        """Fills of orders that exist in the replay, made by now (adopted positions' stand-ins always)."""
        out = []
        for cid, f, seq in self._rows:
            o = self._orders.get(cid)
            if f.trade_id.startswith("adopt-") or (
                (o is None or o.landed_ms is not None) and self._made(f, seq)
            ):
                out.append((cid, f))
        return out

    async def fetch_balance(self) -> Mapping[str, Balance]:
        """The recorded starting equity plus the realized PnL less fees of the fills made by now."""
        self._fail("fetch_balance")
        eq = self._rec.equity + sum(
            (f.realized_pnl - f.fee for _, f in self._visible() if not f.trade_id.startswith("adopt-")),
            Decimal(0),
        )
        quote = next(iter(self._markets.values())).settle or "USDT"
        return {quote: Balance(quote, eq, Decimal(0), eq)}

    def _positions(self) -> dict[str, tuple[Decimal, Decimal]]:
        """symbol -> (signed qty, average entry) from the visible fills."""
        out: dict[str, tuple[Decimal, Decimal]] = {}
        for _, f in self._visible():
            qty, avg = out.get(f.symbol, (Decimal(0), Decimal(0)))
            signed = f.qty if f.side is Side.BUY else -f.qty
            new = qty + signed
            if qty == 0 or (qty > 0) == (signed > 0):
                avg = (avg * abs(qty) + f.price * f.qty) / abs(new) if new != 0 else Decimal(0)
            elif new != 0 and (new > 0) != (qty > 0):
                avg = f.price
            out[f.symbol] = (new, avg if new != 0 else Decimal(0))
        return out

    async def fetch_positions(self, symbols: Sequence[str] | None = None) -> list[Position]:
        """The sum of the fills made by now (and positions the recorded daemon adopted)."""
        self._fail("fetch_positions")
        out = []
        for sym, (qty, avg) in sorted(self._positions().items()):
            if qty == 0 or (symbols is not None and sym not in symbols):
                continue
            mark = (await self._market.fetch_ticker(sym)).last
            lev, mode = self.leverage.get(sym, (None, None))
            side = Side.BUY if qty > 0 else Side.SELL
            out.append(
                Position(sym, side, abs(qty), avg, mark, (mark - avg) * qty, None, lev, mode, abs(qty) * mark,
                         self._clock.now_ms())
            )  # fmt: skip
        return out

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        """Kept (positions report it)."""
        self.leverage[symbol] = (leverage, self.leverage.get(symbol, (None, None))[1])

    async def set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        """Kept (positions report it)."""
        self.leverage[symbol] = (self.leverage.get(symbol, (None, None))[0], mode)

    # --- Venue: orders ------------------------------------------------------------------------------------
    async def create_order(self, request: OrderRequest) -> OrderReport:
        """The recorded outcome of this send of this client id (see the module docstring)."""
        self._pace()
        cid = request.client_order_id
        o = self._orders.get(cid)
        if o is None or (o.adopted and not o.attempts):
            raise self._diverge(
                "create_order", f"{cid} ({request.side} {request.type} {request.qty}) was never placed"
            )
        s = o.sub
        asked = (
            request.symbol,
            request.side,
            request.type,
            request.qty,
            request.price,
            request.trigger_price,
        )
        recorded = (s.symbol, s.side, s.type, s.qty, s.price, s.trigger_price)
        if asked != recorded or request.reduce_only != s.reduce_only:
            raise self._diverge("create_order", f"{cid} asked {_brief(asked)}, recorded {_brief(recorded)}")
        o.sends += 1
        att = o.attempts.get(o.sends)
        if att is None or att.outcome == "none":
            raise self._diverge("create_order", f"{cid} send #{o.sends} has no recorded outcome")
        if att.ack is not None and o.landed_ms is None:
            o.landed_ms, o.landing = self._clock.now_ms(), att.ack
        if att.outcome == "ack":
            return self._report(o)
        if att.outcome == "unknown":
            o.lookup_until = att.settled_ms
        kind = att.kind or _K.NETWORK
        wait = self._wait(att.next_ms) if att.outcome == "retry" else None
        if att.outcome == "unknown" and att.next_ms:  # resent after the lookups proved it absent
            wait = max(0.0, att.next_ms - att.absent_ms - 0.4) / 1000
        raise VenueError(
            kind, att.message or kind.value, venue=self._name, operation="create_order", code=att.code,
            retry_after_s=wait,
        )  # fmt: skip

    async def cancel_order(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        conditional: bool = False,
    ) -> OrderReport:
        """The recorded cancel, when the recording canceled this order; ORDER_NOT_FOUND once it has ended."""
        self._pace()
        o = self._find(symbol, order_id, client_order_id, conditional)
        if o is None:
            raise VenueError(_K.ORDER_NOT_FOUND, "unknown order", venue=self._name, operation="cancel_order")
        now = self._clock.now_ms()
        for a, b in o.cancelling:
            if a <= now < b:  # the recorded cancel took more tries
                raise self._not_yet("cancel_order", b)
        st = self._state(o)
        if st.status.terminal:
            raise VenueError(_K.ORDER_NOT_FOUND, "order not open", venue=self._name, operation="cancel_order")
        if o.done_cancels >= len(o.cancels):
            raise self._diverge("cancel_order", f"{o.sub.client_order_id} was never canceled")
        o.canceled, o.canceled_ms = o.cancels[o.done_cancels], self._clock.now_ms()
        o.done_cancels += 1
        return self._report(o)

    async def fetch_order(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        conditional: bool = False,
    ) -> OrderReport:
        """The order's recorded state now (the regular order a triggered conditional became, by its id)."""
        self._fail("fetch_order", symbol)
        asked = self._orders.get(client_order_id) if client_order_id is not None else None
        now = self._clock.now_ms()
        if asked is not None and now < asked.lookup_until:  # the recorded lookups failed until it was found
            raise self._not_yet("fetch_order", asked.lookup_until)
        if (
            asked is not None
        ):  # the journal's next record is what this lookup found, later: it failed till then
            after = next((t for t, seq, _ in asked.seen if seq == self.cursor() + 1 and t > now), None)
            if after is not None:
                raise self._not_yet("fetch_order", after)
        o = self._find(symbol, order_id, client_order_id, conditional)
        if o is None:
            raise VenueError(
                _K.ORDER_NOT_FOUND, "order does not exist", venue=self._name, operation="fetch_order"
            )
        st = self._state(o)
        if o.conditional and not conditional and client_order_id is None and st.triggered == order_id:
            return self._product(o, st)
        return self._report(o, st)

    async def fetch_open_orders(
        self, symbol: str | None = None, *, conditional: bool = False
    ) -> list[OrderReport]:
        """Orders that exist in the replay and are open now."""
        self._fail("fetch_open_orders", symbol)
        out = []
        for o in self._orders.values():
            if (
                o.ended
                or o.landed_ms is None
                or o.conditional != conditional
                or symbol not in (None, o.sub.symbol)
            ):
                continue
            st = self._state(o)
            o.ended = st.status.terminal  # an order that ended stays ended
            if not o.ended:
                out.append(self._report(o, st))
        return sorted(out, key=lambda r: (r.ts_ms, _num_id(r.order_id)))

    async def fetch_fills(self, symbol: str, since_ms: int | None = None, limit: int = 500) -> list[Fill]:
        """The recorded fills of ``symbol`` made by now, oldest first."""
        self._fail("fetch_fills", symbol)
        rows = [
            f
            for _, f in self._visible()
            if f.symbol == symbol
            and not f.trade_id.startswith("adopt-")
            and (since_ms is None or f.ts_ms >= since_ms)
        ]
        return rows[:limit]

    async def close(self) -> None:
        """Nothing to release."""

    # --- the truth, for the checkers ----------------------------------------------------------------------
    def truth(self) -> VenueTruth:
        """What this venue holds now, as the checkers read a venue: the orders the replay placed (with their
        recorded fate), the fills made, the positions."""
        orders: list[OrderView] = []
        for o in self._orders.values():
            if o.landed_ms is None:
                continue
            st, s = self._state(o), o.sub
            filled_quote = sum((f.price * f.qty for f in self._order_fills(s.client_order_id)), Decimal(0))
            view = OrderView(
                _num_id(st.order_id or s.client_order_id), s.client_order_id, symbol_key(s.symbol), s.side,
                s.type, _WORD[st.status], st.qty, s.price, s.trigger_price, st.filled, filled_quote,
                st.avg or Decimal(0), s.reduce_only, s.close_position, None, o.conditional, o.landed_ms,
                st.changed_ms, _num_id(st.triggered) if st.triggered else None,
            )  # fmt: skip
            orders.append(view)
        trades = [
            TradeView(
                _num_id(f.trade_id),
                _num_id(f.order_id),
                cid,
                symbol_key(f.symbol),
                f.side,
                f.price,
                f.qty,
                f.price * f.qty,
                f.fee,
                f.fee_asset,
                f.realized_pnl,
                f.maker,
                f.ts_ms,
            )
            for cid, f in self._visible()
            if not f.trade_id.startswith("adopt-")
        ]
        positions = {symbol_key(s): q for s, (q, _) in self._positions().items()}
        orders.sort(key=lambda v: (v.conditional, v.order_id))
        trades.sort(key=lambda t: t.trade_id)
        return VenueTruth(tuple(orders), tuple(trades), positions, self._clock.now_ms())


def _brief(fields: tuple[object, ...]) -> str:
    return " ".join("-" if v is None else str(v) for v in fields)
