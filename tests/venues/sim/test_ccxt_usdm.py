"""Every USD-M call of the reference table through the real, unmodified ccxt ``binanceusdm`` client against
the simulator: the unified structures come back with their essential fields present and right."""

from __future__ import annotations

import ccxt.async_support as ccxt_async
import pytest
from ccxt.base.errors import ExchangeError, MarginModeAlreadySet, OrderNotFound

from eclipse.venues.sim.engine import ALGO_ID_START, AlgoIdLayout
from eclipse.venues.sim.runner import SimServerThread

from .conftest import DIP_BAR, DIP_START, FUTURES, SimFactory, dip_feed, requests_log, run, step, usdm


def test_markets_time_klines_tickers(sim: SimServerThread) -> None:
    async def go() -> None:
        async with usdm(sim) as ex:
            markets = await ex.load_markets()
            m = markets[FUTURES]
            assert (m["id"], m["type"], m["linear"], m["settle"], m["active"]) == (
                "BTCUSDT",
                "swap",
                True,
                "USDT",
                True,
            )
            assert m["precision"] == {"amount": 0.001, "price": 0.1, "base": 1e-08, "quote": 1e-08}
            assert m["limits"]["amount"]["min"] == 0.001
            assert m["limits"]["cost"]["min"] == 100
            assert m["limits"]["market"] == {"min": 0.001, "max": 1000.0}
            assert m["created"] is not None

            server_ms = await ex.fetch_time()
            assert abs(server_ms - ex.milliseconds()) < 5_000

            bars = await ex.fetch_ohlcv(FUTURES, "1m", limit=5)
            assert len(bars) == 5
            assert [b[0] for b in bars] == sorted(b[0] for b in bars)
            assert all(
                b[0] % 60_000 == 0 and b[3] <= min(b[1], b[4]) <= max(b[1], b[4]) <= b[2] for b in bars
            )
            older = await ex.fetch_ohlcv(FUTURES, "5m", since=bars[0][0] - 3_600_000, limit=3)
            assert len(older) == 3
            assert older[0][0] >= bars[0][0] - 3_600_000
            assert older[0][0] % 300_000 == 0

            t = await ex.fetch_ticker(FUTURES)
            assert t["symbol"] == FUTURES
            assert t["last"] == bars[-1][4]
            assert t["low"] <= t["last"] <= t["high"]
            assert t["open"]
            assert t["baseVolume"]
            assert t["timestamp"]
            book = (await ex.fetch_bids_asks([FUTURES]))[FUTURES]
            assert book["bid"] < book["ask"]
            assert book["bidVolume"]
            assert book["askVolume"]

    run(go())


def test_market_order_position_balance_trades_and_leverage(sim: SimServerThread) -> None:
    async def go() -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            lev = await ex.set_leverage(10, FUTURES)
            assert lev["leverage"] == 10
            assert lev["symbol"] == "BTCUSDT"
            assert int(lev["maxNotionalValue"]) > 0
            o = await ex.create_order(FUTURES, "market", "buy", 0.01, params={"clientOrderId": "mkt-1"})
            assert (o["id"], o["clientOrderId"], o["status"], o["type"], o["side"]) == (
                "1",
                "mkt-1",
                "closed",
                "market",
                "buy",
            )
            assert o["amount"] == 0.01
            assert o["filled"] == 0.01
            assert o["average"] > 0
            assert o["timestamp"]
            assert o["reduceOnly"] is False
            assert ex.last_response_headers["X-MBX-ORDER-COUNT-10S"] == "1"

            [pos] = await ex.fetch_positions([FUTURES])
            assert "/fapi/v1/leverageBracket" in {r["path"] for r in requests_log(sim)}
            assert (pos["symbol"], pos["side"], pos["contracts"], pos["leverage"], pos["marginMode"]) == (
                FUTURES,
                "long",
                0.01,
                10,
                "cross",
            )
            assert pos["entryPrice"] == o["average"]
            assert pos["markPrice"] > 0
            assert pos["unrealizedPnl"] is not None
            assert pos["notional"] > 0
            assert pos["timestamp"]
            assert "liquidationPrice" in pos

            bal = await ex.fetch_balance()
            assert bal["USDT"]["total"] < 10_000
            assert bal["USDT"]["used"] > 0
            assert bal["USDT"]["free"] == pytest.approx(bal["USDT"]["total"] - bal["USDT"]["used"], abs=1)

            [tr] = await ex.fetch_my_trades(FUTURES)
            assert (tr["order"], tr["side"], tr["amount"], tr["price"], tr["takerOrMaker"]) == (
                "1",
                "buy",
                0.01,
                o["average"],
                "taker",
            )
            assert tr["id"]
            assert tr["fee"]["currency"] == "USDT"
            assert tr["fee"]["cost"] > 0
            assert tr["timestamp"]

            # a short position after selling through zero
            await ex.create_order(FUTURES, "market", "sell", 0.03)
            [pos] = await ex.fetch_positions([FUTURES])
            assert pos["side"] == "short"
            assert pos["contracts"] == 0.02

    run(go())


