"""The latency and throughput gate of the benchmarks (``benches/gate.py``): the thresholds file, the verdicts
(pass, gross regression, missing metric) and the exit status. The benches' figures themselves are never
asserted anywhere; only the gate's arithmetic and its handling of files are tested here."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHES = Path(__file__).resolve().parent.parent / "benches"


def _load_gate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eclipse_bench_gate", BENCHES / "gate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gate = _load_gate()

THRESHOLDS = """
mode = "quick"
factor = 3.0

[[metric]]
name = "order_path.total_p95_us"
direction = "lower"
baseline = 200

[[metric]]
name = "load_sim.rps"
direction = "higher"
baseline = 3000

[[metric]]
name = "daemon.close_p95_ms"
direction = "lower"
baseline = 10
factor = 5
"""


def write_artefact(path: Path, metrics: dict[str, Any], bench: str = "bench", mode: str = "quick") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "schema": gate.ARTEFACT_SCHEMA,
        "bench": bench,
        "mode": mode,
        "started_at": "2026-12-07T00:00:00+00:00",
        "machine": {"git_commit": "0" * 40, "git_dirty": False, "cpu_count": 2},
        "metrics": metrics,
    }
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def thresholds_file(tmp_path: Path) -> Path:
    path = tmp_path / "thresholds.toml"
    path.write_text(THRESHOLDS)
    return path


def run_gate(tmp_path: Path, thresholds: Path, metrics: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    """Run ``gate.main`` on one artefact; return the exit status, the summary JSON and the printed table."""
    run = tmp_path / "run"
    write_artefact(run / "a.json", metrics)
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        code = gate.main([str(run), "--thresholds", str(thresholds), "--plain"], out=f)
    return code, json.loads((run / "summary.json").read_text()), out.read_text()


# --- the thresholds file ----------------------------------------------------------------------------------


def test_parse_applies_the_file_factor_and_a_metric_own_factor() -> None:
    t = gate.parse_thresholds(THRESHOLDS)
    assert t.mode == "quick"
    assert [m.name for m in t.metrics] == ["order_path.total_p95_us", "load_sim.rps", "daemon.close_p95_ms"]
    lower, higher, own = t.metrics
    assert (lower.direction, lower.baseline, lower.factor, lower.limit) == ("lower", 200.0, 3.0, 600.0)
    assert (higher.direction, higher.factor, higher.limit) == ("higher", 3.0, 1000.0)
    assert (own.factor, own.limit) == (5.0, 50.0)


def test_parse_default_factor_is_three() -> None:
    t = gate.parse_thresholds('[[metric]]\nname = "x"\ndirection = "lower"\nbaseline = 1.5\n')
    assert t.factor == 3.0
    assert t.metrics[0].limit == pytest.approx(4.5)


def test_checked_in_thresholds_file_is_valid() -> None:
    t = gate.load_thresholds(BENCHES / "thresholds.toml")
    assert t.mode == "quick"
    assert len(t.metrics) >= 10
    assert all(m.baseline > 0 and m.factor >= 1 for m in t.metrics)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[metric]\nname = 1", "not valid TOML"),
        ("factor = 3.0\n", "no [[metric]] tables"),
        ('[[metric]]\ndirection = "lower"\nbaseline = 1\n', "has no name"),
        (
            '[[metric]]\nname = "x"\ndirection = "down"\nbaseline = 1\n',
            "direction must be 'lower' or 'higher'",
        ),
        ('[[metric]]\nname = "x"\ndirection = "lower"\n', "no baseline"),
        (
            '[[metric]]\nname = "x"\ndirection = "lower"\nbaseline = -2\n',
            "baseline must be a finite number > 0",
        ),
        ('[[metric]]\nname = "x"\ndirection = "lower"\nbaseline = "fast"\n', "baseline must be"),
        ('[[metric]]\nname = "x"\ndirection = "lower"\nbaseline = 1\nfactor = 0.5\n', "factor must be"),
        (
            '[[metric]]\nname = "x"\ndirection = "lower"\nbaseline = 1\nbasline = 2\n',
            "unknown key(s) basline",
        ),
        ('factr = 2\n[[metric]]\nname = "x"\ndirection = "lower"\nbaseline = 1\n', "unknown top-level key"),
        (
            '[[metric]]\nname = "x"\ndirection = "lower"\nbaseline = 1\n'
            '[[metric]]\nname = "x"\ndirection = "higher"\nbaseline = 1\n',
            "listed twice",
        ),
    ],
)
def test_parse_rejects_a_bad_file(text: str, message: str) -> None:
    with pytest.raises(gate.ThresholdsError, match=re.escape(message)):
        gate.parse_thresholds(text)


@pytest.mark.parametrize("content", ['[[metric]]\nname = "x"\ndirection = "sideways"\nbaseline = 1\n', None])
def test_bad_or_absent_thresholds_file_is_one_error_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None
) -> None:
    path = tmp_path / "thresholds.toml"
    if content is not None:
        path.write_text(content)
    write_artefact(tmp_path / "run" / "a.json", {"x": 1.0})
    code = gate.main([str(tmp_path / "run"), "--thresholds", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith(f"gate: bad thresholds file {path}: ")
    assert not (tmp_path / "run" / "summary.json").exists()


# --- the verdicts -----------------------------------------------------------------------------------------


def test_figures_within_the_factor_pass(tmp_path: Path, thresholds_file: Path) -> None:
    # worse than the baselines, but less than 3x (5x for the daemon): noise, not a regression
    metrics = {"order_path.total_p95_us": 590.0, "load_sim.rps": 1001.0, "daemon.close_p95_ms": 49.0}
    code, summary, table = run_gate(tmp_path, thresholds_file, metrics)
    assert code == 0
    assert summary["ok"] is True
    assert summary["regressions"] == []
    assert summary["missing"] == []
    assert [g["status"] for g in summary["gates"]] == ["ok", "ok", "ok"]
    assert "REGRESSION" not in table


def test_the_limit_itself_passes() -> None:
    t = gate.parse_thresholds(THRESHOLDS)
    lower, higher, _ = t.metrics
    assert not lower.regressed(600.0)
    assert lower.regressed(600.1)
    assert not higher.regressed(1000.0)
    assert higher.regressed(999.9)


@pytest.mark.parametrize(
    ("name", "value"),
    [("order_path.total_p95_us", 601.0), ("load_sim.rps", 999.0), ("daemon.close_p95_ms", 50.5)],
)
def test_a_gross_regression_fails(tmp_path: Path, thresholds_file: Path, name: str, value: float) -> None:
    metrics = {
        "order_path.total_p95_us": 150.0,
        "load_sim.rps": 3500.0,
        "daemon.close_p95_ms": 8.0,
        name: value,
    }
    code, summary, table = run_gate(tmp_path, thresholds_file, metrics)
    assert code == 1
    assert summary["ok"] is False
    assert summary["exit_code"] == 1
    assert summary["regressions"] == [name]
    assert f"GROSS REGRESSION: {name}" in table
    row = next(line for line in table.splitlines() if line.startswith(name))
    assert row.rstrip().endswith("REGRESSION")


def test_a_missing_metric_is_reported_not_failed(tmp_path: Path, thresholds_file: Path) -> None:
    metrics = {"order_path.total_p95_us": 150.0, "daemon.close_p95_ms": None, "other.metric": 1.0}
    code, summary, table = run_gate(tmp_path, thresholds_file, metrics)
    assert code == 0
    assert summary["missing"] == ["load_sim.rps", "daemon.close_p95_ms"]
    by_name = {g["name"]: g for g in summary["gates"]}
    assert "not in this run's artefacts" in by_name["load_sim.rps"]["detail"]
    assert "no value" in by_name["daemon.close_p95_ms"]["detail"]
    assert "missing: not in the run" in table
    assert "missing: null value" in table
    assert "1 ok, 0 regressed, 2 missing; 1 further metrics recorded without a threshold" in table


def test_no_artefacts_at_all_is_reported_not_failed(tmp_path: Path, thresholds_file: Path) -> None:
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        code = gate.main(
            [
                str(tmp_path / "nowhere"),
                "--thresholds",
                str(thresholds_file),
                "--summary",
                str(tmp_path / "s.json"),
            ],
            out=f,
        )
    assert code == 0
    assert "no such file or directory" in out.read_text()
    assert json.loads((tmp_path / "s.json").read_text())["missing"] == [
        "order_path.total_p95_us",
        "load_sim.rps",
        "daemon.close_p95_ms",
    ]


# --- reading a run ----------------------------------------------------------------------------------------


def test_a_run_directory_merges_its_artefacts_and_skips_the_rest(
    tmp_path: Path, thresholds_file: Path
) -> None:
    run = tmp_path / "run"
    write_artefact(run / "order_path.json", {"order_path.total_p95_us": 150.0}, bench="order_path")
    write_artefact(run / "load_sim.json", {"load_sim.rps": 800.0}, bench="load_sim", mode="full")
    (run / "old.json").write_text("[1, 2]")  # an older artefact without a metrics section
    (run / "broken.json").write_text("{")
    (run / "summary.json").write_text(
        json.dumps({"schema": gate.SUMMARY_SCHEMA, "metrics": {"load_sim.rps": 1}})
    )
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        code = gate.main([str(run), "--thresholds", str(thresholds_file), "--plain"], out=f)
    text = out.read_text()
    summary = json.loads((run / "summary.json").read_text())  # rewritten by this run
    assert code == 1  # load_sim.rps 800 < 3000 / 3
    assert summary["metrics"] == {"load_sim.rps": 800.0, "order_path.total_p95_us": 150.0}
    assert [a["bench"] for a in summary["artefacts"]] == ["load_sim", "order_path"]
    assert summary["missing"] == ["daemon.close_p95_ms"]
    assert "old.json: skipped, no 'metrics' section" in text
    assert "broken.json: unreadable" in text
    assert "full-mode run; the baselines are quick-mode figures" in text


def test_rich_table_renders_every_gated_metric(tmp_path: Path, thresholds_file: Path) -> None:
    run = tmp_path / "run"
    write_artefact(run / "a.json", {"order_path.total_p95_us": 700.0, "load_sim.rps": 3000.0})
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        code = gate.main([str(run), "--thresholds", str(thresholds_file)], out=f)
    text = out.read_text()
    assert code == 1
    for name in ("order_path.total_p95_us", "load_sim.rps", "daemon.close_p95_ms"):
        assert name in text
    assert "REGRESSION" in text
    assert "missing" in text
