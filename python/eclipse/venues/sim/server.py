"""The exchange simulator's HTTP server: one aiohttp application speaking Binance USD-M, Binance spot and a
small Coinbase Advanced Trade surface on 127.0.0.1, plus the ``/_sim`` control plane.

Every request goes through one dispatcher (no per-route middleware stack): route lookup in a dict, then
the few ``{name}`` path templates (404 / 405 with Binance's ``-5000`` body), rate-limit admission
(weight per minute per IP, orders per 10 s / minute per API key, 429 then 418), the fault decision
(latency, refusals, lost requests), authentication, the handler, then the post-execution faults (503
"unknown", lost response). An unexpected exception is logged and answered 500 ``-1000``. The body is read
first: over :data:`MAX_BODY_BYTES` it is answered 413 on every route; a client that disconnects mid-request
costs one INFO line, never a traceback.
Each response carries ``X-MBX-USED-WEIGHT-1M`` (order routes also ``X-MBX-ORDER-COUNT-10S`` / ``-1M``);
each request is logged at INFO on ``eclipse.sim`` (method, path without query, status, latency: never a
key, secret or signature) and recorded in the journal.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from eclipse.clock import Clock
from eclipse.venues.sim.auth import (
    Admission,
    Call,
    Endpoint,
    HttpError,
    KeyRing,
    Params,
    Security,
    WeightLimiter,
    verify_binance,
    verify_coinbase,
)
from eclipse.venues.sim.binance_common import exchange_info_parts
from eclipse.venues.sim.binance_futures import FUTURES_ROUTES
from eclipse.venues.sim.binance_spot import SPOT_ROUTES, exchange_info_spot_parts
from eclipse.venues.sim.coinbase_api import COINBASE_ROUTES
from eclipse.venues.sim.config import SimConfig
from eclipse.venues.sim.control import CONTROL_ROUTES, RequestJournal
from eclipse.venues.sim.engine import MatchingEngine
from eclipse.venues.sim.faults import Fault, FaultInjector, FaultPlan, FaultSpec
from eclipse.venues.sim.market import MarketFeed
from eclipse.venues.sim.model import EngineReject, InstrumentSpec
from eclipse.venues.sim.store import SimStore

__all__ = ["CTX_KEY", "MAX_BODY_BYTES", "SimContext", "create_app"]

log = logging.getLogger("eclipse.sim")

MAX_BODY_BYTES = 1 << 20
"""Largest request body any route accepts; a larger one is answered 413 (Payload Too Large)."""

_JSON = "application/json"
_UNKNOWN_MSG = "Unknown error, please check your request or try again later."
_CANNED: dict[Fault, tuple[int, dict[str, Any]]] = {
    Fault.UNKNOWN_503: (503, {"msg": _UNKNOWN_MSG}),
    Fault.UNKNOWN_1006: (
        503,
        {
            "code": -1006,
            "msg": "An unexpected response was received from the message bus. Execution status unknown.",
        },
    ),
    Fault.UNKNOWN_1007: (
        503,
        {
            "code": -1007,
            "msg": "Timeout waiting for response from backend server. "
            "Send status unknown; execution status unknown.",
        },
    ),
    Fault.UNAVAILABLE_503: (503, {"msg": "Service Unavailable."}),
    Fault.INTERNAL_ERROR: (
        503,
        {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."},
    ),
    Fault.THROTTLED_1008: (
        503,
        {
            "code": -1008,
            "msg": "Request throttled by system-level protection. "
            "Reduce-only/close-position orders are exempt. Please try again.",
        },
    ),
}


class SimContext:
    """Everything a request handler may touch: clock, feed, both engines and their instrument listings,
    the store, keys, limiter, faults and journal."""

    def __init__(
        self,
        config: SimConfig,
        clock: Clock,
        feed: MarketFeed,
        futures: MatchingEngine,
        spot: MatchingEngine,
        futures_specs: Mapping[str, InstrumentSpec],
        spot_specs: Mapping[str, InstrumentSpec],
        faults: FaultInjector,
        store: SimStore | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.feed = feed
        self.futures = futures
        self.spot = spot
        self.futures_specs = dict(futures_specs)
        self.spot_specs = dict(spot_specs)
        self.faults = faults
        self.store = store
        self.keys = KeyRing(config.keys)
        self.limiter = WeightLimiter(
            config.weight_limit_1m,
            config.order_limit_10s,
            config.order_limit_1m,
            config.ban_after,
            config.ban_ms,
        )
        self.journal = RequestJournal(config.journal_size)
        self.started_ms = clock.now_ms()
        onboard = self.started_ms - 365 * 86_400_000
        self.cache: dict[str, tuple[bytes, bytes]] = {
            "fapi_exchange_info": exchange_info_parts(self.futures_specs, onboard),
            "api_exchange_info": exchange_info_spot_parts(self.spot_specs),
        }
        self.routes: dict[tuple[str, str], Endpoint] = {}
        # routes with ``{name}`` segments (Coinbase ids in the path), tried when no exact route matches
        self.templates: list[tuple[tuple[str, ...], Endpoint]] = []
        for ep in (*FUTURES_ROUTES, *SPOT_ROUTES, *COINBASE_ROUTES, *CONTROL_ROUTES):
            if "{" in ep.path:
                self.templates.append((tuple(ep.path.split("/")), ep))
            else:
                self.routes[(ep.method, ep.path)] = ep
        self.paths = frozenset(path for _, path in self.routes)
        if faults.plan.stall:
            feed.stall(True)

    def server_ms(self) -> int:
        """The venue clock (the injected clock plus the skew fault)."""
        return self.clock.now_ms() + self.faults.clock_skew_ms

    def sync(self) -> None:
        """Bring both engines up to market now (fires triggers, fills resting orders)."""
        self.futures.sync()
        self.spot.sync()

    def install_faults(self, plan: FaultPlan) -> None:
        """Replace the fault plan (stall follows the plan)."""
        self.faults.install(plan)
        self.feed.stall(plan.stall)

    def step(self, bars: int | None = None, to_ms: int | None = None) -> None:
        """Advance a stepped feed by ``bars`` bars or to ``to_ms``, then sync the engines."""
        if bars is not None:
            self.feed.step_bars(bars)
        elif to_ms is not None:
            self.feed.advance_to(to_ms)
        self.sync()

    def snapshot(self) -> dict[str, Any]:
        """The state shown by ``GET /_sim/state``."""
        self.sync()
        return {
            "server_time": self.server_ms(),
            "market_time": self.feed.now_ms(),
            "feed": {
                "mode": self.feed.config.mode.value,
                "stalled": self.feed.stalled,
                "ended": self.feed.ended,
                "symbols": self.feed.symbols(),
            },
            "futures": _engine_state(self.futures),
            "spot": _engine_state(self.spot),
            "requests": self.journal.total,
            "faults_injected": dict(self.faults.injected),
        }

    def lookup(self, method: str, path: str) -> tuple[Endpoint | None, dict[str, str]]:
        """The route of ``method path`` (and its path arguments): an exact route first (so
        ``orders/historical/batch`` is never read as an order id), then the ``{name}`` templates."""
        ep = self.routes.get((method, path))
        if ep is not None:
            return ep, {}
        if self.templates:
            segments = path.split("/")
            for template, candidate in self.templates:
                if candidate.method == method:
                    args = _match(template, segments)
                    if args is not None:
                        return candidate, args
        return None, {}

    def known_path(self, path: str) -> bool:
        """True when some method serves ``path`` (a wrong method is then 405, not 404)."""
        if path in self.paths:
            return True
        segments = path.split("/")
        return any(_match(template, segments) is not None for template, _ in self.templates)


def _match(template: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    """The path arguments when ``segments`` fit ``template`` (a ``{name}`` segment takes any non-empty
    segment), else None."""
    if len(template) != len(segments):
        return None
    args: dict[str, str] = {}
    for want, got in zip(template, segments, strict=True):
        if want.startswith("{") and want.endswith("}"):
            if not got:
                return None
            args[want[1:-1]] = got
        elif want != got:
            return None
    return args


def _coinbase_params(query: str) -> Params:
    """Coinbase query parameters: a repeated list parameter (``product_ids=A&product_ids=B``, as ccxt and
    Coinbase send arrays) keeps every value, folded into one comma-separated string."""
    values: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(name, []).append(value)
    return Params((name, ",".join(v for v in vs if v)) for name, vs in values.items())


def _engine_state(eng: MatchingEngine) -> dict[str, Any]:
    return {
        "open_orders": len(eng.open_orders()),
        "open_conditionals": len(eng.open_orders(conditional=True)),
        "positions": [
            {"symbol": p.symbol, "qty": str(p.qty), "entry_price": str(p.entry_price)}
            for p in eng.positions()
            if p.qty != 0
        ],
        "balances": {b.asset: str(b.wallet) for b in eng.balances()},
        "next_ids": {"order": eng.next_order_id, "algo": eng.next_algo_id, "trade": eng.next_trade_id},
    }


CTX_KEY: web.AppKey[SimContext] = web.AppKey("eclipse_sim_context", SimContext)


@dataclass(slots=True)
class _Out:
    status: int
    body: bytes
    headers: dict[str, str]


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _binance_error(status: int, code: int, msg: str) -> bytes:
    return _dumps({"code": code, "msg": msg})


def _weight_headers(adm: Admission | None, ep: Endpoint | None) -> dict[str, str]:
    if adm is None or ep is None or ep.dialect != "binance":
        return {}
    h = {"X-MBX-USED-WEIGHT-1M": str(adm.used_weight)}
    if ep.orders:
        h["X-MBX-ORDER-COUNT-10S"] = str(adm.orders_10s)
        h["X-MBX-ORDER-COUNT-1M"] = str(adm.orders_1m)
    return h


def _client_id(ep: Endpoint, params: Params | None) -> str | None:
    if params is None or not ep.orders:
        return None
    return params.get("newClientOrderId") or params.get("clientAlgoId")


def _peer(request: web.Request) -> str:
    """The client's IP address (the peer of the connection)."""
    return request.remote or "?"


