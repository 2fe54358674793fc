"""Beampatterns of planar arrays and their peak sidelobe level (PSL), and the reference layouts
the optimized one is compared with.

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

import math

import numpy as np

from ..constants import CAMERA_FOCAL_PX, CAMERA_HEIGHT, CAMERA_WIDTH, SPEED_OF_SOUND
from ..errors import AcamError

CAMERA_HALF_DIAGONAL_DEG = math.degrees(math.atan(math.hypot(CAMERA_WIDTH / 2, CAMERA_HEIGHT / 2) / CAMERA_FOCAL_PX))
"""Half-diagonal field of view of the default camera (640x480, fx = fy = 554.26 px): ~35.8 deg."""

U_MAX = 1.0 + math.sin(math.radians(CAMERA_HALF_DIAGONAL_DEG))
"""Radius of the sidelobe region in direction-cosine space, ~1.585: the visible disc |(u,v)| <= 1
shifted by steering up to the camera's half-diagonal, sin(35.8 deg) ~ 0.585."""

MAINLOBE_FACTOR = 1.2
"""Main-lobe exclusion radius in units of lambda/aperture (so 1.2 lambda / 0.45 m for dualcam128)."""

PSL_OVERSAMPLING = 10
"""Default PSL grid step is lambda / (PSL_OVERSAMPLING * aperture) (sidelobes are ~lambda/aperture wide)."""


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


# -- reference layouts ----------------------------------------------------------------------


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


def psl_table(layouts: dict[str, np.ndarray], freqs, *, aperture: float = 0.45, **kwargs) -> dict[str, dict[float, float]]:
    """PSL in dB of several layouts at several frequencies: ``{name: {freq: psl_db}}``.

    Extra keyword arguments go to :func:`peak_sidelobe_level` (u_max, mainlobe, n, c).
    """
    return {name: {float(f): peak_sidelobe_level(xy, float(f), aperture=aperture, **kwargs) for f in freqs}
            for name, xy in layouts.items()}
