"""The chaos catalogue, scenarios 1-7 (8-14 in ``test_catalogue_more.py``): ``eclipse run`` in a subprocess
against the exchange simulator through the real ccxt client, one fault each (see ``SCENARIOS`` in
``catalogue_kit.py`` for how each is applied and its stated outcome). Each test asserts its outcome and
``check_run(...).ok`` on the settled run, and reports unknown-order resolution, protection gaps, repairs and
the debt peak (one line per scenario, and ``tests/chaos/results/catalogue.json``)."""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.chaos.catalogue_kit import (
    FORCED,
    RAW,
    SCENARIOS,
    T_PROTECT_MS,
    Chaos,
    live,
    ours,
    report_lines,  # noqa: F401  (the module's report fixture)
)

from eclipse.contracts import FillRecorded, IntentKind, OrderAcked, OrderUnknown
from eclipse.execution.journal.client_ids import parse_client_id
from eclipse.venues.errors import VenueErrorKind
from eclipse.venues.sim.engine import MatchingEngine
from eclipse.venues.sim.faults import FaultInjector
from eclipse.venues.sim.model import OrderView, PlaceRequest
from eclipse.venues.types import OrderType, Side

pytestmark = pytest.mark.usefixtures("report_lines")

SL, TP, ENTRY = IntentKind.STOP_LOSS, IntentKind.TAKE_PROFIT, IntentKind.ENTRY
CREATES = ("/fapi/v1/order", "/fapi/v1/algoOrder")
CLOSES = (IntentKind.EXIT, IntentKind.FLATTEN)
"""What an ``X-`` client id names (a flatten parses as an exit)."""
RESEND = {"VENUE_TIMEOUT_MS": "300", "ROUTER_RETRY_BUDGET_SEC": "14"}
"""Scenarios 3 and 3b: a send timed out after 300 ms is looked up and resent within the router's budget."""


def creates(c: Chaos, cid: str) -> list[dict[str, Any]]:
    """The venue's create requests for ``cid`` (each with its HTTP status and injected fault)."""
    return [r for r in c.requests(method="POST") if r["path"] in CREATES and r["client_id"] == cid]


def kind_of(cid: str) -> IntentKind | None:
    """The kind of order one of our client ids names."""
    parsed = parse_client_id(cid)
    return parsed.kind if parsed is not None else None


def unknown_kinds(c: Chaos, cid: str) -> list[VenueErrorKind]:
    """Every unknown outcome journaled for ``cid``, in order."""
    return [e.error_kind for e in c.journal() if isinstance(e, OrderUnknown) and e.client_order_id == cid]


def acked_after_unknown(c: Chaos, cid: str) -> bool:
    """True when ``cid``'s unknown outcome was followed by an acknowledgement (a lookup found it)."""
    seen = False
    for e in c.journal():
        if isinstance(e, OrderUnknown) and e.client_order_id == cid:
            seen = True
        elif seen and isinstance(e, OrderAcked) and e.client_order_id == cid:
            return True
    return False


def booked(c: Chaos, cid: str) -> Decimal:
    """The quantity the journal booked for ``cid``."""
    fills = [e.fill.qty for e in c.journal() if isinstance(e, FillRecorded) and e.client_order_id == cid]
    return sum(fills, Decimal(0))


def on_venue(c: Chaos, cid: str) -> list[OrderView]:
    """The venue's orders under ``cid`` (a triggered conditional's market order is its own)."""
    return [o for o in c.orders() if o.client_id == cid]


