"""The acoustic frame of a video frame: which samples it covers, how they are tapered, and
which frequency bins its spectrum keeps.

Frame k covers samples ``[s_k - nfft/2, s_k + nfft/2)``, centred on the frame's timestamp s_k on
the audio clock, tapered by the frame window (Tukey 0.75 by default, as in the DualCam pipeline).
The beamformer analyses exactly this stretch, and the simulator's ground truth (``/truth`` of a
session) describes exactly this stretch, so both read the definition here.
"""

from __future__ import annotations

import numpy as np

from .constants import NFFT, WINDOW
from .errors import AcamError

ALIGNMENT = "centred"
"""Frame k's window is centred on its timestamp: samples [s_k - nfft/2, s_k + nfft/2)."""


def make_window(name: str = WINDOW, nfft: int = NFFT) -> np.ndarray:
    """Window weights (nfft,) float64: 'tukey0.75' (DualCam's), 'tukeyALPHA', 'hann', 'hamming',
    'blackman' or 'rect'."""
    from scipy import signal  # here, not at import: scipy.signal takes most of a second to load

    key = name.lower()
    try:
        if key.startswith("tukey"):
            return signal.windows.tukey(nfft, float(key[5:] or 0.5))
        if key in ("rect", "boxcar", "none"):
            return np.ones(nfft)
        return signal.get_window(key, nfft, fftbins=False)
    except (ValueError, TypeError):
        raise AcamError(f"window {name!r}: expected tukeyALPHA (e.g. tukey0.75), hann, hamming, blackman or rect") from None


def bin_frequencies(sample_freq: float, nfft: int = NFFT) -> np.ndarray:
    """The kept bins of an nfft-point spectrum: 0 .. nfft/2 - 1 (Nyquist dropped), Hz."""
    return np.arange(nfft // 2) * (sample_freq / nfft)


def frame_windows(centres, nfft: int, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Start sample of each frame's window and its coverage: the fraction of the window inside
    the recording, in [0, 1] (samples outside are analysed as zeros)."""
    starts = np.asarray(centres, dtype=np.int64) - nfft // 2
    inside = np.clip(starts + nfft, 0, n_samples) - np.clip(starts, 0, n_samples)
    return starts, inside / nfft
