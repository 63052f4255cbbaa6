#!/usr/bin/env python
"""Latency and throughput gates: compare a run's benchmark artefacts with the recorded baselines.

    python benches/gate.py                                   # the artefacts in benches/results/
    python benches/gate.py benches/results/ci                # the artefacts of one CI run (a directory)
    python benches/gate.py a.json b.json --summary run.json  # given files; the summary elsewhere

Each bench script (``report.py``, ``order_path.py``, ``daemon.py``, ``load_sim.py``) writes one JSON artefact
with a flat ``metrics`` map (name -> number). ``thresholds.toml`` names the gated metrics, each with its
direction (``lower`` or ``higher`` is better), a baseline recorded on the CI kind of machine in quick mode,
and a factor (the file's ``factor``, default 3). A metric is a regression only when it is worse than its
baseline by more than the factor (lower is better: value > baseline x factor; higher is better: value <
baseline / factor): the figures of a noisy 2-core machine are reported, and only gross regressions fail.

Prints one table (metric, value, baseline, limit, value against the baseline, verdict) and writes a summary
JSON (every metric of the run, the verdicts, the artefacts' headers and the machine) so that CI keeps one
artefact; ``--summary`` sets its path (default: ``summary.json`` in the first directory given, else in
``benches/results/``).

Exit status: 0 when nothing regressed (a gated metric absent from the run is reported as missing, not
failed; so is an unreadable artefact), 1 on a gross regression, 2 when the thresholds file is missing or
invalid (one error line).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

HERE = Path(__file__).resolve().parent
DEFAULT_DIR = HERE / "results"
DEFAULT_THRESHOLDS = HERE / "thresholds.toml"
SUMMARY_NAME = "summary.json"
ARTEFACT_SCHEMA = "eclipse-bench/1"  # benchutil.ARTEFACT_SCHEMA (gate.py imports nothing from benches)
SUMMARY_SCHEMA = "eclipse-bench-summary/1"
DEFAULT_FACTOR = 3.0
EXIT_OK, EXIT_REGRESSION, EXIT_BAD_THRESHOLDS = 0, 1, 2

ABSENT = "not in this run's artefacts (its bench was not run, was skipped or failed)"
NULL_VALUE = "the bench wrote null: not measured, or not finite"

Direction = Literal["lower", "higher"]
Status = Literal["ok", "REGRESSION", "missing"]


class ThresholdsError(ValueError):
    """The thresholds file cannot be used; the message is one line."""


@dataclass(frozen=True)
class Threshold:
    """One gated metric: ``direction`` says which way is better; worse than ``factor`` x baseline fails."""

    name: str
    direction: Direction
    baseline: float
    factor: float
    note: str = ""

    @property
    def limit(self) -> float:
        """The worst value that still passes."""
        return self.baseline * self.factor if self.direction == "lower" else self.baseline / self.factor

    def worse_by(self, value: float) -> float:
        """How many times worse than the baseline ``value`` is (below 1: better)."""
        if self.direction == "lower":
            return value / self.baseline
        return math.inf if value <= 0 else self.baseline / value

    def regressed(self, value: float) -> bool:
        return value > self.limit if self.direction == "lower" else value < self.limit


@dataclass(frozen=True)
class Thresholds:
    metrics: tuple[Threshold, ...]
    factor: float = DEFAULT_FACTOR
    mode: str | None = None
    recorded: str | None = None


_TOP_KEYS = {"mode", "factor", "recorded", "machine", "note", "metric"}
_METRIC_KEYS = {"name", "direction", "baseline", "factor", "note"}


def _number(value: Any, what: str, minimum: float, strict: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value <= minimum if strict else value < minimum):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise ThresholdsError(f"{what} must be a finite number {bound}, got {value!r}")
    return float(value)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ThresholdsError(f"{what} must be a string, got {value!r}")
    return value


def parse_thresholds(text: str) -> Thresholds:
    """Parse and check a thresholds file (TOML); any problem raises :class:`ThresholdsError`."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ThresholdsError(f"not valid TOML: {e}") from None
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise ThresholdsError(
            f"unknown top-level key(s) {', '.join(unknown)} (known: {', '.join(sorted(_TOP_KEYS))})"
        )
    factor = _number(doc.get("factor", DEFAULT_FACTOR), "factor", 1.0, strict=False)
    mode = _text(doc["mode"], "mode") if "mode" in doc else None
    recorded = str(doc["recorded"]) if "recorded" in doc else None
    for key in ("machine", "note"):
        if key in doc:
            _text(doc[key], key)
    entries = doc.get("metric")
    if not isinstance(entries, list) or not entries:
        raise ThresholdsError("no [[metric]] tables")
    seen: set[str] = set()
    out: list[Threshold] = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise ThresholdsError(f"metric {i} is not a table")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ThresholdsError(f"metric {i} has no name")
        where = f"metric {i} ({name})"
        unknown = sorted(set(entry) - _METRIC_KEYS)
        if unknown:
            raise ThresholdsError(f"{where}: unknown key(s) {', '.join(unknown)}")
        if name in seen:
            raise ThresholdsError(f"{where}: listed twice")
        seen.add(name)
        direction = entry.get("direction")
        if direction not in ("lower", "higher"):
            raise ThresholdsError(f"{where}: direction must be 'lower' or 'higher', got {direction!r}")
        if "baseline" not in entry:
            raise ThresholdsError(f"{where}: no baseline")
        baseline = _number(entry["baseline"], f"{where}: baseline", 0.0, strict=True)
        own = _number(entry.get("factor", factor), f"{where}: factor", 1.0, strict=False)
        note = _text(entry.get("note", ""), f"{where}: note")
        out.append(Threshold(name, direction, baseline, own, note))
    return Thresholds(tuple(out), factor, mode, recorded)


