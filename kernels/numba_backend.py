"""CPU backend: Numba kernels around BLAS.

Each worker thread takes a contiguous span of bins. For every bin it brings the steering
matrix W (points x mics, complex64) forward by the frequency recurrence
``W[f+1] = W[f] * exp(2j pi df tau)`` (one complex multiply per point and mic, reused by every
frame of the batch), multiplies it with the bin's (mics x frames) spectra through BLAS cgemm,
and writes |.|^2 into the volumes. Every RESYNC bins W restarts from an exact table computed
once per plan, which bounds the float32 drift of the recurrence (relative error < 4e-5 in the
power after 32 steps). The exact tables, F/RESYNC x 1.8 MB, are the only stored steering.

BLAS runs single-threaded inside the kernel (the parallelism is over bins): an OpenBLAS pool
spinning beside the Numba workers would halve the speed on a 2-core machine.
"""

from __future__ import annotations

import math

import numba
import numpy as np

RESYNC = 32
GROUP = 16  # bins per write-out group: 16 float32 = one 64-byte cache line


@numba.njit(parallel=True, cache=True)
def _exact_tables(tau, amp, freqs, resync, step_out, tables_out):
    n_points, n_mics = tau.shape
    df = freqs[1] - freqs[0] if freqs.size > 1 else 0.0
    for p in numba.prange(n_points):
        for m in range(n_mics):
            t = 2.0 * math.pi * tau[p, m]
            step_out[p, m] = complex(math.cos(t * df), math.sin(t * df))
            for k in range(tables_out.shape[0]):
                f = freqs[k * resync]
                tables_out[k, p, m] = complex(amp[p, m] * math.cos(t * f), amp[p, m] * math.sin(t * f))


@numba.njit(parallel=True, fastmath=True)  # not cached: np.dot binds BLAS pointers at load
def _power(X, step, tables, resync, group, out):
    n_bins, n_mics, n_frames = X.shape
    n_points = step.shape[0]
    n_groups = (n_bins + group - 1) // group
    n_workers = min(numba.get_num_threads(), n_groups)
    per = (n_groups + n_workers - 1) // n_workers
    for s in numba.prange(n_workers):
        W = np.empty((n_points, n_mics), np.complex64)
        Y = np.empty((n_points, n_frames), np.complex64)
        # |Y|^2 of `group` consecutive bins, so the volumes (bins innermost) are written a
        # cache line at a time instead of one float per line per bin
        buf = np.empty((n_points, n_frames, group), np.float32)
        started = False
        for g in range(s * per, min(n_groups, (s + 1) * per)):
            b0 = g * group
            b1 = min(n_bins, b0 + group)
            for b in range(b0, b1):
                if b % resync == 0 or not started:
                    W[:, :] = tables[b // resync]
                    for _ in range(b % resync):  # a worker starting between exact tables
                        for p in range(n_points):
                            for m in range(n_mics):
                                W[p, m] = W[p, m] * step[p, m]
                    started = True
                else:
                    for p in range(n_points):
                        for m in range(n_mics):
                            W[p, m] = W[p, m] * step[p, m]
                Y[:, :] = np.dot(W, X[b])
                k = b - b0
                for p in range(n_points):
                    for n in range(n_frames):
                        v = Y[p, n]
                        buf[p, n, k] = v.real * v.real + v.imag * v.imag
            for n in range(n_frames):
                for p in range(n_points):
                    for k in range(b1 - b0):
                        out[n, p, b0 + k] = buf[p, n, k]


class NumbaBackend:
    name = "numba"

    def _tables(self, plan):
        t = plan.cache.get("numba_tables")
        if t is None:
            n_tables = (plan.n_bins + RESYNC - 1) // RESYNC
            step = np.empty((plan.n_points, plan.n_mics), np.complex64)
            tables = np.empty((n_tables, plan.n_points, plan.n_mics), np.complex64)
            _exact_tables(np.ascontiguousarray(plan.tau), np.ascontiguousarray(plan.amp),
                          np.asarray(plan.freqs, np.float64), RESYNC, step, tables)
            t = plan.cache["numba_tables"] = (step, tables)
        return t

    def power(self, plan, X):
        from threadpoolctl import threadpool_limits

        plan.check(X)
        step, tables = self._tables(plan)
        Xf = np.ascontiguousarray(X, dtype=np.complex64)
        out = np.empty((Xf.shape[2], plan.n_points, plan.n_bins), np.float32)
        with threadpool_limits(1, user_api="blas"):
            _power(Xf, step, tables, RESYNC, GROUP, out)
        return out
