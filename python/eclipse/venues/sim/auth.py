"""Admission of a request to the simulator: route records (:class:`Endpoint`), request parameters
(:class:`Params`), key pairs and signature checks for both dialects, and the per-minute weight limiter.

Binance: HMAC-SHA256 (hex) of the exact ``query string + body`` without the ``signature`` parameter, key in
``X-MBX-APIKEY``; accepted if ``timestamp < serverTime + 1000`` and ``serverTime - timestamp <= recvWindow``
(default 5000, at most 60000). Coinbase (legacy key): ``CB-ACCESS-SIGN`` = hex HMAC-SHA256 of
``timestamp + METHOD + path + body`` with ``CB-ACCESS-KEY`` / ``CB-ACCESS-TIMESTAMP`` (seconds, +-30 s).
Errors carry no secret and no signature.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from eclipse.venues.sim.model import EngineReject

if TYPE_CHECKING:
    from eclipse.venues.sim.config import KeyPair
    from eclipse.venues.sim.server import SimContext

__all__ = [
    "Admission",
    "Call",
    "Endpoint",
    "HttpError",
    "KeyRing",
    "Params",
    "Security",
    "WeightLimiter",
    "digits",
    "verify_binance",
    "verify_coinbase",
]

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
COINBASE_SKEW_S = 30
_DECIMAL_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
_DECIMAL_RE = re.compile(_DECIMAL_RANGE)
_INT64_MAX = 2**63 - 1  # Binance's integer parameters are signed 64-bit (so is SQLite's INTEGER)


def digits(text: str) -> bool:
    """True for a non-empty run of ASCII digits (``str.isdigit`` also accepts e.g. superscripts)."""
    return text.isascii() and text.isdigit()


_digits = digits


class HttpError(Exception):
    """A non-Binance error response: HTTP ``status`` with the JSON ``body`` (Coinbase, control plane)."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        self.status = status
        self.body = dict(body)
        super().__init__(f"HTTP {status}")


