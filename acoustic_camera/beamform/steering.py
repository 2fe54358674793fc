"""Steering delays and amplitudes from an array geometry to a look grid.

For look point p and microphone m, with distances r_m = |x_p - m| and r_0 = |x_p - ref| (ref:
the array-frame origin), the filter-and-sum weight is

    w[m, p, f] = g[m, f] * a[p, m] * exp(+2j pi f tau[p, m]),   tau = (r_m - r_0) / c

and y[p, f] = sum_m w x_m. The amplitude a follows Acoular's steering formulations (Sarradj
2012), with per-microphone shading s_m and bad microphones left out of every sum:

- ``classic``:       a = s_m / sum s
- ``inverse``:       a = s_m (r_m / r_0) / sum s
- ``true level``:    a = s_m / (r_0 r_m sum_l s_l / r_l^2)
- ``true location``: a = s_m / (r_m sqrt(sum_l s_l * sum_l s_l / r_l^2))

With ``true level`` (and ``inverse``) a point source at a look point whose pressure would be
P at the reference point gives y = P exactly: a sine of amplitude 1 Pa there gives
|y|^2 = 0.5 Pa^2 in its bin (spectra are scaled to RMS, see :mod:`.spectra`). ``classic``
gives about the same at distances large against the aperture. In the far field
(``focus_distance=None``) tau = -(d . m)/c and the first three coincide.
"""

from __future__ import annotations

import numpy as np

from ..array.geometry import ArrayGeometry
from ..array.grid import LookGrid
from ..constants import SPEED_OF_SOUND
from ..errors import AcamError
from ..kernels.base import Plan

STEERING = ("classic", "inverse", "true level", "true location")
"""Acoular's steering formulations, by name."""


def steering_plan(geometry: ArrayGeometry, grid: LookGrid, freqs: np.ndarray, formulation: str = "classic",
                  shading: np.ndarray | None = None, c: float = SPEED_OF_SOUND) -> Plan:
    """The kernels' :class:`Plan` over the good microphones (in channel order)."""
    if grid.points is None:  # far field
        tau, amp = point_steering(geometry, None, formulation, shading, c, directions=grid.directions.reshape(-1, 3))
    else:
        tau, amp = point_steering(geometry, grid.points.reshape(-1, 3), formulation, shading, c)
    return Plan(tau, amp, np.asarray(freqs, dtype=np.float64))


def point_steering(geometry: ArrayGeometry, points, formulation: str = "classic", shading: np.ndarray | None = None,
                   c: float = SPEED_OF_SOUND, directions=None) -> tuple[np.ndarray, np.ndarray]:
    """(tau, amp), each (K, M_good) float64, toward ``points`` (K, 3) array-frame metres (or
    far-field unit ``directions`` (K, 3)): the weights of the module's formula for any look
    points, the look grid's or a moving source's."""
    if formulation not in STEERING:
        raise AcamError(f"--steering: expected one of {', '.join(STEERING)}, found {formulation!r}")
    good = geometry.good
    if not good.any():
        raise AcamError("every microphone is marked bad: nothing to beamform")
    mics = geometry.positions[good]
    s = np.ones(good.sum()) if shading is None else np.asarray(shading, dtype=np.float64).ravel()[good]
    if np.any(s < 0) or s.sum() <= 0:
        raise AcamError("shading weights must be non-negative with a positive sum")
    if points is None:
        d = np.asarray(directions, dtype=np.float64)
        tau = -(d @ mics.T) / c
        r = np.ones_like(tau)
        r0 = np.ones((tau.shape[0], 1))
    else:
        x = np.asarray(points, dtype=np.float64)
        r = np.linalg.norm(x[:, None, :] - mics[None, :, :], axis=-1)
        r0 = np.linalg.norm(x, axis=-1, keepdims=True)
        tau = (r - r0) / c
    if formulation == "classic":
        amp = np.broadcast_to(s / s.sum(), r.shape)
    elif formulation == "inverse":
        amp = s * (r / r0) / s.sum()
    elif formulation == "true level":
        amp = s / (r0 * r * np.sum(s / r**2, axis=1, keepdims=True))
    else:
        amp = s / (r * np.sqrt(s.sum() * np.sum(s / r**2, axis=1, keepdims=True)))
    return np.ascontiguousarray(tau), np.ascontiguousarray(amp, dtype=np.float64)
