"""Design of the ``dualcam128`` microphone layout: an optimized aperiodic planar array.

The shipped layout (``acoustic_camera/data/dualcam128.xml``) places 128 microphones on a
0.45 m x 0.45 m board so that the peak sidelobe level (PSL) of the far-field beampattern is
low over roughly 500 Hz - 6 kHz, for steering anywhere in the default camera's field of view.
It is produced by :func:`design_layout`, a seeded stochastic search; ``python -m
acoustic_camera.array_design --out DIR`` reruns it and writes the XML and a JSON design record.

Array frame: x right, y down, z along the normal toward the scene; microphones lie in z = 0.

Beampattern and sidelobe region
-------------------------------
With uniform weights and the array steered to broadside, the normalized power at direction-cosine
offset (u, v) is ``B(u, v) = |1/M sum_m exp(j 2 pi f/c (x_m u + y_m v))|^2``. Steering to a
direction (u0, v0) only shifts the pattern, so the visible region |(u, v)| <= 1 of a beam steered
anywhere in the camera's field of view is contained in the disc |(u, v)| <= 1 + sin(theta_max),
theta_max being the camera's half-diagonal field of view (35.8 deg for 640x480 at fx = fy = 554.26):
that disc, radius :data:`U_MAX`, is the sidelobe region. The main lobe is excluded as the fixed disc
of radius ``MAINLOBE_FACTOR * lambda / aperture``; a layout whose main lobe is wider than that
(e.g. one that clusters the microphones in the centre to taper the aperture) sees its own main-lobe
shoulder counted as sidelobe, so the PSL also enforces the resolution of the full board.

The pattern depends on f and (u, v) only through the wavenumber ``w = f (u, v) / c`` (cycles/m):
at frequency f the sidelobe region is the annulus ``MAINLOBE_FACTOR / aperture <= |w| <=
f U_MAX / c``. The main-lobe radius in w does not depend on f, and the regions are nested, so the
PSL is non-decreasing in frequency and the band's worst case is its top frequency. The optimizer
samples w on one lattice over the annulus of ``f_hi`` and scores each design frequency on its
nested sub-disc (see :func:`design_layout`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import AcamError
from .geometry import ArrayGeometry

SPEED_OF_SOUND = 343.0
"""Speed of sound in m/s (air at about 20 C)."""

CAMERA_HALF_DIAGONAL_DEG = math.degrees(math.atan(math.hypot(320.0, 240.0) / 554.26))
"""Half-diagonal field of view of the default camera (640x480, fx = fy = 554.26 px): ~35.8 deg."""

U_MAX = 1.0 + math.sin(math.radians(CAMERA_HALF_DIAGONAL_DEG))
"""Radius of the sidelobe region in direction-cosine space, ~1.585: the visible disc |(u,v)| <= 1
shifted by steering up to the camera's half-diagonal, sin(35.8 deg) ~ 0.585."""

MAINLOBE_FACTOR = 1.2
"""Main-lobe exclusion radius in units of lambda/aperture (so 1.2 lambda / 0.45 m for dualcam128)."""

PSL_OVERSAMPLING = 10
"""Default PSL grid step is lambda / (PSL_OVERSAMPLING * aperture) (sidelobes are ~lambda/aperture wide)."""

REPORT_FREQS = (1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 6000.0)
"""Frequencies (Hz) of the PSL table written by :func:`main`."""


# --------------------------------------------------------------------------------------------
# beampattern and sidelobe level


def _xy(xy) -> np.ndarray:
    a = np.asarray(xy, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] not in (2, 3) or a.shape[0] < 1:
        raise AcamError(f"microphone positions must have shape (M, 2) or (M, 3), got {a.shape}")
    return a[:, :2]


