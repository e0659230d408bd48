"""The HTTP side of `chair serve` (aiohttp): the page, its assets, the JSON-RPC websocket and
the session downloads, over one `Host`.

Routes (docs/api.md): ``GET /`` the page (static/index.html), ``GET /static/...`` its assets,
``GET /websocket`` JSON-RPC 2.0 (chair/service/rpc.py), ``GET /sessions/{id}.jsonl`` a
session's trace, ``GET /sessions/{id}.png`` its plot, ``GET /api/status`` the status
snapshot as JSON.

Every blocking Host call runs on a worker thread, never on the event loop; `chair.estop` has
workers of its own, so it never waits behind another request. Subscriptions are bridged from
`Host.subscribe` with `loop.call_soon_threadsafe` into a small queue per client that drops
the oldest snapshot when full: a slow or dead client never blocks the host.

With a `token`, every request (the websocket's handshake too) must carry it as
``?token=...`` or ``Authorization: Bearer ...``; the page, once opened with the token, also
gets it as a same-site cookie, so that its own assets load. Without one (loopback only), a
request must name a loopback host (no DNS rebinding) and a websocket from a browser must
come from the same origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from chair.service.api import ErrorCode, Host, ServiceError
from chair.service.rpc import (
    Call,
    Dispatcher,
    Parsed,
    RpcError,
    Subscriptions,
    dump,
    error_reply,
    notification,
    parse,
)

log = logging.getLogger("chair.service.web")

STATIC = Path(__file__).resolve().parent / "static"
#: Snapshots kept for a client that reads slower than they come (the oldest go first).
QUEUE_SNAPSHOTS = 4
#: A websocket that answers no ping for this long is closed, seconds.
HEARTBEAT_S = 10.0
#: Requests one client may have waiting for their replies (each request of a batch counts);
#: more are refused at once (an emergency stop never is).
MAX_PENDING = 32
TOO_MANY = RpcError(int(ErrorCode.REFUSED), f"too many requests waiting for their replies "
                    f"(at most {MAX_PENDING}): wait for them first")
COOKIE = "chair_token"
#: The page's asset types, whatever this machine's mimetypes says (with nosniff, a module
#: script served as anything but JavaScript does not run).
ASSET_TYPES = {".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
               ".json": "application/json", ".webmanifest": "application/manifest+json",
               ".html": "text/html; charset=utf-8", ".png": "image/png"}
SESSION_ID = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"

HOST_KEY = web.AppKey("host", object)
TOKEN_KEY = web.AppKey("token", object)
CALLS_KEY = web.AppKey("calls", ThreadPoolExecutor)
ESTOP_KEY = web.AppKey("estop", ThreadPoolExecutor)
STATIC_KEY = web.AppKey("static", Path)
SOCKETS_KEY = web.AppKey("websockets", set)
#: The clean-ups of websockets that left, held until done (aiohttp cancels a handler whose
#: client went away: its clean-up must not go with it).
LEAVING_KEY = web.AppKey("leaving", set)


def make_app(host: Host, *, token: str | None = None,
             static_dir: Path | None = None) -> web.Application:
    """The aiohttp application serving `host`; `token` (None: none needed) guards every
    request; `static_dir` holds index.html and its assets (default: the package's)."""
    app = web.Application(middlewares=[_guard])
    app[HOST_KEY], app[TOKEN_KEY] = host, token
    app[STATIC_KEY] = static_dir or STATIC
    app[CALLS_KEY] = ThreadPoolExecutor(8, thread_name_prefix="chair-rpc")
    app[ESTOP_KEY] = ThreadPoolExecutor(2, thread_name_prefix="chair-estop")
    app.router.add_get("/", _page)
    app.router.add_get("/websocket", _websocket)
    app.router.add_get("/api/status", _status)
    app.router.add_get(r"/sessions/{id:" + SESSION_ID + r"}.jsonl", _trace)
    app.router.add_get(r"/sessions/{id:" + SESSION_ID + r"}.png", _plot)
    app.router.add_get("/static/{path:.+}", _asset)
    app.on_shutdown.append(_close_websockets)
    app.on_cleanup.append(_stop_workers)
    app[SOCKETS_KEY] = set()
    app[LEAVING_KEY] = set()
    return app


async def blocking(request: web.Request, function: Callable[..., Any], *args: Any,
                   estop: bool = False) -> Any:
    """`function(*args)` on a worker thread (the estop's own when `estop`)."""
    pool = request.app[ESTOP_KEY if estop else CALLS_KEY]
    return await asyncio.get_running_loop().run_in_executor(pool, function, *args)


# ---------------------------------------------------------------------------- the guard


def _error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=message + "\n", content_type="text/plain")


