"""The daemon's terminal status: the rich layout, the live redraw throttle, the plain log, the run summary."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest
from rich.console import Console

from eclipse.clock import SimClock
from eclipse.runtime.display import (
    LiveDisplay,
    PlainStatusLog,
    make_display,
    render_status,
    status_line,
)
from eclipse.runtime.snapshot import FillRow, LoopRow, OrderRow, PositionRow, SignalRow, StatusSnapshot
from eclipse.runtime.summary_text import render_summary, render_summary_markdown

T0 = 1_641_731_640_000  # 2022-01-09 12:34:00 UTC
MIN = 60_000
ANSI = re.compile(r"\x1b\[")


def _snap(**over: object) -> StatusSnapshot:
    base = StatusSnapshot(
        mode="paper",
        venue="binanceusdm",
        clock="wall",
        run_dir="/tmp/run",
        started_ms=T0 - 60 * MIN,
        now_ms=T0,
        wall_ms=T0,
        posture="GREEN",
        entries="enabled",
        equity=10_000.0,
        realized_pnl=0.5,
        fees=1.73,
        unrealized_pnl=0.0,
        net_pnl=-1.23,
        drawdown=0.0,
        bars=1234,
        last_bar_ms=T0,
        bar_lag_ms_p50=1.0,
        bar_lag_ms_p95=3.0,
        order_path_us_p50=120.0,
        order_path_us_p95=180.0,
        healthy=True,
        health_reason="",
    )
    return dataclasses.replace(base, **over)  # type: ignore[arg-type]


BTC = PositionRow("BTC/USDT:USDT", "long", 0.012, 40000.0, 40100.5, 1.2, 39840.0, 40500.0, True, T0 - MIN)
SHIB = PositionRow(
    "1000SHIB/USDT:USDT", "short", 120000.0, 0.0000123, 0.0000124, -0.01, None, None, False, T0
)


def _busy() -> StatusSnapshot:
    """A snapshot with more rows than the layout shows (9 signals, 8 orders, 8 fills, 6 blocked reasons)."""
    return _snap(
        posture="YELLOW",
        entries="paused: operator",
        healthy=False,
        health_reason="bar lag p95 above 2000 ms",
        equity=10_234.5,
        realized_pnl=12.3,
        unrealized_pnl=-3.2,
        net_pnl=7.37,
        drawdown=0.012,
        trades=5,
        wins=3,
        positions=(BTC, SHIB),
        signals=tuple(
            SignalRow(
                T0 - (8 - i) * MIN,  # oldest first, as the daemon appends them
                "BTC/USDT:USDT",
                "long",
                0.5 + i / 100,
                None if i % 2 else "cooldown_active",
                f"sig{i} ema cross up, rsi 62, atr 1.3x, volume spike 2.1x over the 20-bar mean " + "x" * 80,
            )
            for i in range(9)
        ),
        orders=tuple(
            OrderRow(
                T0 - (7 - i) * 1000,
                "BTC/USDT:USDT",
                f"c{i}",
                "stop_loss",
                "sell",
                "stop_market",
                0.012,
                "rejected" if i == 7 else "filled",
            )
            for i in range(8)
        ),
        fills=tuple(
            FillRow(T0 - (7 - i) * 1000, "BTC/USDT:USDT", "buy", 0.012, 40000.0 + i, 0.0192, "entry")
            for i in range(8)
        ),
        blocked=(
            ("cooldown_active", 12),
            ("spread_too_wide", 5),
            ("posture_yellow", 3),
            ("max_positions", 2),
            ("daily_loss_limit", 1),
            ("stale_book", 1),
        ),
        loops=(
            LoopRow("market", "running", 0, T0),
            LoopRow("engine", "restarting", 2, T0),
            LoopRow("reconcile", "running", 0, T0),
            LoopRow("status", "stopped", 0, None),
        ),
    )


def _text(renderable: object, width: int = 100) -> str:
    console = Console(record=True, width=width, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def _styles_of(snap: StatusSnapshot, needle: str) -> list[str]:
    """Styles of the rendered segments whose text contains ``needle``."""
    console = Console(width=100, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    lines = console.render_lines(render_status(snap), console.options, pad=False)
    return [str(seg.style) for line in lines for seg in line if needle in seg.text]


# --- render_status ------------------------------------------------------------------------------------------
def test_render_status_shows_the_header_and_every_section() -> None:
    text = _text(render_status(_busy()))
    for part in (
        "PAPER @ binanceusdm",
        "clock wall",
        "2022-01-09 12:34:00 UTC",
        "posture YELLOW",
        "equity 10,234.50",
        "net +7.37",
        "realized +12.30",
        "fees 1.73",
        "unrealized -3.20",
        "dd 1.20%",
        "bars 1234",
        "trades 5 (3 won)",
        "lag p50/p95 1/3 ms",
        "order path p95 180 us",
        "UNHEALTHY: bar lag p95 above 2000 ms",
        "entries paused: operator",
        "positions",
        "39840",
        "40500",
        "0.0000123",
        "last signals",
        "cooldown_active",
        "recent orders",
        "stop_market",
        "rejected",
        "recent fills",
        "40007",
        "blocked entries",
        "spread_too_wide",
        "+2 more",
        "loops",
        "restarting",
    ):
        assert part in text, part
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert len(lines) <= 42


def test_render_status_limits_rows_to_the_newest() -> None:
    text = _text(render_status(_busy()))
    assert "sig8" in text
    assert "sig3" in text
    assert "sig2" not in text
    assert text.index("sig8") < text.index("sig3")  # newest first
    orders = text.split("recent orders")[1].split("recent fills")[0]
    assert "12:33:55" in orders
    assert "12:33:54" not in orders  # the 7th newest of 8
    assert "12:34:00" in text.split("recent fills")[1]
    assert "40001" not in text.split("recent fills")[1]  # fill 1 is the 7th newest


def test_render_status_positions_show_stops_and_protection() -> None:
    text = _text(render_status(_busy()))
    btc = next(line for line in text.splitlines() if line.startswith("BTC/USDT:USDT") and "long" in line)
    assert btc.split()[2:] == ["0.012", "40000", "40100.5", "+1.20", "39840", "40500", "yes"]
    shib = next(line for line in text.splitlines() if line.startswith("1000SHIB"))
    assert shib.split()[-3:] == ["-", "-", "NO"]


def test_render_status_fits_a_narrower_width() -> None:
    text = _text(render_status(_busy(), width=72), width=120)
    assert max(len(line) for line in text.splitlines()) <= 72


def test_render_status_empty_snapshot() -> None:
    text = _text(render_status(_snap()))
    assert "health OK" in text
    assert "entries enabled" in text
    assert "positions  flat" in text
    assert "last signals  none yet" in text
    assert "recent orders  none yet" in text
    assert "lag p50/p95 n/a/n/a ms" in _text(render_status(_snap(bar_lag_ms_p50=None, bar_lag_ms_p95=None)))


def test_render_status_never_reads_snapshot_text_as_markup() -> None:
    sig = SignalRow(T0, "[bold]X[/bold]", "long", 0.9, "[red]why", "rsi[14] [/] [link=x]y")
    text = _text(render_status(_snap(signals=(sig,))))
    for literal in ("[bold]X[/bold]", "[red]why", "rsi[14] [/] [link=x]y"):
        assert literal in text


def test_render_status_colors_health_posture_and_pnl_sign() -> None:
    sick = _busy()
    assert any("red" in s for s in _styles_of(sick, "UNHEALTHY"))
    assert any("yellow" in s for s in _styles_of(sick, "YELLOW"))
    assert any("green" in s for s in _styles_of(sick, "+7.37"))
    assert any("red" in s for s in _styles_of(sick, "-3.20"))
    well = _snap(posture="RED_LOCK", net_pnl=-1.23)
    assert any("green" in s for s in _styles_of(well, "health OK"))
    assert any("red" in s for s in _styles_of(well, "RED_LOCK"))
    assert any("red" in s for s in _styles_of(well, "-1.23"))


# --- LiveDisplay --------------------------------------------------------------------------------------------
def _terminal() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=100), buf


def test_live_display_throttles_redraws_and_draws_the_last_on_stop() -> None:
    console, buf = _terminal()
    clock = SimClock(1_000_000)
    with LiveDisplay(console, refresh_per_second=2, clock=clock) as live:
        live.update(_snap(bars=1))
        assert live.redraws == 1
        for bars in range(2, 20):  # the daemon calls often: held back within 500 ms
            live.update(_snap(bars=bars))
        clock.set_ms(1_000_499)
        live.update(_snap(bars=20))
        assert live.redraws == 1
        assert "bars 20" not in buf.getvalue()
        clock.set_ms(1_000_500)
        live.update(_snap(bars=21))
        assert live.redraws == 2
        assert "bars 21" in buf.getvalue()
        live.update(_snap(bars=22))  # pending at stop
    assert live.redraws == 3
    out = buf.getvalue()
    assert "bars 22" in out
    assert "bars 19" not in out
    assert ANSI.search(out)  # a terminal: styled and redrawn in place
    live.update(_snap(bars=23))  # after stop: ignored
    assert "bars 23" not in buf.getvalue()


def test_live_display_event_lines_are_printed_with_market_time() -> None:
    console, buf = _terminal()
    with LiveDisplay(console, clock=SimClock()) as live:
        live.update(_snap())
        live.event_line("fill BTC/USDT:USDT buy 0.012 @ 40000 [entry]")
        live.event_line("stop placed", ts_ms=T0 + MIN)
    out = buf.getvalue()
    assert "2022-01-09 12:34:00 UTC  fill BTC/USDT:USDT buy 0.012 @ 40000 [entry]" in out
    assert "2022-01-09 12:35:00 UTC  stop placed" in out


def test_live_display_rejects_a_bad_refresh_rate() -> None:
    console, _ = _terminal()
    with pytest.raises(ValueError, match="refresh_per_second"):
        LiveDisplay(console, refresh_per_second=0)


# --- PlainStatusLog -----------------------------------------------------------------------------------------
def test_status_line_is_the_documented_plain_line() -> None:
    line = status_line(_snap(positions=(BTC,)))
    assert line == (
        "2022-01-09 12:34 UTC  bars 1234  pos BTC/USDT:USDT long 0.012@40000 stop 39840  net -1.23"
        "  lag p95 3 ms  path p95 180 us  posture GREEN  debt 0.0  entries enabled"
    )
    sick = status_line(_snap(positions=(SHIB,), healthy=False, health_reason="loop failed"))
    assert "short 120000@0.0000123 stop - UNPROTECTED" in sick
    assert sick.endswith("UNHEALTHY: loop failed")
    assert "pos flat" in status_line(_snap())


def test_plain_log_throttles_by_market_time_and_writes_changes_at_once() -> None:
    buf = io.StringIO()
    log = PlainStatusLog(buf, interval_ms=5 * MIN)
    for i in range(12):  # one bar a minute, nothing meaningful changes: lines at 0, 5 and 10 minutes
        log.update(_snap(now_ms=T0 + i * MIN, bars=1234 + i))
    assert log.lines == 3
    log.update(_snap(now_ms=T0 + 12 * MIN, positions=(BTC,)))  # a position opened: at once
    log.update(_snap(now_ms=T0 + 12 * MIN + 1, positions=(dataclasses.replace(BTC, stop=39900.0),)))
    log.update(_snap(now_ms=T0 + 13 * MIN, positions=(dataclasses.replace(BTC, stop=39900.0),), bars=9))
    assert log.lines == 5
    log.stop()  # the held-back latest status
    lines = buf.getvalue().splitlines()
    assert len(lines) == 6
    assert [line[:20] for line in lines[:3]] == [
        "2022-01-09 12:34 UTC",
        "2022-01-09 12:39 UTC",
        "2022-01-09 12:44 UTC",
    ]
    assert "stop 39900" in lines[4]
    assert "bars 9 " in lines[5]
    assert not ANSI.search(buf.getvalue())


def test_plain_log_event_lines_are_plain() -> None:
    buf = io.StringIO()
    with PlainStatusLog(buf) as log:
        log.event_line("before any status")
        log.update(_snap(entries="paused: \x1b[31mred\x1b[0m reason"))
        log.event_line("\x1b[1mentry\x1b[0m BTC long\nsecond line")
        log.event_line("stop placed 39840", ts_ms=T0 + MIN)
    lines = buf.getvalue().splitlines()
    assert lines[0] == "before any status"
    assert "entries paused: red reason" in lines[1]
    assert lines[2] == "2022-01-09 12:34:00 UTC  entry BTC long second line"
    assert lines[3] == "2022-01-09 12:35:00 UTC  stop placed 39840"
    assert "\x1b" not in buf.getvalue()


def test_plain_log_rejects_a_bad_interval() -> None:
    with pytest.raises(ValueError, match="interval_ms"):
        PlainStatusLog(io.StringIO(), interval_ms=0)


# --- make_display -------------------------------------------------------------------------------------------
class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_make_display_picks_by_terminal() -> None:
    assert isinstance(make_display(io.StringIO()), PlainStatusLog)
    assert isinstance(make_display(_Tty()), LiveDisplay)
    assert isinstance(make_display(_Tty(), force_plain=True), PlainStatusLog)
    closed = io.StringIO()
    closed.close()
    assert isinstance(make_display(closed), PlainStatusLog)


# --- the run summary ----------------------------------------------------------------------------------------
FULL: dict[str, object] = {
    "mode": "paper",
    "venue": "binanceusdm",
    "symbols": ["BTC/USDT:USDT", "ETH/USDT:USDT"],
    "started": T0 - 5 * 3_600_000 - 61_000,
    "ended": T0,
    "bars": 300,
    "trades": 12,
    "wins": 7,
    "win_rate": 7 / 12,
    "net_pnl": 12.345,
    "realized_pnl": 20.0,
    "fees": 7.655,
    "max_drawdown": 0.0123,
    "slippage_bps": {"BTC/USDT:USDT": 1.25, "ETH/USDT:USDT": None},
    "blocked": {"spread_too_wide": 5, "cooldown_active": 12, "a|b " * 40: 1},
    "bar_lag_ms": {"p50": 1.0, "p95": 3.2, "p99": 9.9},
    "order_path_us": {"p50": 120, "p95": 180.5, "p99": None},
    "orders": 30,
    "fills": 28,
    "stops_placed": 12,
    "exits": {"stop_loss": 3, "take_profit": 5},
    "reliability": {
        "posture": "YELLOW",
        "debt": 2.5,
        "reconcile": {"cycles": 301},
        "symbol_blocks": {"ETH/USDT:USDT": "foreign_position"},
        "kpis": {"repair_success_ratio": 0.75, "protection_gap_longest_sec": 3.5},
    },
}


def _row(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(label)).strip()


def test_render_summary_full() -> None:
    text = render_summary(FULL)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert _row(text, "mode") == "mode              paper"
    assert _row(text, "symbols") == "symbols           BTC/USDT:USDT, ETH/USDT:USDT"
    assert _row(text, "started") == "started           2022-01-09 07:32:59 UTC"
    assert _row(text, "duration") == "duration          5h 01m 01s"
    assert _row(text, "win rate") == "win rate          58.33%"
    assert _row(text, "net PnL") == "net PnL           +12.35"
    assert _row(text, "fees") == "fees              7.66"
    assert _row(text, "max drawdown") == "max drawdown      1.23%"
    assert _row(text, "stops placed") == "stops placed      12"
    assert _row(text, "bar lag (ms)") == "bar lag (ms)      p50 1  p95 3.2  p99 9.9"
    assert _row(text, "order path (us)") == "order path (us)   p50 120  p95 180.5  p99 n/a"
    assert _row(text, "ETH/USDT:USDT").split() == ["ETH/USDT:USDT", "n/a"]
    assert text.index("cooldown_active") < text.index("spread_too_wide")  # most frequent first
    assert _row(text, "take_profit").split() == ["take_profit", "5"]
    assert text.count("n/a") == 2  # p99 and ETH slippage: everything else is present
    assert _row(text, "posture").split() == ["posture", "YELLOW"]
    assert _row(text, "blocked symbols").endswith("ETH/USDT:USDT: foreign_position")
    assert _row(text, "repair success ratio").split()[-1] == "0.75"


def test_render_summary_sparse() -> None:
    text = render_summary(
        {"mode": "sim", "net_pnl": None, "blocked": {}, "trades": 4, "wins": 1, "extra_key": 3}
    )
    assert max(len(line) for line in text.splitlines()) <= 100
    assert _row(text, "mode") == "mode              sim"
    assert _row(text, "venue").endswith("n/a")
    assert _row(text, "net PnL").endswith("n/a")
    assert _row(text, "win rate").endswith("25.00%")  # from trades and wins
    assert _row(text, "blocked entries").endswith("none")
    assert _row(text, "bar lag (ms)").endswith("n/a")
    assert _row(text, "extra key").endswith("3")
    assert render_summary({}).count("n/a") >= 15


def test_render_summary_wraps_a_long_symbol_list() -> None:
    symbols = [f"COIN{i}/USDT:USDT" for i in range(30)]
    text = render_summary({"symbols": symbols})
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "COIN29/USDT:USDT" in text


def test_render_summary_markdown() -> None:
    md = render_summary_markdown(FULL)
    assert md.startswith("# Eclipse run summary\n")
    assert "| net PnL | +12.35 |" in md
    assert "## Blocked entries" in md
    assert "| cooldown_active | 12 |" in md
    assert "| p99 | n/a |" in md
    assert "a\\|b" in md  # a pipe in a key does not break the table
    sparse = render_summary_markdown({"mode": "live"})
    assert "| mode | live |" in sparse
    assert "| venue | n/a |" in sparse
