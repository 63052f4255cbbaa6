"""The chaos catalogue, scenarios 8-14 (1-7 in ``test_catalogue.py``): clock skew, stale market data, missing
protection, a simulator restart, a liquidation, legs that trigger while the daemon is down, and kill -9 at a
stop's replacement, again and again. Each asserts its stated outcome and ``check_run(...).ok``."""

from __future__ import annotations

import re
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
    Chaos,
    live,
    ours,
    report_lines,  # noqa: F401  (the module's report fixture)
)

from eclipse.contracts import FillRecorded, IntentKind, OrderUnknown
from eclipse.execution.journal.client_ids import parse_client_id
from eclipse.venues.sim.engine import MatchingEngine
from eclipse.venues.sim.model import OrderView
from eclipse.venues.sim.walk import liquidate, trigger

pytestmark = pytest.mark.usefixtures("report_lines")

SL, TP, ENTRY = IntentKind.STOP_LOSS, IntentKind.TAKE_PROFIT, IntentKind.ENTRY
BAR_MS = 60_000
MAX_STALE_MS = 180_000
"""``ENTRY_DATA_MAX_STALE_SEC`` (its default)."""


def signed_statuses(c: Chaos, since: int) -> Counter[int]:
    """HTTP statuses of the signed requests the venue served after ``since``."""
    return Counter(int(r["status"]) for r in c.requests(since=since) if r["signed"])


def bar_close(o: OrderView) -> int:
    """The bar close an entry's client id names (``E-SYM-b-<close>-<attempt>``)."""
    return int(o.client_id.split("-")[3])


def test_8_clock_skew_and_resync(tmp_path: Path) -> None:
    with Chaos(SCENARIOS["8"], tmp_path, knobs={**FORCED, "EXIT_MAX_HOLD_SEC": "240"}) as c:
        c.start()
        c.wait("the position protected", c.protected)
        steps: list[dict[str, Any]] = []
        for skew in (7000, -3000):
            seq = c.last_seq()
            c.faults({"clock_skew_ms": skew})
            time.sleep(2.0)
            sent = c.requests(since=seq)
            creates = [r for r in sent if r["method"] == "POST" and r["client_id"]]
            steps.append(
                {
                    "skew_ms": skew,
                    "statuses": dict(signed_statuses(c, seq)),
                    "creates": [(r["client_id"], r["status"]) for r in creates],
                }
            )
        err = c.finish()
        c.notes["steps"] = steps
        offsets = [int(m) for m in re.findall(r"clock offset resynced: local - venue = (-?\d+) ms", err)]
        c.notes["resynced_offsets_ms"] = offsets
        for step in steps:
            refused, ok = step["statuses"].get(400, 0), step["statuses"].get(200, 0)
            c.expect(1 <= refused <= 10 < ok, f"skew {step['skew_ms']}: a few -1021, then accepted")
            c.expect(
                any(abs(o + step["skew_ms"]) < 500 for o in offsets),
                f"skew {step['skew_ms']}: offset resynced",
            )
        sends: list[tuple[str, int]] = [cr for step in steps for cr in step["creates"]]
        c.expect(any(st == 200 for _, st in sends), "orders placed while the venue's clock was off")
        refused_ids = {cid for cid, st in sends if st != 200}
        c.expect(refused_ids <= {cid for cid, st in sends if st == 200}, "a refused order resent and placed")
        c.conclude()


def test_9_stale_market_data(tmp_path: Path) -> None:
    with Chaos(SCENARIOS["9"], tmp_path, knobs={**FORCED, "EXIT_MAX_HOLD_SEC": "600"}) as c:
        c.start()
        c.wait("the position protected", c.protected)
        c.stall(True)
        time.sleep(0.5)  # a bar being fetched when the replay froze
        bars, seq = c.snapshot()["bars"], c.last_seq()
        time.sleep(1.5)
        stalled = c.snapshot()
        c.expect(stalled["bars"] == bars and stalled["healthy"], "stalled: no bar, still healthy")
        c.expect(not c.requests(since=seq, state_changing="1"), "stalled: no order")
        c.stall(False)
        time.sleep(0.5)
        out_from = c.market_ms()
        c.faults({"random": [{"on": "market_data", "fault": "unavailable_503", "p": 1.0}]})
        time.sleep(0.3)  # a bar fetched as the outage began
        before = c.snapshot()
        time.sleep(2.2)
        during = c.snapshot()
        stop_ids = {o.client_id for o in c.legs(SL)}
        c.clear_faults()
        out_to = c.market_ms()
        c.wait("the missing bars caught up", lambda: c.snapshot()["last_bar_ms"] >= out_to - 2 * BAR_MS)
        after = c.snapshot()
        c.finish()
        entries = [o for o in c.orders() if ours(o, ENTRY)]
        c.notes.update(outage_market_s=(out_to - out_from) / 1000, bars=[bars, before["bars"], after["bars"]])
        c.expect(during["bars"] == before["bars"], "outage: no bar handled")
        c.expect(not [o for o in entries if out_from <= o.created_ms <= out_to], "outage: no entry sent")
        c.expect(bool(stop_ids) and bool(c.events("data.fetch_failed")), "outage: reported, the stop kept")
        c.expect(
            after["bars"] - before["bars"] == (after["last_bar_ms"] - before["last_bar_ms"]) // BAR_MS,
            "after it every missing bar handled once, none skipped",
        )
        c.expect(all(o.created_ms - bar_close(o) <= MAX_STALE_MS for o in entries), "no entry on a stale bar")
        blocked = [
            e for e in c.events("entry.blocked") if e["ts_ms"] >= out_to and e["reason"].startswith("data")
        ]
        c.expect(bool(blocked), "the catch-up bars' entries blocked by the data guard")
        c.conclude()