class Security(Enum):
    """How a route authenticates."""

    NONE = "none"  # public market data (an API key, if sent, still names the rate-limit bucket)
    BINANCE = "binance"  # HMAC-signed Binance request
    COINBASE = "coinbase"  # CB-ACCESS-* signed Coinbase request
    CONTROL = "control"  # the simulator's own control plane: no auth, no faults, no weights


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One route: ``handler(ctx, call)`` returns JSON-able data or raises EngineReject / HttpError.

    ``weight`` is a number or a function of the parameters; ``orders`` = counts against the order-rate
    limits; ``state_changing`` = it can change the account (recorded in the request journal).
    """

    method: str
    path: str
    handler: Callable[[SimContext, Call], Any]
    fault_class: str = "market_data"
    weight: int | Callable[[Params], int] = 1
    security: Security = Security.NONE
    orders: bool = False
    state_changing: bool = False
    dialect: str = "binance"

    def weight_of(self, params: Params) -> int:
        """The request weight of this call."""
        return self.weight if isinstance(self.weight, int) else self.weight(params)


class Params:
    """Request parameters (last value wins) with Binance-style validation errors."""

    __slots__ = ("_d",)

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._d: dict[str, str] = dict(pairs)

    @classmethod
    def parse(cls, *raw: str) -> Params:
        """Parameters of url-encoded strings (query, form body)."""
        p = cls()
        for text in raw:
            if text:
                p._d.update(parse_qsl(text, keep_blank_values=True))
        return p

    def __contains__(self, name: str) -> bool:
        return name in self._d

    def as_dict(self) -> dict[str, str]:
        """A copy of the raw values."""
        return dict(self._d)

    def get(self, name: str) -> str | None:
        """The value, or None when absent or empty."""
        value = self._d.get(name)
        return value if value else None

    def req(self, name: str) -> str:
        """A mandatory value (-1102 when absent or empty)."""
        value = self._d.get(name)
        if not value:
            raise EngineReject(
                -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
            )
        return value

    def decimal(self, name: str, required: bool = False) -> Decimal | None:
        """A plain non-negative decimal as Binance accepts it (digits, optional fraction, no exponent):
        -1100 on anything else, -1102 when required and absent."""
        text = self.req(name) if required else self.get(name)
        if text is None:
            return None
        if not _DECIMAL_RE.match(text):
            raise EngineReject(
                -1100, f"Illegal characters found in parameter '{name}'; legal range is '{_DECIMAL_RANGE}'."
            )
        return Decimal(text)

    def integer(
        self, name: str, default: int | None = None, lo: int = 0, hi: int | None = None
    ) -> int | None:
        """An integer in ``lo..hi`` (-1100 on garbage or beyond a signed 64-bit integer, -1130 out of
        range)."""
        text = self.get(name)
        if text is None:
            return default
        if not _digits(text) or len(text) > 19 or int(text) > _INT64_MAX:
            raise EngineReject(
                -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,19}}$'."
            )
        value = int(text)
        if value < lo or (hi is not None and value > hi):
            raise EngineReject(-1130, f"Data sent for parameter '{name}' is not valid.")
        return value

    def boolean(self, name: str) -> bool:
        """``true``/``false`` (case-insensitive; absent = False; anything else -1130)."""
        text = self.get(name)
        if text is None:
            return False
        low = text.lower()
        if low not in ("true", "false"):
            raise EngineReject(-1130, f"Data sent for parameter '{name}' is not valid.")
        return low == "true"


@dataclass(slots=True)
class Call:
    """One admitted request as a handler sees it."""

    params: Params
    api_key: str | None = None
    body: bytes = b""
    path_args: dict[str, str] = field(default_factory=dict)
    server_ms: int = 0


class KeyRing:
    """The accepted API keys and their secrets (never logged, never echoed)."""

    __slots__ = ("_secrets",)

    def __init__(self, pairs: Iterable[KeyPair]) -> None:
        self._secrets = {p.key: p.secret.encode() for p in pairs}

    def __repr__(self) -> str:
        return f"KeyRing({len(self._secrets)} key(s))"

    def known(self, key: str | None) -> bool:
        """True for an accepted key."""
        return key is not None and key in self._secrets

    def secret(self, key: str) -> bytes | None:
        """The secret of ``key`` (None if unknown)."""
        return self._secrets.get(key)


def _strip_signature(raw: str) -> tuple[str, str | None]:
    if "signature=" not in raw:
        return raw, None
    kept: list[str] = []
    sig: str | None = None
    for part in raw.split("&"):
        if part.startswith("signature="):
            sig = part[10:]
        else:
            kept.append(part)
    return "&".join(kept), sig


def verify_binance(keys: KeyRing, api_key: str | None, query: str, body: str, server_ms: int) -> Params:
    """Check key, signature and timestamp of a signed Binance request; its parameters, or EngineReject."""
    if not api_key:
        raise EngineReject(-2014, "API-key format invalid.", 401)
    secret = keys.secret(api_key)
    if secret is None:
        raise EngineReject(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    q, sig_q = _strip_signature(query)
    b, sig_b = _strip_signature(body)
    sig = sig_q if sig_q is not None else sig_b
    if not sig:
        raise EngineReject(
            -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
        )
    expected = hmac.new(secret, (q + b).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sig.lower()):
        raise EngineReject(-1022, "Signature for this request is not valid.")
    params = Params.parse(q, b)
    ts = params.integer("timestamp")
    if ts is None:
        raise EngineReject(
            -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
        )
    window = params.integer("recvWindow", DEFAULT_RECV_WINDOW)
    assert window is not None
    if window > MAX_RECV_WINDOW:
        raise EngineReject(-1131, "recvWindow must be less than 60000")
    if not (ts < server_ms + 1000 and server_ms - ts <= window):
        raise EngineReject(-1021, "Timestamp for this request is outside of the recvWindow.")
    return params


def _unauthorized(detail: str) -> HttpError:
    return HttpError(401, {"error": "unauthorized", "error_details": detail, "message": detail})


def verify_coinbase(
    keys: KeyRing, headers: Mapping[str, str], method: str, path: str, body: str, server_ms: int
) -> str:
    """Check a legacy-key Coinbase request (CB-ACCESS-*); the API key, or HttpError 401."""
    key = headers.get("CB-ACCESS-KEY")
    sig = headers.get("CB-ACCESS-SIGN")
    ts = headers.get("CB-ACCESS-TIMESTAMP", "")
    if headers.get("Authorization", "").startswith("Bearer "):
        raise _unauthorized("JWT (CDP) keys are not accepted by the simulator; use its HMAC test key")
    if not key or not sig:
        raise _unauthorized("missing CB-ACCESS-KEY or CB-ACCESS-SIGN")
    secret = keys.secret(key)
    if secret is None:
        raise _unauthorized("invalid api key")
    if not _digits(ts) or abs(int(ts) - server_ms // 1000) > COINBASE_SKEW_S:
        raise _unauthorized("request timestamp expired")
    expected = hmac.new(secret, (ts + method + path + body).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sig.lower()):
        raise _unauthorized("invalid signature")
    return key


@dataclass(frozen=True, slots=True)
class Admission:
    """The limiter's verdict: ``status`` 200 = admitted; else 429/418 with ``code``/``msg``."""

    status: int
    used_weight: int
    orders_10s: int = 0
    orders_1m: int = 0
    retry_after_s: int = 0
    code: int = 0
    msg: str = ""


