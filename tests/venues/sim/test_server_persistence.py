"""Restarting the simulator on the same SQLite file mid-session: the open order, the position, the trades and
the market time carry over; plus the data-file and fault-plan options a newcomer starts it with."""

from __future__ import annotations

import gzip
import socket
import threading
import urllib.request
from pathlib import Path

import pytest
from ccxt.base.errors import ExchangeNotAvailable

from eclipse.clock import LiveClock
from eclipse.errors import DataError
from eclipse.market.bars import OhlcvFrame
from eclipse.venues.sim.config import SimConfig, parse_data_sources
from eclipse.venues.sim.engine import ALGO_ID_START, AlgoIdLayout
from eclipse.venues.sim.faults import FaultPlan
from eclipse.venues.sim.runner import SimServerThread, build_feed, split_symbol

from .conftest import FUTURES, SPOT, control, run, spot, step, usdm


def _write_csv(frame: OhlcvFrame, path: Path, scale: float = 1.0) -> None:
    lines = ["ts_ms,open,high,low,close,volume"]
    for b in frame.bars():
        lines.append(
            f"{b.ts_ms},{b.open * scale},{b.high * scale},{b.low * scale},{b.close * scale},{b.volume}"
        )
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def test_restart_on_the_same_db_continues_the_session(tmp_path: Path, btc_frame: OhlcvFrame) -> None:
    csv = tmp_path / "btc.csv"
    _write_csv(btc_frame.head(3000), csv)
    config = SimConfig(stepped=True, data=(("BTCUSDT", str(csv)),), db_path=str(tmp_path / "sim.db"))

    async def first(sim: SimServerThread) -> tuple[str, float, int]:
        async with usdm(sim) as ex:
            await ex.load_markets()
            await ex.set_leverage(5, FUTURES)
            await ex.create_order(FUTURES, "market", "buy", 0.01, params={"clientOrderId": "keep-pos"})
            last = (await ex.fetch_ticker(FUTURES))["last"]
            o = await ex.create_order(
                FUTURES, "limit", "buy", 0.003, round(last * 0.9, 1), params={"clientOrderId": "keep-open"}
            )
            [pos] = await ex.fetch_positions([FUTURES])
            return o["id"], pos["entryPrice"], len(await ex.fetch_my_trades(FUTURES))

    with SimServerThread(config, LiveClock()) as sim:
        step(sim, 5)
        order_id, entry, n_trades = run(first(sim))
        market_ms = control(sim, "GET", "/_sim/state")["market_time"]

    async def second(sim: SimServerThread) -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            [o] = await ex.fetch_open_orders(FUTURES)
            assert (o["id"], o["clientOrderId"], o["status"]) == (order_id, "keep-open", "open")
            [pos] = await ex.fetch_positions([FUTURES])
            assert (pos["contracts"], pos["entryPrice"], pos["leverage"]) == (0.01, entry, 5)
            assert len(await ex.fetch_my_trades(FUTURES)) == n_trades
            assert (await ex.fetch_order(None, FUTURES, params={"origClientOrderId": "keep-pos"}))[
                "status"
            ] == "closed"
            nxt = await ex.create_order(FUTURES, "market", "sell", 0.01)
            assert int(nxt["id"]) > int(order_id)  # ids continue
            assert await ex.fetch_positions([FUTURES]) == []

    with SimServerThread(config, LiveClock()) as sim:
        assert control(sim, "GET", "/_sim/state")["market_time"] >= market_ms
        run(second(sim))


@pytest.mark.parametrize("layout", list(AlgoIdLayout))
def test_a_restart_continues_the_algo_id_sequence(
    tmp_path: Path, btc_frame: OhlcvFrame, layout: AlgoIdLayout
) -> None:
    csv = tmp_path / "btc.csv"
    _write_csv(btc_frame.head(3000), csv)
    config = SimConfig(
        stepped=True, data=(("BTCUSDT", str(csv)),), db_path=str(tmp_path / "sim.db"), algo_ids=layout
    )
    first_algo = ALGO_ID_START if layout is AlgoIdLayout.APART else 1

    async def stop_id(sim: SimServerThread, cid: str) -> str:
        async with usdm(sim) as ex:
            await ex.load_markets()
            if not await ex.fetch_positions([FUTURES]):
                await ex.create_order(FUTURES, "market", "buy", 0.01)
            below = round((await ex.fetch_ticker(FUTURES))["last"] * 0.8, 1)
            params = {"stopLossPrice": below, "reduceOnly": True, "clientAlgoId": cid}
            placed = await ex.create_order(FUTURES, "market", "sell", 0.01, params=params)
            return str(placed["id"])

    with SimServerThread(config, LiveClock()) as sim:
        assert run(stop_id(sim, "sl-1")) == str(first_algo)
    with SimServerThread(config, LiveClock()) as sim:
        assert control(sim, "GET", "/_sim/state")["futures"]["next_ids"] == {
            "order": 2,
            "algo": first_algo + 1,
            "trade": 2,
        }
        assert run(stop_id(sim, "sl-2")) == str(first_algo + 1)


