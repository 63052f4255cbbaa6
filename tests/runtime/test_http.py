"""The status server on 127.0.0.1: health, status JSON, metrics, the token-guarded control POSTs, limits,
failing handlers and a busy port."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import aiohttp
import pytest

from eclipse.errors import ConfigError, EclipseError
from eclipse.runtime.http import MAX_BODY_BYTES, StatusServer, StatusServerError, jsonable
from eclipse.runtime.metrics import DaemonMetrics

from .status_kit import BTC, ETH, TOKEN, FakeControl, snap

AUTH = {"Authorization": f"Bearer {TOKEN}"}
Scenario = Callable[[aiohttp.ClientSession, str, FakeControl], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(control: FakeControl, token: str = "") -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    metrics = DaemonMetrics([BTC, ETH], ["market", "engine"])
    metrics.order_sent("entry")
    server = StatusServer(control, metrics, host="127.0.0.1", port=0, token=token)
    url = await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield session, url
    finally:
        await server.stop()


def run(scenario: Scenario, control: FakeControl | None = None, token: str = "") -> FakeControl:
    ctl = control or FakeControl()

    async def main() -> None:
        async with serving(ctl, token) as (session, url):
            await scenario(session, url, ctl)

    asyncio.run(main())
    return ctl


def test_start_returns_a_loopback_url_on_a_free_port() -> None:
    async def main() -> None:
        server = StatusServer(FakeControl(), DaemonMetrics(), host="127.0.0.1", port=0, token="")
        url = await server.start()
        assert url.startswith("http://127.0.0.1:")
        assert int(url.rsplit(":", 1)[1]) > 0
        assert server.url == url
        assert await server.start() == url  # idempotent
        await server.stop()
        await server.stop()
        assert server.url is None

    asyncio.run(main())


def test_healthz_200_while_healthy_and_503_with_the_reason() -> None:
    async def scenario(s: aiohttp.ClientSession, url: str, ctl: FakeControl) -> None:
        async with s.get(f"{url}/healthz") as r:
            assert r.status == 200
            assert (await r.text()).strip() == "ok"
        ctl.snap = snap(healthy=False, health_reason="last bar 190 s old\n(limit 150 s)")
        async with s.get(f"{url}/healthz") as r:
            assert r.status == 503
            assert (await r.text()).strip() == "last bar 190 s old (limit 150 s)"

    run(scenario)


def test_status_is_the_snapshot_as_json() -> None:
    async def scenario(s: aiohttp.ClientSession, url: str, ctl: FakeControl) -> None:
        async with s.get(f"{url}/status") as r:
            assert r.status == 200
            assert r.content_type == "application/json"
            data = await r.json()
        assert data == json.loads(json.dumps(ctl.snap.to_dict()))
        assert data["positions"][0]["symbol"] == BTC
        assert data["blocked"] == [["cooldown", 3], ["spread", 1]]
        assert data["versions"] == {"eclipse": "0.9.0", "core": "0.9.0"}

    run(scenario)


def test_status_is_decimal_and_nan_safe() -> None:
    odd = snap(equity=Decimal("10000.25"), unrealized_pnl=float("nan"), drawdown=float("inf"))

    async def scenario(s: aiohttp.ClientSession, url: str, ctl: FakeControl) -> None:
        async with s.get(f"{url}/status") as r:
            assert r.status == 200
            text = await r.text()
        assert "NaN" not in text
        assert "Infinity" not in text
        data = json.loads(text)
        assert data["equity"] == 10000.25
        assert data["unrealized_pnl"] is None
        assert data["drawdown"] is None

    run(scenario, FakeControl(odd))


def test_jsonable() -> None:
    assert jsonable({"a": (Decimal("1.5"), {3, 1}), 2: float("-inf")}) == {"a": [1.5, [1, 3]], "2": None}


def test_metrics_in_prometheus_text_format() -> None:
    async def scenario(s: aiohttp.ClientSession, url: str, ctl: FakeControl) -> None:
        async with s.get(f"{url}/metrics") as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain")
            assert "version=" in r.headers["Content-Type"]
            text = await r.text()
        for name in (
            "eclipse_bar_lag_seconds_bucket",
            "eclipse_order_path_seconds_bucket",
            "eclipse_loop_up",
        ):
            assert name in text
        assert 'eclipse_orders_total{kind="entry",outcome="sent"} 1.0' in text
        assert "# TYPE eclipse_fills_total counter" in text or "# TYPE eclipse_fills counter" in text

    run(scenario)


@pytest.mark.parametrize("action", ["pause", "resume", "flatten", "stop", "lift"])
def test_control_refused_without_a_configured_token(action: str) -> None:
    async def scenario(s: aiohttp.ClientSession, url: str, ctl: FakeControl) -> None:
        for headers in ({}, AUTH, {"Authorization": "Bearer "}):
            async with s.post(f"{url}/control/{action}", json={"symbol": BTC}, headers=headers) as r:
                assert r.status == 403
                assert (await r.json())["error"] == "control disabled: set STATUS_TOKEN"

    assert run(scenario, token="").calls == []


@pytest.mark.parametrize("action", ["pause", "resume", "flatten", "stop", "lift"])
def test_control_needs_the_right_token(action: str) -> None:
    async def scenario(s: aiohttp.ClientSession, url: str, ctl: FakeControl) -> None:
        wrong: tuple[dict[str, str], ...] = (
            {},
            {"Authorization": f"Bearer {TOKEN}x"},
            {"Authorization": f"Basic {TOKEN}"},
            {"Authorization": TOKEN},
        )
        for headers in wrong:
            async with s.post(
                f"{url}/control/{action}", json={"symbol": BTC, "code": "kill_drawdown"}, headers=headers
            ) as r:
                assert r.status == 401
                assert r.headers["WWW-Authenticate"].startswith("Bearer")
                assert TOKEN not in await r.text()
        assert ctl.calls == []
        async with s.post(
            f"{url}/control/{action}", json={"symbol": BTC, "code": "kill_drawdown"}, headers=AUTH
        ) as r:
            assert r.status in (200, 202)
            body = await r.json()
            assert body["ok"] is True
            assert TOKEN not in json.dumps(body)

    calls = run(scenario, token=TOKEN).calls
    assert [c[0] for c in calls] == [action]


def test_control_actions_reach_the_daemon() -> None:
    async def scenario(s: aiohttp.ClientSession, url: str, ctl: FakeControl) -> None:
        async with s.post(f"{url}/control/pause", json={"reason": "news at 14:00"}, headers=AUTH) as r:
            assert (await r.json())["entries"] == "paused: news at 14:00"
        async with s.post(f"{url}/control/pause", headers=AUTH) as r:  # no body: a default reason
            assert r.status == 200
        async with s.post(f"{url}/control/resume", headers=AUTH) as r:
            assert (await r.json())["entries"] == "enabled"
        ctl.flat = False
        async with s.post(f"{url}/control/flatten", json={"symbol": ETH}, headers=AUTH) as r:
            assert await r.json() == {"ok": True, "action": "flatten", "symbol": ETH, "flat": False}
        async with s.post(f"{url}/control/lift", json={"code": "kill_drawdown"}, headers=AUTH) as r:
            assert await r.json() == {"ok": True, "action": "lift", "code": "kill_drawdown", "lifted": True}
        async with s.post(f"{url}/control/lift", json={"code": 3}, headers=AUTH) as r:
            assert r.status == 400
        async with s.post(f"{url}/control/stop", headers=AUTH) as r:
            assert r.status == 202

    calls = run(scenario, token=TOKEN).calls
    assert calls == [
        ("pause", "news at 14:00"),
        ("pause", "operator"),
        ("resume", ""),
        ("flatten", ETH),
        ("lift", "kill_drawdown"),
        ("stop", ""),
    ]


def test_flatten_and_pause_validate_their_bodies() -> None:
    async def scenario(s: aiohttp.ClientSession, url: str, ctl: FakeControl) -> None:
        async with s.post(f"{url}/control/flatten", json={"symbol": "DOGE/USDT:USDT"}, headers=AUTH) as r:
            assert r.status == 404
            body = await r.json()
            assert "unknown symbol" in body["error"]
            assert body["symbols"] == [BTC, ETH]
        for bad in ({}, {"symbol": 7}, [BTC]):
            async with s.post(f"{url}/control/flatten", json=bad, headers=AUTH) as r:
                assert r.status == 400
        async with s.post(f"{url}/control/flatten", data=b"{not json", headers=AUTH) as r:
            assert r.status == 400
        async with s.post(f"{url}/control/pause", json={"reason": ["x"]}, headers=AUTH) as r:
            assert r.status == 400

    assert run(scenario, token=TOKEN).calls == []


def test_bodies_are_limited() -> None:
    async def scenario(s: aiohttp.ClientSession, url: str, ctl: FakeControl) -> None:
        big = json.dumps({"reason": "x" * (MAX_BODY_BYTES + 10)})
        async with s.post(f"{url}/control/pause", data=big, headers=AUTH) as r:
            assert r.status == 413

    assert run(scenario, token=TOKEN).calls == []


def test_a_failing_handler_is_a_one_line_500_and_the_server_runs_on() -> None:
    async def scenario(s: aiohttp.ClientSession, url: str, ctl: FakeControl) -> None:
        ctl.fail_snapshot = True
        async with s.get(f"{url}/status") as r:
            assert r.status == 500
            text = await r.text()
        assert "\n" not in text
        assert json.loads(text)["error"] == "internal error: RuntimeError: snapshot broke second line"
        ctl.fail_snapshot = False
        async with s.get(f"{url}/healthz") as r:
            assert r.status == 200

    run(scenario)


def test_wrong_methods_paths_and_hosts() -> None:
    async def scenario(s: aiohttp.ClientSession, url: str, ctl: FakeControl) -> None:
        async with s.get(f"{url}/control/stop") as r:
            assert r.status == 405
        async with s.get(f"{url}/nope") as r:
            assert r.status == 404
        async with s.get(f"{url}/status", headers={"Host": "evil.example:8787"}) as r:  # DNS rebinding
            assert r.status == 403
        async with s.get(f"{url}/status", headers={"Host": "localhost:1"}) as r:
            assert r.status == 200

    assert run(scenario, token=TOKEN).calls == []


def test_only_loopback_is_bound() -> None:
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::"):
        with pytest.raises(ConfigError, match="STATUS_HTTP_HOST"):
            StatusServer(FakeControl(), DaemonMetrics(), host=host, port=0, token="")
    with pytest.raises(ConfigError, match="STATUS_HTTP_PORT"):
        StatusServer(FakeControl(), DaemonMetrics(), host="127.0.0.1", port=70_000, token="")
    assert (
        StatusServer(FakeControl(), DaemonMetrics(), host="localhost", port=0, token="").host == "127.0.0.1"
    )


def test_repr_never_shows_the_token() -> None:
    server = StatusServer(FakeControl(), DaemonMetrics(), host="127.0.0.1", port=0, token=TOKEN)
    assert TOKEN not in repr(server)
    assert "control=on" in repr(server)


def test_a_busy_port_is_a_clear_error_naming_it() -> None:
    async def main() -> None:
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            server = StatusServer(FakeControl(), DaemonMetrics(), host="127.0.0.1", port=port, token="")
            with pytest.raises(StatusServerError) as info:
                await server.start()
            assert isinstance(info.value, OSError)
            assert isinstance(info.value, EclipseError)
            assert info.value.in_use
            assert info.value.port == port
            assert f"port {port}" in str(info.value)
            assert "STATUS_HTTP_PORT" in str(info.value)
            assert server.url is None
        # the port is free again: the same server starts on it
        url = await server.start()
        assert url == f"http://127.0.0.1:{port}"
        await server.stop()

    asyncio.run(main())


def test_the_snapshot_is_read_per_request() -> None:
    async def scenario(s: aiohttp.ClientSession, url: str, ctl: FakeControl) -> None:
        ctl.snap = dataclasses.replace(ctl.snap, bars=99)
        async with s.get(f"{url}/status") as r:
            assert (await r.json())["bars"] == 99

    run(scenario)
