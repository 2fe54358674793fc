"""Acoustic images of the newest audio, over the newest video frame, as JPEG: the live view's work.

The imager takes the newest video frame whose analysis window has fully arrived, beamforms that
window (the kernel's one-frame delay-and-sum over all 512 bins, or a short-time method on the
last K frames' CSM), sums the band, blends the map over the picture as ``acam render`` does,
encodes it and publishes it. It never queues work: when it falls behind it skips to the newest
frame (and counts the frames it skipped), so a slow machine shows fewer frames, never older ones.
A short-time method keeps each frame's spectra and beam spectra while the frame is in its window
(:class:`~acoustic_camera.beamform.methods.MethodStream`), so a picture costs one new frame's
products with the steering, not K.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import asdict, dataclass, replace

import cv2
import numpy as np

from ...beamform.beamformer import Beamformer
from ...beamform.features import band_bins, band_energy_db, power_db
from ...beamform.methods import METHODS, WEIGHTINGS, MethodSpec, MethodStream
from ...constants import ENERGY_BAND, VIDEO_FPS
from ...errors import AcamError
from ..render import COLORMAP, RenderOptions, overlay_frame
from .feed import LiveFeed

KERNEL = "kernel"
LIVE_METHODS = (KERNEL,) + METHODS  # "kernel": the beamformer's own one-frame delay-and-sum


@dataclass(frozen=True)
class ViewSettings:
    """What the view shows: the band summed (Hz; ``hi`` None: to the top bin), the dynamic range
    below each frame's peak, and the method (:data:`LIVE_METHODS`) with its CSM length."""

    band: tuple = ENERGY_BAND
    dynamic_range_db: float = 12.0
    method: str = KERNEL
    csm_frames: int = 12
    weighting: str = "power"

    def __post_init__(self):
        from ... import options

        object.__setattr__(self, "band", options.band(tuple(self.band), "band"))
        object.__setattr__(self, "dynamic_range_db", options.LIVE_RANGE_DB(self.dynamic_range_db, "dynamic range"))
        options.Choice(LIVE_METHODS)(self.method, "method")
        object.__setattr__(self, "csm_frames", options.LIVE_CSM_FRAMES(self.csm_frames, "CSM frames"))
        options.Choice(WEIGHTINGS)(self.weighting, "bin weighting")


@dataclass(frozen=True)
class LiveFrame:
    """One published picture: its JPEG and what the page needs to know of it."""

    seq: int
    jpeg: bytes
    meta: dict


def colormap_lut() -> list:
    """The overlay's 256 colours, bottom of the range first (the page draws its colour bar from them)."""
    ramp = np.arange(256, dtype=np.uint8)[:, None]
    return cv2.applyColorMap(ramp, COLORMAP)[:, 0, ::-1].tolist()