def load_thresholds(path: Path) -> Thresholds:
    try:
        text = path.read_text()
    except OSError as e:
        raise ThresholdsError(f"cannot read it ({e.strerror or e})") from None
    return parse_thresholds(text)


# --- the run's artefacts ----------------------------------------------------------------------------------


@dataclass
class Artefact:
    path: str
    bench: str
    mode: str | None
    started_at: str | None
    git_commit: str | None
    git_dirty: bool | None
    metrics: dict[str, float | None]
    machine: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    artefacts: list[Artefact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # files skipped or unreadable, duplicate metrics

    def metrics(self) -> dict[str, float | None]:
        merged: dict[str, float | None] = {}
        for a in self.artefacts:
            merged.update(a.metrics)
        return merged

    def source(self, name: str) -> str | None:
        for a in reversed(self.artefacts):
            if name in a.metrics:
                return a.path
        return None


def _value(v: Any) -> float | None:
    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def read_artefacts(paths: list[Path], skip: Path | None = None) -> Run:
    """Read the artefacts among ``paths`` (files, or directories whose ``*.json`` are read). A file that
    is not an artefact is noted and skipped; gate summaries and ``skip`` (the summary to write) are too."""
    run = Run()
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(p.glob("*.json")))
        elif p.is_file():
            files.append(p)
        else:
            run.notes.append(f"{p}: no such file or directory")
    for f in files:
        if skip is not None and f.resolve() == skip.resolve():
            continue
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError) as e:
            run.notes.append(f"{f}: unreadable ({e}); its metrics count as missing")
            continue
        if isinstance(data, dict) and data.get("schema") == SUMMARY_SCHEMA:
            continue
        if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
            run.notes.append(f"{f}: skipped, no 'metrics' section (not a bench artefact, or an older run)")
            continue
        if data.get("schema") != ARTEFACT_SCHEMA:
            run.notes.append(f"{f}: schema {data.get('schema')!r}, expected {ARTEFACT_SCHEMA!r}; read anyway")
        raw_machine = data.get("machine")
        machine: dict[str, Any] = raw_machine if isinstance(raw_machine, dict) else {}
        metrics = {str(k): _value(v) for k, v in data["metrics"].items()}
        for other in run.artefacts:
            for name in sorted(set(metrics) & set(other.metrics)):
                run.notes.append(f"{name}: in both {other.path} and {f}; the value of {f} is used")
        run.artefacts.append(
            Artefact(
                path=str(f),
                bench=str(data.get("bench", f.stem)),
                mode=data.get("mode"),
                started_at=data.get("started_at"),
                git_commit=machine.get("git_commit"),
                git_dirty=machine.get("git_dirty"),
                metrics=metrics,
                machine=machine,
            )
        )
    return run


