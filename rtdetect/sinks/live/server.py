"""The live view's HTTP server (aiohttp, in a thread of its own with its own event loop).

    GET  /                   the page            GET /static/app.js, /static/style.css   its assets
    GET  /video              MJPEG stream (multipart/x-mixed-replace) of the annotated frames
    GET  /api/stats          FPS, per-stage latency (ms), viewers, settings
    GET  /api/detections     the latest frame's JSONL record
    POST /api/settings       ?conf=0.4&classes=person,car&paused=1 (any subset; classes= empty: all)

Each viewer gets only the newest frame when it is ready for one, and a viewer whose socket does not take a
frame within ``WRITE_TIMEOUT_S`` is dropped, so no viewer can hold up the pipeline (which only swaps a
reference under a lock). Video streams are bounded in all and per client address (503 beyond), and a
``HEAD /video`` takes none. Connections are bounded in all and per client address, and a request's headers
must arrive within a few seconds (``gate``), so no client can exhaust the process's file descriptors; the
loop's own errors go to the ``rtdetect.live`` logger, never to stderr as tracebacks. Only the three page
files are served, by name from a fixed table; they hold no data of the run and are served without the
token (a browser fetches a page's stylesheet and script without its query, so with the token required there
they never loaded). With a token every other request must carry it (``?token=`` is an access parameter,
never a setting); without one (a loopback bind) the Host header must name a loopback host
(no DNS rebinding), POSTs need the ``X-Rtdetect`` header, which a foreign page cannot send without a CORS
preflight this server never grants, and a video request a browser makes for another site's page is refused.
"""
from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import math
import threading
from pathlib import Path
from typing import Callable

from aiohttp import web

from ...errors import OutputError, RtdetectError
from .access import host_of, is_cross_site, is_loopback, token_matches
from .gate import ConnectionGate, Limits
from .mjpeg import CONTENT_TYPE, mjpeg_part
from .state import LiveState

WRITE_TIMEOUT_S = 5.0
LISTEN_BACKLOG = 32  # connections the kernel queues, and asyncio accepts at once, before the gate sees them
STATIC = Path(__file__).with_name("static")
ASSETS = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
SETTINGS = ("conf", "classes", "paused")
ACCESS_PARAMS = ("token",)  # query parameters the guard reads, not settings


def _quiet_logger() -> logging.Logger:
    """The server's logger: aiohttp logs malformed requests with a traceback, and its default logger (or
    asyncio's) would print them on stderr (logging's last resort). Ours goes wherever the application's
    logging sends it, by default nowhere."""
    logger = logging.getLogger("rtdetect.live")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


def parse_settings(query) -> dict:
    """The ``/api/settings`` query as {conf: float, classes: list[str] | None, paused: bool} (those given);
    ValueError naming the bad value."""
    unknown = sorted(set(query) - set(SETTINGS) - set(ACCESS_PARAMS))
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r} (known: {', '.join(SETTINGS)})")
    settings = {}
    if "conf" in query:
        try:
            conf = float(query["conf"])
        except ValueError:
            raise ValueError(f"conf must be a number in [0, 1], got {query['conf']!r}") from None
        if not math.isfinite(conf) or not 0.0 <= conf <= 1.0:
            raise ValueError(f"conf must be a number in [0, 1], got {query['conf']!r}")
        settings["conf"] = conf
    if "classes" in query:
        names = [v.strip() for v in query["classes"].split(",") if v.strip()]
        settings["classes"] = names or None
    if "paused" in query:
        if query["paused"] not in ("0", "1", "true", "false"):
            raise ValueError(f"paused must be 0 or 1, got {query['paused']!r}")
        settings["paused"] = query["paused"] in ("1", "true")
    return settings