def test_limit_post_only_lookup_by_id_and_client_id_then_cancel(sim: SimServerThread) -> None:
    async def go() -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            last = (await ex.fetch_ticker(FUTURES))["last"]
            price = round(last * 0.98, 1)
            o = await ex.create_order(
                FUTURES, "limit", "buy", 0.005, price, params={"clientOrderId": "lim-1", "postOnly": True}
            )
            assert (o["status"], o["type"], o["price"], o["amount"], o["filled"]) == (
                "open",
                "limit",
                price,
                0.005,
                0,
            )
            assert o["postOnly"] is True
            assert o["timeInForce"] == "PO"
            by_id = await ex.fetch_order(o["id"], FUTURES)
            by_orig = await ex.fetch_order(None, FUTURES, params={"origClientOrderId": "lim-1"})
            by_cid = await ex.fetch_order(None, FUTURES, params={"clientOrderId": "lim-1"})
            assert by_id["id"] == by_orig["id"] == by_cid["id"] == o["id"]
            assert by_cid["clientOrderId"] == "lim-1"
            assert by_cid["status"] == "open"
            opened = await ex.fetch_open_orders(FUTURES)
            assert [x["id"] for x in opened] == [o["id"]]
            assert [x["id"] for x in await ex.fetch_open_orders()] == [o["id"]]

            with pytest.raises(ExchangeError, match="-4116"):  # duplicate client id while open
                await ex.create_order(
                    FUTURES, "limit", "buy", 0.005, price, params={"clientOrderId": "lim-1"}
                )
            with pytest.raises(ExchangeError, match="-5022"):  # post-only that would take
                await ex.create_order(
                    FUTURES, "limit", "buy", 0.005, round(last * 1.02, 1), params={"postOnly": True}
                )

            c = await ex.cancel_order(None, FUTURES, params={"origClientOrderId": "lim-1"})
            assert (c["id"], c["status"], c["clientOrderId"]) == (o["id"], "canceled", "lim-1")
            assert (await ex.fetch_order(o["id"], FUTURES))["status"] == "canceled"
            assert await ex.fetch_open_orders(FUTURES) == []
            with pytest.raises(OrderNotFound):
                await ex.cancel_order(o["id"], FUTURES)
            with pytest.raises(OrderNotFound):
                await ex.fetch_order("987654", FUTURES)

            # a canceled order's client id may be reused
            again = await ex.create_order(
                FUTURES, "limit", "buy", 0.005, price, params={"clientOrderId": "lim-1"}
            )
            assert again["id"] != o["id"]
            assert again["status"] == "open"

    run(go())


def test_resting_limit_fills_when_the_market_reaches_it(sim: SimServerThread) -> None:
    async def go() -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            last = (await ex.fetch_ticker(FUTURES))["last"]
            buy = await ex.create_order(FUTURES, "limit", "buy", 0.005, round(last - 5, 1))
            sell = await ex.create_order(FUTURES, "limit", "sell", 0.005, round(last + 5, 1))
            for _ in range(240):
                step(sim, 1)
                states = {(await ex.fetch_order(x["id"], FUTURES))["status"] for x in (buy, sell)}
                if "closed" in states:
                    break
            done = [x for x in (buy, sell) if (await ex.fetch_order(x["id"], FUTURES))["status"] == "closed"]
            assert done, "a 5 USDT band around BTC should be touched within 4 hours of 1m bars"
            filled = await ex.fetch_order(done[0]["id"], FUTURES)
            assert filled["filled"] == 0.005
            assert filled["average"] == done[0]["price"]
            [trade] = [t for t in await ex.fetch_my_trades(FUTURES) if t["order"] == filled["id"]]
            assert trade["takerOrMaker"] == "maker"
            assert trade["price"] == filled["price"]

    run(go())


