"""CPU backend: one Numba-compiled kernel whose inner loops are hand-written vector IR
(:mod:`.simd`), with the steering generated on the fly.

The look points go in vectors of ``LANES`` (16 with AVX-512, else 8). Each worker thread owns
a contiguous set of vectors. With 4 frames or more it sweeps the bins in blocks of ``LANES``,
every vector in turn (a block's spectra stay in its cache); with 1 to 3 frames (the live case)
each vector sweeps every bin while its steering state stays in the first-level cache. For every
vector and bin the steering ``amp * exp(2j pi f tau)`` advances by one complex multiply from the
previous bin (``W[f+1] = W[f] * exp(2j pi df tau)``), restarting from an exact table every
``RESYNC`` bins (float32 drift stays below 5e-6 of a coefficient); the tables, ``F / RESYNC`` of
them, are the only steering kept in memory. The products with the frames' spectra run in
registers, and the powers reach the volumes through an in-register transpose, a whole cache
line per look point and frame.

The spectra are read in place, microphones adjacent (the FFT's own output, see
:func:`kernel_spectra`). No BLAS: there is no library thread pool to race with, and a small
batch (one frame per call) is computed without the matrix-vector products a BLAS design would
fall back to. Compiled once per machine and cached in the user's cache directory
(:mod:`acoustic_camera.jitcache`).
"""

from __future__ import annotations

import numba
import numpy as np

from ..jitcache import cached
from . import simd

RESYNC = 64


def host_lanes() -> int:
    """Points per vector on this CPU: 16 where AVX-512 is there, else 8 (AVX2 and others)."""
    from llvmlite import binding

    return 16 if binding.get_host_cpu_features().get("avx512f") else 8


LANES = host_lanes()
_frames = simd.intrinsic_for("frames", LANES)
_bins1 = simd.intrinsic_for("bins", LANES, 1)
_bins2 = simd.intrinsic_for("bins", LANES, 2)
_bins3 = simd.intrinsic_for("bins", LANES, 3)


@cached(depends=(simd.__file__,))
@numba.njit(parallel=True, nogil=True)
def _power(X, sN, sK, T, Z, out, M, N, F, P, R, nv, n_groups):
    L = LANES
    tstride = 2 * M * L
    ntab = (F - 1) // R + 1
    per = (nv + n_groups - 1) // n_groups
    for g in numba.prange(n_groups):
        v0 = g * per
        v1 = min(nv, v0 + per)
        if v1 <= v0:
            continue
        S = np.empty((v1 - v0) * tstride, np.float32)
        buf = np.empty(N * L * L, np.float32)
        if N <= 3:
            # few frames: each vector sweeps every bin while its steering state stays in the
            # first-level cache; the spectra (a few hundred kB) are what streams
            for v in range(v0, v1):
                s = S[(v - v0) * tstride:(v - v0 + 1) * tstride]
                z = Z[v * tstride:(v + 1) * tstride]
                t = T[v * ntab * tstride:(v + 1) * ntab * tstride]
                lanes = min(L, P - v * L)
                for k0 in range(0, F, L):
                    k1 = min(F, k0 + L)
                    if k1 - k0 < L:
                        _frames(s, z, t, X, out, buf, M, N, F, P, v * L, lanes, R, k0, k1, tstride, sN, sK)
                    elif N == 1:
                        _bins1(s, z, t, X, out, buf, M, N, F, P, v * L, lanes, R, k0, k1, tstride, sN, sK)
                    elif N == 2:
                        _bins2(s, z, t, X, out, buf, M, N, F, P, v * L, lanes, R, k0, k1, tstride, sN, sK)
                    else:
                        _bins3(s, z, t, X, out, buf, M, N, F, P, v * L, lanes, R, k0, k1, tstride, sN, sK)
            continue
        # many frames: each block of bins' spectra (hundreds of kB) is used by every vector in
        # turn while it stays in cache; each vector's steering state (16 kB) streams
        for k0 in range(0, F, L):
            k1 = min(F, k0 + L)
            for v in range(v0, v1):
                s = S[(v - v0) * tstride:(v - v0 + 1) * tstride]
                z = Z[v * tstride:(v + 1) * tstride]
                t = T[v * ntab * tstride:(v + 1) * ntab * tstride]
                _frames(s, z, t, X, out, buf, M, N, F, P, v * L, min(L, P - v * L), R, k0, k1, tstride, sN, sK)

