"""Short-time cross-spectral methods over a session: for every video frame, the CSM of the
``csm_frames`` frames around it, and a map from it by one of :data:`METHODS`, summed over a band.

The frames, their spectra, steering, grid, bad-microphone mask and calibration are the
delay-and-sum beamformer's own (:class:`.Beamformer`). The maps come from the fast path
(:mod:`acoustic_camera.kernels.lowrank`: every method from the frames' beam spectra, numpy with
BLAS on the CPU, CuPy when the beamformer's backend is ``cupy``), or with ``reference=True`` from
the full-CSM reference (:mod:`acoustic_camera.kernels.estimators`) it is tested against. A session is streamed in batches of frames (each batch
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
from ..kernels import lowrank as lr
from ..kernels.base import array_module
from ..kernels.formulation import steering_table
from .beamformer import Beamformer
from .features import band_bins
from .spectra import gather_frames

METHODS = ("das", "das-diag", "functional", "capon", "cleansc")
"""The short-time methods, by name (``das``: delay-and-sum on the short-time CSM)."""

KERNEL_METHOD = {"method": "das", "csm_frames": 1}
"""What an acoustic file made without ``--method`` records: the kernel's one-frame delay-and-sum."""

WEIGHTINGS = ("power", "equal")
"""How a band's bins make one map: ``power``, the sum of the bins' maps (levels true); ``equal``,
each bin's map scaled to a peak of 1 first, so every bin votes alike (levels relative)."""


@dataclass(frozen=True)
class MethodSpec:
    """A method and its parameters, as recorded with its maps."""

    method: str = "das"
    csm_frames: int = 12  # frames per CSM: 12 = 1 s at the DualCam's frame rate
    nu: float = 4.0  # functional beamforming's order
    loading: float = 0.01  # Capon's diagonal loading, times the mean microphone power
    damp: float = 0.6  # CLEAN-SC's loop gain
    n_iter: int | None = 20  # CLEAN-SC's most sources per bin (None: 2 x microphones)
    stopn: int = 3  # CLEAN-SC stops when the peak exceeds the one this many steps before
    weighting: str = "power"  # how the band's bins add up: WEIGHTINGS

    def __post_init__(self):
        if self.method not in METHODS:
            raise AcamError(f"--method: expected one of {', '.join(METHODS)}, found {self.method!r}")
        if self.csm_frames < 1:
            raise AcamError(f"--csm-frames: expected at least 1 frame, found {self.csm_frames}")
        if self.nu < 1:
            raise AcamError(f"functional order: expected at least 1, found {self.nu}")
        if self.weighting not in WEIGHTINGS:
            raise AcamError(f"--bin-weighting: expected one of {', '.join(WEIGHTINGS)}, found {self.weighting!r}")
        if not self.loading > 0:
            raise AcamError(f"Capon's diagonal loading: expected > 0 (a CSM of fewer frames than microphones is "
                            f"singular), found {self.loading}")
        if self.n_iter is not None and self.n_iter < 1:
            raise AcamError(f"CLEAN-SC steps: expected at least 1, found {self.n_iter}")
        if not 0 < self.damp <= 1:
            raise AcamError(f"CLEAN-SC loop gain: expected 0 < damp <= 1, found {self.damp}")


def estimate(spec: MethodSpec, C: np.ndarray, W: np.ndarray) -> np.ndarray:
    """The reference: the method's map (..., B, P) from CSMs C (..., B, M, M) and steering W
    (B, P, M); for CLEAN-SC the clean map."""
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


def estimate_windows(xp, spec: MethodSpec, W, x, index):
    """The fast path (:mod:`acoustic_camera.kernels.lowrank`): the method's map (C, B, P) for the
    windows ``index`` (C, L) of the frames' spectra ``x`` (B, M, N), steering W (B, P, M)."""
    Y = lr.beam_spectra(xp, W, x)
    m = spec.method
    if m in ("das", "das-diag"):
        return lr.das(xp, Y, W, x, index, diagonal=m == "das")
    if m == "cleansc":
        return lr.cleansc(xp, Y, W, x, index, spec.damp, spec.n_iter, spec.stopn)[0]
    G = lr.gram(xp, x, index)
    if m == "functional":
        return lr.functional(xp, Y, W, G, index, spec.nu)
    return lr.capon(xp, Y, W, G, index, x.shape[1], spec.loading)


def combine(xp, maps, weighting: str = "power"):
    """(C, B, P) maps of a block of bins -> (C, P), by :data:`WEIGHTINGS`. In a reverberant room a
    few strong bins, their peaks pulled by coherent reflections, outweigh the rest in a power sum;
    the reflections move from bin to bin while the source stays put, so equal votes find it."""
    if weighting == "equal":
        top = xp.max(maps, axis=-1, keepdims=True)
        maps = xp.where(top > 0, maps / xp.where(top > 0, top, 1.0), 0.0)
    return maps.sum(axis=1)


