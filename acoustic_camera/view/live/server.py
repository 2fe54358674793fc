"""The live view's web server: the page, its WebSocket, and a status endpoint (Starlette on uvicorn).

Routes: ``/`` the page (:file:`page.html`); ``/ws`` a WebSocket that sends each new picture as
a JSON text message (its metadata) followed by a binary one (the JPEG), and takes settings
(``{"band": [lo, hi], "range": dB, "method": m, "csm_frames": k}``) and ``{"stop_view": true}``;
``/status`` a JSON summary (pictures made, frame rate, clients, the source's state).

It trusts no page. Every request must name the server by one of its own Host names (the bound
address, ``localhost``, ``127.0.0.1``, ``[::1]``; bound to every interface also the machine's
name and any IP address), with its port, so a page of another site that a rebound DNS name points
here gets 421 (DNS rebinding). A WebSocket is accepted only without an ``Origin`` (a non-browser
client) or from the server's own origin or one given with ``allow_origins``; others get 403.
Each settings message is checked by the shared parsers of :mod:`acoustic_camera.options` after
a bounded JSON parse (:data:`MAX_MESSAGE`, finite numbers only); a bad one gets one error reply
and changes nothing. What the server sends is strict JSON: a value that is not finite is null.

Each client has its own sender: it waits for a picture newer than the one it last sent and
sends the newest, so a slow or stalled client gets fewer pictures and holds up nobody (not the
other clients, not the imager, not the capture). The server runs in its own thread with its own
event loop and binds its socket before anything else starts, so a port in use is a one-line error.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import json
import math
import socket
import threading
import time
from importlib import resources
from typing import Callable

import numpy as np

from ... import options
from ...beamform.methods import WEIGHTINGS
from ...errors import AcamError
from .imager import LIVE_METHODS, LiveImager, colormap_lut, settings_dict

MAX_MESSAGE = 64 * 1024
"""Longest settings message read (characters); a longer one is refused unread (real ones are < 100)."""
MAX_FRAME = 4 * 1024 * 1024
"""Longest WebSocket message taken in at all: beyond it the connection is closed (code 1009)."""
WILDCARDS = ("0.0.0.0", "::", "")

SETTINGS = {  # message key -> (ViewSettings field, the shared parser)
    "band": ("band", options.band),
    "range": ("dynamic_range_db", options.LIVE_RANGE_DB),
    "method": ("method", options.Choice(LIVE_METHODS)),
    "csm_frames": ("csm_frames", options.LIVE_CSM_FRAMES),
    "weighting": ("weighting", options.Choice(WEIGHTINGS)),
}


_shown = options.shown


def finite(value):
    """``value`` (dicts, lists, numbers) with every number that is not finite replaced by None."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def dumps(value) -> str:
    """Strict JSON (no NaN, Infinity): what the server sends."""
    return json.dumps(finite(value), allow_nan=False)


def origin(value, name: str = "--allow-origin") -> str:
    """An origin a page may connect from: ``scheme://host[:port]`` (http or https, no path),
    lower case as browsers send it; a one-line error otherwise."""
    from urllib.parse import urlsplit

    text = str(value).strip().lower().rstrip("/")
    try:
        u = urlsplit(text)
        ok = u.scheme in ("http", "https") and bool(u.hostname) and not (u.path or u.query or u.fragment
                                                                          or u.username or u.password)
        u.port  # noqa: B018 (a port out of range raises)
    except ValueError:
        ok = False
    if not ok or len(text) > 300:
        raise AcamError(f"{name}: expected an origin such as http://host:8765 (http or https, no path), "
                        f"found {_shown(value)}")
    if (u.scheme, u.port) in (("http", 80), ("https", 443)):  # as a browser sends it: no default port
        text = text.rsplit(":", 1)[0]
    return text


def _not_finite(text: str):
    raise ValueError(f"{text} is not a finite number")


def _finite_float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise ValueError(f"{text[:20]} is not a finite number")
    return x


