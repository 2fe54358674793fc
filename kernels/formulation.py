"""The array-module-generic formulation shared by the numpy reference and the CuPy backend:
steering tables for blocks of bins, and the per-bin matrix product with |.|^2. CI runs these
functions with numpy; the GPU runs the very same code with CuPy."""

from __future__ import annotations

import math



def steering_table(xp, tau, amp, freqs, dtype=None):
    """W[b, p, m] = amp[p, m] * exp(+2j pi freqs[b] tau[p, m]), shape (B, P, M)."""
    dtype = dtype or xp.complex64
    ph = (2 * math.pi) * xp.asarray(freqs, dtype=xp.float64)[:, None, None] * xp.asarray(tau)[None]
    return (xp.asarray(amp)[None] * xp.exp(1j * ph)).astype(dtype, copy=False)


def block_power(xp, W, Xb, out=None):
    """W (B, P, M) times Xb (B, M, N) per bin, then |.|^2 -> (B, P, N) float32."""
    Y = xp.matmul(W, Xb)
    p = (Y.real**2 + Y.imag**2).astype(xp.float32)
    if out is not None:
        out[...] = p
        return out
    return p


def power(xp, plan, X, block: int, table=None, dtype=None):
    """Power volumes (N, P, F) float32 from spectra X (F, M, N), bins in blocks of `block`.
    `table` (F, P, M), when given, is a stored steering table (e.g. resident on the GPU)."""
    f, _, n = X.shape
    out = xp.empty((n, plan.n_points, f), dtype=xp.float32)
    Xf = xp.asarray(X)
    for b0 in range(0, f, block):
        b1 = min(f, b0 + block)
        W = table[b0:b1] if table is not None else steering_table(xp, plan.tau, plan.amp, plan.freqs[b0:b1], dtype)
        Xb = Xf[b0:b1].astype(W.dtype, copy=False)
        out[:, :, b0:b1] = block_power(xp, W, Xb).transpose(2, 1, 0)
    return out
