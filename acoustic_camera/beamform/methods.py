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
        # the option types refuse NaN and inf too: a NaN order or loading made NaN maps
        from .. import options

        options.Choice(METHODS)(self.method, "--method")
        options.Choice(WEIGHTINGS)(self.weighting, "--bin-weighting")
        options.CSM_FRAMES(self.csm_frames, "--csm-frames (frames per CSM)")
        options.FUNCTIONAL_ORDER(self.nu, "--nu (functional order)")
        options.LOADING(self.loading, "--loading (Capon's diagonal loading, x mean mic power)")
        if self.n_iter is not None:
            options.CLEAN_STEPS(self.n_iter, "--clean-steps (CLEAN-SC steps)")
        options.CLEAN_GAIN(self.damp, "--clean-gain (CLEAN-SC loop gain)")


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


def estimate_windows(xp, spec: MethodSpec, W, x, index, Y=None, norm=None):
    """The fast path (:mod:`acoustic_camera.kernels.lowrank`): the method's map (C, B, P) for the
    windows ``index`` (C, L) of the frames' spectra ``x`` (B, M, N), steering W (B, P, M); ``Y``:
    the frames' beam spectra W x, ``norm`` W's :func:`~acoustic_camera.kernels.lowrank.steering_norm`,
    when the caller keeps them (a stream does)."""
    Y = lr.beam_spectra(xp, W, x) if Y is None else Y
    m = spec.method
    if m in ("das", "das-diag"):
        return lr.das(xp, Y, W, x, index, diagonal=m == "das")
    if m == "cleansc":
        return lr.cleansc(xp, Y, W, x, index, spec.damp, spec.n_iter, spec.stopn)[0]
    G = lr.gram(xp, x, index)
    if m == "functional":
        return lr.functional(xp, Y, W, G, index, spec.nu, norm)
    return lr.capon(xp, Y, W, G, index, x.shape[1], spec.loading, norm)


def combine(xp, maps, weighting: str = "power"):
    """(C, B, P) maps of a block of bins -> (C, P), by :data:`WEIGHTINGS`. In a reverberant room a
    few strong bins, their peaks pulled by coherent reflections, outweigh the rest in a power sum;
    the reflections move from bin to bin while the source stays put, so equal votes find it."""
    if weighting == "equal":
        top = xp.max(maps, axis=-1, keepdims=True)
        maps = xp.where(top > 0, maps / xp.where(top > 0, top, 1.0), 0.0)
    return maps.sum(axis=1)


STEERING_CACHE_BYTES = 256 << 20  # a band's steering kept between batches up to this size


def band_steering(xp, bf: Beamformer, bins: np.ndarray, block: int, dtype):
    """The band's bins in blocks of ``block`` and ``steer(b)``, block b's steering (B, P, M):
    kept with the plan (one band at a time) when it fits in :data:`STEERING_CACHE_BYTES`, since
    a live view or a render asks again and again; else made on each call."""
    blocks = [bins[b0:b0 + block] for b0 in range(0, bins.size, block)]
    size = bins.size * bf.plan.n_points * bf.plan.n_mics * np.dtype(dtype).itemsize
    if size > STEERING_CACHE_BYTES:
        return blocks, lambda b: steering_table(xp, bf.plan.tau, bf.plan.amp, bf.freqs[blocks[b]], dtype)
    key = ("methods", xp.__name__, np.dtype(dtype).name, block, bins.tobytes())
    hit = bf.plan.cache.get("methods_steering")
    if hit is not None and hit[0] == key:
        kept = hit[1]
    else:
        kept = [steering_table(xp, bf.plan.tau, bf.plan.amp, bf.freqs[sel], dtype) for sel in blocks]
        bf.plan.cache["methods_steering"] = (key, kept)
    return blocks, kept.__getitem__


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
    blocks, steer = band_steering(xp, bf, bins, block, np.complex128 if reference else xp.complex64)
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
            W = steer(b)
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


