"""The simulator's own control plane (``/_sim/...``) and the bounded request journal it exposes.

=======  =====================  =================================================================
method   path                   does
=======  =====================  =================================================================
GET      /_sim/state            server/market time, feed, open orders, positions, balances, ids
POST     /_sim/step             stepped feed: ``{"bars": n}`` or ``{"to_ms": t}``; then engines sync
POST     /_sim/stall            ``{"stalled": true|false}``: market data stops / resumes advancing
GET      /_sim/requests         journal; query ``since`` (seq), ``path``, ``method``,
                                ``state_changing=1``, ``limit``
DELETE   /_sim/requests         clear the journal
GET      /_sim/faults           plan, remaining script, injection counters
POST     /_sim/faults           install a plan (JSON body, see :mod:`~eclipse.venues.sim.faults`)
DELETE   /_sim/faults           remove every fault
POST     /_sim/limits/reset     forget rate-limit counters and bans
=======  =====================  =================================================================

The control plane has no auth, no faults, no weights and is not journaled: it is for tests and operators
on the loopback interface.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from eclipse.venues.sim.auth import Call, Endpoint, HttpError, Security
from eclipse.venues.sim.faults import FaultPlan

if TYPE_CHECKING:
    from eclipse.venues.sim.server import SimContext

__all__ = ["CONTROL_ROUTES", "JournalEntry", "RequestJournal"]

_MAX_STEP_BARS = 100_000_000  # a step moves at most this many bars
_MAX_MS = 2**53  # a market time to step to (Unix ms) fits a double and SQLite


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One served request (no parameters, no key, no signature: only what identifies the call)."""

    seq: int
    ts_ms: int
    method: str
    path: str
    status: int
    latency_ms: float
    fault_class: str
    state_changing: bool
    signed: bool
    fault: str | None = None
    client_id: str | None = None


class RequestJournal:
    """The last ``size`` served requests, oldest first, each with an increasing ``seq``."""

    def __init__(self, size: int) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=size)
        self._seq = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total(self) -> int:
        """Requests recorded since start (including those that fell out of the window)."""
        return self._seq

    def record(self, **fields: Any) -> JournalEntry:
        """Append an entry (``seq`` is assigned here)."""
        self._seq += 1
        entry = JournalEntry(seq=self._seq, **fields)
        self._entries.append(entry)
        return entry

    def clear(self) -> None:
        """Forget every entry (``seq`` keeps counting)."""
        self._entries.clear()

    def query(
        self,
        since: int = 0,
        path: str | None = None,
        method: str | None = None,
        state_changing: bool | None = None,
        limit: int | None = None,
    ) -> list[JournalEntry]:
        """Entries with ``seq > since`` matching the filters, oldest first (at most ``limit``, the newest)."""
        out = [
            e
            for e in self._entries
            if e.seq > since
            and (path is None or e.path == path)
            and (method is None or e.method == method)
            and (state_changing is None or e.state_changing == state_changing)
        ]
        return out[-limit:] if limit else out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_body(call: Call) -> dict[str, Any]:
    """The JSON object of the body (400 for anything else, ``NaN`` / ``Infinity`` included)."""
    if not call.body.strip():
        return {}
    try:
        raw = json.loads(call.body, parse_constant=_no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise HttpError(400, {"error": "body is not valid JSON"}) from None
    except ValueError as exc:
        raise HttpError(400, {"error": f"body is not valid JSON: {exc}"}) from None
    if not isinstance(raw, dict):
        raise HttpError(400, {"error": "body must be a JSON object"})
    return raw


def _state(ctx: SimContext, call: Call) -> dict[str, Any]:
    return ctx.snapshot()


def _step(ctx: SimContext, call: Call) -> dict[str, Any]:
    body = _json_body(call)
    bars, to_ms = body.get("bars"), body.get("to_ms")
    if (bars is None) == (to_ms is None):
        raise HttpError(400, {"error": 'give exactly one of "bars" (int >= 1) or "to_ms" (int)'})
    value = bars if bars is not None else to_ms
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or (bars is not None and not 1 <= bars <= _MAX_STEP_BARS)
        or (to_ms is not None and not 0 <= to_ms <= _MAX_MS)
    ):
        raise HttpError(400, {"error": f"bad step value {value!r}"})
    try:
        ctx.step(bars=bars, to_ms=to_ms)
    except ValueError as exc:
        raise HttpError(400, {"error": str(exc)}) from None
    return ctx.snapshot()


def _stall(ctx: SimContext, call: Call) -> dict[str, Any]:
    stalled = _json_body(call).get("stalled", True)
    if not isinstance(stalled, bool):
        raise HttpError(400, {"error": '"stalled" must be true or false'})
    ctx.feed.stall(stalled)
    return {"stalled": stalled}


def _requests(ctx: SimContext, call: Call) -> dict[str, Any]:
    p = call.params
    try:
        since = int(p.get("since") or 0)
        limit = int(p.get("limit") or 0) or None
    except ValueError:
        raise HttpError(400, {"error": "since and limit must be integers"}) from None
    if since < 0 or (limit is not None and limit < 0):
        raise HttpError(400, {"error": "since and limit must be >= 0"})
    flag = p.get("state_changing")
    entries = ctx.journal.query(
        since=since,
        path=p.get("path"),
        method=(p.get("method") or "").upper() or None,
        state_changing=None if flag is None else flag.lower() in ("1", "true"),
        limit=limit,
    )
    return {"total": ctx.journal.total, "requests": [asdict(e) for e in entries]}


def _clear_requests(ctx: SimContext, call: Call) -> dict[str, Any]:
    ctx.journal.clear()
    return {"total": ctx.journal.total, "requests": []}


def _get_faults(ctx: SimContext, call: Call) -> dict[str, Any]:
    return ctx.faults.describe()


def _set_faults(ctx: SimContext, call: Call) -> dict[str, Any]:
    try:
        plan = FaultPlan.from_dict(_json_body(call))
    except ValueError as exc:
        raise HttpError(400, {"error": str(exc)}) from None
    ctx.install_faults(plan)
    return ctx.faults.describe()


def _clear_faults(ctx: SimContext, call: Call) -> dict[str, Any]:
    ctx.install_faults(FaultPlan())
    return ctx.faults.describe()


def _reset_limits(ctx: SimContext, call: Call) -> dict[str, Any]:
    ctx.limiter.reset()
    return {"reset": True}


def _control(method: str, path: str, handler: Any) -> Endpoint:
    return Endpoint(method, path, handler, "control", 0, Security.CONTROL, dialect="control")


CONTROL_ROUTES: tuple[Endpoint, ...] = (
    _control("GET", "/_sim/state", _state),
    _control("POST", "/_sim/step", _step),
    _control("POST", "/_sim/stall", _stall),
    _control("GET", "/_sim/requests", _requests),
    _control("DELETE", "/_sim/requests", _clear_requests),
    _control("GET", "/_sim/faults", _get_faults),
    _control("POST", "/_sim/faults", _set_faults),
    _control("DELETE", "/_sim/faults", _clear_faults),
    _control("POST", "/_sim/limits/reset", _reset_limits),
)
