"""The simulator's HTTP server against oversized bodies (413 on every route, as the control plane) and
clients that disconnect mid-request (one log line, no traceback, the server keeps serving)."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from eclipse.clock import LiveClock
from eclipse.market.bars import OhlcvFrame
from eclipse.venues.sim.config import SimConfig
from eclipse.venues.sim.runner import SimServerThread
from eclipse.venues.sim.server import MAX_BODY_BYTES

from .conftest import stepped_feed

ROUTES = [
    "/fapi/v1/order",  # Binance USD-M
    "/api/v3/order",  # Binance spot
    "/api/v3/brokerage/orders",  # Coinbase
    "/_sim/step",  # control plane
    "/no/such/route",
]
LOGGERS = ("eclipse.sim", "aiohttp")


@pytest.fixture(scope="module")
def sim(btc_frame: OhlcvFrame) -> Iterator[SimServerThread]:
    with SimServerThread(SimConfig(stepped=True), LiveClock(), stepped_feed(btc_frame)) as server:
        yield server


def post(url: str, body: bytes) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def ping(sim: SimServerThread) -> int:
    with urllib.request.urlopen(sim.url + "/fapi/v1/ping", timeout=10) as resp:
        return int(resp.status)


@pytest.mark.parametrize("path", ROUTES)
def test_a_2_mib_body_is_413_on_every_route(sim: SimServerThread, path: str) -> None:
    status, body = post(sim.url + path, b"x" * (2 << 20))
    assert status == 413, body
    answer = json.loads(body)
    text = answer["error"] if path.startswith("/_sim") else answer["msg"]
    assert f"the limit is {MAX_BODY_BYTES} bytes" in text
    assert ping(sim) == 200


def test_a_chunked_body_over_the_limit_is_413(sim: SimServerThread) -> None:
    url = urlsplit(sim.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    chunk = b"y" * 65_536
    chunks = iter([chunk] * (MAX_BODY_BYTES // len(chunk) + 2))  # no Content-Length: read until over
    try:
        conn.request("POST", "/fapi/v1/order", body=chunks, encode_chunked=True)
        resp = conn.getresponse()
        assert resp.status == 413
        assert "limit" in json.loads(resp.read())["msg"]
    finally:
        conn.close()
    assert ping(sim) == 200


def test_a_body_within_the_limit_is_served_not_refused(sim: SimServerThread) -> None:
    status, body = post(sim.url + "/fapi/v1/order", b"symbol=BTCUSDT&pad=" + b"z" * (MAX_BODY_BYTES - 100))
    assert status not in (413, 500), body
    status, body = post(sim.url + "/_sim/step", b'{"bars": 1}')
    assert status == 200, body


def _disconnect_mid_request(sim: SimServerThread, path: str) -> None:
    """Send the headers and part of the promised body, then close the connection."""
    url = urlsplit(sim.url)
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: 1000\r\n\r\nsymbol=BTCUSDT&side=".encode()
        )
        time.sleep(0.1)


@pytest.mark.parametrize("path", ROUTES)
def test_a_client_disconnecting_mid_request_is_one_line_not_a_traceback(
    sim: SimServerThread, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    _disconnect_mid_request(sim, path)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any("disconnected" in r.getMessage() for r in caplog.records):
        time.sleep(0.05)
    time.sleep(0.2)  # anything the server would log after the disconnect line
    ours = [r for r in caplog.records if r.name.startswith(LOGGERS)]
    gone = [r for r in ours if "disconnected" in r.getMessage()]
    assert len(gone) == 1, [r.getMessage() for r in ours]
    assert gone[0].levelno <= logging.INFO
    assert path in gone[0].getMessage()
    assert not [r for r in ours if r.exc_info or r.levelno >= logging.WARNING], [r.getMessage() for r in ours]
    assert "Traceback" not in caplog.text
    assert ping(sim) == 200
