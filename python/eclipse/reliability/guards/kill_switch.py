"""The kill switch: the daily loss and drawdown limits halt every entry (never an exit or a stop).

Daily loss: equity < (equity at the first check of the UTC day) x (1 - MAX_DAILY_LOSS_PCT) halts until now +
KILL_DAILY_HALT_SEC, else the next KILL_DAILY_HALT_UNTIL_UTC time, else the next UTC midnight. Drawdown:
equity <= (peak equity) x (1 - MAX_DRAWDOWN_PCT) halts until now + KILL_DRAWDOWN_HALT_SEC, else until the
operator lifts it. A limit of 0 is off. A halt in force is not raised again; when it ends (expired or lifted)
its reference re-arms at the equity of the next check (the day's reference, or the peak), so trading resumes
and a further loss of the limit halts again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from eclipse.contracts import GuardKnobs
from eclipse.reliability.guards.base import ActiveGuard, Outbox, block, get_int, get_opt_int, get_str

__all__ = ["DAILY", "DAY_MS", "DRAWDOWN", "KillSettings", "KillSwitch", "next_utc_time"]

DAY_MS = 86_400_000
DAILY = "kill_daily_loss"
DRAWDOWN = "kill_drawdown"
_KIND = {DAILY: "daily_loss", DRAWDOWN: "drawdown"}


@dataclass(frozen=True, slots=True)
class KillSettings:
    """The limits (fractions, 0 = off) and how long their halts last (0 = the fallback)."""

    max_daily_loss_pct: float
    max_drawdown_pct: float
    daily_halt_sec: float
    drawdown_halt_sec: float
    daily_halt_until_min: int | None
    """KILL_DAILY_HALT_UNTIL_UTC as minutes after UTC midnight (None = unset)."""


def next_utc_time(now_ms: int, minute_of_day: int) -> int:
    """The first time strictly after ``now_ms`` whose UTC time of day is ``minute_of_day``."""
    at = now_ms // DAY_MS * DAY_MS + minute_of_day * 60_000
    return at if at > now_ms else at + DAY_MS


@dataclass(slots=True)
class _Halt:
    until_ms: int | None
    detail: str
    since_ms: int


def _dec(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a decimal: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {text!r}")
    return value


class KillSwitch:
    """Daily loss and drawdown halts (global: they hold for every symbol)."""

    def __init__(self, settings: KillSettings) -> None:
        self.settings = settings
        self.out = Outbox()
        self.changed = False
        self._day: int | None = None
        self._day_ref: Decimal | None = None
        self._peak: Decimal | None = None
        self._halts: dict[str, _Halt] = {}

    @property
    def day_ref(self) -> Decimal | None:
        """The equity the daily loss is measured from (None until the next check re-arms it)."""
        return self._day_ref

    @property
    def peak(self) -> Decimal | None:
        """The peak equity the drawdown is measured from (None until the next check re-arms it)."""
        return self._peak

    def check(self, equity: Decimal, now: int) -> None:
        """One equity reading: roll the day, track the peak, raise the halts whose limit is crossed."""
        self.expire(now)
        if not equity.is_finite():
            return
        day = now // DAY_MS
        if day != self._day or self._day_ref is None:
            self._day, self._day_ref = day, equity
            self.changed = True
        if self._peak is None or equity > self._peak:
            self._peak = equity
            self.changed = True
        s = self.settings
        if s.max_daily_loss_pct > 0 and DAILY not in self._halts and self._day_ref > 0:
            floor = self._day_ref * (1 - Decimal(repr(s.max_daily_loss_pct)))
            if equity < floor:
                detail = (
                    f"equity {equity:.2f} < {floor:.2f}: daily loss limit {s.max_daily_loss_pct:.2%} "
                    f"of {self._day_ref:.2f}"
                )
                self._raise(DAILY, detail, now, self._daily_until(now))
        if s.max_drawdown_pct > 0 and DRAWDOWN not in self._halts and self._peak > 0:
            floor = self._peak * (1 - Decimal(repr(s.max_drawdown_pct)))
            if equity <= floor:
                detail = (
                    f"equity {equity:.2f} <= {floor:.2f}: drawdown limit {s.max_drawdown_pct:.2%} "
                    f"from the peak {self._peak:.2f}"
                )
                sec = s.drawdown_halt_sec
                self._raise(DRAWDOWN, detail, now, now + round(sec * 1000) if sec > 0 else None)

    def expire(self, now: int) -> None:
        """End the halts whose time has come (``kill.halt_lifted``, how=expired)."""
        for code, halt in list(self._halts.items()):
            if halt.until_ms is not None and now >= halt.until_ms:
                self._end(code, "expired")

    def lift(self, code: str) -> bool:
        """The operator ends the halt ``code`` (``kill.halt_lifted``, how=operator); False when none."""
        if code not in self._halts:
            return False
        self._end(code, "operator")
        return True

    def knobs(self, now: int) -> GuardKnobs:
        """A block while a halt is in force (the daily one's code first)."""
        out = GuardKnobs()
        for code in (DAILY, DRAWDOWN):
            halt = self._halts.get(code)
            if halt is not None and (halt.until_ms is None or now < halt.until_ms):
                out = out.tighten(block(code, f"kill switch: {halt.detail}"))
        return out

    def active(self, now: int) -> list[ActiveGuard]:
        """The halts in force."""
        return [
            ActiveGuard("kill_switch", code, None, h.detail, h.until_ms)
            for code, h in self._halts.items()
            if h.until_ms is None or now < h.until_ms
        ]

    # --- persistence ----------------------------------------------------------------------------------------
    def dump(self) -> dict[str, object]:
        """The state as JSON values (equities as decimal strings)."""
        return {
            "day": self._day,
            "day_ref": None if self._day_ref is None else str(self._day_ref),
            "peak": None if self._peak is None else str(self._peak),
            "halts": {
                c: {"until_ms": h.until_ms, "detail": h.detail, "since_ms": h.since_ms}
                for c, h in self._halts.items()
            },
        }

    def restore(self, data: Mapping[str, object], now: int) -> None:
        """Load :meth:`dump`'s output; halts that ended meanwhile are dropped (ValueError on bad data)."""
        self._day = get_opt_int(data, "day")
        ref, peak = data.get("day_ref"), data.get("peak")
        self._day_ref = _dec(None if ref is None else get_str(data, "day_ref"))
        self._peak = _dec(None if peak is None else get_str(data, "peak"))
        halts = data.get("halts", {})
        if not isinstance(halts, Mapping):
            raise ValueError(f"halts must be an object, got {halts!r}")
        self._halts = {}
        for code, raw in halts.items():
            if code not in _KIND or not isinstance(raw, Mapping):
                raise ValueError(f"unknown halt {code!r}")
            halt = _Halt(get_opt_int(raw, "until_ms"), get_str(raw, "detail"), get_int(raw, "since_ms"))
            if halt.until_ms is None or now < halt.until_ms:
                self._halts[code] = halt
            else:  # it ended while the daemon was down
                self._rearm(code)
                self.out.put("kill.halt_lifted", kind=_KIND[code], code=code, how="expired")

    # --- internals ------------------------------------------------------------------------------------------
    def _daily_until(self, now: int) -> int:
        s = self.settings
        if s.daily_halt_sec > 0:
            return now + round(s.daily_halt_sec * 1000)
        return next_utc_time(now, s.daily_halt_until_min if s.daily_halt_until_min is not None else 0)

    def _raise(self, code: str, detail: str, now: int, until: int | None) -> None:
        self._halts[code] = _Halt(until, detail, now)
        self.changed = True
        self.out.put(
            "kill.halted", kind=_KIND[code], code=code, detail=detail, until_ms=until, severity="critical"
        )

    def _end(self, code: str, how: str) -> None:
        del self._halts[code]
        self._rearm(code)
        self.changed = True
        self.out.put("kill.halt_lifted", kind=_KIND[code], code=code, how=how)

    def _rearm(self, code: str) -> None:
        if code == DAILY:
            self._day_ref = None
        else:
            self._peak = None
