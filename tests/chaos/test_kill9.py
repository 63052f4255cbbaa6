"""The kill -9 crash suite: ``eclipse run`` in a subprocess against the exchange simulator through the real
ccxt client, killed with SIGKILL at seeded moments (at every named crash point: during order placement,
between the journal write and the venue call, mid-fill, mid-reconcile, during shutdown; and from outside
at random delays) and restarted on the same run directory, over and over. After every restart and at the
end the run's checkers hold: no client id placed twice, one live order per intent, no fill lost or
counted twice, every position under one stop within T_protect, exits never blocked, belief equal to the
venue once quiet.

``ECLIPSE_KILL9_SEED=N`` replays a seed's plan (default: a fresh seed, printed); ``ECLIPSE_KILL9_KILLS=N``
sets the number of kills (default 20); ``ECLIPSE_KILL9_LONG=1`` runs 300; ``ECLIPSE_KILL9_PLAN=labels`` runs
the given lives (``fill.journaled:1,external@2.5s,shutdown:1@1s``: what a failure prints).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.chaos.kill9_kit import SPEED, Kill9Run, parse_plan, plan_lives
from tests.runtime.daemon_kit import start_sim

from eclipse.runtime.crashpoints import POINTS
from eclipse.venues.sim.runner import SimServerThread

DEFAULT_KILLS = 20
LONG_KILLS = 300


def _kills() -> int:
    if os.environ.get("ECLIPSE_KILL9_KILLS"):
        return int(os.environ["ECLIPSE_KILL9_KILLS"])
    return LONG_KILLS if os.environ.get("ECLIPSE_KILL9_LONG", "") not in ("", "0") else DEFAULT_KILLS


def _seed() -> int:
    given = os.environ.get("ECLIPSE_KILL9_SEED", "")
    return int(given) if given else random.SystemRandom().randrange(1, 1_000_000)


@pytest.fixture
def sim() -> Iterator[SimServerThread]:
    """One simulator for the whole run: the venue's state outlives every daemon."""
    server = start_sim(SPEED)
    try:
        yield server
    finally:
        server.stop()


def test_the_plan_covers_every_crash_point() -> None:
    for seed in (1, 2, 3):
        plans = plan_lives(seed, DEFAULT_KILLS)
        assert len(plans) == DEFAULT_KILLS + 1
        assert plans[-1].kind == "final"
        assert {p.point for p in plans if p.kind == "point"} == set(POINTS)
        assert plans == plan_lives(seed, DEFAULT_KILLS), "a seed replays the same plan"
        assert parse_plan(",".join(p.label for p in plans[:-1])) == plans, "a plan's labels replay it"


def test_kill9_crash_suite(sim: SimServerThread, tmp_path: Path, kill9_report: Callable[[str], None]) -> None:
    seed, kills = _seed(), _kills()
    given = os.environ.get("ECLIPSE_KILL9_PLAN", "")
    run = Kill9Run(sim, tmp_path / "run", seed, kills, plans=parse_plan(given) if given else None)
    report = run.run()
    kill9_report(run.summary(report, run.restarts))
    print(f"\n{run.describe()}\n{run.summary(report, run.restarts)}")
    figures = run.figures(report, run.restarts)
    assert report.ok
    assert figures["kills_survived"] == run.kills
    assert figures["orders"] > 0, "the daemon never traded: nothing was proven"
