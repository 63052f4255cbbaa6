"""A run directory read without its daemon: the journal (read-only, never blocking a writer) and the run
summary, plus the probes that tell whether a daemon still runs there (``daemon.lock``'s PID, ``status.url``).

Layout of a run directory (``eclipse run``, default ``./eclipse-run``): ``journal.sqlite`` (the execution
journal), ``telemetry.jsonl``, ``summary.json`` (written at stop), ``daemon.lock`` (the daemon's PID while it
runs) and ``status.url`` (the status server's base URL while it serves).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final

from eclipse.contracts import ProtectionState
from eclipse.errors import EclipseError
from eclipse.execution.journal.state import JournalState, OrderPhase
from eclipse.execution.journal.store import JournalError, JournalReader
from eclipse.runtime.snapshot import FillRow, OrderRow

__all__ = [
    "DEFAULT_RUN_DIR",
    "JOURNAL_FILE",
    "LOCK_FILE",
    "STATUS_URL_FILE",
    "SUMMARY_FILE",
    "TELEMETRY_FILE",
    "OfflinePosition",
    "OfflineStatus",
    "daemon_pid",
    "offline_status",
    "pid_alive",
    "read_status_url",
]

DEFAULT_RUN_DIR: Final = Path("eclipse-run")
JOURNAL_FILE: Final = "journal.sqlite"
TELEMETRY_FILE: Final = "telemetry.jsonl"
SUMMARY_FILE: Final = "summary.json"
LOCK_FILE: Final = "daemon.lock"
STATUS_URL_FILE: Final = "status.url"
_RECENT_FILLS = 10


@dataclass(frozen=True, slots=True)
class OfflinePosition:
    """An open position as the journal's fills make it (no mark: nothing prices it offline)."""

    symbol: str
    side: str  # "long" | "short"
    qty: float
    entry_price: float
    realized_pnl: float
    fees: float
    opened_ms: int | None
    updated_ms: int
    protected: bool
    """The journal's last protection word for the symbol is ``placed``."""