def _given_token(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.query.get("token") or request.cookies.get(COOKIE)


def _is_loopback_name(host: str) -> bool:
    """`host` (a Host header: name or address, and a port) names this machine's loopback."""
    try:
        name = urlsplit(f"//{host}").hostname or ""
        if name == "localhost" or name.endswith(".localhost"):
            return True
        return ipaddress.ip_address(name).is_loopback
    except ValueError:  # not an address, or a malformed header
        return False


@web.middleware
async def _guard(request: web.Request,
                 handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                 ) -> web.StreamResponse:
    token = request.app[TOKEN_KEY]
    if token is not None:
        given = _given_token(request)
        if given is None or not hmac.compare_digest(given.encode(), token.encode()):
            refused = _error(web.HTTPUnauthorized,
                             "a token is required: open the address `chair serve` printed "
                             "(it ends in ?token=...), or send Authorization: Bearer TOKEN")
            refused.headers["WWW-Authenticate"] = 'Bearer realm="chair serve"'
            raise refused
    elif not _is_loopback_name(request.host):
        raise _error(web.HTTPForbidden,
                     f"this server answers only to a loopback name, not {request.host!r}: "
                     "use 127.0.0.1, [::1] or localhost, or serve with --token")
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _same_origin(request: web.Request) -> bool:
    """A websocket from a browser says where its page came from: it must be this server."""
    origin = request.headers.get("Origin")
    if origin is None:  # not a browser: nothing a web page could forge
        return True
    try:
        return urlsplit(origin).netloc.lower() == request.host.lower()
    except ValueError:
        return False


# ---------------------------------------------------------------------------- pages


async def _page(request: web.Request) -> web.StreamResponse:
    index = request.app[STATIC_KEY] / "index.html"
    if not index.is_file():
        raise _error(web.HTTPNotFound, f"the page is not installed ({index} is missing): "
                     "reinstall the package; the JSON-RPC API at /websocket works without it")
    response = web.FileResponse(index, headers={"Content-Type": "text/html; charset=utf-8"})
    token = request.app[TOKEN_KEY]
    if token is not None:
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
    return response


async def _asset(request: web.Request) -> web.StreamResponse:
    root = request.app[STATIC_KEY].resolve()
    path = (root / request.match_info["path"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise _error(web.HTTPNotFound, f"no file {request.match_info['path']!r} in /static")
    kind = ASSET_TYPES.get(path.suffix.lower())
    return web.FileResponse(path, headers={"Content-Type": kind} if kind else None)


async def _status(request: web.Request) -> web.StreamResponse:
    try:
        snapshot = await blocking(request, request.app[HOST_KEY].status)
    except ServiceError as exc:  # not connected yet, for one
        raise _error(web.HTTPServiceUnavailable, exc.message) from exc
    return web.json_response(snapshot, dumps=dump)


async def _file(request: web.Request, which: str, kind: str) -> web.StreamResponse:
    session_id = request.match_info["id"]
    try:
        path = await blocking(request, getattr(request.app[HOST_KEY], which), session_id)
    except ServiceError as exc:
        status = web.HTTPNotFound if exc.code == ErrorCode.NOT_FOUND else web.HTTPConflict
        raise _error(status, exc.message) from exc
    path = Path(path)
    if not path.is_file():
        raise _error(web.HTTPNotFound, f"session {session_id!r} has no {kind} (yet)")
    return web.FileResponse(path, headers={
        "Content-Type": "application/x-ndjson" if which == "trace_path" else "image/png",
        "Content-Disposition": f'inline; filename="{path.name}"'})


async def _trace(request: web.Request) -> web.StreamResponse:
    return await _file(request, "trace_path", "trace")


async def _plot(request: web.Request) -> web.StreamResponse:
    return await _file(request, "plot_path", "plot")


# ---------------------------------------------------------------------------- websocket


class _Feed(Subscriptions):
    """One client's subscription: Host.subscribe's callback (any thread) puts snapshots on a
    bounded queue that `pump` sends from the event loop."""

    def __init__(self, host: Host, loop: asyncio.AbstractEventLoop) -> None:
        self.host, self.loop = host, loop
        self.queue: deque[dict[str, Any]] = deque(maxlen=QUEUE_SNAPSHOTS)
        self.ready = asyncio.Event()
        self.cancel: Callable[[], None] | None = None
        self.dropped = 0

    def _callback(self, snapshot: dict[str, Any]) -> None:  # the host's thread: never block
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to tell
            self.loop.call_soon_threadsafe(self._put, snapshot)

    def _put(self, snapshot: dict[str, Any]) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append(snapshot)
        self.ready.set()

    def subscribe(self) -> bool:  # called on a worker thread
        if self.cancel is not None:
            return False
        self.cancel = self.host.subscribe(self._callback)
        return True

    def unsubscribe(self) -> bool:  # called on a worker thread
        cancel, self.cancel = self.cancel, None
        if cancel is None:
            return False
        cancel()
        self.loop.call_soon_threadsafe(self.queue.clear)
        return True

    async def pump(self, ws: web.WebSocketResponse) -> None:
        with contextlib.suppress(ConnectionError):  # the client left: its handler cleans up
            while not ws.closed:
                await self.ready.wait()
                self.ready.clear()
                while self.queue:
                    await ws.send_str(notification("status.update", self.queue.popleft()))


async def _websocket(request: web.Request) -> web.StreamResponse:
    if not _same_origin(request):
        raise _error(web.HTTPForbidden, "a websocket from another site's page is refused")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=1 << 20)
    await ws.prepare(request)
    host = request.app[HOST_KEY]
    feed = _Feed(host, asyncio.get_running_loop())
    # a browser (its page is this server's, as checked above) says where it came from
    page = request.query.get("client") == "web" or "Origin" in request.headers
    by = "web" if page else "api"
    dispatcher = Dispatcher(host, by=by, subscriptions=feed, server={
        "token_required": request.app[TOKEN_KEY] is not None})
    in_order = asyncio.Lock()  # one client's calls reach the host in the order sent
    tasks: set[asyncio.Task[None]] = set()
    waiting = [0]  # requests of this connection waiting for their replies
    pump = asyncio.create_task(feed.pump(ws))
    request.app[SOCKETS_KEY].add(ws)
    try:
        async for message in ws:
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            parsed = parse(message.data)
            if waiting[0] + len(parsed.calls) > MAX_PENDING and not any(
                    call.method == "chair.estop" for _, call in parsed.calls):
                await _send(ws, parsed.reply({slot: error_reply(TOO_MANY, call.id)
                                              for slot, call in parsed.calls
                                              if not call.notification}))
                continue
            task = asyncio.create_task(_answer(request, ws, dispatcher, in_order, parsed))
            tasks.add(task)
            count = len(parsed.calls)
            waiting[0] += count
            task.add_done_callback(tasks.discard)
            task.add_done_callback(lambda _, n=count: _done(waiting, n))
    finally:
        request.app[SOCKETS_KEY].discard(ws)
        pump.cancel()
        leaving = asyncio.create_task(_leave(request, feed, tasks))
        request.app[LEAVING_KEY].add(leaving)
        leaving.add_done_callback(request.app[LEAVING_KEY].discard)
        await asyncio.shield(leaving)  # runs to its end even when this handler is cancelled
    return ws


def _done(waiting: list[int], n: int) -> None:
    waiting[0] -= n


async def _leave(request: web.Request, feed: _Feed, tasks: set[asyncio.Task[None]]) -> None:
    """A client left: let its calls under way finish (a `status.subscribe` among them would
    subscribe again), then unsubscribe it. A session it started goes on."""
    for task in list(tasks):
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await task
    with contextlib.suppress(Exception):
        await blocking(request, feed.unsubscribe)


async def _answer(request: web.Request, ws: web.WebSocketResponse, dispatcher: Dispatcher,
                  in_order: asyncio.Lock, parsed: Parsed) -> None:
    """Answer one message; `chair.estop` goes at once on its own workers, the rest in turn.
    Once the client has left, nothing more is done for it (but an emergency stop)."""

    async def one(call: Call) -> dict[str, Any] | None:
        if call.method == "chair.estop":
            return await blocking(request, dispatcher.call, call, estop=True)
        async with in_order:
            if ws.closed:
                return None
            return await blocking(request, dispatcher.call, call)

    results = await asyncio.gather(*(one(call) for _, call in parsed.calls))
    await _send(ws, parsed.reply({slot: r for (slot, _), r in zip(parsed.calls, results,
                                                                   strict=True)}))


async def _send(ws: web.WebSocketResponse, reply: str | None) -> None:
    if reply is not None and not ws.closed:
        with contextlib.suppress(ConnectionError):
            await ws.send_str(reply)


async def _close_websockets(app: web.Application) -> None:
    for ws in list(app[SOCKETS_KEY]):
        await ws.close(code=1001, message=b"the server is stopping")


async def _stop_workers(app: web.Application) -> None:
    app[CALLS_KEY].shutdown(wait=False, cancel_futures=True)
    app[ESTOP_KEY].shutdown(wait=False)

