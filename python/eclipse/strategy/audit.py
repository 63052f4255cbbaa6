"""Strategy audit: a CSV row for every signal and for near-misses (a candidate turned down by one of
``eclipse.strategy.decision.NEAR_MISS_BLOCKS``), plus the report behind ``eclipse audit report``.

Near-miss rows are throttled per symbol (SCALPER_AUDIT_COOLDOWN_SEC, measured on the injected clock); signal
rows are always written. The file is appended to, with the header written once.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from eclipse.clock import Clock
from eclipse.config.settings import AuditSettings
from eclipse.errors import DataError
from eclipse.strategy.decision import NEAR_MISS_BLOCKS, Decision
from eclipse.strategy.stats import confidence_histogram, render_counts, render_histogram

__all__ = [
    "AUDIT_COLUMNS",
    "COMPONENT_NAMES",
    "AuditSummary",
    "AuditWriter",
    "read_audit_rows",
    "render_audit_rows",
    "render_audit_summary",
    "summarize_audit",
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
)


def utc_text(ts_ms: int) -> str:
    """``YYYY-MM-DD HH:MM`` (UTC) of a Unix-millisecond timestamp."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


class AuditWriter:
    """Appends audit rows for signals and (throttled) near-misses to a CSV file."""

    def __init__(self, path: Path, cooldown_sec: float, clock: Clock) -> None:
        self.path = Path(path)
        self.cooldown_ms = round(cooldown_sec * 1000)
        self._clock = clock
        self._last_near_miss_ms: dict[str, int] = {}
        self._checked = False
        self.rows_written = 0

    @classmethod
    def from_settings(cls, settings: AuditSettings, clock: Clock) -> AuditWriter | None:
        """A writer when SCALPER_AUDIT is on, else None."""
        return cls(settings.path, settings.cooldown_sec, clock) if settings.enabled else None

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
        self._write(self._row(decision, kind))
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
        self.rows_written += 1


@dataclass(frozen=True, slots=True)
class AuditSummary:
    """Counts over an audit file: rows by kind, side, symbol and near-miss block reason; confidence histogram.

    ``near_misses`` and ``top_blocks`` count only near-miss rows whose block is in ``NEAR_MISS_BLOCKS``;
    ``other_near_misses`` counts near-miss rows with any other block (warm-up, stale data ...), which only a
    file written under the older, looser definition contains.
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


def read_audit_rows(path: str | Path) -> list[dict[str, str]]:
    """All rows of an audit CSV as dicts; DataError naming the file if it is missing or not an audit file."""
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
            return list(reader)
    except FileNotFoundError:
        raise DataError(f"{path}: audit file not found (set SCALPER_AUDIT=1 to write one)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def summarize_audit(path: str | Path) -> AuditSummary:
    """Read an audit CSV and count its rows; DataError naming the file on any problem."""
    p = Path(path)
    rows = read_audit_rows(p)
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
    )


def render_audit_summary(s: AuditSummary) -> str:
    """The summary as text."""
    span = "-"
    if s.first_ts_ms is not None and s.last_ts_ms is not None:
        span = f"{utc_text(s.first_ts_ms)} .. {utc_text(s.last_ts_ms)} UTC"
    sides = ", ".join(f"{k}={n}" for k, n in s.by_side) or "none"
    lines = [
        f"audit {s.path}: {s.rows} rows ({span})",
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