def warnings(run: Run, thresholds: Thresholds) -> list[str]:
    """What makes the comparison rough: artefacts of another mode than the baselines', or of two commits."""
    out = []
    if thresholds.mode:
        for a in run.artefacts:
            if a.mode != thresholds.mode:
                out.append(
                    f"{a.path} is a {a.mode or 'unknown'}-mode run; the baselines are {thresholds.mode}-mode "
                    "figures, so its comparison is rough"
                )
    commits = sorted({a.git_commit for a in run.artefacts if a.git_commit})
    if len(commits) > 1:
        out.append(f"the artefacts come from {len(commits)} commits ({', '.join(c[:10] for c in commits)})")
    return out


# --- the verdicts -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    direction: Direction
    baseline: float
    factor: float
    limit: float
    value: float | None
    worse_by: float | None
    status: Status
    detail: str = ""


def evaluate(thresholds: Thresholds, run: Run) -> list[Check]:
    metrics = run.metrics()
    checks = []
    for t in thresholds.metrics:
        value = metrics.get(t.name)
        if value is None:
            detail = f"no value in {run.source(t.name)} ({NULL_VALUE})" if t.name in metrics else ABSENT
            checks.append(
                Check(t.name, t.direction, t.baseline, t.factor, t.limit, None, None, "missing", detail)
            )
            continue
        status: Status = "REGRESSION" if t.regressed(value) else "ok"
        worse = t.worse_by(value)
        detail = f"worse than {t.factor:g}x the baseline" if status == "REGRESSION" else ""
        checks.append(Check(t.name, t.direction, t.baseline, t.factor, t.limit, value, worse, status, detail))
    return checks


def exit_code(checks: list[Check]) -> int:
    return EXIT_REGRESSION if any(c.status == "REGRESSION" for c in checks) else EXIT_OK


def num(x: float | None) -> str:
    if x is None:
        return "-"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def _row(c: Check) -> tuple[str, ...]:
    worse = "-" if c.worse_by is None else ("inf" if math.isinf(c.worse_by) else f"{c.worse_by:.2f}x")
    sign = "<=" if c.direction == "lower" else ">="
    verdict: str = c.status
    if c.status == "missing":
        verdict = "missing: not in the run" if c.detail == ABSENT else "missing: null value"
    return (c.name, num(c.value), num(c.baseline), f"{sign} {num(c.limit)}", worse, verdict)


HEADERS = ("metric", "value", "baseline", "limit", "vs baseline", "verdict")


def render_plain(checks: list[Check], out: TextIO) -> None:
    rows = [HEADERS, *(_row(c) for c in checks)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS) - 1)]
    for n, r in enumerate(rows):
        cells = [r[0].ljust(widths[0]), *(r[i].rjust(widths[i]) for i in range(1, len(widths)))]
        print("  ".join([*cells, r[-1]]), file=out)
        if n == 0:
            print("-" * (sum(widths) + 2 * len(widths) + len(HEADERS[-1])), file=out)


def render_rich(checks: list[Check], out: TextIO) -> bool:
    """The table through rich (a dependency of eclipse); False when rich cannot be imported."""
    try:
        from rich import box
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text
    except ImportError:
        return False
    console = Console(file=out)
    if not console.is_terminal:  # a CI log: no terminal width to follow, keep rows on one line
        console = Console(file=out, width=160)
    table = Table(box=box.SIMPLE_HEAD, title="latency and throughput gates", title_justify="left")
    for i, h in enumerate(HEADERS):
        table.add_column(h, justify="left" if i in (0, len(HEADERS) - 1) else "right")
    styles = {"ok": "green", "REGRESSION": "bold red", "missing": "yellow"}
    for c in checks:
        *cells, verdict = _row(c)
        table.add_row(*(Text(x) for x in cells), Text(verdict, style=styles[c.status]))
    console.print(table)
    return True


