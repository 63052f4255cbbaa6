"""Audit runs: every row carries the id of the run that wrote it (the last column), the report counts one run
(the latest by default, ``--run ID``, or ``--all-runs``) and says how many the file holds; files written
before the column existed still read, as one run without an id."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from eclipse.cli import main
from eclipse.clock import SimClock
from eclipse.config.registry import REGISTRY
from eclipse.errors import DataError
from eclipse.strategy.audit import (
    AUDIT_COLUMNS,
    NO_RUN_ID,
    AuditWriter,
    audit_runs,
    read_audit_rows,
    render_audit_summary,
    select_run,
    summarize_audit,
)
from eclipse.strategy.decision import Decision

T0 = 1_641_081_600_000


class FakeSignal:
    """Just what the audit reads from a Rust Signal."""

    raw_confidence = 0.5
    regime = "NORMAL"
    vol_ratio = 1.2
    vol_multiplier = 1.08

    def components(self) -> list[Any]:
        return []

    def explain(self) -> str:
        return "long"


def signal(direction: int, ts: int = T0) -> Decision:
    sig: Any = FakeSignal()
    return Decision("BTC", ts, direction, Decision.side_of(direction), 0.6, direction, None, False, sig)


def write_run(path: Path, directions: list[int], run_id: str | None = None) -> AuditWriter:
    w = AuditWriter(path, 0, SimClock(T0), run_id)
    for d in directions:
        assert w.record(signal(d))
    return w


def test_each_writer_stamps_its_rows_with_its_own_run_id(tmp_path: Path) -> None:
    path = tmp_path / "audit.csv"
    first, second = write_run(path, [1, 1]), write_run(path, [-1])
    assert AUDIT_COLUMNS[-1] == "run_id"
    assert re.fullmatch(r"[0-9a-f]{12}", first.run_id)
    assert first.run_id != second.run_id
    with path.open(newline="") as fh:
        lines = list(csv.reader(fh))
    assert lines[0] == list(AUDIT_COLUMNS)
    assert [line[-1] for line in lines[1:]] == [first.run_id, first.run_id, second.run_id]
    assert audit_runs(read_audit_rows(path)) == ((first.run_id, 2), (second.run_id, 1))


def test_the_summary_counts_the_latest_run_unless_told_otherwise(tmp_path: Path) -> None:
    path = tmp_path / "audit.csv"
    write_run(path, [1, 1, -1], "aaaa1111")
    write_run(path, [1], "bbbb2222")
    latest = summarize_audit(path)
    assert (latest.rows, latest.signals, latest.run) == (1, 1, "bbbb2222")
    assert latest.runs == (("aaaa1111", 3), ("bbbb2222", 1))
    text = render_audit_summary(latest)
    assert "runs: 2 in the file, oldest first: aaaa1111 (3 rows), bbbb2222 (1 rows)" in text
    assert "counting only the latest run bbbb2222 (1 of 4 rows)" in text
    first = summarize_audit(path, "aaaa")  # a unique prefix
    assert (first.rows, first.signals, dict(first.by_side), first.run) == (
        3,
        3,
        {"long": 2, "short": 1},
        "aaaa1111",
    )
    assert "counting only the run aaaa1111 (3 of 4 rows)" in render_audit_summary(first)
    every = summarize_audit(path, all_runs=True)
    assert (every.rows, every.signals, every.run) == (4, 4, None)
    assert "counting all 2 runs (4 rows)" in render_audit_summary(every)
    with pytest.raises(DataError, match=r"no run match 'cccc' \(runs, oldest first: aaaa1111, bbbb2222\)"):
        summarize_audit(path, "cccc")
    write_run(path, [1], "aaaa9999")
    with pytest.raises(DataError, match="several runs match 'aaaa'"):
        summarize_audit(path, "aaaa")
    assert summarize_audit(path, "aaaa1111").rows == 3  # an exact id is never ambiguous


def test_a_file_without_the_run_id_column_reads_as_one_run(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    fresh = tmp_path / "fresh.csv"
    write_run(fresh, [1, -1], "x")
    with fresh.open(newline="") as fh:
        header, *rows = list(csv.reader(fh))
    with path.open("w", newline="") as fh:  # what an older version wrote: no run_id column
        out = csv.writer(fh, lineterminator="\n")
        out.writerows([header[:-1], *(r[:-1] for r in rows)])
    rows_read = read_audit_rows(path)
    assert [r["run_id"] for r in rows_read] == [NO_RUN_ID, NO_RUN_ID]
    s = summarize_audit(path)
    assert (s.rows, s.signals, s.runs) == (2, 2, ((NO_RUN_ID, 2),))
    assert "run: - (written before run ids)" in render_audit_summary(s)
    assert select_run(rows_read, "-")[0] == rows_read
    with pytest.raises(DataError):  # appending to it would mix the formats: the writer refuses
        write_run(path, [1])


@pytest.fixture
def audit_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for p in REGISTRY:
        for name in (p.name, *p.aliases):
            monkeypatch.delenv(name, raising=False)
    path = tmp_path / "audit.csv"
    monkeypatch.setenv("SCALPER_AUDIT", "1")
    monkeypatch.setenv("SCALPER_AUDIT_PATH", str(path))
    return path


def test_a_second_run_is_not_counted_twice(audit_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        assert main(["signals", "--limit", "16000", "--json"]) == 0  # past the 1h trend warm-up
    replayed = json.loads(capsys.readouterr().out.split("\n}\n")[0] + "\n}")
    total = replayed["signals"]["total"]
    assert total > 0
    rows = read_audit_rows(audit_env)
    (first, n1), (second, n2) = audit_runs(rows)
    assert n1 == n2 == len(rows) // 2

    assert main(["audit", "report", "--rows", "3"]) == 0
    out = capsys.readouterr().out
    assert f"last 3 of {n2} rows:" in out
    assert f"signals: {total} (" in out  # one run's, not both
    assert "runs: 2 in the file" in out
    assert f"counting only the latest run {second} ({n2} of {n1 + n2} rows)" in out
    assert main(["audit", "report", "--summary-only", "--all-runs"]) == 0
    out = capsys.readouterr().out
    assert f"signals: {2 * total} (" in out
    assert "counting all 2 runs" in out
    assert main(["audit", "report", "--summary-only", "--run", first[:6]]) == 0
    assert f"counting only the run {first} " in capsys.readouterr().out
    assert main(["audit", "report", "--run", "nope"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {audit_env}: no run match 'nope' (runs, oldest first: {first}, {second})\n"
    assert main(["audit", "report", "--run", first, "--all-runs"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
