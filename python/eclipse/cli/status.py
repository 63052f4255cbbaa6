"""``eclipse status``: a running daemon's status (its ``/status``), or a stopped run read from its files."""

from __future__ import annotations

import argparse
import json
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from eclipse.cli.common import Subparsers
from eclipse.errors import EclipseError

if TYPE_CHECKING:
    from eclipse.runtime.offline import OfflineStatus

__all__ = ["StatusUnavailableError", "fetch_status", "register", "render_offline", "render_online"]

WIDTH = 100
TIMEOUT_S = 3.0
EXIT_UNREACHABLE = 1
_ROWS = 5
_SUMMARY_FIRST = (
    "mode", "venue", "started_ms", "stopped_ms", "stop_reason", "equity", "net_pnl", "realized_pnl",
    "fees", "unrealized_pnl", "drawdown", "trades", "wins", "bars", "orders", "fills",
)  # fmt: skip


class StatusUnavailableError(EclipseError):
    """No usable answer from a status server (refused, timed out, an error status, not JSON)."""


def register(sub: Subparsers) -> None:
    """Add this module's commands to ``sub``."""
    status = sub.add_parser(
        "status",
        help="a running daemon's status, or a stopped run's journal and summary",
        description="Print a running daemon's status (its /status). On a run directory with no daemon, read "
        "the journal (read-only: the daemon is never blocked) and summary.json instead. Exit 1 when --url "
        "does not answer.",
    )
    where = status.add_mutually_exclusive_group()
    where.add_argument(
        "--dir",
        type=Path,
        metavar="D",
        help="run directory (default ./eclipse-run): its daemon, or its files",
    )
    where.add_argument("--url", metavar="U", help="status server base URL, e.g. http://127.0.0.1:8787")
    status.add_argument("--json", action="store_true", help="raw JSON instead of the human view")
    status.set_defaults(func=_cmd_status)