def test_1_ack_lost_after_placing(tmp_path: Path) -> None:
    with Chaos(SCENARIOS["1"], tmp_path, knobs=dict(FORCED)) as c:
        c.faults({"script": [{"on": "order_create", "fault": "lost_response", "hold_ms": 40}]})
        c.start()
        c.wait("the position protected", c.protected)
        c.finish()
        dropped = [r for r in c.requests(method="POST") if r["fault"] == "lost_response"]
        c.expect(
            len(dropped) == 1 and kind_of(dropped[0]["client_id"]) is ENTRY, "the entry's answer dropped"
        )
        cid = dropped[0]["client_id"] if dropped else ""
        c.expect(unknown_kinds(c, cid) == [VenueErrorKind.OUTCOME_UNKNOWN], "journaled unknown, once")
        c.expect(acked_after_unknown(c, cid), "settled by the lookup: acked")
        c.expect(len(creates(c, cid)) == 1, "never resent")
        c.expect(bool(c.legs(SL)), "the position has its stop")
        c.conclude()


def test_2_unknown_503_after_placing(tmp_path: Path) -> None:
    faults = ("unknown_503", "unknown_1006", "unknown_1007")
    with Chaos(SCENARIOS["2"], tmp_path, knobs=dict(FORCED)) as c:
        c.faults({"script": [{"on": "order_create", "fault": f} for f in faults]})
        c.start()
        c.wait("the position protected", c.protected)
        c.finish()
        hit = {r["fault"]: r["client_id"] for r in c.requests(method="POST") if r["fault"] in faults}
        c.expect(
            [kind_of(hit.get(f, "")) for f in faults] == [ENTRY, SL, TP],
            "the entry, its stop and its take-profit each answered unknown",
        )
        for fault, cid in hit.items():
            c.expect(unknown_kinds(c, cid) == [VenueErrorKind.OUTCOME_UNKNOWN], f"{fault}: journaled unknown")
            c.expect(acked_after_unknown(c, cid), f"{fault}: settled by lookup as placed")
            c.expect(len(creates(c, cid)) == 1, f"{fault}: sent once")
        c.expect(bool(c.legs(SL)) and bool(c.legs(TP)), "the position protected by both legs")
        c.conclude()


def test_3_duplicate_client_id_a_resend_overtaken_by_the_original(tmp_path: Path) -> None:
    knobs = {**FORCED, **RESEND, "VENUE_RECV_WINDOW_MS": "1000"}
    with Chaos(SCENARIOS["3"], tmp_path, knobs=knobs) as c:
        # the entry passes; the stop's first send is held past the timeout, a resend would be held less
        held = [0, 600, 200]
        c.faults({"script": [{"on": "order_create", "fault": "latency", "ms": ms} for ms in held]})
        c.start()
        c.wait("the position protected", c.protected, timeout=40)
        c.finish()
        stops = [
            r for r in c.requests(method="POST") if r["fault"] == "latency" and kind_of(r["client_id"]) is SL
        ]
        cid = stops[0]["client_id"] if stops else ""
        sent = creates(c, cid)
        c.expect([r["status"] for r in sent] == [200], "sent once: no resend inside the landing window")
        c.expect(unknown_kinds(c, cid) == [VenueErrorKind.OUTCOME_UNKNOWN], "the timeout journaled unknown")
        c.expect(acked_after_unknown(c, cid), "the late original found by the lookup after the window")
        c.expect(len(on_venue(c, cid)) == 1 and live(on_venue(c, cid)[0]), "one live stop under the id")
        c.conclude()


def test_3b_duplicate_client_id_the_original_already_filled(tmp_path: Path) -> None:
    with Chaos(SCENARIOS["3b"], tmp_path, knobs={**FORCED, **RESEND, "VENUE_RECV_WINDOW_MS": "1000"}) as c:
        c.faults({"script": [{"on": "order_create", "fault": "latency", "ms": ms} for ms in (600, 200)]})
        c.start()
        c.wait("the entry resent and a stop placed", lambda: bool(c.legs(SL)), timeout=40)
        c.finish()
        # the entry's send is the first one delayed (the second delay hits the next create: no resend now)
        entry = next(r["client_id"] for r in c.requests(method="POST") if r["fault"] == "latency")
        c.notes["entry_sends"] = [r["status"] for r in creates(c, entry)]
        c.notes["entry_orders_on_venue"] = [str(o.filled) for o in on_venue(c, entry)]
        c.expect(len(on_venue(c, entry)) == 1, "one order under the entry's client id")
        c.conclude()


