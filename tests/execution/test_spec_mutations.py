"""The spec is the code that runs: the engine runs the order and protection machines compiled from the
specs, so a one-row change of ``specs/order.toml`` or ``specs/protection.toml`` (with its class: conformance
keeps the two equal, so the table compiled from the changed spec is what the changed class would run) makes an
execution scenario fail, through the real ccxt client against the simulator. The same scenarios pass on the
specs as they are.

A scenario's verdict: the journal's fills equal the venue's trades order by order, each order machine's
filled quantity is its trades', the book equals the venue's position, a recovery over the journal is clean
(:func:`~tests.execution.ccxt_rig.agreement`), and no machine refused an event (a sound run on a sound spec
refuses nothing; each refusal is journaled as ``TransitionRefused``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from eclipse.contracts import IntentKind
from eclipse.machines.spec import find_spec_dir, load_spec
from eclipse.machines.table import CompiledMachine, compile_spec
from eclipse.venues.sim.engine import AlgoIdLayout

from .ccxt_rig import LEVEL, SYM, Rig, agreement, path_frame, refusals
from .test_engine_ccxt_triggers import DIP, SLICES, enter, leg

SPECS = find_spec_dir(Path(__file__))
RowKey = tuple[str, str, str, str | None]
Scenario = Callable[[Rig], Awaitable[None]]


def without(machine: str, row: RowKey) -> CompiledMachine:
    """The machine of ``specs/<machine>.toml`` with one row removed, compiled."""
    spec = load_spec(SPECS / f"{machine}.toml")
    rows = tuple(r for r in spec.rows if r.key() != row)
    assert len(rows) == len(spec.rows) - 1, f"{row} is not a row of {machine}"
    return compile_spec(replace(spec, rows=rows))


async def a_stop_fires(rig: Rig) -> None:
    engine = rig.start()
    await enter(rig, engine)
    while rig.index <= DIP + 1:
        rig.step()
        await engine.tick()


async def an_exit_while_the_entry_still_fills(rig: Rig) -> None:
    engine = rig.start()
    rig.step()
    await engine.on_bar(SYM, await rig.bar())  # the entry's first slice of six
    await engine.force_exit(SYM, "test")  # exiting; the entry's next slices arrive during the exit
    while rig.index < 24:
        rig.step()
        await engine.tick()


async def a_stop_canceled_outside(rig: Rig) -> None:
    engine = rig.start()
    await enter(rig, engine)
    assert rig.switch is not None
    stop = leg(engine, IntentKind.STOP_LOSS)
    await rig.switch.venue.cancel_order(SYM, client_order_id=stop, conditional=True)
    rig.step()
    await engine.tick()  # found missing: re-placed


FRAMES = {
    a_stop_fires: ({DIP: (LEVEL, 39_000.0, 39_200.0)}, None),
    an_exit_while_the_entry_still_fills: ({}, SLICES),
    a_stop_canceled_outside: ({}, None),
}
"""Each scenario's price moves and simulator faults (the path itself is made when the test runs: its times
are the wall clock's)."""


def verdict(tmp: Path, scenario: Scenario, tables: dict[str, CompiledMachine]) -> list[str]:
    moves, faults = FRAMES[scenario]
    rig = Rig(tmp, AlgoIdLayout.APART, path_frame(moves=moves), faults, tables=tables)

    async def main() -> list[str]:
        try:
            try:
                await scenario(rig)
            except AssertionError as exc:  # a step of the scenario did not happen
                return [f"scenario: {str(exc).splitlines()[0]}", *refusals(rig)]
            engine, _ = await rig.resume()  # the journal replayed through the same machines
            return [*await agreement(rig, engine), *refusals(rig)]
        finally:
            await rig.close()

    return asyncio.run(main())


@pytest.mark.parametrize("scenario", list(FRAMES), ids=lambda s: s.__name__)
def test_the_scenarios_pass_on_the_specs_as_they_are(tmp_path: Path, scenario: Scenario) -> None:
    assert verdict(tmp_path, scenario, {}) == []


MUTANTS: list[tuple[str, RowKey, Scenario]] = [
    ("order", ("triggered", "fill", "filled", "completes"), a_stop_fires),
    ("order", ("accepted", "trigger", "triggered", None), a_stop_fires),
    ("order", ("accepted", "fill", "filled", "completes"), a_stop_fires),
    ("order", ("partially_filled", "fill", "filled", "completes"), an_exit_while_the_entry_still_fills),
    ("protection", ("flat", "enter", "entering", None), a_stop_fires),
    ("protection", ("protected", "stop_hit", "flat", None), a_stop_fires),
    ("protection", ("exiting", "entry_filled", "exiting", None), an_exit_while_the_entry_still_fills),
    ("protection", ("protected", "protection_missing", "open_unprotected", None), a_stop_canceled_outside),
]


@pytest.mark.parametrize(
    ("machine", "row", "scenario"),
    MUTANTS,
    ids=[f"{m}:{r[0]}-{r[1]}-{r[2]}" for m, r, _ in MUTANTS],
)
def test_a_one_row_change_of_a_spec_fails_an_execution_scenario(
    tmp_path: Path, machine: str, row: RowKey, scenario: Scenario
) -> None:
    problems = verdict(tmp_path, scenario, {f"{machine}_table": without(machine, row)})
    assert problems, f"removing {row} from {machine}.toml changed nothing the scenario checks"
    print("\n".join(problems))