def parse_message(text) -> dict:
    """A settings message as a dict, or ValueError in one line: text only, at most
    :data:`MAX_MESSAGE` characters, a JSON object, every number finite."""
    if not isinstance(text, str):
        raise ValueError("expected a text message (JSON), found a binary one")
    if len(text) > MAX_MESSAGE:
        raise ValueError(f"expected a JSON object of at most {MAX_MESSAGE} characters, found {len(text)}")
    try:
        msg = json.loads(text, parse_constant=_not_finite, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("expected a JSON object of settings, found one nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, a number not finite, an integer too long
        raise ValueError(f"expected a JSON object of settings: {str(exc)[:120]}") from None
    if not isinstance(msg, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(msg), "a number")
        raise ValueError(f"expected a JSON object of settings, found {kind}")
    return msg


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
    called when a page asks to stop the view (the recording goes on). ``allow_origins``: origins
    (:func:`origin`) besides the server's own whose pages may connect; their host names are
    answered too (a reverse proxy that keeps the Host header)."""

    def __init__(self, imager: LiveImager, host: str = "127.0.0.1", port: int = 8765, *, sock: socket.socket | None = None,
                 status: Callable[[], dict] | None = None, on_stop_view: Callable[[], None] | None = None,
                 allow_origins=()):
        uvicorn, Starlette, HTMLResponse, JSONResponse, Route, WebSocketRoute, Disconnect = require_web()
        self.imager = imager
        self._status = status or (lambda: {})
        self._on_stop_view = on_stop_view
        self._sock = sock if sock is not None else bind(host, port)
        self.host, self.port = host, self._sock.getsockname()[1]
        self.allow_origins = frozenset(origin(o) for o in allow_origins)
        self._wildcard = host in WILDCARDS
        names = {host, "localhost", "127.0.0.1", "::1"} | ({socket.gethostname()} if self._wildcard else set())
        names = {f"[{n}]" if ":" in n else n for n in names if n}
        self._own_hosts = frozenset({f"{n.lower()}:{self.port}" for n in names}
                                    | ({n.lower() for n in names} if self.port == 80 else set()))
        self._hosts = self._own_hosts | {o.split("://", 1)[1] for o in self.allow_origins}
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
                await websocket.send_text(dumps(self._hello()))
                fresh.set()
                while True:
                    message = await websocket.receive()
                    if message["type"] == "websocket.disconnect":
                        break
                    reply = self._control(message.get("text", message.get("bytes")))
                    if reply:
                        await websocket.send_text(dumps(reply))
            except (Disconnect, RuntimeError, OSError):
                pass
            finally:
                sender.cancel()
                self.imager.unsubscribe(on_frame)
                self.clients -= 1

        app = Starlette(routes=[Route("/", index), Route("/status", status), WebSocketRoute("/ws", ws)])

        async def guard(scope, receive, send):  # every route: its own Host names; WebSockets: its own origins
            if scope["type"] in ("http", "websocket"):
                refused = self.refuse(scope["type"], scope.get("headers", ()))
                if refused and scope["type"] == "http":  # 421 Misdirected Request: not this server's name
                    body = f"{refused}\n".encode()
                    await send({"type": "http.response.start", "status": 421,
                                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                            (b"content-length", str(len(body)).encode()),
                                            (b"x-content-type-options", b"nosniff")]})
                    await send({"type": "http.response.body", "body": body})
                    return
                if refused:  # before the handshake completes: HTTP 403
                    await send({"type": "websocket.close", "code": 1008, "reason": ""})
                    return
            await app(scope, receive, send)

        config = uvicorn.Config(guard, log_level="warning", lifespan="off", ws="websockets-sansio", ws_ping_interval=None,
                                ws_max_size=MAX_FRAME, proxy_headers=False)
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

    def host_ok(self, host: str) -> bool:
        """Whether an HTTP Host header (``name:port``) names this server."""
        host = host.strip().lower()
        if host in self._hosts:
            return True
        if not self._wildcard:
            return False
        # bound to every interface: any IP address of this machine, with the port. A Host that
        # is an IP address cannot come from a rebound DNS name, so no address needs listing.
        name, sep, port = host.rpartition(":")
        if not sep or port != str(self.port):
            return False
        try:
            ipaddress.ip_address(name[1:-1] if name.startswith("[") and name.endswith("]") else name)
        except ValueError:
            return False
        return ":" not in name or name.startswith("[")

    def refuse(self, kind: str, headers) -> str | None:
        """Why a request with these (raw ASGI) headers is refused, or None: a Host that is not
        one of this server's names; for a WebSocket, an Origin neither its own nor allowed."""
        hosts = [v for k, v in headers if k == b"host"]
        origins = [v for k, v in headers if k == b"origin"]
        if len(hosts) != 1 or not self.host_ok(hosts[0].decode("latin-1")):
            return f"Host {hosts[0].decode('latin-1')[:100]!r} is not this server's" if hosts else "no Host header"
        if kind == "websocket" and origins:
            seen = origins[0].decode("latin-1").strip().lower()
            host = hosts[0].decode("latin-1").strip().lower()
            own = seen.startswith("http://") and seen[7:] in self._own_hosts | {host}
            if len(origins) != 1 or not (own or seen in self.allow_origins):
                return f"Origin {seen[:100]!r} is not allowed"
        return None

    def status(self) -> dict:
        return finite({"view": self.imager.stats(), "clients": self.clients, "sent": self.sent,
                       "settings": settings_dict(self.imager.settings), "source": self._status()})

    def _hello(self) -> dict:
        return {"type": "hello", "settings": settings_dict(self.imager.settings), "methods": list(LIVE_METHODS),
                "colormap": colormap_lut(), "sample_freq": self.imager.feed.sample_freq,
                "nyquist": self.imager.feed.sample_freq / 2, "status": self.status()}

    def _control(self, text) -> dict:
        """The reply to one message from a page: the new settings, "stopped", or one error (the
        settings unchanged)."""

        def error(message: str) -> dict:
            return {"type": "error", "message": message if len(message) <= 300 else message[:297] + "..."}

        try:
            msg = parse_message(text)
        except ValueError as exc:
            return error(str(exc))
        if "stop_view" in msg:
            if msg["stop_view"] is not True or len(msg) != 1:
                return error(f"stop_view: expected {{\"stop_view\": true}} alone, found {_shown(msg)}")
            if self._on_stop_view is not None:
                self._on_stop_view()
            return {"type": "stopped"}
        unknown = sorted(k for k in msg if k not in SETTINGS)
        if unknown:
            return error(f"unknown settings: {', '.join(_shown(k) for k in unknown[:5])}"
                         f"{f' and {len(unknown) - 5} more' if len(unknown) > 5 else ''} "
                         f"(expected {', '.join(SETTINGS)})")
        try:
            changes = {SETTINGS[k][0]: SETTINGS[k][1](v, k) for k, v in msg.items()}
            st = self.imager.update(**changes)
        except AcamError as exc:
            return error(str(exc))
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
                await websocket.send_text(dumps(meta))
                await websocket.send_bytes(frame.jpeg)
                self.sent += 1
        except asyncio.CancelledError:
            raise
        except Exception:  # the client went away: its receiver sees it too and cleans up
            return