class LiveServer:
    """``start()`` binds and serves (OutputError when it cannot) and returns the page's URL; ``notify()``
    (any thread) tells the viewers a new frame is there; ``stop()`` ends every stream and the server."""

    def __init__(self, state: LiveState, host: str, port: int, *, token: str | None,
                 apply_settings: Callable[[dict], None], limits: Limits) -> None:
        self.state, self.host, self.port, self.token = state, host, port, token
        self.apply_settings, self.limits = apply_settings, limits
        self.viewers = 0
        self._viewers_of: collections.Counter[str] = collections.Counter()  # video streams per client address
        self._logger = _quiet_logger()
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(self._loop_error)
        self._thread = threading.Thread(target=self._loop.run_forever, name="rtdetect:serve", daemon=True)
        self._runner: web.AppRunner | None = None
        self._gate: ConnectionGate | None = None
        self._listener: asyncio.AbstractServer | None = None
        self._frame = asyncio.Event()
        self._closing = False

    def start(self) -> str:
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        except OSError as exc:
            self.stop()
            raise OutputError(f"--serve {self.host}:{self.port}: cannot listen there: {exc.strerror or exc}") from None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    async def _start(self) -> None:
        app = web.Application(middlewares=[self._header_deadline, self._guard])
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._asset)
        app.router.add_get("/video", self._video)
        app.router.add_get("/api/stats", self._stats)
        app.router.add_get("/api/detections", self._detections)
        app.router.add_post("/api/settings", self._settings)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, logger=self._logger)
        await self._runner.setup()
        # aiohttp's low-level server is a protocol factory; the gate stands in front of it (no TCPSite, which
        # would hand the listening socket's connections to aiohttp directly).
        self._gate = ConnectionGate(self.limits, self._runner.server)
        self._listener = await self._loop.create_server(self._gate, self.host, self.port, backlog=LISTEN_BACKLOG)
        self.port = self._listener.sockets[0].getsockname()[1]  # the real port when 0 asked for any

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        """What asyncio would print on stderr with a traceback (a failed accept, a callback's error)."""
        self._logger.debug("live view: %s", context.get("message"), exc_info=context.get("exception"))

    def stats(self) -> dict:
        return {**self.state.stats(), "viewers": self.viewers, "max_viewers": self.limits.max_viewers,
                "connections": self._gate.open if self._gate is not None else 0}

    @web.middleware
    async def _header_deadline(self, request: web.Request, handler):
        """The request's headers are in: no deadline while it is handled, a new one for the next request."""
        self._gate.request_started(request.transport)
        try:
            return await handler(request)
        finally:
            self._gate.request_finished(request.transport)

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _detections(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.latest_record())

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        host = host_of(request.host)  # the Host header, else the address the request came in on
        if host is None:
            return _bad("malformed Host header", 400)
        public = request.method in ("GET", "HEAD") and (request.path == "/" or request.path.startswith("/static/"))
        if not public and not token_matches(self.token, request.query.get("token"),
                                            request.headers.get("Authorization")):
            return _bad("missing or wrong token", 401)
        if self.token is None and not is_loopback(host):
            return _bad("this live view answers only to a loopback host name", 403)
        if request.method == "POST" and self.token is None and "X-Rtdetect" not in request.headers:
            return _bad("POST needs the X-Rtdetect header", 403)
        return await handler(request)

    def _video_refusal(self, request: web.Request) -> web.Response | None:
        """Why this request gets no video stream (None: it may have one)."""
        if self.token is None and is_cross_site(request.headers, f"{request.scheme}://{request.host}"):
            return _bad("the video is not served to another site's page", 403)
        if self.viewers >= self.limits.max_viewers:
            return _bad(f"at most {self.limits.max_viewers} viewers at once", 503)
        if self._viewers_of[request.remote or ""] >= self.limits.max_viewers_per_client:
            return _bad(f"at most {self.limits.max_viewers_per_client} video streams per client", 503)
        return None

    async def _page(self, request: web.Request) -> web.Response:
        return self._file("index.html")

    async def _asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in ASSETS or name == "index.html":
            raise web.HTTPNotFound()
        return self._file(name)

    @staticmethod
    def _file(name: str) -> web.Response:
        return web.Response(body=(STATIC / name).read_bytes(), content_type=ASSETS[name],
                            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    async def _settings(self, request: web.Request) -> web.Response:
        try:
            settings = parse_settings(request.query)
            self.apply_settings(settings)
        except (ValueError, RtdetectError) as exc:
            return _bad(str(exc))
        return web.json_response(self.stats())

    async def _video(self, request: web.Request) -> web.StreamResponse:
        headers = {"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"}
        if request.method == "HEAD":  # the headers a GET would get, no stream (aiohttp would send its body)
            return web.Response(headers=headers)
        if (refusal := self._video_refusal(request)) is not None:
            return refusal
        client = request.remote or ""
        self.viewers += 1
        self._viewers_of[client] += 1
        try:
            response = web.StreamResponse(headers=headers)
            await response.prepare(request)
            await self._stream_frames(response)
            return response
        finally:
            self.viewers -= 1
            self._viewers_of[client] -= 1
            if not self._viewers_of[client]:
                del self._viewers_of[client]

    async def _stream_frames(self, response: web.StreamResponse) -> None:
        """The newest frame each time this viewer is ready for one; ends on stop or a stalled viewer."""
        sent = -1
        while not self._closing:
            jpeg, seq = self.state.latest_jpeg()
            if jpeg is None or seq == sent:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._frame.wait(), 1.0)
                continue
            sent = seq
            try:
                await asyncio.wait_for(response.write(mjpeg_part(jpeg)), WRITE_TIMEOUT_S)
            except (asyncio.TimeoutError, ConnectionError):
                return

    def _wake(self) -> None:
        self._frame.set()
        self._frame = asyncio.Event()

    def notify(self) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake)

    async def _shutdown(self) -> None:
        if self._listener is not None:
            self._listener.close()  # no new connections
        if self._runner is not None:
            await self._runner.cleanup()
        if self._gate is not None:
            self._gate.abort_all()  # what aiohttp's shutdown left open (a response still being flushed)

    def stop(self) -> None:
        """End the streams, close the server and its thread (idempotent)."""
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            self._closing = True
            self.notify()
            with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError, OSError):
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop.close()
