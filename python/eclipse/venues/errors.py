"""The venue error taxonomy: every failure of a venue call is one :class:`VenueError` of one kind.

The router acts on the kind alone. Each kind says whether the failure is *definitive* (the venue certainly
did not act on the request, so the request's outcome is known) and whether resending can help. Only
``OUTCOME_UNKNOWN`` is not definitive: a timeout or a 5xx on a state-changing call may have landed, and it
must be resolved by a lookup by client order id before anything is resent.

Messages never carry credentials: :func:`redact` scrubs any registered secret from text before it is
stored in an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from eclipse.errors import EclipseError

__all__ = ["ErrorClass", "VenueError", "VenueErrorKind", "error_class", "redact"]


class VenueErrorKind(StrEnum):
    """What went wrong, in the terms the router acts on."""

    NETWORK = "network"
    OUTCOME_UNKNOWN = "outcome_unknown"
    EXCHANGE_BUSY = "exchange_busy"
    RATE_LIMITED = "rate_limited"
    TIMESTAMP = "timestamp"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    INVALID_ORDER = "invalid_order"
    ORDER_NOT_FOUND = "order_not_found"
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    AUTH = "auth"
    NOT_SUPPORTED = "not_supported"


@dataclass(frozen=True, slots=True)
class ErrorClass:
    """Policy of one kind: ``definitive`` = the venue did not act; ``retryable`` = resending may help."""

    kind: VenueErrorKind
    definitive: bool
    retryable: bool
    meaning: str


_CLASSES: dict[VenueErrorKind, ErrorClass] = {
    c.kind: c
    for c in (
        ErrorClass(VenueErrorKind.NETWORK, True, True, "the request never reached the venue (or was a read)"),
        ErrorClass(
            VenueErrorKind.OUTCOME_UNKNOWN,
            False,
            False,
            "a state-changing request may have been executed; look it up by client order id before resending",
        ),
        ErrorClass(VenueErrorKind.EXCHANGE_BUSY, True, True, "the venue refused for load; nothing was done"),
        ErrorClass(VenueErrorKind.RATE_LIMITED, True, True, "over the request budget; wait retry_after_s"),
        ErrorClass(VenueErrorKind.TIMESTAMP, True, True, "clock skew or recvWindow; resync time and resend"),
        ErrorClass(VenueErrorKind.INSUFFICIENT_FUNDS, True, False, "not enough balance or margin"),
        ErrorClass(VenueErrorKind.INVALID_ORDER, True, False, "the order breaks a venue rule or filter"),
        ErrorClass(VenueErrorKind.ORDER_NOT_FOUND, True, False, "no such order (or already gone)"),
        ErrorClass(
            VenueErrorKind.DUPLICATE_CLIENT_ID,
            True,
            False,
            "an open order already has this client order id; look it up instead of resending",
        ),
        ErrorClass(VenueErrorKind.AUTH, True, False, "bad key, signature or permission"),
        ErrorClass(VenueErrorKind.NOT_SUPPORTED, True, False, "the venue or adapter cannot do this"),
    )
}


def error_class(kind: VenueErrorKind) -> ErrorClass:
    """The policy facts of ``kind``."""
    return _CLASSES[kind]


class VenueError(EclipseError):
    """A venue call failed. ``kind`` drives the router; ``code`` is the venue's own error code if any.

    ``local`` is True when the request was refused before it left the process (precision, min notional).
    ``retry_after_s`` is set for rate limits when the venue said how long to wait.
    """

    def __init__(
        self,
        kind: VenueErrorKind,
        message: str,
        *,
        venue: str = "",
        operation: str = "",
        code: int | str | None = None,
        retry_after_s: float | None = None,
        local: bool = False,
    ) -> None:
        self.kind = kind
        self.venue = venue
        self.operation = operation
        self.code = code
        self.retry_after_s = retry_after_s
        self.local = local
        self.message = message
        where = f"{venue} {operation}".strip()
        prefix = f"[{kind.value}] {where}: " if where else f"[{kind.value}] "
        super().__init__(prefix + message)

    @property
    def definitive(self) -> bool:
        """True when the venue certainly did not act on the request."""
        return _CLASSES[self.kind].definitive

    @property
    def retryable(self) -> bool:
        """True when resending (after the kind's remedy) may succeed."""
        return _CLASSES[self.kind].retryable

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild,
            (self.kind, self.message, self.venue, self.operation, self.code, self.retry_after_s, self.local),
        )


def _rebuild(
    kind: VenueErrorKind,
    message: str,
    venue: str,
    operation: str,
    code: int | str | None,
    retry_after_s: float | None,
    local: bool,
) -> VenueError:
    return VenueError(
        kind, message, venue=venue, operation=operation, code=code, retry_after_s=retry_after_s, local=local
    )


_MASK = "***"


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret (4+ chars) replaced by ``***``; also masks
    ``signature=<hex>`` query parameters and ``X-MBX-APIKEY`` header values."""
    out = text
    for s in secrets:
        if s and len(s) >= 4:
            out = out.replace(s, _MASK)
    out = re.sub(r"(signature=)[0-9a-fA-F]+", r"\1" + _MASK, out)
    out = re.sub(r"(X-MBX-APIKEY['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+", r"\1" + _MASK, out, flags=re.IGNORECASE)
    return out