def beampattern(xy: np.ndarray, freq: float, u, v, c: float = SPEED_OF_SOUND) -> np.ndarray:
    """Normalized far-field power pattern of a uniformly weighted planar array steered to broadside.

    ``B(u, v) = |1/M sum_m exp(j 2 pi f/c (x_m u + y_m v))|^2``, at direction-cosine offsets (u, v)
    from the steering direction. It is 1.0 at (0, 0) and symmetric, B(u, v) = B(-u, -v).

    Args:
        xy: (M, 2) or (M, 3) microphone positions in metres (a z column is ignored).
        freq: frequency in Hz.
        u, v: direction-cosine offsets, any broadcastable shapes.
        c: speed of sound in m/s.

    Returns:
        float64 array of the broadcast shape of u and v, values in [0, 1].
    """
    p = _xy(xy)
    u, v = np.broadcast_arrays(np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64))
    k = 2.0 * np.pi * float(freq) / float(c)
    af = np.zeros(u.shape, dtype=np.complex128)
    for x, y in p:  # one microphone at a time: memory of one pattern, not M of them
        af += np.exp(1j * k * (x * u + y * v))
    return (af.real**2 + af.imag**2) / p.shape[0] ** 2


def peak_sidelobe_level(
    xy: np.ndarray,
    freq: float,
    *,
    aperture: float = 0.45,
    u_max: float = U_MAX,
    mainlobe: float = MAINLOBE_FACTOR,
    n: int | None = None,
    c: float = SPEED_OF_SOUND,
) -> float:
    """Peak sidelobe level in dB (negative; 0 dB means a grating lobe as high as the main lobe).

    The maximum of :func:`beampattern` over the disc ``|(u, v)| <= u_max`` minus the main-lobe disc
    ``|(u, v)| < mainlobe * c / (freq * aperture)``, evaluated on an n x n grid over
    [-u_max, u_max]^2 (which contains (0, 0)) and on the two boundary circles (where the maximum
    often is: the main-lobe shoulder, the flank of a lobe just outside the region) at the same step.

    Args:
        xy: (M, 2) or (M, 3) microphone positions in metres.
        freq: frequency in Hz.
        aperture: array size in metres that sets the main-lobe exclusion (the board side).
        u_max: radius of the sidelobe region (default :data:`U_MAX`, steering within the camera's view).
        mainlobe: main-lobe exclusion radius in units of lambda / aperture.
        n: grid points per axis; default (None): the smallest odd n with step
            <= lambda / (PSL_OVERSAMPLING * aperture), at least 65 (401 points per axis at 6 kHz).
        c: speed of sound in m/s.

    Returns:
        PSL in dB, or ``-inf`` where the main-lobe disc covers the whole region (low frequencies).
    """
    p = _xy(xy)
    if freq <= 0 or aperture <= 0 or u_max <= 0:
        raise AcamError(f"peak_sidelobe_level: freq, aperture and u_max must be positive, got {freq}, {aperture}, {u_max}")
    lam = c / freq
    r_main = mainlobe * lam / aperture
    if r_main >= u_max:
        return float("-inf")
    if n is None:
        step = lam / (PSL_OVERSAMPLING * aperture)
        n = max(65, int(math.ceil(2.0 * u_max / step)) + 1)
        n += (n + 1) % 2  # odd, so that 0 is a grid point
    if n < 3:
        raise AcamError(f"peak_sidelobe_level: n must be >= 3, got {n}")
    g = np.linspace(-u_max, u_max, int(n))
    k = 2.0 * np.pi / lam
    # separable: AF[i, j] = sum_m exp(j k x_m u_i) exp(j k y_m v_j), a (n x M) @ (M x n) product
    ex = np.exp(1j * k * np.outer(p[:, 0], g))
    ey = np.exp(1j * k * np.outer(p[:, 1], g))
    af = ex.T @ ey
    pw = (af.real**2 + af.imag**2) / p.shape[0] ** 2
    r2 = g[:, None] ** 2 + g[None, :] ** 2
    mask = (r2 <= u_max**2) & (r2 >= r_main**2)
    peak = float(pw[mask].max()) if mask.any() else 0.0
    # the region's maximum often lies on its boundary (the main-lobe shoulder, or a lobe just outside
    # u_max): sample both boundary circles at the grid step too (half circles, B(u,v) = B(-u,-v))
    step = g[1] - g[0]
    for r in (r_main, u_max):
        phi = np.linspace(0.0, np.pi, max(33, int(math.ceil(np.pi * r / step)) + 1))
        peak = max(peak, float(beampattern(p, freq, r * np.cos(phi), r * np.sin(phi), c).max()))
    return 10.0 * math.log10(peak) if peak > 0 else float("-inf")