async def _read_body(request: web.Request) -> web.StreamResponse | None:
    """Read (and cache) the request body; None when it arrived whole, else the answer: 413 when it is over
    ``MAX_BODY_BYTES`` (every route, the control plane included), 400 when malformed. A client that goes
    away mid-body gets one log line (no traceback) and no answer."""
    if not request.body_exists:
        return None
    limit = request.client_max_size
    length = request.content_length
    try:
        if length is not None and length > limit:
            raise web.HTTPRequestEntityTooLarge(limit, length)
        await request.read()
    except web.HTTPRequestEntityTooLarge:
        log.info("%s %s 413 body over %d bytes", request.method, request.path, limit)
        msg = f"Request body too large: the limit is {limit} bytes."
        return _error_response(request, 413, msg)
    except web.RequestPayloadError as exc:
        log.info("%s %s 400 malformed body (%s)", request.method, request.path, exc)
        return _error_response(request, 400, f"Malformed request body: {exc}.")
    except ConnectionError:
        log.info("%s %s: client disconnected before sending the whole request", request.method, request.path)
        raise web.HTTPException() from None  # nobody to answer
    return None


def _error_response(request: web.Request, status: int, msg: str) -> web.Response:
    """A JSON error in the route family's style (``{"error": ...}`` on ``/_sim``, Binance's otherwise)."""
    control = request.path.startswith("/_sim")
    body = _dumps({"error": msg}) if control else _binance_error(status, -1000, msg)
    return web.Response(body=body, status=status, content_type=_JSON)


