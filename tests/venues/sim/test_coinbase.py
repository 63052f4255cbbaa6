"""The Coinbase Advanced Trade surface through the real ccxt ``coinbase`` class (legacy HMAC key)."""

from __future__ import annotations

import pytest
from ccxt.base.errors import AuthenticationError, BadRequest, ExchangeError, InsufficientFunds

from eclipse.venues.sim.runner import SimServerThread

from .conftest import SPOT, coinbase, requests_log, run


def test_coinbase_markets_orders_fills_and_balances(sim: SimServerThread) -> None:
    async def go() -> None:
        async with coinbase(sim) as ex:
            markets = await ex.load_markets()
            m = markets[SPOT]
            assert (m["id"], m["spot"], m["active"]) == ("BTC-USDT", True, True)
            assert m["precision"]["amount"] == 0.00001
            assert m["precision"]["price"] == 0.01
            assert not any(r["path"].startswith("/v2/") for r in requests_log(sim))

            last = float((await ex.fetch_markets())[0]["info"]["price"])
            price = round(last * 0.97, 2)
            o = await ex.create_order(SPOT, "limit", "buy", 0.002, price, params={"client_order_id": "cb-1"})
            assert o["id"]
            assert o["clientOrderId"] == "cb-1"
            got = await ex.fetch_order(o["id"])
            assert (got["id"], got["clientOrderId"], got["status"], got["side"], got["type"]) == (
                o["id"],
                "cb-1",
                "open",
                "buy",
                "limit",
            )
            assert (got["price"], got["amount"], got["filled"]) == (price, 0.002, 0)
            assert got["timestamp"]

            # a reused client_order_id returns the original order (Coinbase's idempotency)
            again = await ex.create_order(
                SPOT, "limit", "buy", 0.002, price, params={"client_order_id": "cb-1"}
            )
            assert again["id"] == o["id"]

            canceled = await ex.cancel_order(o["id"])
            assert canceled["id"] == o["id"]
            assert (await ex.fetch_order(o["id"]))["status"] == "canceled"
            with pytest.raises(BadRequest):  # already canceled
                await ex.cancel_order(o["id"])
            with pytest.raises(ExchangeError, match="NOT_FOUND"):
                await ex.fetch_order("424242")

            buy = await ex.create_order(
                SPOT,
                "market",
                "buy",
                0.001,
                params={"client_order_id": "cb-2", "createMarketBuyOrderRequiresPrice": False, "cost": 50},
            )
            filled = await ex.fetch_order(buy["id"])
            assert filled["status"] == "closed"
            assert filled["filled"] > 0
            assert filled["average"] > 0

            with pytest.raises(InsufficientFunds):
                await ex.create_order(SPOT, "limit", "buy", 5, price, params={"client_order_id": "cb-3"})

            trades = await ex.fetch_my_trades(SPOT)
            assert [t["order"] for t in trades] == [buy["id"]]
            assert trades[0]["amount"] == filled["filled"]
            assert trades[0]["price"] > 0

            bal = await ex.fetch_balance()
            assert bal["BTC"]["free"] > 0
            assert bal["USDT"]["free"] < 10_000

    run(go())


def test_coinbase_rejects_a_bad_signature(sim: SimServerThread) -> None:
    async def go() -> None:
        async with coinbase(sim, secret="wrong-secret") as ex:
            with pytest.raises(AuthenticationError):  # load_markets also asks for the (signed) fee tier
                await ex.load_markets()
            with pytest.raises(AuthenticationError):
                await ex.fetch_balance()

    run(go())
