"""The short-time estimators, fast: every method from the frames' beam spectra, never an M x M matrix.

A short-time CSM is the mean of K frames' outer products, ``C = X X^H / K`` with ``X`` (M, K) the
window's spectra (one bin): its rank is at most K (12, against M = 128 microphones). Each
estimator of :mod:`.estimators` reads C only through ``w C w^H``, its eigen-pairs, its inverse
and its diagonal, and each of those follows from the **beam spectra** ``Y = W X`` (P, K) -- the
delay-and-sum kernels' own product before ``|.|^2`` -- and the K x K Gram matrix
``G = X^H X / K``. With ``A = Y / sqrt(K)``:

- delay-and-sum: ``w C w^H = sum_k |A_pk|^2``; without the diagonal, less ``|w|^2 . diag(C)``
  (``diag(C)`` the window's mean ``|x_m|^2``);
- functional: the non-zero eigenvalues of C are those of G, ``G = V L V^H``, with eigenvectors
  ``X V L^-1/2 / sqrt(K)``, so ``w C^(1/nu) w^H = sum_i l_i^(1/nu - 1) |(A V)_pi|^2``;
- Capon: Woodbury, ``(C + d I)^-1 = (I - X (K (d I + G))^-1 X^H) / d``, so
  ``w (C + d I)^-1 w^H = (|w|^2 - sum_i |(A V)_pi|^2 / (d + l_i)) / d``, and ``trace C = trace G``;
- CLEAN-SC: the degraded CSM stays ``X X^H / K - sum_j c_j g_j g_j^H``, so ``C w`` is
  ``X conj(Y_p) / K`` (the beam spectra at the peak, read back) less the removed sources' parts,
  and its diagonal is tracked as an M-vector; the map's update ``|W g|^2`` is one matrix product
  per step for every frame and bin at once.

A frame's beam spectra are computed once and serve the K windows that hold it. The work per
frame and bin is then one (P x M) by (M x 1) product, as for delay-and-sum, plus O(P K^2) for the
functional and Capon maps and one (P x M) product per CLEAN-SC step. Array-module generic: numpy
(BLAS) on the CPU, CuPy on a GPU, the same code; tests hold it to the reference within 1e-4 of
each map's peak.
"""

from __future__ import annotations

from .estimators import CLEANSC_INNER, EIG_FLOOR


def window_index(xp, centres, frames: int, total: int, offset: int = 0):
    """(len(centres), L) indices, relative to ``offset``, of the frames each centre's CSM averages
    (:func:`.estimators.csm_windows`; L = min(frames, total), the same for every window)."""
    from .estimators import csm_windows

    lo, hi = csm_windows(xp, centres, frames, total)
    length = min(frames, total)
    return (lo - offset)[:, None] + xp.arange(length)[None, :]


def beam_spectra(xp, W, x, dtype=None):
    """Y = W x per bin: W (B, P, M) steering, x (B, M, N) the frames' spectra -> (B, P, N). The
    one product of every method, made once per frame whatever the number of windows holding it."""
    dtype = dtype or xp.complex64
    return xp.matmul(W.astype(dtype, copy=False), x.astype(dtype, copy=False))


def window_mean(xp, v, index):
    """The mean of ``v`` (..., N) real over each window of ``index`` (C, L) -> (C, ...), by a
    running sum (float64), so that overlapping windows cost nothing more."""
    run = xp.cumsum(v.astype(xp.float64, copy=False), axis=-1)
    run = xp.concatenate([xp.zeros_like(run[..., :1]), run], axis=-1)
    s = run[..., index[:, -1] + 1] - run[..., index[:, 0]]
    return xp.moveaxis(s, -1, 0) / index.shape[1]


def gram(xp, x, index):
    """G (C, B, L, L) complex128 per window: xw^H xw with xw the window's spectra / sqrt(L), whose
    non-zero eigenvalues are C's."""
    nc, length = index.shape
    G = xp.empty((nc, x.shape[0], length, length), xp.complex128)
    for c in range(nc):
        s = int(index[c, 0])
        xs = x[:, :, s:s + length].astype(xp.complex128)
        G[c] = xp.matmul(xp.swapaxes(xs, -1, -2).conj(), xs) / length
    return G


def projected_power(xp, Y, index, F, dtype=None):
    """q[c, b, p] = ||Y[b, p, window c] F[c, b]||^2: a window's beam spectra through an L x L
    factor (C, B, L, L), one window at a time so nothing of size P x L x windows is held."""
    dtype = dtype or Y.dtype
    nc, length = index.shape
    real = xp.float64 if dtype == xp.complex128 else xp.float32
    q = xp.empty((nc,) + Y.shape[:2], xp.float64)
    for c in range(nc):
        s = int(index[c, 0])
        YF = xp.matmul(Y[:, :, s:s + length].astype(dtype), F[c].astype(dtype))  # (B, P, L)
        v = YF.view(real)
        q[c] = xp.einsum("bpi,bpi->bp", v, v)
    return q


def _power(v):
    return v.real ** 2 + v.imag ** 2


def _diagonal_share(xp, Wa2, d):
    """|w|^2 . d per point: Wa2 = |W|^2 (B, P, M), d (C, B, M) -> (C, B, P), one (P x M) by
    (M x C) product per bin, in Wa2's precision."""
    out = xp.matmul(Wa2, xp.moveaxis(d, 0, -1).astype(Wa2.dtype))  # (B, P, C)
    return xp.moveaxis(out, -1, 0)


def steering_norm(xp, W):
    """(1, B, P) float64: |w|^2 per bin and point, the term Capon and functional beamforming
    compare against (in float64: Capon's difference nearly cancels it). It depends on the
    steering only, so a caller that keeps W may keep this too."""
    return xp.sum(_power(W.astype(xp.complex128)), axis=-1)[None]


