"""Fixtures of the daemon's end-to-end tests: a replaying exchange simulator in this process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.runtime.daemon_kit import start_sim

from eclipse.venues.sim.runner import SimServerThread

SPEED = 300.0
"""Five bars a second."""


@pytest.fixture
def sim() -> Iterator[SimServerThread]:
    """A simulator replaying the embedded month at :data:`SPEED`, stopped after the test."""
    server = start_sim(SPEED)
    try:
        yield server
    finally:
        server.stop()
