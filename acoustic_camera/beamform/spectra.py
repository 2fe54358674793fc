"""Acoustic frames and their spectra: one window of audio per video frame, centred on the
frame's timestamp (the definition is :mod:`acoustic_camera.framing`'s).

Where a window runs past either end of the recording, the missing samples are zeros and the
frame's ``coverage`` (the fraction of the window inside the recording) is below 1; every frame
still yields a volume, so volumes stay one per video frame.

Spectra keep bins 0 .. nfft/2 - 1 (the Nyquist bin is dropped: 512 bins for nfft = 1024) and are
scaled to RMS: a sine of amplitude A centred on a bin gives |X| = A / sqrt(2) there
(``sqrt(2) / sum(window)``; the DC bin ``1 / sum(window)``).
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

from ..errors import AcamError

SCALING = "RMS: a sine of amplitude A on a bin gives |X| = A/sqrt(2)"

def gather_frames(read, starts: np.ndarray, nfft: int, n_samples: int, n_channels: int) -> np.ndarray:
    """(N, nfft, channels) float32 windows of audio; `read(a, b)` returns samples [a, b)."""
    out = np.zeros((len(starts), nfft, n_channels), np.float32)
    if len(starts) == 0:
        return out
    a = int(max(starts.min(), 0))
    b = int(min(starts.max() + nfft, n_samples))
    block = read(a, b) if b > a else np.zeros((0, n_channels), np.float32)
    for i, s in enumerate(starts):
        lo, hi = max(s, 0), min(s + nfft, n_samples)
        if hi > lo:
            out[i, lo - s:hi - s] = block[lo - a:hi - a]
    return out


def _scales(window: np.ndarray):
    """(every bin but DC, DC over that): RMS scaling folded into the window."""
    total = float(np.sum(window))
    return np.sqrt(2.0) / total, 1.0 / np.sqrt(2.0)


def spectra(frames: np.ndarray, window: np.ndarray, good: np.ndarray | None = None, workers: int = -1) -> np.ndarray:
    """(N, nfft, M) samples -> (N, M_good, nfft/2) complex64 RMS-scaled spectra.

    The FFT runs along the samples axis of the (frames, samples, mics) audio as it comes, so
    the result is a view of the FFT's output, (frames, bins, mics) in memory: microphones
    adjacent, which is how the CPU kernel reads them (no transpose, no copy); ``workers``:
    threads for the FFT (-1: all)."""
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim == 2:
        frames = frames[None]
    nfft = frames.shape[1]
    if window.shape != (nfft,):
        raise AcamError(f"frames of {nfft} samples but a window of {window.shape[0]}")
    scale, dc = _scales(window)
    if good is not None and not np.all(good):
        frames = frames[:, :, np.asarray(good, dtype=bool)]
    windowed = frames * (window * scale).astype(np.float32)[:, None]  # the scale folded into the window
    X = sfft.rfft(windowed, axis=1, workers=workers, overwrite_x=True)
    X[:, 0] *= np.float32(dc)
    return X[:, : nfft // 2].transpose(0, 2, 1)


def spectra_xp(xp, frames, window, good=None):
    """:func:`spectra` for any array module (CuPy: spectra of samples already on the GPU), by
    the plain formula; CI checks it against :func:`spectra` with numpy."""
    nfft = frames.shape[1]
    scale, dc = _scales(window)
    rows = frames.transpose(0, 2, 1)
    if good is not None:
        rows = rows[:, xp.asarray(np.flatnonzero(good))]
    X = xp.fft.rfft(rows * xp.asarray((np.asarray(window) * scale).astype(np.float32)), axis=-1)[:, :, : nfft // 2]
    X = X.astype(xp.complex64)
    X[:, :, 0] *= np.float32(dc)
    return X
