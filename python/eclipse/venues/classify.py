"""Map any exception raised by a ccxt call to one :class:`~eclipse.venues.errors.VenueError`.

ccxt's exception class alone is not enough: against a non-Binance host it degrades coded errors to plain
``ExchangeError``; Binance's ``-1000/-1001/-1006`` come out as ``OperationFailed``; HTTP 503 means three
different things depending on the body. :func:`classify` therefore looks at, in this order, the
underlying transport cause (``__cause__``/``__context__``), the HTTP status, the Binance ``code`` / ``msg``
parsed from the JSON body embedded in the message, and finally the ccxt class. The first matching rule
of :data:`RULES` wins; each rule gives the kind for a state-changing call (create, cancel, leverage) and
for a read.

=====  ==========================================================  ==================  =============
#      match                                                       state-changing      read
=====  ==========================================================  ==================  =============
1      cause = connect failure (refused, DNS, connect timeout)     NETWORK             NETWORK
2      HTTP 418 (IP ban)                                           RATE_LIMITED        RATE_LIMITED
3      HTTP 429, DDoSProtection, RateLimitExceeded, -1003, -1015   RATE_LIMITED        RATE_LIMITED
4      InvalidNonce, -1021                                         TIMESTAMP           TIMESTAMP
5      -1008 / "Request throttled by system-level protection",     EXCHANGE_BUSY       EXCHANGE_BUSY
       -1001 / "Internal error; unable to process...",
       "Service Unavailable." (with the dot: the body, not the
       HTTP reason phrase)
6      -1000, -1006, -1007, "Unknown error, please check...",      OUTCOME_UNKNOWN     NETWORK
       "...status unknown"
7      -4116, -2010 "Duplicate order sent.", DuplicateOrderId      DUPLICATE_CLIENT_ID (both)
8      InsufficientFunds, -2019, -2018, "insufficient balance"     INSUFFICIENT_FUNDS  (both)
9      OrderNotFound, -2011, -2013, Coinbase order NOT_FOUND       ORDER_NOT_FOUND     (both)
10     AuthenticationError (PermissionDenied, AccountSuspended),   AUTH                AUTH
       -1002, -1022, -2014, -2015, HTTP 401
11     NotSupported                                                NOT_SUPPORTED       NOT_SUPPORTED
12     InvalidOrder, BadRequest, BadSymbol, ArgumentsRequired,     INVALID_ORDER       INVALID_ORDER
       OperationRejected, ExchangeClosedByUser
13     any other venue code in a JSON body, HTTP < 500 (answered)  INVALID_ORDER       INVALID_ORDER
14     any HTTP 5xx, RequestTimeout, ExchangeNotAvailable (503     OUTCOME_UNKNOWN     NETWORK
       without code, non-JSON), BadResponse, other NetworkError /
       OperationFailed, ExchangeError caused by aiohttp
15     any other ccxt ExchangeError (refused before/without send)  INVALID_ORDER       INVALID_ORDER
16     anything else (e.g. a parse error after the response)       OUTCOME_UNKNOWN     NETWORK
=====  ==========================================================  ==================  =============

A timeout or 5xx on a state-changing call is never "rejected": the order may exist, so it is
``OUTCOME_UNKNOWN`` and must be looked up by client order id. Rate limits carry ``retry_after_s`` from the
``Retry-After`` header when present, else a default (429: 10 s, clamped to [1, 60]; 418: at least 120 s).
Every message goes through :func:`~eclipse.venues.errors.redact`.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import aiohttp

from eclipse.venues.errors import VenueError, VenueErrorKind, redact

__all__ = [
    "BAN_MIN_RETRY_S",
    "CCXT",
    "RATE_LIMIT_DEFAULT_S",
    "RULES",
    "CcxtErrors",
    "Facts",
    "Rule",
    "classify",
    "facts_of",
    "retry_after_from_headers",
]


@dataclass(frozen=True, slots=True)
class CcxtErrors:
    """ccxt's exception classes, typed at the boundary (ccxt ships no type information)."""

    BaseError: type[Exception]
    ExchangeError: type[Exception]
    AuthenticationError: type[Exception]
    ArgumentsRequired: type[Exception]
    BadRequest: type[Exception]
    OperationRejected: type[Exception]
    MarginModeAlreadySet: type[Exception]
    InsufficientFunds: type[Exception]
    InvalidOrder: type[Exception]
    OrderNotFound: type[Exception]
    DuplicateOrderId: type[Exception]
    NotSupported: type[Exception]
    ExchangeClosedByUser: type[Exception]
    OperationFailed: type[Exception]
    NetworkError: type[Exception]
    DDoSProtection: type[Exception]
    RateLimitExceeded: type[Exception]
    ExchangeNotAvailable: type[Exception]
    InvalidNonce: type[Exception]
    RequestTimeout: type[Exception]
    BadResponse: type[Exception]


