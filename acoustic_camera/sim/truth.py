"""Ground truth of a simulated session on the analysed window.

Each video frame's acoustic image analyses the samples ``[s_k - nfft/2, s_k + nfft/2)`` around
the frame's timestamp s_k, tapered by the frame window (:mod:`acoustic_camera.framing`). The
truth describes exactly that stretch, for each source:

- ``level_db``: the source's direct sound at the array's reference point (the array-frame
  origin, to which the beamformer's delays are relative) in that window: the emitted signal
  delayed by the propagation time r/c and attenuated by 1/r, window-weighted mean square
  ``sum(w^2 p^2) / sum(w^2)``, in dB SPL; samples outside the recording count as silence, as
  the beamformer zero-pads them. -inf: silent throughout the window.
- ``active``: ``level_db`` above the source's nominal level at its distance (its long-term RMS
  at 1 m, ``level_pa``, divided by r) plus ``ACTIVE_THRESHOLD_DB``. For a steady source this is
  'sounding at more than a tenth of its usual pressure'; for claps, knocks and clicks it is
  'an event falls inside the window's taper'.
- position and pixel: at the frame's timestamp, the window's centre (a walking source moves
  ~1 cm during the ~9 ms the sound travels, well under an acoustic pixel).

Reflections, reverberation and noise are left out on purpose: the truth says where and when
the *source* sounds, which is what a localiser or classifier is scored against.
"""

from __future__ import annotations

import math

import numpy as np

from ..constants import P_REF, SPEED_OF_SOUND
from ..framing import ALIGNMENT

ACTIVE_THRESHOLD_DB = -20.0
"""A source is active in a frame when its direct sound there exceeds its nominal level at that
distance by this many dB (-20 dB: a tenth of the pressure)."""


class DryHistory:
    """A source's emitted signal (pressure at 1 m, float32) from sample ``start`` on, as far as
    it has been generated; earlier samples can be dropped once no window needs them."""

    def __init__(self):
        self.buf = np.zeros(0, np.float32)
        self.start = 0

    @property
    def end(self) -> int:
        return self.start + len(self.buf)

    def append(self, x: np.ndarray) -> None:
        self.buf = np.concatenate([self.buf, np.asarray(x, np.float32)])

    def drop_before(self, t: int) -> None:
        k = min(max(t - self.start, 0), len(self.buf))
        if k:
            self.buf = self.buf[k:]
            self.start += k

    def take(self, a: int, n: int) -> np.ndarray:
        """Samples [a, a+n) as float64; zeros before time 0 (silence before the recording)."""
        first = max(a, 0)
        if first < self.start and a + n > first:
            raise ValueError(f"samples from {first} were dropped (history starts at {self.start})")
        out = np.zeros(n)
        lo, hi = max(first, self.start), min(a + n, self.end)
        if hi > lo:
            out[lo - a:hi - a] = self.buf[lo - self.start:hi - self.start]
        return out


def window_levels(dry: DryHistory, centres: np.ndarray, distances: np.ndarray, weights: np.ndarray,
                  sample_freq: float, n_samples: int, c: float = SPEED_OF_SOUND) -> np.ndarray:
    """Direct-sound level (dB SPL) at the array reference in each frame's window.

    Args:
        dry: the source's emitted signal (pressure at 1 m).
        centres: (K,) frame timestamps s_k, samples.
        distances: (K,) source-to-reference distance at each frame's time, metres.
        weights: (nfft,) the frame window.
        sample_freq: Hz.
        n_samples: samples in the recording (the window is zero past them).
    """
    n = len(weights)
    w2 = np.asarray(weights, dtype=np.float64) ** 2
    out = np.empty(len(centres))
    for i, (s, r) in enumerate(zip(centres, distances)):
        a = int(s) - n // 2
        delay = int(round(r / c * sample_freq))
        p = dry.take(a - delay, n) / max(r, 1e-6)
        inside = w2 * ((np.arange(a, a + n) >= 0) & (np.arange(a, a + n) < n_samples))
        ms = float(np.sum(inside * p * p)) / float(np.sum(w2))
        out[i] = 10.0 * math.log10(ms / P_REF**2) if ms > 0 else -math.inf
    return out


DIRECT_TAPS = 16  # half-length of the windowed-sinc fractional delay of the direct sound


def direct_sound(dry: DryHistory, position, start: int, n: int, sample_freq: float,
                 c: float = SPEED_OF_SOUND) -> np.ndarray:
    """A source's direct sound at the array's reference point (the array-frame origin), samples
    [start, start + n), Pa, float32: the emitted signal delayed by r(t)/c and divided by r(t),
    the delay fractional (Hann-windowed sinc, 2 x DIRECT_TAPS taps) and following the source as
    it moves. ``position(t)`` gives (len(t), 3) array-frame metres. What a perfect beamformer
    toward the source would return: the reference of ``acam listen``'s gain."""
    if n <= 0:
        return np.zeros(0, np.float32)
    t = (start + np.arange(n)) / sample_freq
    r = np.maximum(np.linalg.norm(position(t), axis=-1), 1e-6)
    emit = start + np.arange(n) - r / c * sample_freq  # emission time, samples
    i0 = np.floor(emit).astype(np.int64)
    frac = emit - i0
    lo = int(i0.min()) - DIRECT_TAPS + 1
    x = dry.take(lo, int(i0.max()) + DIRECT_TAPS + 1 - lo)
    k = np.arange(-DIRECT_TAPS + 1, DIRECT_TAPS + 1)  # taps at i0 + k
    d = k[None, :] - frac[:, None]
    h = np.sinc(d) * (0.5 + 0.5 * np.cos(np.pi * d / DIRECT_TAPS))
    out = np.sum(x[(i0 - lo)[:, None] + k[None, :]] * h, axis=1) / r
    return out.astype(np.float32)


def nominal_level_db(level_pa: float, distances: np.ndarray) -> np.ndarray:
    """The source's long-term RMS level at the array for its distance, dB SPL."""
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(level_pa / np.maximum(np.asarray(distances, dtype=np.float64), 1e-6) / P_REF)


def truth_attrs(nfft: int, window: str, levels_pa) -> dict:
    """The ``/truth`` attributes that say which window the truth describes."""
    return {
        "window_samples": int(nfft), "window_alignment": ALIGNMENT, "window": window,
        "active_threshold_db": ACTIVE_THRESHOLD_DB, "levels_pa": np.asarray(levels_pa, dtype=np.float64),
        "reference_point": "array-frame origin",
        "definition": ("frame k: samples [s_k - window_samples/2, s_k + window_samples/2), tapered by the window; "
                       "level_db: direct sound at the reference point, window-weighted mean square, dB SPL; "
                       "active: level_db > 20 log10(levels_pa / distance / 20e-6) + active_threshold_db; "
                       "position, pixel: at s_k"),
    }
