"""The run summary as text: a plain report that fits 100 columns (printed at stop) and the same as Markdown
(``summary.md``). Reads the summary mapping the daemon writes to ``summary.json``; any key may be missing."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeGuard

from eclipse.runtime.display import _NA, SUMMARY_WIDTH, _money, _num, _pct, _plain, _utc

__all__ = ["render_summary", "render_summary_markdown"]


def _is_num(v: object) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _scalar(v: object, kind: str = "") -> str:
    """``v`` as text: n/a for None, money with 2 decimals, fractions as percentages, ms as UTC times."""
    if v is None:
        return _NA
    if not _is_num(v):
        return _plain(str(v))
    if kind == "money":
        return _money(float(v), signed=True)
    if kind == "fee":
        return _money(float(v))
    if kind == "pct":
        return _pct(float(v))
    if kind == "time":
        return _utc(int(v))
    if isinstance(v, int):
        return str(v)
    return _num(v)


def _duration(ms: int) -> str:
    s = max(0, ms) // 1000
    d, s = divmod(s, 86_400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return (f"{d}d " if d else "") + f"{h}h {m:02d}m {s:02d}s"


def _mapping_rows(v: object, kind: str = "") -> list[tuple[str, str]] | None:
    """A mapping's items as text pairs, largest numbers first for counts (None when ``v`` is not one)."""
    if not isinstance(v, Mapping):
        return None
    items = [(str(k), val) for k, val in v.items()]
    if kind == "count":
        items.sort(key=lambda kv: -kv[1] if _is_num(kv[1]) else 0.0)
    return [(_plain(k), _scalar(val)) for k, val in items]


_KNOWN = frozenset(
    {
        "mode",
        "venue",
        "symbols",
        "started",
        "ended",
        "bars",
        "trades",
        "wins",
        "win_rate",
        "net_pnl",
        "realized_pnl",
        "fees",
        "max_drawdown",
        "slippage_bps",
        "blocked",
        "bar_lag_ms",
        "order_path_us",
        "orders",
        "fills",
        "stops_placed",
        "exits",
        "reliability",
    }
)


@dataclass(frozen=True, slots=True)
class _Section:
    """A mapping of the summary: its rows as text pairs, or one line (n/a, none) when it has none."""

    title: str
    key_head: str
    value_head: str
    body: tuple[tuple[str, str], ...] | str
    inline: bool = False  # percentiles: one line in the text summary


def _summary_parts(s: Mapping[str, object]) -> tuple[list[tuple[str, str]], list[_Section]]:
    """The summary as (label, value) rows and sections."""
    symbols = s.get("symbols")
    if isinstance(symbols, str) or not isinstance(symbols, Iterable):
        sym = _scalar(symbols)
    else:
        sym = ", ".join(_plain(str(x)) for x in symbols) or "none"
    started, ended = s.get("started"), s.get("ended")
    duration = _duration(int(ended) - int(started)) if _is_num(started) and _is_num(ended) else _NA
    win_rate = s.get("win_rate")
    trades, wins = s.get("trades"), s.get("wins")
    if win_rate is None and _is_num(trades) and _is_num(wins) and trades:
        win_rate = float(wins) / float(trades)
    rows = [
        ("mode", _scalar(s.get("mode"))),
        ("venue", _scalar(s.get("venue"))),
        ("symbols", sym),
        ("started", _scalar(started, "time")),
        ("ended", _scalar(ended, "time")),
        ("duration", duration),
        ("bars", _scalar(s.get("bars"))),
        ("trades", _scalar(trades)),
        ("wins", _scalar(wins)),
        ("win rate", _scalar(win_rate, "pct")),
        ("net PnL", _scalar(s.get("net_pnl"), "money")),
        ("realized PnL", _scalar(s.get("realized_pnl"), "money")),
        ("fees", _scalar(s.get("fees"), "fee")),
        ("max drawdown", _scalar(s.get("max_drawdown"), "pct")),
        ("orders", _scalar(s.get("orders"))),
        ("fills", _scalar(s.get("fills"))),
        ("stops placed", _scalar(s.get("stops_placed"))),
    ]
    rows += [(_plain(k).replace("_", " "), _scalar(s[k])) for k in sorted(s) if k not in _KNOWN]
    sections: list[_Section] = []
    for key, title in (("bar_lag_ms", "bar lag (ms)"), ("order_path_us", "order path (us)")):
        v = s.get(key)
        body = (
            tuple((p, _scalar(v.get(p))) for p in ("p50", "p95", "p99")) if isinstance(v, Mapping) else None
        )
        sections.append(_Section(title, "percentile", "value", body or _scalar(v), inline=True))
    for key, title, head, kind in (
        ("slippage_bps", "slippage (bps)", "symbol", ""),
        ("blocked", "blocked entries", "reason", "count"),
        ("exits", "exits", "reason", "count"),
    ):
        v = s.get(key)
        items = _mapping_rows(v, kind)
        text = _scalar(v) if items is None else "none"
        sections.append(_Section(title, head, "count" if kind else "bps", tuple(items or ()) or text))
    sections.append(_Section("reliability", "kpi", "value", _reliability_rows(s.get("reliability")) or _NA))
    return rows, sections


