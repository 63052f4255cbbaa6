"""Strategy audit: a CSV row for every signal and for near-misses (a candidate turned down by one of
``eclipse.strategy.decision.NEAR_MISS_BLOCKS``), plus the report behind ``eclipse audit report``.

Near-miss rows are throttled per symbol (SCALPER_AUDIT_COOLDOWN_SEC, measured on the injected clock); signal
rows are always written. The file is appended to, with the header written once; every row carries the id of
the run (the writer) that wrote it, in the last column, so the report tells runs apart (files written before
the column existed read as one run without an id) and summarizes the latest run unless told otherwise.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from eclipse.clock import Clock
from eclipse.config.settings import AuditSettings
from eclipse.errors import ConfigError, DataError
from eclipse.strategy.decision import NEAR_MISS_BLOCKS, Decision
from eclipse.strategy.stats import confidence_histogram, render_counts, render_histogram

__all__ = [
    "AUDIT_COLUMNS",
    "COMPONENT_NAMES",
    "NO_RUN_ID",
    "AuditSummary",
    "AuditWriter",
    "audit_runs",
    "new_run_id",
    "read_audit_rows",
    "render_audit_rows",
    "render_audit_summary",
    "select_run",
    "summarize_audit",
    "summarize_audit_rows",
]

COMPONENT_NAMES: tuple[str, ...] = ("mom_fast", "mom_slow", "vwap", "volume", "trend")
AUDIT_COLUMNS: tuple[str, ...] = (
    "ts_ms",
    "time_utc",
    "symbol",
    "kind",
    "side",
    "candidate",
    "confidence",
    "raw_confidence",
    "blocked_by",
    "regime",
    "vol_ratio",
    "vol_multiplier",
    "forced",
    *(f"vote_{name}" for name in COMPONENT_NAMES),
    "explain",
    "run_id",
)
NO_RUN_ID = ""
"""The run id of rows written before the ``run_id`` column existed (they read as one run)."""


def new_run_id() -> str:
    """A fresh run id: 12 random hex digits."""
    return uuid.uuid4().hex[:12]


def utc_text(ts_ms: int) -> str:
    """``YYYY-MM-DD HH:MM`` (UTC) of a Unix-millisecond timestamp."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