def das(xp, Y, W, x, index, diagonal: bool = True):
    """Delay-and-sum (C, B, P) of the windows (:func:`.estimators.das`): the windows' mean beam
    power, less ``|w|^2 . diag(C)`` without the diagonal."""
    q = window_mean(xp, _power(Y), index)
    if diagonal:
        return q
    m = x.shape[1]
    per_frame = xp.matmul(_power(W), _power(x).astype(W.real.dtype, copy=False))  # (B, P, N)
    return xp.maximum((q - window_mean(xp, per_frame, index)) * (m / (m - 1)), 0.0)


def functional(xp, Y, W, G, index, nu: float, norm=None):
    """Functional beamforming of order ``nu`` (:func:`.estimators.functional`); ``norm``:
    :func:`steering_norm` of W when the caller keeps it."""
    lam, V = xp.linalg.eigh(G)  # (C, B, L), (C, B, L, L)
    top = xp.max(lam, axis=-1, keepdims=True)
    keep = lam > top * EIG_FLOOR  # as the reference: rounding-level directions count as 0
    weight = xp.where(keep, xp.maximum(lam, 1e-300) ** (1.0 / nu - 1.0), 0.0) / index.shape[1]
    q = projected_power(xp, Y, index, V * xp.sqrt(weight)[..., None, :])
    norm = steering_norm(xp, W) if norm is None else norm
    return norm * xp.maximum(q / norm, 0.0) ** nu


def capon(xp, Y, W, G, index, n_mics: int, loading: float, norm=None):
    """Capon with diagonal loading (:func:`.estimators.capon`); ``loading`` must be > 0 unless a
    window has at least as many frames as microphones; ``norm``: :func:`steering_norm` of W."""
    d = loading * xp.trace(G, axis1=-2, axis2=-1).real / n_mics  # (C, B)
    lam, V = xp.linalg.eigh(G)
    # A (d I + G)^-1 A^H nearly cancels |w|^2 at a strong source: float64 keeps the difference
    F = V / xp.sqrt((xp.maximum(lam, 0.0) + d[..., None]) * index.shape[1])[..., None, :]
    aSa = projected_power(xp, Y, index, F, xp.complex128)
    norm = steering_norm(xp, W) if norm is None else norm
    q = (norm - aSa) / d[..., None]
    return 1.0 / (n_mics * n_mics * q)


def cleansc(xp, Y, W, x, index, damp: float = 0.6, n_iter: int | None = None, stopn: int = 3,
            diagonal: bool = False):
    """CLEAN-SC of every window and bin at once (:func:`.estimators.cleansc`): (clean, residual),
    each (C, B, P). Every (window, bin) runs its own loop and stops on its own criterion; the
    steps go on while any runs."""
    nb, p, _ = Y.shape
    nc, length = index.shape
    m = x.shape[1]
    n_iter = n_iter or 2 * m
    nu = 1.0 if diagonal else m / (m - 1)
    scale = 1.0 / length ** 0.5
    xw = xp.moveaxis(x[:, :, index], 2, 0).astype(xp.complex128, copy=False) * scale  # (C, B, M, L)
    dC = xp.sum(_power(xw), axis=-1)  # the degraded CSM's diagonal, (C, B, M)
    Wa2 = _power(W)
    dirty = das(xp, Y, W, x, index, diagonal=True)
    if not diagonal:
        dirty = (dirty - _diagonal_share(xp, Wa2, dC)) * nu
    clean = xp.zeros((nc, nb, p))
    active = xp.ones((nc, nb), dtype=bool)
    peaks = []
    gs, cs = [], []  # removed sources: coherent vectors (C, B, M) and their weights (C, B)
    ci, bi = xp.arange(nc)[:, None], xp.arange(nb)[None, :]
    for j in range(n_iter):
        at = xp.argmax(dirty, axis=-1)  # (C, B)
        top = dirty[ci, bi, at]
        peaks.append(top)
        clean[ci, bi, at] += xp.where(active, damp * top, 0.0)
        if j > stopn:
            active = active & ~(top > peaks[j - stopn])
        if not bool(active.any()):
            break
        w = (nu ** 0.5) * W[bi, at].conj().astype(xp.complex128)  # (C, B, M): the peak's steering column
        # C w from the window's spectra and its beam spectra at the peak, less the removed parts
        yp = Y[bi[..., None], at[..., None], index[:, None, :]] * scale  # (C, B, L)
        Cw = (nu ** 0.5) * xp.matmul(xw, yp.conj().astype(xp.complex128)[..., None])[..., 0]
        for g, c in zip(gs, cs):
            Cw = Cw - (c * xp.sum(g.conj() * w, axis=-1))[..., None] * g
        safe = xp.where(active, top, 1.0)
        dvec = (Cw - dC * w) / safe[..., None]
        ww = _power(w)
        g = w
        for _ in range(CLEANSC_INNER):
            H = _power(g)
            g = (dvec + H * w) / xp.sqrt(1.0 + xp.sum(ww * H, axis=-1, keepdims=True))
        c = xp.where(active, damp * top, 0.0)
        # |W g|^2 for every window at once: one (P x M) by (M x C) product per bin
        Wg = xp.matmul(W, xp.moveaxis(g, 0, -1).astype(W.dtype))  # (B, P, C)
        share = xp.moveaxis(_power(Wg), -1, 0).astype(xp.float64)
        if not diagonal:
            share = share - _diagonal_share(xp, Wa2, _power(g))
        dirty = dirty - (nu * c)[..., None] * share
        dC = dC - c[..., None] * _power(g)
        gs.append(g)
        cs.append(c)
    return clean, dirty