def mainlobe_width(xy: np.ndarray, freq: float, *, n_azimuths: int = 36, c: float = SPEED_OF_SOUND) -> float:
    """Full -3 dB main-lobe width at broadside in degrees, averaged over ``n_azimuths`` cuts.

    Along each cut the half-power point is the first u where :func:`beampattern` drops to 0.5
    (bisection after a coarse scan); the width is ``2 asin(u_3dB)``.
    """
    p = _xy(xy)
    span = np.ptp(p, axis=0).max()
    span = span if span > 0 else 1e-3
    du = 0.05 * c / (freq * span)
    widths = []
    for a in np.arange(n_azimuths) * np.pi / n_azimuths:  # the pattern is symmetric: half the circle
        ca, sa = math.cos(a), math.sin(a)

        def b(r):
            return float(beampattern(p, freq, r * ca, r * sa, c))

        lo, hi = 0.0, du
        while b(hi) > 0.5:
            lo, hi = hi, hi + du
            if hi > 1.0:
                break
        if hi > 1.0:
            widths.append(180.0)
            continue
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if b(mid) > 0.5 else (lo, mid)
        widths.append(2.0 * math.degrees(math.asin(min(1.0, 0.5 * (lo + hi)))))
    return float(np.mean(widths))


# --------------------------------------------------------------------------------------------
# reference layouts


def grid_layout(nx: int = 16, ny: int = 8, board: float = 0.45) -> np.ndarray:
    """Regular nx x ny grid filling a square board of side ``board``, centred, z = 0.

    The edge microphones lie on the board edges (pitch board/(nx-1) by board/(ny-1): 30 mm x
    64.3 mm for the default 16 x 8 on 0.45 m). Rows of constant y, x increasing within a row.

    Returns:
        (nx*ny, 3) positions in metres.
    """
    if nx < 1 or ny < 1 or board <= 0:
        raise AcamError(f"grid_layout: need nx, ny >= 1 and board > 0, got {nx}, {ny}, {board}")
    xs = np.linspace(-board / 2, board / 2, nx) if nx > 1 else np.zeros(1)
    ys = np.linspace(-board / 2, board / 2, ny) if ny > 1 else np.zeros(1)
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel(), np.zeros(nx * ny)])


def random_layout(n_mics: int, board: float, min_spacing: float, rng: np.random.Generator,
                  max_tries: int = 1000) -> np.ndarray:
    """Uniform random layout with a minimum spacing, by random sequential placement.

    Candidates are drawn uniformly on the square [-board/2, board/2]^2 and kept when at least
    ``min_spacing`` from every microphone already placed.

    Args:
        n_mics: number of microphones.
        board: board side in metres.
        min_spacing: minimum distance between microphones in metres.
        rng: the random generator (e.g. ``np.random.default_rng(seed)``).
        max_tries: candidates per microphone before giving up.

    Returns:
        (n_mics, 3) positions in metres, z = 0.

    Raises:
        AcamError: if the spacing cannot be met (board too crowded).
    """
    if n_mics < 1 or board <= 0 or min_spacing < 0:
        raise AcamError(f"random_layout: need n_mics >= 1, board > 0, min_spacing >= 0, got {n_mics}, {board}, {min_spacing}")
    h = board / 2
    pts = np.empty((n_mics, 2))
    d2 = min_spacing**2
    for i in range(n_mics):
        for _ in range(max_tries):
            q = rng.uniform(-h, h, size=2)
            if i == 0 or ((pts[:i] - q) ** 2).sum(1).min() >= d2:
                pts[i] = q
                break
        else:
            raise AcamError(f"random_layout: could not place microphone {i + 1} of {n_mics} at {min_spacing} m "
                            f"spacing on a {board} m board after {max_tries} tries; reduce n_mics or min_spacing")
    return np.column_stack([pts, np.zeros(n_mics)])