def _reliability_rows(v: object) -> tuple[tuple[str, str], ...]:
    """Posture, debt, reconcile cycles, blocked symbols and the KPIs of the reliability loop."""
    if not isinstance(v, Mapping) or not v:
        return ()
    rows = [("posture", _scalar(v.get("posture"))), ("belief debt", _scalar(v.get("debt")))]
    rec = v.get("reconcile")
    if isinstance(rec, Mapping):
        rows.append(("reconcile cycles", _scalar(rec.get("cycles"))))
    blocks = v.get("symbol_blocks")
    if isinstance(blocks, Mapping) and blocks:
        rows.append(("blocked symbols", _plain(", ".join(f"{k}: {w}" for k, w in blocks.items()))))
    kpis = v.get("kpis")
    if isinstance(kpis, Mapping):
        rows += [(_plain(str(k)).replace("_", " "), _scalar(val)) for k, val in kpis.items()]
    return tuple(rows)


def _fit(line: str, width: int = SUMMARY_WIDTH) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


_LABEL = 18


def render_summary(summary: Mapping[str, object]) -> str:
    """The run summary as plain text, no line over 100 columns (missing or None values shown as n/a)."""
    rows, sections = _summary_parts(summary)
    out = ["Eclipse run summary", "=" * 19]
    for label, value in rows:
        wrapped = textwrap.wrap(value, SUMMARY_WIDTH - 2 - _LABEL, break_on_hyphens=False) or [""]
        out.append(_fit(f"  {label:<{_LABEL}}{wrapped[0]}"))
        out += [_fit(" " * (2 + _LABEL) + more) for more in wrapped[1:]]
    for sec in sections:
        if isinstance(sec.body, str):
            out.append(_fit(f"  {sec.title:<{_LABEL}}{sec.body}"))
        elif sec.inline:
            out.append(_fit(f"  {sec.title:<{_LABEL}}" + "  ".join(f"{k} {v}" for k, v in sec.body)))
        else:
            out.append(f"  {sec.title}")
            out += [_fit(f"    {_fit(k, 44):<44} {v:>10}") for k, v in sec.body]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def render_summary_markdown(summary: Mapping[str, object]) -> str:
    """The run summary as a Markdown document (``summary.md``)."""
    rows, sections = _summary_parts(summary)
    out = ["# Eclipse run summary", "", "| | |", "|---|---|"]
    out += [f"| {_md(label)} | {_md(value)} |" for label, value in rows]
    for sec in sections:
        out += ["", f"## {sec.title[0].upper()}{sec.title[1:]}", ""]
        if isinstance(sec.body, str):
            out.append(_md(sec.body))
        else:
            out += [f"| {sec.key_head} | {sec.value_head} |", "|---|---:|"]
            out += [f"| {_md(k)} | {_md(v)} |" for k, v in sec.body]
    return "\n".join(out) + "\n"