def test_4_partial_fills_below_the_ratio(tmp_path: Path) -> None:
    with Chaos(SCENARIOS["4"], tmp_path, knobs=dict(FORCED)) as c:
        c.faults({"engine": {"partial_fills": {"p": 1.0, "slices": 3, "interval_ms": 60_000}}})
        c.start()
        c.wait("three partial entries resolved", lambda: len(c.events("entry.partial_fill_state")) >= 3)
        c.finish()
        states = c.events("entry.partial_fill_state")[:3]
        c.expect(
            all(s["outcome"] == "partial_forced_flatten" and s["ratio"] < s["min_ratio"] for s in states),
            "each entry below the ratio: remainder canceled, filled part flattened",
        )
        c.expect(
            all(s["cancel_ok"] and s["flatten_ok"] and not s["remainder_live"] for s in states),
            "nothing left live or open",
        )
        c.expect(len(c.events("entry.partial_fill_escalation")) == 1, "the third in the window escalates")
        orders = c.orders()
        partial = [o for o in orders if ours(o, ENTRY) and o.qty and o.filled < o.qty]
        flat = [o for o in orders if ours(o) and kind_of(o.client_id) in CLOSES]
        c.expect(
            len(partial) >= 3 and all(o.status == "CANCELED" for o in partial), "the remainders canceled"
        )
        c.expect(
            sum(o.filled for o in flat) == sum(o.filled for o in partial),
            "the flattens closed exactly what the partial entries filled",
        )
        c.notes["partial_entries"] = len(partial)
        c.conclude()


def test_5_a_cancel_racing_a_fill(tmp_path: Path) -> None:
    knobs = {**FORCED, "ENTRY_PARTIAL_BACKOFF_SEC": "900"}  # one entry: none after the race
    with Chaos(SCENARIOS["5"], tmp_path, knobs=knobs) as c:

        def regular_only() -> None:  # the race on regular orders only: a stop's cancel is not raced
            inj = c.sim.ctx.faults

            def races(order: OrderView) -> bool:
                return not order.conditional and FaultInjector.cancel_races_fill(inj, order)

            inj.cancel_races_fill = races  # type: ignore[method-assign]

        c.sim.call(regular_only)
        c.faults(
            {
                "engine": {
                    "partial_fills": {"p": 1.0, "slices": 3, "interval_ms": 60_000},
                    "cancel_race": {"p": 1.0},
                }
            }
        )
        c.start()

        def lost() -> list[dict[str, Any]]:
            return [e for e in c.events("order.cancel") if e.get("why") == "already_terminal"]

        c.wait("the remainder's cancel lost", lambda: bool(lost()))
        c.wait(
            "the position flat again",
            lambda: c.position() == 0 and bool(c.events("entry.partial_fill_state")),
        )
        c.finish()
        race = lost()[0]
        cid = str(race["client_order_id"])
        (entry,) = on_venue(c, cid)
        c.expect(kind_of(cid) is ENTRY and race["status"] == "filled", "the entry's cancel lost to its fill")
        c.expect(entry.qty is not None and entry.filled == entry.qty, "the venue filled the whole entry")
        c.expect(booked(c, cid) == entry.filled, "every slice booked once")
        flat = [o for o in c.orders() if kind_of(o.client_id) in CLOSES]
        c.expect(
            sum(o.filled for o in flat) == entry.filled, "the whole position flattened, not the stale part"
        )
        c.expect(c.position() == 0, "flat on the venue at the end")
        c.notes["race"] = {k: race.get(k) for k in ("status", "filled")}
        c.conclude()


