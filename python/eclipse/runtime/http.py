"""The daemon's status server on loopback: ``GET /healthz``, ``/status``, ``/metrics`` and the control POSTs.

Control actions (``POST /control/pause|resume|flatten|stop|lift``) need ``Authorization: Bearer
<STATUS_TOKEN>``: with no token configured every one is refused (403), a missing or wrong token is 401. Only
loopback addresses are bound, and a request whose ``Host`` header names anything but loopback is refused (a
web page cannot read the status through DNS rebinding). Bodies are limited to 64 KiB; a failing handler
answers 500 with a one-line JSON error and the daemon runs on.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import ipaddress
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from aiohttp import web

from eclipse.errors import ConfigError, EclipseError
from eclipse.runtime.metrics import DaemonMetrics
from eclipse.runtime.snapshot import DaemonControl

__all__ = ["MAX_BODY_BYTES", "StatusServer", "StatusServerError", "is_loopback_host", "jsonable"]

_LOG = logging.getLogger(__name__)
MAX_BODY_BYTES: Final = 64 * 1024
"""Largest request body accepted (control bodies are tiny)."""
_MAX_REASON = 200
_NO_TOKEN = "control disabled: set STATUS_TOKEN"
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class StatusServerError(EclipseError, OSError):
    """The status server cannot listen on ``host:port`` (``in_use``: another process holds the port)."""

    def __init__(self, host: str, port: int, code: int | None, message: str) -> None:
        super().__init__(code, message)
        self.host = host
        self.port = port
        self.message = message

    @property
    def in_use(self) -> bool:
        """True when the port is taken (the daemon may fall back to port 0)."""
        return self.errno == errno.EADDRINUSE

    def __str__(self) -> str:
        return self.message


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (``127.0.0.0/8``, ``::1``; brackets allowed)."""
    host = host.strip().lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


def _host_header_ok(header: str | None) -> bool:
    """The ``Host`` header (absent: HTTP/1.0) names loopback, with or without a port."""
    if not header:
        return True
    host = header.strip()
    if host.startswith("["):  # [::1]:8787
        host = host[: host.find("]") + 1] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return is_loopback_host(host)


def jsonable(obj: object) -> Any:
    """``obj`` with Decimals as numbers, enums as their values, mappings and sequences as dicts and lists,
    and NaN / infinities as null (strict JSON)."""
    if obj is None or isinstance(obj, bool | int | str):
        return obj.value if isinstance(obj, Enum) else obj
    if isinstance(obj, float | Decimal):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, Enum):
        return jsonable(obj.value)
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        items = sorted(obj, key=str) if isinstance(obj, set | frozenset) else obj
        return [jsonable(v) for v in items]
    return str(obj)


def _json(data: object, status: int = 200) -> web.Response:
    body = json.dumps(jsonable(data), separators=(",", ":"), allow_nan=False)
    return web.Response(
        text=body, status=status, content_type="application/json", headers={"Cache-Control": "no-store"}
    )


def _error(status: int, message: str, **extra: object) -> web.Response:
    return _json({"error": message, **extra}, status)


