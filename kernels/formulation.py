"""The array-module-generic formulation shared by the numpy reference and the CuPy backend:
steering for blocks of bins, and the per-bin matrix product with |.|^2. CI runs these functions
with numpy; the GPU runs the very same code with CuPy.

Spectra are ``X (N, M, F)`` complex (frames, mics, bins: the FFT's own layout); volumes are
``(N, P, F)`` float32. Steering for a block of bins comes three ways:

- ``steering_table``: exact, ``amp * exp(2j pi f tau)`` for every bin of the block (the
  reference; or all bins at once, a table kept on the GPU: 0.9 GB for the DualCam shapes);
- ``steering_recurrence``: exact at the block's first bin, then advanced bin by bin by
  ``exp(2j pi df tau)``, restarting exactly every ``resync`` bins: the CPU kernel's arithmetic,
  here for whole blocks, so a GPU needs no table and CI checks the recurrence's accuracy.
"""

from __future__ import annotations

import math


def steering_table(xp, tau, amp, freqs, dtype=None):
    """W[b, p, m] = amp[p, m] * exp(+2j pi freqs[b] tau[p, m]), shape (B, P, M)."""
    dtype = dtype or xp.complex64
    ph = (2 * math.pi) * xp.asarray(freqs, dtype=xp.float64)[:, None, None] * xp.asarray(tau)[None]
    return (xp.asarray(amp)[None] * xp.exp(1j * ph)).astype(dtype, copy=False)


def steering_recurrence(xp, tau, amp, freqs, resync: int = 64, dtype=None):
    """The same W (B, P, M) for equally spaced ``freqs``, by the recurrence W[b+1] = W[b] *
    exp(2j pi df tau) in ``dtype``, restarted from the exact value every ``resync`` bins."""
    dtype = dtype or xp.complex64
    freqs = xp.asarray(freqs, dtype=xp.float64)
    n = int(freqs.shape[0])
    tau = xp.asarray(tau)
    step = xp.exp(1j * (2 * math.pi) * (freqs[1] - freqs[0] if n > 1 else 0.0) * tau).astype(dtype)
    W = xp.empty((n,) + tau.shape, dtype=dtype)
    for b in range(n):
        if b % resync == 0:
            W[b] = steering_table(xp, tau, amp, freqs[b:b + 1], dtype)[0]
        else:
            W[b] = W[b - 1] * step
    return W


def block_power(xp, W, Xb, out=None):
    """W (B, P, M) times Xb (B, M, N) per bin, then |.|^2 -> (B, P, N) float32."""
    Y = xp.matmul(W, Xb)
    p = (Y.real**2 + Y.imag**2).astype(xp.float32)
    if out is not None:
        out[...] = p
        return out
    return p


def power(xp, plan, X, block: int, table=None, dtype=None, steering: str = "exact", resync: int = 64):
    """Power volumes (N, P, F) float32 from spectra X (N, M, F), bins in blocks of `block`.
    ``table`` (F, P, M), when given, is a stored steering table (e.g. resident on the GPU);
    otherwise each block's steering is made on the fly, ``exact`` or by ``recurrence``."""
    n, _, f = X.shape
    out = xp.empty((n, plan.n_points, f), dtype=xp.float32)
    Xf = xp.asarray(X)
    for b0 in range(0, f, block):
        b1 = min(f, b0 + block)
        if table is not None:
            W = table[b0:b1]
        elif steering == "recurrence":
            W = steering_recurrence(xp, plan.tau, plan.amp, plan.freqs[b0:b1], resync, dtype)
        else:
            W = steering_table(xp, plan.tau, plan.amp, plan.freqs[b0:b1], dtype)
        Xb = Xf[:, :, b0:b1].transpose(2, 1, 0).astype(W.dtype)  # (B, M, N)
        out[:, :, b0:b1] = block_power(xp, W, Xb).transpose(2, 1, 0)
    return out