class LiveImager:
    """Beamforms the newest frame of a :class:`LiveFeed` and publishes it as a :class:`LiveFrame`.

    ``step()`` makes one picture (None when nothing new has arrived); ``run(stop)`` loops in a
    thread. ``update(**changes)`` changes the :class:`ViewSettings` (validated; takes effect on
    the next picture). ``subscribe(fn)``: ``fn(frame)`` after each publication, called from the
    imager's thread (so it must not block)."""

    def __init__(self, feed: LiveFeed, bf: Beamformer, settings: ViewSettings = ViewSettings(), *,
                 fps: float = VIDEO_FPS, jpeg_quality: int = 80):
        self.feed, self.bf, self.fps, self.jpeg_quality = feed, bf, float(fps), int(jpeg_quality)
        self._check(settings)
        self.settings = settings
        self._lock = threading.Lock()
        self._latest: LiveFrame | None = None
        self._subscribers: list = []
        self._seq = 0
        self._done = -1  # sample index of the newest frame imaged
        self._made: collections.deque = collections.deque(maxlen=256)  # wall times of publication
        self._compute: collections.deque = collections.deque(maxlen=256)  # seconds per picture
        self.skipped = 0
        self._stream = None  # (settings, MethodStream) of a short-time method
        self.first_made = self.last_made = None  # wall times of the first and the newest picture
        self._blank = np.full((bf.camera.height, bf.camera.width, 3), 40, np.uint8)

    def _check(self, settings: ViewSettings) -> None:
        band_bins(self.bf.freqs, settings.band)  # a band the spectra do not reach: one-line error

    def update(self, **changes) -> ViewSettings:
        new = replace(self.settings, **changes)
        self._check(new)
        self.settings = new
        return new

    def subscribe(self, fn) -> None:
        with self._lock:
            self._subscribers.append(fn)

    def unsubscribe(self, fn) -> None:
        with self._lock:
            if fn in self._subscribers:
                self._subscribers.remove(fn)

    @property
    def latest(self) -> LiveFrame | None:
        return self._latest

    def _frame_times(self) -> tuple[list[int], list]:
        """Sample indices of the frames held (the camera's, or the frame rate's ticks when there
        is no camera) and their pictures (None without a camera)."""
        frames = self.feed.frames()
        if frames:
            return [s for s, _ in frames], [p for _, p in frames]
        step = self.feed.sample_freq / self.fps
        last = int((self.feed.end - self.bf.nfft // 2) // step)
        times = [int(round(k * step)) for k in range(max(last - 47, 0), last + 1)]
        return times, [None] * len(times)

    def step(self) -> LiveFrame | None:
        half = self.bf.nfft // 2
        end = self.feed.end
        times, pictures = self._frame_times()
        ready = [i for i, s in enumerate(times) if s + half <= end]
        if not ready or times[ready[-1]] <= self._done:
            return None
        i = ready[-1]
        s = times[i]
        if self._done >= 0:
            self.skipped += sum(1 for t in times[:i] if t > self._done)
        picture = pictures[i]  # the newest frame whose window has arrived (not always the newest)
        st = self.settings
        t0 = time.perf_counter()
        if st.method == KERNEL:
            volume = self.bf(self.feed.read(s - half, s + half)[None])
            energy = band_energy_db(volume, self.bf.freqs, st.band)[0]
        else:
            if self._stream is None or self._stream[0] != st:  # new settings: a new stream
                spec = MethodSpec(method=st.method, csm_frames=st.csm_frames, weighting=st.weighting)
                self._stream = (st, MethodStream(self.bf, spec, st.band))
            energy = power_db(self._stream[1].map(self.feed.read, times[: i + 1], end, self.feed.n_channels))
        top = float(energy.max())
        opts = RenderOptions(dynamic_range_db=st.dynamic_range_db, band=st.band, colorbar=False)
        img = overlay_frame(picture if picture is not None else self._blank, energy, top, opts)
        ok, jpeg = cv2.imencode(".jpg", np.ascontiguousarray(img[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        compute = time.perf_counter() - t0
        r, c = np.unravel_index(int(np.argmax(energy)), energy.shape)
        u, v = (float(x) for x in self.bf.grid.pixels[r, c])
        self._seq += 1
        self._done = s
        now = time.time()
        meta = {"type": "frame", "seq": self._seq, "frame_sample": int(s), "end_sample": int(s + half),
                "end_wall": self.feed.wall_of(s + half - 1), "made_wall": now, "peak": [u, v],
                "top_db": top, "floor_db": top - st.dynamic_range_db, "compute_ms": compute * 1e3,
                "skipped": self.skipped, "settings": settings_dict(st)}
        frame = LiveFrame(self._seq, jpeg.tobytes(), meta)
        self._made.append(now)
        self._compute.append(compute)
        self.first_made = self.first_made or now
        self.last_made = now
        with self._lock:
            self._latest = frame
            subscribers = list(self._subscribers)
        for fn in subscribers:
            fn(frame)
        return frame

    def run(self, stop: threading.Event) -> None:
        """Make pictures until ``stop`` is set or the feed closes."""
        while not stop.is_set():
            if self.step() is None:
                if self.feed.closed is not None:
                    return
                self.feed.wait(self.feed.end, timeout=0.1)

    def stats(self) -> dict:
        """Pictures made, their rate over the last two seconds, skipped frames, compute time."""
        now = time.time()
        recent = [t for t in self._made if now - t <= 2.0]
        fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 2 and recent[-1] > recent[0] else 0.0
        comp = sorted(self._compute)
        span = (self.last_made - self.first_made) if self._seq > 1 else 0.0
        return {"frames": self._seq, "fps": fps, "fps_overall": (self._seq - 1) / span if span > 0 else 0.0,
                "skipped": self.skipped,
                "compute_ms_median": comp[len(comp) // 2] * 1e3 if comp else None}


def settings_dict(st: ViewSettings) -> dict:
    d = asdict(st)
    d["band"] = list(st.band)
    return d
