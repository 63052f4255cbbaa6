"""Our deterministic client order ids, parsed back into their intent, kind, symbol and side.

Recovery uses it to recognise, on the venue, orders of ours whose journal records a power loss dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from eclipse.contracts import IntentKind
from eclipse.venues.types import Side

__all__ = ["ClientId", "parse_client_id"]


_OUR_ID = re.compile(
    r"^(?:"
    r"(?P<entry>E-(?P<esym>[A-Za-z0-9_]+)-(?P<eside>[bs])-\d+)-(?:(?P<attempt>\d+)|(?P<etag>sl|tp)-\d+)"
    r"|(?P<cover>P-(?P<psym>[A-Za-z0-9_]+)-\d+)-(?P<ptag>sl|tp)-\d+"
    r"|(?P<exit>X-(?P<xsym>[A-Za-z0-9_]+)-\d+)-\d+"
    r")(?:\.r\d+)?$"
)
_TAGS = {"sl": IntentKind.STOP_LOSS, "tp": IntentKind.TAKE_PROFIT}


@dataclass(frozen=True, slots=True)
class ClientId:
    """What one of our deterministic client ids says: its intent, the order's kind, the symbol key
    (``BTCUSDT`` for ``BTC/USDT:USDT``) and, for an entry intent, the entry's side."""

    intent_id: str
    kind: IntentKind
    symbol_key: str
    entry_side: Side | None

    def matches(self, symbol: str) -> bool:
        """True when the id was made for ``symbol``."""
        return symbol.split(":")[0].replace("/", "") == self.symbol_key


def parse_client_id(client_order_id: str | None) -> ClientId | None:
    """The meaning of one of our client ids, None for any other (a foreign order).

    Entries ``E-<SYM>-<b|s>-<bar_close_ms>-<attempt>`` (``EntryIntent.make_id`` + ``sizing.client_order_id``),
    protective legs ``<intent>-sl-<n>`` / ``<intent>-tp-<n>`` of an entry intent or of ``P-<SYM>-<opened_ms>``
    (``exits/protection.py``), exits and flattens ``X-<SYM>-<opened_ms>-<n>`` (``exits/rules.exit_request``,
    ``OrderTracker.fresh_id``), each optionally followed by a replacement suffix ``.r<n>``.
    """
    m = _OUR_ID.match(client_order_id or "")
    if m is None:
        return None
    if m["entry"] is not None:
        side = Side.BUY if m["eside"] == "b" else Side.SELL
        kind = IntentKind.ENTRY if m["attempt"] is not None else _TAGS[m["etag"]]
        return ClientId(m["entry"], kind, m["esym"], side)
    if m["cover"] is not None:
        return ClientId(m["cover"], _TAGS[m["ptag"]], m["psym"], None)
    return ClientId(m["exit"], IntentKind.EXIT, m["xsym"], None)
