"""The spot subset through the real ccxt ``binance`` client (spot markets only, no margin/sapi calls)."""

from __future__ import annotations

import pytest
from ccxt.base.errors import ExchangeError, InsufficientFunds, InvalidOrder, OrderNotFound

from eclipse.venues.sim.runner import SimServerThread

from .conftest import SPOT, requests_log, run, spot


def test_spot_markets_time_klines_tickers(sim: SimServerThread) -> None:
    async def go() -> None:
        async with spot(sim) as ex:
            markets = await ex.load_markets()
            assert list(markets) == [SPOT]
            m = markets[SPOT]
            assert (m["id"], m["type"], m["spot"], m["active"]) == ("BTCUSDT", "spot", True, True)
            assert m["precision"]["amount"] == 0.00001
            assert m["precision"]["price"] == 0.01
            assert m["limits"]["cost"]["min"] == 5
            paths = {r["path"] for r in requests_log(sim)}
            assert paths == {"/api/v3/exchangeInfo"}, "load_markets must not touch sapi or futures"

            assert abs(await ex.fetch_time() - ex.milliseconds()) < 5_000
            bars = await ex.fetch_ohlcv(SPOT, "1m", limit=4)
            assert len(bars) == 4
            assert all(b[3] <= b[1] <= b[2] for b in bars)
            t = await ex.fetch_ticker(SPOT)
            assert t["last"] == bars[-1][4]
            assert t["bid"] < t["ask"]
            assert t["high"] >= t["low"]
            book = (await ex.fetch_bids_asks([SPOT]))[SPOT]
            assert book["bid"] == t["bid"]
            assert book["ask"] == t["ask"]
            assert int(ex.last_response_headers["X-MBX-USED-WEIGHT-1M"]) >= 20 + 1 + 2 + 2 + 2

    run(go())


def test_spot_orders_balances_and_trades(sim: SimServerThread) -> None:
    async def go() -> None:
        async with spot(sim) as ex:
            await ex.load_markets()
            bal = await ex.fetch_balance()
            assert bal["USDT"]["free"] == 10_000
            assert bal["BTC"]["total"] == 0

            buy = await ex.create_order(SPOT, "market", "buy", 0.01, params={"clientOrderId": "spot-buy"})
            assert (buy["clientOrderId"], buy["status"], buy["filled"], buy["side"]) == (
                "spot-buy",
                "closed",
                0.01,
                "buy",
            )
            assert buy["average"] > 0
            assert buy["cost"] == pytest.approx(0.01 * buy["average"])
            assert len(buy["trades"]) == 1
            assert buy["trades"][0]["price"] == buy["average"]

            bal = await ex.fetch_balance()
            assert 0.0099 < bal["BTC"]["free"] < 0.01  # the fee is paid in BTC
            assert bal["USDT"]["free"] == pytest.approx(10_000 - buy["cost"])

            last = (await ex.fetch_ticker(SPOT))["last"]
            ask = round(last * 1.03, 2)
            sell = await ex.create_order(SPOT, "limit", "sell", 0.005, ask, params={"postOnly": True})
            assert (sell["status"], sell["type"], sell["postOnly"], sell["price"]) == (
                "open",
                "limit",
                True,
                ask,
            )
            assert sell["info"]["type"] == "LIMIT_MAKER"
            assert (await ex.fetch_balance())["BTC"]["used"] == 0.005
            by_id = await ex.fetch_order(sell["id"], SPOT)
            by_cid = await ex.fetch_order(None, SPOT, params={"origClientOrderId": sell["clientOrderId"]})
            assert by_id["id"] == by_cid["id"] == sell["id"]
            assert by_cid["status"] == "open"
            assert [o["id"] for o in await ex.fetch_open_orders(SPOT)] == [sell["id"]]

            with pytest.raises(InvalidOrder, match="would immediately match"):  # post-only that would take
                await ex.create_order(
                    SPOT, "limit", "sell", 0.001, round(last * 0.97, 2), params={"postOnly": True}
                )
            with pytest.raises(InsufficientFunds):
                await ex.create_order(SPOT, "limit", "sell", 1, ask)
            with pytest.raises(ExchangeError, match="Duplicate order sent"):
                await ex.create_order(
                    SPOT, "limit", "sell", 0.001, ask, params={"clientOrderId": sell["clientOrderId"]}
                )

            canceled = await ex.cancel_order(sell["id"], SPOT)
            assert canceled["status"] == "canceled"
            assert canceled["id"] == sell["id"]
            assert canceled["info"]["origClientOrderId"] == sell["clientOrderId"]
            assert await ex.fetch_open_orders(SPOT) == []
            with pytest.raises(OrderNotFound):
                await ex.cancel_order(sell["id"], SPOT)

            [trade] = await ex.fetch_my_trades(SPOT)
            assert (trade["order"], trade["side"], trade["amount"], trade["takerOrMaker"]) == (
                buy["id"],
                "buy",
                0.01,
                "taker",
            )
            assert trade["fee"]["currency"] == "BTC"
            assert trade["fee"]["cost"] > 0

            # a market buy by quote amount (ccxt sends quoteOrderQty = amount * price when given a price)
            q = await ex.create_order(SPOT, "market", "buy", 0.002, last)
            assert q["status"] == "closed"
            assert 0.0015 < q["filled"] <= 0.002
            assert q["cost"] <= 0.002 * last * 1.0001

    run(go())
