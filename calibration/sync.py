"""The audio-video offset: how late the camera's pictures are against the sound.

From a recording of visible impulsive events (a click with an LED that lights with it, or a
clap seen in the picture):

- **visual events**: the pixels that change most over the recording (the LED, the hands) are
  the event's place; a frame where their difference from the median picture rises above the
  midpoint between its median and its peak is a visual onset, stamped with the frame's sample
  index t_k;
- **acoustic onsets**: where the array's summed power, smoothed over 1 ms, first rises 20 dB
  above its median, less the sound's travel time from the event (``distance`` / c);
- each visual onset is paired with the latest acoustic onset before it. The first frame that
  shows an event comes a uniformly random fraction of a frame period after the event has
  reached the picture, so ``offset = mean(t_k - t_event) - T / 2``, averaged over the events
  (the error shrinks as T / sqrt(12 n)).

Applied (``acam beamform --calibration``), each frame's acoustic window is centred on the
audio time its picture shows, ``t_k - offset``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..constants import FOCUS_DISTANCE, SPEED_OF_SOUND
from ..errors import AcamError
from ..io.calibration import Calibration, SyncCalibration
from ..io.session import open_session

MIN_EVENTS = 5
MAX_OFFSET = 0.5  # s: the latest a picture may come after its sound


def visual_onsets(frames_grey: np.ndarray) -> np.ndarray:
    """Indices of frames where a visual event starts, from (n, H, W) grey frames."""
    med = np.median(frames_grey, axis=0)
    diff = np.abs(frames_grey - med)
    var = diff.mean(axis=0)
    region = var >= max(np.quantile(var, 0.998), 1e-3)  # the 0.2 % that change most, if anything does
    if not region.any():
        return np.zeros(0, int)
    v = diff[:, region].mean(axis=1)
    lo, hi = np.median(v), np.max(v)  # events are brief: most frames show the scene at rest
    if hi - lo < 1.0:  # under one grey level: nothing in the picture flashes or moves
        return np.zeros(0, int)
    on = v > (lo + hi) / 2
    return np.flatnonzero(on & ~np.r_[False, on[:-1]])


def acoustic_onsets(power: np.ndarray, fs: float, refractory: float = 0.2) -> np.ndarray:
    """Sample indices where the smoothed power first rises 20 dB above its median."""
    w = max(1, int(round(0.001 * fs)))
    env = np.convolve(power, np.ones(w) / w, mode="same")
    above = env > 100 * np.median(env)
    starts = np.flatnonzero(above & ~np.r_[False, above[:-1]])
    out, last = [], -np.inf
    for s in starts:
        if s - last >= refractory * fs:
            out.append(s)
            last = s
    return np.asarray(out, int)


def estimate_offset(session_path, distance: float = FOCUS_DISTANCE,
                    progress: Callable[[int, int], None] | None = None) -> Calibration:
    """A :class:`Calibration` holding the audio-video offset measured from ``session_path``;
    ``distance``: metres from the array to the events (their sound's travel time is removed)."""
    with open_session(session_path) as s:
        fs, n = s.sample_freq, s.n_frames
        if n < 2:
            raise AcamError(f"{s.path}: expected a recording with video frames, found {n}")
        grey = np.empty((n, s.camera.height, s.camera.width), np.float32)
        for k in range(n):
            grey[k] = s.frame(k).astype(np.float32).mean(axis=2)
            if progress:
                progress(k + 1, n)
        power = np.zeros(s.n_samples)
        for a in range(0, s.n_samples, 65536):
            x = s.audio(a, min(s.n_samples, a + 65536)).astype(np.float64)
            power[a:a + len(x)] = np.sum(x * x, axis=1)
        frame_t = s.frame_sample_index / fs
        period = float(np.median(np.diff(frame_t)))
        sha, path = s.time_data_sha256(), s.path
    vis = visual_onsets(grey)
    if vis.size == 0:
        raise AcamError(f"{path}: expected visible impulsive events (a flashing LED, a clap in view), found nothing "
                        "that flashes in the picture")
    aud = acoustic_onsets(power, fs) / fs
    t_event = aud - distance / SPEED_OF_SOUND
    lags = []
    for k in vis:
        before = t_event[(t_event <= frame_t[k]) & (t_event > frame_t[k] - MAX_OFFSET - period)]
        if before.size:
            lags.append(frame_t[k] - before.max())
    lags = np.asarray(lags)
    if lags.size:
        lags = lags[np.abs(lags - np.median(lags)) <= period]
    if lags.size < MIN_EVENTS:
        raise AcamError(f"{path}: expected at least {MIN_EVENTS} events seen and heard, found {lags.size} "
                        f"({vis.size} in the picture, {aud.size} in the sound)")
    offset = float(lags.mean() - period / 2)
    spread = float(period / np.sqrt(12 * lags.size))
    sync = SyncCalibration(av_offset_s=offset, events=int(lags.size), uncertainty_s=spread, distance_m=float(distance))
    return Calibration(sync=sync, sources=({"path": str(session_path), "time_data_sha256": sha},))