STEERING_CACHE_BYTES = 256 << 20  # a band's steering kept between batches up to this size


def iter_band_maps(read, frame_sample_index: np.ndarray, n_samples: int, n_channels: int, bf: Beamformer,
                   spec: MethodSpec, band, centres=None, batch: int = 24, block: int | None = None,
                   reference: bool = False):
    """Yields (frames, maps): the video frames of each batch and their maps (len, rows, cols)
    float32, the method's power summed over the band's bins.

    ``read(a, b)`` returns samples [a, b) of all channels (a session's ``audio``); ``centres``:
    the frames wanted (default all); ``block``: bins at a time (default 32, or 8 for the
    reference's M x M matrices); ``reference``: the full-CSM reference
    (:mod:`acoustic_camera.kernels.estimators`) instead of the fast path."""
    block = block or (8 if reference else 32)
    bins = band_bins(bf.freqs, band)
    starts, _ = frame_windows(frame_sample_index, bf.nfft, n_samples)
    n, k = len(starts), spec.csm_frames
    centres = np.arange(n) if centres is None else np.unique(np.asarray(centres, dtype=np.int64))
    if centres.size and (centres[0] < 0 or centres[-1] >= n):
        raise AcamError(f"frames {int(centres[0])}..{int(centres[-1])}: the session has frames 0..{n - 1}")
    xp = np if reference else array_module(bf.backend)
    blocks = [bins[b0:b0 + block] for b0 in range(0, bins.size, block)]
    dtype = np.complex128 if reference else xp.complex64
    size = bins.size * bf.plan.n_points * bf.plan.n_mics * np.dtype(dtype).itemsize
    kept = None
    if size <= STEERING_CACHE_BYTES:
        # kept with the plan (one band at a time): a live view or a render asks again and again
        key = ("methods", xp.__name__, np.dtype(dtype).name, block, bins.tobytes())
        hit = bf.plan.cache.get("methods_steering")
        if hit is not None and hit[0] == key:
            kept = hit[1]
        else:
            kept = [steering_table(xp, bf.plan.tau, bf.plan.amp, bf.freqs[sel], dtype) for sel in blocks]
            bf.plan.cache["methods_steering"] = (key, kept)
    i = 0
    while i < centres.size:
        # the next batch: up to `batch` wanted frames lying within `batch` frames of its first
        j = i + int(np.searchsorted(centres[i:i + batch], centres[i] + batch))
        cs = centres[i:j]
        first, last = est.csm_windows(np, cs[[0, -1]], k, n)
        lo, hi = int(first[0]), int(last[1])
        X = bf.spectra(gather_frames(read, starts[lo:hi], bf.nfft, n_samples, n_channels))
        out = xp.zeros((cs.size, bf.plan.n_points), xp.float32)
        index = None if reference else xp.asarray(lr.window_index(np, cs, k, n, offset=lo))
        Xd = X if reference else xp.asarray(X)
        for b, sel in enumerate(blocks):
            W = kept[b] if kept is not None else steering_table(xp, bf.plan.tau, bf.plan.amp, bf.freqs[sel], dtype)
            if reference:
                C = est.short_time_csm(np, X, k, sel, cs, offset=lo, total=n)
                maps = estimate(spec, C, W)
            else:
                x = xp.ascontiguousarray(Xd[:, :, xp.asarray(sel)].transpose(2, 1, 0))  # (B, M, frames)
                maps = estimate_windows(xp, spec, W, x, index)
            out += combine(xp, maps, spec.weighting).astype(xp.float32)
        maps = out if xp is np else xp.asnumpy(out)
        yield cs, maps.reshape(cs.size, bf.grid.rows, bf.grid.cols)
        i = j


def band_maps(read, frame_sample_index: np.ndarray, n_samples: int, n_channels: int, bf: Beamformer,
              spec: MethodSpec, band, batch: int = 24, block: int | None = None,
              progress: Callable[[int, int], None] | None = None, reference: bool = False) -> np.ndarray:
    """(frames, rows, cols) float32: per video frame the method's map summed over the band's bins
    (:func:`iter_band_maps` over every frame)."""
    n = len(frame_sample_index)
    out = np.zeros((n, bf.grid.rows, bf.grid.cols), np.float32)
    for cs, maps in iter_band_maps(read, frame_sample_index, n_samples, n_channels, bf, spec, band,
                                   batch=batch, block=block, reference=reference):
        out[cs] = maps
        if progress:
            progress(int(cs[-1]) + 1, n)
    return out
