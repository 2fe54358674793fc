"""Cross-spectral estimators, array-module generic (numpy here, CuPy on a GPU): the reference
the fast kernels of the short-time methods must agree with.

Spectra are ``X (N, M, F)`` complex, the FFT's own layout, as the delay-and-sum kernels take
them. A cross-spectral matrix (CSM) per frame and bin is ``C = mean over frames of x x^H``
(``C[m, n] = E[X_m X_n*]``), held as ``(..., B, M, M)`` for B bins. Steering is the kernels'
own: ``W[b, p, m] = amp[p, m] exp(+2j pi f_b tau[p, m])`` (:func:`.formulation.steering_table`),
so that delay-and-sum on a one-frame CSM is exactly the kernels' power ``|W x|^2`` and every
estimator below reads

    w C w^H  =  sum_mn W[p, m] C[m, n] conj(W[p, n])        (Acoular's h^H C h with h = conj(w))

Estimators, per frame and bin (``M`` the microphones the plan uses):

- :func:`das`: conventional; with ``diagonal=False`` the CSM's diagonal (each microphone's own
  noise) is left out, the map scaled by M/(M-1) to keep a source's level, and negative values
  (possible without the diagonal) set to 0;
- :func:`functional`: functional beamforming of order ``nu`` (Dougherty 2014):
  ``|w|^2 (w C^(1/nu) w^H / |w|^2)^nu``, C^(1/nu) from its eigen-decomposition;
- :func:`capon`: minimum variance (Capon 1969), ``1 / (M^2 w (C + d I)^-1 w^H)`` with diagonal
  loading ``d = loading * trace(C) / M``;
- :func:`cleansc`: CLEAN-SC (Sijtsma 2007): the map's peak taken as a source whose coherent part
  of the CSM is removed, ``damp`` of it at a time, until the peak grows for ``stopn`` steps or
  ``n_iter`` are done; returns the clean map (each removed peak at its point) and the residual.

With the same CSM, grid and steering formulation these equal Acoular's BeamformerBase (r_diag),
BeamformerFunctional, BeamformerCapon (loading 0) and BeamformerCleansc (tests/test_estimators.py).
"""

from __future__ import annotations

CLEANSC_INNER = 20  # fixed-point steps for a source's coherent vector (Sijtsma's recipe; Acoular's too)
EIG_FLOOR = 1e-12  # eigenvalues below this fraction of a CSM's largest are rounding, counted as 0
# (raised to 1/nu they would not be: (1e-16)^(1/4) = 1e-4 of the peak, from a short-time CSM's
# M - K empty directions)


def frame_csm(xp, X, bins):
    """One CSM per frame: ``X (N, M, F)`` -> ``(N, B, M, M)`` complex128 for the bins ``bins``."""
    x = xp.asarray(X)[:, :, bins].transpose(0, 2, 1).astype(xp.complex128)  # (N, B, M)
    return x[..., :, None] * x[..., None, :].conj()


