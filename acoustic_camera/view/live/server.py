"""The live view's web server: the page, its WebSocket, and a status endpoint (Starlette on uvicorn).

Routes: ``/`` the page (:file:`page.html`); ``/ws`` a WebSocket that sends each new picture as
a JSON text message (its metadata) followed by a binary one (the JPEG), and takes settings
(``{"band": [lo, hi], "range": dB, "method": m, "csm_frames": k}``) and ``{"stop_view": true}``;
``/status`` a JSON summary (pictures made, frame rate, clients, the source's state).

Each client has its own sender: it waits for a picture newer than the one it last sent and
sends the newest, so a slow or stalled client gets fewer pictures and holds up nobody (not the
other clients, not the imager, not the capture). The server runs in its own thread with its own
event loop and binds its socket before anything else starts, so a port in use is a one-line error.
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import threading
import time
from importlib import resources
from typing import Callable

from ...errors import AcamError
from .imager import LIVE_METHODS, LiveImager, colormap_lut, settings_dict


def require_web():
    """The web server's modules (the ``live`` extra), or a one-line error naming the extra."""
    try:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.responses import HTMLResponse, JSONResponse
        from starlette.routing import Route, WebSocketRoute
        from starlette.websockets import WebSocketDisconnect
    except ImportError as exc:
        raise AcamError(f"acam live needs its web server (pip install 'acoustic-camera[live]'): {exc}") from None
    return uvicorn, Starlette, HTMLResponse, JSONResponse, Route, WebSocketRoute, WebSocketDisconnect


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (0: any free port), or a one-line error."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AcamError(f"--port {port}: already in use on {host} (another acam live, or another server; "
                            "pass another --port, or --port 0 for any free one)") from None
        raise AcamError(f"--host {host} --port {port}: cannot listen there: {exc.strerror or exc}") from None
    sock.listen(16)
    sock.setblocking(False)
    return sock


class LiveServer:
    """Serves an imager's pictures on ``url`` until :meth:`stop`.

    ``sock``: a socket from :func:`bind` (default: bound here). ``status()``: a callable returning the source's state for ``/status``; ``on_stop_view``:
    called when a page asks to stop the view (the recording goes on)."""

    def __init__(self, imager: LiveImager, host: str = "127.0.0.1", port: int = 8765, *, sock: socket.socket | None = None,
                 status: Callable[[], dict] | None = None, on_stop_view: Callable[[], None] | None = None):
        uvicorn, Starlette, HTMLResponse, JSONResponse, Route, WebSocketRoute, Disconnect = require_web()
        self.imager = imager
        self._status = status or (lambda: {})
        self._on_stop_view = on_stop_view
        self._sock = sock if sock is not None else bind(host, port)
        self.host, self.port = host, self._sock.getsockname()[1]
        self.clients = 0
        self.sent = 0
        page = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")

        async def index(request):
            return HTMLResponse(page, headers={"Cache-Control": "no-store"})

        async def status(request):
            return JSONResponse(self.status())

        async def ws(websocket):
            await websocket.accept()
            loop = asyncio.get_running_loop()
            fresh = asyncio.Event()

            def on_frame(frame):  # imager's thread: hand over, never wait
                loop.call_soon_threadsafe(fresh.set)

            self.imager.subscribe(on_frame)
            self.clients += 1
            sender = asyncio.ensure_future(self._send(websocket, fresh))
            try:
                await websocket.send_text(json.dumps(self._hello()))
                fresh.set()
                while True:
                    msg = await websocket.receive_text()
                    reply = self._control(msg)
                    if reply:
                        await websocket.send_text(json.dumps(reply))
            except (Disconnect, RuntimeError, OSError):
                pass
            finally:
                sender.cancel()
                self.imager.unsubscribe(on_frame)
                self.clients -= 1

        app = Starlette(routes=[Route("/", index), Route("/status", status), WebSocketRoute("/ws", ws)])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="websockets-sansio", ws_ping_interval=None)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, name="acam-live-web",
                                        daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self, timeout: float = 10.0) -> str:
        self._thread.start()
        end = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > end:
                raise AcamError(f"the live view's web server did not start on {self.url}")
            time.sleep(0.01)
        return self.url

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._sock.close()

    def status(self) -> dict:
        return {"view": self.imager.stats(), "clients": self.clients, "sent": self.sent,
                "settings": settings_dict(self.imager.settings), "source": self._status()}

    def _hello(self) -> dict:
        return {"type": "hello", "settings": settings_dict(self.imager.settings), "methods": list(LIVE_METHODS),
                "colormap": colormap_lut(), "sample_freq": self.imager.feed.sample_freq,
                "nyquist": self.imager.feed.sample_freq / 2, "status": self.status()}

    def _control(self, text: str) -> dict | None:
        try:
            msg = json.loads(text)
            if not isinstance(msg, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            return {"type": "error", "message": f"expected a JSON object of settings: {exc}"}
        if msg.pop("stop_view", False):
            if self._on_stop_view is not None:
                self._on_stop_view()
            return {"type": "stopped"}
        changes = {}
        for key, name, kind in (("band", "band", None), ("range", "dynamic_range_db", float),
                                ("method", "method", str), ("csm_frames", "csm_frames", int),
                                ("weighting", "weighting", str)):
            if key in msg:
                v = msg.pop(key)
                try:
                    if key == "band":
                        changes[name] = (float(v[0]), None if v[1] is None else float(v[1]))
                    else:
                        changes[name] = kind(v)
                except (TypeError, ValueError, IndexError):
                    return {"type": "error", "message": f"{key}: cannot read {v!r}"}
        if msg:
            return {"type": "error", "message": f"unknown settings: {', '.join(sorted(msg))}"}
        try:
            st = self.imager.update(**changes)
        except AcamError as exc:
            return {"type": "error", "message": str(exc)}
        return {"type": "settings", "settings": settings_dict(st)}

    async def _send(self, websocket, fresh: asyncio.Event) -> None:
        last = 0
        try:
            while True:
                await fresh.wait()
                fresh.clear()
                frame = self.imager.latest
                if frame is None or frame.seq == last:
                    continue
                last = frame.seq
                meta = dict(frame.meta, sent_wall=time.time())
                await websocket.send_text(json.dumps(meta))
                await websocket.send_bytes(frame.jpeg)
                self.sent += 1
        except asyncio.CancelledError:
            raise
        except Exception:  # the client went away: its receiver sees it too and cleans up
            return