def test_10_protection_missing(tmp_path: Path) -> None:
    knobs = {**FORCED, "EXIT_TAKE_PROFIT_PCT": "0"}  # the stop is the only reduce-only order to shrink
    with Chaos(SCENARIOS["10"], tmp_path, knobs=knobs) as c:
        script = [
            {"on": "order_create", "fault": "latency", "ms": 0},
            {"on": "order_create", "fault": "unavailable_503"},
            {"on": "order_create", "fault": "internal_error"},
        ]
        c.faults({"script": script, "engine": {"reduce_only_shrink": {"p": 1.0, "ratio": 0.5}}})
        c.start()
        c.wait("a stop shrunk", lambda: c.injected().get("reduce_only_shrink", 0) >= 1)
        c.clear_faults()
        c.wait("a full stop", lambda: any(o.qty == abs(c.position()) != 0 for o in c.legs(SL)), timeout=20)
        c.finish()
        posts = c.requests(method="POST")
        first = next(r["client_id"] for r in posts if r["fault"] == "unavailable_503")
        faults = [r["fault"] for r in posts if r["client_id"] == first]
        stops = [o for o in c.orders() if ours(o, SL)]
        c.expect(
            first.endswith("-sl-1") and faults == ["unavailable_503", "internal_error"],
            "the first stop refused twice (503, -1001), never placed",
        )
        c.expect(not [o for o in stops if o.client_id == first], "so the venue never held it")
        c.expect(any(e["client_order_id"] == first for e in c.events("order.create.gave_up")), "and given up")
        missing = [e for e in c.events("protection") if e["state"] == "missing"]
        c.expect(bool(missing), "the protection check found the position bare")
        c.expect(bool(c.events("protection.shrunk")), "a shrunk stop seen as missing protection")
        shrunk = [o for o in stops if o.qty is not None and o.qty < abs(c.position())]
        c.expect(bool(shrunk) and all(o.status == "CANCELED" for o in shrunk), "the shrunk stop replaced")
        (full,) = c.legs(SL)
        c.expect(full.qty == abs(c.position()), "one live stop of the full quantity")
        c.conclude()


def test_11_a_simulator_restart_mid_session(tmp_path: Path) -> None:
    with Chaos(SCENARIOS["11"], tmp_path, knobs=dict(FORCED), db=True) as c:
        c.start()
        c.wait("the position protected", c.protected)
        (stop,) = c.legs(SL)
        bars = c.snapshot()["bars"]
        c.restart_sim(1.5)
        c.wait("reconcile recovered", lambda: bool(c.events("reconcile.recovered")), timeout=30)
        c.wait("bars again", lambda: c.snapshot()["bars"] >= bars + 3)
        c.finish()
        unknown = [e for e in c.journal() if isinstance(e, OrderUnknown)]
        c.expect(not unknown, "no unknown outcome: requests failed as never sent")
        c.expect(bool(c.events("protection.check_failed")), "the checks failed while it was down")
        blocks = [e["reason"] for e in c.events("reconcile.symbol_blocked")]
        c.expect("reconcile_failing" in blocks, "entries blocked while reconcile failed")
        c.expect([o.client_id for o in c.legs(SL)] == [stop.client_id], "the same stop protects the position")
        c.expect(len([o for o in c.orders() if ours(o, ENTRY)]) == 1, "no entry doubled")
        c.conclude()


