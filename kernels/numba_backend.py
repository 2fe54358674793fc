"""CPU backend: a matrix-free Numba kernel.

For a block of look points and one microphone the steering weights of all bins come from the
frequency recurrence w[f+1] = w[f] * exp(2j pi df tau) (float64, one complex multiply per mic,
point and bin), are stored as float32 and reused across every frame of the batch; the frames'
spectra are split into real and imaginary planes so the inner loop over bins is plain
vectorizable float32 multiply-adds. Work items are blocks of look points, run in parallel.
"""

from __future__ import annotations

import math
import os

import numba
import numpy as np

POINT_BLOCK = 4


@numba.njit(parallel=True, fastmath=True, cache=True)
def _power(xr, xi, tau, amp, f0, df, pblock, out):
    n_mics, n_frames, n_bins = xr.shape
    n_points = tau.shape[0]
    n_blocks = (n_points + pblock - 1) // pblock
    for blk in numba.prange(n_blocks):
        p0 = blk * pblock
        nb = min(n_points, p0 + pblock) - p0
        yr = np.zeros((pblock, n_frames, n_bins), np.float32)
        yi = np.zeros((pblock, n_frames, n_bins), np.float32)
        wr = np.empty((pblock, n_bins), np.float32)
        wi = np.empty((pblock, n_bins), np.float32)
        for m in range(n_mics):
            for q in range(nb):
                a = amp[p0 + q, m]
                t = 2.0 * math.pi * tau[p0 + q, m]
                cr = a * math.cos(t * f0)
                ci = a * math.sin(t * f0)
                sr = math.cos(t * df)
                si = math.sin(t * df)
                for f in range(n_bins):
                    wr[q, f] = cr
                    wi[q, f] = ci
                    cr, ci = cr * sr - ci * si, cr * si + ci * sr
            for n in range(n_frames):
                for q in range(nb):
                    for f in range(n_bins):
                        ar = xr[m, n, f]
                        ai = xi[m, n, f]
                        yr[q, n, f] += wr[q, f] * ar - wi[q, f] * ai
                        yi[q, n, f] += wr[q, f] * ai + wi[q, f] * ar
        for q in range(nb):
            for n in range(n_frames):
                for f in range(n_bins):
                    out[n, p0 + q, f] = yr[q, n, f] * yr[q, n, f] + yi[q, n, f] * yi[q, n, f]


class NumbaBackend:
    name = "numba"

    def power(self, plan, X):
        plan.check(X)
        X = np.asarray(X)
        xr = np.ascontiguousarray(X.real.transpose(1, 0, 2), dtype=np.float32)
        xi = np.ascontiguousarray(X.imag.transpose(1, 0, 2), dtype=np.float32)
        out = np.empty((X.shape[0], plan.n_points, plan.n_bins), np.float32)
        _power(xr, xi, np.ascontiguousarray(plan.tau), np.ascontiguousarray(plan.amp),
               float(plan.freqs[0]), plan.df, POINT_BLOCK, out)
        return out