def min_pair_distance(xy: np.ndarray) -> float:
    """Smallest distance between two microphones in metres (inf for a single microphone)."""
    p = _xy(xy)
    if p.shape[0] < 2:
        return float("inf")
    d2 = ((p[:, None, :] - p[None, :, :]) ** 2).sum(-1)
    d2[np.diag_indices_from(d2)] = np.inf
    return float(np.sqrt(d2.min()))


# --------------------------------------------------------------------------------------------
# optimizer


@dataclass
class DesignResult:
    """Outcome of :func:`design_layout`.

    Attributes:
        positions: (M, 3) optimized positions in metres, z = 0, within the board.
        params: design parameters and bookkeeping (seed, iterations, frequencies, lattice, acceptance).
        cost_history: surrogate cost (dB) of the start layout followed by the cost after each chunk
            of iterations (``params["chunk"]`` iterations per chunk).
        psl_db: PSL in dB of the optimized layout at each design frequency (Hz -> dB).
        seconds: wall-clock run time of the design in seconds.
    """

    positions: np.ndarray
    params: dict = field(default_factory=dict)
    cost_history: list = field(default_factory=list)
    psl_db: dict = field(default_factory=dict)
    seconds: float = 0.0


def _first_visible_frequency(aperture, u_max=U_MAX, mainlobe=MAINLOBE_FACTOR, c=SPEED_OF_SOUND) -> float:
    """Lowest frequency at which some sidelobe region is left: mainlobe * lambda / aperture = u_max."""
    return mainlobe * c / (aperture * u_max)


def _lattice(r_lo, r_hi, delta):
    """Wavenumber lattice (cycles/m) of step delta over the half annulus r_lo <= |w| <= r_hi.

    Half plane (w_y > 0, or w_y = 0 and w_x > 0) since B(w) = B(-w). Points sorted by |w|, so that
    the sub-region of a lower frequency is a prefix. Returns (ix, iy, radius, nx0) with lattice
    coordinates w = delta * (ix - nx0, iy), ix in 0..2 nx0, iy in 0..nx0.
    """
    n = int(math.floor(r_hi / delta))
    i = np.arange(-n, n + 1)
    gx, gy = np.meshgrid(i, np.arange(0, n + 1), indexing="ij")
    gx, gy = gx.ravel(), gy.ravel()
    r = delta * np.hypot(gx, gy)
    keep = (r >= r_lo) & (r <= r_hi) & ((gy > 0) | (gx > 0))
    gx, gy, r = gx[keep], gy[keep], r[keep]
    order = np.lexsort((gx, gy, r))
    return (gx[order] + n).astype(np.int64), gy[order].astype(np.int64), r[order], n


try:
    import numba

    _njit = numba.njit(cache=True)
except ImportError:  # pragma: no cover - numba is a dependency of the project
    numba = None

    def _njit(f):
        return f



@_njit
def _phasors(x, delta, nx0, nw, out):
    # out[i] = exp(j 2 pi x delta (i - nx0)), by exact evaluation (no recurrence drift)
    for i in range(nw):
        t = 2.0 * np.pi * x * delta * (i - nx0)
        out[i] = complex(math.cos(t), math.sin(t))


@_njit
def _ipow(a, p):
    r = 1.0
    while p > 0:
        if p & 1:
            r *= a
        a *= a
        p >>= 1
    return r


@_njit
def _cost_of(af, ends, n_samples, inv_m2, p):
    # p-norm (in dB) of the sidelobe power over all (frequency, point) samples; the regions are
    # nested prefixes of the points, so frequency f adds the running sum up to ends[f]
    total = 0.0
    s = 0.0
    k = 0
    for f in range(ends.shape[0]):
        while k < ends[f]:
            a = af[k]
            s += _ipow((a.real * a.real + a.imag * a.imag) * inv_m2, p)
            k += 1
        total += s
    return 10.0 / p * math.log10(total / n_samples)


@_njit
def _array_factor(ex, ey, ix, iy, af):
    m_count = ex.shape[0]
    for k in range(ix.shape[0]):
        acc = 0j
        for m in range(m_count):
            acc += ex[m, ix[k]] * ey[m, iy[k]]
        af[k] = acc