class StatusServer:
    """``/healthz``, ``/status``, ``/metrics`` and the control POSTs of one daemon, in the daemon's loop.

    ``token``: the ``STATUS_TOKEN`` the control POSTs must carry (empty: control disabled). ``host`` must be
    a loopback address (``localhost`` binds 127.0.0.1); ``port`` 0 picks a free port.
    """

    def __init__(
        self,
        control: DaemonControl,
        metrics: DaemonMetrics,
        *,
        host: str = "127.0.0.1",
        port: int = 8787,
        token: str = "",
    ) -> None:
        if not is_loopback_host(host):
            raise ConfigError("STATUS_HTTP_HOST", host, "a loopback address: 127.0.0.1, localhost or ::1")
        if not 0 <= port <= 65535:
            raise ConfigError("STATUS_HTTP_PORT", port, "a port 0-65535 (0 = any free port)")
        self.control = control
        self.metrics = metrics
        bare = host.strip().lower().removeprefix("[").removesuffix("]")
        self.host = "127.0.0.1" if bare == "localhost" else bare
        self.port = port
        self._token = token.encode("utf-8")
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._tasks: set[asyncio.Task[bool]] = set()

    def __repr__(self) -> str:  # never shows the token
        return f"StatusServer(host={self.host!r}, port={self.port}, control={'on' if self._token else 'off'})"

    @property
    def url(self) -> str | None:
        """The base URL while serving (e.g. ``http://127.0.0.1:8787``), else None."""
        return self._url

    # -- lifecycle ---------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application (also for in-process tests)."""
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[self._guard])
        app.router.add_get("/", self._index)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/status", self._status)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_post("/control/pause", self._pause)
        app.router.add_post("/control/resume", self._resume)
        app.router.add_post("/control/flatten", self._flatten)
        app.router.add_post("/control/stop", self._stop)
        app.router.add_post("/control/lift", self._lift)
        return app

    async def start(self) -> str:
        """Listen; returns the base URL. :class:`StatusServerError` (an OSError) when the port is taken
        (``in_use``) or cannot be bound."""
        if self._url is not None:
            return self._url
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            where = f"{self.host}:{self.port}" if ":" not in self.host else f"[{self.host}]:{self.port}"
            if exc.errno == errno.EADDRINUSE:
                msg = (
                    f"status server: port {self.port} on {self.host} is already in use (another daemon or"
                    " program listens there); set STATUS_HTTP_PORT to a free port, or 0 for any free port"
                )
            else:
                msg = f"status server: cannot listen on {where} ({exc.strerror or exc})"
            raise StatusServerError(self.host, self.port, exc.errno, msg) from None
        port = int(runner.addresses[0][1]) if runner.addresses else self.port
        shown = self.host if ":" not in self.host else f"[{self.host}]"
        self._runner = runner
        self._url = f"http://{shown}:{port}"
        return self._url

    async def stop(self) -> None:
        """Stop listening (idempotent); a flatten already started runs on."""
        runner, self._runner, self._url = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    # -- plumbing ----------------------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        if not _host_header_ok(request.headers.get("Host")):
            return _error(403, "the Host header must name a loopback address")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return _error(413, f"body larger than {MAX_BODY_BYTES} bytes")
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _LOG.exception("status server: %s %s failed", request.method, request.path)
            return _error(500, self._one_line(f"internal error: {type(exc).__name__}: {exc}"))

    def _one_line(self, text: str) -> str:
        line = " ".join(text.split())[:300]
        if self._token:  # an exception text must never carry the token out
            line = line.replace(self._token.decode("utf-8"), "***")
        return line

    def _authorize(self, request: web.Request) -> web.Response | None:
        """None when the request may act; else the refusal."""
        if not self._token:
            return _error(403, _NO_TOKEN)
        scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("utf-8"), self._token):
            resp = _error(401, "missing or wrong bearer token")
            resp.headers["WWW-Authenticate"] = 'Bearer realm="eclipse"'
            return resp
        return None

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The JSON object body ({} when empty), or a 400 / 413 refusal."""
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"body larger than {MAX_BODY_BYTES} bytes")
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "the body must be a JSON object")
        if not isinstance(data, dict):
            return _error(400, "the body must be a JSON object")
        return data

    # -- views -------------------------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.Response:
        return _json(
            {
                "get": ["/healthz", "/status", "/metrics"],
                "post": [
                    "/control/pause",
                    "/control/resume",
                    "/control/flatten",
                    "/control/stop",
                    "/control/lift",
                ],
                "control": "enabled" if self._token else _NO_TOKEN,
            }
        )

    async def _healthz(self, request: web.Request) -> web.Response:
        snap = self.control.snapshot()
        if snap.healthy:
            return web.Response(text="ok\n", headers={"Cache-Control": "no-store"})
        reason = " ".join((snap.health_reason or "unhealthy").split())
        return web.Response(text=f"{reason}\n", status=503, headers={"Cache-Control": "no-store"})

    async def _status(self, request: web.Request) -> web.Response:
        return _json(self.control.snapshot().to_dict())

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.metrics.render(),
            headers={"Content-Type": DaemonMetrics.CONTENT_TYPE, "Cache-Control": "no-store"},
        )

    # -- control -----------------------------------------------------------------------------------------

    async def _pause(self, request: web.Request) -> web.Response:
        if (refused := self._authorize(request)) is not None:
            return refused
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        reason = body.get("reason", "operator")
        if not isinstance(reason, str) or not reason.strip():
            return _error(400, '"reason" must be a non-empty string')
        reason = " ".join(reason.split())[:_MAX_REASON]
        _LOG.warning("status server: entries paused from %s (%s)", request.remote, reason)
        self.control.pause_entries(reason)
        return _json({"ok": True, "action": "pause", "entries": self.control.snapshot().entries})

    async def _resume(self, request: web.Request) -> web.Response:
        if (refused := self._authorize(request)) is not None:
            return refused
        _LOG.warning("status server: entries resumed from %s", request.remote)
        self.control.resume_entries()
        return _json({"ok": True, "action": "resume", "entries": self.control.snapshot().entries})

    async def _flatten(self, request: web.Request) -> web.Response:
        if (refused := self._authorize(request)) is not None:
            return refused
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        symbol = body.get("symbol")
        if not isinstance(symbol, str) or not symbol.strip():
            return _error(400, 'the body must be {"symbol": "<one of the configured symbols>"}')
        known = self.control.snapshot().symbols
        if symbol not in known:
            return _error(404, f"unknown symbol {symbol[:40]!r}", symbols=list(known))
        _LOG.warning("status server: flatten %s from %s", symbol, request.remote)
        # shielded: a client that hangs up or a server stop never cancels an order half-way
        task = asyncio.ensure_future(self.control.flatten(symbol))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        flat = await asyncio.shield(task)
        return _json({"ok": True, "action": "flatten", "symbol": symbol, "flat": bool(flat)})

    async def _lift(self, request: web.Request) -> web.Response:
        if (refused := self._authorize(request)) is not None:
            return refused
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        code, symbol = body.get("code"), body.get("symbol")
        if not isinstance(code, str) or not code.strip() or not (symbol is None or isinstance(symbol, str)):
            return _error(400, 'the body must be {"code": "<guard code, e.g. kill_drawdown>", "symbol": ...}')
        code = code.strip()[:_MAX_REASON]
        _LOG.warning("status server: lift %s %s from %s", code, symbol or "(all symbols)", request.remote)
        lifted = self.control.lift_guard(code, symbol)
        return _json({"ok": True, "action": "lift", "code": code, "lifted": bool(lifted)})

    async def _stop(self, request: web.Request) -> web.Response:
        if (refused := self._authorize(request)) is not None:
            return refused
        _LOG.warning("status server: stop requested from %s", request.remote)
        self.control.request_stop()
        return _json({"ok": True, "action": "stop"}, 202)
