"""A headless Chromium (Debian's ``chromium``) driven over the DevTools protocol: open a page,
evaluate JavaScript in it, take screenshots. For the live view's tests and its benchmark; nothing
is downloaded (the browser is the system's, the protocol client is ``websockets``)."""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np

# the flags a closed machine needs: no background networking, no first-run, no GPU
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
         "--disable-backgrounding-occluded-windows", "--hide-scrollbars", "--mute-audio"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Chromium:
    """One headless browser with one page. ``with Chromium(url) as b: b.eval("1+1")``."""

    def __init__(self, url: str, width: int = 960, height: int = 560, timeout: float = 30.0):
        from websockets.sync.client import connect

        exe = chromium_path()
        if exe is None:
            raise RuntimeError("no chromium on this machine (Debian package chromium)")
        self._dir = tempfile.mkdtemp(prefix="acam-chromium-")
        self.proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={self._dir}", "--remote-debugging-port=0",
                                      f"--window-size={width},{height}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self._dir) / "DevToolsActivePort"
        end = time.monotonic() + timeout
        while not port_file.exists() or not port_file.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > end:
                self.close()
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        self._conn = connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=timeout)
        self._ws = self._conn.__enter__()
        self._ids = itertools.count(1)
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        self.navigate(url, timeout)

    def call(self, method: str, **params):
        i = next(self._ids)
        self._ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv(timeout=60))
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def navigate(self, url: str, timeout: float = 30.0) -> None:
        self.call("Page.navigate", url=url)
        end = time.monotonic() + timeout
        while self.eval("document.readyState") != "complete":
            if time.monotonic() > end:
                raise RuntimeError(f"{url} did not load")
            time.sleep(0.05)

    def eval(self, expression: str):
        """The JSON value of a JavaScript expression (promises awaited)."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails'].get('text')} "
                               f"{r['exceptionDetails'].get('exception', {}).get('description', '')}")
        return r["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, poll: float = 0.05):
        end = time.monotonic() + timeout
        while True:
            v = self.eval(expression)
            if v:
                return v
            if time.monotonic() > end:
                raise TimeoutError(f"waited {timeout} s for {expression}")
            time.sleep(poll)

    def screenshot(self, clip: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """RGB (H, W, 3) of the page, or of ``clip`` = (x, y, width, height) CSS pixels."""
        kw = {"format": "png"}
        if clip is not None:
            x, y, w, h = clip
            kw["clip"] = {"x": x, "y": y, "width": w, "height": h, "scale": 1}
        png = base64.b64decode(self.call("Page.captureScreenshot", **kw)["data"])
        return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1].copy()

    def close(self) -> None:
        try:
            if getattr(self, "_conn", None) is not None:
                self._conn.__exit__(None, None, None)
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