class AuditWriter:
    """Appends audit rows for signals and (throttled) near-misses to a CSV file."""

    def __init__(self, path: Path, cooldown_sec: float, clock: Clock, run_id: str | None = None) -> None:
        self.path = Path(path)
        self.run_id = run_id or new_run_id()
        """Written in every row of this writer (default: a fresh :func:`new_run_id`)."""
        self.cooldown_ms = round(cooldown_sec * 1000)
        self._clock = clock
        self._last_near_miss_ms: dict[str, int] = {}
        self._checked = False
        self.rows_written = 0

    @classmethod
    def from_settings(
        cls, settings: AuditSettings, clock: Clock, run_id: str | None = None
    ) -> AuditWriter | None:
        """A writer when SCALPER_AUDIT is on, else None."""
        return cls(settings.path, settings.cooldown_sec, clock, run_id) if settings.enabled else None

    def record(self, decision: Decision) -> bool:
        """Write a row for a signal, or for a near-miss (``Decision.near_miss``, see ``NEAR_MISS_BLOCKS``)
        outside its symbol's cooldown; True if written."""
        if decision.direction != 0:
            kind = "signal"
        elif decision.near_miss:
            now = self._clock.now_ms()
            last = self._last_near_miss_ms.get(decision.symbol)
            if last is not None and now - last < self.cooldown_ms:
                return False
            self._last_near_miss_ms[decision.symbol] = now
            kind = "near_miss"
        else:
            return False
        self._write([*self._row(decision, kind), self.run_id])
        return True

    @staticmethod
    def _row(d: Decision, kind: str) -> list[str]:
        sig = d.signal
        votes = {c.name: c.vote for c in sig.components()}
        return [
            str(d.ts_ms),
            utc_text(d.ts_ms),
            d.symbol,
            kind,
            d.side,
            str(d.candidate),
            f"{d.confidence:.6f}",
            f"{sig.raw_confidence:.6f}",
            d.blocked_by or "",
            sig.regime,
            f"{sig.vol_ratio:.6g}",
            f"{sig.vol_multiplier:.6g}",
            "1" if d.forced else "0",
            *(str(votes[n]) if n in votes else "" for n in COMPONENT_NAMES),
            sig.explain(),
        ]

    def _write(self, row: list[str]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists() or self.path.stat().st_size == 0
            if not new and not self._checked:
                with self.path.open(newline="", encoding="utf-8") as fh:
                    header = next(csv.reader(fh), [])
                if tuple(header) != AUDIT_COLUMNS:
                    raise DataError(f"{self.path}: existing audit file has different columns; move it aside")
            self._checked = True
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            if new:
                writer.writerow(AUDIT_COLUMNS)
            writer.writerow(row)
            with self.path.open("a", newline="", encoding="utf-8") as fh:
                fh.write(buf.getvalue())
        except OSError as exc:  # a path under a file, a directory, no permission, disk full ...
            if isinstance(exc, FileExistsError | NotADirectoryError):
                reason = "a parent of it is a file, not a directory"
            else:
                reason = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
            expected = f"a writable file path (cannot write the audit: {reason})"
            raise ConfigError("SCALPER_AUDIT_PATH", str(self.path), expected) from None
        except (UnicodeDecodeError, csv.Error):
            raise DataError(f"{self.path}: existing file is not an audit CSV; move it aside") from None
        self.rows_written += 1


@dataclass(frozen=True, slots=True)
class AuditSummary:
    """Counts over the rows of one run of an audit file (or of all its runs): rows by kind, side, symbol and
    near-miss block reason; confidence histogram.

    ``near_misses`` and ``top_blocks`` count only near-miss rows whose block is in ``NEAR_MISS_BLOCKS``;
    ``other_near_misses`` counts near-miss rows with any other block (warm-up, stale data ...), which only a
    file written under the older, looser definition contains. ``runs`` lists every run in the file (oldest
    first, with its row count); ``run`` is the one counted (None: all of them).
    """

    path: str
    rows: int
    signals: int
    near_misses: int
    other_near_misses: int
    forced: int
    by_side: tuple[tuple[str, int], ...]
    by_symbol: tuple[tuple[str, int], ...]
    top_blocks: tuple[tuple[str, int], ...]
    confidence_hist: tuple[int, ...]
    first_ts_ms: int | None
    last_ts_ms: int | None
    runs: tuple[tuple[str, int], ...] = ()
    run: str | None = None


def read_audit_rows(path: str | Path) -> list[dict[str, str]]:
    """All rows of an audit CSV as dicts (``run_id`` is :data:`NO_RUN_ID` in a file written before that
    column); DataError naming the file if it is missing or not an audit file."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [
                c
                for c in ("ts_ms", "symbol", "kind", "side", "confidence", "blocked_by", "forced")
                if c not in (reader.fieldnames or [])
            ]
            if missing:
                raise DataError(f"{path}: not an audit file (missing column(s) {', '.join(missing)})")
            rows = list(reader)
    except FileNotFoundError:
        raise DataError(f"{path}: audit file not found (set SCALPER_AUDIT=1 to write one)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    for r in rows:
        r["run_id"] = r.get("run_id") or NO_RUN_ID
    return rows


def _run_label(run_id: str) -> str:
    return run_id or "-"


def audit_runs(rows: list[dict[str, str]]) -> tuple[tuple[str, int], ...]:
    """The runs of ``rows`` in the order they first appear (oldest first), each with its row count."""
    return tuple(Counter(r.get("run_id") or NO_RUN_ID for r in rows).items())


def select_run(
    rows: list[dict[str, str]], run: str | None = None, *, all_runs: bool = False, path: str | Path = "audit"
) -> tuple[list[dict[str, str]], str | None]:
    """The rows of one run and its id: ``run`` (an id, a unique prefix of one, or ``-`` for the rows written
    before run ids), by default the latest (the run of the last row); every row and None with ``all_runs``.
    DataError naming ``path`` and the runs when ``run`` matches none or several."""
    if all_runs or not rows:
        return rows, None
    ids = [rid for rid, _ in audit_runs(rows)]
    if run is None:
        chosen = rows[-1].get("run_id") or NO_RUN_ID
    elif run in ids or run == "-":
        chosen = NO_RUN_ID if run == "-" else run
    else:
        matches = [rid for rid in ids if rid and rid.startswith(run)]
        if len(matches) != 1:
            known = ", ".join(_run_label(rid) for rid in ids)
            what = "several runs" if matches else "no run"
            raise DataError(f"{path}: {what} match {run!r} (runs, oldest first: {known})")
        chosen = matches[0]
    picked = [r for r in rows if (r.get("run_id") or NO_RUN_ID) == chosen]
    if not picked:
        known = ", ".join(_run_label(rid) for rid in ids)
        raise DataError(f"{path}: no run {run!r} (runs, oldest first: {known})")
    return picked, chosen


def summarize_audit(path: str | Path, run: str | None = None, *, all_runs: bool = False) -> AuditSummary:
    """Read an audit CSV and count the rows of one run (:func:`select_run`: the latest by default) or of all
    runs; DataError naming the file on any problem."""
    return summarize_audit_rows(path, read_audit_rows(path), run, all_runs=all_runs)


def summarize_audit_rows(
    path: str | Path, all_rows: list[dict[str, str]], run: str | None = None, *, all_runs: bool = False
) -> AuditSummary:
    """:func:`summarize_audit` of rows already read from ``path``."""
    p = Path(path)
    rows, chosen = select_run(all_rows, run, all_runs=all_runs, path=p)
    try:
        confs = [float(r["confidence"]) for r in rows]
        stamps = [int(r["ts_ms"]) for r in rows]
    except (TypeError, ValueError):
        raise DataError(f"{p}: a row has a bad ts_ms or confidence") from None
    sides = Counter(r["side"] for r in rows if r["kind"] == "signal")
    near = [r for r in rows if r["kind"] == "near_miss"]
    blocks = Counter(r["blocked_by"] for r in near if r["blocked_by"] in NEAR_MISS_BLOCKS)
    return AuditSummary(
        path=str(p),
        rows=len(rows),
        signals=sum(r["kind"] == "signal" for r in rows),
        near_misses=blocks.total(),
        other_near_misses=len(near) - blocks.total(),
        forced=sum(r["forced"] == "1" for r in rows),
        by_side=tuple(sorted(sides.items())),
        by_symbol=tuple(sorted(Counter(r["symbol"] for r in rows).items())),
        top_blocks=tuple(blocks.most_common(10)),
        confidence_hist=confidence_histogram(confs),
        first_ts_ms=min(stamps, default=None),
        last_ts_ms=max(stamps, default=None),
        runs=audit_runs(all_rows),
        run=chosen,
    )


_RUNS_LISTED = 10


def _runs_text(s: AuditSummary) -> list[str]:
    """What the summary counts, when the file holds runs to tell apart."""
    if not s.runs:
        return []
    total = sum(n for _, n in s.runs)
    if len(s.runs) == 1:
        rid = s.runs[0][0]
        return [f"run: {rid} (the only run in the file)" if rid else "run: - (written before run ids)"]
    shown = s.runs[-_RUNS_LISTED:]
    earlier = f"{len(s.runs) - len(shown)} earlier, " if len(s.runs) > len(shown) else ""
    listing = ", ".join(f"{_run_label(rid)} ({n} rows)" for rid, n in shown)
    lines = [f"runs: {len(s.runs)} in the file, oldest first: {earlier}{listing}"]
    if s.run is None:
        lines.append(f"counting all {len(s.runs)} runs ({total} rows)")
    else:
        latest = " latest" if s.run == s.runs[-1][0] else ""
        lines.append(
            f"counting only the{latest} run {_run_label(s.run)} ({s.rows} of {total} rows); "
            "--run ID or --all-runs for others"
        )
    return lines


def render_audit_summary(s: AuditSummary) -> str:
    """The summary as text."""
    span = "-"
    if s.first_ts_ms is not None and s.last_ts_ms is not None:
        span = f"{utc_text(s.first_ts_ms)} .. {utc_text(s.last_ts_ms)} UTC"
    sides = ", ".join(f"{k}={n}" for k, n in s.by_side) or "none"
    lines = [
        f"audit {s.path}: {s.rows} rows ({span})",
        *_runs_text(s),
        f"signals: {s.signals} ({sides}); near-misses: {s.near_misses}; forced: {s.forced}",
    ]
    if s.other_near_misses:
        lines.append(
            f"ignored: {s.other_near_misses} near-miss row(s) with a non-decision block (warm-up, stale data "
            "...), written by an older version"
        )
    lines += [
        "symbols:",
        render_counts(s.by_symbol),
        "top block reasons (near-misses):",
        render_counts(s.top_blocks),
        "confidence histogram (all rows):",
        render_histogram(s.confidence_hist),
    ]
    return "\n".join(lines)


def render_audit_rows(rows: list[dict[str, str]], limit: int = 20) -> str:
    """The last ``limit`` rows as a compact table (time, symbol, kind, side, confidence, block)."""
    shown = rows[-limit:] if limit > 0 else []
    lines = [f"last {len(shown)} of {len(rows)} rows:"] if shown else []
    for r in shown:
        try:
            when = utc_text(int(r["ts_ms"]))
        except (TypeError, ValueError):
            when = r.get("ts_ms") or "?"
        lines.append(
            f"  {when}  {r.get('symbol', ''):<10} {r.get('kind', ''):<9} {r.get('side', ''):<5} "
            f"{r.get('confidence', ''):>8}  {r.get('blocked_by') or '-'}"
        )
    return "\n".join(lines)