class _Bucket:
    """One IP's request weight in the current minute, its 429 count and ban."""

    __slots__ = ("banned_until", "hits", "minute", "used")

    def __init__(self) -> None:
        self.minute = -1
        self.used = 0
        self.hits = 0
        self.banned_until = 0


class _Orders:
    """One account's order counts in the current 10 s and minute windows."""

    __slots__ = ("minute", "o1m", "o10", "o10_start")

    def __init__(self) -> None:
        self.minute = -1
        self.o10_start = -1
        self.o10 = 0
        self.o1m = 0


class WeightLimiter:
    """Binance-like limits: request weight per minute per IP, order counts per 10 s / minute per account
    (the API key stands for the account).

    Over the weight limit: 429 -1003 with Retry-After up to the next minute; more than ``ban_after`` such
    answers in the same minute: 418 (the IP is banned for ``ban_ms``). Over an order limit: 429 -1015.
    Windows are aligned like Binance's.
    """

    def __init__(self, weight_limit: int, order_10s: int, order_1m: int, ban_after: int, ban_ms: int) -> None:
        self.weight_limit = weight_limit
        self.order_10s = order_10s
        self.order_1m = order_1m
        self.ban_after = ban_after
        self.ban_ms = ban_ms
        self._buckets: dict[str, _Bucket] = {}
        self._orders: dict[str, _Orders] = {}

    def reset(self) -> None:
        """Forget all counters and bans."""
        self._buckets.clear()
        self._orders.clear()

    def used(self, ip: str, now_ms: int) -> int:
        """Weight used by ``ip`` in the current minute."""
        b = self._buckets.get(ip)
        return b.used if b is not None and b.minute == now_ms // 60_000 else 0

    def _ban(self, b: _Bucket, now_ms: int) -> Admission:
        return Admission(
            418,
            b.used,
            retry_after_s=max(1, -(-(b.banned_until - now_ms) // 1000)),
            code=-1003,
            msg=(
                f"Way too much request weight used; IP banned until {b.banned_until}. "
                "Please use the websocket for live updates to avoid bans."
            ),
        )

    def admit(self, ip: str, account: str, weight: int, orders: bool, now_ms: int) -> Admission:
        """Count one request of ``weight`` from ``ip`` (and one order of ``account`` if ``orders``) or
        refuse it."""
        b = self._buckets.get(ip)
        if b is None:
            b = self._buckets[ip] = _Bucket()
        if b.banned_until > now_ms:
            return self._ban(b, now_ms)
        minute = now_ms // 60_000
        if b.minute != minute:
            b.minute, b.used, b.hits = minute, 0, 0
        if b.used + weight > self.weight_limit:
            b.hits += 1
            if b.hits > self.ban_after:
                b.banned_until = now_ms + self.ban_ms
                return self._ban(b, now_ms)
            return Admission(
                429,
                b.used,
                retry_after_s=max(1, -(-((minute + 1) * 60_000 - now_ms) // 1000)),
                code=-1003,
                msg=(
                    f"Too many requests; current limit is {self.weight_limit} requests per minute. "
                    "Please use the websocket for live updates to avoid polling the API."
                ),
            )
        a = self._orders.get(account)
        if a is None:
            a = self._orders[account] = _Orders()
        if a.minute != minute:
            a.minute, a.o1m = minute, 0
        start10 = now_ms // 10_000
        if a.o10_start != start10:
            a.o10_start, a.o10 = start10, 0
        if orders:
            if a.o10 + 1 > self.order_10s or a.o1m + 1 > self.order_1m:
                per = (
                    (self.order_10s, "10 SECOND") if a.o10 + 1 > self.order_10s else (self.order_1m, "MINUTE")
                )
                return Admission(
                    429,
                    b.used,
                    a.o10,
                    a.o1m,
                    retry_after_s=10 if per[1] == "10 SECOND" else 60,
                    code=-1015,
                    msg=f"Too many new orders; current limit is {per[0]} orders per {per[1]}.",
                )
            a.o10 += 1
            a.o1m += 1
        b.used += weight
        return Admission(200, b.used, a.o10, a.o1m)
