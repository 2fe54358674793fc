"""Short-time cross-spectral methods over a session: for every video frame, the CSM of the
``csm_frames`` frames around it, and a map from it by one of :data:`METHODS`, summed over a band.

The frames, their spectra, steering, grid, bad-microphone mask and calibration are the
delay-and-sum beamformer's own (:class:`.Beamformer`); the estimators are the reference of
:mod:`acoustic_camera.kernels.estimators`. A session is streamed in batches of frames (each batch
reads the ``csm_frames`` frames its CSMs need around it), and the band's bins in blocks, so
memory stays bounded for any session length and band.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import AcamError
from ..framing import frame_windows
from ..kernels import estimators as est
from ..kernels.formulation import steering_table
from .beamformer import Beamformer
from .features import band_bins
from .spectra import gather_frames

METHODS = ("das", "das-diag", "functional", "capon", "cleansc")
"""The short-time methods, by name (``das``: delay-and-sum on the short-time CSM)."""


@dataclass(frozen=True)
class MethodSpec:
    """A method and its parameters, as recorded with its maps."""

    method: str = "das"
    csm_frames: int = 12  # frames per CSM: 12 = 1 s at the DualCam's frame rate
    nu: float = 4.0  # functional beamforming's order
    loading: float = 0.01  # Capon's diagonal loading, times the mean microphone power
    damp: float = 0.6  # CLEAN-SC's loop gain
    n_iter: int | None = None  # CLEAN-SC's most sources per bin (default 2 x microphones)
    stopn: int = 3  # CLEAN-SC stops when the peak exceeds the one this many steps before

    def __post_init__(self):
        if self.method not in METHODS:
            raise AcamError(f"--method: expected one of {', '.join(METHODS)}, found {self.method!r}")
        if self.csm_frames < 1:
            raise AcamError(f"--csm-frames: expected at least 1 frame, found {self.csm_frames}")
        if self.nu < 1:
            raise AcamError(f"functional order: expected at least 1, found {self.nu}")
        if not 0 < self.damp <= 1:
            raise AcamError(f"CLEAN-SC loop gain: expected 0 < damp <= 1, found {self.damp}")


def estimate(spec: MethodSpec, C: np.ndarray, W: np.ndarray) -> np.ndarray:
    """The method's map (..., B, P) from CSMs C (..., B, M, M) and steering W (B, P, M); for
    CLEAN-SC the clean map."""
    m = spec.method
    if m == "das":
        return est.das(np, C, W)
    if m == "das-diag":
        return est.das(np, C, W, diagonal=False)
    if m == "functional":
        return est.functional(np, C, W, spec.nu)
    if m == "capon":
        return est.capon(np, C, W, spec.loading)
    return est.cleansc(np, C, W, spec.damp, spec.n_iter, spec.stopn)[0]


def band_maps(read, frame_sample_index: np.ndarray, n_samples: int, n_channels: int, bf: Beamformer,
              spec: MethodSpec, band, batch: int = 24, block: int = 8,
              progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(frames, rows, cols) float32: per video frame the method's map summed over the band's bins.

    ``read(a, b)`` returns samples [a, b) of all channels (a session's ``audio``)."""
    bins = band_bins(bf.freqs, band)
    starts, _ = frame_windows(frame_sample_index, bf.nfft, n_samples)
    n, k = len(starts), spec.csm_frames
    out = np.zeros((n, bf.grid.rows * bf.grid.cols), np.float32)
    for k0 in range(0, n, batch):
        k1 = min(n, k0 + batch)
        # the frames the CSMs of frames k0..k1 average
        first, last = est.csm_windows(np, np.array([k0, k1 - 1]), k, n)
        lo, hi = int(first[0]), int(last[1])
        X = bf.spectra(gather_frames(read, starts[lo:hi], bf.nfft, n_samples, n_channels))
        for b0 in range(0, bins.size, block):
            sel = bins[b0:b0 + block]
            W = steering_table(np, bf.plan.tau, bf.plan.amp, bf.freqs[sel], np.complex128)
            C = est.short_time_csm(np, X, k, sel, np.arange(k0, k1), offset=lo, total=n)
            out[k0:k1] += estimate(spec, C, W).sum(axis=1).astype(np.float32)
        if progress:
            progress(k1, n)
    return out.reshape(n, bf.grid.rows, bf.grid.cols)