def _load_ccxt_errors() -> CcxtErrors:
    module: Any = importlib.import_module("ccxt.base.errors")
    found: dict[str, type[Exception]] = {}
    for f in fields(CcxtErrors):
        cls = getattr(module, f.name)
        if not (isinstance(cls, type) and issubclass(cls, Exception)):
            raise TypeError(f"ccxt.base.errors.{f.name} is not an exception class")
        found[f.name] = cls
    return CcxtErrors(**found)


CCXT = _load_ccxt_errors()
K = VenueErrorKind
RATE_LIMIT_DEFAULT_S = 10.0
RATE_LIMIT_RANGE_S = (1.0, 60.0)
BAN_MIN_RETRY_S = 120.0
_MAX_MESSAGE = 600

_NOT_SENT_CAUSES: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
    ConnectionRefusedError,
    socket.gaierror,
)
_TRANSPORT_CAUSES: tuple[type[BaseException], ...] = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


@dataclass(frozen=True, slots=True)
class Facts:
    """What :func:`classify` knows about one failure: the exception, HTTP status and the venue's code/msg."""

    exc: BaseException
    status: int | None
    code: int | str | None
    msg: str
    text: str
    not_sent: bool
    transport_cause: bool

    def isa(self, *classes: type[BaseException]) -> bool:
        """True when the exception is an instance of one of ``classes``."""
        return isinstance(self.exc, classes)


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the table: ``match`` -> ``write`` kind (state-changing call) / ``read`` kind."""

    name: str
    match: Callable[[Facts], bool]
    write: VenueErrorKind
    read: VenueErrorKind


def _code_in(*codes: int) -> Callable[[Facts], bool]:
    return lambda f: f.code in codes


_BUSY_PHRASES = ("service unavailable.", "internal error; unable to process", "request throttled by system")


def _busy(f: Facts) -> bool:
    low = f.text.lower()
    return f.code in (-1008, -1001) or any(p in low for p in _BUSY_PHRASES)


def _unknown(f: Facts) -> bool:
    low = f.text.lower()
    return f.code in (-1000, -1006, -1007) or "unknown error, please check" in low or "status unknown" in low


def _duplicate(f: Facts) -> bool:
    return (
        f.code == -4116
        or (f.code == -2010 and "duplicate order" in f.msg.lower())
        or f.isa(CCXT.DuplicateOrderId)
    )


def _insufficient(f: Facts) -> bool:
    low = f.msg.lower()
    return (
        f.isa(CCXT.InsufficientFunds)
        or f.code in (-2019, -2018)
        or "insufficient balance" in low
        or "insufficient_fund" in f.text.lower()
    )


RULES: tuple[Rule, ...] = (
    Rule("never sent (connect failure)", lambda f: f.not_sent, K.NETWORK, K.NETWORK),
    Rule("IP ban (418)", lambda f: f.status == 418, K.RATE_LIMITED, K.RATE_LIMITED),
    Rule(
        "rate limited",
        lambda f: (
            f.status == 429 or f.code in (-1003, -1015) or f.isa(CCXT.DDoSProtection, CCXT.RateLimitExceeded)
        ),
        K.RATE_LIMITED,
        K.RATE_LIMITED,
    ),
    Rule("timestamp", lambda f: f.code == -1021 or f.isa(CCXT.InvalidNonce), K.TIMESTAMP, K.TIMESTAMP),
    Rule("busy (failed, nothing done)", _busy, K.EXCHANGE_BUSY, K.EXCHANGE_BUSY),
    Rule("execution status unknown", _unknown, K.OUTCOME_UNKNOWN, K.NETWORK),
    Rule("duplicate client order id", _duplicate, K.DUPLICATE_CLIENT_ID, K.DUPLICATE_CLIENT_ID),
    Rule("insufficient funds", _insufficient, K.INSUFFICIENT_FUNDS, K.INSUFFICIENT_FUNDS),
    Rule(
        "order not found",
        lambda f: (
            f.code in (-2011, -2013)
            or f.isa(CCXT.OrderNotFound)
            or (f.code == "NOT_FOUND" and "order" in f.msg.lower())
        ),
        K.ORDER_NOT_FOUND,
        K.ORDER_NOT_FOUND,
    ),
    Rule(
        "auth",
        lambda f: (
            f.code in (-1002, -1022, -2014, -2015) or f.status == 401 or f.isa(CCXT.AuthenticationError)
        ),
        K.AUTH,
        K.AUTH,
    ),
    Rule("not supported", lambda f: f.isa(CCXT.NotSupported), K.NOT_SUPPORTED, K.NOT_SUPPORTED),
    Rule(
        "invalid order",
        lambda f: f.isa(
            CCXT.InvalidOrder,
            CCXT.BadRequest,
            CCXT.ArgumentsRequired,
            CCXT.OperationRejected,
            CCXT.ExchangeClosedByUser,
        ),
        K.INVALID_ORDER,
        K.INVALID_ORDER,
    ),
    Rule(
        "venue rejected with a code",
        lambda f: f.code is not None and (f.status is None or f.status < 500),
        K.INVALID_ORDER,
        K.INVALID_ORDER,
    ),
    Rule(
        "transport / 5xx / timeout",
        lambda f: f.transport_cause or f.isa(CCXT.OperationFailed) or (f.status or 0) >= 500,
        K.OUTCOME_UNKNOWN,
        K.NETWORK,
    ),
    Rule("plain ccxt exchange error", lambda f: f.isa(CCXT.ExchangeError), K.INVALID_ORDER, K.INVALID_ORDER),
    Rule("anything else", lambda f: True, K.OUTCOME_UNKNOWN, K.NETWORK),
)


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    cur: BaseException | None = exc.__cause__ or exc.__context__
    while cur is not None and cur not in chain and len(chain) < 8:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    return chain


def _json_body(text: str) -> dict[str, object] | None:
    """The first JSON object embedded in ``text`` that looks like a venue error body."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            obj, _ = decoder.raw_decode(text, start)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and any(k in obj for k in ("code", "msg", "error", "error_response")):
            return obj
        start = text.find("{", start + 1)
    return None


