"""``eclipse run`` end to end, in subprocesses, against the exchange simulator through the real ccxt client:
trades with stops, a graceful SIGTERM (stops stay on the venue, entries canceled, summary written, exit 0),
kill -9 and restart on the same directory (no duplicate client id, no lost fill, one stop per position), a
second daemon on a held directory refused, and secrets never printed."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from tests.runtime.daemon_kit import (
    SECRET,
    TOKEN,
    bars_seen,
    daemon_env,
    journal_fills,
    protected_position,
    spawn,
    status,
    stop_daemon,
    truth,
    wait_for,
)

from eclipse.contracts import IntentKind, OrderAcked, OrderResolved, OrderSubmitting, OrderUnknown
from eclipse.execution.journal import Journal, JournalError
from eclipse.venues.sim.runner import SimServerThread


def _everything_written(run_dir: Path, *outputs: str) -> str:
    files = [
        p
        for p in run_dir.rglob("*")
        if p.is_file() and p.suffix in (".jsonl", ".log", ".json", ".md", ".url")
    ]
    return "\n".join([*outputs, *(p.read_text(errors="replace") for p in files)])


def _post(url: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(url, data=b"{}", method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _telemetry(run_dir: Path) -> str:
    path = run_dir / "telemetry.jsonl"
    return path.read_text() if path.exists() else ""


def _agree(sim: SimServerThread, run_dir: Path) -> None:
    venue = truth(sim)
    fills = journal_fills(run_dir)
    assert fills == venue["trades"], "the journal's fills differ from the venue's trades"
    dupes = [cid for cid, n in Counter(venue["sent"]).items() if n > 1]
    assert dupes == [], f"client ids placed twice: {dupes}"
    if venue["position"] != 0:
        assert len(venue["stops"]) == 1, f"open position {venue['position']} with stops {venue['stops']}"
    else:
        assert venue["stops"] == []


def test_sigterm_keeps_stops_and_writes_the_summary(sim: SimServerThread, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = spawn(run_dir, daemon_env(sim))
    wait_for("a protected position", lambda: protected_position(run_dir), proc)
    sim.control("POST", "/_sim/stall", {"stalled": True})  # the market holds still while it stops
    code, out, err = stop_daemon(proc, signal.SIGTERM)
    assert code == 0, err[-2000:]
    assert (run_dir / "summary.json").exists()
    assert "Eclipse run summary" in out
    assert not (run_dir / "status.url").exists()
    venue = truth(sim)
    assert venue["position"] != 0, "the position was closed on the way out"
    assert len(venue["stops"]) == 1, "the protective stop must stay on the venue"
    assert venue["open_regular"] == [], "resting entry orders are canceled"
    _agree(sim, run_dir)
    text = _everything_written(run_dir, out, err)
    assert SECRET not in text
    assert TOKEN not in text
    # a restart on the directory resumes from the saved features instead of fetching history
    again = spawn(run_dir, daemon_env(sim))
    wait_for(
        "the restarted daemon's warm-up", lambda: _telemetry(run_dir).count('"runtime.warmed_up"') >= 2, again
    )
    code, _, err = stop_daemon(again, signal.SIGTERM)
    assert code == 0, err[-2000:]
    warmed = [json.loads(line) for line in _telemetry(run_dir).splitlines() if "runtime.warmed_up" in line]
    assert [w["how"] for w in warmed] == ["history", "restored"]
    _agree(sim, run_dir)


def test_kill_9_then_restart_loses_nothing_and_doubles_nothing(sim: SimServerThread, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = daemon_env(sim)
    first = spawn(run_dir, env)
    wait_for("a protected position", lambda: protected_position(run_dir), first)
    first.kill()  # SIGKILL: no shutdown at all
    first.communicate()
    second = spawn(run_dir, env)
    wait_for("40 bars after the restart", lambda: bars_seen(run_dir) >= 40, second)
    sim.control("POST", "/_sim/stall", {"stalled": True})
    code, _, err = stop_daemon(second, signal.SIGTERM)
    assert code == 0, err[-2000:]
    _agree(sim, run_dir)


def test_a_second_daemon_on_the_same_directory_is_refused(sim: SimServerThread, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = daemon_env(sim)
    first = spawn(run_dir, env)
    try:
        wait_for("the first daemon to serve its status", lambda: (run_dir / "status.url").exists(), first)
        result = spawn(run_dir, env)
        _, err = result.communicate(timeout=60)
        assert result.returncode == 2
        lines = err.strip().splitlines()
        assert lines[-1].startswith("error: another eclipse daemon (PID ")
        assert str(first.pid) in lines[-1]
        assert "Traceback" not in err
        # control: refused without the token, done with it
        url = (run_dir / "status.url").read_text().strip()
        assert _post(url + "/control/pause", None) == 401
        assert _post(url + "/control/pause", TOKEN) == 200
        snap = status(run_dir)
        assert snap is not None
        assert "pause" in snap["entries"]
        assert _post(url + "/control/resume", TOKEN) == 200
    finally:
        stop_daemon(first, signal.SIGTERM)


def test_a_second_signal_stops_at_once_and_the_next_start_resumes(
    sim: SimServerThread, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    env = daemon_env(sim)
    first = spawn(run_dir, env)
    wait_for("a protected position", lambda: protected_position(run_dir), first)
    first.send_signal(signal.SIGINT)  # two different signals: the kernel would merge two of the same
    first.send_signal(signal.SIGTERM)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 130, err[-2000:]
    assert "stopped at once" in err
    assert not (run_dir / "summary.json").exists()
    second = spawn(run_dir, env)
    wait_for("10 bars after the restart", lambda: bars_seen(run_dir) >= 10, second)
    sim.control("POST", "/_sim/stall", {"stalled": True})
    code, _, err = stop_daemon(second, signal.SIGTERM)
    assert code == 0, err[-2000:]
    assert '"engine.resumed"' in _telemetry(run_dir)
    _agree(sim, run_dir)


def test_the_embedded_default_runs_stops_by_itself_and_resumes(tmp_path: Path) -> None:
    """The README's command: the built-in simulator (its account kept in the run directory), ended by
    --duration; a second run on the directory resumes the same account and the same market."""
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALPER_", "EXCHANGE_", "VENUE_"))}
    env["STATUS_HTTP_PORT"] = "0"
    first = spawn(run_dir, env, "--speed", "600", "--duration", "6s")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["mode"] == "sim"
    assert summary["venue"].startswith("built-in simulator")
    assert summary["stop_reason"] == "--duration 6s reached"
    assert summary["bars"] > 10
    assert (run_dir / "sim.sqlite").exists()
    assert "Eclipse run summary" in out
    second = spawn(run_dir, env, "--speed", "600", "--max-bars", "5")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err[-2000:]
    again = json.loads((run_dir / "summary.json").read_text())
    assert again["started"] >= summary["ended"], "the market continues where the first run left it"
    assert _telemetry(run_dir).count('"engine.resumed"') == 2


def _entry_in_flight(run_dir: Path) -> bool:
    """True while the journal holds an entry submitted to the venue with no answer yet."""
    path = run_dir / "journal.sqlite"
    if not path.exists():
        return False
    try:
        reader = Journal.open_reader(path)
    except JournalError:
        return False
    try:
        sent: set[str] = set()
        answered: set[str] = set()
        for rec in reader.records(0):
            ev = rec.event
            if isinstance(ev, OrderSubmitting) and ev.kind is IntentKind.ENTRY:
                sent.add(ev.client_order_id)
            elif isinstance(ev, OrderAcked | OrderResolved | OrderUnknown):
                answered.add(ev.client_order_id)
        return bool(sent - answered)
    finally:
        reader.close()


def test_kill_9_mid_order_then_restart(sim: SimServerThread, tmp_path: Path) -> None:
    """The venue takes the entry and its answer is lost (held 20 s): the daemon is killed while it waits,
    and the restarted one finds the order by its client id, books its fill once and protects it."""
    sim.control(
        "POST",
        "/_sim/faults",
        {"script": [{"on": "order_create", "fault": "lost_response", "hold_ms": 20_000}]},
    )
    run_dir = tmp_path / "run"
    env = daemon_env(sim)
    first = spawn(run_dir, env)
    wait_for("an entry sent and not answered", lambda: _entry_in_flight(run_dir), first)
    first.kill()
    first.communicate()
    second = spawn(run_dir, env)
    wait_for("a protected position after the restart", lambda: protected_position(run_dir), second)
    sim.control("POST", "/_sim/stall", {"stalled": True})
    code, _, err = stop_daemon(second, signal.SIGTERM)
    assert code == 0, err[-2000:]
    _agree(sim, run_dir)
    assert '"engine.resumed"' in _telemetry(run_dir)