def csm_windows(xp, centres, frames: int, total: int):
    """The frames [lo, hi) whose CSMs average into each centre's: from centre - frames//2 on, moved
    inside a session of ``total`` frames."""
    hi = xp.clip(xp.clip(xp.asarray(centres) - frames // 2, 0, total) + frames, 0, total)
    return xp.clip(hi - frames, 0, total), hi


def short_time_csm(xp, X, frames: int, bins, centres=None, offset: int = 0, total: int | None = None):
    """Per frame n the mean CSM of the ``frames`` frames from n - frames//2 on, the window moved
    inside the session at its ends (so every CSM averages ``frames`` frames, or all of a shorter
    session): ``(len(centres), B, M, M)``.

    ``X`` holds frames ``offset .. offset + len(X)`` of a session of ``total`` frames (default: X
    is the whole session) and must cover the windows of ``centres`` (default: every frame of X)."""
    one = frame_csm(xp, X, bins)
    total = one.shape[0] + offset if total is None else total
    n = xp.arange(offset, offset + one.shape[0]) if centres is None else xp.asarray(centres)
    run = xp.concatenate([xp.zeros_like(one[:1]), xp.cumsum(one, axis=0)])
    lo, hi = csm_windows(xp, n, frames, total)
    if int(lo.min()) < offset or int(hi.max()) > offset + one.shape[0]:
        raise ValueError(f"spectra of frames {offset}..{offset + one.shape[0]} do not cover the CSM windows "
                         f"{int(lo.min())}..{int(hi.max())}")
    count = (hi - lo).astype(xp.float64)[:, None, None, None]
    return (run[hi - offset] - run[lo - offset]) / count


def quadratic(xp, W, C):
    """``w C w^H`` per point: W (B, P, M), C (..., B, M, M) -> (..., B, P) float64."""
    Y = xp.matmul(W, C)  # (..., B, P, M)
    return xp.sum(Y * W.conj(), axis=-1).real


def _off_diagonal(xp, C):
    m = C.shape[-1]
    return C * (1 - xp.eye(m))


def das(xp, C, W, diagonal: bool = True):
    """Delay-and-sum power (..., B, P) of CSMs C (..., B, M, M) with steering W (B, P, M)."""
    if diagonal:
        return quadratic(xp, W, C)
    m = C.shape[-1]
    return xp.maximum(quadratic(xp, W, _off_diagonal(xp, C)) * (m / (m - 1)), 0.0)


def functional(xp, C, W, nu: float):
    """Functional beamforming of order ``nu`` >= 1 (1: delay-and-sum); eigenvalues at rounding
    level (below :data:`EIG_FLOOR` of the largest, or negative) count as 0."""
    lam, V = xp.linalg.eigh(C)
    lam = xp.where(lam > EIG_FLOOR * xp.max(lam, axis=-1, keepdims=True), lam, 0.0) ** (1.0 / nu)
    root = xp.matmul(V * lam[..., None, :], xp.swapaxes(V, -1, -2).conj())
    norm = xp.sum(xp.abs(W) ** 2, axis=-1)  # (B, P)
    return norm * xp.maximum(quadratic(xp, W, root) / norm, 0.0) ** nu


def capon(xp, C, W, loading: float = 0.0):
    """Capon / MVDR power with diagonal loading ``loading`` x the mean microphone power."""
    m = C.shape[-1]
    eye = xp.eye(m)
    mean_power = xp.trace(C, axis1=-2, axis2=-1).real[..., None, None] / m
    inv = xp.linalg.inv(C + (loading * mean_power) * eye)
    return 1.0 / (m * m * quadratic(xp, W, inv))


def cleansc(xp, C, W, damp: float = 0.6, n_iter: int | None = None, stopn: int = 3, diagonal: bool = False):
    """CLEAN-SC of each CSM: returns (clean, residual), each (..., B, P).

    ``clean`` holds at each removed source's point the sum of ``damp`` x the peaks taken there;
    ``residual`` is the dirty map (delay-and-sum, diagonal as ``diagonal``) after the removals.
    ``n_iter``: at most this many sources per bin (default 2 M); the loop also stops when the
    peak exceeds the one ``stopn`` steps before it (the residual has become noise)."""
    xp_C = xp.asarray(C)
    lead = xp_C.shape[:-3]
    nb, m = xp_C.shape[-3], xp_C.shape[-1]
    flatC = xp_C.reshape((-1, nb, m, m))
    clean = xp.zeros(flatC.shape[:2] + (W.shape[1],))
    resid = xp.zeros_like(clean)
    for k in range(flatC.shape[0]):
        for b in range(nb):
            clean[k, b], resid[k, b] = _cleansc_bin(xp, flatC[k, b], W[b], damp, n_iter or 2 * m, stopn, diagonal)
    return clean.reshape(lead + clean.shape[1:]), resid.reshape(lead + resid.shape[1:])


def _cleansc_bin(xp, C, W, damp, n_iter, stopn, diagonal):
    m = C.shape[-1]
    nu = 1.0 if diagonal else m / (m - 1)
    C = C.astype(xp.complex128, copy=True)
    dirty = quadratic(xp, W, C if diagonal else _off_diagonal(xp, C)) * nu
    clean = xp.zeros(W.shape[0])
    Wa2 = xp.abs(W) ** 2
    peaks = []
    for j in range(n_iter):
        p = int(xp.argmax(dirty))
        top = float(dirty[p])
        peaks.append(top)
        clean[p] += damp * top
        if j > stopn and top > peaks[j - stopn]:
            break
        w = (nu ** 0.5) * W[p].conj()  # the source's steering vector as a column (Acoular's h)
        d = _off_diagonal(xp, C) @ w / top
        ww = xp.abs(w) ** 2
        g = w
        for _ in range(CLEANSC_INNER):
            H = xp.abs(g) ** 2
            g = (d + H * w) / xp.sqrt(1.0 + xp.sum(ww * H))
        # the source's own share of the map: top |W g|^2, less its diagonal when that is left out
        share = xp.abs(W @ g) ** 2
        if not diagonal:
            share = share - Wa2 @ (xp.abs(g) ** 2)
        dirty = dirty - damp * nu * top * share
        C = C - damp * top * xp.outer(g, g.conj())
    return clean, dirty
