"""A minimal, fast HTTP/1.1 keep-alive client for load-testing the simulator (used by ``load_sim.py``).

It is deliberately not aiohttp or ccxt: it writes pre-built request bytes on raw asyncio streams and parses
only the status line, ``Content-Length`` and the body, so one client process can drive far more requests per
second than the single-process server can answer. Each request is signed like Binance wants (HMAC-SHA256 of
the form body) with a fresh timestamp and client order id.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["LoadResult", "OrderFlow", "run_raw_load"]


@dataclass
class LoadResult:
    """What one load run measured: per-request latencies (ns), status counts, wall time, client CPU time."""

    latencies_ns: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    codes: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    client_cpu_s: float = 0.0

    @property
    def requests(self) -> int:
        """Requests completed."""
        return len(self.latencies_ns)

    @property
    def rate(self) -> float:
        """Completed requests per second of wall time."""
        return self.requests / self.wall_s if self.wall_s > 0 else 0.0

    def percentile_us(self, q: float) -> float:
        """Latency percentile ``q`` (0-100) in microseconds (nearest rank)."""
        if not self.latencies_ns:
            return float("nan")
        s = sorted(self.latencies_ns)
        k = min(len(s) - 1, max(0, round(q / 100.0 * len(s) + 0.5) - 1))
        return s[k] / 1000.0


class OrderFlow:
    """Builds signed order requests: market orders alternating BUY/SELL (the position stays near flat), or
    ``limit-cancel`` pairs (a resting limit far from the price, then its cancel by client id)."""

    def __init__(
        self, api_key: str, secret: str, *, symbol: str, qty: str, mode: str, far_price: str, tag: str = ""
    ) -> None:
        self._key = api_key
        self._secret = secret.encode()
        self._symbol = symbol
        self._qty = qty
        self._mode = mode
        self._far_price = far_price
        self._tag = tag
        self._n = 0

    def _sign(self, body: str) -> str:
        sig = hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()
        return f"{body}&signature={sig}"

    def next_request(self, host: str) -> bytes:
        """The next request's bytes (a new client order id and timestamp each time)."""
        self._n += 1
        n = self._n
        ts = time.time_ns() // 1_000_000
        if self._mode == "market":
            side = "BUY" if n % 2 else "SELL"
            body = (
                f"symbol={self._symbol}&side={side}&type=MARKET&quantity={self._qty}"
                f"&newClientOrderId=lb{self._tag}-{n}&newOrderRespType=RESULT&recvWindow=10000&timestamp={ts}"
            )
            return self._post("/fapi/v1/order", self._sign(body), host)
        pair = (n + 1) // 2
        if n % 2:
            body = (
                f"symbol={self._symbol}&side=BUY&type=LIMIT&timeInForce=GTC&quantity={self._qty}"
                f"&price={self._far_price}&newClientOrderId=lc{self._tag}-{pair}&recvWindow=10000&timestamp={ts}"
            )
            return self._post("/fapi/v1/order", self._sign(body), host)
        query = self._sign(
            f"symbol={self._symbol}&origClientOrderId=lc{self._tag}-{pair}&recvWindow=10000&timestamp={ts}"
        )
        return (
            f"DELETE /fapi/v1/order?{query} HTTP/1.1\r\nHost: {host}\r\nX-MBX-APIKEY: {self._key}\r\n\r\n"
        ).encode()

    def _post(self, path: str, body: str, host: str) -> bytes:
        return (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nX-MBX-APIKEY: {self._key}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n{body}"
        ).encode()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:].strip())
            break
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _worker(
    host: str, port: int, make: Callable[[str], bytes], deadline: float, result: LoadResult, count: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    hostport = f"{host}:{port}"
    try:
        while time.perf_counter() < deadline and count[0] > 0:
            count[0] -= 1
            req = make(hostport)
            t0 = time.perf_counter_ns()
            writer.write(req)
            status, body = await _read_response(reader)
            result.latencies_ns.append(time.perf_counter_ns() - t0)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status != 200:
                try:
                    code = int(json.loads(body).get("code", 0))
                except (ValueError, AttributeError):
                    code = 0
                result.codes[code] = result.codes.get(code, 0) + 1
    finally:
        writer.close()


async def run_raw_load(
    host: str,
    port: int,
    flows: Callable[[int], OrderFlow],
    *,
    connections: int,
    seconds: float,
    max_requests: int,
) -> LoadResult:
    """Drive ``connections`` keep-alive connections for ``seconds`` (or ``max_requests``) and measure;
    connection ``i`` sends the requests of ``flows(i)`` (so a limit and its cancel share a connection)."""
    result = LoadResult()
    count = [max_requests]
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    deadline = t0 + seconds
    await asyncio.gather(
        *(_worker(host, port, flows(i).next_request, deadline, result, count) for i in range(connections))
    )
    result.wall_s = time.perf_counter() - t0
    result.client_cpu_s = time.process_time() - cpu0
    return result