def test_reduce_only_orders(sim: SimServerThread) -> None:
    async def go() -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            with pytest.raises(ExchangeError, match="-2022"):  # nothing to reduce
                await ex.create_order(FUTURES, "market", "sell", 0.01, params={"reduceOnly": True})
            await ex.create_order(FUTURES, "market", "buy", 0.01)
            o = await ex.create_order(FUTURES, "market", "sell", 0.01, params={"reduceOnly": True})
            assert o["reduceOnly"] is True
            assert o["status"] == "closed"
            assert o["filled"] == 0.01
            assert await ex.fetch_positions([FUTURES]) == []

    run(go())


def test_conditional_orders_through_the_algo_endpoints(sim: SimServerThread) -> None:
    async def go() -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            await ex.create_order(FUTURES, "market", "buy", 0.01)
            last = (await ex.fetch_ticker(FUTURES))["last"]
            sl_px, tp_px = round(last * 0.9995, 1), round(last * 1.0005, 1)
            sl = await ex.create_order(
                FUTURES,
                "market",
                "sell",
                None,
                params={"stopLossPrice": sl_px, "closePosition": True, "clientOrderId": "sl-1"},
            )
            tp = await ex.create_order(
                FUTURES, "market", "sell", 0.01, params={"takeProfitPrice": tp_px, "reduceOnly": True}
            )
            far = await ex.create_order(  # a take-profit that closes the whole position
                FUTURES,
                "market",
                "sell",
                None,
                params={"takeProfitPrice": round(last * 1.5, 1), "closePosition": True},
            )
            assert far["info"]["orderType"] == "TAKE_PROFIT_MARKET"
            assert far["info"]["closePosition"] is True
            assert (sl["clientOrderId"], sl["status"], sl["triggerPrice"], sl["type"]) == (
                "sl-1",
                "open",
                sl_px,
                "market",
            )
            assert sl["info"]["orderType"] == "STOP_MARKET"
            assert sl["info"]["closePosition"] is True
            assert (
                tp["status"],
                tp["triggerPrice"],
                tp["takeProfitPrice"],
                tp["reduceOnly"],
                tp["amount"],
            ) == ("open", tp_px, tp_px, True, 0.01)
            assert (
                requests_log(sim, path="/fapi/v1/algoOrder", method="POST")[-1]["client_id"]
                == far["clientOrderId"]
            )

            opened = await ex.fetch_open_orders(FUTURES, params={"trigger": True})
            assert {x["id"] for x in opened} == {sl["id"], tp["id"], far["id"]}
            assert await ex.fetch_open_orders(FUTURES) == []  # the regular book is separate
            got = await ex.fetch_order(sl["id"], FUTURES, params={"trigger": True})
            assert (got["id"], got["clientOrderId"], got["triggerPrice"]) == (sl["id"], "sl-1", sl_px)
            by_cid = await ex.fetch_order(None, FUTURES, params={"trigger": True, "clientOrderId": "sl-1"})
            assert by_cid["id"] == sl["id"]

            c = await ex.cancel_order(far["id"], FUTURES, params={"trigger": True})
            assert c["id"] == far["id"]
            assert c["clientOrderId"] == far["clientOrderId"]
            assert (await ex.fetch_order(far["id"], FUTURES, params={"trigger": True}))[
                "status"
            ] == "canceled"
            with pytest.raises(ExchangeError, match="-2021"):  # a stop that would fire at once
                await ex.create_order(
                    FUTURES,
                    "market",
                    "sell",
                    0.01,
                    params={"stopLossPrice": round(last * 1.1, 1), "reduceOnly": True},
                )

            for _ in range(240):
                step(sim, 1)
                if not await ex.fetch_open_orders(FUTURES, params={"trigger": True}):
                    break
            states = {
                (await ex.fetch_order(x["id"], FUTURES, params={"trigger": True}))["status"] for x in (sl, tp)
            }
            assert "closed" in states, "one of two triggers 0.05% away should fire within 4 hours"
            assert await ex.fetch_positions([FUTURES]) == []

    run(go())