def _cmd_status(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from eclipse.runtime.offline import DEFAULT_RUN_DIR, daemon_pid, offline_status, read_status_url

    if args.url is not None:
        try:
            data = fetch_status(args.url)
        except StatusUnavailableError as exc:
            print(f"error: {exc}", file=err)
            return EXIT_UNREACHABLE
        _emit(out, data, args.json, render_online(data))
        return 0
    run_dir: Path = args.dir if args.dir is not None else DEFAULT_RUN_DIR
    pid, url = daemon_pid(run_dir), read_status_url(run_dir)
    note: str | None = None
    if pid is not None and url is not None:
        try:
            data = fetch_status(url)
        except StatusUnavailableError as exc:
            note = f"daemon pid {pid} runs, but its status server did not answer: {exc}"
        else:
            _emit(out, data, args.json, render_online(data))
            return 0
    elif pid is not None:
        note = f"daemon pid {pid} runs without a status server (STATUS_HTTP off): read from its files"
    st = offline_status(run_dir)
    _emit(out, {**st.to_dict(), "note": note}, args.json, render_offline(st, note))
    return 0


def _emit(out: TextIO, data: Mapping[str, Any], raw: bool, lines: list[str]) -> None:
    if raw:
        print(json.dumps(data, indent=2, default=str), file=out)
    else:
        for line in lines:
            print(_clip(line), file=out)


# -- talking to the status server --------------------------------------------------------------------------


def _base_url(url: str) -> str:
    url = url.strip()
    if "://" not in url:
        url = f"http://{url}"
    if not url.startswith(("http://", "https://")):
        raise StatusUnavailableError(f"{url}: expected an http:// URL like http://127.0.0.1:8787")
    url = url.rstrip("/")
    return url.removesuffix("/status")


def fetch_status(url: str, timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
    """``GET <url>/status`` as a dict (no proxy: the server is on loopback); :class:`StatusUnavailableError`
    with a one-line reason otherwise."""
    base = _base_url(url)
    target = f"{base}/status"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(target, headers={"Accept": "application/json"})
    try:
        with opener.open(request, timeout=timeout_s) as resp:
            body = resp.read(8 << 20)
    except urllib.error.HTTPError as exc:
        raise StatusUnavailableError(f"{target} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            raise StatusUnavailableError(f"no daemon answering at {base} (connection refused)") from None
        if isinstance(reason, TimeoutError):
            raise StatusUnavailableError(f"{base} did not answer within {timeout_s:g} s") from None
        raise StatusUnavailableError(f"cannot reach {base} ({_one_line(reason)})") from None
    except TimeoutError:
        raise StatusUnavailableError(f"{base} did not answer within {timeout_s:g} s") from None
    except (OSError, ValueError) as exc:  # reset connection, malformed URL ...
        raise StatusUnavailableError(f"cannot reach {base} ({_one_line(exc)})") from None
    try:
        data = json.loads(body)
    except ValueError:
        raise StatusUnavailableError(
            f"{target} did not answer JSON (is this an eclipse status server?)"
        ) from None
    if not isinstance(data, dict):
        raise StatusUnavailableError(f"{target} answered {type(data).__name__}, not a status object")
    return data


# -- formatting --------------------------------------------------------------------------------------------


def _one_line(obj: object) -> str:
    return " ".join(str(obj).split())


def _clip(line: str, width: int = WIDTH) -> str:
    line = line.rstrip()
    return line if len(line) <= width else line[: width - 3] + "..."


def _f(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _money(value: object, signed: bool = False) -> str:
    x = _f(value)
    if x is None:
        return "-"
    return f"{x:+,.2f}" if signed else f"{x:,.2f}"


def _num(value: object) -> str:
    """A quantity or price: up to 8 significant digits, no exponent."""
    x = _f(value)
    if x is None:
        return "-"
    text = f"{x:.8g}"
    if "e" in text:
        text = f"{x:.12f}".rstrip("0").rstrip(".")
    return text


def _ms(value: object, unit: str = "ms", scale: float = 1.0) -> str:
    x = _f(value)
    return "-" if x is None else f"{x * scale:.0f} {unit}" if x * scale >= 10 else f"{x * scale:.2g} {unit}"


def _ts(value: object, full: bool = False) -> str:
    x = _f(value)
    if x is None or x <= 0:
        return "-"
    when = datetime.fromtimestamp(x / 1000.0, UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC" if full else "%m-%d %H:%M:%S")


def _rows(items: object) -> list[Mapping[str, Any]]:
    return [r for r in items if isinstance(r, Mapping)] if isinstance(items, list | tuple) else []


def _wrap(title: str, parts: Iterable[str], width: int = WIDTH) -> list[str]:
    """``title`` then ``parts`` joined by two spaces, wrapped onto indented lines under ``width``."""
    lines, line = [], title
    for part in parts:
        if len(line) + 2 + len(part) > width and line.strip():
            lines.append(line)
            line = "  " + part
        else:
            line = f"{line}  {part}" if line else part
    if line.strip():
        lines.append(line)
    return lines


def render_online(s: Mapping[str, Any]) -> list[str]:
    """The human view of a ``/status`` dict (lines of at most 100 columns once clipped)."""
    g = s.get
    health = "ok" if g("healthy") else f"UNHEALTHY - {_one_line(g('health_reason') or '?')}"
    lines = [
        f"eclipse {g('mode', '?')} on {g('venue', '?')}  clock {g('clock', '?')}"
        f"  run dir {g('run_dir', '?')}",
        f"started {_ts(g('started_ms'), True)}  market time {_ts(g('now_ms'), True)}",
        f"health: {health}  posture {g('posture', '?')}  entries {g('entries', '?')}",
        f"equity {_money(g('equity'))}  net {_money(g('net_pnl'), True)}"
        f"  realized {_money(g('realized_pnl'), True)}  fees {_money(g('fees'))}"
        f"  unrealized {_money(g('unrealized_pnl'), True)}  drawdown {_money(g('drawdown'))}",
        f"trades {g('trades', 0)} (wins {g('wins', 0)})  bars {g('bars', 0)}"
        f"  last bar {_ts(g('last_bar_ms'))}"
        f"  bar lag p50 {_ms(g('bar_lag_ms_p50'))} p95 {_ms(g('bar_lag_ms_p95'))}",
        f"order path p50 {_ms(g('order_path_us_p50'), 'us')} p95 {_ms(g('order_path_us_p95'), 'us')}"
        f"  symbols {', '.join(map(str, g('symbols') or ())) or '-'}",
    ]
    lines += _reliability_lines(g("reliability"))
    loops = [
        f"{r.get('name')} {r.get('state')}" + (f" ({r.get('crashes')} crashes)" if r.get("crashes") else "")
        for r in _rows(g("loops"))
    ]
    lines += _wrap("loops:", loops or ["-"])
    positions = _rows(g("positions"))
    lines.append(f"positions ({len(positions)}):")
    for p in positions:
        protection = "protected" if p.get("protected") else "UNPROTECTED"
        lines.append(
            f"  {p.get('symbol')}  {p.get('side')} {_num(p.get('qty'))} @ {_num(p.get('entry_price'))}"
            f"  mark {_num(p.get('mark'))}  upnl {_money(p.get('unrealized'), True)}"
            f"  stop {_num(p.get('stop'))}  tp {_num(p.get('take_profit'))}  {protection}"
        )
    orders = _rows(g("orders"))
    lines.append(f"orders (last {min(len(orders), _ROWS)} of {len(orders)}):")
    for o in orders[-_ROWS:]:
        lines.append(
            f"  {_ts(o.get('ts_ms'))}  {o.get('symbol')}  {o.get('kind')} {o.get('side')} {o.get('type')}"
            f" {_num(o.get('qty'))}  {o.get('state')}  {o.get('client_order_id')}"
        )
    signals = _rows(g("signals"))
    lines.append(f"signals (last {min(len(signals), _ROWS)} of {len(signals)}):")
    for r in signals[-_ROWS:]:
        verdict = f"blocked by {r.get('blocked_by')}" if r.get("blocked_by") else "taken"
        conf = _f(r.get("confidence"))
        lines.append(
            f"  {_ts(r.get('ts_ms'))}  {r.get('symbol')}  {r.get('side')}"
            f" {'-' if conf is None else f'{conf:.2f}'}  {verdict}  {_one_line(r.get('explanation') or '')}"
        )
    blocked = [f"{b[0]} {b[1]}" for b in (g("blocked") or ()) if isinstance(b, list | tuple) and len(b) == 2]
    if blocked:
        lines += _wrap("blocked:", blocked[:8])
    versions = g("versions")
    if isinstance(versions, Mapping) and versions:
        lines += _wrap("versions:", [f"{k} {v}" for k, v in versions.items()])
    return [_clip(line) for line in lines]


def _reliability_lines(rel: object) -> list[str]:
    """Debt, reconcile, blocked symbols and KPIs of the reliability loop (none without one)."""
    if not isinstance(rel, Mapping) or not rel:
        return []
    rec = rel.get("reconcile") if isinstance(rel.get("reconcile"), Mapping) else {}
    k = rel.get("kpis") if isinstance(rel.get("kpis"), Mapping) else {}
    assert isinstance(rec, Mapping)
    assert isinstance(k, Mapping)
    lines = [
        f"reliability: debt {_num(rel.get('debt'))}  contradictions {len(rel.get('contradictions') or ())}"
        f"  reconcile {rec.get('cycles', 0)} cycles, {rec.get('state', '?')}, last {_ts(rec.get('last_ms'))}",
        f"  repairs {k.get('repairs_succeeded', 0)}/{k.get('repairs_attempted', 0)}"
        f"  mismatch debt {_num(k.get('mismatch_debt_min'))} min"
        f"  unknown orders p95 {_ms(k.get('unknown_resolution_p95_ms'))}"
        f"  protection gaps {k.get('protection_gaps', 0)}"
        f" (longest {_num(k.get('protection_gap_longest_sec'))} s)",
    ]
    blocks = rel.get("symbol_blocks")
    if isinstance(blocks, Mapping) and blocks:
        lines += _wrap("  blocked symbols:", [f"{sym} {why}" for sym, why in blocks.items()])
    return lines


def _summary_items(summary: Mapping[str, object]) -> list[str]:
    """The summary's scalar entries (one level of nesting flattened as ``a.b``), headline keys first."""
    flat: dict[str, object] = {}
    for key, value in summary.items():
        if isinstance(value, Mapping):
            for k, v in value.items():
                if v is None or isinstance(v, bool | int | float | str):
                    flat[f"{key}.{k}"] = v
        elif value is None or isinstance(value, bool | int | float | str):
            flat[str(key)] = value
    keys = [k for k in _SUMMARY_FIRST if k in flat] + [k for k in flat if k not in _SUMMARY_FIRST]
    out = []
    for key in keys[:32]:
        value = flat[key]
        if key.endswith("_ms") and isinstance(value, int) and not isinstance(value, bool):
            text = _ts(value, True)
        elif isinstance(value, float):
            text = _num(round(value, 6))
        else:
            text = _one_line(value)[:40]
        out.append(f"{key} {text}")
    return out


def render_offline(st: OfflineStatus, note: str | None = None) -> list[str]:
    """The human view of an :class:`~eclipse.runtime.offline.OfflineStatus` (lines of at most 100 columns)."""
    state = "no daemon running" if st.daemon_pid is None else f"daemon pid {st.daemon_pid}"
    lines = textwrap.wrap(f"eclipse status: {note or state}", WIDTH, subsequent_indent="  ")
    lines.append(f"run dir {st.run_dir}")
    if st.journal is not None:
        lines.append(
            f"journal: {st.events} events, last {_ts(st.last_event_ms, True)}  posture {st.posture or '-'}"
        )
    elif st.journal_error is not None:
        lines += textwrap.wrap(
            f"journal: unreadable: {_one_line(st.journal_error)}", WIDTH, subsequent_indent="  "
        )
    else:
        lines.append("journal: none")
    if st.journal is not None:
        lines.append(f"positions ({len(st.positions)}):")
        for p in st.positions:
            lines.append(
                f"  {p.symbol}  {p.side} {_num(p.qty)} @ {_num(p.entry_price)}  opened {_ts(p.opened_ms)}"
                f"  realized {_money(p.realized_pnl, True)}  fees {_money(p.fees)}"
                f"  {'protected' if p.protected else 'UNPROTECTED'}"
            )
        lines.append(f"open orders ({len(st.open_orders)}):")
        for o in st.open_orders:
            lines.append(
                f"  {_ts(o.ts_ms)}  {o.symbol}  {o.kind} {o.side} {o.type} {_num(o.qty)}  {o.state}"
                f"  {o.client_order_id}"
            )
        dup = f" ({st.duplicate_fills} duplicates ignored)" if st.duplicate_fills else ""
        lines.append(
            f"fills {st.fills}{dup}  realized {_money(st.realized_pnl, True)}  fees {_money(st.fees)}"
            + (f"  anomalies {st.anomalies}" if st.anomalies else "")
        )
    if st.summary is not None:
        lines += _wrap("summary:", _summary_items(st.summary) or ["(empty)"])
    elif st.summary_error is not None:
        lines.append(f"summary: unreadable: {_one_line(st.summary_error)}")
    else:
        lines.append("summary: none (the daemon writes summary.json when it stops)")
    return [_clip(line) for line in lines]