def _parse_code(raw: object) -> int | str | None:
    if raw is None or isinstance(raw, bool):
        return None
    text = str(raw).strip()
    if not text or text in ("0", "200"):
        return None
    try:
        return int(text)
    except ValueError:
        return text


_STATUS_RE = re.compile(r"\b(?:GET|POST|PUT|DELETE|PATCH) \S+ (\d{3}) ")
_LEAD_STATUS_RE = re.compile(r"^\S+ (4\d\d|5\d\d) ")


def facts_of(exc: BaseException, http_status: int | None = None) -> Facts:
    """Gather the facts :data:`RULES` match on (the HTTP status is parsed from the message if not given)."""
    text = str(exc)
    body = _json_body(text)
    code: int | str | None = None
    msg = ""
    if body is not None:
        code = _parse_code(body.get("code"))
        raw_msg = body.get("msg", body.get("message", ""))
        msg = raw_msg if isinstance(raw_msg, str) else ""
        err = body.get("error_response")
        if code is None and isinstance(err, dict):
            code = _parse_code(err.get("error") or err.get("preview_failure_reason"))
            msg = str(err.get("message") or msg)
        elif code is None and isinstance(body.get("error"), str):
            code = _parse_code(body.get("error"))
            msg = str(body.get("error_description") or body.get("message") or msg)
    elif isinstance(exc, CCXT.BaseError):
        # a message-matched ccxt error: "<exchange id> <venue message>"
        msg = text.split(" ", 1)[1] if " " in text else text
    status = http_status
    if status is None:
        m = _STATUS_RE.search(text) or _LEAD_STATUS_RE.search(text)
        status = int(m.group(1)) if m else None
    causes = _causes(exc)
    return Facts(
        exc=exc,
        status=status,
        code=code,
        msg=msg,
        text=text,
        not_sent=any(isinstance(c, _NOT_SENT_CAUSES) for c in causes),
        transport_cause=any(isinstance(c, _TRANSPORT_CAUSES) for c in causes),
    )


def retry_after_from_headers(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a numeric ``Retry-After`` header (case-insensitive), or None."""
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                seconds = float(str(value).strip())
            except ValueError:
                return None
            return seconds if seconds >= 0 else None
    return None


def _retry_after(facts: Facts, headers: Mapping[str, str] | None) -> float:
    given = retry_after_from_headers(headers)
    if facts.status == 418:
        return max(given or 0.0, BAN_MIN_RETRY_S)
    lo, hi = RATE_LIMIT_RANGE_S
    return min(max(given if given is not None else RATE_LIMIT_DEFAULT_S, lo), hi)


def classify(
    exc: BaseException,
    *,
    venue: str,
    operation: str,
    state_changing: bool,
    secrets: Iterable[str] = (),
    http_status: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> VenueError:
    """The :class:`VenueError` for ``exc`` raised by ``operation`` on ``venue`` (see the module table).

    ``http_status``/``headers`` are the response's, when one arrived (``Retry-After`` sets
    ``retry_after_s``). A VenueError is returned unchanged.
    """
    if isinstance(exc, VenueError):
        return exc
    facts = facts_of(exc, http_status)
    rule = next(r for r in RULES if r.match(facts))
    kind = rule.write if state_changing else rule.read
    retry = _retry_after(facts, headers) if kind is K.RATE_LIMITED else None
    text = redact(f"{type(exc).__name__}: {facts.text}", secrets)
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + "..."
    status = f"HTTP {facts.status}; " if facts.status is not None else ""
    return VenueError(
        kind,
        f"{rule.name} ({status}{text})",
        venue=venue,
        operation=operation,
        code=facts.code,
        retry_after_s=retry,
    )