@dataclass(frozen=True, slots=True)
class OfflineStatus:
    """What a run directory says without its daemon.

    ``daemon_pid``: a live process holds ``daemon.lock`` (None: no daemon running). ``journal_error`` /
    ``summary_error``: why a file present could not be read. ``open_orders``: orders the journal does not
    know to be terminal (``state``: their phase, or the venue status when acknowledged).
    """

    run_dir: str
    daemon_pid: int | None
    status_url: str | None
    journal: str | None
    journal_error: str | None
    events: int
    last_event_ms: int | None
    posture: str | None
    positions: tuple[OfflinePosition, ...]
    open_orders: tuple[OrderRow, ...]
    fills: int
    recent_fills: tuple[FillRow, ...]
    """The last fills, oldest first."""
    realized_pnl: float
    fees: float
    duplicate_fills: int
    anomalies: int
    summary: Mapping[str, object] | None
    summary_error: str | None
    knobs: Mapping[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        """A daemon process holds the run directory."""
        return self.daemon_pid is not None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (``running`` included)."""
        out = asdict(self)
        out["running"] = self.running
        return out


def pid_alive(pid: int) -> bool:
    """A process ``pid`` exists (signal 0 probes it without touching it)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def daemon_pid(run_dir: Path) -> int | None:
    """The PID in ``daemon.lock`` when that process is alive, else None (the file is only read: a reader
    never takes the daemon's lock)."""
    try:
        text = (run_dir / LOCK_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    token = text.split()[0] if text.split() else ""
    if not token.isdigit():
        return None
    pid = int(token)
    return pid if pid_alive(pid) else None


def read_status_url(run_dir: Path) -> str | None:
    """The status server's base URL from ``status.url`` (None when absent or not an http URL)."""
    try:
        text = (run_dir / STATUS_URL_FILE).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    url = text.splitlines()[0].strip() if text else ""
    return url.rstrip("/") if url.startswith(("http://", "https://")) else None


def _read_summary(path: Path) -> tuple[Mapping[str, object] | None, str | None]:
    if not path.is_file():
        return None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"{path}: not readable JSON ({' '.join(str(exc).split())})"
    if not isinstance(data, dict):
        return None, f"{path}: expected a JSON object, got {type(data).__name__}"
    return data, None


def offline_status(run_dir: Path) -> OfflineStatus:
    """Read ``run_dir``'s journal (read-only) and summary. :class:`EclipseError` when the directory has
    neither, or when the only one present cannot be read."""
    if not run_dir.is_dir():
        raise EclipseError(f"{run_dir}: no such run directory (eclipse run makes one; default ./eclipse-run)")
    journal_path = run_dir / JOURNAL_FILE
    summary_path = run_dir / SUMMARY_FILE
    has_journal = journal_path.is_file() and journal_path.stat().st_size > 0
    if not has_journal and not summary_path.is_file():
        raise EclipseError(
            f"{run_dir}: neither {JOURNAL_FILE} nor {SUMMARY_FILE} here; not an eclipse run directory"
            " (point --dir at one, or --url at a running daemon)"
        )
    summary, summary_error = _read_summary(summary_path)
    state = JournalState()
    last_ms: int | None = None
    journal_error: str | None = None
    if has_journal:
        try:
            with JournalReader(journal_path) as reader:
                for rec in reader.records():
                    state.apply(rec)
                    last_ms = rec.ts_ms
        except JournalError as exc:
            journal_error = str(exc)
    if (journal_error or not has_journal) and summary is None:
        raise EclipseError(journal_error or summary_error or f"{run_dir}: nothing readable")
    kinds = {cid: o.kind.value for cid, o in state.orders.items()}
    positions = tuple(
        OfflinePosition(
            symbol=p.symbol,
            side="long" if p.qty > 0 else "short",
            qty=float(abs(p.qty)),
            entry_price=float(p.avg_entry),
            realized_pnl=float(p.realized_pnl),
            fees=float(p.fees),
            opened_ms=p.opened_ms,
            updated_ms=p.updated_ms,
            protected=(
                (ev := state.protection.get(p.symbol)) is not None and ev.state is ProtectionState.PLACED
            ),
        )
        for p in sorted(state.positions.values(), key=lambda p: p.symbol)
        if p.qty != 0
    )
    open_orders = tuple(
        OrderRow(
            ts_ms=o.submitted_ms,
            symbol=o.symbol,
            client_order_id=o.client_order_id,
            kind=o.kind.value,
            side=o.side.value,
            type=o.type.value,
            qty=float(o.qty) if o.qty is not None else 0.0,
            state=o.status.value if o.phase is OrderPhase.ACKED and o.status is not None else o.phase.value,
        )
        for o in state.in_flight()
    )
    recent = list(state.fills.values())[-_RECENT_FILLS:]
    recent_fills = tuple(
        FillRow(
            ts_ms=r.fill.ts_ms,
            symbol=r.fill.symbol,
            side=r.fill.side.value,
            qty=float(r.fill.qty),
            price=float(r.fill.price),
            fee=float(r.fill.fee),
            kind=kinds.get(r.client_order_id, "?"),
        )
        for r in recent
    )
    return OfflineStatus(
        run_dir=str(run_dir),
        daemon_pid=daemon_pid(run_dir),
        status_url=read_status_url(run_dir),
        journal=str(journal_path) if has_journal and journal_error is None else None,
        journal_error=journal_error,
        events=state.last_seq,
        last_event_ms=last_ms,
        posture=state.posture,
        positions=positions,
        open_orders=open_orders,
        fills=len(state.fills),
        recent_fills=recent_fills,
        realized_pnl=float(sum((p.realized_pnl for p in state.positions.values()), start=0)),
        fees=float(sum((p.fees for p in state.positions.values()), start=0)),
        duplicate_fills=state.duplicate_fills,
        anomalies=len(state.anomalies),
        summary=summary,
        summary_error=summary_error,
        knobs=dict(state.knobs),
    )