def test_12_a_liquidation(tmp_path: Path) -> None:
    with Chaos(SCENARIOS["12"], tmp_path, knobs=dict(FORCED)) as c:
        c.start()
        c.wait("the position protected", c.protected)
        legs = {o.client_id for o in c.orders() if live(o) and o.conditional}
        c.on_engine(lambda eng: liquidate(eng, RAW, eng.now_ms(), float(eng.mark(RAW))))
        c.wait("the close adopted", lambda: bool(c.events("reconcile.venue_close_adopted")))
        c.wait("the symbol ready", lambda: not c.snapshot()["reliability"]["symbol_blocks"])
        c.wait("its legs canceled", lambda: not legs & {o.client_id for o in c.orders() if live(o)})
        c.finish()
        kpis = c.kpis()
        c.expect(kpis["repairs_succeeded"] >= 1, "a repair")
        closes = [
            e for e in c.events("position.changed") if e.get("kind") == "flatten" and not Decimal(e["qty"])
        ]
        c.expect(bool(closes), "the book flattened from the venue's fills")
        c.conclude()


def test_13_legs_that_trigger_while_the_daemon_is_down(tmp_path: Path) -> None:
    with Chaos(SCENARIOS["13"], tmp_path, knobs=dict(FORCED), algo_ids="coincide") as c:
        c.start()
        fired: list[OrderView] = []
        for kind in (SL, TP):
            c.wait("the position protected", c.protected)
            c.kill()

            def fire(eng: MatchingEngine, k: IntentKind = kind) -> OrderView:
                (leg,) = [a for a in eng.algo.open[RAW].values() if ours(a.view(), k)]
                trigger(eng, leg, eng.now_ms(), float(eng.mark(RAW)))
                view: OrderView = leg.view()
                return view

            fired.append(c.on_engine(fire))
            c.start()
            c.check(f"after the restart that found the {kind} triggered")
            c.wait("the book flat", lambda: not c.snapshot()["positions"])
        c.finish()
        journal = c.journal()
        for leg, (_, restarted) in zip(fired, c.downtime, strict=False):
            venue_order = leg.triggered_order_id
            assert venue_order is not None
            clash = [o for o in c.orders() if o.conditional and o.order_id == venue_order]
            booked = [
                e for e in journal if isinstance(e, FillRecorded) and e.client_order_id == leg.client_id
            ]
            c.expect(
                [e.fill.order_id for e in booked] == [str(venue_order)],
                f"{leg.client_id}: its fill booked once",
            )
            c.expect(all(e.ts_ms >= restarted for e in booked), f"{leg.client_id}: booked by the restart")
            c.expect(bool(clash), f"{leg.client_id}: its order id {venue_order} names an algo order too")
            intent = parse_client_id(leg.client_id)
            assert intent is not None
            left = [o for o in c.orders() if live(o) and o.client_id.startswith(intent.intent_id)]
            c.expect(not left, f"{leg.client_id}: the other leg canceled")
        c.conclude()


def test_14_kill9_between_a_replacement_stop_and_the_old_ones_cancel(tmp_path: Path) -> None:
    knobs = {
        "SCALPER_DEBUG_FORCE_ENTRY": "long",
        "EXIT_MAX_HOLD_SEC": "180",
        "EXIT_TAKE_PROFIT_PCT": "0",  # every protect.sent is a stop
        "ENTRY_PARTIAL_MIN_FILL_RATIO": "0.1",  # a first slice of 0.25 is not a partial to flatten
    }
    kills: list[dict[str, Any]] = []
    with Chaos(SCENARIOS["14"], tmp_path, knobs=knobs) as c:
        c.faults({"engine": {"partial_fills": {"p": 1.0, "slices": 3, "interval_ms": 30_000}}})
        for life in range(4):
            # life 1: the first stop, then its replacement; later lives re-protect once at startup first
            point = f"protect.sent:{2 if life == 0 else 3}"
            proc = c.spawn(CHAOS_CRASH_AT=point)
            checked = False
            end = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < end:
                if not checked and c.is_up():
                    checked = True
                    if life:
                        c.check(f"after restart {life}")
                time.sleep(0.03)
            c.expect(proc.poll() == -9, f"life {life}: killed itself at {point}")
            if proc.poll() is None:
                c.kill()
                continue
            proc.communicate()
            c.died()
            stops = c.legs(SL)
            kills.append(
                {"point": point, "live_stops": [str(o.qty) for o in stops], "position": str(c.position())}
            )
            c.expect(len(stops) == 2, f"life {life}: a replacement placed, the old stop not canceled yet")
        c.start()
        c.check("after the last restart")
        c.wait("one stop", lambda: len(c.legs(SL)) <= 1)
        c.finish()
        c.notes["kills"] = kills
        c.expect(len(c.legs(SL)) == (1 if c.position() else 0), "at most one live stop at the end")
        c.expect(bool(c.events("protection.surplus_canceled")), "a surplus stop canceled by a restart")
        c.conclude()


def test_the_catalogue_table_has_every_scenario() -> None:
    assert sorted(SCENARIOS, key=lambda s: (int(s.rstrip("b")), s)) == [
        *map(str, range(1, 4)),
        "3b",
        *map(str, range(4, 15)),
    ]
    assert all(s.fault and s.expected for s in SCENARIOS.values())