async def _hold_and_drop(request: web.Request, hold_ms: int) -> None:
    await asyncio.sleep(hold_ms / 1000)
    transport = request.transport
    if transport is not None:
        transport.abort()


class _Dispatcher:
    """The single request handler of the application."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one request (never raises an error page: every outcome is a JSON answer or a drop)."""
        t0 = perf_counter()
        ctx = self.ctx
        method, path = request.method, request.path
        ep, args = ctx.lookup(method, path)
        refused = await _read_body(request)  # read once here; later reads get the same bytes
        if refused is not None:
            return refused
        if ep is not None and ep.security is Security.CONTROL:
            return await self._control(request, ep)
        fault_name: str | None = None
        params: Params | None = None
        adm: Admission | None = None
        out: _Out | None
        try:
            out, adm, fault_name, params = await self._serve(request, ep, args)
        except Exception:  # a bug, never a traceback to the client
            log.exception("unhandled error serving %s %s", method, path)
            out = _Out(
                500, _binance_error(500, -1000, "An unknown error occured while processing the request."), {}
            )
        latency = (perf_counter() - t0) * 1000
        status = out.status if out is not None else 0
        if params is None and ep is not None and ep.orders:
            body = (await request.read()).decode("utf-8", "replace") if request.body_exists else ""
            params = Params.parse(request.rel_url.raw_query_string, body)  # only to journal the client id
        ctx.journal.record(
            ts_ms=ctx.clock.now_ms(),
            method=method,
            path=path,
            status=status,
            latency_ms=round(latency, 3),
            fault_class=ep.fault_class if ep is not None else "unknown",
            state_changing=ep.state_changing if ep is not None else False,
            signed=ep is not None and ep.security is not Security.NONE,
            fault=fault_name,
            client_id=_client_id(ep, params) if ep is not None else None,
        )
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s %s %d %.2fms%s",
                method,
                path,
                status,
                latency,
                f" fault={fault_name}" if fault_name else "",
            )
        if out is None:
            raise web.HTTPException()  # the connection is already gone (lost request / response)
        headers = _weight_headers(adm, ep)
        if ep is None:  # unknown path: no weight charged, the header still shows the minute's usage
            headers["X-MBX-USED-WEIGHT-1M"] = str(ctx.limiter.used(_peer(request), ctx.clock.now_ms()))
        headers.update(out.headers)
        return web.Response(body=out.body, status=out.status, headers=headers, content_type=_JSON)

    async def _serve(
        self, request: web.Request, ep: Endpoint | None, args: dict[str, str]
    ) -> tuple[_Out | None, Admission | None, str | None, Params | None]:
        ctx = self.ctx
        method, path = request.method, request.path
        if ep is None:
            status = 405 if ctx.known_path(path) else 404
            return (
                _Out(status, _binance_error(status, -5000, f"Path {path}, Method {method} is invalid"), {}),
                None,
                None,
                None,
            )
        query = request.rel_url.raw_query_string
        body_bytes = await request.read() if request.body_exists else b""
        body = body_bytes.decode("utf-8", "replace")
        api_key = request.headers.get("X-MBX-APIKEY") or request.headers.get("CB-ACCESS-KEY")
        # signed Binance calls are parsed once, by the signature check; refusals parse for the journal only
        signed = ep.security is Security.BINANCE
        parse = _coinbase_params if ep.dialect == "coinbase" else Params.parse
        pre = None if signed else parse(query)
        if isinstance(ep.weight, int):
            weight = ep.weight
        else:
            weight = _safe_weight(ep, pre if pre is not None else Params.parse(query, body))
        ip = _peer(request)  # weight and bans per IP, order counts per account (its API key), as Binance
        adm = ctx.limiter.admit(ip, api_key or ip, weight, ep.orders, ctx.clock.now_ms())
        if adm.status != 200:
            headers = {"Retry-After": str(adm.retry_after_s)}
            return _Out(adm.status, _binance_error(adm.status, adm.code, adm.msg), headers), adm, None, pre
        decision = ctx.faults.decide(ep.fault_class)
        spec = decision.spec
        fault_name = spec.fault.value if spec is not None else ("latency" if decision.delay_ms else None)
        if decision.delay_ms:
            await asyncio.sleep(decision.delay_ms / 1000)
        if spec is not None and not spec.fault.processed and spec.fault is not Fault.THROTTLED_1008:
            return await self._refuse(request, spec), adm, fault_name, pre
        server_ms = ctx.server_ms()
        params: Params | None = pre
        try:
            params = self._authenticate(request, ep, query, body, server_ms, pre)
            if spec is not None and spec.fault is Fault.THROTTLED_1008 and not _exempt(params):
                status, payload = _CANNED[Fault.THROTTLED_1008]
                return _Out(status, _dumps(payload), {}), adm, fault_name, params
            call = Call(params, api_key, body_bytes, args, server_ms)
            result = ep.handler(ctx, call)
            out = _Out(200, result if isinstance(result, bytes) else _dumps(result), {})
        except EngineReject as exc:
            out = _Out(exc.status, _binance_error(exc.status, exc.code, exc.msg), {})
        except HttpError as exc:
            out = _Out(exc.status, _dumps(exc.body), {})
        if spec is not None and spec.fault.processed:
            if spec.fault is Fault.LOST_RESPONSE:
                await _hold_and_drop(request, self._hold_ms(spec))
                return None, adm, fault_name, params
            status, payload = _CANNED[spec.fault]
            return _Out(status, _dumps(payload), {}), adm, fault_name, params
        return out, adm, fault_name, params

    def _authenticate(
        self, request: web.Request, ep: Endpoint, query: str, body: str, server_ms: int, pre: Params | None
    ) -> Params:
        if ep.security is Security.BINANCE:
            return verify_binance(self.ctx.keys, request.headers.get("X-MBX-APIKEY"), query, body, server_ms)
        if ep.security is Security.COINBASE:
            verify_coinbase(self.ctx.keys, request.headers, request.method, request.path, body, server_ms)
        return pre if pre is not None else Params.parse(query)

    def _hold_ms(self, spec: FaultSpec) -> int:
        return spec.hold_ms if spec.hold_ms is not None else self.ctx.config.lost_response_hold_ms

    async def _refuse(self, request: web.Request, spec: FaultSpec) -> _Out | None:
        fault = spec.fault
        if fault is Fault.LOST_REQUEST:
            await _hold_and_drop(request, self._hold_ms(spec))
            return None
        headers = {"Retry-After": str(spec.retry_after_s)}
        if fault is Fault.HTTP_429:
            limit = self.ctx.limiter.weight_limit
            msg = (
                f"Too many requests; current limit is {limit} requests per minute. "
                "Please use the websocket for live updates to avoid polling the API."
            )
            return _Out(429, _binance_error(429, -1003, msg), headers)
        if fault is Fault.HTTP_418:
            until = self.ctx.server_ms() + spec.retry_after_s * 1000
            msg = (
                f"Way too much request weight used; IP banned until {until}. "
                "Please use the websocket for live updates to avoid bans."
            )
            return _Out(418, _binance_error(418, -1003, msg), headers)
        status, payload = _CANNED[fault]
        return _Out(status, _dumps(payload), {})

    async def _control(self, request: web.Request, ep: Endpoint) -> web.StreamResponse:
        body = await request.read() if request.body_exists else b""
        call = Call(Params.parse(request.rel_url.raw_query_string), None, body, {}, self.ctx.server_ms())
        try:
            result = ep.handler(self.ctx, call)
            status = 200
        except HttpError as exc:
            result, status = exc.body, exc.status
        except (ValueError, OverflowError) as exc:  # a value the handler could not use
            result, status = {"error": f"bad request: {exc}"}, 400
        except Exception as exc:  # a bug: logged, never a traceback to the client
            log.exception("unhandled error serving %s %s", request.method, request.path)
            result, status = {"error": f"internal error ({type(exc).__name__}); see the server log"}, 500
        return web.Response(body=_dumps(result), status=status, content_type=_JSON)


def _exempt(params: Params) -> bool:
    """Reduce-only and close-position orders are exempt from -1008 throttling (as on Binance)."""
    try:
        return params.boolean("reduceOnly") or params.boolean("closePosition")
    except EngineReject:
        return False


def _safe_weight(ep: Endpoint, params: Params) -> int:
    try:
        return ep.weight_of(params)
    except (EngineReject, ValueError):
        return ep.weight if isinstance(ep.weight, int) else 1


def create_app(ctx: SimContext, tick_ms: int = 100) -> web.Application:
    """The aiohttp application serving ``ctx``; a background task syncs the engines every ``tick_ms``."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[CTX_KEY] = ctx
    app.router.add_route("*", "/{tail:.*}", _Dispatcher(ctx).handle)

    async def ticker(app: web.Application) -> Any:
        async def loop() -> None:
            while True:
                await asyncio.sleep(tick_ms / 1000)
                try:
                    ctx.sync()
                except Exception:  # keep ticking; the next request shows the error
                    log.exception("engine sync failed")

        task = asyncio.create_task(loop())
        yield
        task.cancel()

    app.cleanup_ctx.append(ticker)
    return app