@_njit
def _search(pos, ex, ey, af, ix, iy, ends, n_samples, delta, nx0, p, half, min_sp2,
            mic, steps, sigma, temp, unif, cur):
    """Single-microphone moves with incremental array-factor updates; returns (cost, accepted)."""
    m_count = pos.shape[0]
    nkx = ex.shape[1]
    nky = ey.shape[1]
    npts = ix.shape[0]
    inv_m2 = 1.0 / (m_count * m_count)
    exn = np.empty(nkx, np.complex128)
    eyn = np.empty(nky, np.complex128)
    trial = np.empty(npts, np.complex128)
    accepted = 0
    for t in range(mic.shape[0]):
        m = mic[t]
        nx = min(half, max(-half, pos[m, 0] + sigma[t] * steps[t, 0]))
        ny = min(half, max(-half, pos[m, 1] + sigma[t] * steps[t, 1]))
        ok = True
        for j in range(m_count):
            if j != m:
                dx = nx - pos[j, 0]
                dy = ny - pos[j, 1]
                if dx * dx + dy * dy < min_sp2:
                    ok = False
                    break
        if not ok:
            continue
        _phasors(nx, delta, nx0, nkx, exn)
        _phasors(ny, delta, 0, nky, eyn)
        # trial array factor and cost in one pass over the points (sorted by |w|)
        total = 0.0
        s = 0.0
        k = 0
        for f in range(ends.shape[0]):
            while k < ends[f]:
                a = af[k] + exn[ix[k]] * eyn[iy[k]] - ex[m, ix[k]] * ey[m, iy[k]]
                trial[k] = a
                s += _ipow((a.real * a.real + a.imag * a.imag) * inv_m2, p)
                k += 1
            total += s
        new = 10.0 / p * math.log10(total / n_samples)
        if new < cur or (temp[t] > 0.0 and unif[t] < math.exp(-(new - cur) / temp[t])):
            cur = new
            accepted += 1
            pos[m, 0] = nx
            pos[m, 1] = ny
            for i in range(nkx):
                ex[m, i] = exn[i]
            for i in range(nky):
                ey[m, i] = eyn[i]
            for i in range(npts):
                af[i] = trial[i]
    return cur, accepted


def _kernels():
    """The numba kernels of the optimizer (compiled on first use, cached on disk)."""
    if numba is None:  # pragma: no cover
        raise AcamError("design_layout needs numba (pip install numba)")
    return {"phasors": _phasors, "cost_of": _cost_of, "array_factor": _array_factor, "search": _search}