def summary(
    checks: list[Check], run: Run, thresholds: Thresholds, thresholds_path: Path, notes: list[str]
) -> dict[str, Any]:
    code = exit_code(checks)
    return {
        "schema": SUMMARY_SCHEMA,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "ok": code == EXIT_OK,
        "exit_code": code,
        "thresholds": {
            "path": str(thresholds_path),
            "mode": thresholds.mode,
            "recorded": thresholds.recorded,
            "factor": thresholds.factor,
        },
        "regressions": [c.name for c in checks if c.status == "REGRESSION"],
        "missing": [c.name for c in checks if c.status == "missing"],
        "notes": notes,
        "gates": [
            {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(c).items()}
            for c in checks
        ],
        "artefacts": [
            {k: v for k, v in asdict(a).items() if k not in ("metrics", "machine")} for a in run.artefacts
        ],
        "machine": run.artefacts[0].machine if run.artefacts else {},
        "metrics": dict(sorted(run.metrics().items())),
    }


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("paths", nargs="*", type=Path, help=f"artefacts or directories of them ({DEFAULT_DIR})")
    ap.add_argument("--thresholds", type=Path, default=DEFAULT_THRESHOLDS, help=f"({DEFAULT_THRESHOLDS})")
    ap.add_argument("--summary", type=Path, help="where to write the summary JSON")
    ap.add_argument("--plain", action="store_true", help="plain aligned text instead of a rich table")
    args = ap.parse_args(argv)
    try:
        thresholds = load_thresholds(args.thresholds)
    except ThresholdsError as e:
        print(f"gate: bad thresholds file {args.thresholds}: {e}", file=sys.stderr)
        return EXIT_BAD_THRESHOLDS
    paths: list[Path] = args.paths or [DEFAULT_DIR]
    dirs = [p for p in paths if p.is_dir()]
    summary_path: Path = args.summary or (dirs[0] if dirs else DEFAULT_DIR) / SUMMARY_NAME
    run = read_artefacts(paths, skip=summary_path)
    checks = evaluate(thresholds, run)
    notes = [*run.notes, *warnings(run, thresholds)]

    print(
        f"thresholds: {args.thresholds} ({len(thresholds.metrics)} gated metrics, mode {thresholds.mode})",
        file=out,
    )
    for a in run.artefacts:
        commit = (a.git_commit or "no commit")[:10] + ("+dirty" if a.git_dirty else "")
        print(
            f"  {a.path}: {a.bench}, {a.mode} mode, {a.started_at}, {commit}, {len(a.metrics)} metrics",
            file=out,
        )
    if not run.artefacts:
        print("  no artefacts found: every gated metric is missing", file=out)
    for n in notes:
        print(f"note: {n}", file=out)
    out.flush()
    if args.plain or not render_rich(checks, out):
        render_plain(checks, out)

    gated = {t.name for t in thresholds.metrics}
    extra = len(set(run.metrics()) - gated)
    regressions = [c for c in checks if c.status == "REGRESSION"]
    missing = sum(c.status == "missing" for c in checks)
    if missing:
        print(f"missing: not in the run = {ABSENT}; null value = {NULL_VALUE}", file=out)
    print(
        f"{len(checks) - missing - len(regressions)} ok, {len(regressions)} regressed, {missing} missing; "
        f"{extra} further metrics recorded without a threshold",
        file=out,
    )
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    data = summary(checks, run, thresholds, args.thresholds, notes)
    summary_path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    print(f"summary written to {summary_path}", file=out)
    for c in regressions:
        print(
            f"GROSS REGRESSION: {c.name} = {num(c.value)}, {c.worse_by:.2f}x worse than the baseline "
            f"{num(c.baseline)} (limit {num(c.limit)}, factor {c.factor:g})",
            file=out,
        )
    return exit_code(checks)


if __name__ == "__main__":
    sys.exit(main())
