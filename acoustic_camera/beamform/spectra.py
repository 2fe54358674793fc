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


def spectra(frames: np.ndarray, window: np.ndarray, good: np.ndarray | None = None) -> np.ndarray:
    """(N, nfft, M) samples -> (nfft/2, M_good, N) complex64 RMS-scaled spectra, bin-major
    as the kernels take them."""
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim == 2:
        frames = frames[None]
    nfft = frames.shape[1]
    if window.shape != (nfft,):
        raise AcamError(f"frames of {nfft} samples but a window of {window.shape[0]}")
    if good is not None:
        frames = frames[:, :, good]
    scale = np.full(nfft // 2, np.sqrt(2.0) / window.sum())
    scale[0] = 1.0 / window.sum()
    # the scale is folded into the window per bin group: bin 0 is fixed after the FFT
    X = sfft.rfft(frames * (window * scale[1]).astype(np.float32)[None, :, None], axis=1, workers=-1)
    X = X[:, : nfft // 2]  # (N, F, M)
    X[:, 0] *= np.float32(scale[0] / scale[1])
    return np.ascontiguousarray(X.transpose(1, 2, 0), dtype=np.complex64)
