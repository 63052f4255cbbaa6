"""The kill -9 suite's figures in pytest's terminal summary (shown with ``-q`` too): a test hands its
report line to the ``kill9_report`` fixture."""

from __future__ import annotations

from collections.abc import Callable

import pytest

_KILL9_REPORTS = pytest.StashKey[list[str]]()


@pytest.fixture
def kill9_report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Record one line for the terminal summary."""
    return request.config.stash.setdefault(_KILL9_REPORTS, []).append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Print each finished kill -9 run's figures."""
    lines = config.stash.get(_KILL9_REPORTS, [])
    if lines:
        terminalreporter.section("kill -9 crash suite")
        for line in lines:
            terminalreporter.write_line(line)
