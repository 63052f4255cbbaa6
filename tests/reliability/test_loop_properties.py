"""Properties of the running loop under random fault schedules (hypothesis):

* convergence (``converges_within_k_cycles`` of ``specs/reconcile.toml``, K read from the spec): after random
  venue faults and disturbances stop, at most K cycles (once the backoff has run out) bring the belief to the
  venue's truth: the book equals the venue's position, no order of ours is of unknown outcome or believed
  live while the venue does not list it, and no contradiction is left open;
* posture: escalation is immediate and the loop's knobs are at least as strict as the level the debt calls
  for after every cycle; exits and protection are allowed in every posture; a step down only after the
  hysteresis window.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.execution.test_engine_kit import bar, run, venue_qty, world

from eclipse.contracts import IntentKind
from eclipse.machines.posture import KNOBS, LEVEL
from eclipse.machines.spec import find_spec_dir, load_spec
from eclipse.reliability.settings import ReliabilitySettings
from eclipse.venues.faulty import Fault, FaultPlan, FaultRule, FaultyVenue
from eclipse.venues.types import Side

from .loop_kit import SYM, Rig, manual_order, rig

K = int(load_spec(find_spec_dir(Path(__file__)) / "reconcile.toml").constant("k_cycles"))

_OPS = ("create_order", "fetch_order", "fetch_open_orders", "fetch_positions", "cancel_order", "fetch_fills")
_FAULTS = (Fault.NETWORK, Fault.EXECUTED_UNKNOWN, Fault.LOST_REQUEST, Fault.EXCHANGE_BUSY)


@st.composite
def fault_plans(draw: st.DrawFn) -> FaultPlan:
    rules = []
    for op in draw(st.lists(st.sampled_from(_OPS), min_size=1, max_size=4, unique=True)):
        fault = draw(st.sampled_from(_FAULTS))
        rules.append(FaultRule(op, fault, p=draw(st.floats(0.05, 0.5))))
    return FaultPlan(tuple(rules))


async def truth_gap(r: Rig) -> list[str]:
    """Where the belief differs from the venue's truth (empty: they agree)."""
    venue = r.w.paper
    out: list[str] = []
    there = venue_qty(await venue.fetch_positions())
    book = r.eng.book.snapshot(SYM).qty
    if there != book:
        out.append(f"position book {book} venue {there}")
    listed = {o.venue_id for c in (False, True) for o in await venue.fetch_open_orders(SYM, conditional=c)}
    for o in r.eng.orders.live():
        if o.state in ("submitting", "unknown"):
            out.append(f"{o.client_order_id} {o.state}")
        elif o.state != "triggered" and o.venue_id is not None and o.venue_id not in listed:
            out.append(f"{o.client_order_id} live but not listed")
    out.extend(f"open {c.key}" for c in r.loop.debt.open_contradictions())
    return out


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=fault_plans(), seed=st.integers(0, 2**16), bars=st.integers(3, 12), disturb=st.booleans())
def test_belief_equals_the_venues_truth_within_k_cycles_of_quiet(
    plan: FaultPlan, seed: int, bars: int, disturb: bool
) -> None:
    s = ReliabilitySettings(
        positions_check_sec=5.0, orders_check_sec=5.0, inflight_age_sec=2.0, max_lookups=20
    )

    async def go() -> tuple[Rig, list[str]]:
        w = world()
        venue = FaultyVenue(w.paper, plan, seed=seed)
        r = rig({"EXIT_MAX_HOLD_SEC": "120", "ROUTER_RETRY_BUDGET_SEC": "2"}, s, venue=venue, w=w)
        await r.loop.run_cycle(force=True)
        await r.bars(0, bars)
        if disturb:  # the venue changes under the bot: its position closed outside
            held = r.eng.book.snapshot(SYM).qty
            if held != 0:
                side = Side.SELL if held > 0 else Side.BUY
                await manual_order(w, side, str(abs(held)), reduce_only=True, cid="autoclose-7")
        venue.plan = FaultPlan(())  # the faults stop
        w.clock.advance(s.backoff_max_sec + 1)
        for _ in range(K):
            await r.eng.tick()
            await r.loop.run_cycle(force=True)
        return r, await truth_gap(r)

    r, gap = run(go())
    assert gap == [], f"after {K} quiet cycles: {gap}"
    assert r.loop.cycle.state == "idle"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=fault_plans(), seed=st.integers(0, 2**16), steps=st.integers(20, 200))
def test_posture_escalates_at_once_never_blocks_exits_and_steps_down_only_after_the_window(
    plan: FaultPlan, seed: int, steps: int
) -> None:
    s = ReliabilitySettings(positions_check_sec=5.0, orders_check_sec=5.0, hysteresis_sec=30.0)

    async def go() -> list[str]:
        w = world()
        venue = FaultyVenue(w.paper, plan, seed=seed)
        r = rig({"EXIT_MAX_HOLD_SEC": "120"}, s, venue=venue, w=w)
        await r.loop.run_cycle(force=True)
        problems: list[str] = []
        changed_at = w.clock.now_ms()
        nxt = 0
        for i in range(steps):
            w.clock.advance(ms=1000)
            while bar(nxt).close_ms() <= w.clock.now_ms():  # the bars that closed by now
                await r.eng.on_bar(SYM, bar(nxt))
                nxt += 1
            await r.eng.tick()
            before = r.loop.current_posture
            await r.loop.run_cycle()
            after = r.loop.current_posture
            knobs = r.guard.current(SYM)
            if not (knobs.exits_allowed and knobs.protection_allowed):
                problems.append("exits or protection blocked")
            target = r.loop.posture.target()
            if not knobs.at_least_as_strict_as(KNOBS[target]):
                problems.append(f"knobs looser than {target} at step {i}")
            if after != before:
                down = after not in LEVEL or before not in LEVEL or LEVEL[after] < LEVEL[before]
                if down and before.value != "POST_RED_WARMUP" and w.clock.now_ms() - changed_at < 30_000:
                    problems.append(f"{before} -> {after} {w.clock.now_ms() - changed_at} ms after a change")
                changed_at = w.clock.now_ms()
        return problems

    assert run(go()) == []


def test_exits_are_never_gated_by_the_posture() -> None:
    """RED_LOCK (debt forced high) blocks entries but an exit goes out."""

    async def go() -> Rig:
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "long", "EXIT_MAX_HOLD_SEC": "60"})
        await r.loop.run_cycle(force=True)
        await r.bars(0, 1)
        for n in range(3):
            r.loop.posture.add_contradiction(f"test:{n}", "unknown_position")
        assert r.loop.current_posture.value == "RED_LOCK"
        await r.bars(1, 4)
        return r

    r = run(go())
    kinds = [o.kind for o in r.eng.orders.orders.values()]
    assert kinds.count(IntentKind.ENTRY) == 1
    assert IntentKind.EXIT in kinds
    assert "posture_red_lock" in {str(e["reason"]) for e in r.events("entry.blocked")}
