"""The reliability loop's settings: registry knobs loaded, a cross-knob problem reported by validation in
one line like every other configuration problem."""

from __future__ import annotations

from eclipse.config.validate import validate
from eclipse.reliability.settings import ReliabilitySettings


def test_defaults_and_overrides() -> None:
    s = ReliabilitySettings.load({"RECONCILE_FOREIGN_POLICY": "Protect", "RECONCILE_INTERVAL_SEC": "30"})
    assert s.foreign_policy == "protect"
    assert s.positions_check_sec == 30.0
    assert s.red_lock_critical_streak == 2
    assert ReliabilitySettings.load({}) == ReliabilitySettings()


def test_a_backoff_cap_below_its_base_is_a_configuration_problem() -> None:
    problems = validate({"RECONCILE_BACKOFF_BASE_SEC": "30", "RECONCILE_BACKOFF_MAX_SEC": "5"})
    assert [p.knob for p in problems] == ["RECONCILE_BACKOFF_MAX_SEC"]
    assert "at least RECONCILE_BACKOFF_BASE_SEC" in problems[0].expected
    assert validate({"RECONCILE_FOREIGN_POLICY": "nuke"})[0].knob == "RECONCILE_FOREIGN_POLICY"
