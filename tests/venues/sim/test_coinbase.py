"""The Coinbase Advanced Trade surface through the real ccxt ``coinbase`` class (legacy HMAC key)."""

from __future__ import annotations

import pytest
from ccxt.base.errors import AuthenticationError, BadRequest, ExchangeError, InsufficientFunds

from eclipse.venues.sim.runner import SimServerThread

from .conftest import SPOT, coinbase, control, requests_log, run, spot, step


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


def test_coinbase_ticker_and_candles_follow_the_feed(sim: SimServerThread) -> None:
    async def go() -> None:
        async with coinbase(sim) as ex, spot(sim) as bn:
            await ex.load_markets()
            t = await ex.fetch_ticker(SPOT)
            book = await bn.fetch_ticker(SPOT)  # the same feed through the Binance spot dialect
            assert (t["symbol"], t["last"], t["bid"], t["ask"]) == (
                SPOT,
                book["last"],
                book["bid"],
                book["ask"],
            )
            assert t["bid"] < t["last"] < t["ask"]
            market_ms = control(sim, "GET", "/_sim/state")["market_time"]
            assert t["timestamp"] == market_ms
            [call] = requests_log(sim, path="/api/v3/brokerage/market/products/BTC-USDT/ticker")
            assert (call["status"], call["signed"]) == (200, False)

            bars = await ex.fetch_ohlcv(SPOT, "1m", limit=5)
            assert len(bars) == 5
            assert [b[0] - bars[0][0] for b in bars] == [0, 60_000, 120_000, 180_000, 240_000]
            assert bars[-1][0] == market_ms // 60_000 * 60_000  # the forming bar
            assert bars[-1][4] == t["last"]
            since = bars[0][0] // 300_000 * 300_000 - 50 * 300_000
            five = await ex.fetch_ohlcv(SPOT, "5m", since, 10)
            ref = await bn.fetch_ohlcv(SPOT, "5m", since, 10)
            assert [b[:5] for b in five] == [b[:5] for b in ref]
            assert len(five) == 10
            assert five[0][0] == since

            step(sim, 3)
            moved = await ex.fetch_ticker(SPOT)
            assert moved["timestamp"] == market_ms + 3 * 60_000
            assert moved["last"] == (await bn.fetch_ticker(SPOT))["last"]

            # the signed /products twin answers the same
            private = await ex.fetch_ticker(SPOT, params={"usePrivate": True})
            assert (private["last"], private["bid"]) == (moved["last"], moved["bid"])
            pid, now_s = "BTC-USDT", market_ms // 1000
            window = {"product_id": pid, "granularity": "ONE_MINUTE", "start": now_s - 600, "end": now_s}
            raw = await ex.v3PrivateGetBrokerageProductsProductIdCandles(window)
            starts = [int(c["start"]) for c in raw["candles"]]
            assert starts == sorted(starts, reverse=True)  # newest first, as Coinbase
            assert len(starts) == 10
            assert max(starts) < now_s <= max(starts) + 60  # [start, end): the bar opening at end is out

            with pytest.raises(BadRequest, match="granularity"):
                await ex.fetch_ohlcv(SPOT, "3m", limit=5)
            with pytest.raises(BadRequest, match="350"):
                await ex.v3PublicGetBrokerageMarketProductsProductIdCandles(
                    window | {"start": now_s - 351 * 60}
                )
            with pytest.raises(BadRequest, match="end must be after start"):
                await ex.v3PublicGetBrokerageMarketProductsProductIdCandles(window | {"end": now_s - 600})
            with pytest.raises(ExchangeError, match="NOT_FOUND"):
                await ex.v3PublicGetBrokerageMarketProductsProductIdTicker(
                    {"product_id": "ETH-USDT", "limit": 1}
                )

    run(go())


def test_coinbase_lists_orders_by_status_product_and_page(sim: SimServerThread) -> None:
    async def go() -> None:
        async with coinbase(sim) as ex:
            await ex.load_markets()
            last = (await ex.fetch_ticker(SPOT))["last"]
            assert await ex.fetch_open_orders(SPOT) == []
            low, lower = round(last * 0.95, 2), round(last * 0.9, 2)
            a = await ex.create_order(SPOT, "limit", "buy", 0.001, low, params={"client_order_id": "l-a"})
            b = await ex.create_order(SPOT, "limit", "buy", 0.002, lower, params={"client_order_id": "l-b"})
            m = await ex.create_order(
                SPOT,
                "market",
                "buy",
                0.001,
                params={"client_order_id": "l-m", "createMarketBuyOrderRequiresPrice": False, "cost": 50},
            )
            await ex.cancel_order(a["id"])

            opened = await ex.fetch_open_orders(SPOT)
            assert [(o["id"], o["clientOrderId"], o["status"], o["price"]) for o in opened] == [
                (b["id"], "l-b", "open", lower)
            ]
            assert [o["id"] for o in await ex.fetch_open_orders()] == [b["id"]]
            assert [o["id"] for o in await ex.fetch_closed_orders(SPOT)] == [m["id"]]
            assert [o["id"] for o in await ex.fetch_canceled_orders(SPOT)] == [a["id"]]
            every = await ex.fetch_orders(SPOT)
            assert sorted(o["id"] for o in every) == sorted([a["id"], b["id"], m["id"]])
            assert {o["clientOrderId"]: o["status"] for o in every} == {
                "l-a": "canceled",
                "l-b": "open",
                "l-m": "closed",
            }

            # newest first, paged by cursor; repeated list parameters all count
            batch = ex.v3PrivateGetBrokerageOrdersHistoricalBatch
            first = await batch({"limit": 2})
            assert [o["order_id"] for o in first["orders"]] == [m["id"], b["id"]]
            assert (first["has_next"], first["cursor"]) == (True, b["id"])
            rest = await batch({"limit": 2, "cursor": first["cursor"]})
            assert [o["order_id"] for o in rest["orders"]] == [a["id"]]
            assert (rest["has_next"], rest["cursor"]) == (False, "")
            both = await batch({"order_status": ["FILLED", "CANCELLED"], "product_ids": ["BTC-USDT"]})
            assert [o["client_order_id"] for o in both["orders"]] == ["l-m", "l-a"]
            picked = await batch(
                {"order_ids": [a["id"], m["id"]], "order_side": "BUY", "order_types": "LIMIT"}
            )
            assert [o["order_id"] for o in picked["orders"]] == [a["id"]]
            created = (await ex.fetch_order(m["id"]))["timestamp"]
            later = await batch({"start_date": ex.iso8601(created + 1)})
            assert later["orders"] == []
            assert len((await batch({"end_date": ex.iso8601(created)}))["orders"]) == 3

            with pytest.raises(BadRequest, match="OPEN cannot be combined"):
                await batch({"order_status": ["OPEN", "FILLED"]})
            with pytest.raises(BadRequest, match="order_status"):
                await batch({"order_status": "DONE"})
            with pytest.raises(BadRequest, match="product_id"):
                await batch({"product_id": "DOGE-USDT"})
            with pytest.raises(BadRequest, match="limit"):
                await batch({"limit": 0})

            paths = {r["path"]: r["status"] for r in requests_log(sim)}
            assert paths["/api/v3/brokerage/orders/historical/batch"] == 400  # the last call, routed
            assert all(r["status"] != 404 for r in requests_log(sim))

    run(go())