def test_6_reconcile_contradictions(tmp_path: Path) -> None:
    with Chaos(SCENARIOS["6"], tmp_path, knobs=dict(FORCED)) as c:
        c.start()
        c.wait("the position protected", c.protected)
        for kind in (SL, TP):
            (old,) = c.legs(kind)

            def remove(eng: MatchingEngine, o: OrderView = old) -> OrderView:
                return eng.cancel(o.symbol, order_id=o.order_id, conditional=True)

            def back(k: IntentKind = kind) -> bool:
                return bool(c.legs(k))

            removed: OrderView = c.on_engine(remove)
            c.wait(f"the {kind} placed again", back)
            (new,) = c.legs(kind)
            after = (new.created_ms - removed.updated_ms) / 1000
            c.notes[f"{kind}_replaced_after_s"] = after
            c.expect(new.client_id != old.client_id, f"{kind}: a new leg under a new id")
            if kind is SL:
                limit = (T_PROTECT_MS + c.slack_ms) / 1000
                c.expect(after <= limit, "the stop back within T_protect + slack")

        def close(eng: MatchingEngine) -> None:
            qty = eng.pos_state[RAW].qty
            side = Side.SELL if qty > 0 else Side.BUY
            eng.place(
                PlaceRequest(RAW, side, OrderType.MARKET, abs(qty), reduce_only=True, client_id="by-hand")
            )

        opened = {o.client_id for o in c.orders() if live(o) and o.conditional}
        c.on_engine(close)
        c.wait("the close adopted", lambda: bool(c.events("reconcile.venue_close_adopted")))
        c.wait("its legs canceled", lambda: not opened & {o.client_id for o in c.orders() if live(o)})
        c.wait("trading resumed", lambda: len({o.client_id for o in c.orders() if ours(o, ENTRY)}) >= 2)
        c.finish()
        missing = {e["leg"] for e in c.events("protection") if e["state"] == "missing"}
        c.expect(missing >= {"stop_loss", "take_profit"}, "both legs found missing by the protection check")
        c.expect(bool(c.events("reconcile.mismatch")), "the contradiction reported")
        c.conclude()


def test_7_a_429_storm_then_418(tmp_path: Path) -> None:
    with Chaos(SCENARIOS["7"], tmp_path, knobs=dict(FORCED)) as c:
        c.start()
        c.wait("the position protected", c.protected)
        before = c.last_seq()
        time.sleep(2.0)
        calm = c.last_seq()
        c.faults({"random": [{"on": "*", "fault": "http_429", "p": 1.0, "retry_after_s": 1}]})
        time.sleep(2.0)
        storm = c.requests(since=calm)
        c.faults({"script": [{"on": "*", "fault": "http_418", "retry_after_s": 1}]})
        c.wait("the 418 served", lambda: c.injected().get("http_418", 0) >= 1, timeout=10)
        time.sleep(2.0)
        snap = c.snapshot()
        (banned,) = [r["seq"] for r in c.requests(since=calm) if r["status"] == 418]
        after = c.requests(since=banned)
        code, _, err = c.stop()
        c.notes.update(
            calm_requests_2s=calm - before,
            storm_requests_2s=len(storm),
            storm_statuses=dict(Counter(str(r["status"]) for r in storm)),
            requests_2s_after_418=len(after),
        )
        c.expect(any(r["status"] == 429 for r in storm), "the storm answered 429")
        c.expect(len(storm) <= 8 < calm - before, "Retry-After waited out: a few requests in the storm")
        c.expect(not after, "nothing sent once banned")
        c.expect(bool(snap["reliability"]["symbol_blocks"]), "entries blocked while banned")
        c.expect(code == 0 and "IP ban" in err, "a graceful stop under the ban")
        c.expect(bool(c.legs(SL)), "the stop stays on the venue")
        c.clear_faults()
        c.start()
        c.wait("reconciled", lambda: not c.snapshot()["reliability"]["symbol_blocks"])
        c.finish()
        c.conclude()