def design_layout(
    n_mics: int = 128,
    board: float = 0.45,
    min_spacing: float = 0.02,
    f_lo: float = 500.0,
    f_hi: float = 6000.0,
    n_freqs: int = 12,
    seed: int = 0,
    iterations: int = 3_000_000,
    progress: Callable[[int, int, float], None] | None = None,
    *,
    p: int = 8,
    sigma_start: float = 0.03,
    sigma_end: float = 0.002,
    temperature: float = 0.02,
    oversampling: int = 6,
    edge_guard: float = 0.5,
    u_max: float = U_MAX,
    mainlobe: float = MAINLOBE_FACTOR,
    c: float = SPEED_OF_SOUND,
    chunk: int = 10_000,
) -> DesignResult:
    """Optimize an aperiodic planar layout for a low peak sidelobe level over a band.

    Start: ``random_layout(n_mics, board, min_spacing, rng)`` with ``rng = np.random.default_rng(seed)``
    (its first draws). Each iteration moves one random microphone by a Gaussian step whose sigma
    shrinks geometrically from ``sigma_start`` to ``sigma_end``, clipped to the board; a move that
    breaks ``min_spacing`` is rejected. A move is accepted if it lowers the cost (or, with
    ``temperature`` > 0 dB, by the Metropolis rule at a temperature falling linearly to 0).

    Cost: the pattern is sampled on a wavenumber lattice of step 1/(oversampling*board) cycles/m
    over the sidelobe annulus of ``f_hi`` (half plane, by symmetry). The design frequencies are
    ``n_freqs`` log-spaced from ``max(f_lo, 1.1 f_vis)`` to ``f_hi``, f_vis being the frequency
    below which the main-lobe disc covers the whole region; frequency f samples the lattice points
    inside its own region, mainlobe/board <= |w| <= f u_max / c + edge_guard/board. The cost is
    the p-norm of the sidelobe power P over all (frequency, point) samples, in dB,
    ``10/p log10(mean P^p)``, a smooth
    stand-in for the band's peak sidelobe level. As the regions are nested, a sidelobe close to the
    main lobe is seen at many frequencies and counts that many times, which favours the low end of
    the band a little. The array factor per lattice point is kept and updated incrementally: a move
    adds the moved microphone's new phasor and subtracts its old one (2 complex products per point:
    per microphone, exp(j 2 pi x w_x) and exp(j 2 pi y w_y) along the lattice axes are tabulated),
    never recomputed from scratch except once per chunk to shed rounding drift.

    Args:
        n_mics, board, min_spacing: microphones, square board side (m), minimum spacing (m).
        f_lo, f_hi: design band in Hz.
        n_freqs: number of design frequencies.
        seed: seed of ``np.random.default_rng``; the result is deterministic on a given machine.
        iterations: number of proposed moves.
        progress: called after each chunk as ``progress(done, iterations, cost_db)``.
        p: integer exponent of the p-norm (larger: closer to the max, less smooth).
        sigma_start, sigma_end: step size schedule in metres.
        temperature: initial annealing temperature in dB of cost (0: greedy descent).
        oversampling: lattice points per main-lobe width 1/board.
        edge_guard: each frequency's sampled region extends this many 1/board beyond its edge
            f u_max / c, so that the optimizer cannot park a lobe just outside the region with its
            flank inside.
        u_max, mainlobe, c: sidelobe region radius, main-lobe exclusion factor, speed of sound.
        chunk: iterations per chunk (random numbers are drawn per chunk, progress reported per chunk).

    Returns:
        :class:`DesignResult`; positions are on the board as optimized (not re-centred), z = 0.
    """
    t0 = time.perf_counter()
    if n_mics < 2 or board <= 0 or min_spacing < 0 or not 0 < f_lo <= f_hi or n_freqs < 1 or iterations < 0 or p < 1:
        raise AcamError(f"design_layout: bad parameters n_mics={n_mics} board={board} min_spacing={min_spacing} "
                        f"f_lo={f_lo} f_hi={f_hi} n_freqs={n_freqs} iterations={iterations} p={p}")
    f_vis = _first_visible_frequency(board, u_max, mainlobe, c)
    f_start = max(f_lo, 1.1 * f_vis)
    if f_start >= f_hi:
        raise AcamError(f"design_layout: no sidelobes visible below f_hi={f_hi} Hz for a {board} m board "
                        f"(the main lobe covers the region below {f_vis:.0f} Hz)")
    freqs = np.geomspace(f_start, f_hi, n_freqs) if n_freqs > 1 else np.array([f_hi])
    delta = 1.0 / (oversampling * board)
    guard = edge_guard / board
    ix, iy, radius, nx0 = _lattice(mainlobe / board - 0.5 * delta, f_hi * u_max / c + guard, delta)
    ends = np.searchsorted(radius, freqs * u_max / c + guard, side="right").astype(np.int64)
    if ends[0] == 0:
        raise AcamError(f"design_layout: no lattice point in the sidelobe region at {freqs[0]:.0f} Hz; raise oversampling")
    n_samples = float(ends.sum())

    k = _kernels()
    rng = np.random.default_rng(seed)
    start = random_layout(n_mics, board, min_spacing, rng)
    pos = np.ascontiguousarray(start[:, :2])
    nkx, nky = 2 * nx0 + 1, nx0 + 1
    ex = np.empty((n_mics, nkx), np.complex128)
    ey = np.empty((n_mics, nky), np.complex128)

    def refresh():
        for m in range(n_mics):
            k["phasors"](pos[m, 0], delta, nx0, nkx, ex[m])
            k["phasors"](pos[m, 1], delta, 0, nky, ey[m])
        af = np.empty(ix.shape[0], np.complex128)
        k["array_factor"](ex, ey, ix, iy, af)
        return af, k["cost_of"](af, ends, n_samples, 1.0 / n_mics**2, p)

    af, cost = refresh()
    history = [float(cost)]
    accepted = 0
    done = 0
    log_s0, log_s1 = math.log(sigma_start), math.log(sigma_end)
    while done < iterations:
        n = min(chunk, iterations - done)
        frac = (done + np.arange(n)) / max(1, iterations - 1)
        sigma = np.exp(log_s0 + (log_s1 - log_s0) * frac)
        temp = temperature * (1.0 - frac)
        mic = rng.integers(0, n_mics, size=n).astype(np.int64)
        steps = rng.standard_normal((n, 2))
        unif = rng.random(n)
        cost, acc = k["search"](pos, ex, ey, af, ix, iy, ends, n_samples, delta, nx0, p, board / 2,
                                min_spacing**2, mic, steps, sigma, temp, unif, cost)
        accepted += int(acc)
        done += n
        af, cost = refresh()  # drop accumulated rounding error of the incremental updates
        history.append(float(cost))
        if progress is not None:
            progress(done, iterations, float(cost))

    positions = np.column_stack([pos, np.zeros(n_mics)])
    psl = {float(f): peak_sidelobe_level(positions, f, aperture=board, u_max=u_max, mainlobe=mainlobe, c=c)
           for f in freqs}
    params = {
        "n_mics": n_mics, "board_m": board, "min_spacing_m": min_spacing, "f_lo_hz": f_lo, "f_hi_hz": f_hi,
        "f_start_hz": float(f_start), "n_freqs": n_freqs, "design_freqs_hz": [float(f) for f in freqs],
        "seed": seed, "iterations": iterations, "accepted_moves": accepted, "p_norm": p,
        "sigma_start_m": sigma_start, "sigma_end_m": sigma_end, "temperature_db": temperature,
        "lattice_oversampling": oversampling, "edge_guard": edge_guard, "lattice_step_per_m": delta,
        "lattice_points": int(ix.shape[0]),
        "u_max": u_max, "mainlobe_factor": mainlobe, "aperture_m": board, "speed_of_sound": c, "chunk": chunk,
        "start": "random_layout(n_mics, board, min_spacing, numpy.random.default_rng(seed))",
        "min_spacing_achieved_m": min_pair_distance(positions),
    }
    return DesignResult(positions, params, history, psl, time.perf_counter() - t0)