@cached
@numba.njit(parallel=True, nogil=True)
def _fill_tables(tau, amp, f_tab, df, T, Z):
    nv, ntab, _, n_mics, lanes = T.shape
    for v in numba.prange(nv):
        for m in range(n_mics):
            for lane in range(lanes):
                p = v * lanes + lane
                ph = 2 * np.pi * df * tau[p, m]
                Z[v, 0, m, lane] = np.cos(ph)
                Z[v, 1, m, lane] = np.sin(ph)
                for t in range(ntab):
                    ph = 2 * np.pi * f_tab[t] * tau[p, m]
                    T[v, t, 0, m, lane] = amp[p, m] * np.cos(ph)
                    T[v, t, 1, m, lane] = amp[p, m] * np.sin(ph)


def steering_tables(plan, lanes: int = LANES, resync: int = RESYNC):
    """(T, Z): the exact steering at bins 0, R, 2R, ... and the per-bin step, float32, laid out
    (vector, table, re/im, mic, lane) and (vector, re/im, mic, lane), each raveled; points padded
    to whole vectors with zero amplitude. Phases in float64."""
    P, M = plan.tau.shape
    nv = -(-P // lanes)
    tau = np.zeros((nv * lanes, M))
    amp = np.zeros((nv * lanes, M))
    tau[:P], amp[:P] = plan.tau, plan.amp
    f_tab = np.ascontiguousarray(np.asarray(plan.freqs, dtype=np.float64)[::resync])
    T = np.empty((nv, f_tab.size, 2, M, lanes), np.float32)
    Z = np.empty((nv, 2, M, lanes), np.float32)
    _fill_tables(tau, amp, f_tab, float(plan.df), T, Z)
    return T.ravel(), Z.ravel()


@cached
@numba.njit(parallel=True, nogil=True)
def _mics_adjacent(X, out):
    """out[n, k, m] = X[n, m, k] for spectra whose microphones are not adjacent in memory."""
    n_frames, n_mics, n_bins = X.shape
    for j in numba.prange(n_frames * n_bins):
        n = j // n_bins
        k = j % n_bins
        for m in range(n_mics):
            out[n, k, m] = X[n, m, k]


def kernel_spectra(X):
    """(N, M, F) complex64 spectra as the kernel reads them: a flat float32 array in which
    microphones are adjacent, with the frame and bin strides (in complex elements). The FFT's
    output (:func:`acoustic_camera.beamform.spectra.spectra`) is already laid out so and is used
    in place; other layouts are copied once."""
    X = np.asarray(X)
    if X.dtype != np.complex64:
        X = X.astype(np.complex64)
    item = X.itemsize
    n, m, f = X.shape
    if not (X.strides[1] == item and X.strides[0] % item == 0 and X.strides[2] % item == 0
            and X.strides[0] >= 0 and X.strides[2] >= 0):
        Y = np.empty((n, f, m), np.complex64)
        _mics_adjacent(X, Y)
        X = Y.transpose(0, 2, 1)
    sN, sK = X.strides[0] // item, X.strides[2] // item
    span = (n - 1) * sN + (f - 1) * sK + m  # elements from the first to the last one read
    flat = np.lib.stride_tricks.as_strided(X, shape=(span,), strides=(item,))
    return flat.view(np.float32), sN, sK


class NumbaBackend:
    """``threads``: worker threads for this backend's calls (default: Numba's thread count)."""

    name = "numba"

    def __init__(self, threads: int | None = None):
        self.threads = threads

    def prepare(self, plan) -> None:
        """Make the plan's steering tables and load the compiled kernels now (one one-frame
        call), so that the first frames of a session or a live view come at full speed."""
        self._tables(plan)
        self.power(plan, np.zeros((1, plan.n_bins, plan.n_mics), np.complex64).transpose(0, 2, 1))

    @staticmethod
    def _tables(plan):
        tables = plan.cache.get("numba_tables")
        if tables is None:
            tables = plan.cache["numba_tables"] = steering_tables(plan)
        return tables

    def power(self, plan, X, out=None):
        """``out``: a (N, P, F) float32 array to write the volumes into (a buffer reused across
        calls spares the fresh pages of 42 MB per second of video)."""
        plan.check(X)
        T, Z = self._tables(plan)
        n, n_mics, n_bins = X.shape
        if out is None:
            out = np.empty((n, plan.n_points, n_bins), np.float32)
        elif out.shape != (n, plan.n_points, n_bins) or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError(f"out must be float32 C-contiguous {(n, plan.n_points, n_bins)}, got {out.dtype} {out.shape}")
        if n == 0:
            return out
        flat, sN, sK = kernel_spectra(X)
        nv = -(-plan.n_points // LANES)
        before = numba.get_num_threads()
        threads = min(self.threads or before, numba.config.NUMBA_NUM_THREADS)
        numba.set_num_threads(threads)
        try:
            _power(flat, sN, sK, T, Z, out.ravel(), n_mics, n, n_bins, plan.n_points, RESYNC, nv, threads)
        finally:
            numba.set_num_threads(before)
        return out