class MethodStream:
    """A method's map of the newest frame from the ``csm_frames`` frames up to it, for frames
    that arrive one at a time (the live view): each frame's spectra and beam spectra W x are
    made once, when it first appears, and kept while it is in a window, so a map costs the
    window's small K x K work rather than K frames' products with the steering. Equal to
    :func:`iter_band_maps` on the same frames (whose window at the last frame is the last K).

    ``map(read, frames, n_samples, n_channels)``: ``frames`` the sample indices of the frames so
    far (the newest last, its window's samples arrived), ``read(a, b)`` samples [a, b) of the
    ``n_samples`` there are; returns (rows, cols) float32, the band's sum."""

    def __init__(self, bf: Beamformer, spec: MethodSpec, band, block: int = 32):
        self.bf, self.spec = bf, spec
        self.xp = array_module(bf.backend)
        self.blocks, self.steer = band_steering(self.xp, bf, band_bins(bf.freqs, band), block, self.xp.complex64)
        self._kept: dict = {}  # frame sample index -> per block (x (B, M), Y (B, P)); das: power (B, P)
        self._norms: dict = {}  # block -> steering_norm, for Capon and functional

    def _frame(self, read, s: int, n_samples: int, n_channels: int):
        xp, bf = self.xp, self.bf
        starts, _ = frame_windows([s], bf.nfft, n_samples)
        X = bf.spectra(gather_frames(read, starts, bf.nfft, n_samples, n_channels))
        if self.spec.method == "das":
            # a window's delay-and-sum is its frames' mean beam power, and a frame's beam power is
            # the kernel's own volume: ~13 ms for all 512 bins, where W x reads a band's whole
            # steering table (150 MB for 1-2 kHz) for every frame
            power = xp.asarray(bf.power(X)[0].reshape(bf.plan.n_points, -1))  # (P, F)
            return [power[:, xp.asarray(sel)].T for sel in self.blocks]  # (B, P) per block
        X = xp.asarray(X[0])  # (M, F)
        out = []
        for b, sel in enumerate(self.blocks):
            x = xp.ascontiguousarray(X[:, xp.asarray(sel)].T)  # (B, M)
            out.append((x, lr.beam_spectra(xp, self.steer(b), x[:, :, None])[:, :, 0]))
        return out

    def map(self, read, frames, n_samples: int, n_channels: int) -> np.ndarray:
        xp = self.xp
        window = [int(s) for s in list(frames)[-self.spec.csm_frames:]]
        for s in window:
            if s not in self._kept:
                self._kept[s] = self._frame(read, s, n_samples, n_channels)
        for s in [s for s in self._kept if s not in window]:
            del self._kept[s]
        index = xp.arange(len(window))[None]
        out = xp.zeros(self.bf.plan.n_points, xp.float32)
        for b in range(len(self.blocks)):
            if self.spec.method == "das":
                maps = xp.mean(xp.stack([self._kept[s][b] for s in window]).astype(xp.float64), axis=0)[None]
                out += combine(xp, maps, self.spec.weighting)[0].astype(xp.float32)
                continue
            x = xp.stack([self._kept[s][b][0] for s in window], axis=-1)  # (B, M, L)
            Y = xp.stack([self._kept[s][b][1] for s in window], axis=-1)  # (B, P, L)
            norm = None
            if self.spec.method in ("capon", "functional"):
                if b not in self._norms:
                    self._norms[b] = lr.steering_norm(xp, self.steer(b))
                norm = self._norms[b]
            maps = estimate_windows(xp, self.spec, self.steer(b), x, index, Y=Y, norm=norm)
            out += combine(xp, maps, self.spec.weighting)[0].astype(xp.float32)
        out = out if xp is np else xp.asnumpy(out)
        return out.reshape(self.bf.grid.rows, self.bf.grid.cols)
