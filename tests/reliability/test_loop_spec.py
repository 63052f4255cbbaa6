"""The running loop is the machines: the reconcile cycle and the posture of the loop (what the entry gate
reads) run the tables compiled from ``specs/reconcile.toml`` and ``specs/posture.toml``, so removing one row
of a spec changes what the loop does, and these scenarios see it. The same scenarios pass on the specs as
they are."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from tests.execution.test_engine_kit import run, world

from eclipse.machines.spec import find_spec_dir, load_spec
from eclipse.machines.table import CompiledMachine, compile_spec
from eclipse.reliability.settings import ReliabilitySettings
from eclipse.venues.faulty import Fault, FaultPlan, FaultRule, FaultyVenue

from .loop_kit import SYM, Rig, rig

SPECS = find_spec_dir(Path(__file__))


def without(machine: str, row: tuple[str, str, str, str | None]) -> CompiledMachine:
    """The machine of ``specs/<machine>.toml`` with one row removed, compiled."""
    spec = load_spec(SPECS / f"{machine}.toml")
    rows = tuple(r for r in spec.rows if r.key() != row)
    assert len(rows) == len(spec.rows) - 1, f"{row} is not a row of {machine}"
    return compile_spec(replace(spec, rows=rows))


def as_is(machine: str) -> CompiledMachine:
    return compile_spec(load_spec(SPECS / f"{machine}.toml"))


def positions_fail_then_recover(**tables: CompiledMachine) -> Rig:
    """fetch_positions fails for two minutes (repeated venue errors: YELLOW), then the venue is sound for
    ten minutes."""

    async def go() -> Rig:
        w = world()
        venue = FaultyVenue(w.paper, FaultPlan(()))
        s = ReliabilitySettings(positions_check_sec=5.0, orders_check_sec=5.0, hysteresis_sec=60.0)
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "off"}, s, venue=venue, w=w, **tables)
        await r.loop.run_cycle(force=True)
        venue.plan = FaultPlan((FaultRule("fetch_positions", Fault.NETWORK, p=1.0),))
        await r.quiet(120)
        venue.plan = FaultPlan(())
        await r.quiet(600)
        return r

    return run(go())


@pytest.mark.parametrize("machine", ["posture", "reconcile"])
def test_the_specs_as_they_are_recover(machine: str) -> None:
    r = positions_fail_then_recover(**{f"{machine}_table": as_is(machine)})
    assert [e["to"] for e in r.events("posture.changed")] == ["YELLOW", "GREEN"]
    assert r.loop.symbol_block(SYM) is None
    assert r.guard.current(SYM).entries_allowed
    assert not r.guard.current(SYM).restricts
    assert r.events("reconcile.recovered")


def test_without_the_yellow_relax_row_the_posture_never_steps_down() -> None:
    r = positions_fail_then_recover(posture_table=without("posture", ("yellow", "relax", "green", None)))
    assert r.loop.current_posture.value == "YELLOW"
    assert r.guard.current(SYM).code == "posture_yellow"  # entries still restricted, as that spec says
    assert r.events("posture.transition_refused")


def test_without_the_due_tick_row_the_reconcile_never_leaves_backoff() -> None:
    r = positions_fail_then_recover(reconcile_table=without("reconcile", ("backoff", "tick", "idle", "due")))
    assert r.loop.cycle.state == "backoff"
    assert r.loop.symbol_block(SYM) == "reconcile_failing"
    assert r.guard.current(SYM).entry_block
