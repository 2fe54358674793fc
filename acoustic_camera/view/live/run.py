"""``acam live`` as a function: a source, the imager, the web server, and the recording, together.

Threads: the source (the PortAudio capture's writer loop, or the simulated player) runs in the
caller's thread and owns the recording; the imager and the web server run in their own. Nothing
the view does can hold up the source: it pushes into a :class:`.feed.LiveFeed` and moves on. A
page (or :func:`run_live`'s ``view_stop``) can stop the view while the recording goes on.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np

from ...array.camera import Camera
from ...array.geometry import ArrayGeometry
from ...beamform.beamformer import Beamformer
from ...constants import GRID_SHAPE, VIDEO_FPS
from ...sim.simulator import SimConfig
from .feed import LiveFeed
from .imager import LiveImager, ViewSettings
from .server import LiveServer, bind, origin, require_web


@dataclass(frozen=True)
class SimulatedSource:
    """The simulated DualCam played in real time; ``preroll`` s simulated before the clock starts."""

    config: SimConfig
    preroll: float = 2.0


@dataclass(frozen=True)
class DeviceSource:
    """A PortAudio input (index or name) and optionally a camera (index, video file or URL)."""

    audio_device: object
    geometry: ArrayGeometry
    rate: float
    channels: int | None = None
    camera: object = None
    duration: float | None = None
    blocksize: int = 1024
    ring_seconds: float = 4.0


def run_live(source: SimulatedSource | DeviceSource, *, settings: ViewSettings = ViewSettings(),
             host: str = "127.0.0.1", port: int = 8765, record: str | Path | None = None, overwrite: bool = False,
             calibration=None, backend: str = "auto", grid: tuple[int, int] = GRID_SHAPE,
             should_stop: Callable[[], str | None] | None = None, on_url: Callable[[str], None] | None = None,
             view_stop: threading.Event | None = None, progress=None, allow_origins=()) -> dict:
    """Run the live view until the source ends or ``should_stop()`` names a reason.

    The web server's port is taken first (a port in use is an :class:`AcamError` before any
    device opens). ``on_url(url)`` is called once the page is served. Setting ``view_stop``
    (or the page's "stop view") ends the view and leaves the source and the recording running.
    Returns the source's summary with ``view`` (pictures, rate, compute time, skipped frames,
    pictures sent, CPU use of the whole process, the beamformer's parameters and calibration).
    ``allow_origins``: origins (``http://host:port``) besides the server's own whose pages may
    connect to the view's WebSocket (see :mod:`.server`)."""
    require_web()  # before any device opens: a missing extra is one line, not a half-started capture
    allow_origins = tuple(origin(o) for o in allow_origins)
    sock = bind(host, port)
    view_stop = view_stop or threading.Event()
    parts: dict = {}
    cpu0, wall0 = time.process_time(), time.monotonic()

    def start_view(geometry: ArrayGeometry, camera: Camera, sample_freq: float, fps: float, feed: LiveFeed) -> None:
        kw, record_cal = {}, None
        if calibration is not None:
            from ...beamform.pipeline import apply_calibration

            geometry, camera, record_cal = apply_calibration(
                calibration, SimpleNamespace(geometry=geometry, camera=camera, sample_freq=sample_freq), kw)
        bf = Beamformer(geometry, camera, sample_freq, grid=grid, backend=backend, **kw)
        parts["beamformer"] = {**bf.params(), "calibration": record_cal, "fx": camera.fx,
                               "bad_mics": [int(i) for i in np.flatnonzero(geometry.bad)]}
        imager = LiveImager(feed, bf, settings, fps=fps)
        server = LiveServer(imager, host, port, sock=sock, status=lambda: status(feed), on_stop_view=view_stop.set,
                            allow_origins=allow_origins)
        halt = threading.Event()
        worker = threading.Thread(target=imager.run, args=(halt,), name="acam-imager", daemon=True)
        worker.start()
        url = server.start()
        parts.update(imager=imager, server=server, halt=halt, worker=worker)
        threading.Thread(target=watch_view, name="acam-view-stop", daemon=True).start()
        if on_url is not None:
            on_url(url)

    def watch_view() -> None:  # off the server's own thread: stopping it joins that thread
        while not view_stop.wait(0.1):
            if parts.get("done"):
                return
        shutdown_view(early=True)

    lock = threading.Lock()

    def shutdown_view(early: bool) -> None:
        with lock:
            if "server" not in parts or parts.get("view_down"):
                return
            parts["view_down"] = True
            parts["halt"].set()
            parts["worker"].join(timeout=10)
            parts["server"].stop()
            if early:  # stopped from the page while the source went on
                parts["view_stopped_at"] = time.monotonic() - wall0

    def status(feed: LiveFeed) -> dict:
        return {"seconds": feed.end / feed.sample_freq, "closed": feed.closed,
                "recording": None if record is None else str(record), "nonfinite_samples": feed.nonfinite}

    try:
        if isinstance(source, SimulatedSource):
            from .player import play_simulated

            cfg = source.config
            feed = LiveFeed(cfg.sample_freq, cfg.geometry.n_mics)
            start_view(cfg.geometry, cfg.camera, cfg.sample_freq, cfg.video_fps, feed)
            summary = play_simulated(cfg, feed, record=record, overwrite=overwrite, preroll=source.preroll,
                                     should_stop=should_stop, progress=progress)
        else:
            from ...io.live import capture_live

            channels = source.channels or source.geometry.n_mics
            feed = LiveFeed(source.rate, channels)

            def on_start(camera: Camera) -> None:
                start_view(source.geometry, camera, source.rate, VIDEO_FPS, feed)

            summary = capture_live(record, audio_device=source.audio_device, channels=channels, rate=source.rate,
                                   geometry=source.geometry, camera=source.camera, duration=source.duration,
                                   blocksize=source.blocksize, ring_seconds=source.ring_seconds, overwrite=overwrite,
                                   should_stop=should_stop, progress=progress, tap=feed, on_start=on_start)
    finally:
        parts["done"] = True
        if "server" in parts:
            shutdown_view(early=False)
        else:
            sock.close()
    wall = time.monotonic() - wall0
    view = {}
    if "imager" in parts:
        imager, server = parts["imager"], parts["server"]
        st = imager.stats()
        view = {"pictures": st["frames"], "skipped": st["skipped"], "compute_ms_median": st["compute_ms_median"],
                "pictures_per_s": st["fps_overall"], "sent": server.sent,
                "view_stopped_at_s": parts.get("view_stopped_at"), "url": server.url,
                "beamformer": parts["beamformer"]}
    view["cpu_cores"] = (time.process_time() - cpu0) / max(wall, 1e-9)
    return {**summary, "view": view, "wall_s": wall}
