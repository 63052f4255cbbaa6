"""The daemon's terminal status: a live view that redraws in place on a terminal (:class:`LiveDisplay`, rich),
plain log lines without one (:class:`PlainStatusLog`: CI, systemd), and the run summary printed at stop.

Times shown are market time (``now_ms``, the venue's or the SimClock's) in UTC. Drawdowns are fractions
(0.05 = 5 %), shown as percentages. Nothing here reads the wall clock: :class:`LiveDisplay` throttles its
redraws with an injected :class:`~eclipse.clock.Clock`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol, Self, TextIO, TypeVar

from rich.console import Console, Group, RenderableType
from rich.constrain import Constrain
from rich.live import Live
from rich.table import Table
from rich.text import Text

from eclipse.clock import Clock, LiveClock
from eclipse.runtime.snapshot import FillRow, LoopRow, OrderRow, PositionRow, SignalRow, StatusSnapshot

__all__ = [
    "LiveDisplay",
    "PlainStatusLog",
    "StatusDisplay",
    "make_display",
    "render_status",
    "status_line",
]

MAX_POSITIONS = 6
MAX_SIGNALS = 6
MAX_ORDERS = 6
MAX_FILLS = 6
MAX_BLOCKED = 4
MAX_LOOPS = 6
SUMMARY_WIDTH = 100

_NA = "n/a"
_R = TypeVar("_R", SignalRow, OrderRow, FillRow)
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

_POSTURE_STYLE = {
    "green": "bold green",
    "yellow": "bold yellow",
    "orange": "bold dark_orange",
    "red_lock": "bold white on red",
    "post_red_warmup": "bold cyan",
}
_LOOP_STYLE = {"running": "green", "restarting": "yellow", "stopped": "dim", "failed": "bold red"}
_BAD_ORDER_STATES = ("reject", "fail", "expire", "cancel", "unknown")


# --- formatting ---------------------------------------------------------------------------------------------
def _utc(ms: int | None, *, seconds: bool = True) -> str:
    """``ms`` as ``YYYY-mm-dd HH:MM[:SS] UTC`` (n/a for None)."""
    if ms is None:
        return _NA
    fmt = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(fmt)


def _hms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%H:%M:%S")


def _num(x: float | None) -> str:
    """A price or quantity with about 7 significant digits and no trailing zeros."""
    if x is None:
        return "-"
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    mag = abs(x)
    if mag >= 1e12 or mag < 1e-9:
        return f"{x:.4g}"
    digits = min(10, max(0, 6 - math.floor(math.log10(mag))))
    text = f"{x:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _money(x: float, *, signed: bool = False) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:+,.2f}" if signed else f"{x:,.2f}"


def _ms(x: float | None) -> str:
    return _NA if x is None else f"{x:.0f}"


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.2f}%"


def _sign_style(x: float) -> str:
    return "green" if x > 0 else "red" if x < 0 else ""


def _posture_style(posture: str) -> str:
    return _POSTURE_STYLE.get(posture.lower(), "bold")


def _plain(text: str) -> str:
    """``text`` without ANSI escapes or control characters (newlines and tabs become spaces)."""
    return _CONTROL.sub(" ", _ANSI.sub("", text))


# --- the live layout ----------------------------------------------------------------------------------------
def _header(snap: StatusSnapshot) -> list[Text]:
    health = (
        Text("health OK", style="bold green")
        if snap.healthy
        else Text(f"UNHEALTHY: {snap.health_reason or '?'}", style="bold white on red")
    )
    line1 = Text.assemble(
        ("ECLIPSE ", "bold"),
        (snap.mode.upper(), "bold magenta"),
        f" @ {snap.venue}  clock {snap.clock}  {_utc(snap.now_ms)}  posture ",
        (snap.posture, _posture_style(snap.posture)),
        f"  debt {snap.debt:.1f}",
    )
    line2 = Text.assemble(
        f"equity {_money(snap.equity)}  net ",
        (_money(snap.net_pnl, signed=True), f"bold {_sign_style(snap.net_pnl)}".strip()),
        " (realized ",
        (_money(snap.realized_pnl, signed=True), _sign_style(snap.realized_pnl)),
        f"  fees {_money(snap.fees)}  unrealized ",
        (_money(snap.unrealized_pnl, signed=True), _sign_style(snap.unrealized_pnl)),
        ")  dd ",
        (_pct(snap.drawdown), "red" if snap.drawdown > 0 else ""),
    )
    line3 = Text(
        f"bars {snap.bars}  trades {snap.trades} ({snap.wins} won)"
        f"  lag p50/p95 {_ms(snap.bar_lag_ms_p50)}/{_ms(snap.bar_lag_ms_p95)} ms"
        f"  order path p95 {_ms(snap.order_path_us_p95)} us"
    )
    entries_style = "green" if snap.entries == "enabled" else "bold yellow"
    line4 = Text.assemble(health, "  entries ", (snap.entries, entries_style))
    lines = [line1, line2, line3, line4]
    for line in lines:
        line.no_wrap = True
        line.overflow = "ellipsis"
    return lines


def _table(title: str, *, expand: bool = False) -> Table:
    return Table(
        title=title,
        title_justify="left",
        title_style="bold cyan",
        box=None,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        header_style="bold dim",
        expand=expand,
    )


def _col(table: Table, name: str, *, right: bool = False, max_width: int | None = None) -> None:
    table.add_column(
        name, justify="right" if right else "left", no_wrap=True, overflow="ellipsis", max_width=max_width
    )


def _row(table: Table, *cells: str | Text) -> None:
    """Add a row; plain strings become Text so venue or strategy text is never read as rich markup."""
    table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells))


def _latest(rows: Sequence[_R], n: int) -> list[_R]:
    """The ``n`` newest rows, newest first (whatever order the snapshot keeps them in)."""
    return sorted(rows, key=lambda r: r.ts_ms, reverse=True)[:n]


def _none(title: str, what: str) -> Text:
    return Text.assemble((title, "bold cyan"), (f"  {what}", "dim"))


def _more(table: Table, extra: int) -> None:
    if extra > 0:
        table.add_row(Text(f"+{extra} more", style="dim"))


def _positions(rows: Sequence[PositionRow]) -> RenderableType:
    if not rows:
        return _none("positions", "flat")
    t = _table("positions")
    for name, right in (("symbol", False), ("side", False), ("qty", True), ("entry", True), ("mark", True)):
        _col(t, name, right=right, max_width=18 if name == "symbol" else None)
    for name in ("uPnL", "stop", "tp"):
        _col(t, name, right=True)
    _col(t, "protected")
    for p in rows[:MAX_POSITIONS]:
        _row(
            t,
            p.symbol,
            Text(p.side, style="green" if p.side == "long" else "red"),
            _num(p.qty),
            _num(p.entry_price),
            _num(p.mark),
            Text(_money(p.unrealized, signed=True), style=_sign_style(p.unrealized)),
            _num(p.stop),
            _num(p.take_profit),
            Text("yes", style="green") if p.protected else Text("NO", style="bold white on red"),
        )
    _more(t, len(rows) - MAX_POSITIONS)
    return t


def _signals(rows: Sequence[SignalRow]) -> RenderableType:
    if not rows:
        return _none("last signals", "none yet")
    t = _table("last signals", expand=True)
    _col(t, "time")
    _col(t, "symbol", max_width=16)
    _col(t, "side")
    _col(t, "conf", right=True)
    _col(t, "taken / blocked", max_width=24)
    t.add_column("why", no_wrap=True, overflow="ellipsis", ratio=1)
    for s in _latest(rows, MAX_SIGNALS):
        verdict = Text("taken", style="green") if s.blocked_by is None else Text(s.blocked_by, style="yellow")
        _row(t, _hms(s.ts_ms), s.symbol, s.side, f"{s.confidence:.2f}", verdict, s.explanation)
    return t


def _orders(rows: Sequence[OrderRow]) -> RenderableType:
    if not rows:
        return _none("recent orders", "none yet")
    t = _table("recent orders")
    for name in ("time", "symbol", "kind", "side", "type"):
        _col(t, name, max_width=16 if name == "symbol" else 12)
    _col(t, "qty", right=True)
    _col(t, "state", max_width=16)
    for o in _latest(rows, MAX_ORDERS):
        state = o.state.lower()
        style = "red" if any(b in state for b in _BAD_ORDER_STATES) else "green" if "fill" in state else ""
        _row(t, _hms(o.ts_ms), o.symbol, o.kind, o.side, o.type, _num(o.qty), Text(o.state, style=style))
    return t


def _fills(rows: Sequence[FillRow]) -> RenderableType:
    if not rows:
        return _none("recent fills", "none yet")
    t = _table("recent fills")
    for name in ("time", "symbol", "kind", "side"):
        _col(t, name, max_width=16 if name == "symbol" else 12)
    for name in ("qty", "price", "fee"):
        _col(t, name, right=True)
    for f in _latest(rows, MAX_FILLS):
        _row(t, _hms(f.ts_ms), f.symbol, f.kind, f.side, _num(f.qty), _num(f.price), _num(f.fee))
    return t


def _blocked(rows: Sequence[tuple[str, int]]) -> RenderableType:
    if not rows:
        return _none("blocked entries", "none")
    t = _table("blocked entries")
    _col(t, "reason", max_width=26)
    _col(t, "count", right=True)
    _col(t, "", max_width=12)
    top = max((n for _, n in rows), default=0) or 1
    for reason, n in rows[:MAX_BLOCKED]:
        _row(t, reason, str(n), Text("█" * max(1, round(12 * n / top)), style="yellow"))
    _more(t, len(rows) - MAX_BLOCKED)
    return t


def _loops(rows: Sequence[LoopRow]) -> RenderableType:
    if not rows:
        return _none("loops", "none")
    t = _table("loops")
    _col(t, "name", max_width=16)
    _col(t, "state")
    _col(t, "crashes", right=True)
    for lp in rows[:MAX_LOOPS]:
        crashes = Text(str(lp.crashes), style="red" if lp.crashes else "")
        _row(t, lp.name, Text(lp.state, style=_LOOP_STYLE.get(lp.state, "")), crashes)
    _more(t, len(rows) - MAX_LOOPS)
    return t


def render_status(snap: StatusSnapshot, width: int = 100) -> RenderableType:
    """The status as one compact renderable at most ``width`` columns wide (about 40 lines at most): a
    three-line header, then positions, last signals, recent orders and fills, blocked entries and loops."""
    bottom = Table.grid(padding=(0, 4))
    bottom.add_column()
    bottom.add_column()
    bottom.add_row(_blocked(snap.blocked), _loops(snap.loops))
    parts: list[RenderableType] = [
        *_header(snap),
        _positions(snap.positions),
        _signals(snap.signals),
        _orders(snap.orders),
        _fills(snap.fills),
        bottom,
    ]
    return Constrain(Group(*parts), width=width)


# --- the two displays ---------------------------------------------------------------------------------------
class StatusDisplay(Protocol):
    """What the daemon drives: :class:`LiveDisplay` on a terminal, :class:`PlainStatusLog` otherwise."""

    def update(self, snap: StatusSnapshot) -> None:
        """Show ``snap`` (the display decides whether to draw now)."""
        ...

    def event_line(self, text: str, ts_ms: int | None = None) -> None:
        """Log one event (entry, fill, exit, stop placed) as a line."""
        ...

    def stop(self) -> None:
        """Draw the latest status and release the output."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class LiveDisplay:
    """The status redrawn in place on a terminal (``rich.live.Live``, not full screen, stdout not redirected,
    left on screen at stop). :meth:`update` redraws at most ``refresh_per_second`` times a second of
    ``clock`` time; a snapshot arriving sooner is kept and drawn by a later update or :meth:`stop`."""

    def __init__(
        self,
        console: Console,
        *,
        refresh_per_second: float = 4.0,
        clock: Clock | None = None,
        width: int = 100,
    ) -> None:
        if not refresh_per_second > 0:
            raise ValueError(f"refresh_per_second must be > 0, got {refresh_per_second}")
        self._console = console
        self._clock: Clock = clock if clock is not None else LiveClock()
        self._min_gap_ms = 1000.0 / refresh_per_second
        self._width = width
        self._live = Live(
            Text("eclipse: waiting for the first status", style="dim"),
            console=console,
            screen=False,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._started = False
        self._stopped = False
        self._last_draw_ms: int | None = None
        self._pending: StatusSnapshot | None = None
        self._last_now_ms: int | None = None
        self._redraws = 0

    @property
    def redraws(self) -> int:
        """How many times the status was drawn."""
        return self._redraws

    def start(self) -> None:
        """Start the live area (done by ``with`` and by the first :meth:`update`)."""
        if not self._started:
            self._started = True
            self._live.start(refresh=False)

    def update(self, snap: StatusSnapshot) -> None:
        """Redraw with ``snap`` unless the last redraw was less than 1/refresh_per_second ago."""
        if self._stopped:
            return
        self.start()
        self._last_now_ms = snap.now_ms
        now = self._clock.now_ms()
        if self._last_draw_ms is not None and now - self._last_draw_ms < self._min_gap_ms:
            self._pending = snap
            return
        self._draw(snap, now)

    def event_line(self, text: str, ts_ms: int | None = None) -> None:
        """Print one event line above the live area (``ts_ms``: market time; default the last snapshot's)."""
        when = ts_ms if ts_ms is not None else self._last_now_ms
        line = _plain(text) if when is None else f"{_utc(when)}  {_plain(text)}"
        self._console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)

    def stop(self) -> None:
        """Draw the pending status, if any, and stop the live area (idempotent)."""
        if self._stopped:
            return
        if self._pending is not None:
            self._draw(self._pending, self._clock.now_ms())
        self._stopped = True
        if self._started:
            self._live.stop()

    def _draw(self, snap: StatusSnapshot, now_ms: int) -> None:
        self._pending = None
        self._last_draw_ms = now_ms
        self._redraws += 1
        self._live.update(render_status(snap, width=min(self._width, self._console.width)), refresh=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _position_brief(p: PositionRow) -> str:
    text = f"{p.symbol} {p.side} {_num(p.qty)}@{_num(p.entry_price)} stop {_num(p.stop)}"
    return text if p.protected else f"{text} UNPROTECTED"


def status_line(snap: StatusSnapshot) -> str:
    """One plain line of status (no ANSI), as :class:`PlainStatusLog` writes it."""
    pos = ", ".join(_position_brief(p) for p in snap.positions) or "flat"
    parts = [
        _utc(snap.now_ms, seconds=False),
        f"bars {snap.bars}",
        f"pos {pos}",
        f"net {snap.net_pnl:+.2f}",
        f"lag p95 {_ms(snap.bar_lag_ms_p95)} ms",
        f"path p95 {_ms(snap.order_path_us_p95)} us",
        f"posture {snap.posture}",
        f"debt {snap.debt:.1f}",
        f"entries {snap.entries}",
    ]
    if not snap.healthy:
        parts.append(f"UNHEALTHY: {snap.health_reason or '?'}")
    return _plain("  ".join(parts))


def _change_key(snap: StatusSnapshot) -> tuple[object, ...]:
    """What makes a status line worth writing at once: posture, entries, health, positions and protection,
    loop states."""
    return (
        snap.posture,
        snap.entries,
        snap.healthy,
        snap.health_reason,
        tuple((p.symbol, p.side, p.qty, p.stop, p.take_profit, p.protected) for p in snap.positions),
        tuple((lp.name, lp.state) for lp in snap.loops),
    )


class PlainStatusLog:
    """Status as plain lines for a non-terminal output (CI, systemd journal): :meth:`update` writes a line
    when something meaningful changed (posture, entries, health, positions or their stops, loop states) or
    when ``interval_ms`` of market time passed since the last line."""

    def __init__(self, out: TextIO, *, interval_ms: int = 60_000) -> None:
        if interval_ms <= 0:
            raise ValueError(f"interval_ms must be > 0, got {interval_ms}")
        self._out = out
        self._interval_ms = interval_ms
        self._last_key: tuple[object, ...] | None = None
        self._last_line_ms: int | None = None
        self._last_now_ms: int | None = None
        self._pending: StatusSnapshot | None = None
        self._lines = 0

    @property
    def lines(self) -> int:
        """How many status lines were written (event lines not counted)."""
        return self._lines

    def update(self, snap: StatusSnapshot) -> None:
        """Write a status line for ``snap`` if it changed meaningfully or the interval passed."""
        self._last_now_ms = snap.now_ms
        key = _change_key(snap)
        last = self._last_line_ms
        due = last is None or snap.now_ms - last >= self._interval_ms or snap.now_ms < last
        if key != self._last_key or due:
            self._write_status(snap, key)
        else:
            self._pending = snap

    def event_line(self, text: str, ts_ms: int | None = None) -> None:
        """Write one event line (``ts_ms``: market time; default the last snapshot's)."""
        when = ts_ms if ts_ms is not None else self._last_now_ms
        self._write(_plain(text) if when is None else f"{_utc(when)}  {_plain(text)}")

    def stop(self) -> None:
        """Write the latest status if it was held back by the throttle."""
        if self._pending is not None:
            self._write_status(self._pending, _change_key(self._pending))

    def _write_status(self, snap: StatusSnapshot, key: tuple[object, ...]) -> None:
        self._pending = None
        self._last_key = key
        self._last_line_ms = snap.now_ms
        self._lines += 1
        self._write(status_line(snap))

    def _write(self, line: str) -> None:
        self._out.write(line + "\n")
        self._out.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _isatty(out: TextIO) -> bool:
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def make_display(
    out: TextIO,
    *,
    force_plain: bool = False,
    refresh_per_second: float = 4.0,
    interval_ms: int = 60_000,
    clock: Clock | None = None,
) -> LiveDisplay | PlainStatusLog:
    """A :class:`LiveDisplay` when ``out`` is a terminal (and not ``force_plain``), else a
    :class:`PlainStatusLog`."""
    if not force_plain and _isatty(out):
        return LiveDisplay(Console(file=out), refresh_per_second=refresh_per_second, clock=clock)
    return PlainStatusLog(out, interval_ms=interval_ms)


# --- the run summary ----------------------------------------------------------------------------------------