def psl_table(layouts: dict[str, np.ndarray], freqs, *, aperture: float = 0.45, **kwargs) -> dict[str, dict[float, float]]:
    """PSL in dB of several layouts at several frequencies: ``{name: {freq: psl_db}}``.

    Extra keyword arguments go to :func:`peak_sidelobe_level` (u_max, mainlobe, n, c).
    """
    return {name: {float(f): peak_sidelobe_level(xy, float(f), aperture=aperture, **kwargs) for f in freqs}
            for name, xy in layouts.items()}


def _markdown(table: dict[str, dict[float, float]]) -> str:
    freqs = list(next(iter(table.values())).keys())
    lines = ["| layout | " + " | ".join(f"{f:g} Hz" for f in freqs) + " |",
             "|---|" + "---:|" * len(freqs)]
    for name, row in table.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[f]:.2f}" for f in freqs) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Command line: run the design, write ``<name>.xml`` and ``<name>_design.json`` to ``--out``,
    and print a Markdown PSL table of the optimized layout against random_layout (seed 1) and the
    16x8 grid."""
    ap = argparse.ArgumentParser(prog="python -m acoustic_camera.array_design", description=main.__doc__)
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--name", default="dualcam128", help="layout name (file stem, XML name)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--iterations", type=int, default=3_000_000)
    ap.add_argument("--n-mics", type=int, default=128)
    ap.add_argument("--board", type=float, default=0.45, help="board side in metres")
    ap.add_argument("--min-spacing", type=float, default=0.02, help="metres")
    ap.add_argument("--f-lo", type=float, default=500.0)
    ap.add_argument("--f-hi", type=float, default=6000.0)
    ap.add_argument("--n-freqs", type=int, default=12)
    ap.add_argument("--p", type=int, default=8, help="p-norm exponent of the cost")
    ap.add_argument("--temperature", type=float, default=0.02, help="initial annealing temperature (dB of cost)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    def progress(done, total, cost):
        if not a.quiet:
            print(f"  {done}/{total} iterations, cost {cost:.3f} dB", file=sys.stderr, flush=True)

    res = design_layout(a.n_mics, a.board, a.min_spacing, a.f_lo, a.f_hi, a.n_freqs, a.seed, a.iterations,
                        progress, p=a.p, temperature=a.temperature)
    pos = res.positions - np.r_[0.5 * (res.positions[:, :2].max(0) + res.positions[:, :2].min(0)), 0.0]
    # re-centring the bounding box keeps every microphone on the board and changes no pattern
    geo = ArrayGeometry(pos, tuple(f"mic{i:03d}" for i in range(a.n_mics)), name=a.name)
    pr = res.params
    comment = (f"{a.name}: optimized aperiodic layout from acoustic_camera.array_design.design_layout "
               f"(minimize peak sidelobe level, steering within the 640x480 camera view, u_max={U_MAX:.4f}, "
               f"main lobe excluded within {MAINLOBE_FACTOR} lambda/aperture); n_mics={a.n_mics} "
               f"board={a.board} m min_spacing={a.min_spacing} m band={a.f_lo:g}-{a.f_hi:g} Hz "
               f"(design frequencies {pr['f_start_hz']:.0f}-{a.f_hi:g} Hz, n_freqs={a.n_freqs}) "
               f"p={a.p} seed={a.seed} iterations={a.iterations}; x right, y down, z toward the scene, metres")
    xml_path = out / f"{a.name}.xml"
    geo.to_xml(xml_path, comment=comment)

    b = a.board
    layouts = {"optimized": pos,
               "random (seed 1)": random_layout(a.n_mics, b, a.min_spacing, np.random.default_rng(1)),
               "grid 16x8": grid_layout(16, 8, b)}
    table = psl_table(layouts, REPORT_FREQS, aperture=b)
    widths = {name: {f: mainlobe_width(xy, f) for f in (2000.0, 4000.0)}
              for name, xy in layouts.items()}
    record = {
        "name": a.name,
        "params": pr,
        "seed": a.seed,
        "iterations": a.iterations,
        "runtime_s": round(res.seconds, 2),
        "cost_db_start": res.cost_history[0],
        "cost_db_end": res.cost_history[-1],
        "cost_history_db": [round(x, 4) for x in res.cost_history],
        "psl_db_design_freqs": {f"{f:.1f}": round(v, 3) for f, v in res.psl_db.items()},
        "psl_table_db": {name: {f"{f:g}": round(v, 3) for f, v in row.items()} for name, row in table.items()},
        "mainlobe_3db_width_deg": {name: {f"{f:g}": round(v, 3) for f, v in row.items()} for name, row in widths.items()},
        "psl_definition": (f"max of the normalized broadside beampattern over |(u,v)| <= {U_MAX:.4f} excluding "
                           f"|(u,v)| < {MAINLOBE_FACTOR} lambda/{b} m, grid step <= lambda/({PSL_OVERSAMPLING}*{b} m)"),
        "reference_layouts": {"random (seed 1)": "random_layout(n_mics, board, min_spacing, default_rng(1))",
                              "grid 16x8": "grid_layout(16, 8, board)"},
        "min_spacing_achieved_m": min_pair_distance(pos),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }
    (out / f"{a.name}_design.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {xml_path} and {out / (a.name + '_design.json')} ({res.seconds:.1f} s, "
          f"{pr['accepted_moves']} of {a.iterations} moves accepted)")
    print()
    print("PSL (dB)")
    print(_markdown(table))
    print()
    print("-3 dB main-lobe width (deg)")
    print(_markdown(widths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