def test_data_sources_other_symbols_and_gzip(tmp_path: Path, btc_frame: OhlcvFrame) -> None:
    _write_csv(btc_frame.head(2000), tmp_path / "btc.csv.gz")
    _write_csv(btc_frame.head(2000), tmp_path / "eth.csv", scale=0.08)
    (tmp_path / "trades.csv").write_text(
        "ts_ms,trade_id,price,quantity,buyer_maker\n"
        + "".join(
            f"{1_700_000_000_000 + i * 1000},{i},{0.5 + (i % 7) * 0.001},{10 + i},false\n" for i in range(600)
        )
    )
    data = parse_data_sources(
        [
            f"BTCUSDT={tmp_path / 'btc.csv.gz'}",
            f"ethusdt={tmp_path / 'eth.csv'}",
            f"XRPUSDT={tmp_path / 'trades.csv'}",
        ]
    )
    assert [s for s, _ in data] == ["BTCUSDT", "ETHUSDT", "XRPUSDT"]
    config = SimConfig(stepped=True, data=data)

    async def go(sim: SimServerThread) -> None:
        async with usdm(sim) as ex:
            markets = await ex.load_markets()
            assert set(markets) == {FUTURES, "ETH/USDT:USDT", "XRP/USDT:USDT"}
            eth = markets["ETH/USDT:USDT"]
            assert eth["precision"]["price"] == 0.01
            assert eth["limits"]["leverage"]["max"] is None
            t = await ex.fetch_ticker("XRP/USDT:USDT")
            assert 0.4 < t["last"] < 0.6
            o = await ex.create_order("ETH/USDT:USDT", "market", "buy", 0.1)
            assert o["status"] == "closed"
        async with spot(sim) as ex:
            assert set(await ex.load_markets()) == {SPOT, "ETH/USDT", "XRP/USDT"}

    with SimServerThread(config, LiveClock()) as sim:
        run(go(sim))


def test_bad_starts_fail_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected SYMBOL=path"):
        parse_data_sources(["BTCUSDT"])
    with pytest.raises(ValueError, match="given twice"):
        parse_data_sources(["BTCUSDT=a", "btcusdt=b"])
    with pytest.raises(ValueError, match="cannot tell base from quote"):
        split_symbol("FOOBAR")
    with pytest.raises(DataError, match="cannot read"):
        build_feed(SimConfig(data=(("BTCUSDT", str(tmp_path / "none.csv")),)), LiveClock())
    not_db = tmp_path / "x.db"
    not_db.write_text("hello")
    sim = SimServerThread(SimConfig(db_path=str(not_db)), LiveClock())
    with pytest.raises(Exception, match="not an SQLite database"):
        sim.start()
    with pytest.raises(ValueError, match="port"):
        SimConfig(port=70000)


def test_a_failed_start_can_be_retried(btc_frame: OhlcvFrame) -> None:
    """A start on a busy port raises; once the port is free a second start serves (no stale flag, error or
    loop from the failed one: it used to re-raise the old error and then hang joining the new thread)."""
    from .conftest import stepped_feed

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    sim = SimServerThread(SimConfig(stepped=True, port=port), LiveClock(), stepped_feed(btc_frame))
    try:
        with pytest.raises(OSError, match=r"(?i)in use"):
            sim.start(timeout_s=10)
    finally:
        blocker.close()
    outcome: list[object] = []

    def retry() -> None:
        try:
            outcome.append(sim.start(timeout_s=10))
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=retry, daemon=True)
    worker.start()
    worker.join(15)
    try:
        assert not worker.is_alive(), "the second start hung"
        assert outcome == [f"http://127.0.0.1:{port}"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/fapi/v1/ping", timeout=5) as resp:
            assert resp.status == 200
    finally:
        sim.stop()


def test_a_fault_plan_given_at_start_is_active_from_the_first_request(btc_frame: OhlcvFrame) -> None:
    from .conftest import stepped_feed

    plan = FaultPlan.from_dict({"script": [{"on": "order_create", "fault": "unknown_503"}]})

    async def go(sim: SimServerThread) -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            with pytest.raises(ExchangeNotAvailable):
                await ex.create_order(FUTURES, "market", "buy", 0.003, params={"clientOrderId": "start-1"})
            got = await ex.fetch_order(None, FUTURES, params={"origClientOrderId": "start-1"})
            assert got["status"] == "closed"

    with SimServerThread(SimConfig(faults=plan), LiveClock(), stepped_feed(btc_frame)) as sim:
        run(go(sim))
