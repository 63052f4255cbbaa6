"""``eclipse status``: against a running status server (--url, or found through the run directory), and
offline from a run directory's journal (read-only, beside a live writer) and summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from eclipse.cli import main
from eclipse.contracts import (
    Fill,
    FillRecorded,
    IntentCreated,
    IntentKind,
    JournalEvent,
    OrderAcked,
    OrderResolved,
    OrderSubmitting,
    PositionChanged,
    PostureChanged,
    ProtectionEvent,
    ProtectionState,
)
from eclipse.execution.journal.state import apply_fill
from eclipse.execution.journal.store import Journal
from eclipse.runtime.offline import offline_status
from eclipse.venues.types import OrderStatus, OrderType, Side

from .status_kit import BTC, T0, FakeControl, ServerThread, free_port, snap

SUMMARY = {
    "mode": "paper",
    "venue": "binanceusdm",
    "stopped_ms": T0 + 600_000,
    "net_pnl": 13.75,
    "trades": 4,
    "wins": 3,
    "pnl": {"fees": 2.5},
    "positions": [{"symbol": BTC}],  # not a headline number: skipped
}


def submitting(
    ts: int, cid: str, kind: IntentKind, side: Side, type_: OrderType, qty: str
) -> OrderSubmitting:
    trigger = Decimal(39_000) if type_.conditional else None
    return OrderSubmitting(
        ts, f"I-{cid}", cid, kind, BTC, side, type_, Decimal(qty), None, trigger, kind.reduces_risk, False, 0
    )


def flow() -> list[JournalEvent]:
    """An entry filled in two trades (one journaled twice), a stop-loss resting, an exit still in flight."""
    f1 = Fill("t1", "o-1", BTC, Side.BUY, Decimal(40_000), Decimal("0.006"), Decimal("0.1"), "USDT", T0 + 1)
    f2 = Fill("t2", "o-1", BTC, Side.BUY, Decimal(40_010), Decimal("0.004"), Decimal("0.1"), "USDT", T0 + 2)
    pos = apply_fill(apply_fill(None, f1), f2)
    return [
        PostureChanged(T0, "normal", "cautious", "test"),
        IntentCreated(T0, "I-ecl-e1", IntentKind.ENTRY, BTC, Side.BUY, Decimal("0.01"), Decimal(40_000)),
        submitting(T0, "ecl-e1", IntentKind.ENTRY, Side.BUY, OrderType.MARKET, "0.01"),
        OrderAcked(T0 + 1, "ecl-e1", "o-1", OrderStatus.FILLED, Decimal("0.01")),
        FillRecorded(T0 + 1, "ecl-e1", f1),
        FillRecorded(T0 + 2, "ecl-e1", f2),
        FillRecorded(T0 + 2, "ecl-e1", f2),  # a duplicate: counted once
        PositionChanged(T0 + 2, pos),
        OrderResolved(T0 + 2, "ecl-e1", OrderStatus.FILLED, filled=Decimal("0.01")),
        submitting(T0 + 3, "ecl-sl", IntentKind.STOP_LOSS, Side.SELL, OrderType.STOP_MARKET, "0.01"),
        OrderAcked(T0 + 4, "ecl-sl", "a-1", OrderStatus.OPEN, Decimal(0)),
        ProtectionEvent(T0 + 4, BTC, ProtectionState.PLACED, "ecl-sl"),
        submitting(T0 + 5, "ecl-x1", IntentKind.EXIT, Side.SELL, OrderType.MARKET, "0.004"),
    ]


def make_run_dir(root: Path, *, summary: bool = True, journal: bool = True) -> Path:
    run = root / "eclipse-run"
    run.mkdir()
    if journal:
        with Journal.open(run / "journal.sqlite") as j:
            j.append_many(flow())
    if summary:
        (run / "summary.json").write_text(json.dumps(SUMMARY), encoding="utf-8")
    return run


def dead_pid() -> int:
    """The PID of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def status(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["status", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_fits(out: str) -> None:
    assert out.strip()
    assert all(len(line) <= 100 for line in out.splitlines()), max(out.splitlines(), key=len)


# -- offline ----------------------------------------------------------------------------------------------


def test_offline_reader(tmp_path: Path) -> None:
    st = offline_status(make_run_dir(tmp_path))
    assert st.daemon_pid is None
    assert not st.running
    assert st.events == len(flow())
    assert st.last_event_ms == T0 + 5
    assert st.posture == "cautious"
    assert st.fills == 2
    assert st.duplicate_fills == 1
    assert len(st.recent_fills) == 2
    assert st.recent_fills[-1].kind == "entry"
    [pos] = st.positions
    assert (pos.symbol, pos.side, pos.qty, pos.protected) == (BTC, "long", 0.01, True)
    assert pos.entry_price == pytest.approx(40_004.0)
    assert st.fees == pytest.approx(0.2)
    assert {(o.client_order_id, o.state) for o in st.open_orders} == {
        ("ecl-sl", "open"),
        ("ecl-x1", "submitting"),
    }
    assert st.summary == SUMMARY
    data = st.to_dict()
    assert data["running"] is False
    json.dumps(data)


def test_offline_view(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run_dir(tmp_path)
    (run / "daemon.lock").write_text(f"{dead_pid()}\n")  # a daemon killed -9: its PID stays in the file
    (run / "status.url").write_text("http://127.0.0.1:1\n")
    code, out, err = status(capsys, "--dir", str(run))
    assert code == 0, err
    assert "no daemon running" in out
    assert f"{BTC}  long 0.01 @ 40004" in out
    assert "protected" in out
    assert "open orders (2):" in out
    assert "ecl-sl" in out
    assert "ecl-x1" in out
    assert "fills 2 (1 duplicates ignored)" in out
    assert "posture cautious" in out
    assert "net_pnl 13.75" in out
    assert "trades 4" in out
    assert "pnl.fees 2.5" in out
    assert "stopped_ms 2022-01-09 12:44:00 UTC" in out
    assert_fits(out)


def test_offline_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = status(capsys, "--dir", str(make_run_dir(tmp_path)), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["running"] is False
    assert data["positions"][0]["symbol"] == BTC
    assert data["fills"] == 2
    assert data["summary"]["net_pnl"] == 13.75


def test_offline_beside_a_live_writer_never_blocks_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run_dir(tmp_path, summary=False)
    with Journal.open(run / "journal.sqlite") as writer:  # the daemon, still writing
        writer.append(PostureChanged(T0 + 10, "cautious", "normal", "recovered"))
        code, out, err = status(capsys, "--dir", str(run))
        assert code == 0, err
        assert "posture normal" in out
        assert "summary: none" in out
        writer.append(PostureChanged(T0 + 11, "normal", "defensive", "after the read"))  # not blocked
        writer.append(OrderResolved(T0 + 12, "ecl-x1", OrderStatus.CANCELED, filled=Decimal(0)))
        assert len(offline_status(run).open_orders) == 1
    assert not (run / "journal.sqlite-wal").exists() or True  # the writer's own business


def test_summary_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = status(capsys, "--dir", str(make_run_dir(tmp_path, journal=False)))
    assert code == 0
    assert "journal: none" in out
    assert "net_pnl 13.75" in out
    assert "no daemon running" in out


def test_a_live_daemon_without_a_status_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run_dir(tmp_path)
    (run / "daemon.lock").write_text(f"{os.getpid()}\n")
    code, out, _ = status(capsys, "--dir", str(run))
    assert code == 0
    assert f"daemon pid {os.getpid()} runs without a status server" in out
    assert "no daemon running" not in out


def test_a_live_daemon_whose_server_does_not_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run_dir(tmp_path)
    (run / "daemon.lock").write_text(f"{os.getpid()}\n")
    (run / "status.url").write_text(f"http://127.0.0.1:{free_port()}\n")
    code, out, _ = status(capsys, "--dir", str(run))
    assert code == 0
    assert "did not answer" in out
    assert "connection refused" in out
    assert "open orders (2):" in out  # read from the files instead
    assert_fits(out)


@pytest.mark.parametrize("make", ["empty", "missing", "not-a-journal"])
def test_nothing_to_read_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: str
) -> None:
    run = tmp_path / "run"
    if make != "missing":
        run.mkdir()
    if make == "not-a-journal":
        (run / "journal.sqlite").write_text("hello")
    code, out, err = status(capsys, "--dir", str(run))
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error: ")
    assert str(run) in err


def test_default_dir_is_eclipse_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_run_dir(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, _ = status(capsys)
    assert code == 0
    assert "eclipse status: no daemon running\nrun dir eclipse-run\n" in out


# -- online -----------------------------------------------------------------------------------------------


def test_url_prints_the_daemon_status(capsys: pytest.CaptureFixture[str]) -> None:
    long_reason = "x" * 300
    reliability = {
        "debt": 6.5,
        "contradictions": [{"key": "position_mismatch:ETH/USDT:USDT"}],
        "reconcile": {"cycles": 42, "state": "idle", "last_ms": 1_641_731_640_000},
        "symbol_blocks": {"ETH/USDT:USDT": "position_mismatch"},
        "kpis": {"repairs_succeeded": 3, "repairs_attempted": 4, "protection_gaps": 1},
    }
    control = FakeControl(
        snap(healthy=False, health_reason=f"market loop restarting {long_reason}", reliability=reliability)
    )
    with ServerThread(control) as srv:
        code, out, err = status(capsys, "--url", srv.url)
        assert code == 0, err
        assert "reliability: debt 6.5  contradictions 1  reconcile 42 cycles, idle" in out
        assert "repairs 3/4" in out
        assert "blocked symbols:  ETH/USDT:USDT position_mismatch" in out
        assert "eclipse paper on binanceusdm" in out
        assert "health: UNHEALTHY - market loop restarting" in out
        assert f"{BTC}  long 0.012 @ 40000" in out
        assert "blocked by cooldown" in out
        assert "equity 10,012.50  net +13.70" in out
        assert "loops:  market running  engine running (1 crashes)" in out
        assert_fits(out)
        code, out, _ = status(capsys, "--url", srv.url.removeprefix("http://") + "/", "--json")
        assert code == 0
        assert json.loads(out) == json.loads(json.dumps(control.snap.to_dict()))


def test_dir_finds_a_running_daemon_through_status_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run_dir(tmp_path)
    with ServerThread(FakeControl()) as srv:
        (run / "daemon.lock").write_text(f"{os.getpid()}\n")
        (run / "status.url").write_text(srv.url + "\n")
        code, out, _ = status(capsys, "--dir", str(run))
        assert code == 0
        assert "eclipse paper on binanceusdm" in out
        assert "no daemon running" not in out
        assert "health: ok" in out


def test_url_refused_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = status(capsys, "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert "connection refused" in err


def test_url_answering_something_else(capsys: pytest.CaptureFixture[str]) -> None:
    with ServerThread(FakeControl()) as srv:
        code, _, err = status(capsys, "--url", srv.url + "/nope")  # /nope/status: 404
        assert code == 1
        assert "HTTP 404" in err


def test_dir_and_url_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = status(capsys, "--dir", "x", "--url", "http://127.0.0.1:1")
    assert code == 2
    assert "not allowed with" in err
