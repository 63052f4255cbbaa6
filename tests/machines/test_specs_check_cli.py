"""``eclipse specs check``: progress on stderr (a redrawn line on a terminal, plain lines otherwise), the
report on stdout; an advisory never reads as a violation; ``--specs`` on either side of the subcommand."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from eclipse.cli import main
from eclipse.machines.check import CheckReport, ModelSummary, ProgressLine, render_check, run_check
from eclipse.machines.modelcheck import (
    CONFIGURATIONS,
    Progress,
    Report,
    Step,
    Violation,
    check_all,
    render_advisory,
    render_report,
    render_violation,
)
from eclipse.machines.modelcheck.model import Model
from eclipse.machines.spec import load_spec

from .kit import SPECS


class Recorder:
    """A CheckProgress that keeps what it is told."""

    def __init__(self) -> None:
        self.stages: list[str] = []
        self.updates: list[tuple[str, str, bool]] = []

    def stage(self, text: str) -> None:
        self.stages.append(text)

    def update(self, key: str, text: str, *, final: bool = False) -> None:
        self.updates.append((key, text, final))


def test_run_check_reports_every_stage() -> None:
    rec = Recorder()
    report = run_check(SPECS, 3, rec)
    assert report.ok
    machines = [s for s in rec.stages if "conformance of" in s]
    assert [s.split("conformance of ")[1].split()[0] for s in machines] == [m.name for m in report.machines]
    assert any("checkers" in s for s in rec.stages)
    assert rec.stages[-1].startswith("specs check: model check")
    finals = [(key, text) for key, text, final in rec.updates if final]
    assert sorted(key for key, _ in finals) == sorted(CONFIGURATIONS)
    for key, text in finals:
        states = next(m.states for m in report.models if m.configuration == key)
        assert f"{states:,} states" in text


@pytest.mark.parametrize("workers", [1, 2])
def test_check_all_relays_progress_ending_with_one_done_per_configuration(workers: int) -> None:
    events: list[Progress] = []
    reports = check_all(SPECS, 8, workers=workers, progress=events.append)
    for report in reports:
        mine = [e for e in events if e.configuration == report.configuration]
        assert mine[-1] == Progress.of(report)
        assert [e.done for e in mine].count(True) == 1
        assert [e.states for e in mine] == sorted(e.states for e in mine)  # states only grow
        assert mine[-1].states == report.states_explored > mine[0].states


def test_the_cli_prints_progress_on_stderr_and_the_report_on_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["specs", "check", "--specs", str(SPECS), "--depth", "3"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("machine ")
    assert out.rstrip().endswith("result: OK")
    assert "specs check:" not in out
    assert "specs check: conformance of order" in err
    assert "specs check: checkers" in err
    assert "specs check: model check\n" in err
    for configuration in CONFIGURATIONS:
        assert f"\n  {configuration}: done, " in err
        assert f"\n  {configuration} 0/3: 1 states, 0 s\n" in err
    assert "\r" not in err  # not a terminal: plain lines


def test_progress_line_on_a_terminal_is_one_redrawn_line() -> None:
    stream = io.StringIO()
    line = ProgressLine(stream, tty=True)
    line.stage("specs check: model check")
    line.update("regular", "regular: depth 3/24")
    line.update("conditional", "conditional: depth 2/22")
    line.update("regular", "regular: depth 4/24")
    line.update("regular", "regular: depth 4/24")  # nothing new: not redrawn
    line.close()
    text = stream.getvalue()
    assert "\n" not in text
    assert text.count("\r") == 5
    assert "\rspecs check: model check | regular: depth 4/24 | conditional: depth 2/22\x1b[K" in text
    assert text.endswith("\r\x1b[K")  # cleared: the report starts on a clean line


def test_progress_line_elsewhere_prints_plain_throttled_lines() -> None:
    now = [0.0]
    stream = io.StringIO()
    line = ProgressLine(stream, tty=False, interval=10.0, timer=lambda: now[0])
    line.stage("stage one")
    line.update("regular", "r1")
    now[0] = 5.0
    line.update("regular", "r2")  # within the interval: not printed
    line.update("conditional", "c1")  # another key: printed
    now[0] = 10.0
    line.update("regular", "r3")
    line.update("regular", "r4 done", final=True)  # final: always printed
    line.close()
    assert stream.getvalue().splitlines() == ["stage one", "  r1", "  c1", "  r3", "  r4 done"]


def _violation(name: str) -> Violation:
    w = Model.of(load_spec(SPECS / "order.toml")).initial()
    return Violation(name, (Step("initial", w), Step("submit #1", w)), "the venue filled 3 units")


def _summary(violations: tuple[str, ...], advisories: tuple[str, ...]) -> ModelSummary:
    return ModelSummary("regular", 24, 10, 20, True, 1.0, violations, advisories, 1, 2)


def test_an_advisory_does_not_read_as_a_violation() -> None:
    advisory = render_advisory(_violation("a_property_not_promised"))
    assert advisory.startswith("advisory: a_property_not_promised: the venue filled 3 units")
    assert "not a failure" in advisory.splitlines()[0]
    text = render_check(CheckReport((), (_summary((), (advisory,)),)))
    assert "VIOLATION" not in text
    assert "0 violation(s)" in text
    assert text.splitlines()[-1] == "result: OK (1 advisory, not failures)"
    report = Report(10, 1, 0, (), advisories=(_violation("a_property_not_promised"),))
    text = render_report(report)
    assert "VIOLATION" not in text
    assert "advisory: a_property_not_promised" in text
    assert text.splitlines()[-1] == "result: OK"


def test_a_violation_stays_loud() -> None:
    violation = render_violation(_violation("one_live_order_per_intent"))
    text = render_check(CheckReport((), (_summary((violation,), ()),)))
    assert "VIOLATION one_live_order_per_intent: the venue filled 3 units" in text
    assert "1 violation(s)" in text
    assert text.splitlines()[-1] == "result: FAILED"


def test_the_specs_option_works_on_either_side_of_the_subcommand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(SPECS / "order.toml", other)  # only the order machine: a directory unlike specs/
    for argv in (
        ["specs", "--specs", str(other), "table", "order"],
        ["specs", "table", "--specs", str(other), "order"],
    ):
        assert main(argv) == 0, argv
        assert "| created | submit |" in capsys.readouterr().out
    for argv in (
        ["specs", "--specs", str(other), "table", "posture"],
        ["specs", "table", "--specs", str(other), "posture"],
        ["specs", "diagram", "posture", "--specs", str(other)],
    ):
        assert main(argv) == 2, argv
        assert "no machine 'posture'; known: order" in capsys.readouterr().err
    assert main(["specs", "readme", "--specs", str(other)]) == 0
    readme = capsys.readouterr().out
    assert "## order" in readme
    assert "## posture" not in readme
    assert main(["specs", "check", "--specs", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err == f"error: --specs {tmp_path / 'none'}: not a directory\n"