@pytest.mark.parametrize("layout", list(AlgoIdLayout))
def test_a_triggered_algo_order_reports_its_actual_order(make_sim: SimFactory, layout: AlgoIdLayout) -> None:
    """``actualOrderId`` of a triggered algo order is the regular order it became: ``GET /fapi/v1/order``
    finds it by that id and ``userTrades`` lists its trade under it; ``GET /fapi/v1/algoOrder`` finds the
    algo order by ``algoId`` and by ``clientAlgoId``; ``/fapi/v1/order`` refuses conditional types (-4120)."""
    sim = make_sim(feed=dip_feed(), algo_ids=layout)

    async def go() -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            entry = await ex.create_order(FUTURES, "market", "buy", 0.01)
            stop = {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.01"}
            with pytest.raises(ExchangeError, match="-4120"):  # not on the regular order endpoint
                await ex.fapiPrivatePostOrder({**stop, "stopPrice": "39500", "reduceOnly": "true"})
            params = {"stopLossPrice": 39_500, "reduceOnly": True, "clientAlgoId": "sl-a"}
            sl = await ex.create_order(FUTURES, "market", "sell", 0.01, params=params)
            first_algo = ALGO_ID_START if layout is AlgoIdLayout.APART else 1
            assert (sl["id"], sl["info"]["actualOrderId"]) == (str(first_algo), "")
            for _ in range(DIP_BAR - DIP_START + 1):
                step(sim, 1)
                if not await ex.fetch_open_orders(FUTURES, params={"trigger": True}):
                    break
            by_id = await ex.fapiPrivateGetAlgoOrder({"algoId": sl["id"]})
            by_cid = await ex.fapiPrivateGetAlgoOrder({"clientAlgoId": "sl-a"})
            assert by_id == by_cid
            assert (by_id["algoId"], by_id["algoStatus"]) == (first_algo, "TRIGGERED")
            actual = by_id["actualOrderId"]
            assert actual == str(int(entry["id"]) + 1)
            market = await ex.fetch_order(actual, FUTURES)
            assert (market["id"], market["type"], market["status"]) == (actual, "market", "closed")
            assert (market["filled"], market["reduceOnly"], market["clientOrderId"]) == (0.01, True, "sl-a")
            trades = await ex.fetch_my_trades(FUTURES)
            assert [t["order"] for t in trades] == [entry["id"], actual]
            assert trades[-1]["side"] == "sell"

    run(go())


def test_margin_mode_and_margin_mode_already_set(sim: SimServerThread) -> None:
    async def go() -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            res = await ex.set_margin_mode("isolated", FUTURES)
            assert res == {"code": 200, "msg": "success"}
            with pytest.raises(MarginModeAlreadySet):
                await ex.set_margin_mode("isolated", FUTURES)
            await ex.create_order(FUTURES, "market", "buy", 0.01)
            [pos] = await ex.fetch_positions([FUTURES])
            assert pos["marginMode"] == "isolated"
            assert pos["collateral"] > 0
            with pytest.raises(ExchangeError, match="-4048"):  # not with a position
                await ex.set_margin_mode("cross", FUTURES)

    run(go())


def test_wrong_secret_is_an_authentication_error(sim: SimServerThread) -> None:
    async def go() -> None:
        async with usdm(sim, secret="not-the-secret") as ex:
            await ex.load_markets()  # public: works
            with pytest.raises(ccxt_async.AuthenticationError, match="-1022"):
                await ex.fetch_balance()
        async with usdm(sim) as ex:
            ex.apiKey = "unknown-key"
            with pytest.raises(ccxt_async.AuthenticationError, match="-2015"):
                await ex.fetch_balance()

    run(go())
