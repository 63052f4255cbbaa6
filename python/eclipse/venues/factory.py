"""Open the venue the knobs ask for: the paper venue in dry-run (the default), a live ccxt venue only when
live trading is asked for twice.

* ``SCALPER_DRY_RUN=1`` (default): a :class:`~eclipse.venues.paper.PaperVenue` whose market data come from
  ``EXCHANGE_ADAPTER``'s public endpoints (or the simulator at ``VENUE_API_URL``) through a ccxt venue built
  *without credentials*: no key is even loaded, so no private request can be signed.
* ``SCALPER_DRY_RUN=0``: a :class:`~eclipse.venues.ccxt_venue.CcxtVenue` with the keys from the environment
  or ``.env``. Against a real exchange this also needs ``live_confirmed=True`` (the CLI's ``--live`` flag):
  one switch in a file is not enough to trade real money. Against the simulator (``EXCHANGE_ADAPTER=sim``)
  it is not needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from eclipse.clock import Clock
from eclipse.errors import ConfigError
from eclipse.venues.ccxt_factory import VenueSettings, load_venue_settings
from eclipse.venues.ccxt_venue import CcxtVenue
from eclipse.venues.credentials import Credentials
from eclipse.venues.paper import PaperVenue
from eclipse.venues.protocol import Venue
from eclipse.venues.types import MarketKind

__all__ = ["market_kind", "open_venue"]

_SPOT_ADAPTERS = frozenset({"binance", "coinbase"})


def market_kind(settings: VenueSettings) -> MarketKind:
    """Spot for ``binance``/``coinbase``, linear perpetuals for ``binanceusdm`` and the simulator."""
    return MarketKind.SPOT if settings.adapter in _SPOT_ADAPTERS else MarketKind.LINEAR


def open_venue(
    env: Mapping[str, str],
    clock: Clock,
    *,
    live_confirmed: bool = False,
    dotenv_path: Path | str | None = ".env",
    paper_store: Path | str | None = None,
    symbols: Sequence[str] | None = None,
) -> Venue:
    """The venue for ``env`` (see the module docstring); ConfigError names the knob when refused.

    ``symbols`` limits a paper venue to these unified symbols; ``paper_store`` keeps its account in SQLite.
    """
    s = load_venue_settings(env)
    if s.dry_run:
        source = _ccxt(s, None, clock)
        return PaperVenue(source, clock, kind=market_kind(s), store_path=paper_store, symbols=symbols)
    if s.adapter != "sim" and not live_confirmed:
        raise ConfigError(
            "SCALPER_DRY_RUN",
            "0",
            f"live trading on {s.adapter} to be confirmed a second time (the --live flag); "
            "leave SCALPER_DRY_RUN=1 to trade on paper",
        )
    return _ccxt(s, s.credentials(env, dotenv_path), clock)


def _ccxt(s: VenueSettings, credentials: Credentials | None, clock: Clock) -> CcxtVenue:
    return CcxtVenue(
        s.exchange_id,
        credentials,
        clock,
        api_url=s.api_url or None,
        timeout_ms=s.timeout_ms,
        recv_window_ms=s.recv_window_ms,
        weight_budget_pct=s.weight_budget_pct,
        weight_reserve_pct=s.weight_reserve_pct,
    )
