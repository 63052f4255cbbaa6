"""Cost of one state-machine transition: the compiled table (what runs) and python-statemachine's own ``send``
(the declarative definition), per machine in specs/. The order path's transitions together are timed on the
order tracker (submit, ack, fill) when it exists."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from eclipse.machines.spec import find_spec_dir, load_specs
from eclipse.machines.table import Runner, compile_spec

SPECS = load_specs(find_spec_dir(Path(__file__)))


def cycle(name: str) -> tuple[Runner, list[str]]:
    """A runner and a walk of up to 50 events from the initial state that the runner accepts with every guard
    true (so only rows that come first for their state and event are followed), avoiding terminal states."""
    machine = compile_spec(SPECS[name])
    runner = Runner(machine, {g: (lambda _ctx: True) for g in SPECS[name].guards})
    walk: list[str] = []
    state, used = machine.initial, set()
    while len(walk) < 50:
        firsts = [rows[0] for (src, _), rows in machine.rows_for.items() if src == state]
        live = [r for r in firsts if r.target not in machine.terminal]
        fresh = [r for r in live if (r.source, r.event) not in used] or live
        if not fresh:
            break
        used.add((fresh[0].source, fresh[0].event))
        walk.append(fresh[0].event)
        state = fresh[0].target
    return runner, walk


@pytest.mark.parametrize("name", sorted(SPECS))
def test_table_transition(benchmark: Callable[..., object], name: str) -> None:
    runner, walk = cycle(name)
    benchmark.group = "machine transition"
    benchmark.extra_info["transitions_per_call"] = len(walk)

    def run() -> None:
        runner.state = runner.machine.initial
        for event in walk:
            assert runner.fire(event).accepted

    benchmark(run)


def test_python_statemachine_send(benchmark: Callable[..., object]) -> None:
    """The same kind of transition through python-statemachine 3 itself, for comparison."""
    from statemachine import State, StateMachine

    class Toggle(StateMachine):  # type: ignore[misc]
        a = State(initial=True)
        b = State()
        flip = a.to(b) | b.to(a)

    m = Toggle()
    benchmark.group = "machine transition"
    benchmark.extra_info["transitions_per_call"] = 1
    benchmark(m.send, "flip")


def test_order_path_transitions(benchmark: Callable[..., object]) -> None:
    """The order path's transitions together on the real order tracker: a new order for an intent (client id
    derivation included), submit, ack, then two fills that complete it."""
    from eclipse.machines.order import OrderTracker

    counter = iter(range(10**9))

    def run() -> None:
        order = OrderTracker(f"intent-{next(counter)}", 2.0)
        order.submit()
        order.ack()
        order.fill("t1", 1.0, 100.0)
        assert order.fill("t2", 1.0, 100.5).target == "filled"

    benchmark.group = "order path"
    benchmark.extra_info["transitions_per_call"] = 4
    benchmark(run)
